// Reconfigurations that move a middlebox's state (docs/state-transfer.md), walked through chains simulated in memory:
// the state moves after the lock and before the new path's SYN, only the new instance's word opens the new path,
// and every failure cancels with the session left on its old path and no state left behind at the new instance.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { A, B, Chain, M, SESSION, type BusItem } from '../support/reconfig-chain';

const completed = { result: 'completed' } as const;
const failed = (reason: string) => ({ result: 'failed', reason });
const isMessage = (type: string) => (item: BusItem) => item.kind === 'message' && item.message.type === type;
const typesSent = (chain: Chain) => chain.results.filter((r) => r.item.kind === 'message').map((r) => (r.item.kind === 'message' ? r.item.message.type : ''));

describe('state transfer in a reconfiguration', () => {
  test('replace M1 by M2 with its state: moveState follows requestLock, the SYN waits for the lock and the new instance\'s ok', () => {
    const chain = new Chain([A, M(1), B]);
    const { id, status } = chain.start(A, B, [M(2)], true);
    assert.equal(status, 'handled');
    assert.deepEqual(chain.queue.map((i) => (i.kind === 'message' ? i.message.type : i.kind)), ['requestLock', 'expectState', 'moveState'], 'in this order: the new instance hears of the move as the old one is asked for it');
    let synTooEarly = false;
    const seen = new Set<string>();
    while (chain.queue.length) {
      const next = chain.queue[0]!;
      if (next.kind === 'message' && next.to === A) seen.add(next.message.type);
      chain.deliver();
      if (chain.synsSent > 0 && !(seen.has('ackLock') && seen.has('stateResult'))) synTooEarly = true;
    }
    assert.equal(synTooEarly, false);
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.walk(), [A, M(2), B]);
    // The new instance holds the state; the old one gave it up when the teardown retired the session there.
    assert.deepEqual([...chain.stateHeld], [M(2)]);
    const order = typesSent(chain);
    assert.ok(order.indexOf('moveState') < order.indexOf('stateChunk') && order.indexOf('stateChunk') < order.indexOf('stateResult'), order.join());
    assert.deepEqual(chain.leftovers(), []);
  });

  test('the lock answers before the state: MovingState waits for the new instance\'s word', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, [M(2)], true);
    const states: string[] = [];
    // Hold the chunk until the lock is in place.
    while (chain.queue.length) {
      const lockDone = chain.agent(A).inspect(SESSION)?.leftAnchor?.state !== 'Requesting';
      const at = lockDone ? 0 : chain.queue.findIndex((i) => !isMessage('stateChunk')(i));
      chain.deliver(at < 0 ? 0 : at);
      const now = chain.agent(A).inspect(SESSION)?.leftAnchor?.state ?? '';
      if (states[states.length - 1] !== now) states.push(now);
    }
    assert.deepEqual(states, ['Requesting', 'MovingState', 'SettingUp', 'TwoPaths', 'Done']);
    assert.deepEqual(chain.outcomeOf(id), completed);
  });

  test('the lock refused after the state moved: the new instance is told to drop it', () => {
    const chain = new Chain([A, M(1), B]);
    // No agent on the path is M(9): the far end answers nackLock(not_anchor), while the state reaches M(2).
    const { id } = chain.start(A, M(9), [M(2)], true);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('not_anchor'));
    assert.ok(typesSent(chain).includes('stateChunk'), 'the state moved while the lock travelled');
    assert.ok(typesSent(chain).includes('dropState'));
    assert.deepEqual([...chain.stateHeld], [M(1)], 'the old instance keeps its state, the new one holds none');
    assert.deepEqual(chain.leftovers(), []);
  });

  test('the new instance cannot import: cancel with its reason, no SYN sent, the session stays on M1', () => {
    const chain = new Chain([A, M(1), B]);
    chain.importWorks = (mb) => mb !== M(2);
    const { id } = chain.start(A, B, [M(2)], true);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('state_failed'));
    assert.equal(chain.synsSent, 0);
    assert.deepEqual(chain.walk(), [A, M(1), B]);
    assert.deepEqual([...chain.stateHeld], [M(1)]);
    // A refusal means nothing was imported: no dropState.
    assert.equal(typesSent(chain).includes('dropState'), false);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('the old instance holds no state for the session: state_not_found, answered by the old instance itself', () => {
    const chain = new Chain([A, M(1), B]);
    chain.stateHeld.delete(M(1));
    const { id } = chain.start(A, B, [M(2)], true);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('state_not_found'));
    assert.equal(typesSent(chain).includes('stateChunk'), false);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('no word on the state in time: state_timeout, and the new instance is told to drop what it may have taken', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, [M(2)], true);
    chain.runLosing(isMessage('stateResult'));
    assert.equal(chain.agent(A).inspect(SESSION)?.leftAnchor?.state, 'MovingState');
    assert.ok(chain.stateHeld.has(M(2)), 'the import happened, only its answer was lost');
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('state_timeout'));
    assert.deepEqual([...chain.stateHeld], [M(1)]);
    assert.equal(chain.synsSent, 0);
    assert.deepEqual(chain.walk(), [A, M(1), B]);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('state moved but the new path fails: the cancel drops the imported state too', () => {
    const chain = new Chain([A, M(1), B]);
    chain.newPathWorks = () => false;
    const { id } = chain.start(A, B, [M(2)], true);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), failed('new_path_failed'));
    assert.deepEqual([...chain.stateHeld], [M(1)]);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('the channel giving up on moveState cancels at once (state_unreachable)', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, [M(2)], true);
    chain.runLosing(isMessage('moveState'));
    const lost = chain.results.length;
    const moveState = { type: 'moveState' as const, id: id!, session: SESSION, subsession: chain.agent(A).inspect(SESSION)!.right!, to: M(2) };
    const result = chain.agent(A).deliveryFailed(moveState);
    assert.equal(result.status, 'handled');
    assert.ok(chain.results.length === lost);
    for (const out of result.outputs) if (out.kind === 'send') chain.queue.push({ kind: 'message', from: A, to: out.to, message: out.message });
    chain.settle();
    assert.equal(chain.agent(A).inspect(SESSION)?.leftAnchor?.state, 'Done');
    assert.deepEqual(chain.leftovers(), []);
  });

  test('state transfer needs exactly one new hop and an old middlebox between the anchors', () => {
    const chain = new Chain([A, M(1), B]);
    assert.deepEqual(chain.start(A, B, [M(2), M(3)], true).status, 'rejected');
    assert.deepEqual(chain.start(A, B, [], true).status, 'rejected');
    const direct = new Chain([A, B]);
    assert.deepEqual(direct.start(A, B, [M(2)], true).status, 'rejected');
  });

  test('a moveState that overtook its requestLock (a datagram lost and sent again) waits for it, and the run completes', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, [M(2)], true);
    assert.deepEqual(chain.queue.map((i) => (i.kind === 'message' ? i.message.type : i.kind)), ['requestLock', 'expectState', 'moveState']);
    chain.queue.reverse();
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.deepEqual(chain.walk(), [A, M(2), B]);
    assert.deepEqual([...chain.stateHeld], [M(2)]);
  });

  test('moveState is taken only from the left anchor whose lock this agent holds, while it holds it', () => {
    const chain = new Chain([A, M(1), B]);
    const left = chain.agent(M(1)).inspect(SESSION)!.left!;
    const fromA = { srcIp: left.dstIp, dstIp: left.srcIp, srcPort: left.dstPort, dstPort: left.srcPort };
    const right = chain.agent(M(1)).inspect(SESSION)!.right!;
    const fromB = { srcIp: right.dstIp, dstIp: right.srcIp, srcPort: right.dstPort, dstPort: right.srcPort };
    const wrongSide = chain.agent(M(1)).receive({ type: 'moveState', id: { leftAnchor: A, nonce: 9 }, session: SESSION, subsession: fromB, to: M(2) });
    assert.equal(wrongSide.status === 'rejected' && wrongSide.reason, 'wrong_direction');
    // With the lock free it waits for its requestLock (it may have overtaken it), exporting nothing.
    const early = chain.agent(M(1)).receive({ type: 'moveState', id: { leftAnchor: A, nonce: 9 }, session: SESSION, subsession: fromA, to: M(2) });
    assert.deepEqual(early.outputs, []);
    // The requestLock of another reconfiguration comes instead: the waiting one is forgotten.
    const { id } = chain.start(A, B, [M(2)], false);
    chain.settle();
    assert.equal(typesSent(chain).includes('stateChunk'), false, 'nothing exported for the request that never came');
    assert.deepEqual(chain.outcomeOf(id), completed);
  });

  test('only the neighbour on the named subsession may send a message about it: anyone else is not_on_path, nothing answered', () => {
    const chain = new Chain([A, M(1), B]);
    const { id } = chain.start(A, B, [M(2)], true);
    const [request] = chain.queue.filter((i) => i.kind === 'message' && i.message.type === 'requestLock');
    assert.ok(request?.kind === 'message');
    const m1 = chain.agent(M(1));
    // The same requestLock, from an agent on no path of the session: refused before any lookup or nack.
    const forged = m1.receive(request.message, M(7));
    assert.deepEqual(forged, { status: 'rejected', reason: 'not_on_path', outputs: [] });
    assert.deepEqual(m1.inspect(SESSION)?.lock?.flag, 'free', 'no lock taken');
    // A stateResult from neither instance of the move does not step the left anchor.
    const result = chain.agent(A).receive({ type: 'stateResult', id: id!, session: SESSION, result: 'ok' }, M(7));
    assert.equal(result.status === 'rejected' && result.reason, 'not_on_path');
    chain.settle();
    assert.deepEqual(chain.outcomeOf(id), completed, 'the genuine run is unaffected');
  });

  test('a moveState for another request than the lock holds is refused', () => {
    const chain = new Chain([A, M(1), B]);
    chain.start(A, B, [M(2)], true);
    chain.deliver(); // the requestLock only: M1's lock holds it
    const left = chain.agent(M(1)).inspect(SESSION)!.left!;
    const fromA = { srcIp: left.dstIp, dstIp: left.srcIp, srcPort: left.dstPort, dstPort: left.srcPort };
    const forged = chain.agent(M(1)).receive({ type: 'moveState', id: { leftAnchor: A, nonce: 0xdead }, session: SESSION, subsession: fromA, to: M(2) });
    assert.deepEqual([forged.status, forged.status === 'rejected' && forged.reason], ['rejected', 'stale']);
    assert.deepEqual(forged.outputs, []);
  });
});

