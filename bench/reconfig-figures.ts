// The `reconfig` benchmark's arithmetic, apart from any testbed: which reconfigurations to run on which session, the
// figures of the last JSON line from per-reconfiguration timing records and per-session stream results, and the
// duration histogram.
import { metricSamples } from '../src/testbed/exposition';
import type { ReconfigKind, ReconfigTiming } from './reconfig-timing';

export type { ReconfigKind, ReconfigTiming } from './reconfig-timing';

/** One planned reconfiguration: the session's middleboxes between the anchors before and after. */
export interface PlannedReconfiguration {
  /** which of the concurrent sessions */
  session: number;
  kind: ReconfigKind;
  from: readonly string[];
  to: readonly string[];
}

/** Each session cycles direct → [mb1] (insert) → [mb2] (replace) → direct (remove); sessions take turns. */
export function planReconfigurations(total: number, sessions: number): PlannedReconfiguration[] {
  if (!Number.isInteger(total) || total < 0) throw new RangeError(`reconfiguration count must be a non-negative integer, got ${total}`);
  if (!Number.isInteger(sessions) || sessions < 1) throw new RangeError(`session count must be a positive integer, got ${sessions}`);
  const cycle: { kind: ReconfigKind; to: readonly string[] }[] = [
    { kind: 'insert', to: ['mb1'] },
    { kind: 'replace', to: ['mb2'] },
    { kind: 'remove', to: [] },
  ];
  const chains: (readonly string[])[] = Array.from({ length: sessions }, () => []);
  const steps = new Array<number>(sessions).fill(0);
  return Array.from({ length: total }, (_, i) => {
    const session = i % sessions;
    const step = cycle[steps[session]! % cycle.length]!;
    steps[session]!++;
    const planned = { session, kind: step.kind, from: chains[session]!, to: step.to };
    chains[session] = step.to;
    return planned;
  });
}

/** Nearest-rank percentile of unsorted values; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

/** What the bench measured of one session's verified stream. */
export interface SessionStreamFigures {
  ok: boolean;
  bytesLost: number;
}

export interface ReconfigFigures {
  /** lock request to old path gone, completed reconfigurations; null when none completed */
  p50_ms: number | null;
  p99_ms: number | null;
  /** as the paper measured: first SYN on the new path to the new path's first data */
  paper_p50_ms: number | null;
  /** the phases around it: lock request to the new path's first SYN, and first data on it to the old path gone */
  lock_p50_ms: number | null;
  completion_p50_ms: number | null;
  /** p50 by kind: an insert locks a direct segment (two agents), a replace or remove one with a middlebox (three) */
  p50_ms_by_kind: Record<ReconfigKind, number | null>;
  /** reconfigurations that did not complete, and those planned but never recorded */
  failures: number;
  bytes_lost: number;
  /** sessions whose stream was not intact or not cleanly closed */
  stream_failures: number;
  /** client RetransSegs with reconfigurations minus the same sessions without; null without both runs */
  extra_retransmissions: number | null;
  /** failure reasons and how often each came */
  failure_reasons: Record<string, number>;
}

export interface FigureInputs {
  planned: number;
  timings: readonly ReconfigTiming[];
  sessions: readonly SessionStreamFigures[];
  retransmissions?: { baseline: number; reconfigured: number };
}

const rounded = (value: number | undefined) => (value === undefined ? null : Math.round(value * 1000) / 1000);

/** Duration of a completed reconfiguration, ms, or undefined when it did not complete or misses a timestamp. */
export function totalDurationMs(t: ReconfigTiming): number | undefined {
  if (t.outcome.result !== 'completed' || t.oldPathGoneAtMs === undefined) return undefined;
  return t.oldPathGoneAtMs - t.lockRequestedAtMs;
}

export function paperDurationMs(t: ReconfigTiming): number | undefined {
  if (t.outcome.result !== 'completed' || t.newPathSynAtMs === undefined || t.newPathFirstDataAtMs === undefined) return undefined;
  return t.newPathFirstDataAtMs - t.newPathSynAtMs;
}

/** The lock phase and the completion around the paper's span, ms; undefined for what misses a mark. */
export function phaseDurationsMs(t: ReconfigTiming): { lock?: number; completion?: number } {
  if (t.outcome.result !== 'completed') return {};
  return {
    ...(t.newPathSynAtMs !== undefined && { lock: t.newPathSynAtMs - t.lockRequestedAtMs }),
    ...(t.newPathFirstDataAtMs !== undefined && t.oldPathGoneAtMs !== undefined && { completion: t.oldPathGoneAtMs - t.newPathFirstDataAtMs }),
  };
}

const p50OfKind = (timings: readonly ReconfigTiming[], kind: ReconfigKind) =>
  rounded(percentile(timings.flatMap((t) => (t.kind === kind ? (totalDurationMs(t) ?? []) : [])), 50));

