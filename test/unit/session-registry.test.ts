// The session registry of the reconfiguration composition: dumps to views by role, diffs, paging, coalescing, and
// single sessions found without a dump.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { registeredSession, SessionRegistry, type RegistryChange } from '../../src/agent/session-registry';
import type { NativeSessionPage } from '../../src/native/binding';
import type { SessionQuery } from '../../src/native/session-types';
import { findInDump, summary, tuple } from '../support/reconfig-agents';

const A = 0x0a000001;
const B = 0x0a000002;
const M = 0x0a000003;
const S = tuple(A, 40000, B, 80);
const inFromA = tuple(A, 50000, M, 60000); // as it arrives at M from A
const outToB = tuple(M, 50001, B, 60001);

describe('registeredSession', () => {
  test('a middlebox: named by its left session; the left subsession reversed (as this agent sends it), the right as is', () => {
    const entry = registeredSession(summary({ id: 3, role: 1, leftSession: S, leftSubsession: inFromA, rightSession: S, rightSubsession: outToB }));
    assert.deepEqual(entry, {
      sessionId: 3,
      role: 'middlebox',
      view: { session: S, left: tuple(M, 60000, A, 50000), right: outToB },
      leftSession: S,
      rightSession: S,
    });
  });

  test('an initiator by its right session, a responder by its left one', () => {
    assert.deepEqual(registeredSession(summary({ id: 1, role: 0, rightSession: S, rightSubsession: S }))?.view, { session: S, right: S });
    assert.deepEqual(registeredSession(summary({ id: 2, role: 2, leftSession: S, leftSubsession: S }))?.view, { session: S, left: tuple(B, 80, A, 40000) });
  });

  test('sessions that are not established, or lack what their role needs, are not registered', () => {
    assert.equal(registeredSession(summary({ id: 1, role: 0, state: 2, rightSession: S, rightSubsession: S })), undefined);
    assert.equal(registeredSession(summary({ id: 1, role: 0, rightSession: S })), undefined);
    assert.equal(registeredSession(summary({ id: 1, role: 1, leftSession: S, leftSubsession: inFromA })), undefined);
    assert.equal(registeredSession(summary({ id: 1, role: 9, leftSession: S })), undefined);
  });
});

