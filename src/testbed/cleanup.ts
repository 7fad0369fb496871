/**
 * Tearing down runs, from inside the owning process or from any other (`dysco testbed down`), and sweeping stale
 * resources by prefix: namespaces `dysco-*`, the processes inside them, DPDK runtime dirs `dysco-<pid>` and
 * control-API sockets `/run/dysco/agent-<pid>.sock` of dead agents, and run directories.
 */
import { existsSync, lstatSync, readdirSync, rmSync, statSync } from 'node:fs';
import { DEFAULT_API_DIR, defaultApiSocket, pidOfApiSocket } from '../api/socket-path';
import { join } from 'node:path';
import {
  DPDK_RUNTIME_ROOT,
  NAMESPACE_PREFIX,
  dpdkRuntimeDir,
  pidOfDpdkRuntimeDir,
  runDirectory,
  runIdOfNamespace,
} from './names';
import {
  isAlive,
  isSameProcessAlive,
  run,
  runSyncQuiet,
  signalQuiet,
  waitForExit,
  waitForExitSync,
} from './exec';
import { listDyscoContainers, removeContainers, removeContainersSync } from './containers';
import { listRunDirs, readState, type TestbedState } from './state';
import { RUN_ROOT } from './names';

/** Default grace between SIGTERM and SIGKILL for agents. */
export const DEFAULT_AGENT_STOP_TIMEOUT_MS = 5_000;
/** How long to wait for SIGKILLed processes to disappear. */
const KILL_WAIT_MS = 2_000;
/** A run directory without a state file younger than this may be one being created right now. */
const FRESH_RUN_DIR_MS = 60_000;
const NETNS_DIR = '/run/netns';

/** Names of all network namespaces (`ip netns` view). */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR).sort();
  } catch {
    return [];
  }
}

/** Our namespaces (`dysco-*`). */
export function listDyscoNamespaces(): string[] {
  return listNamespaces().filter((ns) => ns.startsWith(NAMESPACE_PREFIX));
}

/** Namespaces that belong to one run, by prefix. */
export function namespacesOfRun(runId: string, all: readonly string[] = listNamespaces()): string[] {
  return all.filter((ns) => runIdOfNamespace(ns) === runId);
}

/** Pids of processes inside a namespace. */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns], { allowFailure: true, timeoutMs: 5_000 });
  return parsePids(r.stdout).filter((p) => p !== process.pid);
}

function namespacePidsSync(ns: string): number[] {
  return parsePids(runSyncQuiet('ip', ['netns', 'pids', ns])).filter((p) => p !== process.pid);
}

function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** What one teardown removed. */
export interface TeardownReport {
  runId: string;
  namespaces: string[];
  killedPids: number[];
  /** DPDK runtime dirs that existed and were removed */
  dpdkDirs: string[];
  /** control-API sockets left by agents that died without removing them (SIGKILL) */
  apiSockets: string[];
  runDir?: string;
}

/** Everything needed to tear a run down, from a live testbed or from its state file. */
export interface RunResources {
  runId: string;
  namespaces: readonly string[];
  /** agent pids (with start times, so a reused pid is left alone) */
  agents: readonly { pid: number; startTime?: number }[];
  /** pids whose DPDK runtime dirs and default control-API sockets to remove once they are gone (default: the agents') */
  dpdkPids?: readonly number[];
  /** agent containers of the run (`--agent-image`) */
  containers?: readonly string[];
  runDir?: string;
}

export function resourcesFromState(state: TestbedState, runDir?: string): RunResources {
  return {
    runId: state.runId,
    namespaces: state.namespaces,
    agents: state.hosts.flatMap((h) =>
      h.agent?.pid !== undefined ? [{ pid: h.agent.pid, startTime: h.agent.pidStartTime }] : [],
    ),
    ...(state.agentPidsEver ? { dpdkPids: state.agentPidsEver } : {}),
    ...(state.agentContainers ? { containers: state.agentContainers } : {}),
    runDir,
  };
}

