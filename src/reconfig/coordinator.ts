// One agent's reconfiguration machines, by session: the lock of the subsession to its right, the left anchor it
// may run and the right anchor it may be. It routes each incoming message to the machine it is for (by session,
// then by the subsession it came on) and turns the machines' effects into messages, datapath commands and timers.
// A message for no session, on a subsession the session does not have, from the wrong side or about a request
// the machine is past is `rejected` with a reason and changes nothing; counting is the control channel's job.
import type { AnchorRole, DatapathCommand, DatapathInput } from './datapath-io';
import { DEFAULT_LEFT_ANCHOR_TIMING, LeftAnchor, type AnchorStatus, type AnchorStep, type LeftAnchorEffect, type LeftAnchorState, type LeftAnchorTiming } from './left-anchor';
import type { MigrateRequest, ReconfigId, ReconfigMessage, SeqDelta, StateTransferFailure, Tuple } from './messages';
import type { Outcome } from './outcome';
import { RightAnchor, type RightAnchorEffect, type RightAnchorState } from './right-anchor';
import { addDelta, isSeqDelta, ZERO_DELTA } from './seq-delta';
import { SubsessionLock, type LockEffect, type LockStep, type LockView } from './subsession-lock';
import { FinishedIds, reverseTuple, sameId, sameTuple, tupleKey } from './tuples';

/** A session as this agent sees it: the subsessions to its neighbours, each as this agent sends it. */
export interface SessionView {
  session: Tuple;
  /** Absent at the session's left end (the initiator's agent). */
  left?: Tuple;
  /** Absent at the session's right end. */
  right?: Tuple;
  /** The session as the right neighbour names it, when this agent's middlebox rewrote it (a NAT); else `session`. */
  rightSession?: Tuple;
  /** What this agent, as a middlebox, adds to the sequence numbers of each direction. */
  delta?: SeqDelta;
  /** Whether `delta` can no longer change; a middlebox must not be locked for removal until it is. */
  deltaFixed?: boolean;
}

export interface TimerRef {
  session: Tuple;
  id: ReconfigId;
  token: number;
}

export type ReconfigOutput =
  | { kind: 'send'; to: number; message: ReconfigMessage }
  | { kind: 'datapath'; command: DatapathCommand }
  | { kind: 'timer'; timer: TimerRef; afterMs: number }
  /** This agent began a run as left anchor (asked by the API, or by a neighbour's rightRequest or migrateRequest). */
  | { kind: 'started'; session: Tuple; id: ReconfigId }
  /** `requestedBy`: the agent whose migrateRequest started the run, owed a migrateResult naming the session as it
   * does (`requesterSession`). */
  | { kind: 'finished'; role: AnchorRole; session: Tuple; id: ReconfigId; outcome: Outcome; requestedBy?: number; requesterSession?: Tuple }
  /** Old middlebox of a locked segment: export the session's state and send it to `to` (stateChunk), or tell the
   * left anchor why not (stateResult). */
  | { kind: 'exportState'; session: Tuple; id: ReconfigId; to: number };

export type RejectReason =
  | 'unknown_session'
  | 'unknown_subsession' // the session has no such subsession here
  | 'wrong_direction' // e.g. an ackLock from the left
  | 'stale' // about a reconfiguration the machine is past, or never took part in
  | 'busy' // this agent already runs a reconfiguration of the session as left anchor
  | 'no_neighbour' // the operation needs a neighbour on a side the session does not have here
  | 'invalid' // fields that make no sense (a delta out of range, an anchor that is this agent)
  | 'not_on_path'; // its sender is not the neighbour on the subsession it names, nor a party of the state move

export const REJECT_REASONS: readonly RejectReason[] = ['unknown_session', 'unknown_subsession', 'wrong_direction', 'stale', 'busy', 'no_neighbour', 'invalid', 'not_on_path'];

export type CoordinatorResult =
  | { status: 'handled' | 'duplicate'; outputs: ReconfigOutput[] }
  | { status: 'rejected'; reason: RejectReason; outputs: ReconfigOutput[] };

export interface StartRequest {
  session: Tuple;
  rightAnchor: number;
  /** The new middleboxes between the anchors, left to right: empty removes, one or more insert or replace. */
  newHops: readonly number[];
  /** Move the middlebox state of the session from the right neighbour to the one new hop before the new path. */
  transferState?: boolean;
  /** The agent that asked for the run by migrateRequest: it gets a migrateResult at the end. */
  requestedBy?: number;
}