describe('migration asked for by the old middlebox', () => {
  test('M1 hands the session to M2: its left neighbour runs the replacement with state, M1 is owed the result', () => {
    const chain = new Chain([A, M(1), B]);
    assert.equal(chain.requestMigration(M(1), M(2)).status, 'handled');
    chain.settle();
    assert.equal(chain.started.length, 1);
    const { agent, id } = chain.started[0]!;
    assert.equal(agent, A);
    assert.deepEqual(chain.outcomeOf(id), completed);
    assert.equal(chain.finished.find((f) => f.role === 'left')?.requestedBy, M(1));
    assert.deepEqual(chain.walk(), [A, M(2), B]);
    assert.deepEqual([...chain.stateHeld], [M(2)]);
  });

  test('M2 in the middle of a longer chain: the anchors are M1\'s neighbours', () => {
    const chain = new Chain([A, M(1), M(2), M(3), B]);
    chain.requestMigration(M(2), M(4));
    chain.settle();
    assert.deepEqual(chain.walk(), [A, M(1), M(4), M(3), B]);
    assert.equal(chain.started[0]?.agent, M(1));
    assert.ok(chain.stateHeld.has(M(4)) && !chain.stateHeld.has(M(2)));
  });

  test('without state transfer the run skips MovingState', () => {
    const chain = new Chain([A, M(1), B]);
    chain.requestMigration(M(1), M(2), false);
    chain.settle();
    assert.equal(typesSent(chain).includes('moveState'), false);
    assert.deepEqual(chain.walk(), [A, M(2), B]);
  });

  test('a left neighbour already running a reconfiguration refuses: M1 gets migrateResult(busy), nonce 0', () => {
    const chain = new Chain([A, M(1), B]);
    chain.start(A, B, [M(3)]);
    chain.requestMigration(M(1), M(2));
    // Deliver the migrateRequest before anything else of the running one.
    const at = chain.queue.findIndex(isMessage('migrateRequest'));
    chain.deliver(at);
    const answer = chain.queue.find(isMessage('migrateResult'));
    assert.ok(answer && answer.kind === 'message' && answer.message.type === 'migrateResult');
    assert.equal(answer.to, M(1));
    assert.deepEqual([answer.message.outcome, answer.message.id.nonce], ['busy', 0]);
  });

  test('a retransmitted migrateRequest does not start a second run', () => {
    const chain = new Chain([A, M(1), B]);
    chain.requestMigration(M(1), M(2));
    const request = chain.queue.find(isMessage('migrateRequest'))!;
    chain.deliver();
    chain.queue.push(request);
    chain.settle();
    assert.equal(chain.started.length, 1);
    assert.ok(chain.results.some((r) => r.result.status === 'duplicate'));
  });

  test('the asker must be a middlebox, and the replacement neither itself nor a neighbour', () => {
    const chain = new Chain([A, M(1), B]);
    assert.equal(chain.requestMigration(A, M(2)).status, 'rejected');
    for (const bad of [M(1), A, B, 0]) assert.equal(chain.requestMigration(M(1), bad).status, 'rejected', String(bad));
  });
});
