// Verified streams between two hosts of a testbed: the server program in one host's namespace, clients in another's,
// each a separate process (verified-stream-main.js) so that the kernel of those namespaces carries the traffic.
import { join } from 'node:path';
import { stopProcess } from './middleboxes';
import type { Testbed, Target } from './testbed';
import { parseSnmpRetransSegs } from './tcp-counters';
import { DEFAULT_SETTLE_TIMEOUT_MS, type StreamPeerReport } from './verified-stream';

/** The compiled program, next to this file. */
export const VERIFIED_STREAM_ENTRY = join(__dirname, 'verified-stream-main.js');
const READY_TIMEOUT_MS = 10_000;
/** Beyond a client's own length before it is killed. */
const CLIENT_SLACK_MS = 45_000;
/**
 * How long the server may take to report once every client has: its connections each settle within their own bound,
 * and a client that never connected leaves the server waiting for good.
 */
const SERVER_REPORT_TIMEOUT_MS = DEFAULT_SETTLE_TIMEOUT_MS + 10_000;
const SERVER_REPORT_POLL_MS = 100;

export interface Endpoint {
  address: string;
  port: number;
}

/** A report line of the program, with the connection's endpoints as its side saw them. */
export type StreamReport = StreamPeerReport & { local?: Endpoint; remote?: Endpoint };

export interface StreamServer {
  readonly address: string;
  readonly port: number;
  /** reports of the connections finished so far */
  readonly reports: readonly StreamReport[];
  /** resolves when the server has served its connections and exited */
  readonly exited: Promise<{ code: number | null; reports: readonly StreamReport[]; stderr: string }>;
  stop(): Promise<void>;
}

export interface StreamServerOptions {
  port: number;
  /** connections to serve before exiting; default 1 */
  connections?: number;
  /** default: every connection sends until its client ends */
  durationMs?: number;
  bytes?: number;
  rateMbitPerSecond?: number;
}

function limitArgs(opts: { durationMs?: number; bytes?: number; rateMbitPerSecond?: number }): string[] {
  return [
    ...(opts.durationMs !== undefined ? ['--duration-ms', String(opts.durationMs)] : []),
    ...(opts.bytes !== undefined ? ['--bytes', String(opts.bytes)] : []),
    ...(opts.rateMbitPerSecond !== undefined ? ['--rate-mbit', String(opts.rateMbitPerSecond)] : []),
  ];
}

function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** Starts the server in `host`'s namespace, listening on the host's address, and waits until it listens. */
export async function startStreamServer(tb: Testbed, host: string, opts: StreamServerOptions): Promise<StreamServer> {
  const address = tb.host(host).address;
  const argv = [process.execPath, VERIFIED_STREAM_ENTRY, 'serve', '--address', address, '--port', String(opts.port), '--connections', String(opts.connections ?? 1), ...limitArgs(opts)];
  const child = tb.spawn(host, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const reports: StreamReport[] = [];
  let stderr = '';
  let pending = '';
  let signalListening!: () => void;
  const listening = new Promise<void>((resolve) => (signalListening = resolve));
  child.stdout!.on('data', (b: Buffer) => {
    pending += b.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of parseLines(lines.join('\n'))) {
      if (line.event === 'listening') signalListening();
      if (line.event === 'report') reports.push(line as unknown as StreamReport);
    }
  });
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; reports: readonly StreamReport[]; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, reports, stderr })),
  );
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    listening.then(() => 'listening' as const),
    exited.then(() => 'exited' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (outcome !== 'listening') {
    await stopProcess(child, 'SIGKILL');
    throw new Error(`verified-stream server on ${host} ${outcome === 'timeout' ? `not listening after ${READY_TIMEOUT_MS} ms` : 'exited'}: ${stderr.trim().split('\n').slice(-5).join('\n')}`);
  }
  return { address, port: opts.port, reports, exited, stop: () => stopProcess(child) };
}

export interface StreamClientOptions {
  seed: number;
  /** connections of this one client process, seeds seed, seed+1, …; default 1 */
  connections?: number;
  durationMs?: number;
  bytes?: number;
  rateMbitPerSecond?: number;
}

/** One client process in `host`'s namespace against `server`; resolves with a report per connection (ok false on any failure). */
export async function runStreamClients(tb: Testbed, host: string, server: Endpoint, opts: StreamClientOptions): Promise<StreamReport[]> {
  if (opts.durationMs === undefined && opts.bytes === undefined) throw new RangeError('a stream client needs durationMs or bytes');
  const connections = opts.connections ?? 1;
  const argv = [process.execPath, VERIFIED_STREAM_ENTRY, 'connect', '--address', server.address, '--port', String(server.port), '--seed', String(opts.seed), '--connections', String(connections), ...limitArgs(opts)];
  const timeoutMs = (opts.durationMs ?? 60_000) + CLIENT_SLACK_MS;
  const result = await tb.exec(host, argv, { allowFailure: true, timeoutMs });
  const reports = parseLines(result.stdout).filter((line) => line.event === 'report') as unknown as StreamReport[];
  if (reports.length !== connections) {
    throw new Error(`verified-stream client on ${host} printed ${reports.length} of ${connections} reports (exit ${result.code ?? result.signal}): ${result.stderr.trim().split('\n').slice(-5).join('\n')}`);
  }
  return reports;
}

