// What the agents of a testbed can tell about a failed run: every counter of trouble that is not zero (drops by
// reason, rejected control messages, failed deliveries, reconfigurations and their new paths' steps, RSTs, teardowns),
// and the tail of each agent's log.
import { metricSamples } from './exposition';
import type { Testbed } from './testbed';

const TROUBLE_METRICS = [
  'dysco_drops_total',
  'dysco_datapath_events_dropped_total',
  'dysco_control_rejected_total',
  'dysco_control_delivery_failures_total',
  'dysco_reconfigurations_total',
  'dysco_new_path_steps_total',
  'dysco_rsts_ignored_total',
  'dysco_session_teardowns_total',
];

/** The lines of a Prometheus text exposition that belong to `names` and count something. */
export function nonZeroSamples(exposition: string, names: readonly string[]): string[] {
  return names
    .flatMap((name) => metricSamples(exposition, name))
    .filter((s) => Number.isFinite(s.value) && s.value !== 0)
    .map((s) => s.line);
}

/** One block per agent host; never throws (a dead agent is reported as such). */
export async function agentDiagnosis(tb: Testbed, logLines = 20): Promise<string> {
  const blocks: string[] = [];
  for (const host of tb.hosts) {
    if (!host.agent) continue;
    let counters: string;
    try {
      counters = nonZeroSamples(await tb.scrapeMetrics(host), TROUBLE_METRICS).join('\n  ') || '(no trouble counted)';
    } catch (err) {
      counters = `metrics unavailable: ${(err as Error).message}`;
    }
    let log: string;
    try {
      log = tb.agentLogTail(host, logLines);
    } catch (err) {
      log = `log unavailable: ${(err as Error).message}`;
    }
    blocks.push(`agent ${host.name}:\n  ${counters}\n  log:\n${log.replace(/^/gm, '    ')}`);
  }
  return blocks.join('\n');
}

/** Runs `body`; if it throws, the error's message gains the agents' diagnosis. */
export async function withAgentDiagnosis<T>(tb: Testbed, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof Error) {
      const diagnosis = `\n--- agents ---\n${await agentDiagnosis(tb)}`;
      err.message += diagnosis;
      // The test runner prints the stack, which took the message in when the error was made.
      if (err.stack) err.stack += diagnosis;
    }
    throw err;
  }
}
