// Session metrics of the Dysco pipeline, read from the native counters at scrape time.
import type { Registry } from 'prom-client';
import type { NativePipelineStats } from '../native/binding';
import { labelledSnapshotCounter, snapshotCounter, snapshotGauge } from './snapshot-metrics';

export interface SessionStatsSource {
  pipelineStats(): NativePipelineStats | null;
}

const SETUP_KINDS = {
  initiated: 'sessionsInitiated',
  accepted: 'sessionsAccepted',
  completed: 'sessionsCompleted',
  completed_by_tag: 'completedByTag',
  established: 'established',
} as const;

const TEARDOWN_CAUSES = ['fin', 'rst', 'idle'] as const;

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
  const counter = (name: string, help: string, pick: (s: NativePipelineStats) => number) =>
    snapshotCounter(registry, name, help, read, pick);
  const gauge = (name: string, help: string, pick: (s: NativePipelineStats) => number) =>
    snapshotGauge(registry, name, help, read, pick);

  gauge('dysco_sessions_active', 'Sessions in the session table (setting up, established, closing or lingering).', (s) => s.activeSessions);
  gauge('dysco_sessions_capacity', 'Sessions the table can hold.', (s) => s.sessionCapacity);
  gauge('dysco_session_table_bytes', 'Memory of the session table and its lookup tables.', (s) => s.tableBytes);
  labelledSnapshotCounter(
    registry,
    'dysco_session_setups_total',
    'Session set-up steps: initiated (a local policy chained a SYN), accepted (a SYN with an address list), completed (a pending SYN came back from the middlebox software), completed_by_tag (… after it rewrote the tuple), established (SYN-ACK seen).',
    'kind',
    Object.keys(SETUP_KINDS),
    read,
    (s, kind) => s[SETUP_KINDS[kind as keyof typeof SETUP_KINDS]],
  );
  labelledSnapshotCounter(registry, 'dysco_session_teardowns_total', 'Sessions retired, by cause.', 'cause', TEARDOWN_CAUSES, read, (s, cause) => s.teardowns[cause as (typeof TEARDOWN_CAUSES)[number]]);
  counter('dysco_syn_retransmits_total', 'Retransmitted SYNs handled idempotently.', (s) => s.synRetransmits);
  counter('dysco_tag_no_space_total', 'SYNs delivered untagged because their option space was full.', (s) => s.tagNoSpace);
  counter('dysco_stale_tags_total', 'Tagged SYNs that named no pending session.', (s) => s.staleTags);
  counter('dysco_rsts_ignored_total', 'RSTs whose sender kept talking (out of window): the session carried on.', (s) => s.rstsIgnored);
  counter('dysco_arp_requests_total', 'ARP requests the agent sent for next hops.', (s) => s.arpRequests);
}
