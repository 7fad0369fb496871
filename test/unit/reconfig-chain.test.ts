// PROTOCOL.md's reconfiguration scenarios, walked through chains of 0..3 middleboxes simulated in memory: one
// real coordinator per agent, a message bus the test controls, a stand-in for the datapaths' handshake.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { A, B, Chain, M, SESSION, type BusItem } from '../support/reconfig-chain';

const completed = { result: 'completed' } as const;
const failed = (reason: string) => ({ result: 'failed', reason });

/** The commands each anchor gave its datapath, in order. */
const commandsOf = (chain: Chain, agent: number) => chain.commands.filter((c) => c.agent === agent).map((c) => c.command.command);

describe('reconfiguration walks', () => {
  test('insert two middleboxes into a direct session', () => {
    const chain = new Chain([A, B]);
    const { id, status } = chain.start(A, B, [M(1), M(2)]);
    assert.equal(status, 'handled');
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.outcomeOf(id, 'right'), completed);
    assert.deepEqual(chain.path, [A, M(1), M(2), B]);
    assert.deepEqual(chain.walk(), [A, M(1), M(2), B]);
    // The lcores make the handshake, switch and fold on their own: one request each.
    assert.deepEqual(commandsOf(chain, A), ['openNewPath']);
    assert.deepEqual(commandsOf(chain, B), ['expectNewPath']);
    assert.equal(chain.synsSent, 1);
    assert.deepEqual(chain.leftovers(), []);
    // No retransmission was needed: every timer that was armed had been disarmed.
    assert.ok(chain.results.every((r) => r.result.status === 'handled'), JSON.stringify(chain.results.filter((r) => r.result.status !== 'handled')));
  });

  test('the anchors step through the states of PROTOCOL.md in order', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, [M(2)]);
    const states = () => [chain.agent(A).inspect(SESSION)?.leftAnchor?.state, chain.agent(B).inspect(SESSION)?.rightAnchor?.state];
    const seen: unknown[] = [states()];
    while (chain.queue.length) {
      chain.deliver();
      const now = states();
      if (JSON.stringify(now) !== JSON.stringify(seen[seen.length - 1])) seen.push(now);
    }
    assert.deepEqual(seen, [
      ['Requesting', undefined],
      ['Requesting', 'Requested'],
      ['SettingUp', 'Requested'],
      ['SettingUp', 'Waiting'],
      ['TwoPaths', 'Waiting'],
      ['TwoPaths', 'TwoPaths'],
      ['Done', 'TwoPaths'],
      ['Done', 'Done'],
    ]);
    assert.deepEqual(chain.outcomeOf(id), completed);
    // The removed middlebox heard teardown from both anchors and retired the session.
    assert.deepEqual(chain.retired, [M(1)]);
    assert.equal(chain.agent(M(1)).inspect(SESSION), undefined);
    assert.deepEqual(chain.walk(), [A, M(2), B]);
  });

  test('delete one middlebox (left anchor asked to by the operator)', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, []);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.walk(), [A, B]);
    assert.deepEqual(chain.retired, [M(1)]);
  });

  test('a middlebox removes itself with rightRequest: its left neighbour runs it up to its right neighbour', () => {
    const chain = new Chain([A, M(1), M(2), B]);
    assert.equal(chain.requestRemoval(M(2)).status, 'handled');
    const [ask] = chain.messagesOfType('rightRequest');
    assert.ok(ask?.kind === 'message' && ask.to === M(1));
    assert.equal(ask.message.type === 'rightRequest' && ask.message.rightAnchor, B);
    chain.settle();
    const run = chain.finished.find((f) => f.role === 'left');
    assert.equal(run?.agent, M(1));
    assert.deepEqual(run?.outcome, completed);
    assert.deepEqual(chain.walk(), [A, M(1), B]);
    assert.deepEqual(chain.retired, [M(2)]);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('a retransmitted rightRequest does not start a second reconfiguration', () => {
    const chain = new Chain([A, M(1), B]);
    chain.requestRemoval(M(1));
    chain.requestRemoval(M(1));
    chain.run();
    assert.deepEqual(
      chain.results.filter((r) => r.item.kind === 'message' && r.item.message.type === 'rightRequest').map((r) => r.result.status),
      ['handled', 'duplicate'],
    );
    chain.settle();
    assert.equal(chain.finished.filter((f) => f.role === 'left').length, 1);
    assert.deepEqual(chain.walk(), [A, B]);
  });

  test('insert one to the right of an existing middlebox', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(M(1), B, [M(2)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.walk(), [A, M(1), M(2), B]);
    assert.deepEqual(chain.retired, []);
  });

  test('replace one middlebox by another', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, [M(2)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.walk(), [A, M(2), B]);
  });

  test('delete two middleboxes out of three', () => {
    const chain = new Chain([A, M(1), M(2), M(3), B]);
    const { id } = chain.start(M(1), B, []);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.walk(), [A, M(1), B]);
    assert.deepEqual(chain.retired.sort(), [M(2), M(3)].sort());
    assert.deepEqual(chain.leftovers(), []);
  });

  test('a second reconfiguration of the folded path runs on the new subsessions', () => {
    const chain = new Chain([A, B]);
    chain.start(A, B, [M(1)]);
    chain.settle();
    const { id } = chain.start(A, B, [M(2), M(3)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.walk(), [A, M(2), M(3), B]);
    // The anchors' teardowns of the first reconfiguration's old path came back on folded subsessions, quietly.
    assert.deepEqual(chain.leftovers(), []);
  });
});

