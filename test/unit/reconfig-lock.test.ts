// SubsessionLock and LeftAnchor on their own: each input in each state, duplicates, stale timers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_LEFT_ANCHOR_TIMING, LeftAnchor } from '../../src/reconfig/left-anchor';
import { RightAnchor } from '../../src/reconfig/right-anchor';
import { addDelta } from '../../src/reconfig/seq-delta';
import { SubsessionLock, type LockRequest } from '../../src/reconfig/subsession-lock';

const req = (nonce: number, origin: 'left' | 'local' = 'left'): LockRequest => ({
  id: { leftAnchor: 1, nonce },
  rightAnchor: 9,
  delta: { forward: nonce, reverse: 0 },
  origin,
});
const kinds = (effects: { effect: string; answer?: { type: string } }[]) => effects.map((e) => e.answer?.type ?? e.effect);

describe('SubsessionLock', () => {
  test('free → lockPending → locked; a locked subsession refuses, a retransmission is answered again', () => {
    const lock = new SubsessionLock();
    assert.deepEqual(kinds(lock.requestLock(req(1)).effects), ['forwardRequest']);
    assert.equal(lock.view().flag, 'lockPending');
    const dup = lock.requestLock(req(1));
    assert.equal(dup.status, 'duplicate');
    assert.deepEqual(kinds(dup.effects), ['forwardRequest']);
    assert.deepEqual(kinds(lock.ackLock(req(1).id, 9, { forward: 3, reverse: 4 }).effects), ['ackLock']);
    assert.equal(lock.view().flag, 'locked');
    assert.equal(lock.ackLock(req(1).id, 9, { forward: 3, reverse: 4 }).status, 'duplicate');
    assert.deepEqual(lock.requestLock(req(1)).effects.map((e) => e.effect === 'answer' && e.answer), [{ type: 'ackLock', rightAnchor: 9, delta: { forward: 3, reverse: 4 } }]);
    assert.deepEqual(lock.requestLock(req(2)).effects.map((e) => e.effect === 'answer' && e.answer), [{ type: 'nackLock', reason: 'locked' }]);
    assert.equal(lock.nackLock(req(7).id, 'locked').status, 'stale');
  });

  test('held requests: refused with contention on ack, released in order on nack', () => {
    const acked = new SubsessionLock();
    acked.requestLock(req(1));
    assert.deepEqual(acked.requestLock(req(2)).effects, []);
    assert.equal(acked.requestLock(req(2)).status, 'duplicate');
    const step = acked.ackLock(req(1).id, 9, { forward: 0, reverse: 0 });
    assert.deepEqual(step.effects.map((e) => e.effect === 'answer' && [e.id.nonce, e.answer.type, 'reason' in e.answer && e.answer.reason]), [
      [1, 'ackLock', false],
      [2, 'nackLock', 'contention'],
    ]);
    // The refused one, retransmitted, is refused the same way.
    assert.deepEqual(acked.requestLock(req(2)).effects.map((e) => e.effect === 'answer' && e.answer), [{ type: 'nackLock', reason: 'contention' }]);

    const nacked = new SubsessionLock();
    nacked.requestLock(req(1));
    nacked.requestLock(req(2));
    nacked.requestLock(req(3));
    const released = nacked.nackLock(req(1).id, 'not_anchor');
    assert.deepEqual(kinds(released.effects), ['nackLock', 'forwardRequest']);
    assert.deepEqual(nacked.view(), { flag: 'lockPending', requester: req(2).id, canceling: false, held: [req(3).id] });
  });

  test('cancel clears on the way back only; a nack crossing the cancel counts as its ackCancel', () => {
    const lock = new SubsessionLock();
    lock.requestLock(req(1));
    lock.ackLock(req(1).id, 9, { forward: 0, reverse: 0 });
    lock.requestLock(req(2)); // refused: locked
    assert.deepEqual(kinds(lock.cancelLock(req(1).id, 'left').effects), ['forwardCancel']);
    assert.equal(lock.view().flag, 'locked');
    assert.deepEqual(lock.requestLock(req(3)).effects, []); // held: the locked one is being canceled
    assert.deepEqual(kinds(lock.ackCancel(req(1).id).effects), ['ackCancel', 'forwardRequest']);
    assert.equal(lock.ackCancel(req(1).id).status, 'duplicate');
    assert.deepEqual(lock.requestLock(req(1)).effects.map((e) => e.effect === 'answer' && e.answer), [{ type: 'nackLock', reason: 'canceled' }]);

    const crossing = new SubsessionLock();
    crossing.requestLock(req(1));
    crossing.cancelLock(req(1).id, 'left');
    assert.equal(crossing.ackLock(req(1).id, 9, { forward: 0, reverse: 0 }).effects.length, 0);
    assert.deepEqual(kinds(crossing.nackLock(req(1).id, 'not_anchor').effects), ['ackCancel']);
    assert.equal(crossing.view().flag, 'free');
  });

  test('a cancel for a request never seen is answered at once and refuses it later', () => {
    const lock = new SubsessionLock();
    assert.deepEqual(kinds(lock.cancelLock(req(5).id, 'left').effects), ['ackCancel']);
    assert.equal(lock.cancelLock(req(5).id, 'left').status, 'duplicate');
    assert.deepEqual(kinds(lock.requestLock(req(5)).effects), ['nackLock']);
    assert.equal(lock.view().flag, 'free');
  });
});

