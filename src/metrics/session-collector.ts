// Session metrics of the Dysco pipeline, read from the native counters at scrape time. The series come
// from native/core/pipeline_counters.def (through generated/codes.ts): a counter with a `kind` joins the
// labelled series of its metric, one without is a series of its own.
import type { Registry } from 'prom-client';
import type { NativePipelineStats } from '../native/binding';
import { PIPELINE_COUNTERS, TEARDOWN_CAUSES, type PipelineCounterKey, type TeardownCauseName } from '../native/generated/codes';
import { labelledSnapshotCounter, snapshotCounter, snapshotGauge } from './snapshot-metrics';

export interface SessionStatsSource {
  pipelineStats(): NativePipelineStats | null;
}

/** The help of a labelled series, from its metric name and the meaning of each kind. */
const LABELLED_HELP: Readonly<Record<string, string>> = {
  dysco_session_setups_total: 'Session set-up steps',
  dysco_control_packets_total: 'Control datagrams between this agent and its peers',
};

interface Series {
  metric: string;
  kinds: { kind: string; key: PipelineCounterKey; meaning: string }[];
}

function seriesOf(): Series[] {
  const byMetric = new Map<string, Series>();
  for (const counter of PIPELINE_COUNTERS) {
    const series = byMetric.get(counter.metric) ?? { metric: counter.metric, kinds: [] };
    series.kinds.push({ kind: counter.kind, key: counter.key, meaning: counter.meaning });
    byMetric.set(counter.metric, series);
  }
  return [...byMetric.values()];
}

export function registerSessionMetrics(registry: Registry, source: () => SessionStatsSource | undefined): void {
  let snapshot: NativePipelineStats | null = null;
  // One native read per scrape: the first collector to run refreshes, the others reuse it.
  let readAt = -1;
  const read = (): NativePipelineStats | null => {
    const now = Date.now();
    if (now !== readAt) {
      snapshot = source()?.pipelineStats() ?? null;
      readAt = now;
    }
    return snapshot;
  };
  const gauge = (name: string, help: string, pick: (s: NativePipelineStats) => number) =>
    snapshotGauge(registry, name, help, read, pick);

  gauge('dysco_sessions_active', 'Sessions in the session table (setting up, established, closing or lingering).', (s) => s.activeSessions);
  gauge('dysco_sessions_capacity', 'Sessions the table can hold.', (s) => s.sessionCapacity);
  gauge('dysco_session_table_bytes', 'Memory of the session table and its lookup tables.', (s) => s.tableBytes);
  gauge('dysco_control_slots_in_use', 'Control datagrams copied off the wire whose event the control plane has not read yet.', (s) => s.controlSlotsInUse);
  for (const series of seriesOf()) {
    const [first] = series.kinds;
    if (series.kinds.length === 1 && first !== undefined && first.kind === '') {
      snapshotCounter(registry, series.metric, first.meaning, read, (s) => s[first.key]);
      continue;
    }
    const keys = new Map(series.kinds.map((k) => [k.kind, k.key]));
    const help = `${LABELLED_HELP[series.metric] ?? series.metric}, by kind: ${series.kinds.map((k) => `${k.kind} (${k.meaning})`).join(', ')}.`;
    labelledSnapshotCounter(registry, series.metric, help, 'kind', [...keys.keys()], read, (s, kind) => s[keys.get(kind)!]);
  }
  labelledSnapshotCounter(registry, 'dysco_session_teardowns_total', 'Sessions retired, by cause.', 'cause', TEARDOWN_CAUSES, read, (s, cause) => s.teardowns[cause as TeardownCauseName]);
}
