// Two reconfigurations of one session contending for overlapping segments: exactly one succeeds, or the held one
// goes on after the first fails; never both locked, never a mutual lock-out. Deterministic walks, then random
// interleavings (fast-check) over chains of 0..3 middleboxes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { A, B, Chain, M, SESSION } from '../support/reconfig-chain';

const completed = { result: 'completed' };

describe('two overlapping reconfigurations', () => {
  test('a request meeting a subsession lockPending for another is held; the other succeeds, the held one is refused', () => {
    const chain = new Chain([A, M(1), M(2), B]);
    const inner = chain.start(M(1), B, [M(4)]); // M(1)→M(2) lockPending for this one
    const outer = chain.start(A, M(2), [M(3)]);
    chain.deliver(0); // inner's requestLock reaches M(2)
    chain.deliver(0); // outer's requestLock reaches M(1): held
    assert.deepEqual(chain.agent(M(1)).inspect(SESSION)?.lock?.held, [outer.id]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(inner.id), completed);
    assert.deepEqual(chain.outcomeOf(outer.id), { result: 'failed', reason: 'contention' });
    assert.deepEqual(chain.walk(), [A, M(1), M(4), B]);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('the held request goes on when the lock request it waited for is nacked, and succeeds', () => {
    const chain = new Chain([A, M(1), M(2), B]);
    const inner = chain.start(M(1), M(9), [M(4)]); // no such anchor: B will answer nackLock(not_anchor)
    const outer = chain.start(A, M(2), [M(3)]);
    chain.deliver(0);
    chain.deliver(0);
    assert.deepEqual(chain.agent(M(1)).inspect(SESSION)?.lock?.held, [outer.id]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(inner.id), { result: 'failed', reason: 'not_anchor' });
    assert.deepEqual(chain.outcomeOf(outer.id), completed);
    assert.deepEqual(chain.walk(), [A, M(3), M(2), B]);
    assert.deepEqual(chain.leftovers(), []);
  });

  test('a lock acked and then canceled (its new path failed) still refused the held one: refusal follows the lock answer', () => {
    const chain = new Chain([A, M(1), M(2), B]);
    chain.newPathWorks = (left) => left !== M(1);
    const inner = chain.start(M(1), B, [M(4)]);
    const outer = chain.start(A, M(2), [M(3)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(inner.id), { result: 'failed', reason: 'new_path_failed' });
    assert.deepEqual(chain.outcomeOf(outer.id), { result: 'failed', reason: 'contention' });
    assert.deepEqual(chain.leftovers(), []);
    const again = chain.start(A, M(2), [M(3)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(again.id), completed);
  });

  test('a left anchor whose own subsession is lockPending for a passing request waits for it, then starts', () => {
    const chain = new Chain([A, M(1), M(2), B]);
    const outer = chain.start(A, M(9), []);
    chain.deliver(); // outer is lockPending at M(1)→M(2)
    const inner = chain.start(M(1), B, [M(3)]);
    assert.deepEqual(chain.agent(M(1)).inspect(SESSION)?.lock?.held, [inner.id]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(outer.id), { result: 'failed', reason: 'not_anchor' });
    assert.deepEqual(chain.outcomeOf(inner.id), completed);
    assert.deepEqual(chain.walk(), [A, M(1), M(3), B]);
  });

  test('segments that share only an anchor both succeed', () => {
    const chain = new Chain([A, M(1), B]);
    const left = chain.start(A, M(1), [M(2)]);
    const right = chain.start(M(1), B, [M(3)]);
    chain.settle();
    assert.deepEqual(chain.outcomeOf(left.id), completed);
    assert.deepEqual(chain.outcomeOf(right.id), completed);
    assert.deepEqual(chain.walk(), [A, M(2), M(1), M(3), B]);
  });
});

describe('random interleavings of two contending requests (fast-check)', () => {
  const scenario = fc
    .record({
      middleboxes: fc.integer({ min: 0, max: 3 }),
      picks: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
      works: fc.tuple(fc.boolean(), fc.boolean()),
      insert: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
      order: fc.array(fc.nat(), { maxLength: 400 }),
      startAt: fc.nat({ max: 6 }),
    })
    .map((s) => {
      const path = [A, ...Array.from({ length: s.middleboxes }, (_, i) => M(i + 1)), B];
      const segment = (a: number, b: number): [number, number] => {
        const l = a % (path.length - 1);
        const r = l + 1 + (b % (path.length - 1 - l));
        return [l, r];
      };
      return { ...s, path, segments: [segment(s.picks[0]!, s.picks[1]!), segment(s.picks[2]!, s.picks[3]!)] as const };
    });

  test('never both locked when overlapping, never a deadlock, no refusal for contention unless the other won', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const chain = new Chain(s.path);
        const fresh = [[M(20), M(21)], [M(30)]];
        const lefts = s.segments.map(([l]) => s.path[l]!);
        chain.newPathWorks = (left) => (left === lefts[0] ? s.works[0] : s.works[1]);
        const ids: (ReturnType<Chain['start']> | undefined)[] = [undefined, undefined];
        const begin = (k: 0 | 1) => {
          const [l, r] = s.segments[k];
          ids[k] = chain.start(s.path[l]!, s.path[r]!, fresh[k]!.slice(0, s.insert[k]!));
        };
        begin(0);
        // The second starts after a random number of deliveries, so it may find the first anywhere on its way.
        let steps = 0;
        let order = 0;
        let concurrent = false;
        const acked = new Set<number>();
        const overlap = Math.max(s.segments[0][0], s.segments[1][0]) < Math.min(s.segments[0][1], s.segments[1][1]);
        while (chain.queue.length > 0 || ids[1] === undefined) {
          if (ids[1] === undefined && (steps >= s.startAt || chain.queue.length === 0)) {
            concurrent = chain.outcomeOf(ids[0]?.id) === undefined;
            begin(1);
          }
          if (chain.queue.length === 0) continue;
          chain.deliver((s.order[order++ % Math.max(1, s.order.length)] ?? 0) % chain.queue.length);
          steps += 1;
          assert.ok(steps < 5000, 'bus never empties');
          const lockedNow = [0, 1].filter((k) => {
            const state = chain.agent(lefts[k]!).inspect(SESSION)?.leftAnchor;
            return state !== undefined && ids[k]?.id !== undefined && state.id.nonce === ids[k]!.id!.nonce && ['SettingUp', 'TwoPaths'].includes(state.state);
          });
          lockedNow.forEach((k) => acked.add(k));
          if (overlap) assert.ok(lockedNow.length < 2, 'two overlapping segments locked at once');
        }
        // Quiet without a single timer firing: no request waits for another forever.
        const outcomes = ids.map((r) => (r?.status === 'rejected' ? { result: 'rejected', reason: r.reason } : chain.outcomeOf(r?.id)));
        assert.ok(outcomes.every((o) => o !== undefined), `unfinished: ${JSON.stringify(outcomes)} ${chain.leftovers().join('; ')}`);
        const won = outcomes.map((o) => o?.result === 'completed');
        if (overlap && concurrent) assert.ok(!(won[0] && won[1]), 'both overlapping reconfigurations completed');
        for (const k of [0, 1]) {
          const o = outcomes[k] as { result: string; reason?: string };
          if (o.reason === 'contention') assert.ok(acked.has(1 - k), 'refused for contention although the other was never locked');
          if (o.reason === 'new_path_failed') assert.equal(chain.newPathWorks(lefts[k]!), false);
        }
        // Non-overlapping requests whose new paths work both complete (a shared left anchor runs one at a time).
        if (!overlap && concurrent && s.works[0] && s.works[1] && lefts[0] !== lefts[1]) assert.deepEqual(won, [true, true]);
        assert.deepEqual(chain.leftovers(), []);
        assert.deepEqual(chain.walk(), chain.path);
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});
