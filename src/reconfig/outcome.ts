// Reasons and outcomes: why a lock was refused, why state did not move, why a reconfiguration or a migration failed.

export type NackReason =
  | 'locked' // the subsession is already locked for another reconfiguration
  | 'not_anchor' // the far endpoint was reached and is not the wanted right anchor
  | 'contention' // a held request whose own, overlapping request succeeded
  | 'unknown_session' // no such session (any more) at this agent
  | 'delta_not_fixed' // a middlebox in the segment whose sequence-number delta may still change
  | 'canceled'; // the reconfiguration was canceled before this request reached the agent

/** Why a session's state did not reach the new instance (the adapters' reasons, and the transfer's own). */
export type StateTransferFailure =
  | 'not_found' // the old instance holds no state for the session
  | 'exists' // the new instance holds state for it already
  | 'malformed' // bytes that are no state of the new instance's kind
  | 'not_verified' // imported, but what reads back differs (the import is undone)
  | 'failed' // an adapter or its middlebox refused, detail in that agent's log
  | 'no_adapter' // an agent asked to export or import has no state adapter configured
  | 'unreachable'; // the old instance's host could not deliver the state to the new one's

/** Why a reconfiguration ended without a new path: a refusal on the old path, or a failure of its own. */
export type FailureReason =
  | NackReason
  | 'lock_timeout' // requestLock unanswered after every retry
  | 'unreachable' // the control channel gave up on the requestLock to the next agent
  | 'new_path_failed' // a RST answered the new path's handshake
  | 'setup_timeout' // no SYN-ACK on the new path in time, its SYN sent again and again
  | `state_${StateTransferFailure}` // the old instance's state did not reach the new one
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

/** Why a session did not migrate: the run's failure, or why it could not start (a coordinator's refusal). */
export type MigrateFailure = FailureReason | 'busy' | 'no_neighbour' | 'invalid' | 'unknown_session' | 'unknown_subsession' | 'wrong_direction' | 'stale' | 'not_on_path';
