// The right anchor of one reconfiguration (PROTOCOL.md, "Anchors"): Requested (ackLock sent, the datapath told to
// expect the new path) → Waiting (its lcore answered the new path's SYN) → TwoPaths (the ACK came and the lcore
// switched) → Done, or Canceled when the left anchor cancels before TwoPaths.
import type { ReconfigId, SeqDelta, Tuple } from './messages';
import type { DatapathCommand } from './datapath-io';
import type { AnchorStatus, AnchorStep } from './left-anchor';

export type RightAnchorState = 'Requested' | 'Waiting' | 'TwoPaths' | 'Done' | 'Canceled';

export type RightAnchorEffect =
  | { effect: 'sendAckLock' }
  | { effect: 'sendAckCancel' }
  | { effect: 'sendTeardown' }
  | { effect: 'datapath'; command: DatapathCommand }
  | { effect: 'finished' };

const step = (status: AnchorStatus, effects: RightAnchorEffect[] = []): AnchorStep<RightAnchorEffect> => ({ status, effects });

export class RightAnchor {
  private current: RightAnchorState = 'Requested';

  /** `delta`: the segment's delta as requestLock accumulated it. */
  constructor(
    readonly id: ReconfigId,
    readonly session: Tuple,
    readonly delta: SeqDelta,
  ) {}

  get state(): RightAnchorState {
    return this.current;
  }

  get active(): boolean {
    return this.current !== 'Done' && this.current !== 'Canceled';
  }

  /** The first requestLock: the datapath must expect the new path before the ackLock lets the left anchor open it. */
  requested(): AnchorStep<RightAnchorEffect> {
    return step('handled', [this.expectNewPath(), { effect: 'sendAckLock' }]);
  }

  /** A retransmitted requestLock: the ackLock was lost, or is late. Until the SYN came, the expectation is repeated
   * too (the datapath takes it once), in case the first request did not reach the lcore. */
  requestedAgain(): AnchorStep<RightAnchorEffect> {
    if (this.current === 'Canceled') return step('duplicate');
    return step('duplicate', [...(this.current === 'Requested' ? [this.expectNewPath()] : []), { effect: 'sendAckLock' }]);
  }

  newPathSyn(): AnchorStep<RightAnchorEffect> {
    if (this.current === 'Waiting') return step('duplicate');
    if (this.current !== 'Requested') return step('stale');
    this.current = 'Waiting';
    return step('handled');
  }

  newPathAck(): AnchorStep<RightAnchorEffect> {
    if (this.current === 'TwoPaths') return step('duplicate');
    if (this.current !== 'Waiting') return step('stale');
    this.current = 'TwoPaths';
    return step('handled');
  }

  oldPathDrained(): AnchorStep<RightAnchorEffect> {
    if (this.current !== 'TwoPaths') return step(this.current === 'Done' ? 'duplicate' : 'stale');
    this.current = 'Done';
    return step('handled', [{ effect: 'sendTeardown' }, { effect: 'finished' }]);
  }

  cancelLock(): AnchorStep<RightAnchorEffect> {
    if (this.current === 'Canceled') return step('duplicate', [{ effect: 'sendAckCancel' }]);
    // Past the handshake the left anchor is in TwoPaths too and never cancels: a late duplicate.
    if (this.current === 'TwoPaths' || this.current === 'Done') return step('stale');
    // Requested or Waiting: the datapath expects the new path, or has answered its SYN; either way it forgets it.
    this.current = 'Canceled';
    return step('handled', [
      { effect: 'datapath', command: { command: 'abandonNewPath', session: this.session, id: this.id } },
      { effect: 'sendAckCancel' },
      { effect: 'finished' },
    ]);
  }

  private expectNewPath(): RightAnchorEffect {
    return { effect: 'datapath', command: { command: 'expectNewPath', session: this.session, id: this.id, delta: this.delta } };
  }
}