describe('refusals', () => {
  test('the far endpoint that is not the wanted anchor answers nackLock(not_anchor)', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, M(9), []);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('not_anchor'));
    assert.deepEqual(chain.walk(), [A, M(1), B]);
    assert.deepEqual(chain.leftovers(), []);
    assert.equal(chain.commands.length, 0);
  });

  test('a locked subsession answers nackLock(locked)', () => {
    const fresh = new Chain([A, M(1), M(2), B]);
    const held = fresh.start(M(1), B, [M(3)]);
    while (fresh.agent(M(1)).inspect(SESSION)?.leftAnchor?.state === 'Requesting') fresh.deliver();
    assert.equal(fresh.agent(M(1)).inspect(SESSION)?.lock?.flag, 'locked');
    const second = fresh.start(A, B, []);
    fresh.settle();
    assert.deepEqual(fresh.outcomeOf(second.id), failed('locked'));
    assert.deepEqual(fresh.outcomeOf(held.id), completed);
    assert.deepEqual(fresh.walk(), [A, M(1), M(3), B]);
    assert.deepEqual(fresh.leftovers(), []);
  });

  test('a middlebox whose delta is not fixed refuses to be locked for removal (delta_not_fixed)', () => {
    const chain = new Chain([A, M(1), B], { unfixedDeltas: new Set([M(1)]) });
    const { id } = chain.start(A, B, []);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('delta_not_fixed'));
    assert.deepEqual(chain.leftovers(), []);
    chain.agent(M(1)).setDelta(SESSION, { forward: 7, reverse: 0 }, true);
    const again = chain.start(A, B, []);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(again.id), completed);
  });
});

