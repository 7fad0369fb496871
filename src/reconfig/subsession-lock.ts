// The lock state of one subsession, kept by the agent at its left end (PROTOCOL.md, "Locking"): `lockPending`,
// `locked` and the requester, the requests it holds back, and the ids it has answered for good.
//
// Contention: a subsession already `locked` refuses (nackLock 'locked'); one that is `lockPending` for another
// request holds the newcomer until its own is answered — refused ('contention') if its own is acked, passed on if
// its own is nacked or canceled. A held request waits only on a request whose frontier lies further right, so a
// chain of waits always ends at a request that moves: no mutual lock-out. The PROTOCOL.md rule speaks of a pending
// request "inside the segment"; one from outside cannot be pending here, because it would have had to pass the
// newcomer's left anchor, whose own subsession would then have held the newcomer at its start.
//
// Locks clear from right to left only (on nackLock and on ackCancel, never on the way out with cancelLock), so a
// subsession found free has nothing of the same request locked to its right.
import type { NackReason, ReconfigId, SeqDelta } from './messages';
import { FinishedIds, sameId } from './tuples';

/** Where a request came from: the left neighbour, or this agent acting as left anchor. */
export type LockOrigin = 'left' | 'local';

export interface LockRequest {
  id: ReconfigId;
  rightAnchor: number;
  /** The delta accumulated up to and including this agent, as it goes on to the right. */
  delta: SeqDelta;
  origin: LockOrigin;
}

export type LockAnswer =
  | { type: 'ackLock'; rightAnchor: number; delta: SeqDelta }
  | { type: 'nackLock'; reason: NackReason }
  | { type: 'ackCancel' };

export type LockEffect =
  | { effect: 'forwardRequest'; request: LockRequest }
  | { effect: 'forwardCancel'; id: ReconfigId }
  | { effect: 'answer'; to: LockOrigin; id: ReconfigId; answer: LockAnswer };

/** `stale`: about a request this subsession does not know or is past; nothing changed. */
export type LockStatus = 'handled' | 'duplicate' | 'stale';

export interface LockStep {
  status: LockStatus;
  effects: LockEffect[];
}

export type LockFlag = 'free' | 'lockPending' | 'locked';

export interface LockView {
  flag: LockFlag;
  requester?: ReconfigId;
  canceling: boolean;
  held: ReconfigId[];
}

const step = (status: LockStatus, effects: LockEffect[] = []): LockStep => ({ status, effects });

export class SubsessionLock {
  private flag: LockFlag = 'free';
  private requester: LockRequest | undefined;
  private lockedAnswer: LockAnswer | undefined;
  private canceling = false;
  private held: LockRequest[] = [];
  /** The nack each finished id got (a canceled one: nackLock 'canceled'). */
  private readonly finished = new FinishedIds<NackReason>();

  view(): LockView {
    return {
      flag: this.flag,
      ...(this.requester && { requester: this.requester.id }),
      canceling: this.canceling,
      held: this.held.map((r) => r.id),
    };
  }

  /** Whether this subsession has seen the request: its requester, held, or answered for good. */
  knows(id: ReconfigId): boolean {
    return (
      (this.requester !== undefined && sameId(this.requester.id, id)) ||
      this.held.some((r) => sameId(r.id, id)) ||
      this.finished.lookup(id) !== undefined
    );
  }

  requestLock(request: LockRequest): LockStep {
    const mine = this.requester;
    if (mine && sameId(mine.id, request.id)) {
      // A retransmission: the loss may lie further right, so a pending request goes on again.
      if (this.canceling) return step('duplicate');
      if (this.flag === 'lockPending') return step('duplicate', [{ effect: 'forwardRequest', request: mine }]);
      return step('duplicate', [this.answer(mine, this.lockedAnswer!)]);
    }
    if (this.held.some((r) => sameId(r.id, request.id))) return step('duplicate');
    const finishedReason = this.finished.lookup(request.id);
    if (finishedReason !== undefined) return step('duplicate', [this.answer(request, { type: 'nackLock', reason: finishedReason })]);

    if (this.flag === 'free') {
      this.flag = 'lockPending';
      this.requester = request;
      return step('handled', [{ effect: 'forwardRequest', request }]);
    }
    if (this.flag === 'locked' && !this.canceling) return step('handled', [this.answer(request, { type: 'nackLock', reason: 'locked' })]);
    // Pending, or locked but being canceled: its fate is open, so the newcomer waits for it.
    this.held.push(request);
    return step('handled');
  }

