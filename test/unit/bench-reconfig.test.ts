// The `reconfig` bench harness without a testbed: the plan of reconfigurations, the figures of its JSON line from
// timing records and stream results, the histogram and its plot, and runReconfiguration refusing until it is wired.
import type { ApiClient } from '../../src/api/client';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { writeSvg } from '../../bench/plot';
import { runReconfiguration } from '../../bench/reconfig';
import {
  durationHistogram,
  histogramQuantile,
  histogramSpec,
  meetsTargets,
  niceBinWidth,
  percentile,
  planReconfigurations,
  reconfigFigures,
  type ReconfigTiming,
} from '../../bench/reconfig-figures';
import type { Testbed } from '../../src/testbed';

function completed(lock: number, total: number, paper?: [number, number]): ReconfigTiming {
  return {
    session: 0,
    kind: 'insert',
    outcome: { result: 'completed' },
    lockRequestedAtMs: lock,
    oldPathGoneAtMs: lock + total,
    ...(paper ? { newPathSynAtMs: lock + paper[0], newPathFirstDataAtMs: lock + paper[1] } : {}),
  };
}

describe('planReconfigurations', () => {
  test('each session cycles insert, replace, remove, and the chains follow on', () => {
    const plan = planReconfigurations(7, 2);
    assert.deepEqual(
      plan.map((p) => [p.session, p.kind, p.from.join(','), p.to.join(',')]),
      [
        [0, 'insert', '', 'mb1'],
        [1, 'insert', '', 'mb1'],
        [0, 'replace', 'mb1', 'mb2'],
        [1, 'replace', 'mb1', 'mb2'],
        [0, 'remove', 'mb2', ''],
        [1, 'remove', 'mb2', ''],
        [0, 'insert', '', 'mb1'],
      ],
    );
  });

  test('100 over 8 sessions mixes all three kinds', () => {
    const plan = planReconfigurations(100, 8);
    assert.equal(plan.length, 100);
    const kinds = new Map<string, number>();
    for (const p of plan) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
    assert.ok(['insert', 'replace', 'remove'].every((k) => (kinds.get(k) ?? 0) >= 30), JSON.stringify([...kinds]));
  });

  test('bad counts are refused', () => {
    assert.throws(() => planReconfigurations(-1, 1), RangeError);
    assert.throws(() => planReconfigurations(1, 0), RangeError);
    assert.deepEqual(planReconfigurations(0, 3), []);
  });
});

describe('percentile', () => {
  test('nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([], 50), undefined);
    assert.throws(() => percentile([1], 0), RangeError);
  });
});

describe('reconfigFigures', () => {
  test('durations from lock request to old path gone; the paper’s from new-path SYN to first data; the phases around it', () => {
    const timings = [completed(1000, 2, [0.5, 1.5]), completed(2000, 4, [1, 2]), completed(3000, 40, [1, 4])];
    const figures = reconfigFigures({
      planned: 3,
      timings,
      sessions: [{ ok: true, bytesLost: 0 }],
      retransmissions: { baseline: 10, reconfigured: 14 },
    });
    assert.equal(figures.p50_ms, 4);
    assert.equal(figures.p99_ms, 40);
    assert.equal(figures.paper_p50_ms, 1);
    // lock phases 0.5, 1, 1; completions 0.5, 2, 36
    assert.equal(figures.lock_p50_ms, 1);
    assert.equal(figures.completion_p50_ms, 2);
    assert.deepEqual(figures.p50_ms_by_kind, { insert: 4, replace: null, remove: null });
    assert.equal(figures.failures, 0);
    assert.equal(figures.extra_retransmissions, 4);
    assert.equal(meetsTargets(figures, 3), true);
  });

  test('failures by reason, planned but unrecorded ones, incomplete timings, bytes lost, broken streams', () => {
    const figures = reconfigFigures({
      planned: 5,
      timings: [
        completed(0, 3),
        { session: 1, kind: 'remove', outcome: { result: 'failed', reason: 'locked' }, lockRequestedAtMs: 5 },
        { session: 1, kind: 'remove', outcome: { result: 'failed', reason: 'locked' }, lockRequestedAtMs: 9 },
        { session: 0, kind: 'replace', outcome: { result: 'completed' }, lockRequestedAtMs: 12 },
      ],
      sessions: [
        { ok: true, bytesLost: 0 },
        { ok: false, bytesLost: 1460 },
      ],
    });
    assert.equal(figures.failures, 4);
    assert.deepEqual(figures.failure_reasons, { locked: 2, incomplete_timing: 1, not_run: 1 });
    assert.equal(figures.bytes_lost, 1460);
    assert.equal(figures.stream_failures, 1);
    assert.equal(figures.extra_retransmissions, null);
    assert.equal(figures.p50_ms, 3);
    assert.equal(figures.paper_p50_ms, null);
    assert.equal(meetsTargets(figures, 5), false);
  });

  test('nothing completed: null durations, never a number, and the bar is missed', () => {
    const figures = reconfigFigures({
      planned: 2,
      timings: [0, 1].map((i) => ({ session: i, kind: 'insert' as const, outcome: { result: 'failed' as const, reason: 'reconfiguration is not wired yet' }, lockRequestedAtMs: i })),
      sessions: [{ ok: true, bytesLost: 0 }],
      retransmissions: { baseline: 3, reconfigured: 3 },
    });
    assert.equal(figures.p50_ms, null);
    assert.equal(figures.p99_ms, null);
    assert.equal(figures.failures, 2);
    assert.equal(meetsTargets(figures, 2), false);
  });

  test('the targets: p50 5 ms and p99 50 ms, inclusive', () => {
    const base = { planned: 2, sessions: [{ ok: true, bytesLost: 0 }] };
    assert.equal(meetsTargets(reconfigFigures({ ...base, timings: [completed(0, 5), completed(0, 50)] }), 2), true);
    assert.equal(meetsTargets(reconfigFigures({ ...base, timings: [completed(0, 5.5), completed(0, 6)] }), 2), false);
    assert.equal(meetsTargets(reconfigFigures({ ...base, timings: [completed(0, 1), completed(0, 51)] }), 2), false);
    assert.equal(meetsTargets(reconfigFigures({ planned: 0, timings: [], sessions: [] }), 0), false, 'nothing measured is no pass');
  });
});

