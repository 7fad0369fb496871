// `reconfig`: reconfigurations of live Dysco sessions carrying verified traffic both ways (insert, replace, remove on
// chain-2: client and server with mb1 and mb2 beside them), each timed from the left anchor's lock request to the old
// path gone, and as the paper timed it (first SYN on the new path to its first data). The same sessions run once
// without reconfiguration first, so that the extra retransmissions are the reconfigurations' own.
//
// Each reconfiguration goes through the client agent's control API (the left anchor), as `dysco ctl reconfigure`
// does; the agent reports the time from its first requestLock to its fold (after which the old path carries nothing
// and the teardown goes along it), and the marks of the new path's SYN and of the switch.
import { join } from 'node:path';
import { ApiClient } from '../src/api/client';
import { defaultApiSocket } from '../src/api/socket-path';
import type { Tuple } from '../src/api/types';
import { parseIpv4 } from '../src/net/ipv4';
import {
  createTestbed,
  metricSamples,
  nonZeroSamples,
  readPcapFile,
  runVerifiedStreams,
  startCapture,
  type Capture,
  type Testbed,
  type VerifiedStreamsResult,
} from '../src/testbed';
import type { DeviceKind } from '../src/testbed/state';
import { writeSvg } from './plot';
import {
  durationHistogram,
  histogramQuantile,
  histogramSpec,
  meetsTargets,
  niceBinWidth,
  planReconfigurations,
  reconfigFigures,
  TARGETS,
  totalDurationMs,
  type PlannedReconfiguration,
  type ReconfigTiming,
} from './reconfig-figures';
import { formatTable, report, RESULTS_DIR } from './report';
import { wireStepFigures, wireTimelines, type WireStepFigure } from './wire-timeline';

export interface ReconfigBenchOptions {
  quick: boolean;
  deviceKind: DeviceKind;
  /** concurrent sessions */
  streams: number;
  /** each stream's rate each way; default DEFAULT_RATE_MBIT */
  rateMbit?: number;
  /** capture the client's link during the reconfigured run and time each step on the wire (bench/wire-timeline.ts) */
  wire?: boolean;
  log: (line: string) => void;
}

const PORT = 7400;
const SEED = 0x5eed;
const CONTROL_PORT = 7777;

/**
 * Reconfigures one live session on the testbed to pass through `step.to` (between the client and the server, its
 * anchors) through the client agent's control API, and resolves with its timing marks.
 */
export async function runReconfiguration(tb: Testbed, api: ApiClient, session: Tuple, step: PlannedReconfiguration): Promise<ReconfigTiming> {
  const lockRequestedAtMs = performance.now();
  const response = await api.reconfigure({ session, rightAnchor: tb.host('server').address, via: step.to.map((h) => tb.host(h).address), timeoutMs: 10_000 });
  const result = response.results[0];
  if (!result) throw new Error('the agent matched no session');
  const base = { session: step.session, kind: step.kind, lockRequestedAtMs };
  if (result.outcome !== 'completed') return { ...base, outcome: { result: 'failed', reason: result.reason ?? result.outcome } };
  return {
    ...base,
    outcome: { result: 'completed' },
    oldPathGoneAtMs: lockRequestedAtMs + result.durationMs,
    ...(result.newPathSynMs !== undefined && { newPathSynAtMs: lockRequestedAtMs + result.newPathSynMs }),
    ...(result.switchedMs !== undefined && { newPathFirstDataAtMs: lockRequestedAtMs + result.switchedMs }),
  };
}

/** The sessions to PORT as the client agent lists them, by client port: plan session i is the i-th. */
async function benchSessions(api: ApiClient): Promise<Tuple[]> {
  const records = await api.allSessions({ port: PORT });
  return records
    .flatMap((r) => (r.right && r.right.session.dstPort === PORT && r.state === 'established' ? [r.right.session] : []))
    .sort((a, b) => a.srcPort - b.srcPort);
}

async function reconfigureAll(tb: Testbed, plan: readonly PlannedReconfiguration[], timings: ReconfigTiming[], log: (line: string) => void): Promise<void> {
  const api = new ApiClient(defaultApiSocket(tb.agentPid('client')), { timeoutMs: 30_000 });
  // Every planned session must be up before the first reconfiguration: the clients connect one by one.
  const wanted = new Set(plan.map((p) => p.session)).size;
  let sessions = await benchSessions(api);
  for (const deadline = performance.now() + 5_000; sessions.length < wanted && performance.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    sessions = await benchSessions(api);
  }
  for (const step of plan) {
    const lockRequestedAtMs = performance.now();
    try {
      const session = sessions[step.session];
      if (!session) throw new Error(`session ${step.session} is not established at the client agent`);
      const timing = await runReconfiguration(tb, api, session, step);
      timings.push(timing);
      if (timing.outcome.result === 'failed') log(`reconfiguration ${timings.length} (${step.kind}, session ${step.session}) failed: ${timing.outcome.reason}`);
    } catch (err) {
      timings.push({ session: step.session, kind: step.kind, outcome: { result: 'failed', reason: (err as Error).message }, lockRequestedAtMs });
    }
  }
  const failed = timings.filter((t) => t.outcome.result === 'failed').length;
  if (failed > 0) log(`${failed} of ${plan.length} reconfigurations failed`);
}

