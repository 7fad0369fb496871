// The agent's reconfiguration composition (src/agent/reconfig-service.ts) on two agents: real coordinators, real
// control links and channels between them, in-process stand-ins for the datapaths (test/support/reconfig-agents.ts).
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { leftAnchorTiming, matchesFilter, reconfigurerOf } from '../../src/agent/reconfig-service';
import { retrySpanMs } from '../../src/control/retry-policy';
import type { Tuple } from '../../src/reconfig/messages';
import { FakeNet, RETRY, settle, summary, tuple, type FakeAgent } from '../support/reconfig-agents';

const A = 0x0a000001;
const B = 0x0a000002;
const M = 0x0a000003;
const S = tuple(A, 40000, B, 5201);

let agents: FakeAgent[] = [];
afterEach(() => {
  for (const agent of agents) agent.stop();
  agents = [];
});

/** A direct session A → B: the initiator's right side and the responder's left side. */
async function direct(options: { bLearnsLate?: boolean; sessions?: ReturnType<typeof tuple>[] } = {}) {
  const net = new FakeNet();
  const sessions = options.sessions ?? [S];
  const aDump = sessions.map((t, i) => summary({ id: 5 + i, role: 0, rightSession: t, rightSubsession: t }));
  const bDump = sessions.map((t, i) => summary({ id: 9 + i, role: 2, leftSession: t, leftSubsession: t }));
  const a = net.agent(A, aDump);
  const b = net.agent(B, options.bLearnsLate ? [] : bDump);
  agents.push(a, b);
  await a.start();
  await b.start();
  if (options.bLearnsLate) b.datapath.dump = bDump;
  return { net, a, b };
}

const request = (extra: object = {}) => ({ session: S, rightAnchor: B, via: [M], timeoutMs: 60_000, ...extra });