describe('histogram', () => {
  test('fixed bins from 0; edges go to the bin they start; counts add up', () => {
    const bins = durationHistogram([0, 0.9, 1, 1.5, 4.99, 5], 1);
    assert.deepEqual(bins.map((b) => [b.fromMs, b.toMs, b.count]), [[0, 1, 2], [1, 2, 2], [2, 3, 0], [3, 4, 0], [4, 5, 1], [5, 6, 1]]);
    assert.deepEqual(durationHistogram([], 1), []);
    assert.throws(() => durationHistogram([1], 0), RangeError);
    assert.throws(() => durationHistogram([-1], 1), RangeError);
  });

  test('nice bin widths', () => {
    assert.equal(niceBinWidth([20]), 1);
    assert.equal(niceBinWidth([50]), 5);
    assert.equal(niceBinWidth([3]), 0.2);
    assert.equal(niceBinWidth([]), 0.05);
  });

  test('renders to an SVG with one bar per non-empty bin, making the results folder a fresh clone lacks', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dysco-reconfig-plot-'));
    try {
      const file = join(dir, 'results', 'h.svg');
      await writeSvg(file, histogramSpec(durationHistogram([1, 1.2, 3.4, 7], 1), 'test'));
      const svg = readFileSync(file, 'utf8');
      assert.match(svg, /^<svg/);
      assert.equal((svg.match(/role="graphics-symbol"/g) ?? []).length >= 3, true, 'bars are drawn');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('runReconfiguration asks the left anchor for the session and turns its answer into timing marks', async () => {
  const addresses: Record<string, string> = { server: '10.0.4.2', mb1: '10.0.2.2' };
  const tb = { host: (name: string) => ({ address: addresses[name]! }) } as unknown as Testbed;
  const session = { srcIp: '10.0.1.2', dstIp: '10.0.4.2', srcPort: 40000, dstPort: 7400 };
  const asked: unknown[] = [];
  const answer = (result: object) =>
    ({
      reconfigure: async (body: unknown) => {
        asked.push(body);
        return { results: [result] };
      },
    }) as unknown as ApiClient;
  const done = await runReconfiguration(tb, answer({ session, outcome: 'completed', durationMs: 4.5, newPathSynMs: 1.25, switchedMs: 2 }), session, { session: 0, kind: 'insert', from: [], to: ['mb1'] });
  assert.deepEqual(asked[0], { session, rightAnchor: '10.0.4.2', via: ['10.0.2.2'], timeoutMs: 10_000 });
  assert.equal(done.outcome.result, 'completed');
  // The marks are offsets added to performance.now(): equal up to the rounding of that sum.
  const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-6, `${actual} ≈ ${expected}`);
  close(done.oldPathGoneAtMs! - done.lockRequestedAtMs, 4.5);
  close(done.newPathFirstDataAtMs! - done.newPathSynAtMs!, 0.75);
  const failed = await runReconfiguration(tb, answer({ session, outcome: 'failed', reason: 'setup_timeout', durationMs: 2000 }), session, { session: 0, kind: 'remove', from: ['mb1'], to: [] });
  assert.deepEqual(failed.outcome, { result: 'failed', reason: 'setup_timeout' });
  assert.equal(failed.oldPathGoneAtMs, undefined);
});

test('histogramQuantile: interpolated inside the bucket, like histogram_quantile; undefined when empty', () => {
  const exposition = [
    '# TYPE rt histogram',
    'rt_bucket{le="0.001"} 2',
    'rt_bucket{le="0.002"} 6',
    'rt_bucket{le="0.005"} 8',
    'rt_bucket{le="+Inf"} 10',
    'rt_sum 0.05',
    'rt_count 10',
    'other_bucket{le="0.001"} 10',
  ].join('\n');
  // rank 5 of 10 falls in (1, 2] ms, 3 of its 4: 1.75 ms
  assert.equal(histogramQuantile(exposition, 'rt', 0.5), 0.00175);
  assert.equal(histogramQuantile(exposition, 'rt', 0.1), 0.0005, 'rank 1 of the first bucket\'s 2, from 0');
  assert.equal(histogramQuantile(exposition, 'rt', 1), 0.005, 'past the last bound: that bound');
  assert.equal(histogramQuantile('rt_bucket{le="+Inf"} 0', 'rt', 0.5), undefined);
  assert.throws(() => histogramQuantile(exposition, 'rt', 0), RangeError);
});
