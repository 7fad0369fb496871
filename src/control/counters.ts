// What the control channel counts, by frame type: labels stay bounded (a type, an outcome, a reason; never an
// address). `unknown` is the type of a datagram rejected before its type could be read.
import { DECODE_ERRORS, FRAME_AUTH_FAILURES, FRAME_TYPE_NAMES, type FrameTypeName } from './codec';

export const REJECT_REASONS = [
  ...DECODE_ERRORS,
  ...FRAME_AUTH_FAILURES, // sealed frames that did not open, and unsealed ones where seals are required
  'rate_limited', // a datagram over its peer's allowance, refused unread
  'stale_epoch', // from an earlier incarnation of the peer's channel, or an ack for an earlier one of ours
  'stale_seq', // older than the duplicate window
  'unexpected_ack', // an ack for nothing outstanding (already acked, given up, or never sent)
  'too_many_peers', // a new peer while the receiver already tracks MAX_PEERS
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const DELIVERY_FAILURE_REASONS = ['retries_exhausted', 'queue_full'] as const;
export type DeliveryFailureReason = (typeof DELIVERY_FAILURE_REASONS)[number];

export const COUNTED_TYPES = [...FRAME_TYPE_NAMES, 'unknown'] as const;
export type CountedType = (typeof COUNTED_TYPES)[number];

/** Outcomes of frames of one type. `received` counts messages delivered once and acks that settled a message. */
export const FRAME_OUTCOMES = ['sent', 'retransmitted', 'received', 'duplicate', 'delivery_failed', 'transmit_error'] as const;
export type FrameOutcome = (typeof FRAME_OUTCOMES)[number];

export interface ControlCountersSnapshot {
  frames: Record<CountedType, Record<FrameOutcome, number>>;
  rejected: Record<CountedType, Record<RejectReason, number>>;
  deliveryFailures: Record<DeliveryFailureReason, number>;
}

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

export class ControlCounters {
  private readonly frames = Object.fromEntries(COUNTED_TYPES.map((t) => [t, zeros(FRAME_OUTCOMES)])) as Record<
    CountedType,
    Record<FrameOutcome, number>
  >;
  private readonly rejected = Object.fromEntries(COUNTED_TYPES.map((t) => [t, zeros(REJECT_REASONS)])) as Record<
    CountedType,
    Record<RejectReason, number>
  >;
  private readonly failures = zeros(DELIVERY_FAILURE_REASONS);

  count(type: FrameTypeName, outcome: FrameOutcome): void {
    this.frames[type][outcome] += 1;
  }

  reject(type: CountedType, reason: RejectReason): void {
    this.rejected[type][reason] += 1;
  }

  fail(type: FrameTypeName, reason: DeliveryFailureReason): void {
    this.frames[type].delivery_failed += 1;
    this.failures[reason] += 1;
  }

  /** A copy: later counting does not change it. */
  snapshot(): ControlCountersSnapshot {
    const copy = <T extends Record<string, Record<string, number>>>(table: T): T =>
      Object.fromEntries(Object.entries(table).map(([k, v]) => [k, { ...v }])) as T;
    return { frames: copy(this.frames), rejected: copy(this.rejected), deliveryFailures: { ...this.failures } };
  }
}
