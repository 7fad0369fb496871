// The messages of the reconfiguration protocol (../shared/design/PROTOCOL.md, "Reconfiguration") as the state
// machines of src/reconfig see them. src/control encodes them on the wire (docs/wire-format.md) and delivers them
// hop by hop between neighbouring agents; this file is the vocabulary both sides share.
//
// Addresses are host-order IPv4 numbers, as everywhere in TypeScript. A session is named end to end by its
// session tuple as the left side of the path named it (the address list's session); each hop also names the
// subsession the message travels on, as the sender sends it; the few messages that go straight to an agent by its
// address (state transfer, a migration's result) name no subsession.
import type { MigrateFailure, NackReason, StateTransferFailure } from './outcome';

export type { MigrateFailure, NackReason, StateTransferFailure } from './outcome';

export interface Tuple {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

/** One reconfiguration: the left anchor that runs it and a number it never reuses for this session. */
export interface ReconfigId {
  leftAnchor: number;
  nonce: number;
}

/**
 * Sequence-number deltas accumulated hop by hop over the locked segment (mod 2^32): what a middlebox in the
 * segment adds to the sequence numbers of each direction (a proxy's two connections, a box that changed the
 * stream's length). `forward` is the initiator → responder direction.
 */
export interface SeqDelta {
  forward: number;
  reverse: number;
}

interface Addressed {
  id: ReconfigId;
  session: Tuple;
  /** The subsession this message travels on, as its sender sends it. */
  subsession: Tuple;
}

/** Left anchor → right, along the old path: lock the segment up to `rightAnchor`. */
export interface RequestLock extends Addressed {
  type: 'requestLock';
  rightAnchor: number;
  delta: SeqDelta;
}

/** Right anchor → left, back along the old path: the segment is locked. */
export interface AckLock extends Addressed {
  type: 'ackLock';
  rightAnchor: number;
  delta: SeqDelta;
}

export interface NackLock extends Addressed {
  type: 'nackLock';
  reason: NackReason;
}

/** Left anchor → right, after a failed new path: undo the locks; the session stays on the old path. */
export interface CancelLock extends Addressed {
  type: 'cancelLock';
}

export interface AckCancel extends Addressed {
  type: 'ackCancel';
}

/**
 * Right → left: a middlebox that removes itself (or a right endpoint that moved) asks its left neighbour to run
 * the reconfiguration as left anchor. `rightAnchor` is the agent to its right that becomes the new neighbour.
 */
export interface RightRequest {
  type: 'rightRequest';
  session: Tuple;
  subsession: Tuple;
  rightAnchor: number;
}

/** After completion, along the old path: retire this session's state (the idle timeout is the fallback). */
export interface Teardown {
  type: 'teardown';
  id: ReconfigId;
  session: Tuple;
  subsession: Tuple;
}

/**
 * Right → left: a middlebox hands the session over to another instance of itself. Its left neighbour runs the
 * replacement as left anchor, up to `rightAnchor` (the asker's right neighbour), with `replacement` as the one new
 * middlebox, moving the asker's state for the session first when `transferState` is set; it answers migrateResult.
 */
export interface MigrateRequest {
  type: 'migrateRequest';
  session: Tuple;
  subsession: Tuple;
  rightAnchor: number;
  replacement: number;
  transferState: boolean;
}

/** Left anchor → the agent whose migrateRequest it ran, by address: how the run ended and how long it took there. */
export interface MigrateResult {
  type: 'migrateResult';
  id: ReconfigId;
  session: Tuple;
  outcome: 'completed' | MigrateFailure;
  /** From the left anchor's start to its end, microseconds (saturating at 2^32 - 1). */
  durationUs: number;
  /** From its start to its switch to the new path, microseconds; 0 when it did not switch. */
  switchedUs: number;
}

/** Left anchor → the old middlebox, on the locked segment's first subsession: send your state of the session to `to`. */
export interface MoveState extends Addressed {
  type: 'moveState';
  to: number;
}

/**
 * Old middlebox → new middlebox, by address: one part of the session's state, as the old instance's adapter
 * exported it for `tuple` (the connection as that host's stack sees it). Parts go in order, `part` of `parts`.
 */
export interface StateChunk {
  type: 'stateChunk';
  id: ReconfigId;
  session: Tuple;
  tuple: Tuple;
  part: number;
  parts: number;
  bytes: Buffer;
}

/** New middlebox (or the old one, when it could not export) → left anchor, by address: the state is in place, or why not. */
export interface StateResult {
  type: 'stateResult';
  id: ReconfigId;
  session: Tuple;
  result: 'ok' | StateTransferFailure;
}

/** Left anchor → new middlebox, by address: the reconfiguration was canceled; forget the state imported for it. */
export interface DropState {
  type: 'dropState';
  id: ReconfigId;
  session: Tuple;
}

/**
 * Left anchor → new middlebox, by address, with its moveState: the state of the session (by the old instance's name
 * for it) comes from `from` for this run. The new instance imports only state announced so (docs/security.md).
 */
export interface ExpectState {
  type: 'expectState';
  id: ReconfigId;
  session: Tuple;
  from: number;
}

export type ReconfigMessage =
  | RequestLock
  | AckLock
  | NackLock
  | CancelLock
  | AckCancel
  | RightRequest
  | Teardown
  | MigrateRequest
  | MigrateResult
  | MoveState
  | StateChunk
  | StateResult
  | DropState
  | ExpectState;
export type ReconfigMessageType = ReconfigMessage['type'];

export const RECONFIG_MESSAGE_TYPES: readonly ReconfigMessageType[] = [
  'requestLock',
  'ackLock',
  'nackLock',
  'cancelLock',
  'ackCancel',
  'rightRequest',
  'teardown',
  'migrateRequest',
  'migrateResult',
  'moveState',
  'stateChunk',
  'stateResult',
  'dropState',
  'expectState',
];

/** Messages addressed to an agent by its address rather than to a neighbour along a subsession. */
export type DirectMessage = MigrateResult | StateChunk | StateResult | DropState | ExpectState;
export const DIRECT_MESSAGE_TYPES: readonly DirectMessage['type'][] = ['migrateResult', 'stateChunk', 'stateResult', 'dropState', 'expectState'];
export const isDirectMessage = (m: ReconfigMessage): m is DirectMessage => (DIRECT_MESSAGE_TYPES as readonly string[]).includes(m.type);