describe('LeftAnchor timers', () => {
  const anchor = () => new LeftAnchor({ id: { leftAnchor: 1, nonce: 1 }, session: { srcIp: 1, dstIp: 2, srcPort: 3, dstPort: 4 }, rightAnchor: 2, newHops: [5], timing: DEFAULT_LEFT_ANCHOR_TIMING });
  /** An anchor whose set-up time ran out: it asked the lcore to abandon the new path (Abandoning). */
  const setupTimedOut = () => {
    const a = anchor();
    a.start();
    let effects = a.ackLock({ forward: 0, reverse: 0 }).effects;
    for (let i = 0; i < 20 && a.state === 'SettingUp'; i++) {
      const t = effects.find((e) => e.effect === 'armTimer');
      effects = t?.effect === 'armTimer' ? a.timeout(t.token).effects : [];
    }
    assert.equal(a.state, 'Abandoning');
    return a;
  };

  test('a timer disarmed by an answer fires stale; a second start is a duplicate', () => {
    const a = anchor();
    const armed = a.start().effects.find((e) => e.effect === 'armTimer');
    assert.equal(a.start().status, 'duplicate');
    a.ackLock({ forward: 0, reverse: 0 });
    assert.equal(armed?.effect === 'armTimer' && a.timeout(armed.token).status, 'stale');
    assert.equal(a.state, 'SettingUp');
  });

  test('SettingUp resends the SYN at 20, 40, 80 … 640 ms, then the set-up time is spent: cancel; cancel retries run out and the lock is abandoned', () => {
    const a = anchor();
    a.start();
    let effects = a.ackLock({ forward: 3, reverse: 4 }).effects;
    const waits: number[] = [];
    const syns: unknown[] = [];
    for (let i = 0; i < 20 && a.state === 'SettingUp'; i++) {
      for (const e of effects) if (e.effect === 'datapath') syns.push(e.command);
      const t = effects.find((e) => e.effect === 'armTimer');
      assert.ok(t?.effect === 'armTimer');
      waits.push(t.afterMs);
      effects = a.timeout(t.token).effects;
    }
    assert.deepEqual(waits, [20, 40, 80, 160, 320, 640, 740]);
    assert.equal(waits.reduce((x, y) => x + y), DEFAULT_LEFT_ANCHOR_TIMING.setupTimeoutMs);
    // Every SYN the same request, so the lcore sends the same SYN again.
    assert.equal(syns.length, 7);
    for (const syn of syns) assert.deepEqual(syn, { command: 'openNewPath', session: a.params.session, id: a.id, hops: [5, 2], delta: { forward: 3, reverse: 4 } });
    // The lcore must confirm first that it never switched; only then are the locks undone.
    assert.deepEqual(effects.map((e) => (e.effect === 'datapath' ? e.command.command : e.effect)), ['abandonNewPath']);
    assert.equal(a.state, 'Abandoning');
    effects = a.newPathAbandoned().effects;
    assert.deepEqual(effects.map((e) => e.effect), ['sendCancelLock', 'armTimer']);
    const canceling = (): boolean => a.state === 'Canceling';
    for (let i = 0; i < 10 && canceling(); i++) {
      const t = effects.find((e) => e.effect === 'armTimer');
      effects = t?.effect === 'armTimer' ? a.timeout(t.token).effects : [];
    }
    assert.deepEqual(effects.map((e) => e.effect), ['abandonLock', 'finished']);
    assert.deepEqual(a.outcome, { result: 'failed', reason: 'setup_timeout' });
  });

  test('the set-up time spent just as the lcore switched: the abandon finds the new path in use, and the run goes on', () => {
    const a = setupTimedOut();
    assert.deepEqual(a.newPathInUse(), { status: 'handled', effects: [] }, 'no cancelLock: the right anchor runs two paths too');
    assert.equal(a.state as string, 'TwoPaths');
    assert.deepEqual(a.oldPathDrained().effects.map((e) => e.effect), ['sendTeardown', 'finished']);
    assert.deepEqual(a.outcome, { result: 'completed' });
    // Its two_paths_entered may come first, while abandoning: the same.
    const b = setupTimedOut();
    assert.equal(b.newPathSynAck().status, 'handled');
    assert.equal(b.state as string, 'TwoPaths');
    assert.equal(b.newPathInUse().status, 'duplicate');
  });

  test('the set-up time spent after the handshake was answered: the path is kept (committed), no cancel until the right anchor gives it up', () => {
    // The right anchor's announcement switches the lcore, as it must once the right anchor has the ACK.
    const a = setupTimedOut();
    assert.deepEqual(a.newPathAnswered(), { status: 'handled', effects: [] }, 'no cancelLock: the right anchor may be on two paths');
    assert.equal(a.state as string, 'Committed');
    assert.equal(a.newPathAnswered().status, 'duplicate');
    assert.equal(a.newPathSynAck().status, 'handled');
    assert.equal(a.state as string, 'TwoPaths');
    assert.deepEqual(a.oldPathDrained().effects.map((e) => e.effect), ['sendTeardown', 'finished']);
    assert.deepEqual(a.outcome, { result: 'completed' });
    // The right anchor never heard the ACK and gave the path up with a RST: now the locks are undone.
    const b = setupTimedOut();
    b.newPathAnswered();
    assert.deepEqual(b.newPathFailed().effects.map((e) => e.effect), ['sendCancelLock', 'armTimer']);
    assert.equal(b.state as string, 'Canceling');
    assert.deepEqual(b.ackCancel().effects.map((e) => e.effect), ['finished']);
    assert.deepEqual(b.outcome, { result: 'failed', reason: 'new_path_failed' });
  });

  test('two paths entered stops the SYN timer; the drained old path completes with a teardown and no datapath request', () => {
    const a = anchor();
    a.start();
    const t = a.ackLock({ forward: 0, reverse: 0 }).effects.find((e) => e.effect === 'armTimer');
    assert.deepEqual(a.newPathSynAck(), { status: 'handled', effects: [] });
    assert.equal(a.newPathSynAck().status, 'duplicate');
    assert.equal(t?.effect === 'armTimer' && a.timeout(t.token).status, 'stale');
    assert.deepEqual(a.oldPathDrained().effects, [{ effect: 'sendTeardown' }, { effect: 'finished', outcome: { result: 'completed' } }]);
    assert.equal(a.oldPathDrained().status, 'duplicate');
  });

  test('a requestLock the channel gave up on cancels at once (unreachable); a lost cancelLock ends the cancel', () => {
    const a = anchor();
    a.start();
    const effects = a.deliveryFailed('requestLock').effects;
    assert.equal(a.state, 'Canceling');
    assert.deepEqual(effects.map((e) => e.effect), ['sendCancelLock', 'armTimer']); // no new path was started
    assert.equal(a.deliveryFailed('requestLock').status, 'stale');
    assert.deepEqual(a.deliveryFailed('cancelLock').effects, [{ effect: 'abandonLock' }, { effect: 'finished', outcome: { result: 'failed', reason: 'unreachable' } }]);
    assert.equal(a.state, 'Done');
    assert.equal(a.deliveryFailed('cancelLock').status, 'stale');
  });

  test('a failed delivery past the lock phase changes nothing', () => {
    const a = anchor();
    a.start();
    a.ackLock({ forward: 0, reverse: 0 });
    assert.deepEqual(a.deliveryFailed('requestLock'), { status: 'stale', effects: [] });
    assert.deepEqual(a.deliveryFailed('cancelLock'), { status: 'stale', effects: [] });
    assert.equal(a.state, 'SettingUp');
  });
});