describe('SessionRegistry', () => {
  const dumpOf = (summaries: ReturnType<typeof summary>[], pageSize = 2) => {
    const calls: number[] = [];
    let gate: Promise<void> = Promise.resolve();
    const source = {
      calls,
      summaries,
      hold(until: Promise<void>) {
        gate = until;
      },
      async findSession(query: SessionQuery) {
        return findInDump(source.summaries, query);
      },
      async sessions(cursor: number, limit: number): Promise<NativeSessionPage> {
        calls.push(cursor);
        await gate;
        const page = source.summaries.slice(cursor, cursor + Math.min(limit, pageSize));
        return { sessions: page, nextCursor: cursor + page.length < source.summaries.length ? cursor + page.length : null };
      },
    };
    return source;
  };

  test('follows the cursor through every page, then finds sessions by tuple and by id', async () => {
    const sessions = [1, 2, 3, 4, 5].map((i) => summary({ id: i, role: 0, rightSession: tuple(A, i, B, 80), rightSubsession: tuple(A, i, B, 80) }));
    const source = dumpOf(sessions);
    const changes: RegistryChange[] = [];
    const registry = new SessionRegistry(source, (c) => changes.push(c));
    await registry.refresh();
    assert.deepEqual(source.calls, [0, 2, 4]);
    assert.equal(registry.size, 5);
    assert.equal(registry.lookup(tuple(A, 3, B, 80))?.sessionId, 3);
    assert.equal(registry.session(4)?.view.session.srcPort, 4);
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.added.length, 5);
  });

  test('reports added, changed (same tuple, new subsessions) and removed sessions; an unchanged dump reports nothing', async () => {
    const before = [summary({ id: 1, role: 0, rightSession: S, rightSubsession: S }), summary({ id: 2, role: 0, rightSession: tuple(A, 2, B, 80), rightSubsession: tuple(A, 2, B, 80) })];
    const source = dumpOf(before, 10);
    const changes: RegistryChange[] = [];
    const registry = new SessionRegistry(source, (c) => changes.push(c));
    await registry.refresh();
    await registry.refresh();
    assert.equal(changes.length, 1);
    source.summaries = [summary({ id: 1, role: 0, rightSession: S, rightSubsession: outToB }), summary({ id: 7, role: 0, rightSession: tuple(A, 7, B, 80), rightSubsession: tuple(A, 7, B, 80) })];
    await registry.refresh();
    const last = changes[1]!;
    assert.deepEqual(last.changed.map((e) => e.sessionId), [1]);
    assert.deepEqual(last.added.map((e) => e.sessionId), [7]);
    assert.deepEqual(last.removed.map((e) => e.sessionId), [2]);
    assert.deepEqual(registry.lookup(S)?.view.right, outToB);
    assert.equal(registry.lookup(tuple(A, 2, B, 80)), undefined);
  });

  test('refreshes asked for while one runs share one more dump', async () => {
    const source = dumpOf([summary({ id: 1, role: 0, rightSession: S, rightSubsession: S })], 10);
    const registry = new SessionRegistry(source, () => undefined);
    let open!: () => void;
    source.hold(new Promise<void>((resolve) => (open = resolve)));
    const first = registry.refresh();
    const second = registry.refresh();
    const third = registry.refresh();
    assert.equal(second, third);
    open();
    await Promise.all([first, second, third]);
    assert.deepEqual(source.calls, [0, 0]);
  });

  test('find and findById: one session asked of the datapath alone, registered and reported, without a dump', async () => {
    const middlebox = summary({ id: 3, role: 1, leftSession: S, leftSubsession: inFromA, rightSession: S, rightSubsession: outToB });
    const source = dumpOf([middlebox]);
    const changes: RegistryChange[] = [];
    const registry = new SessionRegistry(source, (c) => changes.push(c));
    const entry = await registry.find(S);
    assert.equal(entry?.sessionId, 3);
    assert.equal(registry.lookup(S), entry);
    assert.deepEqual(changes.map((c) => c.added.map((e) => e.sessionId)), [[3]]);
    assert.deepEqual(source.calls, [], 'no dump');
    // The same again changes nothing; a tuple that names no session of this agent finds nothing.
    assert.equal((await registry.find(S))?.sessionId, 3);
    assert.equal(changes.length, 1);
    assert.equal(await registry.find(tuple(A, 1, B, 2)), undefined);
    // Found under the reverse tuple, but named otherwise (its left session is S): not the session asked for.
    assert.equal(await registry.find(outToB), undefined);
    assert.equal((await registry.findById(3))?.sessionId, 3);
    assert.equal(await registry.findById(4), undefined);
  });

  test('forget drops a session at once and says so', () => {
    const changes: RegistryChange[] = [];
    const registry = new SessionRegistry(dumpOf([]), (c) => changes.push(c));
    registry.apply([registeredSession(summary({ id: 1, role: 0, rightSession: S, rightSubsession: S }))!]);
    assert.equal(registry.forget(1)?.sessionId, 1);
    assert.equal(registry.forget(1), undefined);
    assert.equal(registry.lookup(S), undefined);
    assert.deepEqual(changes.map((c) => c.removed.length), [0, 1]);
  });

  test('a dump that fails rejects the refresh; the next one runs again', async () => {
    let fail = true;
    const registry = new SessionRegistry(
      {
        sessions: async () => {
          if (fail) throw new Error('lcore busy');
          return { sessions: [summary({ id: 1, role: 0, rightSession: S, rightSubsession: S })], nextCursor: null };
        },
        findSession: async () => null,
      },
      () => undefined,
    );
    await assert.rejects(registry.refresh(), /lcore busy/);
    fail = false;
    await registry.refresh();
    assert.equal(registry.size, 1);
  });
});