describe('reconfiguration on two agents', { timeout: 20_000 }, () => {
  test('insert a middlebox into a direct session: requests, specs, the folded views, metrics', async () => {
    const { a, b } = await direct({ bLearnsLate: true });
    const dumpsBefore = b.datapath.sessionCalls;
    const findsBefore = b.datapath.findCalls;
    const results = await a.service.reconfigure(request());
    assert.deepEqual(results, [{ session: S, sessionId: 5, id: { leftAnchor: A, nonce: 100 }, outcome: 'completed', durationMs: 3, newPathSynMs: 0, switchedMs: 1 }]);
    // B heard of the session only from the requestLock: it asked the datapath for that one session, without a dump.
    assert.ok(b.datapath.findCalls > findsBefore);
    assert.equal(b.datapath.sessionCalls, dumpsBefore);
    assert.deepEqual(a.datapath.named('openNewPath'), [[{ sessionId: 5, hostTuple: S, side: 'right', nonce: 100, delta: { forward: 0, reverse: 0 }, hops: [M, B] }]]);
    assert.deepEqual(b.datapath.named('expectNewPath'), [[{ sessionId: 9, hostTuple: S, side: 'left', nonce: 100, delta: { forward: 0, reverse: 0 }, hops: [] }]]);
    assert.deepEqual(a.datapath.named('abandonNewPath'), []);
    await settle();
    const right = a.service.coordinator.inspect(S)?.right;
    const left = b.service.coordinator.inspect(S)?.left;
    assert.equal(right?.srcIp, A);
    assert.equal(right?.dstIp, M);
    assert.equal(left?.srcIp, B);
    assert.equal(left?.dstIp, M);
    assert.equal(await a.metric('dysco_reconfigurations_total', { role: 'left', outcome: 'completed', reason: 'none' }), 1);
    assert.equal(await b.metric('dysco_reconfigurations_total', { role: 'right', outcome: 'completed', reason: 'none' }), 1);
    assert.equal(await a.metric('dysco_reconfiguration_duration_seconds', { outcome: 'completed', le: '0.005' }), 1);
    assert.equal(await a.metric('dysco_reconfiguration_duration_seconds', { outcome: 'completed', le: '0.002' }), 0);
    assert.equal(await a.metric('dysco_two_path_sessions'), 0);
  });

  test('the two-path gauge counts each anchor from the switch until the old path drained', async () => {
    const { a, b } = await direct();
    a.datapath.holdDrain = true;
    const run = a.service.reconfigure(request());
    await settle();
    assert.equal(await a.metric('dysco_two_path_sessions'), 1);
    assert.equal(await b.metric('dysco_two_path_sessions'), 1);
    a.datapath.release();
    assert.equal((await run)[0]?.outcome, 'completed');
    await settle();
    assert.equal(await a.metric('dysco_two_path_sessions'), 0);
    assert.equal(await b.metric('dysco_two_path_sessions'), 0);
  });

  test('a right neighbour that never acks: the link gives up, the run cancels at once (unreachable)', async () => {
    const { net, a } = await direct();
    net.down.add(B);
    const run = a.service.reconfigure(request());
    await settle();
    // The channel's whole retry span for requestLock, then for cancelLock; well before the anchor's own retries end.
    await net.clock.advance(2 * retrySpanMs(RETRY) + 5);
    const [result] = await run;
    assert.equal(result?.outcome, 'failed');
    assert.equal(result?.reason, 'unreachable');
    assert.deepEqual(a.datapath.named('openNewPath'), []);
    assert.equal(await a.metric('dysco_reconfigurations_total', { role: 'left', outcome: 'failed', reason: 'unreachable' }), 1);
    assert.equal(a.service.coordinator.inspect(S)?.lock?.flag, 'free');
  });

  test('a SYN the right anchor did not expect meets a RST: new_path_failed, both sides abandon', async () => {
    const { a, b } = await direct();
    b.datapath.ignoreExpect = true;
    const [result] = await a.service.reconfigure(request());
    assert.equal(result?.reason, 'new_path_failed');
    await settle();
    assert.deepEqual(a.datapath.named('abandonNewPath'), [[5, 100]]);
    assert.deepEqual(b.datapath.named('abandonNewPath'), [[9, 100]]);
    assert.equal(await b.metric('dysco_reconfigurations_total', { role: 'right', outcome: 'failed', reason: 'canceled' }), 1);
  });

  test('a refused OpenNewPath request cancels like a refused handshake', async () => {
    const { a } = await direct();
    a.datapath.refuseOpen = true;
    const [result] = await a.service.reconfigure(request());
    assert.equal(result?.outcome, 'failed');
    assert.equal(result?.reason, 'new_path_failed');
  });

  test('SYNs that vanish are resent on the timer, the same request each time, until the set-up time is spent', async () => {
    const { net, a, b } = await direct();
    net.silent.add(A);
    const run = a.service.reconfigure(request());
    await settle();
    await net.clock.advance(3000);
    const [result] = await run;
    assert.equal(result?.reason, 'setup_timeout');
    const opens = a.datapath.named('openNewPath');
    assert.equal(opens.length, 7); // at 0, 20, 60, 140, 300, 620 and 1260 ms
    for (const open of opens) assert.deepEqual(open, opens[0]);
    await settle();
    assert.deepEqual(b.datapath.named('abandonNewPath'), [[9, 100]]);
  });

  test('the set-up time spent as the lcore switched: the abandon answers NEW_PATH_IN_USE, no cancel goes out, the run completes', async () => {
    const { net, a, b } = await direct();
    net.silent.add(A);
    a.datapath.abandonInUse = true;
    const run = a.service.reconfigure(request());
    await settle();
    await net.clock.advance(3000);
    await settle();
    assert.equal(a.service.coordinator.inspect(S)?.leftAnchor?.state, 'TwoPaths');
    assert.deepEqual(b.datapath.named('abandonNewPath'), [], 'the right anchor was not canceled');
    assert.equal(b.service.coordinator.inspect(S)?.rightAnchor?.state, 'Requested');
    // The lcore drains the old path in its time.
    a.datapath.emitLater('old_path_drained', { type: 'old_path_drained', sessionId: 5, side: 'right' });
    const [result] = await run;
    assert.equal(result?.outcome, 'completed');
  });

  test('the set-up time spent after the handshake was answered: NEW_PATH_ANSWERED keeps the path, no cancel goes out, the switch completes', async () => {
    const { net, a, b } = await direct();
    net.silent.add(A);
    a.datapath.abandonAnswered = true;
    const run = a.service.reconfigure(request());
    await settle();
    await net.clock.advance(3000);
    await settle();
    assert.equal(a.service.coordinator.inspect(S)?.leftAnchor?.state, 'Committed');
    assert.deepEqual(b.datapath.named('abandonNewPath'), [], 'the right anchor was not canceled');
    // The right anchor's announcement comes: the lcore switches, then drains the old path.
    a.datapath.emitLater('two_paths_entered', { type: 'two_paths_entered', sessionId: 5, subsession: { neighbourIp: B, localPort: 40001, neighbourPort: 40002 } });
    await settle();
    assert.equal(a.service.coordinator.inspect(S)?.leftAnchor?.state, 'TwoPaths');
    a.datapath.emitLater('old_path_drained', { type: 'old_path_drained', sessionId: 5, side: 'right' });
    const [result] = await run;
    assert.equal(result?.outcome, 'completed');
  });

  test('the session ending during a run answers failed: session_ended', async () => {
    const { net, a } = await direct();
    net.silent.add(A);
    const run = a.service.reconfigure(request());
    await settle();
    a.datapath.dump = [];
    a.datapath.emitLater('session_ended', { type: 'session_ended', sessionId: 5, role: 'initiator', cause: 'fin' } as never);
    const [result] = await run;
    assert.equal(result?.outcome, 'failed');
    assert.equal(result?.reason, 'session_ended');
    assert.equal(a.service.coordinator.inspect(S), undefined);
    assert.equal(await a.metric('dysco_reconfigurations_total', { role: 'left', outcome: 'failed', reason: 'session_ended' }), 1);
  });

  test('a run still going when the wait ends is reported unfinished, and goes on', async () => {
    const { net, a } = await direct();
    net.silent.add(A);
    const run = a.service.reconfigure(request({ timeoutMs: 150 }));
    await settle();
    await net.clock.advance(200);
    const [result] = await run;
    assert.equal(result?.outcome, 'unfinished');
    assert.deepEqual(result?.id, { leftAnchor: A, nonce: 100 });
    assert.equal(a.service.coordinator.inspect(S)?.leftAnchor?.state, 'SettingUp');
  });

  test('stop answers waiting runs, clears every timer and detaches every listener', async () => {
    const { net, a, b } = await direct();
    net.silent.add(A);
    const run = a.service.reconfigure(request());
    await settle();
    a.stop();
    b.stop();
    // A timer already due when the agent stops arms nothing new.
    await net.clock.advance(10_000);
    const [result] = await run;
    assert.equal(result?.outcome, 'unfinished');
    assert.equal(result?.reason, 'agent_stopping');
    await settle();
    assert.equal(net.clock.active, 0);
    for (const type of ['two_paths_entered', 'old_path_drained', 'new_path_answered', 'new_path_refused', 'session_ended', 'control_packet']) {
      assert.equal(a.datapath.events.listenerCount(type), 0, type);
    }
    await assert.rejects(a.service.reconfigure(request()), /not running/);
  });

  test('a filter runs one reconfiguration per matching session; unknown sessions and refusals are reported per session', async () => {
    const other = tuple(A, 40001, B, 5201);
    const web = tuple(A, 40002, B, 80);
    const { a } = await direct({ sessions: [S, other, web] });
    const results = await a.service.reconfigure({ filter: { dstPort: 5201 }, rightAnchor: B, via: [M], timeoutMs: 60_000 });
    assert.deepEqual(results.map((r) => [r.session.srcPort, r.outcome]).sort(), [[40000, 'completed'], [40001, 'completed']]);
    assert.deepEqual(new Set(results.map((r) => r.id?.nonce)).size, 2);
    assert.deepEqual(await a.service.reconfigure({ filter: { dstPort: 9 }, rightAnchor: B, via: [], timeoutMs: 1000 }), []);
    const [unknown] = await a.service.reconfigure(request({ session: tuple(A, 1, B, 2) }));
    assert.deepEqual(unknown, { session: tuple(A, 1, B, 2), outcome: 'failed', reason: 'unknown_session', durationMs: 0 });
    const [self] = await a.service.reconfigure(request({ session: web, rightAnchor: A }));
    assert.equal(self?.reason, 'invalid');
    assert.equal(await a.metric('dysco_reconfigurations_total', { role: 'left', outcome: 'rejected', reason: 'invalid' }), 1);
  });

  test('the control API\'s view: dotted addresses, the nonce, the duration', async () => {
    const { a } = await direct();
    const results = await reconfigurerOf(a.service, A).reconfigure({ session: S, rightAnchor: B, via: [M], transferState: false, timeoutMs: 1000 });
    assert.deepEqual(results, [{ session: { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 40000, dstPort: 5201 }, sessionId: 5, nonce: 100, outcome: 'completed', durationMs: 3, newPathSynMs: 0, switchedMs: 1 }]);
  });

  test('an event for a session the datapath does not list changes nothing', async () => {
    const { a } = await direct();
    const calls = a.datapath.findCalls;
    a.datapath.emitLater('two_paths_entered', { type: 'two_paths_entered', sessionId: 77, subsession: { neighbourIp: M, localPort: 1, neighbourPort: 2 } });
    a.datapath.emitLater('old_path_drained', { type: 'old_path_drained', sessionId: 5, side: 'right' });
    await settle();
    assert.ok(a.datapath.findCalls > calls); // looked the unknown id up
    assert.equal(a.service.coordinator.inspect(S)?.leftAnchor, undefined);
    assert.equal(await a.metric('dysco_reconfigurations_total', { role: 'left', outcome: 'completed', reason: 'none' }), 0);
  });
});

