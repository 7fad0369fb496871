// The messages of the reconfiguration protocol (../shared/design/PROTOCOL.md, "Reconfiguration") as the state
// machines of src/reconfig see them. src/control encodes them on the wire (docs/wire-format.md) and delivers them
// hop by hop between neighbouring agents; this file is the vocabulary both sides share.
//
// Addresses are host-order IPv4 numbers, as everywhere in TypeScript. A session is named end to end by its
// session tuple as the left side of the path named it (the address list's session); each hop also names the
// subsession the message travels on, as the sender sends it.

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

export type NackReason =
  | 'locked' // the subsession is already locked for another reconfiguration
  | 'not_anchor' // the far endpoint was reached and is not the wanted right anchor
  | 'contention' // a held request whose own, overlapping request succeeded
  | 'unknown_session' // no such session (any more) at this agent
  | 'delta_not_fixed' // a middlebox in the segment whose sequence-number delta may still change
  | 'canceled'; // the reconfiguration was canceled before this request reached the agent

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

export type ReconfigMessage = RequestLock | AckLock | NackLock | CancelLock | AckCancel | RightRequest | Teardown;
export type ReconfigMessageType = ReconfigMessage['type'];

export const RECONFIG_MESSAGE_TYPES: readonly ReconfigMessageType[] = [
  'requestLock',
  'ackLock',
  'nackLock',
  'cancelLock',
  'ackCancel',
  'rightRequest',
  'teardown',
];
