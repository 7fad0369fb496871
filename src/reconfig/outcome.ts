import type { NackReason, StateTransferFailure } from './messages';

/** Why a reconfiguration ended without a new path: a refusal on the old path, or a failure of its own. */
export type FailureReason =
  | NackReason
  | 'lock_timeout' // requestLock unanswered after every retry
  | 'unreachable' // the control channel gave up on the requestLock to the next agent
  | 'new_path_failed' // a RST answered the new path's handshake
  | 'setup_timeout' // no SYN-ACK on the new path in time, its SYN sent again and again
  | `state_${StateTransferFailure}` // the old instance's state did not reach the new one (messages.ts)
  | 'state_timeout'; // no word on the state transfer in time

export type Outcome = { result: 'completed' } | { result: 'failed'; reason: FailureReason };

const EVERY_FAILURE_REASON: Record<FailureReason, true> = {
  locked: true,
  not_anchor: true,
  contention: true,
  unknown_session: true,
  delta_not_fixed: true,
  canceled: true,
  lock_timeout: true,
  unreachable: true,
  new_path_failed: true,
  setup_timeout: true,
  state_not_found: true,
  state_exists: true,
  state_malformed: true,
  state_not_verified: true,
  state_failed: true,
  state_no_adapter: true,
  state_unreachable: true,
  state_timeout: true,
};

/** Every FailureReason, for bounded metric labels. */
export const FAILURE_REASONS = Object.freeze(Object.keys(EVERY_FAILURE_REASON) as FailureReason[]);