export interface SessionInspection {
  left?: Tuple;
  right?: Tuple;
  lock?: LockView;
  leftAnchor?: { id: ReconfigId; state: LeftAnchorState };
  rightAnchor?: { id: ReconfigId; state: RightAnchorState };
}

export interface CoordinatorOptions {
  /** This agent's host address. */
  self: number;
  /** Where this agent's nonces start (random in production, fixed in tests); each start takes the next. */
  firstNonce: number;
  timing?: Partial<LeftAnchorTiming>;
}

interface AgentSession {
  session: Tuple;
  /** What the right neighbour calls the session: messages to the right carry it, messages from there name it. */
  rightName: Tuple;
  left: Tuple | undefined;
  right: Tuple | undefined;
  delta: SeqDelta;
  deltaFixed: boolean;
  lock: SubsessionLock | undefined;
  leftAnchor: LeftAnchor | undefined;
  /** Who asked for the left anchor's run, when a migrateRequest did. */
  requestedBy: number | undefined;
  newRight: Tuple | undefined;
  rightAnchor: RightAnchor | undefined;
  newLeft: Tuple | undefined;
  /** Reconfigurations canceled before their requestLock reached this agent as right anchor. */
  canceled: FinishedIds<true>;
  /** Subsessions the anchors folded away, on which the other anchor's teardown may still arrive. */
  old: Tuple[];
  teardownFrom: Set<'left' | 'right'>;
  /** A moveState that came before its requestLock (the lock's datagram lost and sent again): served when it comes. */
  earlyMoveState: { id: ReconfigId; to: number } | undefined;
}

type Side = 'left' | 'right' | 'old';

const OLD_SUBSESSIONS_KEPT = 4;

const u32 = (n: unknown, max = 0xffffffff) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
const isTuple = (t: Tuple | undefined): t is Tuple =>
  typeof t === 'object' && t !== null && u32(t.srcIp) && u32(t.dstIp) && u32(t.srcPort, 0xffff) && u32(t.dstPort, 0xffff);
const isId = (id: ReconfigId | undefined) => typeof id === 'object' && id !== null && u32(id.leftAnchor) && u32(id.nonce);

const ok = (outputs: ReconfigOutput[], status: 'handled' | 'duplicate' = 'handled'): CoordinatorResult => ({ status, outputs });
const rejected = (reason: RejectReason, outputs: ReconfigOutput[] = []): CoordinatorResult => ({ status: 'rejected', reason, outputs });
const fromStatus = (status: AnchorStatus | LockStep['status'], outputs: ReconfigOutput[]): CoordinatorResult =>
  status === 'stale' ? rejected('stale', outputs) : ok(outputs, status);

export class ReconfigCoordinator {
  readonly self: number;
  private nextNonce: number;
  private readonly timing: LeftAnchorTiming;
  private readonly sessions = new Map<string, AgentSession>();
  /** The key of a session under the name its right neighbour gives it, where that differs. */
  private readonly byRightName = new Map<string, string>();

  constructor(options: CoordinatorOptions) {
    this.self = options.self >>> 0;
    this.nextNonce = options.firstNonce >>> 0;
    this.timing = { ...DEFAULT_LEFT_ANCHOR_TIMING, ...options.timing };
  }

  addSession(view: SessionView): void {
    const key = tupleKey(view.session);
    this.forget(key);
    const rightName = view.rightSession ?? view.session;
    if (tupleKey(rightName) !== key) this.byRightName.set(tupleKey(rightName), key);
    this.sessions.set(key, {
      session: view.session,
      rightName,
      left: view.left,
      right: view.right,
      delta: view.delta ?? ZERO_DELTA,
      deltaFixed: view.deltaFixed ?? true,
      lock: view.right ? new SubsessionLock() : undefined,
      leftAnchor: undefined,
      requestedBy: undefined,
      newRight: undefined,
      rightAnchor: undefined,
      newLeft: undefined,
      canceled: new FinishedIds(),
      old: [],
      teardownFrom: new Set(),
      earlyMoveState: undefined,
    });
  }

