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

export type DatapathEvent = ControlPacketEvent | SessionEstablishedEvent | SessionEndedEvent;
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
