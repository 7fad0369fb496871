// What a live testbed hands its callers: hosts, their agents, command targets. Plain data, shared by the testbed's
// modules (network, agents, agent config) and its users.
import type { RunOptions } from './exec';

/** A host's agent: its namespace, its two devices, its metrics endpoint and log. */
export interface AgentHandle {
  readonly ns: string;
  /** agent-side veth end peered with the host's interface */
  readonly hostIface: string;
  /** agent-side veth end peered with the router's interface for this host */
  readonly wireIface: string;
  /** the DPDK device strings the agent is started with */
  readonly hostDevice: string;
  readonly wireDevice: string;
  readonly metricsPort: number;
  /** reachable only from inside `ns` */
  readonly metricsUrl: string;
  readonly logFile: string;
}

export interface HostHandle {
  readonly name: string;
  readonly index: number;
  /** the host's stack namespace */
  readonly ns: string;
  readonly address: string;
  readonly prefixLength: number;
  /** `address/prefixLength` */
  readonly cidr: string;
  /** the router's address on this host's subnet (default route) */
  readonly gateway: string;
  /** the host's interface in `ns` */
  readonly iface: string;
  /** the router's interface toward this host, in the router namespace */
  readonly routerIface: string;
  readonly forwarding: boolean;
  readonly agent?: AgentHandle;
}

/** How an agent ended. */
export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** from sending the signal to the process being gone */
  elapsedMs: number;
  /** it outlived the timeout and was SIGKILLed */
  timedOut: boolean;
}

/** Where a command runs: a host name (its stack namespace), `router`, or a host handle. */
export type Target = string | HostHandle;

export interface ExecOptions extends RunOptions {
  /** run in the host's agent namespace instead of its stack namespace */
  agentNs?: boolean;
}