export function reconfigFigures(inputs: FigureInputs): ReconfigFigures {
  const totals = inputs.timings.flatMap((t) => totalDurationMs(t) ?? []);
  const paper = inputs.timings.flatMap((t) => paperDurationMs(t) ?? []);
  const phases = inputs.timings.map(phaseDurationsMs);
  const reasons: Record<string, number> = {};
  let failed = 0;
  for (const t of inputs.timings) {
    if (t.outcome.result === 'failed') {
      failed++;
      reasons[t.outcome.reason] = (reasons[t.outcome.reason] ?? 0) + 1;
    } else if (totalDurationMs(t) === undefined) {
      failed++;
      reasons.incomplete_timing = (reasons.incomplete_timing ?? 0) + 1;
    }
  }
  const unrecorded = Math.max(0, inputs.planned - inputs.timings.length);
  if (unrecorded > 0) reasons.not_run = unrecorded;
  return {
    p50_ms: rounded(percentile(totals, 50)),
    p99_ms: rounded(percentile(totals, 99)),
    paper_p50_ms: rounded(percentile(paper, 50)),
    lock_p50_ms: rounded(percentile(phases.flatMap((p) => p.lock ?? []), 50)),
    completion_p50_ms: rounded(percentile(phases.flatMap((p) => p.completion ?? []), 50)),
    p50_ms_by_kind: {
      insert: p50OfKind(inputs.timings, 'insert'),
      replace: p50OfKind(inputs.timings, 'replace'),
      remove: p50OfKind(inputs.timings, 'remove'),
    },
    failures: failed + unrecorded,
    bytes_lost: inputs.sessions.reduce((sum, s) => sum + s.bytesLost, 0),
    stream_failures: inputs.sessions.filter((s) => !s.ok).length,
    extra_retransmissions: inputs.retransmissions ? inputs.retransmissions.reconfigured - inputs.retransmissions.baseline : null,
    failure_reasons: reasons,
  };
}

export const TARGETS = { p50Ms: 5, p99Ms: 50 } as const;

/** The bar: every planned reconfiguration completed within the targets, no byte lost, every stream intact. */
export function meetsTargets(figures: ReconfigFigures, planned: number): boolean {
  return (
    planned > 0 &&
    figures.failures === 0 &&
    figures.bytes_lost === 0 &&
    figures.stream_failures === 0 &&
    figures.p50_ms !== null &&
    figures.p50_ms <= TARGETS.p50Ms &&
    figures.p99_ms !== null &&
    figures.p99_ms <= TARGETS.p99Ms
  );
}

export interface HistogramBin {
  fromMs: number;
  toMs: number;
  count: number;
}

/** Fixed-width bins from 0 to past the largest value; a value on an edge goes to the bin it starts. */
export function durationHistogram(valuesMs: readonly number[], binMs: number): HistogramBin[] {
  if (!(binMs > 0) || !Number.isFinite(binMs)) throw new RangeError(`bin width must be positive, got ${binMs}`);
  if (valuesMs.length === 0) return [];
  for (const v of valuesMs) if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`durations must be finite and non-negative, got ${v}`);
  const bins = Math.floor(Math.max(...valuesMs) / binMs) + 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of valuesMs) counts[Math.floor(v / binMs)]!++;
  return counts.map((count, i) => ({ fromMs: i * binMs, toMs: (i + 1) * binMs, count }));
}

/** A bin width giving about 20 bins, rounded to 1, 2 or 5 × a power of ten. */
export function niceBinWidth(valuesMs: readonly number[]): number {
  const max = valuesMs.length === 0 ? 1 : Math.max(...valuesMs);
  const raw = Math.max(max / 20, 1e-3);
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((w) => w >= raw)!;
}

/** A Vega-Lite bar chart of the bins. */
export function histogramSpec(bins: readonly HistogramBin[], title: string): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 480,
    height: 240,
    data: { values: bins },
    mark: 'bar',
    encoding: {
      x: { field: 'fromMs', type: 'quantitative', bin: { binned: true }, title: 'lock request → old path gone, ms' },
      x2: { field: 'toMs' },
      y: { field: 'count', type: 'quantitative', title: 'reconfigurations' },
    },
  };
}

/**
 * The q-quantile (0 < q ≤ 1) of a Prometheus histogram in a text exposition, in the histogram's unit, interpolated
 * linearly inside its bucket as Prometheus's histogram_quantile does; undefined without observations.
 */
export function histogramQuantile(exposition: string, name: string, q: number): number | undefined {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${q}`);
  const buckets = metricSamples(exposition, `${name}_bucket`).flatMap((s) => {
    const le = /[{,]le="([^"]+)"/.exec(s.line)?.[1];
    return le === undefined ? [] : [{ le: le === '+Inf' ? Infinity : Number(le), count: s.value }];
  });
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lower; // beyond the last bound: its bound is all one can say
      return lower + ((b.le - lower) * (rank - below)) / Math.max(1, b.count - below);
    }
    lower = b.le;
    below = b.count;
  }
  return lower;
}
