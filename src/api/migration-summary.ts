// The closing line of a migration: counts by outcome, the completed runs' duration percentiles, failures by reason.
import type { MigrationSessionResult, MigrationSummary } from './types';

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

/** Nearest-rank percentile of sorted values, or null for none. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function summarizeMigration(results: readonly MigrationSessionResult[], totalMs: number): MigrationSummary {
  const durations = results
    .filter((r) => r.outcome === 'completed' && r.durationMs !== undefined)
    .map((r) => r.durationMs!)
    .sort((a, b) => a - b);
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
    reasons,
  };
}