function allNamespacesOf(res: RunResources): string[] {
  const present = new Set(listNamespaces());
  const names = new Set([...res.namespaces.filter((n) => present.has(n)), ...namespacesOfRun(res.runId, [...present])]);
  return [...names];
}

/**
 * Tear a run down: SIGTERM its agents (SIGKILL after `agentStopTimeoutMs`), kill whatever else is left in its
 * namespaces, delete the namespaces (their veths go with them), remove the agents' DPDK runtime dirs and the run dir.
 */
export async function teardownRun(
  res: RunResources,
  opts: { agentStopTimeoutMs?: number } = {},
): Promise<TeardownReport> {
  const report: TeardownReport = { runId: res.runId, namespaces: [], killedPids: [], dpdkDirs: [], apiSockets: [] };
  const agents = res.agents.filter((a) => isSameProcessAlive(a.pid, a.startTime)).map((a) => a.pid);
  for (const pid of agents) signalQuiet(pid, 'SIGTERM');
  let left = await waitForExit(agents, opts.agentStopTimeoutMs ?? DEFAULT_AGENT_STOP_TIMEOUT_MS);
  for (const pid of left) signalQuiet(pid, 'SIGKILL');
  await waitForExit(left, KILL_WAIT_MS);
  report.killedPids.push(...agents);
  await removeContainers(res.containers ?? []);

  const namespaces = allNamespacesOf(res);
  const inside = (await Promise.all(namespaces.map(namespacePids))).flat();
  for (const pid of inside) signalQuiet(pid, 'SIGKILL');
  left = await waitForExit(inside, KILL_WAIT_MS);
  report.killedPids.push(...inside.filter((p) => !report.killedPids.includes(p)));

  for (const ns of namespaces) {
    await run('ip', ['netns', 'del', ns], { allowFailure: true, timeoutMs: 10_000 });
    report.namespaces.push(ns);
  }
  report.dpdkDirs = removeDpdkDirs(res.dpdkPids ?? res.agents.map((a) => a.pid));
  report.apiSockets = removeApiSockets(res.dpdkPids ?? res.agents.map((a) => a.pid));
  if (res.runDir !== undefined) {
    rmSync(res.runDir, { recursive: true, force: true });
    report.runDir = res.runDir;
  }
  return report;
}

/** The same, synchronously and best-effort, for process 'exit' (no event loop left there). */
export function teardownRunSync(res: RunResources, opts: { agentStopTimeoutMs?: number } = {}): void {
  try {
    const agents = res.agents.filter((a) => isSameProcessAlive(a.pid, a.startTime)).map((a) => a.pid);
    for (const pid of agents) signalQuiet(pid, 'SIGTERM');
    const left = waitForExitSync(agents, opts.agentStopTimeoutMs ?? DEFAULT_AGENT_STOP_TIMEOUT_MS);
    for (const pid of left) signalQuiet(pid, 'SIGKILL');
    waitForExitSync(left, KILL_WAIT_MS);
    removeContainersSync(res.containers ?? []);
    const namespaces = allNamespacesOf(res);
    const inside = namespaces.flatMap(namespacePidsSync);
    for (const pid of inside) signalQuiet(pid, 'SIGKILL');
    waitForExitSync(inside, KILL_WAIT_MS);
    for (const ns of namespaces) runSyncQuiet('ip', ['netns', 'del', ns]);
    removeDpdkDirs(res.dpdkPids ?? res.agents.map((a) => a.pid));
    removeApiSockets(res.dpdkPids ?? res.agents.map((a) => a.pid));
    if (res.runDir !== undefined) rmSync(res.runDir, { recursive: true, force: true });
  } catch {
    // best effort: the next sweep finishes the job
  }
}

/** Removes what exists of `paths`; returns only what was there and is now gone. */
function removeExisting(paths: readonly string[]): string[] {
  return paths.filter((path) => {
    if (!existsSync(path)) return false;
    try {
      rmSync(path, { recursive: true, force: true });
      return true;
    } catch {
      return false; // not ours to worry about
    }
  });
}

