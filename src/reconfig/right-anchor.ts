// The right anchor of one reconfiguration (PROTOCOL.md, "Anchors"): Requested (ackLock sent) → Waiting (new path's
// SYN answered) → TwoPaths (its ACK seen) → Done, or Canceled when the left anchor cancels before TwoPaths.
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

  /** The first requestLock: answered by the coordinator with the ackLock this returns. */
  requested(): AnchorStep<RightAnchorEffect> {
    return step('handled', [{ effect: 'sendAckLock' }]);
  }

  /** A retransmitted requestLock: the ackLock was lost, or is late. */
  requestedAgain(): AnchorStep<RightAnchorEffect> {
    if (this.current === 'Canceled') return step('duplicate');
    return step('duplicate', [{ effect: 'sendAckLock' }]);
  }

  newPathSyn(): AnchorStep<RightAnchorEffect> {
    if (this.current === 'Waiting') return step('duplicate');
    if (this.current !== 'Requested') return step('stale');
    this.current = 'Waiting';
    return step('handled', [{ effect: 'datapath', command: { command: 'sendNewPathSynAck', session: this.session, id: this.id, delta: this.delta } }]);
  }

  newPathAck(): AnchorStep<RightAnchorEffect> {
    if (this.current === 'TwoPaths') return step('duplicate');
    if (this.current !== 'Waiting') return step('stale');
    this.current = 'TwoPaths';
    return step('handled', [{ effect: 'datapath', command: { command: 'enterTwoPaths', session: this.session, id: this.id } }]);
  }

  oldPathDrained(): AnchorStep<RightAnchorEffect> {
    if (this.current !== 'TwoPaths') return step(this.current === 'Done' ? 'duplicate' : 'stale');
    this.current = 'Done';
    return step('handled', [
      { effect: 'sendTeardown' },
      { effect: 'datapath', command: { command: 'foldNewPath', session: this.session, id: this.id } },
      { effect: 'finished' },
    ]);
  }

  cancelLock(): AnchorStep<RightAnchorEffect> {
    if (this.current === 'Canceled') return step('duplicate', [{ effect: 'sendAckCancel' }]);
    // Past the handshake the left anchor is in TwoPaths too and never cancels: a late duplicate.
    if (this.current === 'TwoPaths' || this.current === 'Done') return step('stale');
    const halfOpen = this.current === 'Waiting';
    this.current = 'Canceled';
    return step('handled', [
      ...(halfOpen ? [{ effect: 'datapath' as const, command: { command: 'abandonNewPath' as const, session: this.session, id: this.id } }] : []),
      { effect: 'sendAckCancel' },
      { effect: 'finished' },
    ]);
  }
}
