/**
 * Running commands (always argv arrays, never shell strings), inside namespaces or not, with timeouts; plus the
 * synchronous variants the 'exit' hook needs and small process utilities.
 */
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Default bound on any single command the testbed runs. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 20_000;

export interface RunOptions {
  /** kill the command (SIGKILL) after this long; default DEFAULT_COMMAND_TIMEOUT_MS */
  timeoutMs?: number;
  /** written to the command's stdin, which is then closed */
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** resolve instead of rejecting when the command exits non-zero */
  allowFailure?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** exit code, or null when killed by a signal */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A command failed; the message carries the argv, the exit status and stderr. */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
    readonly timedOut: boolean,
  ) {
    const status = timedOut ? 'timed out' : result.signal ? `killed by ${result.signal}` : `exited ${result.code}`;
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    super(`${argv.join(' ')}: ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Run `file args...`, collecting its output; rejects with CommandError on non-zero exit or timeout. */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const argv = [file, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
        signal,
      };
      if (timedOut || ((code !== 0 || signal !== null) && !opts.allowFailure)) {
        reject(new CommandError(argv, result, timedOut));
      } else {
        resolve(result);
      }
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined); // the command may exit before reading everything
      child.stdin!.end(opts.input);
    }
  });
}

/** argv prefix that runs a command inside a named network namespace. */
export function inNamespace(ns: string, cmd: readonly string[]): string[] {
  if (cmd.length === 0) throw new RangeError('empty command');
  return ['ip', 'netns', 'exec', ns, ...cmd];
}

/** Run `cmd` inside namespace `ns`. */
export function runInNamespace(ns: string, cmd: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = inNamespace(ns, cmd);
  return run(file!, args, opts);
}

/** Spawn `cmd` inside namespace `ns`; the caller owns the child. */
export function spawnInNamespace(ns: string, cmd: readonly string[], opts: SpawnOptions = {}) {
  const [file, ...args] = inNamespace(ns, cmd);
  return spawn(file!, args, opts);
}

/** Synchronous, best-effort run for exit-time cleanup: never throws, returns stdout ('' on failure). */
export function runSyncQuiet(file: string, args: readonly string[], timeoutMs = 5_000): string {
  try {
    return execFileSync(file, args, { timeout: timeoutMs, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' });
  } catch {
    return '';
  }
}

/** Whether a process exists (EPERM counts as alive). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kernel start time of a process (clock ticks since boot), to tell a pid from a reused one; undefined if gone. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name start at field 3 (state); starttime is field 22.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const value = Number(rest[22 - 3]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process identified by (pid, start time) is still the one running; without a start time, by pid only. */
export function isSameProcessAlive(pid: number, startTime?: number): boolean {
  if (!isAlive(pid)) return false;
  if (startTime === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === startTime;
}

/** Send a signal, ignoring a process that is already gone. */
export function signalQuiet(pid: number, signal: NodeJS.Signals | number): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Block the thread (exit hooks only: no event loop is left there). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Wait until none of `pids` is alive or the time is up; returns the pids still alive. */
export async function waitForExit(pids: readonly number[], timeoutMs: number, pollMs = 50): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(pollMs);
    alive = alive.filter(isAlive);
  }
  return alive;
}

export function waitForExitSync(pids: readonly number[], timeoutMs: number, pollMs = 20): number[] {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    sleepSync(pollMs);
    alive = alive.filter(isAlive);
  }
  return alive;
}