describe('lost and duplicated messages', () => {
  test('a lost requestLock is retransmitted on the timeout', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, [M(2)]);
    assert.equal(chain.drop((i) => i.kind === 'message' && i.message.type === 'requestLock').length, 1);
    chain.run();
    assert.equal(chain.timers.length, 1);
    assert.equal(chain.timers[0]!.afterMs, 20);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.walk(), [A, M(2), B]);
  });

  test('a requestLock lost beyond the first hop: the retransmission goes on through the pending middlebox', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, []);
    chain.deliver(); // A → M(1): M(1) now lockPending, forwards
    assert.equal(chain.drop((i) => i.kind === 'message' && i.message.type === 'requestLock').length, 1);
    chain.fireTimers();
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
  });

  test('a lost ackLock: the retransmitted requestLock is answered again by the locked middlebox', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, []);
    chain.deliver();
    chain.deliver(); // B sends ackLock to M(1)
    chain.deliver(); // M(1) locks, sends ackLock to A
    assert.equal(chain.drop((i) => i.kind === 'message' && i.message.type === 'ackLock').length, 1);
    assert.equal(chain.agent(M(1)).inspect(SESSION)?.lock?.flag, 'locked');
    chain.fireTimers();
    assert.deepEqual(
      chain.queue.map((i) => i.kind === 'message' && `${i.message.type}→${i.to}`),
      [`requestLock→${M(1)}`],
    );
    chain.deliver();
    assert.deepEqual(chain.queue.map((i) => i.kind === 'message' && `${i.message.type}→${i.to}`), [`ackLock→${A}`]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
  });

  test('every control message delivered twice changes nothing but the duplicate counts', () => {
    const chain = new Chain([A, M(1), M(2), B]);
    const { id } = chain.start(A, B, [M(3)]);
    for (let i = 0; chain.queue.length && i < 1000; i++) {
      const next = chain.queue[0]!;
      if (next.kind === 'message') chain.queue.splice(1, 0, structuredClone(next));
      chain.deliver();
      if (next.kind === 'message') chain.deliver(); // the copy, right behind it
    }
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.equal(chain.finished.filter((f) => f.role === 'left').length, 1);
    assert.deepEqual(chain.walk(), [A, M(3), B]);
    assert.deepEqual(chain.leftovers(), []);
    const statuses = new Set(chain.results.map((r) => r.result.status));
    assert.ok(statuses.has('duplicate'));
  });

  test('requestLock lost on every try: the left anchor gives up, cancels, and nothing stays locked', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, []);
    chain.deliver(); // reaches M(1), which is lockPending now
    const retransmissions: number[] = [];
    const toB = (i: BusItem) => i.kind === 'message' && i.message.type === 'requestLock' && i.to === B;
    for (let round = 0; round < 10 && !chain.outcomeOf(id); round++) {
      chain.runLosing(toB);
      retransmissions.push(...chain.timers.map((t) => t.afterMs));
      chain.fireTimers();
    }
    assert.deepEqual(chain.outcomeOf(id), failed('lock_timeout'));
    assert.deepEqual(retransmissions.slice(0, 6), [20, 40, 80, 160, 320, 20]); // five tries, then the cancel
    assert.deepEqual(chain.leftovers(), []);
    assert.deepEqual(chain.walk(), [A, M(1), B]);
  });
});

describe('cancel', () => {
  test('a failed new path cancels: everything unlocked after, session unchanged on the old path', () => {
    const chain = new Chain([A, M(1), M(2), B]);
    chain.newPathWorks = () => false;
    const { id } = chain.start(A, B, [M(3)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('new_path_failed'));
    assert.deepEqual(chain.outcomeOf(id, 'right'), failed('canceled'));
    assert.deepEqual(chain.walk(), [A, M(1), M(2), B]);
    assert.deepEqual(chain.leftovers(), []);
    assert.deepEqual(commandsOf(chain, A), ['openNewPath', 'abandonNewPath']);
    assert.deepEqual(commandsOf(chain, B), ['expectNewPath', 'abandonNewPath']);
    // The session can be reconfigured again afterwards.
    chain.newPathWorks = () => true;
    const again = chain.start(A, B, [M(3)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(again.id), completed);
  });

  test('a lost cancelLock is retransmitted; a lost ackCancel is answered again', () => {
    const chain = new Chain([A, M(1), B]);
    chain.newPathWorks = () => false;
    const { id } = chain.start(A, B, []);
    while (!chain.messagesOfType('cancelLock').length) chain.deliver();
    chain.drop((i) => i.kind === 'message' && i.message.type === 'cancelLock');
    chain.fireTimers();
    while (!chain.messagesOfType('ackCancel').length) chain.deliver();
    chain.drop((i) => i.kind === 'message' && i.message.type === 'ackCancel');
    chain.fireTimers();
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('new_path_failed'));
    assert.deepEqual(chain.leftovers(), []);
  });

  test('a cancel that overtakes its own requestLock: the late request is refused and locks nothing', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, []);
    chain.deliver(); // M(1) lockPending, forwards requestLock to B
    const late = chain.drop((i) => i.kind === 'message' && i.message.type === 'requestLock');
    for (let i = 0; i < 10 && !chain.outcomeOf(id); i++) {
      chain.runLosing((x) => x.kind === 'message' && x.message.type === 'requestLock' && x.to === B);
      chain.fireTimers();
    }
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('lock_timeout'));
    chain.queue.push(...late);
    chain.run();
    assert.deepEqual(chain.leftovers(), []);
    assert.equal(chain.agent(B).inspect(SESSION)?.rightAnchor, undefined);
  });
});

