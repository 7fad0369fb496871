// The events the datapath posts besides request completions (native/core/events.def), as the addon
// hands them to JavaScript: a discriminated union on `type`.
import type { EventLabel, SessionRoleName, TeardownCauseName } from './generated/codes';

/** A UDP datagram from the wire to this host's control port. Addresses are host-order numbers. */
export interface ControlPacketEvent {
  type: 'control_packet';
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export interface SessionEstablishedEvent {
  type: 'session_established';
  sessionId: number;
  role: SessionRoleName;
}

export interface SessionEndedEvent {
  type: 'session_ended';
  sessionId: number;
  role: SessionRoleName;
  cause: TeardownCauseName;
}

/** A new subsession of a reconfiguration, as this agent sends it (host-order numbers). */
export interface NewSubsession {
  neighbourIp: number;
  localPort: number;
  neighbourPort: number;
}

/** Right anchor: the new path's SYN arrived and the lcore answered it. */
export interface NewPathAnsweredEvent {
  type: 'new_path_answered';
  sessionId: number;
  subsession: NewSubsession;
}

/** An anchor took its cutoffs: new data of its host goes on the new path from here. */
export interface TwoPathsEnteredEvent {
  type: 'two_paths_entered';
  sessionId: number;
  subsession: NewSubsession;
}

/** 'right': the session's right side doubled (this agent is the left anchor); 'left': the right anchor. */
export type AnchorSideName = 'right' | 'left';

/** The old path is drained and the new one folded into the session. */
export interface OldPathDrainedEvent {
  type: 'old_path_drained';
  sessionId: number;
  side: AnchorSideName;
}

/** A RST answered the new path's handshake; the session stays on its old path. */
export interface NewPathRefusedEvent {
  type: 'new_path_refused';
  sessionId: number;
  side: AnchorSideName;
}

export type DatapathEvent =
  | ControlPacketEvent
  | SessionEstablishedEvent
  | SessionEndedEvent
  | NewPathAnsweredEvent
  | TwoPathsEnteredEvent
  | OldPathDrainedEvent
  | NewPathRefusedEvent;
export type DatapathEventType = DatapathEvent['type'];

// Fails to compile when events.def gains an event this union does not describe (or loses one it does).
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const EVERY_EVENT_DESCRIBED: Exact<Exclude<EventLabel, 'request_done'>, DatapathEventType> = true;

/** What the control plane hands the lcore to send: a UDP payload from this host's address. */
export interface TransmitSpec {
  /** Host-order IPv4 number. */
  dstIp: number;
  dstPort: number;
  srcPort: number;
  /** At most 1472 bytes (one unfragmented datagram on a 1500-byte link) and the link MTU - 28. */
  payload: Buffer;
}

export const CONTROL_PAYLOAD_MAX = 1472;
/** native/core/control_packet_pool.h kControlPacketSlots: control datagrams the lcore holds for the control plane at once. */
export const CONTROL_PACKET_SLOTS = 1024;

/** What OpenNewPath (left anchor) and ExpectNewPath (right anchor) hand the lcore (core/reconfig_requests.h). */
export interface NewPathSpec {
  /** The datapath's session id (from session dumps). */
  sessionId: number;
  /** The session on the doubling side, forward direction: checked against the record. */
  hostTuple: { srcIp: number; dstIp: number; srcPort: number; dstPort: number };
  side: AnchorSideName;
  /** The reconfiguration's nonce (u32): the new path's SYN carries it. */
  nonce: number;
  /** The old segment's sequence-number delta per direction (mod 2^32). */
  delta: { forward: number; reverse: number };
  /** OpenNewPath: the new middleboxes, then the right anchor (host-order IPv4); ExpectNewPath: []. */
  hops: number[];
}
