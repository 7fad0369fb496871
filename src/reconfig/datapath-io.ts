// What the reconfiguration machines ask of the datapath, and what the datapath tells them. The anchors' lcores make
// the new path's TCP handshake themselves (SYN, SYN-ACK, ACK with random initial sequence numbers), take the
// cutoffs at the instant of the switch and fold the new path in once the old one is drained; the machines only
// start and stop that work and hear how it went.
import type { ReconfigId, SeqDelta, Tuple } from './messages';

export type DatapathCommand =
  /** Left anchor: send the new path's SYN through `hops` (the new middleboxes, then the right anchor). A repeat
   * with the same id sends the same SYN again. */
  | { command: 'openNewPath'; session: Tuple; id: ReconfigId; hops: number[]; delta: SeqDelta }
  /** Right anchor: answer the new path's SYN that carries this id when it comes. Idempotent. */
  | { command: 'expectNewPath'; session: Tuple; id: ReconfigId; delta: SeqDelta }
  /** Forget a new path that carries no data yet; the session stays on the old one. `confirm`: the left anchor
   * waits for the answer, newPathAbandoned, newPathInUse (the lcore had switched) or newPathAnswered (the
   * handshake was answered and its ACK sent: the right anchor may have switched, so the path is kept). */
  | { command: 'abandonNewPath'; session: Tuple; id: ReconfigId; confirm?: boolean }
  /** A middlebox of an old path: retire the session's state here. */
  | { command: 'retireSession'; session: Tuple };

export type AnchorRole = 'left' | 'right';

export type DatapathInput =
  /** Right anchor: the new path's SYN arrived and the lcore answered it; `newSubsession` is the new hop to the left,
   * as this agent sends it. */
  | { event: 'newPathSyn'; session: Tuple; newSubsession: Tuple }
  /** Left anchor: the SYN-ACK arrived, the lcore sent the ACK and runs two paths; `newSubsession` is the new hop to
   * the right, as this agent sends it. */
  | { event: 'newPathSynAck'; session: Tuple; newSubsession: Tuple }
  /** Right anchor: the new path's handshake ACK arrived and the lcore runs two paths. */
  | { event: 'newPathAck'; session: Tuple }
  /** Either anchor's lcore switched to two paths on `newSubsession` (two_paths_entered): the coordinator routes it
   * to the right anchor when it is the subsession that anchor's SYN came on, else to the left anchor. */
  | { event: 'twoPathsEntered'; session: Tuple; newSubsession: Tuple }
  /** Left anchor: the new path could not be set up (a RST answered its handshake). */
  | { event: 'newPathFailed'; session: Tuple }
  /** An anchor's old path is finished and the lcore has folded the new path in. */
  | { event: 'oldPathDrained'; session: Tuple; role: AnchorRole }
  /** Left anchor: the lcore answered a confirmed abandonNewPath: given up (abandoned), in use (it had switched), or
   * kept because its handshake was answered (answered). */
  | { event: 'newPathAbandoned'; session: Tuple }
  | { event: 'newPathInUse'; session: Tuple }
  | { event: 'newPathAnswered'; session: Tuple };
