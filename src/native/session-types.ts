// Shapes the addon gives sessions and pipeline counters, shared by the Datapath and the Buffer
// harness (so neither binding file needs the other's types).
import type { PipelineCounterKey, TeardownCauseName } from './generated/codes';

/** Every field but `policies`, `listAuth` and `replayCacheSlots` is required: defaults and limits live in the agent config schema
 * (src/agent/config.ts, dysco section); `pipelineOptions` in src/agent/agent.ts maps that section onto these. */
export interface PipelineOptions {
  /** Host-order IPv4 numbers. */
  hostIp: number;
  prefixLength: number;
  gatewayIp: number;
  maxSessions: number;
  maxSetups: number;
  maxReconfigurations: number;
  portLo: number;
  portHi: number;
  mtu: number;
  setupTimeoutMs: number;
  establishedTimeoutMs: number;
  closingTimeoutMs: number;
  lingerMs: number;
  /** UDP port of the agent-to-agent control channel; 0: none. */
  controlPort: number;
  /** Post session_established / session_ended events. */
  sessionEvents: boolean;
  /** The Buffer harness only: how many events wait for takeEvents() before more are counted as dropped. */
  eventQueue?: number;
  /** Compiled policies in force from the first packet (the Datapath only). */
  policies?: Buffer;
  /** Address-list authentication in force from the first packet (the Datapath only; src/security/list-auth.ts). */
  listAuth?: NativeListAuth | null;
  /** Slots of the replay cache of signed lists (native default 16384; 0: none). */
  replayCacheSlots?: number;
}

/** What the datapath checks address lists against (native/addon/list_auth_js.h). Addresses are host-order numbers. */
export interface NativeListAuth {
  keys: { id: number; key: Buffer }[];
  /** 0: sign nothing (verify only). */
  signingKeyId: number;
  maxSkewSeconds: number;
  /** true: every unsigned list is accepted; false: none; else the sessions whose unsigned lists are. */
  acceptUnsigned: boolean | UnsignedListMatch[];
}

export interface UnsignedListMatch {
  srcNet: number;
  srcMask: number;
  dstNet: number;
  dstMask: number;
  dstPortLo: number;
  dstPortHi: number;
}

export interface NativeTuple {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

/** findSession's query: a session id, or a tuple the session's host sends (either direction). */
export type SessionQuery = { sessionId: number } | NativeTuple;

/** TCP facts of one direction, from its SYN (or SYN-ACK): what reconfiguration needs to splice a path. */
export interface NativeHandshake {
  isn: number;
  /** null when the option was absent. */
  windowScale: number | null;
  sackPermitted: boolean;
  timestamps: boolean;
  tsVal: number;
}

export interface NativeSessionSummary {
  id: number;
  /** Index into SESSION_STATES. */
  state: number;
  /** Index into SESSION_ROLES. */
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
  /** [0] the forward SYN's, [1] the SYN-ACK's (zeros until it is seen). */
  handshake: [NativeHandshake, NativeHandshake];
  /** Present while the session is being reconfigured, or was (native/core/second_path.h). */
  reconfig?: NativeReconfigState;
}

/** Counters of native/core/pipeline_counters.def, teardowns by cause, then the table's own figures. */
export type NativePipelineStats = Record<PipelineCounterKey, number> & {
  teardowns: Record<TeardownCauseName, number>;
  activeSessions: number;
  sessionCapacity: number;
  tableBytes: number;
  /** Control-packet slots whose event the control plane has not read yet. */
  controlSlotsInUse: number;
};

/** A session's reconfiguration state as the lcore keeps it; sequence numbers in the host's space. */
export interface NativeReconfigState {
  phase: 'expecting' | 'opening' | 'answered' | 'two_paths' | 'folded' | 'settled';
  /** The side that doubled: 'right' at the left anchor, 'left' at the right anchor. */
  side: 'right' | 'left';
  nonce: number;
  /** SecondPath::known bits. */
  known: number;
  /** The far anchor's last path-option flags. */
  theirFlags: number;
  cutoffOurs: number;
  cutoffTheirs: number;
  sent: number;
  theirAck: number;
  hostAck: number;
  oldReceived: number;
}
