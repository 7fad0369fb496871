// The left anchor of one reconfiguration (PROTOCOL.md, "Anchors"): Requesting → SettingUp → TwoPaths → Done, or
// Canceling → Done when the new path fails or requestLock stays unanswered (through Abandoning, when the new path's
// SYN went out: the lcore must confirm it never switched before the old path's locks are undone; one whose
// handshake was answered keeps the path, Committed, since the right anchor may have switched on the handshake's
// ACK: model/twopaths.pml, SETUP_TIMEOUT). A reconfiguration that moves a
// middlebox's state asks for it with the lock (docs/state-transfer.md): moveState follows requestLock to the old
// instance, which sends its state of the session to the new one while the lock travels on. Only the lock and the
// new instance's word that the state is in place open the new path (MovingState waits for the word when the lock
// came first); any other word, or none in time, cancels, and the new instance is told to drop what it took. It retransmits requestLock and
// cancelLock on timeouts with doubling waits and a bounded number of tries, and has its datapath resend the new
// path's SYN (doubling waits too) until the lcore reports two paths or the set-up time is spent. Time enters only
// as timeout inputs.
import type { NackReason, ReconfigId, SeqDelta, StateTransferFailure, Tuple } from './messages';
import type { DatapathCommand } from './datapath-io';
import type { FailureReason, Outcome } from './outcome';

export type LeftAnchorState = 'Requesting' | 'MovingState' | 'SettingUp' | 'Committed' | 'TwoPaths' | 'Abandoning' | 'Canceling' | 'Done';

export interface LeftAnchorTiming {
  requestTimeoutMs: number;
  maxRequestTries: number;
  /** How long SettingUp may wait for the datapath's word on the new path. */
  setupTimeoutMs: number;
  /** The first wait before the new path's SYN is sent again; each later wait doubles. */
  synRetransmitMs: number;
  cancelTimeoutMs: number;
  maxCancelTries: number;
  /** How long MovingState waits for the state's stateResult. */
  stateTimeoutMs: number;
}

export const DEFAULT_LEFT_ANCHOR_TIMING: LeftAnchorTiming = Object.freeze({
  requestTimeoutMs: 20,
  maxRequestTries: 5,
  setupTimeoutMs: 2000,
  // As the control channel's first retransmission: a SYN or SYN-ACK lost under load costs 20 ms, not 100.
  synRetransmitMs: 20,
  cancelTimeoutMs: 20,
  maxCancelTries: 5,
  stateTimeoutMs: 5000,
});

export type LeftAnchorEffect =
  | { effect: 'sendRequestLock' }
  | { effect: 'sendCancelLock' }
  /** To the old middlebox (the right neighbour on the old path): send the session's state to `state.to`. */
  | { effect: 'sendMoveState' }
  /** To the new middlebox: forget the state imported for this reconfiguration, which is canceled. */
  | { effect: 'sendDropState' }
  /** Stop trying to cancel: clear this agent's own lock whatever became of the rest. */
  | { effect: 'abandonLock' }
  /** Along the old path, once it is drained: its middleboxes may retire the session. */
  | { effect: 'sendTeardown' }
  | { effect: 'armTimer'; token: number; afterMs: number }
  | { effect: 'datapath'; command: DatapathCommand }
  | { effect: 'finished'; outcome: Outcome };

export type AnchorStatus = 'handled' | 'duplicate' | 'stale';
export interface AnchorStep<E> {
  status: AnchorStatus;
  effects: E[];
}

export interface LeftAnchorParams {
  id: ReconfigId;
  session: Tuple;
  rightAnchor: number;
  /** The new middleboxes between the anchors, left to right; empty removes the segment's middleboxes. */
  newHops: readonly number[];
  /** Move the state of the session from the old middlebox `from` (this agent's right neighbour) to the new one `to`. */
  state?: { from: number; to: number };
  timing: LeftAnchorTiming;
}

const step = (status: AnchorStatus, effects: LeftAnchorEffect[] = []): AnchorStep<LeftAnchorEffect> => ({ status, effects });

export class LeftAnchor {
  private current: LeftAnchorState = 'Requesting';
  private tries = 0;
  /** SettingUp: time waited for the new path so far, and the wait now armed. */
  private setupWaited = 0;
  private setupWait = 0;
  private timerToken = 0;
  private failure: FailureReason | undefined;
  private segmentDelta: SeqDelta | undefined;
  private result: Outcome | undefined;
  /** The new middlebox may hold state for this run: a cancel must tell it to drop it. */
  private stateMayBeImported = false;
  /** The new middlebox's word on the state, when it came before the lock. */
  private earlyStateResult: 'ok' | StateTransferFailure | undefined;

  constructor(readonly params: LeftAnchorParams) {}

  get id(): ReconfigId {
    return this.params.id;
  }
  get state(): LeftAnchorState {
    return this.current;
  }
  get outcome(): Outcome | undefined {
    return this.result;
  }
  /** The delta of the locked segment, as the ackLock brought it. */
  get delta(): SeqDelta | undefined {
    return this.segmentDelta;
  }