function removeDpdkDirs(pids: readonly number[]): string[] {
  return removeExisting(pids.filter((pid) => !isAlive(pid)).map(dpdkRuntimeDir));
}

/** A dead agent's default control-API socket (an agent stopped by SIGTERM removes its own). */
function removeApiSockets(pids: readonly number[], dir = DEFAULT_API_DIR): string[] {
  return removeExisting(pids.filter((pid) => !isAlive(pid)).map((pid) => defaultApiSocket(pid, dir)));
}

/** Default control-API sockets `agent-<pid>.sock` whose agent is gone. */
export function staleApiSockets(dir: string = DEFAULT_API_DIR): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const pid = pidOfApiSocket(name);
    if (pid === undefined || isAlive(pid)) return [];
    const path = join(dir, name);
    try {
      return lstatSync(path).isSocket() ? [path] : [];
    } catch {
      return [];
    }
  });
}

/** DPDK runtime dirs `/var/run/dpdk/dysco-<pid>` whose process is gone. */
export function staleDpdkDirs(root: string = DPDK_RUNTIME_ROOT): string[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const pid = pidOfDpdkRuntimeDir(e);
    return pid !== undefined && !isAlive(pid) ? [join(root, e)] : [];
  });
}

export interface SweepOptions {
  /** run directory root; default /run/dysco/testbeds */
  runRoot?: string;
  /** remove every run, alive or persistent (`dysco testbed down` with no run) */
  all?: boolean;
  agentStopTimeoutMs?: number;
  /** where agents put their control-API sockets; default /run/dysco */
  apiDir?: string;
}

export interface SweepReport {
  runs: TeardownReport[];
  /** namespaces `dysco-*` that match no run id (removed only by sweepAll) */
  strayNamespaces: string[];
  /** stale DPDK runtime dirs removed besides those of the runs */
  dpdkDirs: string[];
  /** control-API sockets of dead agents removed besides those of the runs */
  apiSockets: string[];
  /** agent containers of runs that are gone */
  containers: string[];
}

/** Whether a run may be swept: no state, or not persistent and its owner is gone. */
export function isStale(state: TestbedState | undefined): boolean {
  if (state === undefined) return true;
  if (state.persistent) return false;
  return !isSameProcessAlive(state.owner.pid, state.owner.startTime);
}

function runDirAgeMs(dir: string): number {
  try {
    return Date.now() - statSync(dir).mtimeMs;
  } catch {
    return Infinity;
  }
}

/**
 * Remove stale resources: runs (namespaces, their processes, agents, run dirs) whose owner is dead and that are not
 * persistent or have no state file, and DPDK runtime dirs of dead agents. With `all`, every `dysco-` resource.
 */
export async function sweep(opts: SweepOptions = {}): Promise<SweepReport> {
  const root = opts.runRoot ?? RUN_ROOT;
  const report: SweepReport = { runs: [], strayNamespaces: [], dpdkDirs: [], apiSockets: [], containers: [] };
  const namespaces = listDyscoNamespaces();
  const runIds = new Set<string>(listRunDirs(root));
  for (const ns of namespaces) {
    const id = runIdOfNamespace(ns);
    if (id !== undefined) runIds.add(id);
    else report.strayNamespaces.push(ns);
  }
  for (const runId of [...runIds].sort()) {
    const runDir = runDirectory(runId, root);
    const state = readState(runDir);
    const hasNamespaces = namespacesOfRun(runId, namespaces).length > 0;
    if (!opts.all) {
      if (!isStale(state)) continue;
      // a state-less directory without namespaces may be a run being created right now
      if (state === undefined && !hasNamespaces && runDirAgeMs(runDir) < FRESH_RUN_DIR_MS) continue;
    }
    const res: RunResources = state
      ? resourcesFromState(state, runDir)
      : { runId, namespaces: [], agents: [], runDir };
    report.runs.push(await teardownRun(res, { agentStopTimeoutMs: opts.agentStopTimeoutMs }));
  }
  if (opts.all) {
    for (const ns of report.strayNamespaces) {
      const pids = await namespacePids(ns);
      for (const pid of pids) signalQuiet(pid, 'SIGKILL');
      await waitForExit(pids, KILL_WAIT_MS);
      await run('ip', ['netns', 'del', ns], { allowFailure: true });
    }
  }
  report.containers = await removeStaleContainers(root, opts.all ?? false);
  report.dpdkDirs = removeExisting(staleDpdkDirs());
  report.apiSockets = removeExisting(staleApiSockets(opts.apiDir));
  return report;
}

