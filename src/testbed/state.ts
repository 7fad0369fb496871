/**
 * The run directory (`/run/dysco/testbeds/<run>/`): `state.json` (topology, names, owner, persistence, agent pids)
 * and the agents' logs. Written before anything is created, so a sweep can always tell whose a namespace is.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunId, RUN_ROOT } from './names';
import type { Topology } from './topology';

export const STATE_FILE = 'state.json';
export const STATE_VERSION = 1;

/** How an agent's two ports are backed. */
export type DeviceKind = 'af_packet' | 'af_xdp';
export const DEVICE_KINDS: readonly DeviceKind[] = ['af_packet', 'af_xdp'];

export interface AgentState {
  /** the agent namespace, `dysco-<run>-<host>-ag` */
  ns: string;
  /** agent-side veth end peered with the host's interface */
  hostIface: string;
  /** agent-side veth end peered with the router's interface for this host */
  wireIface: string;
  metricsPort: number;
  logFile: string;
  /** pid of the agent process while it runs */
  pid?: number;
  pidStartTime?: number;
}

export interface HostState {
  name: string;
  index: number;
  /** the host's stack namespace, `dysco-<run>-<host>` */
  ns: string;
  address: string;
  gateway: string;
  prefixLength: number;
  /** the host's interface (in `ns`) */
  iface: string;
  /** the router's interface toward this host (in the router namespace) */
  routerIface: string;
  forwarding: boolean;
  agent?: AgentState;
}

export interface TestbedState {
  version: typeof STATE_VERSION;
  runId: string;
  topology: Topology;
  createdAt: string;
  owner: { pid: number; startTime?: number };
  /** a persistent testbed outlives its owner (`dysco testbed up`); sweeps leave it alone */
  persistent: boolean;
  deviceKind: DeviceKind;
  routerNs: string;
  /** every namespace the run creates (written before they exist) */
  namespaces: string[];
  hosts: HostState[];
  /** every agent pid the run started, running or not: whose DPDK runtime dirs and API sockets teardown removes */
  agentPidsEver?: number[];
  /** the image the agents run from, and their containers (teardown removes them) */
  agentImage?: string;
  agentContainers?: string[];
}

export function stateFile(runDir: string): string {
  return join(runDir, STATE_FILE);
}

/** Write the state atomically (temp file, then rename). */
export function writeState(runDir: string, state: TestbedState): void {
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const file = stateFile(runDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

/** Read a run's state, or undefined if it is missing or unreadable. */
export function readState(runDir: string): TestbedState | undefined {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(stateFile(runDir), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isStateShape(data)) return undefined;
  return data;
}

function isStateShape(data: unknown): data is TestbedState {
  if (typeof data !== 'object' || data === null) return false;
  const s = data as Partial<TestbedState>;
  return (
    s.version === STATE_VERSION &&
    typeof s.runId === 'string' &&
    isRunId(s.runId) &&
    typeof s.owner === 'object' &&
    s.owner !== null &&
    typeof s.owner.pid === 'number' &&
    typeof s.persistent === 'boolean' &&
    Array.isArray(s.namespaces) &&
    Array.isArray(s.hosts)
  );
}

/** Run ids that have a directory under the run root. */
export function listRunDirs(root: string = RUN_ROOT): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && isRunId(d.name))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}
