// Sessions and pipeline options as both the Datapath (native/addon/datapath_wrap.cc) and the Buffer harness
// (native/addon/pipeline_bindings.cc) see them.

/** Every field but `policies` is required: defaults and limits live in the agent config schema
 * (src/agent/config.ts, dysco section); `pipelineOptions` in src/agent/agent.ts maps that section onto these. */
export interface PipelineOptions {
  /** Host-order IPv4 numbers. */
  hostIp: number;
  prefixLength: number;
  gatewayIp: number;
  maxSessions: number;
  maxSetups: number;
  portLo: number;
  portHi: number;
  mtu: number;
  setupTimeoutMs: number;
  establishedTimeoutMs: number;
  closingTimeoutMs: number;
  lingerMs: number;
  /** Compiled policies in force from the first packet (the Datapath only). */
  policies?: Buffer;
}

export interface NativeTuple {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

export interface NativeSessionSummary {
  id: number;
  state: number;
  role: number;
  leftSession?: NativeTuple;
  leftSubsession?: NativeTuple;
  rightSession?: NativeTuple;
  rightSubsession?: NativeTuple;
  packets: number;
  bytes: number;
  idleMs: number;
  /** -1 when no local policy chained it. */
  ruleId: number;
}

export interface NativePipelineStats {
  sessionsInitiated: number;
  sessionsAccepted: number;
  sessionsCompleted: number;
  completedByTag: number;
  established: number;
  synRetransmits: number;
  teardowns: { fin: number; rst: number; idle: number };
  tagNoSpace: number;
  staleTags: number;
  rstsIgnored: number;
  arpRequests: number;
  activeSessions: number;
  sessionCapacity: number;
  tableBytes: number;
}

/** SessionState and SessionRole numbering of native/core/session.h. */
export const SESSION_STATES = ['free', 'pending', 'syn_sent', 'established', 'closing', 'linger'] as const;
export const SESSION_ROLES = ['initiator', 'middlebox', 'responder'] as const;
