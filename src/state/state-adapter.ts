// How reconfiguration moves a middlebox's per-session state between two instances (PROTOCOL.md, "State transfer"):
// export the moving sessions' state on the old instance's host, import it on the new one's, and read it back there.
// One adapter per kind of middlebox: Linux conntrack (conntrack-adapter.ts), or commands the operator configures
// for software we do not know. Firewall rules, NAT rules and the like are configuration, not session state: they
// must already be the same on both instances, and no adapter moves them.
import type { Tuple } from '../reconfig/messages';

/** One session's state as the old instance holds it: opaque bytes the new instance's adapter understands. */
export interface StateBlob {
  /** the connection as the middlebox host's stack sees it, in its original direction */
  tuple: Tuple;
  bytes: Buffer;
}

export type ExportOutcome = { tuple: Tuple; ok: true; blob: StateBlob } | { tuple: Tuple; ok: false; reason: StateFailure };
export type ImportOutcome = { tuple: Tuple | undefined; ok: true } | { tuple: Tuple | undefined; ok: false; reason: StateFailure };

/** Why a session's state did not move. */
export type StateFailure =
  | 'not_found' // the old instance holds no state for the session
  | 'exists' // the new instance holds state for it already
  | 'malformed' // bytes that are no state of this adapter's kind
  | 'not_verified' // imported, but what reads back differs from what was exported
  | 'failed'; // the middlebox refused, with the detail in the log

export interface StateAdapter {
  readonly kind: string;
  /** The state of these sessions, in their order; a failure of the whole conversation rejects. */
  exportState(tuples: readonly Tuple[]): Promise<ExportOutcome[]>;
  /** Imports and reads each back; a failure of the whole conversation rejects. */
  importState(blobs: readonly StateBlob[]): Promise<ImportOutcome[]>;
  /** Forgets these sessions' state (after they moved away, or to undo an import). */
  deleteState(tuples: readonly Tuple[]): Promise<void>;
}
