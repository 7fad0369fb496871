import type { NackReason } from './messages';

/** Why a reconfiguration ended without a new path: a refusal on the old path, or a failure of its own. */
export type FailureReason =
  | NackReason
  | 'lock_timeout' // requestLock unanswered after every retry
  | 'new_path_failed' // the datapath reported the new path's handshake failed or timed out
  | 'setup_timeout'; // no word from the datapath about the new path in time

export type Outcome = { result: 'completed' } | { result: 'failed'; reason: FailureReason };
