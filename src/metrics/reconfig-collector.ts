// Live reconfiguration as Prometheus series: runs by role, outcome and reason, the left anchor's duration from start
// to finish, and the anchors running two paths now. Every label takes its value from a fixed list.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { REJECT_REASONS } from '../reconfig/coordinator';
import type { AnchorRole } from '../reconfig/datapath-io';
import type { StateTransferFailure } from '../reconfig/messages';
import { FAILURE_REASONS } from '../reconfig/outcome';

export const RECONFIG_OUTCOMES = ['completed', 'failed', 'rejected'] as const;
export type ReconfigOutcomeLabel = (typeof RECONFIG_OUTCOMES)[number];

/** `session_ended`: the datapath ended the session while a run was going on. */
export const RECONFIG_REASONS: readonly string[] = ['none', ...new Set([...FAILURE_REASONS, ...REJECT_REASONS, 'session_ended'])];

/** 0.5 ms to 5 s. */
export const RECONFIG_DURATION_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

export interface ReconfigMetrics {
  /** One run ended. `reason`: 'none' when completed. `seconds`: the left anchor's, from start to finish. */
  finished(role: AnchorRole, outcome: ReconfigOutcomeLabel, reason: string, seconds?: number): void;
  /** A middlebox deleted (or failed to delete) the state of `sessions` sessions that left it (default 1). */
  stateDeleted(ok: boolean, sessions?: number): void;
  /** One session's state exported and sent (old instance), or imported (new instance), or why not. */
  stateMoved(side: StateSide, outcome: 'ok' | StateTransferFailure): void;
  /** One adapter call for a batch of sessions. */
  stateBatch(side: StateSide, sessions: number, seconds: number): void;
  /** A message refused for its sender (docs/security.md, authorisation). */
  refused(type: string, reason: RefusalReason): void;
}

/** Why a message was refused for who sent it: not the neighbour on its subsession (nor a party of the state move),
 * not the left anchor of the run it names, or state no left anchor announced. */
export const REFUSAL_REASONS = ['not_on_path', 'not_left_anchor', 'not_expected'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export type StateSide = 'export' | 'import';
export const STATE_TRANSFER_OUTCOMES: readonly ('ok' | StateTransferFailure)[] = ['ok', 'not_found', 'exists', 'malformed', 'not_verified', 'failed', 'no_adapter', 'unreachable'];

export function registerReconfigMetrics(registry: Registry, twoPathSessions: () => number): ReconfigMetrics {
  const runs = new Counter({
    name: 'dysco_reconfigurations_total',
    help: 'Reconfigurations ended, by this agent\'s role (left or right anchor), outcome (completed, failed, rejected at the start) and reason (none when completed).',
    labelNames: ['role', 'outcome', 'reason'],
    registers: [registry],
  });
  for (const role of ['left', 'right'] as const) runs.inc({ role, outcome: 'completed', reason: 'none' }, 0);
  for (const reason of FAILURE_REASONS) runs.inc({ role: 'left', outcome: 'failed', reason }, 0);
  runs.inc({ role: 'right', outcome: 'failed', reason: 'canceled' }, 0);
  const duration = new Histogram({
    name: 'dysco_reconfiguration_duration_seconds',
    help: 'Left anchor: from the start of a reconfiguration (first requestLock) to its end (old path drained, or the failure), by outcome.',
    labelNames: ['outcome'],
    buckets: RECONFIG_DURATION_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'dysco_two_path_sessions',
    help: 'Anchors of this agent running two paths: between two_paths_entered and old_path_drained.',
    registers: [registry],
    collect() {
      this.set(twoPathSessions());
    },
  });
  const stateDeletes = new Counter({
    name: 'dysco_middlebox_state_deletes_total',
    help: 'Sessions a reconfiguration took off this middlebox whose state its adapter deleted (ok) or could not (failed, logged).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const outcome of ['ok', 'failed']) stateDeletes.inc({ outcome }, 0);
  const moved = new Counter({
    name: 'dysco_state_transfer_sessions_total',
    help: 'Sessions whose middlebox state this host exported and sent (side export) or imported (side import), by outcome.',
    labelNames: ['side', 'outcome'],
    registers: [registry],
  });
  for (const side of ['export', 'import']) for (const outcome of ['ok', 'failed']) moved.inc({ side, outcome }, 0);
  const batchSeconds = new Histogram({
    name: 'dysco_state_transfer_batch_seconds',
    help: 'One state adapter call for a batch of sessions (export on the old instance\'s host, import with its read-back on the new one\'s).',
    labelNames: ['side'],
    buckets: RECONFIG_DURATION_BUCKETS,
    registers: [registry],
  });
  const batchSessions = new Histogram({
    name: 'dysco_state_transfer_batch_sessions',
    help: 'Sessions per state adapter call.',
    labelNames: ['side'],
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384],
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'dysco_reconfig_refused_total',
    help: 'Reconfiguration messages refused for their sender, by message type and reason (not_on_path, not_left_anchor, not_expected).',
    labelNames: ['type', 'reason'],
    registers: [registry],
  });
  for (const reason of REFUSAL_REASONS) refusals.inc({ type: 'requestLock', reason }, 0);
  return {
    refused(type, reason) {
      refusals.inc({ type, reason });
    },
    stateMoved(side, outcome) {
      moved.inc({ side, outcome: STATE_TRANSFER_OUTCOMES.includes(outcome) ? outcome : 'failed' });
    },
    stateBatch(side, sessions, seconds) {
      batchSeconds.observe({ side }, seconds);
      batchSessions.observe({ side }, sessions);
    },
    stateDeleted(ok, sessions = 1) {
      stateDeletes.inc({ outcome: ok ? 'ok' : 'failed' }, sessions);
    },
    finished(role, outcome, reason, seconds) {
      const label = RECONFIG_REASONS.includes(reason) ? reason : 'other';
      runs.inc({ role, outcome, reason: label });
      if (seconds !== undefined && outcome !== 'rejected') duration.observe({ outcome }, seconds);
    },
  };
}
