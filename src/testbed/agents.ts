// The agent processes of a testbed: started detached in their agent namespaces with their output in a log file,
// ready when the log says so, stopped by signal with a bounded wait and SIGKILL after it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { DEFAULT_AGENT_STOP_TIMEOUT_MS } from './cleanup';
import { processStartTime, signalQuiet, sleep } from './exec';
import type { AgentExit } from './handles';

/** How long to wait for an agent's `"event":"ready"` log line. */
export const DEFAULT_READY_TIMEOUT_MS = 30_000;
/** Lines of agent log shown in errors. */
export const LOG_TAIL_LINES = 25;
const READY_POLL_MS = 100;
const READY_MARKER = /"event"\s*:\s*"ready"/;

interface RunningAgent {
  child: ChildProcess;
  pid: number;
  startTime: number | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

export interface AgentStart {
  /** the full argv, namespace wrapper included */
  argv: readonly string[];
  logFile: string;
  env: NodeJS.ProcessEnv;
  readyTimeoutMs: number;
  /** the process started is not the agent (podman): the agent's pid is the one its ready line names */
  pidFromLog?: boolean;
}

/** The agents of one testbed, by host name. `changed` runs whenever one starts or ends (to save the state). */
export class AgentProcesses {
  private readonly agents = new Map<string, RunningAgent>();
  /** every agent pid ever started, for their DPDK runtime dirs and API sockets */
  readonly pidsEver = new Set<number>();

  constructor(private readonly changed: () => void) {}

  /** Pid and start time of the host's agent while it runs. */
  live(name: string): { pid: number; startTime: number | undefined } | undefined {
    const a = this.agents.get(name);
    return a && !a.exit ? { pid: a.pid, startTime: a.startTime } : undefined;
  }

  /** Every agent still running: an exited agent's pid may belong to someone else by now. */
  running(): { pid: number; startTime: number | undefined }[] {
    return [...this.agents.values()].filter((a) => !a.exit).map((a) => ({ pid: a.pid, startTime: a.startTime }));
  }

  /** Start the host's agent and wait for its ready line; on timeout or early exit it is killed, the log tail in the error. */
  async start(name: string, start: AgentStart): Promise<number> {
    const prev = this.agents.get(name);
    if (prev && !prev.exit) throw new Error(`agent of ${name} is already running (pid ${prev.pid})`);
    const offset = sizeOf(start.logFile);
    const fd = openSync(start.logFile, 'a', 0o644);
    let child: ChildProcess;
    try {
      const [file, ...args] = start.argv;
      child = spawn(file!, args, {
        detached: true, // its own process group: a terminal's Ctrl-C reaches us, and we stop it in order
        stdio: ['ignore', fd, fd],
        env: start.env,
      });
    } finally {
      closeSync(fd);
    }
    child.unref();
    const pid = child.pid;
    if (pid === undefined) {
      await new Promise<void>((r) => {
        child.once('error', () => r());
        child.once('exit', () => r());
      });
      throw new Error(`cannot start agent of ${name}`);
    }
    const running: RunningAgent = {
      child,
      pid,
      startTime: processStartTime(pid),
      exited: new Promise((res) => {
        child.once('exit', (code, signal) => {
          running.exit = { code, signal };
          res(running.exit);
        });
      }),
    };
    this.agents.set(name, running);
    this.pidsEver.add(pid);
    this.changed();

    const deadline = Date.now() + start.readyTimeoutMs;
    for (;;) {
      const ready = readyLine(start.logFile, offset);
      if (ready !== undefined) {
        if (!start.pidFromLog) return pid;
        const agentPid = pidOfLogLine(ready);
        if (agentPid === undefined) throw new Error(`agent of ${name}: its ready line names no pid: ${ready}`);
        running.pid = agentPid;
        running.startTime = processStartTime(agentPid);
        this.pidsEver.add(agentPid);
        this.changed();
        return agentPid;
      }
      if (running.exit) {
        const how = running.exit.signal ? `was killed by ${running.exit.signal}` : `exited with code ${running.exit.code}`;
        this.changed();
        throw new Error(`agent of ${name} ${how} before it was ready; log ${start.logFile}:\n${tailFile(start.logFile, LOG_TAIL_LINES)}`);
      }
      if (Date.now() >= deadline) {
        signalQuiet(pid, 'SIGKILL');
        await Promise.race([running.exited, sleep(2_000)]);
        this.changed();
        throw new Error(
          `agent of ${name} not ready after ${start.readyTimeoutMs} ms; log ${start.logFile}:\n${tailFile(start.logFile, LOG_TAIL_LINES)}`,
        );
      }
      await sleep(READY_POLL_MS);
    }
  }

  /** Signal the host's agent and wait for it to end; after `timeoutMs` it is SIGKILLed and the result says `timedOut`. */
  async stop(name: string, signal: NodeJS.Signals, timeoutMs = DEFAULT_AGENT_STOP_TIMEOUT_MS): Promise<AgentExit> {
    const running = this.agents.get(name);
    if (!running) throw new Error(`agent of ${name} was not started`);
    const t0 = performance.now();
    if (running.exit) return { ...running.exit, elapsedMs: 0, timedOut: false };
    signalQuiet(running.pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      running.exited,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs))),
    ]);
    clearTimeout(timer);
    let result: AgentExit;
    if (outcome) {
      result = { ...outcome, elapsedMs: performance.now() - t0, timedOut: false };
    } else {
      signalQuiet(running.pid, 'SIGKILL');
      const killed = await Promise.race([running.exited, sleep(5_000).then(() => undefined)]);
      result = {
        code: killed?.code ?? null,
        signal: killed?.signal ?? 'SIGKILL',
        elapsedMs: performance.now() - t0,
        timedOut: true,
      };
    }
    this.changed();
    return result;
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function readyLine(file: string, offset: number): string | undefined {
  return readFrom(file, offset)
    .split('\n')
    .find((line) => READY_MARKER.test(line));
}

/** The pid field of a JSON log line. */
export function pidOfLogLine(line: string): number | undefined {
  try {
    const pid = (JSON.parse(line) as { pid?: unknown }).pid;
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of a file ('' if missing). */
export function tailFile(file: string, lines: number): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '(no log)';
  }
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
