// What the reconfiguration machines ask of the datapath, and what the datapath tells them. The new path is set up
// by a real TCP handshake on the new subsessions (syn / synAck / ack), made by the anchors' datapaths.
import type { ReconfigId, SeqDelta, Tuple } from './messages';

export type DatapathCommand =
  /** Left anchor: open the new path with a SYN through `hops` (the new middleboxes, then the right anchor). */
  | { command: 'sendNewPathSyn'; session: Tuple; id: ReconfigId; hops: number[]; delta: SeqDelta }
  /** Right anchor: answer the new path's SYN. */
  | { command: 'sendNewPathSynAck'; session: Tuple; id: ReconfigId; delta: SeqDelta }
  /** Left anchor: complete the new path's handshake. */
  | { command: 'sendNewPathAck'; session: Tuple; id: ReconfigId }
  /** Take the cutoffs (oldSent, oldRcvd) now and run both paths. */
  | { command: 'enterTwoPaths'; session: Tuple; id: ReconfigId }
  /** Fold the new path's delta and addresses into one-path state and forget the old path. */
  | { command: 'foldNewPath'; session: Tuple; id: ReconfigId }
  /** Forget a half-made new path; the session stays on the old one. */
  | { command: 'abandonNewPath'; session: Tuple; id: ReconfigId }
  /** A middlebox of an old path: retire the session's state here. */
  | { command: 'retireSession'; session: Tuple };

export type AnchorRole = 'left' | 'right';

export type DatapathInput =
  /** Right anchor: the new path's SYN arrived; `newSubsession` is the new hop to the left, as this agent sends it. */
  | { event: 'newPathSyn'; session: Tuple; newSubsession: Tuple }
  /** Left anchor: the new path's SYN-ACK arrived; `newSubsession` is the new hop to the right, as this agent sends it. */
  | { event: 'newPathSynAck'; session: Tuple; newSubsession: Tuple }
  /** Right anchor: the new path's handshake ACK arrived. */
  | { event: 'newPathAck'; session: Tuple }
  /** Left anchor: the new path could not be set up (SYN or SYN-ACK lost past retries, a new middlebox down). */
  | { event: 'newPathFailed'; session: Tuple }
  /** An anchor's old path is finished: everything sent and received on it acknowledged. */
  | { event: 'oldPathDrained'; session: Tuple; role: AnchorRole };