/** Agent containers whose run is gone (its state and namespaces removed), or all of ours with `all`. */
async function removeStaleContainers(root: string, all: boolean): Promise<string[]> {
  const live = new Set(listDyscoNamespaces().map(runIdOfNamespace));
  const stale = [...(await listDyscoContainers())].flatMap(([runId, names]) =>
    all || (!live.has(runId) && readState(runDirectory(runId, root)) === undefined) ? names : [],
  );
  await removeContainers(stale);
  return stale;
}

/** Remove every `dysco-` namespace and run, regardless of owner or persistence. */
export function sweepAll(opts: Omit<SweepOptions, 'all'> = {}): Promise<SweepReport> {
  return sweep({ ...opts, all: true });
}

/** Tear down one run by id (from any process), using its state file and its namespace prefix. */
export async function destroyRun(
  runId: string,
  opts: { runRoot?: string; agentStopTimeoutMs?: number } = {},
): Promise<TeardownReport> {
  const runDir = runDirectory(runId, opts.runRoot ?? RUN_ROOT);
  const state = readState(runDir);
  const namespaces = namespacesOfRun(runId);
  if (state === undefined && namespaces.length === 0 && runDirAgeMs(runDir) === Infinity) {
    throw new Error(`no testbed run ${runId}`);
  }
  const res = state ? resourcesFromState(state, runDir) : { runId, namespaces, agents: [], runDir };
  return teardownRun(res, { agentStopTimeoutMs: opts.agentStopTimeoutMs });
}

/** One run as `dysco testbed status` shows it. */
export interface RunStatus {
  runId: string;
  topology?: string;
  persistent?: boolean;
  createdAt?: string;
  owner?: { pid: number; alive: boolean };
  /** whether a sweep would remove it */
  stale: boolean;
  namespaces: { name: string; present: boolean }[];
  hosts: { name: string; ns: string; address: string; agentNs?: string; agentPid?: number; agentAlive?: boolean }[];
}

/** Every run known by state file or namespace. */
export function listRuns(opts: { runRoot?: string } = {}): RunStatus[] {
  const root = opts.runRoot ?? RUN_ROOT;
  const present = listDyscoNamespaces();
  const runIds = new Set<string>(listRunDirs(root));
  for (const ns of present) {
    const id = runIdOfNamespace(ns);
    if (id !== undefined) runIds.add(id);
  }
  return [...runIds].sort().map((runId) => {
    const state = readState(runDirectory(runId, root));
    const names = new Set([...(state?.namespaces ?? []), ...namespacesOfRun(runId, present)]);
    return {
      runId,
      topology: state?.topology.name,
      persistent: state?.persistent,
      createdAt: state?.createdAt,
      owner: state
        ? { pid: state.owner.pid, alive: isSameProcessAlive(state.owner.pid, state.owner.startTime) }
        : undefined,
      stale: isStale(state),
      namespaces: [...names].sort().map((name) => ({ name, present: present.includes(name) })),
      hosts: (state?.hosts ?? []).map((h) => ({
        name: h.name,
        ns: h.ns,
        address: h.address,
        agentNs: h.agent?.ns,
        agentPid: h.agent?.pid,
        agentAlive:
          h.agent?.pid !== undefined ? isSameProcessAlive(h.agent.pid, h.agent.pidStartTime) : undefined,
      })),
    };
  });
}
