// The closing line of a migration: counts by outcome, the completed runs' duration percentiles, failures by reason.
import type { MigrationSessionResult, MigrationSummary } from './types';

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

/** Nearest-rank percentile of sorted values, or null for none. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function summarizeMigration(results: readonly MigrationSessionResult[], totalMs: number): MigrationSummary {
  const sortedOf = (field: 'durationMs' | 'switchedMs') =>
    results
      .filter((r) => r.outcome === 'completed' && r[field] !== undefined)
      .map((r) => r[field]!)
      .sort((a, b) => a - b);
  const durations = sortedOf('durationMs');
  const switches = sortedOf('switchedMs');
  const at = (sorted: number[], p: number) => {
    const v = percentile(sorted, p);
    return v === null ? null : round3(v);
  };
  const reasons: Record<string, number> = {};
  for (const r of results) {
    if (r.outcome === 'completed') continue;
    const reason = r.reason ?? r.outcome;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  const count = (outcome: MigrationSessionResult['outcome']) => results.filter((r) => r.outcome === outcome).length;
  const p50 = percentile(durations, 50);
  const p99 = percentile(durations, 99);
  const max = durations.length ? durations[durations.length - 1]! : null;
  return {
    sessions: results.length,
    completed: count('completed'),
    failed: count('failed'),
    unfinished: count('unfinished'),
    totalMs: round3(totalMs),
    p50Ms: p50 === null ? null : round3(p50),
    p99Ms: p99 === null ? null : round3(p99),
    maxMs: max === null ? null : round3(max),
    switchP50Ms: at(switches, 50),
    switchP99Ms: at(switches, 99),
    reasons,
  };
}