/** One client of one connection. */
export async function runStreamClient(tb: Testbed, host: string, server: Endpoint, opts: StreamClientOptions): Promise<StreamReport> {
  return (await runStreamClients(tb, host, server, { ...opts, connections: 1 }))[0]!;
}

/** Tcp RetransSegs of a host's namespace (every connection of the namespace, alive or gone). */
export async function retransSegsOf(tb: Testbed, target: Target): Promise<number> {
  const r = await tb.exec(target, ['cat', '/proc/net/snmp']);
  return parseSnmpRetransSegs(r.stdout);
}

export interface VerifiedSession {
  client: StreamReport;
  /** the server's report of the same connection (matched by seed: NAT may change the client's port) */
  server: StreamReport | undefined;
  /** both sides intact and clean */
  ok: boolean;
  /** the bytes one side sent that the other did not receive intact, both directions together */
  bytesLost: number;
}

export interface VerifiedStreamsResult {
  sessions: VerifiedSession[];
  /** RetransSegs growth in the client's namespace over the run (all sessions, FIN retransmissions included) */
  clientRetransSegs: number;
}

export interface VerifiedStreamsOptions extends StreamClientOptions {
  port: number;
  /** concurrent sessions, seeds seed, seed+1, …; default 1 */
  sessions?: number;
  /** sessions per client process (many sessions in few processes); default 1 */
  sessionsPerProcess?: number;
  /** called once every client has connected and is streaming (after `startedAfterMs`) */
  whileRunning?: () => Promise<void>;
  /** default 300 ms */
  startedAfterMs?: number;
}

/** The bytes of one direction that did not arrive intact: all of it past the first mismatch, and any shortfall. */
export function bytesLostOneWay(sent: number, received: StreamPeerReport['received'] | undefined): number {
  if (received === undefined) return sent;
  if (received.firstMismatchOffset !== undefined) return Math.max(0, sent - received.firstMismatchOffset);
  return Math.max(0, sent - received.bytesReceived);
}

/** Waits until the server has exited or reported every connection a client made, within SERVER_REPORT_TIMEOUT_MS. */
async function serverReportsOf(server: StreamServer, clientReports: readonly StreamReport[]): Promise<void> {
  const seeds = clientReports.filter((r) => r.local !== undefined).map((r) => r.seed);
  let exited = false;
  void server.exited.then(() => (exited = true));
  const deadline = Date.now() + SERVER_REPORT_TIMEOUT_MS;
  while (!exited && Date.now() < deadline && !seeds.every((seed) => server.reports.some((r) => r.seed === seed))) {
    await new Promise((resolve) => setTimeout(resolve, SERVER_REPORT_POLL_MS));
  }
}

/** `sessions` verified streams from `clientHost` to `serverHost` at once, each checked on both ends. */
export async function runVerifiedStreams(tb: Testbed, clientHost: string, serverHost: string, opts: VerifiedStreamsOptions): Promise<VerifiedStreamsResult> {
  const count = opts.sessions ?? 1;
  // The server sends until its client ends, at the same rate as the client.
  const server = await startStreamServer(tb, serverHost, { port: opts.port, connections: count, rateMbitPerSecond: opts.rateMbitPerSecond });
  try {
    const before = await retransSegsOf(tb, clientHost);
    const perProcess = Math.max(1, opts.sessionsPerProcess ?? 1);
    const clients = Array.from({ length: Math.ceil(count / perProcess) }, (_, p) =>
      runStreamClients(tb, clientHost, server, { ...opts, seed: (opts.seed + p * perProcess) >>> 0, connections: Math.min(perProcess, count - p * perProcess) }),
    );
    let during: Promise<void> | undefined;
    if (opts.whileRunning) {
      const run = opts.whileRunning;
      during = new Promise<void>((resolve) => setTimeout(resolve, opts.startedAfterMs ?? 300)).then(run);
    }
    const reports = (await Promise.all(clients)).flat();
    await during;
    await serverReportsOf(server, reports);
    const serverReports = server.reports;
    const after = await retransSegsOf(tb, clientHost);
    const sessions = reports.map((client): VerifiedSession => {
      const match = serverReports.find((s) => s.seed === client.seed);
      const lost =
        bytesLostOneWay(client.sent?.bytes ?? 0, match?.received) + bytesLostOneWay(match?.sent?.bytes ?? 0, client.received);
      return { client, server: match, ok: client.ok && match?.ok === true, bytesLost: lost };
    });
    return { sessions, clientRetransSegs: after - before };
  } finally {
    await server.stop();
  }
}