function sessionFigures(result: VerifiedStreamsResult) {
  return result.sessions.map((s) => ({ ok: s.ok, bytesLost: s.bytesLost }));
}

/**
 * What an agent dropped, repeated or waited for over both runs: where the slow tail's time goes (a lost SYN waits
 * 20 ms for its repeat, an unacked control message as long for its retransmission, an unanswered announcement as
 * long for the next, an idle host 600 ms for a probe's answer).
 */
function tailCounters(exposition: string): string[] {
  const retransmitted = metricSamples(exposition, 'dysco_control_messages_total').filter((s) => s.line.includes('outcome="retransmitted"') && s.value > 0);
  const counted = nonZeroSamples(exposition, ['dysco_drops_total', 'dysco_new_path_steps_total', 'dysco_path_announcements_total', 'dysco_host_probes_total']);
  return [...counted, ...retransmitted.map((s) => s.line)];
}

/**
 * 10 Mbit/s per stream each way: 80 Mbit/s through the chain's four agents keeps this 2-core box about two thirds
 * busy. At 100 Mbit/s it has no idle time left (/proc/stat), and the figure measures the box's starvation more
 * than the protocol; bench/README.md has both.
 */
export const DEFAULT_RATE_MBIT = 10;

export async function runReconfigBench(options: ReconfigBenchOptions): Promise<void> {
  const total = options.quick ? 12 : 100;
  const sessions = Math.min(options.streams, options.quick ? 4 : 8);
  const durationMs = options.quick ? 4_000 : 20_000;
  const rateMbitPerSecond = options.rateMbit ?? DEFAULT_RATE_MBIT;
  const plan = planReconfigurations(total, sessions);
  const timings: ReconfigTiming[] = [];
  let baseline: VerifiedStreamsResult | undefined;
  let reconfigured: VerifiedStreamsResult | undefined;
  let tb: Testbed | undefined;
  let controlRoundTripP50Ms: number | null = null;
  const agentCounters: Record<string, string[]> = {};
  let wire: WireStepFigure[] | undefined;
  try {
    options.log(`setting up chain-2 with Dysco agents; ${sessions} sessions client → server, direct (no middlebox) to begin with`);
    tb = await createTestbed('chain-2', {
      dysco: true,
      deviceKind: options.deviceKind,
      agentConfig: { dysco: { controlPort: CONTROL_PORT } },
      policies: { client: [{ name: 'reconfig-bench', match: { dstPrefix: 'server', dstPorts: PORT }, chain: [] }] },
    });
    const streams = { port: PORT, seed: SEED, sessions, durationMs, rateMbitPerSecond };
    options.log(`baseline: ${sessions} verified streams for ${durationMs} ms, no reconfiguration`);
    baseline = await runVerifiedStreams(tb, 'client', 'server', streams);
    options.log(`with ${total} reconfigurations (+ insert, ~ replace, - remove: ${plan.map((p) => ({ insert: '+', replace: '~', remove: '-' })[p.kind]).join('')})`);
    const bed = tb;
    const client = tb.host('client');
    const capture: Capture | undefined = options.wire ? await startCapture(tb, 'router', client.routerIface, [], 160) : undefined;
    try {
      reconfigured = await runVerifiedStreams(tb, 'client', 'server', {
        ...streams,
        seed: SEED + sessions,
        whileRunning: () => reconfigureAll(bed, plan, timings, options.log),
      });
    } finally {
      await capture?.stop();
    }
    if (capture) wire = wireStepFigures(wireTimelines(readPcapFile(capture.file), parseIpv4(client.address)!));
    // Two crossings between agents, under the same load: the unit the lock phase is made of.
    const roundTrip = histogramQuantile(await tb.scrapeMetrics('client'), 'dysco_control_round_trip_seconds', 0.5);
    controlRoundTripP50Ms = roundTrip === undefined ? null : Math.round(roundTrip * 1e6) / 1000;
    for (const host of tb.hosts) {
      if (host.agent) agentCounters[host.name] = tailCounters(await tb.scrapeMetrics(host));
    }
  } finally {
    await tb?.destroy();
  }

  const figures = reconfigFigures({
    planned: total,
    timings,
    sessions: [...sessionFigures(baseline), ...sessionFigures(reconfigured)],
    retransmissions: { baseline: baseline.clientRetransSegs, reconfigured: reconfigured.clientRetransSegs },
  });
  const durations = timings.flatMap((t) => totalDurationMs(t) ?? []);
  let plotLine = 'plot: none (no reconfiguration completed)';
  if (durations.length > 0) {
    const plot = join(RESULTS_DIR, 'reconfig.svg');
    await writeSvg(plot, histogramSpec(durationHistogram(durations, niceBinWidth(durations)), 'reconfiguration time, lock request to old path gone'));
    plotLine = `plot: ${plot}`;
  }
  const show = (v: number | null) => (v === null ? '—' : v.toFixed(3));
  const rows: (string | number)[][] = [
    ['p50 ms (lock request → old path gone)', show(figures.p50_ms), `≤ ${TARGETS.p50Ms}`],
    ['p99 ms', show(figures.p99_ms), `≤ ${TARGETS.p99Ms}`],
    ['paper p50 ms (new-path SYN → first data)', show(figures.paper_p50_ms), '—'],
    ['lock phase p50 ms (lock request → new-path SYN)', show(figures.lock_p50_ms), '—'],
    ['completion p50 ms (first data → old path gone)', show(figures.completion_p50_ms), '—'],
    ['control round trip p50 ms (client agent, two crossings)', show(controlRoundTripP50Ms), '—'],
    ['p50 ms by kind: insert / replace / remove', (['insert', 'replace', 'remove'] as const).map((k) => show(figures.p50_ms_by_kind[k])).join(' / '), '—'],
    ['failures', `${figures.failures} of ${total}`, '0'],
    ['bytes lost', figures.bytes_lost, '0'],
    ['streams not intact', `${figures.stream_failures} of ${2 * sessions}`, '0'],
    ['extra retransmissions (client)', figures.extra_retransmissions ?? '—', '—'],
  ];
  const reasons = Object.entries(figures.failure_reasons).map(([reason, n]) => `  ${n} × ${reason}`);
  const counters = Object.entries(agentCounters).flatMap(([host, lines]) => (lines.length ? [`  ${host}: ${lines.join(', ')}`] : []));
  const pass = meetsTargets(figures, total);
  report(
    [
      formatTable(['figure', 'value', 'target'], rows),
      ...(reasons.length ? ['failure reasons:', ...reasons] : []),
      ...(counters.length ? ['agents\u2019 drops, new-path steps, announcements, probes and control retransmissions (both runs):', ...counters] : []),
      ...(wire
        ? [
            "on the client's link (tcpdump at the router): each step after what it waited for, and since the requestLock",
            formatTable(
              ['step', 'after', 'n', 'p10 ms', 'p50 ms', 'p90 ms', 'since lock p50'],
              wire.map((w) => [w.step, w.after, w.count, show(w.p10_ms), show(w.p50_ms), show(w.p90_ms), show(w.since_lock_p50_ms)]),
            ),
          ]
        : []),
      plotLine,
    ].join('\n'),
    {
      bench: 'reconfig',
      p50_ms: figures.p50_ms,
      p99_ms: figures.p99_ms,
      paper_p50_ms: figures.paper_p50_ms,
      lock_p50_ms: figures.lock_p50_ms,
      completion_p50_ms: figures.completion_p50_ms,
      p50_ms_by_kind: figures.p50_ms_by_kind,
      control_round_trip_p50_ms: controlRoundTripP50Ms,
      failures: figures.failures,
      bytes_lost: figures.bytes_lost,
      extra_retransmissions: figures.extra_retransmissions,
      stream_failures: figures.stream_failures,
      pass,
    },
    {
      quick: options.quick,
      deviceKind: options.deviceKind,
      sessions,
      durationMs,
      rateMbitPerSecond,
      plan,
      timings,
      failureReasons: figures.failure_reasons,
      baseline: baseline.sessions.map((s) => ({ ok: s.ok, bytesLost: s.bytesLost, failures: [...s.client.failures, ...(s.server?.failures ?? [])] })),
      reconfigured: reconfigured.sessions.map((s) => ({ ok: s.ok, bytesLost: s.bytesLost, failures: [...s.client.failures, ...(s.server?.failures ?? [])] })),
      retransSegs: { baseline: baseline.clientRetransSegs, reconfigured: reconfigured.clientRetransSegs },
      agentCounters,
      ...(wire && { wireSteps: wire }),
    },
  );
}