describe('reconfiguration through a middlebox agent', { timeout: 20_000 }, () => {
  test('remove the middlebox: it hears teardown from both anchors, retires the session in its datapath and deletes its state', async () => {
    const net = new FakeNet();
    const toM = tuple(A, 50000, M, 60000);
    const toB = tuple(M, 50001, B, 60001);
    const deleted: Tuple[][] = [];
    const state = {
      kind: 'test',
      exportState: async () => [],
      importState: async () => [],
      deleteState: async (tuples: readonly Tuple[]) => void deleted.push([...tuples]),
    };
    const a = net.agent(A, [summary({ id: 5, role: 0, rightSession: S, rightSubsession: toM })]);
    const m = net.agent(M, [summary({ id: 7, role: 1, leftSession: S, leftSubsession: toM, rightSession: S, rightSubsession: toB })], state);
    const b = net.agent(B, [summary({ id: 9, role: 2, leftSession: S, leftSubsession: toB })]);
    agents.push(a, m, b);
    for (const agent of agents) await agent.start();
    const [result] = await a.service.reconfigure({ session: S, rightAnchor: B, via: [], timeoutMs: 60_000 });
    assert.equal(result?.outcome, 'completed');
    assert.deepEqual(a.datapath.named('openNewPath'), [[{ sessionId: 5, hostTuple: S, side: 'right', nonce: 100, delta: { forward: 0, reverse: 0 }, hops: [B] }]]);
    await settle();
    assert.deepEqual(m.datapath.named('retireSession'), [[7]]);
    assert.deepEqual(deleted, [[S]], 'the session\'s middlebox state, by the tuple its stack sees');
    assert.equal(await m.metric('dysco_middlebox_state_deletes_total', { outcome: 'ok' }), 1);
    assert.equal(await m.metric('dysco_middlebox_state_deletes_total', { outcome: 'failed' }), 0);
    assert.equal(m.service.coordinator.sessionCount, 0);
    assert.equal(m.service.registry.size, 0);
    // The anchors now name each other as neighbours.
    assert.equal(a.service.coordinator.inspect(S)?.right?.dstIp, B);
    assert.equal(b.service.coordinator.inspect(S)?.left?.dstIp, A);
    // The middlebox took no part as an anchor.
    assert.equal(await m.metric('dysco_reconfigurations_total', { role: 'right', outcome: 'completed', reason: 'none' }), 0);
  });
});

