/**
 * Naming of everything a testbed creates. Every namespace starts with `dysco-<run>-` and every link with
 * `dy<run>`, so a sweep can find stale resources by prefix and two runs never collide.
 */
import { randomBytes } from 'node:crypto';

/** Prefix of every namespace a testbed creates. */
export const NAMESPACE_PREFIX = 'dysco-';
/** Prefix of every link a testbed creates (followed by the run id). */
export const LINK_PREFIX = 'dy';
/** Linux limit on interface names (IFNAMSIZ - 1). */
export const MAX_IFNAME_LENGTH = 15;
/** Name of the shared router namespace's role; not allowed as a host name. */
export const ROUTER_ROLE = 'router';
/** Suffix of a host's agent namespace. */
export const AGENT_NS_SUFFIX = '-ag';

const RUN_ID_RE = /^[0-9a-f]{4}$/;
const NAMESPACE_RE = /^dysco-([0-9a-f]{4})(?:-(.+))?$/;

/** A fresh run id: 4 random lowercase hex characters. */
export function newRunId(): string {
  return randomBytes(2).toString('hex');
}

export function isRunId(value: string): boolean {
  return RUN_ID_RE.test(value);
}

function assertRunId(runId: string): void {
  if (!isRunId(runId)) throw new RangeError(`run id must be 4 lowercase hex characters, got ${JSON.stringify(runId)}`);
}

/** Namespace holding a host's own stack: `dysco-<run>-<host>`. */
export function hostNamespace(runId: string, host: string): string {
  assertRunId(runId);
  return `${NAMESPACE_PREFIX}${runId}-${host}`;
}

/** Namespace holding a host's agent (its two veth ends): `dysco-<run>-<host>-ag`. */
export function agentNamespace(runId: string, host: string): string {
  return `${hostNamespace(runId, host)}${AGENT_NS_SUFFIX}`;
}

/** The shared router namespace: `dysco-<run>-router`. */
export function routerNamespace(runId: string): string {
  return hostNamespace(runId, ROUTER_ROLE);
}

/** The run id a namespace belongs to, or undefined if the name is not one of ours. */
export function runIdOfNamespace(ns: string): string | undefined {
  return NAMESPACE_RE.exec(ns)?.[1];
}

/** Role of a link end in a host's wiring; one letter in the interface name. */
export type LinkRole =
  /** the host's own interface, in the host namespace */
  | 'host'
  /** the router's interface toward the host, in the router namespace */
  | 'router'
  /** the agent's end peered with the host's interface */
  | 'agentHost'
  /** the agent's end peered with the router's interface */
  | 'agentWire';

const ROLE_LETTER: Record<LinkRole, string> = { host: 'h', router: 'r', agentHost: 'a', agentWire: 'w' };

/**
 * Interface name of one link end: `dy<run><role letter><host index>`, e.g. `dy3fa0h1`. Host indexes, not host names,
 * keep the name under the 15-character limit whatever the host is called.
 */
export function linkName(runId: string, role: LinkRole, hostIndex: number): string {
  assertRunId(runId);
  if (!Number.isInteger(hostIndex) || hostIndex < 0) throw new RangeError(`host index must be a non-negative integer`);
  const name = `${LINK_PREFIX}${runId}${ROLE_LETTER[role]}${hostIndex}`;
  if (name.length > MAX_IFNAME_LENGTH) throw new RangeError(`interface name ${name} exceeds ${MAX_IFNAME_LENGTH} chars`);
  return name;
}

/** DPDK runtime directory of an agent process (the agent uses `--file-prefix dysco-<pid>`). */
export const DPDK_RUNTIME_ROOT = '/var/run/dpdk';
export function dpdkRuntimeDir(pid: number): string {
  return `${DPDK_RUNTIME_ROOT}/${NAMESPACE_PREFIX}${pid}`;
}
/** The pid encoded in a DPDK runtime directory's name, or undefined if the name is not one of ours. */
/** The owner pid of a DPDK runtime directory of ours: `dysco-<pid>` (agents) or `dysco-<what>-<pid>` (tests, benchmarks). */
export function pidOfDpdkRuntimeDir(entry: string): number | undefined {
  const m = /^dysco-(?:[A-Za-z0-9_-]+-)?(\d+)$/.exec(entry);
  return m ? Number(m[1]) : undefined;
}

/** Directory holding one run's state file and agent logs. */
export const RUN_ROOT = '/run/dysco/testbeds';
export function runDirectory(runId: string, root: string = RUN_ROOT): string {
  assertRunId(runId);
  return `${root}/${runId}`;
}