describe('the sequence-number delta', () => {
  test('accumulates hop by hop across two middleboxes, modulo 2^32, on requestLock and on ackLock', () => {
    const deltas = new Map([
      [M(1), { forward: 0xfffffff0, reverse: 5 }],
      [M(2), { forward: 0x20, reverse: 0xffffffff }],
    ]);
    const chain = new Chain([A, M(1), M(2), B], { deltas });
    const { id } = chain.start(A, B, []);
    chain.run();
    const syn = chain.commands.find((c) => c.command.command === 'openNewPath')?.command;
    const expect = chain.commands.find((c) => c.command.command === 'expectNewPath')?.command;
    const want = { forward: 0x10, reverse: 4 };
    assert.deepEqual(syn?.command === 'openNewPath' && syn.delta, want);
    assert.deepEqual(expect?.command === 'expectNewPath' && expect.delta, want);
    assert.deepEqual(chain.outcomeOf(id), completed);
  });

  test('the anchors add nothing of their own; a middlebox outside the segment adds nothing', () => {
    const deltas = new Map([
      [M(1), { forward: 100, reverse: 200 }],
      [M(2), { forward: 1, reverse: 2 }],
      [B, { forward: 9, reverse: 9 }],
    ]);
    const chain = new Chain([A, M(1), M(2), B], { deltas });
    chain.start(M(1), B, []);
    chain.settle();
    const syn = chain.commands.find((c) => c.command.command === 'openNewPath')?.command;
    assert.deepEqual(syn?.command === 'openNewPath' && syn.delta, { forward: 1, reverse: 2 });
  });
});