describe('RightAnchor', () => {
  const session = { srcIp: 1, dstIp: 2, srcPort: 3, dstPort: 4 };
  const id = { leftAnchor: 1, nonce: 9 };
  const delta = { forward: 5, reverse: 6 };
  const expect = { effect: 'datapath', command: { command: 'expectNewPath', session, id, delta } };
  const abandon = { effect: 'datapath', command: { command: 'abandonNewPath', session, id } };

  test('tells its datapath to expect the new path before the ackLock goes, and again on a repeat until the SYN came', () => {
    const r = new RightAnchor(id, session, delta);
    assert.deepEqual(r.requested().effects, [expect, { effect: 'sendAckLock' }]);
    assert.deepEqual(r.requestedAgain().effects, [expect, { effect: 'sendAckLock' }]);
    assert.deepEqual(r.newPathSyn(), { status: 'handled', effects: [] });
    assert.deepEqual(r.requestedAgain().effects, [{ effect: 'sendAckLock' }]);
    assert.deepEqual(r.newPathAck(), { status: 'handled', effects: [] });
    assert.equal(r.state, 'TwoPaths');
    assert.deepEqual(r.oldPathDrained().effects, [{ effect: 'sendTeardown' }, { effect: 'finished' }]);
  });

  test('a cancel before the SYN came abandons the expected path too', () => {
    const r = new RightAnchor(id, session, delta);
    r.requested();
    assert.deepEqual(r.cancelLock().effects, [abandon, { effect: 'sendAckCancel' }, { effect: 'finished' }]);
    assert.deepEqual(r.cancelLock(), { status: 'duplicate', effects: [{ effect: 'sendAckCancel' }] });
  });

  test('a cancel after the SYN was answered abandons it; after the switch it is stale', () => {
    const waiting = new RightAnchor(id, session, delta);
    waiting.requested();
    waiting.newPathSyn();
    assert.deepEqual(waiting.cancelLock().effects[0], abandon);
    const switched = new RightAnchor(id, session, delta);
    switched.requested();
    switched.newPathSyn();
    switched.newPathAck();
    assert.deepEqual(switched.cancelLock(), { status: 'stale', effects: [] });
  });
});

test('addDelta wraps modulo 2^32', () => {
  assert.deepEqual(addDelta({ forward: 0xffffffff, reverse: 0x80000000 }, { forward: 2, reverse: 0x80000000 }), { forward: 1, reverse: 0 });
});
