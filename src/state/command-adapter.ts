// The StateAdapter for middlebox software this project does not know: the operator names the commands that export,
// import and delete its per-session state. One process per batch, not per session. Each command reads JSON lines on
// stdin and answers one JSON line per input line, in order (docs/state-transfer.md, "Commands"):
//
//   export  in: {"tuple":T}                  out: {"state":"<base64>"} | {"error":"not_found"|"failed"}
//   import  in: {"tuple":T,"state":"<b64>"}  out: {"ok":true} | {"error":"exists"|"malformed"|"not_verified"|"failed"}
//   delete  in: {"tuple":T}                  out: {"ok":true} | {"error":"failed"}
//
// T is {"srcIp":"10.0.0.1","dstIp":"10.0.0.2","srcPort":40000,"dstPort":80}: the connection as the middlebox host's
// stack sees it, in its original direction. An answer that is not such a line fails its session; a command that
// exits with a non-zero status, writes more than the bound or outlives its time fails the whole call.
import { spawn } from 'node:child_process';
import { formatIpv4 } from '../net/ipv4';
import type { Tuple } from '../reconfig/messages';
import type { ExportOutcome, ImportOutcome, StateAdapter, StateBlob, StateFailure } from './state-adapter';
import { checkTuple, validTuple } from './tuples';

export interface CommandAdapterOptions {
  /** argv of each command (no shell); delete is optional: without it, deleteState does nothing */
  exportCommand: readonly string[];
  importCommand: readonly string[];
  deleteCommand?: readonly string[];
  /** per call; default 10 s */
  timeoutMs?: number;
  /** bytes a command may print per call; default 64 MiB */
  maxOutputBytes?: number;
}

const FAILURES: readonly StateFailure[] = ['not_found', 'exists', 'malformed', 'not_verified', 'failed'];
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface WireTuple {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
}

const toWire = (t: Tuple): WireTuple => ({ srcIp: formatIpv4(t.srcIp), dstIp: formatIpv4(t.dstIp), srcPort: t.srcPort, dstPort: t.dstPort });

function checkArgv(argv: readonly string[] | undefined, what: string): void {
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string' && a.length > 0)) {
    throw new TypeError(`state commands: ${what} must be a non-empty array of non-empty strings`);
  }
}

/** One answer line: an object, or undefined when it is not JSON of an object. */
function answerOf(line: string | undefined): Record<string, unknown> | undefined {
  if (line === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function failureIn(answer: Record<string, unknown> | undefined): StateFailure {
  const error = answer?.error;
  return typeof error === 'string' && (FAILURES as readonly string[]).includes(error) ? (error as StateFailure) : 'failed';
}

export class CommandAdapter implements StateAdapter {
  readonly kind = 'command';
  private readonly timeoutMs: number;
  private readonly maxOutputBytes: number;

  constructor(private readonly options: CommandAdapterOptions) {
    checkArgv(options.exportCommand, 'exportCommand');
    checkArgv(options.importCommand, 'importCommand');
    if (options.deleteCommand !== undefined) checkArgv(options.deleteCommand, 'deleteCommand');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxOutputBytes = options.maxOutputBytes ?? 64 << 20;
    if (!(Number.isInteger(this.timeoutMs) && this.timeoutMs > 0) || !(Number.isInteger(this.maxOutputBytes) && this.maxOutputBytes > 0)) {
      throw new TypeError('state commands: timeoutMs and maxOutputBytes must be positive integers');
    }
  }

  async exportState(tuples: readonly Tuple[]): Promise<ExportOutcome[]> {
    tuples.forEach((t) => checkTuple(t, 'state commands'));
    if (tuples.length === 0) return [];
    const lines = await this.run(this.options.exportCommand, tuples.map((t) => ({ tuple: toWire(t) })));
    return tuples.map((tuple, i): ExportOutcome => {
      const answer = answerOf(lines[i]);
      const state = answer?.state;
      if (typeof state === 'string' && BASE64.test(state)) return { tuple, ok: true, blob: { tuple, bytes: Buffer.from(state, 'base64') } };
      return { tuple, ok: false, reason: failureIn(answer) };
    });
  }

  async importState(blobs: readonly StateBlob[]): Promise<ImportOutcome[]> {
    const outcomes: ImportOutcome[] = new Array(blobs.length);
    const sent: number[] = [];
    blobs.forEach((blob, i) => {
      if (blob !== null && typeof blob === 'object' && Buffer.isBuffer(blob.bytes) && validTuple(blob.tuple)) sent.push(i);
      else outcomes[i] = { tuple: blob?.tuple, ok: false, reason: 'malformed' };
    });
    if (sent.length === 0) return outcomes;
    const lines = await this.run(
      this.options.importCommand,
      sent.map((i) => ({ tuple: toWire(blobs[i]!.tuple), state: blobs[i]!.bytes.toString('base64') })),
    );
    sent.forEach((index, k) => {
      const answer = answerOf(lines[k]);
      const tuple = blobs[index]!.tuple;
      outcomes[index] = answer?.ok === true ? { tuple, ok: true } : { tuple, ok: false, reason: failureIn(answer) };
    });
    return outcomes;
  }

  async deleteState(tuples: readonly Tuple[]): Promise<void> {
    tuples.forEach((t) => checkTuple(t, 'state commands'));
    if (!this.options.deleteCommand || tuples.length === 0) return;
    const lines = await this.run(this.options.deleteCommand, tuples.map((t) => ({ tuple: toWire(t) })));
    const failed = tuples.filter((_, i) => answerOf(lines[i])?.ok !== true).length;
    if (failed > 0) throw new Error(`state delete command: ${failed} of ${tuples.length} sessions not deleted`);
  }

  /** Runs the command on these input lines; resolves with its output lines. */
  private run(argv: readonly string[], inputs: readonly object[]): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let size = 0;
      let stderr = '';
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`state command ${argv[0]}: ${message}`));
      };
      const timer = setTimeout(() => fail(`no answer within ${this.timeoutMs} ms`), this.timeoutMs);
      child.on('error', (error) => fail(error.message));
      child.stdout.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxOutputBytes) fail(`more than ${this.maxOutputBytes} bytes of output`);
        else out.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString();
      });
      child.on('close', (code, signal) => {
        if (settled) return;
        if (code !== 0) {
          fail(`exited with ${code ?? signal}${stderr ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : ''}`);
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(Buffer.concat(out).toString('utf8').split('\n').filter((line, i, all) => line.length > 0 || i < all.length - 1));
      });
      // A command that does not read its input must not make us fail on EPIPE: its exit status tells.
      child.stdin.on('error', () => undefined);
      child.stdin.end(inputs.map((line) => `${JSON.stringify(line)}\n`).join(''));
    });
  }
}