describe('the coordinator rejects what it cannot place, and changes nothing', () => {
  const setup = () => {
    const chain = new Chain([A, M(1), B]);
    return { chain, m1: chain.agent(M(1)), before: JSON.stringify(chain.agent(M(1)).inspect(SESSION)) };
  };
  const id = { leftAnchor: A, nonce: 1 };

  test('an unknown session: rejected; a requestLock for it is answered nackLock(unknown_session)', () => {
    const { m1 } = setup();
    const other = { ...SESSION, srcPort: 1 };
    const subsession = { srcIp: A, dstIp: M(1), srcPort: 1, dstPort: 2 };
    const r = m1.receive({ type: 'requestLock', id, session: other, subsession, rightAnchor: B, delta: { forward: 0, reverse: 0 } });
    assert.equal(r.status === 'rejected' && r.reason, 'unknown_session');
    assert.equal(r.outputs.length, 1);
    const reply = r.outputs[0]!;
    assert.ok(reply.kind === 'send' && reply.to === A && reply.message.type === 'nackLock' && reply.message.reason === 'unknown_session');
    assert.equal(m1.receive({ type: 'ackCancel', id, session: other, subsession }).status, 'rejected');
  });

  test('an unknown subsession, a wrong direction, a stale answer, a bad delta', () => {
    const { m1, before } = setup();
    const seen = m1.inspect(SESSION)!;
    const fromA = { ...seen.left!, srcIp: seen.left!.dstIp, dstIp: seen.left!.srcIp, srcPort: seen.left!.dstPort, dstPort: seen.left!.srcPort };
    const fromB = { srcIp: seen.right!.dstIp, dstIp: seen.right!.srcIp, srcPort: seen.right!.dstPort, dstPort: seen.right!.srcPort };
    const reason = (r: ReturnType<typeof m1.receive>) => (r.status === 'rejected' ? r.reason : r.status);
    assert.equal(reason(m1.receive({ type: 'cancelLock', id, session: SESSION, subsession: { ...fromA, srcPort: 9 } })), 'unknown_subsession');
    assert.equal(reason(m1.receive({ type: 'ackLock', id, session: SESSION, subsession: fromA, rightAnchor: B, delta: { forward: 0, reverse: 0 } })), 'wrong_direction');
    assert.equal(reason(m1.receive({ type: 'requestLock', id, session: SESSION, subsession: fromB, rightAnchor: B, delta: { forward: 0, reverse: 0 } })), 'wrong_direction');
    assert.equal(reason(m1.receive({ type: 'ackLock', id, session: SESSION, subsession: fromB, rightAnchor: B, delta: { forward: 0, reverse: 0 } })), 'stale');
    assert.equal(reason(m1.receive({ type: 'nackLock', id, session: SESSION, subsession: fromB, reason: 'locked' })), 'stale');
    assert.equal(reason(m1.receive({ type: 'ackCancel', id, session: SESSION, subsession: fromB })), 'stale');
    assert.equal(reason(m1.receive({ type: 'requestLock', id, session: SESSION, subsession: fromA, rightAnchor: B, delta: { forward: -1, reverse: 0 } })), 'invalid');
    assert.equal(reason(m1.receive({ type: 'teardown', id, session: SESSION, subsession: fromA })), 'handled'); // a middlebox's half
    const { chain: c2, m1: fresh, before: freshBefore } = setup();
    assert.equal(reason(fresh.datapath({ event: 'newPathSynAck', session: SESSION, newSubsession: fromA })), 'stale');
    assert.equal(reason(fresh.datapath({ event: 'twoPathsEntered', session: SESSION, newSubsession: fromA })), 'stale');
    assert.equal(reason(fresh.datapath({ event: 'oldPathDrained', session: SESSION, role: 'right' })), 'stale');
    assert.equal(reason(fresh.timeout({ session: SESSION, id, token: 1 })), 'stale');
    assert.equal(reason(fresh.receive({ type: 'bogus' } as never)), 'invalid');
    assert.equal(reason(fresh.receive({ type: 'ackLock', session: SESSION } as never)), 'invalid');
    assert.equal(JSON.stringify(fresh.inspect(SESSION)), freshBefore);
    assert.equal(c2.queue.length, 0);
    assert.ok(before.length > 0);
  });

  test('start: unknown session, no right neighbour, an anchor that is this agent, busy', () => {
    const chain = new Chain([A, M(1), B]);
    const reason = (r: { status: string; reason?: string }) => r.reason ?? r.status;
    assert.equal(reason(chain.agent(A).start({ session: { ...SESSION, dstPort: 1 }, rightAnchor: B, newHops: [] })), 'unknown_session');
    assert.equal(reason(chain.agent(B).start({ session: SESSION, rightAnchor: A, newHops: [] })), 'no_neighbour');
    assert.equal(reason(chain.agent(A).start({ session: SESSION, rightAnchor: A, newHops: [] })), 'invalid');
    assert.equal(reason(chain.agent(A).start({ session: SESSION, rightAnchor: B, newHops: [B] })), 'invalid');
    assert.equal(reason(chain.start(A, B, [])), 'handled');
    assert.equal(reason(chain.start(A, B, [])), 'busy');
    assert.equal(reason(chain.agent(A).requestRemoval(SESSION)), 'no_neighbour');
  });
});