describe('migration with state transfer through the agents', { timeout: 20_000 }, () => {
  const M2 = 0x0a000004;
  /** Three sessions A → M → B, each with its subsessions; M's adapter exports, M2's imports. */
  async function migrationLab(importFails: (t: Tuple) => boolean = () => false) {
    const net = new FakeNet();
    const sessions = [0, 1, 2].map((i) => tuple(A, 41000 + i, B, 80));
    const toM = (i: number) => tuple(A, 50000 + i, M, 60000 + i);
    const toB = (i: number) => tuple(M, 51000 + i, B, 61000 + i);
    const calls = { exports: [] as Tuple[][], imports: [] as Tuple[][], deletes: [] as Tuple[][] };
    const oldState = {
      kind: 'test',
      exportState: async (tuples: readonly Tuple[]) => {
        calls.exports.push([...tuples]);
        return tuples.map((t) => ({ tuple: t, ok: true as const, blob: { tuple: t, bytes: Buffer.alloc(2000, t.srcPort & 0xff) } }));
      },
      importState: async () => [],
      deleteState: async (tuples: readonly Tuple[]) => void calls.deletes.push([...tuples]),
    };
    const newState = {
      kind: 'test',
      exportState: async () => [],
      importState: async (blobs: readonly { tuple: Tuple; bytes: Buffer }[]) => {
        calls.imports.push(blobs.map((b) => b.tuple));
        // Two chunks each (2000 bytes), put back together byte for byte.
        for (const b of blobs) if (b.bytes.length !== 2000 || b.bytes.some((x) => x !== (b.tuple.srcPort & 0xff))) throw new Error('state corrupted on the way');
        return blobs.map((b) => (importFails(b.tuple) ? { tuple: b.tuple, ok: false as const, reason: 'exists' as const } : { tuple: b.tuple, ok: true as const }));
      },
      deleteState: async () => undefined,
    };
    const a = net.agent(A, sessions.map((t, i) => summary({ id: 5 + i, role: 0, rightSession: t, rightSubsession: toM(i) })));
    const m = net.agent(M, sessions.map((t, i) => summary({ id: 20 + i, role: 1, leftSession: t, leftSubsession: toM(i), rightSession: t, rightSubsession: toB(i) })), oldState);
    const m2 = net.agent(M2, [], newState);
    const b = net.agent(B, sessions.map((t, i) => summary({ id: 40 + i, role: 2, leftSession: t, leftSubsession: toB(i) })));
    agents.push(a, m, m2, b);
    for (const agent of agents) await agent.start();
    return { net, a, m, m2, b, sessions, calls };
  }

  test('M hands its three sessions to M2: one export batch, one import batch, every session on the new path', async () => {
    const { a, m, m2, sessions, calls } = await migrationLab();
    const started: number[] = [];
    const seen: string[] = [];
    const results = await m.service.migrate({ to: M2, transferState: true, timeoutMs: 60_000, onStart: (n) => started.push(n), onResult: (r) => seen.push(r.outcome) });
    assert.deepEqual(started, [3]);
    assert.deepEqual(seen, ['completed', 'completed', 'completed']);
    assert.deepEqual(results.map((r) => r.outcome), ['completed', 'completed', 'completed']);
    for (const r of results) assert.ok(r.durationMs !== undefined && r.roundTripMs >= r.durationMs, JSON.stringify(r));
    assert.deepEqual(calls.exports, [sessions], 'one batch, by the tuples M\'s stack sees');
    assert.deepEqual(calls.imports, [sessions]);
    // The new path goes through M2, and only after the state was in place there.
    assert.deepEqual(a.datapath.named('openNewPath').map(([spec]) => (spec as { hops: number[] }).hops), [[M2, B], [M2, B], [M2, B]]);
    await settle();
    assert.equal(m2.service.mover.importsKept, 3);
    assert.equal(await m.metric('dysco_state_transfer_sessions_total', { side: 'export', outcome: 'ok' }), 3);
    assert.equal(await m2.metric('dysco_state_transfer_sessions_total', { side: 'import', outcome: 'ok' }), 3);
    assert.equal(await m2.metric('dysco_state_transfer_batch_sessions', { side: 'import', le: '4' }), 1);
    assert.equal(await a.metric('dysco_reconfigurations_total', { role: 'left', outcome: 'completed', reason: 'none' }), 3);
    // M deleted each session's state when the teardown retired it there.
    assert.equal(calls.deletes.flat().length, 3);
  });

  test('an import refused for one session: that one stays on M with the reason, the others move', async () => {
    const { a, m, sessions, calls } = await migrationLab((t) => t.srcPort === 41001);
    const results = await m.service.migrate({ to: M2, transferState: true, timeoutMs: 60_000 });
    assert.deepEqual(results.map((r) => [r.session.srcPort, r.outcome, r.reason]), [[41000, 'completed', undefined], [41001, 'failed', 'state_exists'], [41002, 'completed', undefined]]);
    assert.equal(a.datapath.named('openNewPath').length, 2, 'no new path for the session whose state did not move');
    await settle();
    assert.deepEqual(a.service.coordinator.inspect(sessions[1]!)?.right?.dstIp, M);
    assert.equal(a.service.coordinator.inspect(sessions[1]!)?.leftAnchor?.state, 'Done');
    assert.equal(calls.deletes.flat().length, 2, 'M keeps the state of the session that stays');
  });

  test('the new instance unreachable: the chunks are given up, the left anchor cancels, every session stays', async () => {
    const { net, a, m } = await migrationLab();
    net.down.add(M2);
    const pending = m.service.migrate({ to: M2, transferState: true, timeoutMs: 60_000 });
    for (let i = 0; i < 40; i++) await net.clock.advance(100);
    const results = await pending;
    assert.deepEqual(results.map((r) => [r.outcome, r.reason]), [['failed', 'state_unreachable'], ['failed', 'state_unreachable'], ['failed', 'state_unreachable']]);
    assert.equal(a.datapath.named('openNewPath').length, 0);
    assert.equal(m.service.coordinator.sessionCount, 3);
  });

  test('concurrency 1: one session at a time, the next started as one ends, each its own export batch', async () => {
    const { m, sessions, calls } = await migrationLab();
    const results = await m.service.migrate({ to: M2, transferState: true, timeoutMs: 60_000, concurrency: 1 });
    assert.deepEqual(results.map((r) => r.outcome), ['completed', 'completed', 'completed']);
    assert.deepEqual(calls.exports, sessions.map((t) => [t]));
    assert.deepEqual(calls.imports, sessions.map((t) => [t]));
  });

  test('without state transfer no state moves; a middlebox with no adapter answers no_adapter', async () => {
    const { m, calls } = await migrationLab();
    const results = await m.service.migrate({ to: M2, transferState: false, timeoutMs: 60_000 });
    assert.deepEqual(results.map((r) => r.outcome), ['completed', 'completed', 'completed']);
    assert.deepEqual([calls.exports, calls.imports], [[], []]);
  });
});

describe('pieces of the composition', () => {
  test('the left anchor\'s lock waits start at the channel\'s retry span', () => {
    const timing = leftAnchorTiming({ initialMs: 20, factor: 2, maxMs: 500, attempts: 8 });
    assert.equal(timing.requestTimeoutMs, 20 + 40 + 80 + 160 + 320 + 500 + 500 + 500);
    assert.equal(timing.cancelTimeoutMs, timing.requestTimeoutMs);
  });

  test('filters match the fields they name', () => {
    assert.ok(matchesFilter(S, {}));
    assert.ok(matchesFilter(S, { srcIp: A, dstPort: 5201 }));
    assert.ok(!matchesFilter(S, { srcIp: B }));
    assert.ok(!matchesFilter(S, { srcPort: 1 }));
  });
});