  start(): AnchorStep<LeftAnchorEffect> {
    if (this.tries > 0) return step('duplicate');
    this.tries = 1;
    // The state moves while the lock travels: moveState goes after requestLock on the same subsession, so the old
    // instance has the request (lockPending) when it is asked.
    if (this.params.state) this.stateMayBeImported = true;
    return step('handled', [
      { effect: 'sendRequestLock' },
      ...(this.params.state ? [{ effect: 'sendMoveState' as const }] : []),
      this.arm(this.params.timing.requestTimeoutMs),
    ]);
  }

  ackLock(delta: SeqDelta): AnchorStep<LeftAnchorEffect> {
    if (this.current !== 'Requesting') return step('duplicate');
    this.segmentDelta = delta;
    if (this.params.state) {
      const early = this.earlyStateResult;
      if (early === undefined) {
        this.current = 'MovingState';
        return step('handled', [this.arm(this.params.timing.stateTimeoutMs)]);
      }
      if (early !== 'ok') return step('handled', this.stateFailed(early));
    }
    return step('handled', this.beginSetup());
  }

  /** The new middlebox's word on the state (or the old one's, when it had none to send). */
  stateResult(result: 'ok' | StateTransferFailure): AnchorStep<LeftAnchorEffect> {
    if (!this.params.state) return step('stale');
    if (this.current === 'Requesting') {
      // Before the lock: kept until the lock's answer (a failure cancels only once the lock is in place or refused).
      if (this.earlyStateResult !== undefined) return step('duplicate');
      this.earlyStateResult = result;
      if (result !== 'ok') this.stateMayBeImported = false;
      return step('handled');
    }
    if (this.current !== 'MovingState') return step('duplicate');
    if (result === 'ok') return step('handled', this.beginSetup());
    return step('handled', this.stateFailed(result));
  }

  private stateFailed(result: StateTransferFailure): LeftAnchorEffect[] {
    // Nothing of this run is left at the new middlebox: it undoes an import that did not read back.
    this.stateMayBeImported = false;
    return this.beginCancel(`state_${result}`, false);
  }

  nackLock(reason: NackReason): AnchorStep<LeftAnchorEffect> {
    if (this.current !== 'Requesting') return step('duplicate');
    this.disarm();
    return step('handled', [...(this.stateMayBeImported ? [{ effect: 'sendDropState' as const }] : []), this.finish({ result: 'failed', reason })]);
  }

  newPathSynAck(): AnchorStep<LeftAnchorEffect> {
    if (this.current === 'TwoPaths') return step('duplicate');
    // Abandoning: the lcore switched before the abandon reached it; its answer will say so (newPathInUse).
    // Committed: the right anchor's announcement came, as it had to.
    if (this.current !== 'SettingUp' && this.current !== 'Abandoning' && this.current !== 'Committed') return step('stale');
    // The lcore sent the handshake's ACK and took the cutoffs itself.
    this.current = 'TwoPaths';
    this.disarm();
    return step('handled');
  }

  /** The lcore gave the new path up, never having switched to it: now the old path's locks may be undone. */
  newPathAbandoned(): AnchorStep<LeftAnchorEffect> {
    if (this.current !== 'Abandoning') return step('stale');
    return step('handled', this.cancelLocks());
  }

  /** The lcore had switched to the new path when asked to abandon it: the run goes on, on two paths. */
  newPathInUse(): AnchorStep<LeftAnchorEffect> {
    return this.abandonRefused('TwoPaths');
  }

  /**
   * The lcore kept the new path: it had the SYN-ACK and sent the handshake's ACK, on which the right anchor
   * switches. Cancelling now could leave the right anchor on two paths while this one drops the new path's data,
   * so the run is committed: the lcore switches on the right anchor's announcement (it repeats it), or the right
   * anchor, having never heard the ACK, gives the path up with a RST (newPathFailed), and then the cancel is safe.
   */
  newPathAnswered(): AnchorStep<LeftAnchorEffect> {
    return this.abandonRefused('Committed');
  }

  /** The lcore kept the new path it was asked to abandon: the run goes on in `next`, its failure forgotten. */
  private abandonRefused(next: 'TwoPaths' | 'Committed'): AnchorStep<LeftAnchorEffect> {
    if (this.current === next) return step('duplicate');
    if (this.current !== 'Abandoning') return step('stale');
    this.current = next;
    this.failure = undefined;
    return step('handled');
  }

  newPathFailed(): AnchorStep<LeftAnchorEffect> {
    // Committed: the lcore already gave the path up on the right anchor's RST, which it sends only unswitched.
    if (this.current === 'Committed') return step('handled', this.cancelFor('new_path_failed'));
    if (this.current !== 'SettingUp') return step('stale');
    return step('handled', this.beginCancel('new_path_failed', true));
  }

  oldPathDrained(): AnchorStep<LeftAnchorEffect> {
    if (this.current !== 'TwoPaths') return step(this.current === 'Done' ? 'duplicate' : 'stale');
    return step('handled', [{ effect: 'sendTeardown' }, this.finish({ result: 'completed' })]);
  }