  ackLock(id: ReconfigId, rightAnchor: number, delta: SeqDelta): LockStep {
    const mine = this.requester;
    if (!mine || !sameId(mine.id, id)) return step(this.finished.lookup(id) !== undefined ? 'duplicate' : 'stale');
    if (this.flag === 'locked') return step('duplicate');
    // Crossing a cancel on its way right: the cancel will undo this lock, so nothing is decided yet.
    if (this.canceling) return step('handled');
    this.flag = 'locked';
    this.lockedAnswer = { type: 'ackLock', rightAnchor, delta };
    const effects = [this.answer(mine, this.lockedAnswer)];
    for (const refused of this.held.splice(0)) {
      this.finished.remember(refused.id, 'contention');
      effects.push(this.answer(refused, { type: 'nackLock', reason: 'contention' }));
    }
    return step('handled', effects);
  }

  nackLock(id: ReconfigId, reason: NackReason): LockStep {
    const mine = this.requester;
    if (!mine || !sameId(mine.id, id)) return step(this.finished.lookup(id) !== undefined ? 'duplicate' : 'stale');
    if (this.flag !== 'lockPending') return step('stale');
    // Everything to the right is clear now; if a cancel is out, this is as good as its ackCancel.
    const answer: LockAnswer = this.canceling ? { type: 'ackCancel' } : { type: 'nackLock', reason };
    this.finished.remember(id, this.canceling ? 'canceled' : reason);
    this.clear();
    return step('handled', [this.answer(mine, answer), ...this.releaseHeld()]);
  }

  cancelLock(id: ReconfigId, origin: LockOrigin): LockStep {
    const mine = this.requester;
    if (mine && sameId(mine.id, id)) {
      const status = this.canceling ? 'duplicate' : 'handled';
      this.canceling = true;
      return step(status, [{ effect: 'forwardCancel', id }]);
    }
    const heldAt = this.held.findIndex((r) => sameId(r.id, id));
    const repeated = heldAt < 0 && this.finished.lookup(id) !== undefined;
    if (heldAt >= 0) this.held.splice(heldAt, 1);
    // Never got here, or finished here: nothing to undo to the right. Remember it so a late request is refused.
    this.finished.remember(id, this.finished.lookup(id) ?? 'canceled');
    return step(repeated ? 'duplicate' : 'handled', [{ effect: 'answer', to: origin, id, answer: { type: 'ackCancel' } }]);
  }

  ackCancel(id: ReconfigId): LockStep {
    const mine = this.requester;
    if (!mine || !sameId(mine.id, id)) return step(this.finished.lookup(id) !== undefined ? 'duplicate' : 'stale');
    if (!this.canceling) return step('stale');
    this.finished.remember(id, 'canceled');
    this.clear();
    return step('handled', [this.answer(mine, { type: 'ackCancel' }), ...this.releaseHeld()]);
  }

  /** The left anchor gave up on its own cancel: clear what this agent holds for it, whatever the rest of the chain. */
  abandon(id: ReconfigId): LockStep {
    const mine = this.requester;
    if (!mine || !sameId(mine.id, id)) return step('stale');
    this.finished.remember(id, 'canceled');
    this.clear();
    return step('handled', this.releaseHeld());
  }

  private clear(): void {
    this.flag = 'free';
    this.requester = undefined;
    this.lockedAnswer = undefined;
    this.canceling = false;
  }

  private releaseHeld(): LockEffect[] {
    return this.held.splice(0).flatMap((request) => this.requestLock(request).effects);
  }

  private answer(to: LockRequest, answer: LockAnswer): LockEffect {
    return { effect: 'answer', to: to.origin, id: to.id, answer };
  }
}