describe('the datapath contract: the lcores make the handshake', () => {
  test('a new path whose SYNs vanish (a middlebox on it down): the SYN is resent, then the set-up time is spent and it cancels', () => {
    const chain = new Chain([A, M(1), B]);
    chain.newPathSilent = () => true;
    const { id } = chain.start(A, B, [M(2)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('setup_timeout'));
    assert.deepEqual(chain.outcomeOf(id, 'right'), failed('canceled'));
    assert.equal(chain.synsSent, 7);
    assert.deepEqual(commandsOf(chain, A), [...Array(7).fill('openNewPath'), 'abandonNewPath']);
    assert.deepEqual(commandsOf(chain, B), ['expectNewPath', 'abandonNewPath']);
    assert.deepEqual(chain.walk(), [A, M(1), B]);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('two_paths_entered goes to the right anchor on the subsession its SYN came on, else to the left anchor', () => {
    // M(1) is right anchor of A's reconfiguration and left anchor of its own at the same time.
    const chain = new Chain([A, M(1), B]);
    const first = chain.start(A, M(1), [M(2)]);
    const second = chain.start(M(1), B, [M(3)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(first.id), completed);
    assert.deepEqual(chain.outcomeOf(second.id), completed);
    assert.deepEqual(chain.walk(), [A, M(2), M(1), M(3), B]);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('the channel giving up on the left anchor\'s requestLock cancels it at once (unreachable)', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, []);
    const [lost] = chain.drop((i) => i.kind === 'message' && i.message.type === 'requestLock');
    assert.ok(lost?.kind === 'message');
    const result = chain.agent(A).deliveryFailed(lost.message);
    assert.equal(result.status, 'handled');
    assert.deepEqual(result.outputs.map((o) => (o.kind === 'send' ? o.message.type : o.kind)), ['cancelLock', 'timer']);
    assert.equal(chain.agent(A).inspect(SESSION)?.leftAnchor?.state, 'Canceling');
    // The cancel's own delivery failing ends it: the agent's own lock is cleared whatever became of the rest.
    const cancel = result.outputs.find((o) => o.kind === 'send');
    assert.ok(cancel?.kind === 'send');
    const ended = chain.agent(A).deliveryFailed(cancel.message);
    assert.ok(ended.outputs.some((o) => o.kind === 'finished' && o.outcome.result === 'failed' && o.outcome.reason === 'unreachable'));
    assert.equal(chain.agent(A).inspect(SESSION)?.lock?.flag, 'free');
    assert.equal(chain.outcomeOf(id), undefined); // the test bus was bypassed for the two calls above
  });

  test('failed deliveries that are not the left anchor\'s lock messages are stale; junk is invalid', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, []);
    chain.deliver(); // M(1) forwards requestLock to B
    const [forwarded] = chain.messagesOfType('requestLock');
    assert.ok(forwarded?.kind === 'message' && forwarded.message.type === 'requestLock');
    const reason = (r: { status: string; reason?: string }) => r.reason ?? r.status;
    assert.equal(reason(chain.agent(M(1)).deliveryFailed(forwarded.message)), 'stale');
    assert.equal(reason(chain.agent(A).deliveryFailed({ type: 'teardown', id: id!, session: SESSION, subsession: SESSION })), 'stale');
    assert.equal(reason(chain.agent(A).deliveryFailed({ ...forwarded.message, id: { leftAnchor: A, nonce: 999 } })), 'stale');
    assert.equal(reason(chain.agent(A).deliveryFailed({ ...forwarded.message, session: { ...SESSION, srcPort: 1 } })), 'unknown_session');
    assert.equal(reason(chain.agent(A).deliveryFailed({ type: 'requestLock' } as never)), 'invalid');
    assert.equal(chain.agent(A).inspect(SESSION)?.leftAnchor?.state, 'Requesting');
  });

  test('the two-path count follows the anchors from the switch to the drained old path', () => {
    const chain = new Chain([A, B]);
    chain.start(A, B, [M(1)]);
    const counts: number[] = [];
    while (chain.queue.length) {
      chain.deliver();
      counts.push(chain.agent(A).twoPathAnchors() + chain.agent(B).twoPathAnchors());
    }
    assert.ok(counts.includes(2));
    assert.equal(counts[counts.length - 1], 0);
  });
});