  /**
   * The control channel gave up on a message of this reconfiguration to the next agent (no ack after every
   * retransmission): a lost requestLock cancels at once instead of waiting out the request timers; a lost
   * cancelLock ends the cancel, as its tries running out would.
   */
  deliveryFailed(type: 'requestLock' | 'cancelLock' | 'moveState'): AnchorStep<LeftAnchorEffect> {
    if (type === 'requestLock' && this.current === 'Requesting') return step('handled', this.beginCancel('unreachable', false));
    if (type === 'moveState' && this.current === 'MovingState') return step('handled', this.stateFailed('unreachable'));
    if (type === 'moveState' && this.current === 'Requesting') return this.stateResult('unreachable');
    if (type === 'cancelLock' && this.current === 'Canceling') return step('handled', [{ effect: 'abandonLock' }, this.finish({ result: 'failed', reason: this.failure! })]);
    return step('stale');
  }

  ackCancel(): AnchorStep<LeftAnchorEffect> {
    if (this.current !== 'Canceling') return step(this.current === 'Done' ? 'duplicate' : 'stale');
    this.disarm();
    return step('handled', [this.finish({ result: 'failed', reason: this.failure! })]);
  }

  timeout(token: number): AnchorStep<LeftAnchorEffect> {
    if (token !== this.timerToken) return step('stale');
    const timing = this.params.timing;
    switch (this.current) {
      case 'Requesting':
        if (this.tries < timing.maxRequestTries) {
          this.tries += 1;
          return step('handled', [{ effect: 'sendRequestLock' }, this.arm(timing.requestTimeoutMs * 2 ** (this.tries - 1))]);
        }
        // Some agents on the way may hold lockPending for it: cancel rather than leave them so.
        return step('handled', this.beginCancel('lock_timeout', false));
      case 'MovingState':
        return step('handled', this.beginCancel('state_timeout', false));
      case 'SettingUp': {
        this.setupWaited += this.setupWait;
        const left = timing.setupTimeoutMs - this.setupWaited;
        if (left <= 0) return step('handled', this.beginCancel('setup_timeout', true));
        this.setupWait = Math.min(2 * this.setupWait, left);
        return step('handled', [this.openNewPath(), this.arm(this.setupWait)]);
      }
      case 'Canceling':
        if (this.tries < timing.maxCancelTries) {
          this.tries += 1;
          return step('handled', [{ effect: 'sendCancelLock' }, this.arm(timing.cancelTimeoutMs * 2 ** (this.tries - 1))]);
        }
        return step('handled', [{ effect: 'abandonLock' }, this.finish({ result: 'failed', reason: this.failure! })]);
      default:
        return step('stale');
    }
  }

  private beginSetup(): LeftAnchorEffect[] {
    this.current = 'SettingUp';
    this.setupWaited = 0;
    this.setupWait = Math.min(this.params.timing.synRetransmitMs, this.params.timing.setupTimeoutMs);
    return [this.openNewPath(), this.arm(this.setupWait)];
  }

  private openNewPath(): LeftAnchorEffect {
    const { id, session, rightAnchor, newHops } = this.params;
    return { effect: 'datapath', command: { command: 'openNewPath', session, id, hops: [...newHops, rightAnchor], delta: this.segmentDelta! } };
  }

  /**
   * Undoes the run. Once the new path's SYN went out, the lcore may switch to it at any instant (its SYN-ACK in
   * flight): the old path's locks are undone only after the lcore confirms it gave the new path up (Abandoning), or
   * the right anchor, already on two paths, would ignore the cancel while this one drops the new path's data.
   */
  private beginCancel(reason: FailureReason, newPathStarted: boolean): LeftAnchorEffect[] {
    this.failure = reason;
    this.disarm();
    const { id, session } = this.params;
    if (newPathStarted) {
      this.current = 'Abandoning';
      return [{ effect: 'datapath', command: { command: 'abandonNewPath', session, id, confirm: true } }];
    }
    return this.cancelLocks();
  }

  private cancelFor(reason: FailureReason): LeftAnchorEffect[] {
    this.failure = reason;
    this.disarm();
    return this.cancelLocks();
  }

  private cancelLocks(): LeftAnchorEffect[] {
    this.current = 'Canceling';
    this.tries = 1;
    return [...(this.stateMayBeImported ? [{ effect: 'sendDropState' as const }] : []), { effect: 'sendCancelLock' }, this.arm(this.params.timing.cancelTimeoutMs)];
  }

  private finish(outcome: Outcome): LeftAnchorEffect {
    this.current = 'Done';
    this.result = outcome;
    this.disarm();
    return { effect: 'finished', outcome };
  }

  private arm(afterMs: number): LeftAnchorEffect {
    this.timerToken += 1;
    return { effect: 'armTimer', token: this.timerToken, afterMs };
  }

  /** A timer armed before this point fires stale. */
  private disarm(): void {
    this.timerToken += 1;
  }
}
