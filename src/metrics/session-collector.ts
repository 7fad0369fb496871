// Session metrics of the Dysco pipeline, read from the native counters at scrape time.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NativePipelineStats } from '../native/binding';

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
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const s = read();
        this.reset();
        if (s) this.inc(pick(s));
      },
    });
  const gauge = (name: string, help: string, pick: (s: NativePipelineStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = read();
        this.set(s ? pick(s) : 0);
      },
    });

  gauge('dysco_sessions_active', 'Sessions in the session table (setting up, established, closing or lingering).', (s) => s.activeSessions);
  gauge('dysco_sessions_capacity', 'Sessions the table can hold.', (s) => s.sessionCapacity);
  gauge('dysco_session_table_bytes', 'Memory of the session table and its lookup tables.', (s) => s.tableBytes);
  new Counter({
    name: 'dysco_session_setups_total',
    help: 'Session set-up steps: initiated (a local policy chained a SYN), accepted (a SYN with an address list), completed (a pending SYN came back from the middlebox software), completed_by_tag (… after it rewrote the tuple), established (SYN-ACK seen).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const s = read();
      this.reset();
      for (const [kind, field] of Object.entries(SETUP_KINDS)) this.inc({ kind }, s ? s[field] : 0);
    },
  });
  new Counter({
    name: 'dysco_session_teardowns_total',
    help: 'Sessions retired, by cause.',
    labelNames: ['cause'],
    registers: [registry],
    collect() {
      const s = read();
      this.reset();
      for (const cause of TEARDOWN_CAUSES) this.inc({ cause }, s ? s.teardowns[cause] : 0);
    },
  });
  counter('dysco_syn_retransmits_total', 'Retransmitted SYNs handled idempotently.', (s) => s.synRetransmits);
  counter('dysco_tag_no_space_total', 'SYNs delivered untagged because their option space was full.', (s) => s.tagNoSpace);
  counter('dysco_stale_tags_total', 'Tagged SYNs that named no pending session.', (s) => s.staleTags);
  counter('dysco_arp_requests_total', 'ARP requests the agent sent for next hops.', (s) => s.arpRequests);
}
