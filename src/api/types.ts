import type { NativeReconfigState } from '../native/session-types';
// Shapes of the agent's local control API (HTTP/1.1 + JSON on a Unix socket, optionally 127.0.0.1 TCP).
import type { SessionRoleName } from '../native/generated/codes';
import type { Policy } from '../policy/model';
import type { EffectivePolicy } from '../policy/store';

export interface Tuple {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
}

export interface SessionSide {
  /** The session five-tuple as seen on this side. */
  session: Tuple;
  /** The subsession carrying it on the wire (absent where the side faces the local stack). */
  subsession?: Tuple;
}

/** native/core/session_roles.def. */
export type SessionRole = SessionRoleName;

/** TCP facts of one direction, from its SYN or SYN-ACK (zeros until seen). */
export interface TcpHandshake {
  isn: number;
  /** null: the option was absent. */
  windowScale: number | null;
  sackPermitted: boolean;
  timestamps: boolean;
  tsVal: number;
}

export interface SessionRecord {
  id: number;
  state: string;
  role: SessionRole;
  left?: SessionSide;
  right?: SessionSide;
  chain: string[];
  packets: number;
  bytes: number;
  idleSeconds: number;
  /** forward: the initiator's SYN; reverse: the responder's SYN-ACK. */
  handshake?: { forward: TcpHandshake; reverse: TcpHandshake };
  /** While the session is being reconfigured, or was: the datapath's second-path state. */
  reconfig?: NativeReconfigState;
}

/** Pages through the datapath's sessions. `cursor` is opaque to the API: 0 starts, null ends. */
export interface SessionSource {
  sessions(cursor: number, limit: number): Promise<{ sessions: SessionRecord[]; nextCursor: number | null }>;
}

export interface SessionQuery {
  limit?: number;
  cursor?: number;
  state?: string;
  address?: string;
  port?: number;
}

export interface SessionPage {
  sessions: SessionRecord[];
  nextCursor: number | null;
}

export interface PolicyList {
  policies: EffectivePolicy[];
}

export interface PolicyCreated {
  policy: Policy;
}

/** Every 4xx/5xx body. */
export interface ApiErrorBody {
  error: string;
  details?: string[];
}

export const SESSION_LIMIT_MAX = 1000;
export const SESSION_LIMIT_DEFAULT = 100;
export const API_MAX_BODY_BYTES = 1 << 20;

/** POST /v1/reconfigure, run at the session's left anchor: exactly one of `session` and `filter`. */
export interface ReconfigureBody {
  session?: Tuple;
  /** Every session whose tuple matches all the fields given (at least one). */
  filter?: Partial<Tuple>;
  /** The agent at the segment's right end. */
  rightAnchor: string;
  /** The new middleboxes between the anchors, left to right; empty removes the ones there are. */
  via: string[];
  /** Move the middlebox state of each session from the one old middlebox to the one in `via` first (default false). */
  transferState?: boolean;
  /** How long the answer waits for the runs to end (default RECONFIGURE_TIMEOUT_DEFAULT_MS). */
  timeoutMs?: number;
}

/** A validated ReconfigureBody: addresses as host-order numbers. */
export interface ReconfigureCommand {
  session?: { srcIp: number; dstIp: number; srcPort: number; dstPort: number };
  filter?: { srcIp?: number; dstIp?: number; srcPort?: number; dstPort?: number };
  rightAnchor: number;
  via: number[];
  transferState: boolean;
  timeoutMs: number;
}

/**
 * POST /v1/migrate, run at the agent of the middlebox that the sessions leave: every session through it that
 * matches `filter` (all of them without one) moves to the middlebox `to`, state and all unless transferState is
 * false. The answer is NDJSON, one MigrateLine per line: start, a result per session as it ends, the summary.
 */
export interface MigrateBody {
  /** This agent's address, when given: a check that the request reached the middlebox it means. */
  from?: string;
  to: string;
  filter?: Partial<Tuple>;
  transferState?: boolean;
  timeoutMs?: number;
  /** Sessions moving at once, the next started as one ends (default: all of them at once). */
  concurrency?: number;
}

export interface MigrateCommand {
  from?: number;
  to: number;
  filter?: { srcIp?: number; dstIp?: number; srcPort?: number; dstPort?: number };
  transferState: boolean;
  timeoutMs: number;
  concurrency?: number;
}

/** The most sessions a migration may move at once when the request bounds it. */
export const MIGRATE_CONCURRENCY_MAX = 100_000;

export interface MigrationSessionResult {
  session: Tuple;
  outcome: ReconfigureOutcome;
  /** Failed: a FailureReason of src/reconfig/outcome.ts, the left neighbour's refusal, or unreachable. */
  reason?: string;
  /** The left anchor's own time for the run, state transfer included: start to the old path's end. */
  durationMs?: number;
  /** From the start to the left anchor's switch: its new data went on the new path from then on. */
  switchedMs?: number;
  /** From this agent's request to the left anchor's answer. */
  roundTripMs: number;
}

export interface MigrationSummary {
  sessions: number;
  completed: number;
  failed: number;
  unfinished: number;
  /** From the request to the last answer. */
  totalMs: number;
  /** Over the completed sessions' durationMs. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Over the completed sessions' switchedMs: until their traffic moved. */
  switchP50Ms: number | null;
  switchP99Ms: number | null;
  /** Failed and unfinished sessions by reason. */
  reasons: Record<string, number>;
}

export type MigrateLine = { start: { from: string; to: string; sessions: number } } | { result: MigrationSessionResult } | { summary: MigrationSummary };

export interface MigrateEvents {
  start(sessions: number): void;
  result(result: MigrationSessionResult): void;
}

export type ReconfigureOutcome = 'completed' | 'failed' | 'unfinished';

export interface ReconfigureSessionResult {
  session: Tuple;
  sessionId?: number;
  /** The reconfiguration's nonce (its id with the left anchor's address). */
  nonce?: number;
  outcome: ReconfigureOutcome;
  /** Failed: a FailureReason of src/reconfig/outcome.ts, a refusal at the start, or session_ended. */
  reason?: string;
  durationMs: number;
  /** From the start: the left anchor asked its datapath for the new path's first SYN. */
  newPathSynMs?: number;
  /** From the start: the left anchor switched: its first data went on the new path. */
  switchedMs?: number;
}

export interface ReconfigureResponse {
  results: ReconfigureSessionResult[];
}

/** What the API needs of the agent to reconfigure; absent when reconfiguration is off. */
export interface Reconfigurer {
  /** This agent's address, dotted. */
  readonly self: string;
  reconfigure(command: ReconfigureCommand): Promise<ReconfigureSessionResult[]>;
  migrate(command: MigrateCommand, events: MigrateEvents): Promise<MigrationSessionResult[]>;
}

export const RECONFIGURE_TIMEOUT_DEFAULT_MS = 60_000;
export const RECONFIGURE_TIMEOUT_MAX_MS = 600_000;
/** native/core/address_list.h kMaxAddressListHops, less the right anchor. */
export const RECONFIGURE_VIA_MAX = 31;
