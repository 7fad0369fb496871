#!/usr/bin/env node
// The verified stream as a program, for running inside a testbed namespace (`ip netns exec <ns> node
// dist/src/testbed/verified-stream-main.js …`):
//   serve   --port P [--address A] [--connections N] [--duration-ms D | --bytes B] [--rate-mbit R]
//   connect --address A --port P --seed S [--connections N] (--duration-ms D | --bytes B) [--rate-mbit R]
// Each prints JSON lines: serve first {"event":"listening",...}; both one {"event":"report",...} per connection
// (StreamPeerReport and the connection's endpoints); a client of N connections uses the seeds S, S+1, ….
// Exit 0 when every connection was intact, 1 when one was not,
// 2 on a usage error. A server without a limit sends until its peer ends.
import { connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { ConnectionRetransmissions } from './tcp-counters';
import { runStreamPeer, type SendLimit, type StreamPeerReport } from './verified-stream';

const CONNECT_TIMEOUT_MS = 10_000;
const retransmissions = new ConnectionRetransmissions();

export class UsageError extends Error {}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function integer(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new UsageError(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

interface Parsed {
  command: 'serve' | 'connect';
  address: string | undefined;
  port: number;
  seed: number | undefined;
  connections: number;
  limit: SendLimit;
  rateMbitPerSecond: number | undefined;
}

export function parseStreamArgs(argv: readonly string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        address: { type: 'string' },
        port: { type: 'string' },
        seed: { type: 'string' },
        connections: { type: 'string' },
        'duration-ms': { type: 'string' },
        bytes: { type: 'string' },
        'rate-mbit': { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (command !== 'serve' && command !== 'connect') throw new UsageError('the command must be "serve" or "connect"');
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  const port = integer('port', values.port, 1, 65535);
  if (port === undefined) throw new UsageError('--port is required');
  const durationMs = integer('duration-ms', values['duration-ms'], 1, 24 * 3600 * 1000);
  const bytes = integer('bytes', values.bytes, 0, Number.MAX_SAFE_INTEGER);
  if (durationMs !== undefined && bytes !== undefined) throw new UsageError('give --duration-ms or --bytes, not both');
  const seed = integer('seed', values.seed, 0, 0xffffffff);
  if (command === 'connect') {
    if (values.address === undefined) throw new UsageError('connect needs --address');
    if (seed === undefined) throw new UsageError('connect needs --seed');
    if (durationMs === undefined && bytes === undefined) throw new UsageError('connect needs --duration-ms or --bytes');
  } else if (seed !== undefined) {
    throw new UsageError('serve learns each connection\'s seed from its client; no --seed');
  }
  return {
    command,
    address: values.address,
    port,
    seed,
    connections: integer('connections', values.connections, 1, 10_000) ?? 1,
    limit: durationMs === undefined && bytes === undefined ? { untilPeerEnds: true } : { durationMs, bytes },
    rateMbitPerSecond: positive('rate-mbit', values['rate-mbit']),
  };
}

function endpoints(socket: Socket) {
  return {
    local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    remote: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
  };
}

function peer(socket: Socket, args: Parsed, role: 'client' | 'server'): Promise<StreamPeerReport> {
  const ends = endpoints(socket);
  return runStreamPeer(socket, {
    role,
    seed: args.seed,
    limit: args.limit,
    rateMbitPerSecond: args.rateMbitPerSecond,
    retransmissions: () => retransmissions.of(ends.local, ends.remote),
  });
}

async function serve(args: Parsed): Promise<boolean> {
  let left = args.connections;
  let allOk = true;
  const running = new Set<Promise<void>>();
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.port, args.address ?? '0.0.0.0', () => resolve());
  });
  print({ event: 'listening', address: args.address ?? '0.0.0.0', port: args.port });
  await new Promise<void>((resolve) => {
    server.on('connection', (socket) => {
      if (left === 0) {
        socket.destroy();
        return;
      }
      left--;
      if (left === 0) server.close();
      const ends = endpoints(socket);
      const done = peer(socket, args, 'server').then((report) => {
        allOk &&= report.ok;
        print({ event: 'report', ...ends, ...report });
      });
      running.add(done);
      void done.finally(() => {
        running.delete(done);
        if (left === 0 && running.size === 0) resolve();
      });
    });
  });
  return allOk;
}

async function connectAll(args: Parsed): Promise<boolean> {
  const oks = await Promise.all(Array.from({ length: args.connections }, (_, i) => connectAndRun({ ...args, seed: (args.seed! + i) >>> 0 })));
  return oks.every(Boolean);
}

async function connectAndRun(args: Parsed): Promise<boolean> {
  const socket = connect({ host: args.address!, port: args.port, allowHalfOpen: true });
  socket.setTimeout(CONNECT_TIMEOUT_MS);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
      socket.once('timeout', () => reject(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
    });
  } catch (err) {
    socket.destroy();
    print({ event: 'report', role: 'client', seed: args.seed, ok: false, failures: [`connect ${args.address}:${args.port}: ${(err as Error).message}`] });
    return false;
  }
  socket.setTimeout(0);
  const ends = endpoints(socket);
  const report = await peer(socket, args, 'client');
  print({ event: 'report', ...ends, ...report });
  return report.ok;
}

async function main(): Promise<void> {
  let args: Parsed;
  try {
    args = parseStreamArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`verified-stream: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  const ok = args.command === 'serve' ? await serve(args) : await connectAll(args);
  process.exitCode = ok ? 0 : 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`verified-stream: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