  setDelta(session: Tuple, delta: SeqDelta, fixed: boolean): boolean {
    const entry = this.find(session);
    if (!entry || !isSeqDelta(delta)) return false;
    entry.delta = delta;
    entry.deltaFixed = fixed;
    return true;
  }

  removeSession(session: Tuple): boolean {
    return this.forget(tupleKey(session));
  }

  /** A session by either of its names: as its left side names it, or as its right neighbour does. */
  private find(name: Tuple): AgentSession | undefined {
    const key = tupleKey(name);
    return this.sessions.get(key) ?? this.sessions.get(this.byRightName.get(key) ?? '');
  }

  private forget(key: string): boolean {
    const entry = this.sessions.get(key);
    if (!entry) return false;
    const rightKey = tupleKey(entry.rightName);
    if (this.byRightName.get(rightKey) === key) this.byRightName.delete(rightKey);
    return this.sessions.delete(key);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Whether the session is known here by either of its names (inspect() without building the view). */
  knows(session: Tuple): boolean {
    return this.find(session) !== undefined;
  }

  inspect(session: Tuple): SessionInspection | undefined {
    const e = this.find(session);
    if (!e) return undefined;
    return {
      ...(e.left && { left: e.left }),
      ...(e.right && { right: e.right }),
      ...(e.lock && { lock: e.lock.view() }),
      ...(e.leftAnchor && { leftAnchor: { id: e.leftAnchor.id, state: e.leftAnchor.state } }),
      ...(e.rightAnchor && { rightAnchor: { id: e.rightAnchor.id, state: e.rightAnchor.state } }),
    };
  }

  /** Run a reconfiguration as left anchor: lock the old path up to `rightAnchor`, then set the new path up. */
  start(request: StartRequest): CoordinatorResult & { id?: ReconfigId } {
    const entry = this.find(request.session);
    if (!entry) return rejected('unknown_session');
    if (!entry.right || !entry.lock) return rejected('no_neighbour');
    const anchor = request.rightAnchor >>> 0;
    if (anchor === this.self || request.newHops.some((hop) => hop >>> 0 === this.self || hop >>> 0 === anchor)) return rejected('invalid');
    // State moves between two instances: the one old middlebox (the right neighbour) and the one new.
    if (request.transferState && (request.newHops.length !== 1 || entry.right.dstIp === anchor)) return rejected('invalid');
    if (entry.leftAnchor && entry.leftAnchor.state !== 'Done') return rejected('busy');
    const id: ReconfigId = { leftAnchor: this.self, nonce: this.nextNonce };
    this.nextNonce = (this.nextNonce + 1) >>> 0;
    const newHops = request.newHops.map((h) => h >>> 0);
    const state = request.transferState ? { from: entry.right.dstIp, to: newHops[0]! } : undefined;
    entry.leftAnchor = new LeftAnchor({ id, session: entry.session, rightAnchor: anchor, newHops, ...(state && { state }), timing: this.timing });
    entry.requestedBy = request.requestedBy;
    entry.newRight = undefined;
    const outputs: ReconfigOutput[] = [{ kind: 'started', session: entry.session, id }];
    this.runLeft(entry, entry.leftAnchor.start().effects, outputs);
    return { ...ok(outputs), id };
  }

  /** A middlebox that removes itself: ask its left neighbour to run the reconfiguration up to its right neighbour. */
  requestRemoval(session: Tuple): CoordinatorResult {
    const entry = this.find(session);
    if (!entry) return rejected('unknown_session');
    if (!entry.left || !entry.right) return rejected('no_neighbour');
    return ok([this.send(entry.left, { type: 'rightRequest', session: entry.session, subsession: entry.left, rightAnchor: entry.right.dstIp })]);
  }

  /** A middlebox hands the session to `replacement`: its left neighbour runs the replacement up to its right one. */
  requestMigration(session: Tuple, replacement: number, transferState: boolean): CoordinatorResult {
    const entry = this.find(session);
    if (!entry) return rejected('unknown_session');
    if (!entry.left || !entry.right) return rejected('no_neighbour');
    const to = replacement >>> 0;
    if (to === 0 || to === this.self || to === entry.left.dstIp || to === entry.right.dstIp) return rejected('invalid');
    return ok([this.send(entry.left, { type: 'migrateRequest', session: entry.session, subsession: entry.left, rightAnchor: entry.right.dstIp, replacement: to, transferState })]);
  }

  /**
   * A message from `from` (the authenticated sender's address; undefined in tests of the machines alone). Only the
   * neighbour on the subsession a message names may send it, and a stateResult only the two instances of the state
   * move: anyone else is refused (not_on_path) before anything is looked up or answered.
   */
  receive(message: ReconfigMessage, from?: number): CoordinatorResult {
    if (!isTuple(message?.session)) return rejected('invalid');
    if (message.type === 'stateResult') return this.onStateResult(message.session, message.id, message.result, from);
    if (!('subsession' in message) || !isTuple(message.subsession)) return rejected('invalid');
    if (from !== undefined && from >>> 0 !== message.subsession.srcIp >>> 0) return rejected('not_on_path');
    if ('id' in message && !isId(message.id)) return rejected('invalid');
    const entry = this.find(message.session);
    if (!entry) {
      // Answering tells the left anchor at once rather than after all its retries; nothing changes here.
      if (message.type !== 'requestLock') return rejected('unknown_session');
      const back = reverseTuple(message.subsession);
      return rejected('unknown_session', [this.send(back, { type: 'nackLock', id: message.id, session: message.session, subsession: back, reason: 'unknown_session' })]);
    }
    const side = this.sideOf(entry, message.subsession);
    if (side === undefined) return rejected('unknown_subsession');
    switch (message.type) {
      case 'requestLock': {
        if (side !== 'left') return rejected('wrong_direction');
        if (!isSeqDelta(message.delta)) return rejected('invalid');
        const result = this.onRequestLock(entry, message.id, message.rightAnchor >>> 0, message.delta);
        const early = entry.earlyMoveState;
        entry.earlyMoveState = undefined;
        if (early && sameId(early.id, message.id) && this.lockHolds(entry, early.id)) {
          result.outputs.push({ kind: 'exportState', session: entry.session, id: early.id, to: early.to });
        }
        return result;
      }
      case 'ackLock':
        if (side !== 'right') return rejected('wrong_direction');
        if (!isSeqDelta(message.delta)) return rejected('invalid');
        return this.runLockStep(entry, entry.lock!.ackLock(message.id, message.rightAnchor >>> 0, message.delta));
      case 'nackLock':
        if (side !== 'right') return rejected('wrong_direction');
        return this.runLockStep(entry, entry.lock!.nackLock(message.id, message.reason));
      case 'ackCancel':
        if (side !== 'right') return rejected('wrong_direction');
        return this.runLockStep(entry, entry.lock!.ackCancel(message.id));
      case 'cancelLock':
        if (side !== 'left') return rejected('wrong_direction');
        return this.onCancelLock(entry, message.id);
      case 'rightRequest':
        if (side !== 'right') return rejected('wrong_direction');
        return this.onRightRequest(entry, message.rightAnchor >>> 0);
      case 'migrateRequest':
        if (side !== 'right') return rejected('wrong_direction');
        return this.onMigrateRequest(entry, message);
      case 'moveState': {
        if (side !== 'left') return rejected('wrong_direction');
        // Only the left anchor whose request this agent's lock holds (pending or locked) may have the state moved:
        // its moveState follows its requestLock on this subsession. One that overtook its requestLock (a datagram
        // lost and sent again) waits for it, one per session; the requestLock of another id forgets it.
        if (!this.lockHolds(entry, message.id)) {
          if (!entry.lock || entry.lock.view().flag !== 'free') return rejected('stale');
          entry.earlyMoveState = { id: message.id, to: message.to >>> 0 };
          return ok([]);
        }
        return ok([{ kind: 'exportState', session: entry.session, id: message.id, to: message.to >>> 0 }]);
      }
      case 'teardown':
        return this.onTeardown(entry, message.id, side);
      default:
        return rejected('invalid');
    }
  }

  datapath(input: DatapathInput): CoordinatorResult {
    const entry = this.find(input.session);
    if (!entry) return rejected('unknown_session');
    switch (input.event) {
      case 'newPathSyn':
        return this.stepRight(entry, (right) => {
          if (right.state === 'Requested') entry.newLeft = input.newSubsession;
          return right.newPathSyn();
        });
      case 'newPathAck':
        return this.stepRight(entry, (right) => right.newPathAck());
      case 'newPathSynAck':
        return this.stepLeft(entry, (left) => {
          if (left.state === 'SettingUp' || left.state === 'Abandoning' || left.state === 'Committed') entry.newRight = input.newSubsession;
          return left.newPathSynAck();
        });
      case 'twoPathsEntered': {
        const right = entry.rightAnchor;
        if (right?.state === 'Waiting' && entry.newLeft && sameTuple(entry.newLeft, input.newSubsession)) return this.stepRight(entry, (r) => r.newPathAck());
        const leftState = entry.leftAnchor?.state;
        if (leftState === 'SettingUp' || leftState === 'TwoPaths' || leftState === 'Abandoning' || leftState === 'Committed') {
          return this.stepLeft(entry, (left) => {
            if (left.state !== 'TwoPaths') entry.newRight = input.newSubsession;
            return left.newPathSynAck();
          });
        }
        if (right?.state === 'TwoPaths' && entry.newLeft && sameTuple(entry.newLeft, input.newSubsession)) return this.stepRight(entry, (r) => r.newPathAck());
        return rejected('stale');
      }
      case 'newPathFailed':
        return this.stepLeft(entry, (left) => left.newPathFailed());
      case 'newPathAbandoned':
        return this.stepLeft(entry, (left) => left.newPathAbandoned());
      case 'newPathInUse':
        return this.stepLeft(entry, (left) => left.newPathInUse());
      case 'newPathAnswered':
        return this.stepLeft(entry, (left) => left.newPathAnswered());
      case 'oldPathDrained':
        return input.role === 'left'
          ? this.stepLeft(entry, (left) => left.oldPathDrained())
          : this.stepRight(entry, (right) => right.oldPathDrained());
      default:
        return rejected('invalid');
    }
  }

  /**
   * The control channel gave up on `message` (no ack from the next agent after every retransmission). When it was
   * this agent's left anchor's requestLock or cancelLock, the anchor cancels, or ends its cancel, now. Anything else
   * is left to the timers of the left anchor it belongs to (a hop further on cannot reach it by this channel).
   */
  deliveryFailed(message: ReconfigMessage): CoordinatorResult {
    if (message?.type !== 'requestLock' && message?.type !== 'cancelLock' && message?.type !== 'moveState') return rejected('stale');
    if (!isTuple(message.session) || !isId(message.id)) return rejected('invalid');
    const entry = this.find(message.session);
    if (!entry) return rejected('unknown_session');
    if (!entry.leftAnchor || !sameId(entry.leftAnchor.id, message.id)) return rejected('stale');
    return this.stepLeft(entry, (left) => left.deliveryFailed(message.type));
  }

  /** Anchors of this agent between the switch to two paths and the old path's end. */
  twoPathAnchors(): number {
    let count = 0;
    for (const e of this.sessions.values()) {
      if (e.leftAnchor?.state === 'TwoPaths') count += 1;
      if (e.rightAnchor?.state === 'TwoPaths') count += 1;
    }
    return count;
  }

  timeout(timer: TimerRef): CoordinatorResult {
    const entry = this.find(timer.session);
    if (!entry) return rejected('unknown_session');
    if (entry.leftAnchor && !sameId(entry.leftAnchor.id, timer.id)) return rejected('stale');
    return this.stepLeft(entry, (left) => left.timeout(timer.token));
  }

  // One input to the session's left (right) anchor, its effects run; stale when the session has no such anchor.
  private stepLeft(entry: AgentSession, input: (left: LeftAnchor) => AnchorStep<LeftAnchorEffect>): CoordinatorResult {
    if (!entry.leftAnchor) return rejected('stale');
    const outputs: ReconfigOutput[] = [];
    const step = input(entry.leftAnchor);
    this.runLeft(entry, step.effects, outputs);
    return fromStatus(step.status, outputs);
  }

  private stepRight(entry: AgentSession, input: (right: RightAnchor) => AnchorStep<RightAnchorEffect>): CoordinatorResult {
    if (!entry.rightAnchor) return rejected('stale');
    const outputs: ReconfigOutput[] = [];
    const step = input(entry.rightAnchor);
    this.runRight(entry, step.effects, outputs);
    return fromStatus(step.status, outputs);
  }


  /** Whether this agent's lock of the session's right subsession holds the request `id` (pending or locked). */
  private lockHolds(entry: AgentSession, id: ReconfigId): boolean {
    const lock = entry.lock?.view();
    return lock !== undefined && lock.flag !== 'free' && lock.requester !== undefined && sameId(lock.requester, id);
  }

  private onRequestLock(entry: AgentSession, id: ReconfigId, rightAnchor: number, delta: SeqDelta): CoordinatorResult {
    const outputs: ReconfigOutput[] = [];
    const answerLeft = (message: ReconfigMessage) => outputs.push(this.send(entry.left!, message));
    const nack = (reason: 'locked' | 'not_anchor' | 'delta_not_fixed' | 'canceled') =>
      answerLeft({ type: 'nackLock', id, session: entry.session, subsession: entry.left!, reason });

    if (rightAnchor === this.self) {
      const mine = entry.rightAnchor;
      if (mine && sameId(mine.id, id)) {
        this.runRight(entry, mine.requestedAgain().effects, outputs);
        return ok(outputs, 'duplicate');
      }
      if (entry.canceled.lookup(id)) {
        nack('canceled');
        return ok(outputs, 'duplicate');
      }
      // The left neighbour's lock serialises requests for this anchor; a second one here means that lock was lost.
      if (mine?.active) {
        nack('locked');
        return ok(outputs);
      }
      entry.rightAnchor = new RightAnchor(id, entry.session, delta);
      entry.newLeft = undefined;
      this.runRight(entry, entry.rightAnchor.requested().effects, outputs);
      return ok(outputs);
    }
    if (!entry.right || !entry.lock) {
      nack('not_anchor');
      return ok(outputs);
    }
    // A middlebox in the segment is removed by this reconfiguration: the anchors will translate by the delta
    // accumulated now, so it must not change any more. Until the agent says it is fixed, the request is refused.
    if (!entry.deltaFixed && !entry.lock.knows(id)) {
      nack('delta_not_fixed');
      return ok(outputs);
    }
    return this.runLockStep(entry, entry.lock.requestLock({ id, rightAnchor, delta: addDelta(delta, entry.delta), origin: 'left' }));
  }

  private onCancelLock(entry: AgentSession, id: ReconfigId): CoordinatorResult {
    const outputs: ReconfigOutput[] = [];
    const mine = entry.rightAnchor;
    if (mine && sameId(mine.id, id)) {
      const step = mine.cancelLock();
      this.runRight(entry, step.effects, outputs);
      return fromStatus(step.status, outputs);
    }
    if (entry.lock?.knows(id)) return this.runLockStep(entry, entry.lock.cancelLock(id, 'left'));
    // The request never reached this agent (or finished here): nothing to undo. Remember the id, so that a late
    // requestLock naming this agent as right anchor is refused, not answered with a lock nobody will use.
    const repeated = entry.canceled.lookup(id) !== undefined;
    entry.canceled.remember(id, true);
    if (entry.lock) this.runLock(entry, entry.lock.cancelLock(id, 'left').effects, outputs);
    else outputs.push(this.send(entry.left!, { type: 'ackCancel', id, session: entry.session, subsession: entry.left! }));
    return ok(outputs, repeated ? 'duplicate' : 'handled');
  }

  private onRightRequest(entry: AgentSession, rightAnchor: number): CoordinatorResult {
    const running = entry.leftAnchor;
    if (running && running.state !== 'Done' && running.params.rightAnchor === rightAnchor && running.params.newHops.length === 0) {
      return ok([], 'duplicate');
    }
    const started = this.start({ session: entry.session, rightAnchor, newHops: [] });
    return started.status === 'rejected' ? rejected(started.reason, started.outputs) : ok(started.outputs);
  }

  private onMigrateRequest(entry: AgentSession, message: MigrateRequest): CoordinatorResult {
    const requester = entry.right!.dstIp;
    const rightAnchor = message.rightAnchor >>> 0;
    const replacement = message.replacement >>> 0;
    const running = entry.leftAnchor;
    if (running && running.state !== 'Done' && entry.requestedBy === requester && running.params.rightAnchor === rightAnchor && running.params.newHops[0] === replacement) {
      return ok([], 'duplicate');
    }
    const started = this.start({ session: entry.session, rightAnchor, newHops: [replacement], transferState: message.transferState, requestedBy: requester });
    if (started.status !== 'rejected') return ok(started.outputs);
    // The asker waits for an answer: a run that never started has nonce 0 and a refusal for its outcome.
    const refusal: ReconfigOutput = {
      kind: 'send',
      to: requester,
      message: { type: 'migrateResult', id: { leftAnchor: this.self, nonce: 0 }, session: entry.rightName, outcome: started.reason, durationUs: 0, switchedUs: 0 },
    };
    return rejected(started.reason, [...started.outputs, refusal]);
  }

  private onStateResult(session: Tuple, id: ReconfigId, result: 'ok' | StateTransferFailure, from: number | undefined): CoordinatorResult {
    if (!isId(id)) return rejected('invalid');
    const entry = this.find(session);
    if (!entry) return rejected('unknown_session');
    if (!entry.leftAnchor || !sameId(entry.leftAnchor.id, id)) return rejected('stale');
    const move = entry.leftAnchor.params.state;
    if (from !== undefined && (move === undefined || (from >>> 0 !== move.from && from >>> 0 !== move.to))) return rejected('not_on_path');
    return this.stepLeft(entry, (left) => left.stateResult(result));
  }

  private onTeardown(entry: AgentSession, id: ReconfigId, side: Side): CoordinatorResult {
    const anchorOf = (m: { id: ReconfigId } | undefined) => m !== undefined && sameId(m.id, id);
    // An anchor consumes the other anchor's teardown: its own old path ends where it stands.
    if (anchorOf(entry.leftAnchor) || anchorOf(entry.rightAnchor)) return ok([]);
    if (side === 'old') return rejected('stale');
    if (entry.teardownFrom.has(side)) return ok([], 'duplicate');
    entry.teardownFrom.add(side);
    const outputs: ReconfigOutput[] = [];
    const onward = side === 'left' ? entry.right : entry.left;
    if (onward) outputs.push(this.send(onward, { type: 'teardown', id, session: side === 'left' ? entry.rightName : entry.session, subsession: onward }));
    if (entry.teardownFrom.size === 2 || !onward) {
      outputs.push({ kind: 'datapath', command: { command: 'retireSession', session: entry.session } });
      this.forget(tupleKey(entry.session));
    }
    return ok(outputs);
  }

  private sideOf(entry: AgentSession, subsession: Tuple): Side | undefined {
    const is = (mine: Tuple | undefined) => mine !== undefined && sameTuple(reverseTuple(mine), subsession);
    if (is(entry.left)) return 'left';
    if (is(entry.right)) return 'right';
    return entry.old.some(is) ? 'old' : undefined;
  }

  private runLockStep(entry: AgentSession, step: LockStep): CoordinatorResult {
    const outputs: ReconfigOutput[] = [];
    this.runLock(entry, step.effects, outputs);
    return fromStatus(step.status, outputs);
  }

  private runLock(entry: AgentSession, effects: LockEffect[], outputs: ReconfigOutput[]): void {
    const { session, rightName } = entry;
    for (const e of effects) {
      if (e.effect === 'forwardRequest') {
        const { id, rightAnchor, delta } = e.request;
        outputs.push(this.send(entry.right!, { type: 'requestLock', id, session: rightName, subsession: entry.right!, rightAnchor, delta }));
      } else if (e.effect === 'forwardCancel') {
        outputs.push(this.send(entry.right!, { type: 'cancelLock', id: e.id, session: rightName, subsession: entry.right! }));
      } else if (e.to === 'left') {
        const subsession = entry.left!;
        const { id, answer } = e;
        const message: ReconfigMessage =
          answer.type === 'ackLock'
            ? { type: 'ackLock', id, session, subsession, rightAnchor: answer.rightAnchor, delta: addDelta(answer.delta, entry.delta) }
            : answer.type === 'nackLock'
              ? { type: 'nackLock', id, session, subsession, reason: answer.reason }
              : { type: 'ackCancel', id, session, subsession };
        outputs.push(this.send(subsession, message));
      } else {
        const anchor = entry.leftAnchor;
        if (!anchor || !sameId(anchor.id, e.id)) continue;
        const { answer } = e;
        const step = answer.type === 'ackLock' ? anchor.ackLock(answer.delta) : answer.type === 'nackLock' ? anchor.nackLock(answer.reason) : anchor.ackCancel();
        this.runLeft(entry, step.effects, outputs);
      }
    }
  }

  private runLeft(entry: AgentSession, effects: LeftAnchorEffect[], outputs: ReconfigOutput[]): void {
    const anchor = entry.leftAnchor!;
    const { id, params } = anchor;
    for (const e of effects) {
      switch (e.effect) {
        case 'sendRequestLock':
          this.runLock(entry, entry.lock!.requestLock({ id, rightAnchor: params.rightAnchor, delta: ZERO_DELTA, origin: 'local' }).effects, outputs);
          break;
        case 'sendCancelLock':
          this.runLock(entry, entry.lock!.cancelLock(id, 'local').effects, outputs);
          break;
        case 'abandonLock':
          this.runLock(entry, entry.lock!.abandon(id).effects, outputs);
          break;
        case 'sendTeardown':
          outputs.push(this.send(entry.right!, { type: 'teardown', id, session: entry.rightName, subsession: entry.right! }));
          break;
        case 'sendMoveState':
          // The new instance hears of the move from this anchor, so that it imports only the state announced to it.
          outputs.push({ kind: 'send', to: params.state!.to, message: { type: 'expectState', id, session: entry.rightName, from: entry.right!.dstIp } });
          outputs.push(this.send(entry.right!, { type: 'moveState', id, session: entry.rightName, subsession: entry.right!, to: params.state!.to }));
          break;
        case 'sendDropState':
          // The new instance knows the run by the old one's name for the session: the right neighbour's.
          outputs.push({ kind: 'send', to: params.state!.to, message: { type: 'dropState', id, session: entry.rightName } });
          break;
        case 'armTimer':
          outputs.push({ kind: 'timer', timer: { session: entry.session, id, token: e.token }, afterMs: e.afterMs });
          break;
        case 'datapath':
          outputs.push({ kind: 'datapath', command: e.command });
          break;
        case 'finished':
          // Completed: the lcore has folded the new path in (old_path_drained), and so does this view.
          if (e.outcome.result === 'completed' && entry.newRight) {
            this.keepOld(entry, entry.right!);
            entry.right = entry.newRight;
            entry.newRight = undefined;
            entry.lock = new SubsessionLock();
          }
          outputs.push({ kind: 'finished', role: 'left', session: entry.session, id, outcome: e.outcome, ...(entry.requestedBy !== undefined && { requestedBy: entry.requestedBy, requesterSession: entry.rightName }) });
          entry.requestedBy = undefined;
          break;
      }
    }
  }

  private runRight(entry: AgentSession, effects: RightAnchorEffect[], outputs: ReconfigOutput[]): void {
    const anchor = entry.rightAnchor!;
    const { id, session } = anchor;
    const left = entry.left!;
    for (const e of effects) {
      switch (e.effect) {
        case 'sendAckLock':
          outputs.push(this.send(left, { type: 'ackLock', id, session, subsession: left, rightAnchor: this.self, delta: ZERO_DELTA }));
          break;
        case 'sendAckCancel':
          entry.canceled.remember(id, true);
          outputs.push(this.send(left, { type: 'ackCancel', id, session, subsession: left }));
          break;
        case 'sendTeardown':
          outputs.push(this.send(left, { type: 'teardown', id, session, subsession: left }));
          break;
        case 'datapath':
          outputs.push({ kind: 'datapath', command: e.command });
          break;
        case 'finished': {
          if (anchor.state === 'Done' && entry.newLeft) {
            this.keepOld(entry, entry.left!);
            entry.left = entry.newLeft;
            entry.newLeft = undefined;
          }
          const outcome: Outcome = anchor.state === 'Done' ? { result: 'completed' } : { result: 'failed', reason: 'canceled' };
          outputs.push({ kind: 'finished', role: 'right', session, id, outcome });
          break;
        }
      }
    }
  }

  private keepOld(entry: AgentSession, subsession: Tuple): void {
    entry.old.push(subsession);
    if (entry.old.length > OLD_SUBSESSIONS_KEPT) entry.old.shift();
  }

  private send(subsession: Tuple, message: ReconfigMessage): ReconfigOutput {
    return { kind: 'send', to: subsession.dstIp, message };
  }
}
