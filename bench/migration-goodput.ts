// `migration-goodput`: the Dysco paper's Figure 11. Three bundles of N TCP connections (iperf3 -P N) go from the
// client to the server through the iptables firewall mb1; the links into mb1 and mb2 are shaped alike (HTB, a data
// queue that holds every connection's window, control datagrams in a class ahead of it). Halfway, mb1's agent hands bundle 1 over to mb2 (`POST /v1/migrate`) with its conntrack state;
// mb2 admits no connection itself, so only the moved state lets those sessions through. Goodput is what the
// server receives, per bundle and second, printed live and plotted. --no-state-transfer runs the same move without
// the state: mb2 must block it, the agents report every session as not moved, and bundle 1 stays on mb1 unharmed.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../src/api/client';
import { defaultApiSocket } from '../src/api/socket-path';
import type { MigrationSessionResult, MigrationSummary } from '../src/api/types';
import { parseIpv4 } from '../src/net/ipv4';
import { createTestbed, type Testbed } from '../src/testbed';
import { metricSamples, metricSum } from '../src/testbed/exposition';
import { readPcapFile, startCapture, type Capture } from '../src/testbed/capture';
import { installFirewall, ruleCounters, shapeLink, stopProcess } from '../src/testbed/middleboxes';
import { parseSnmpRetransSegs, parseTcpExtCounter } from '../src/testbed/tcp-counters';
import { controlTrace, threadTimes, type ControlTraceFigure } from './control-trace';
import { classifyRetransmissions, type RetransmissionFigures } from './retransmissions';
import { writeSvg } from './plot';
import { formatTable, report, RESULTS_DIR, round } from './report';
import { percentile } from './reconfig-figures';

export interface MigrationGoodputOptions {
  quick: boolean;
  /** connections per bundle; default 100 (quick 10) */
  connections?: number;
  /** each firewall link's rate; default 100 Mbit/s */
  rateMbit?: number;
  stateTransfer: boolean;
  /** capture the router's links during the move: each control crossing split into network and agent time, the
   * agents' threads' time on and waiting for a CPU, the client's retransmissions by path */
  wire?: boolean;
  log: (line: string) => void;
}

const BUNDLES = 3;
const FIRST_PORT = 7401;
const CONTROL_PORT = 7777;
/** Each connection's socket buffers (iperf3 -w). */
const WINDOW_KIB = 8;
const TARGETS = { ratio: 1.8, minSecond: 0.9, p50Ms: 20, p99Ms: 50 };

export interface SecondSample {
  second: number;
  /** Mbit/s per bundle, as the server received it */
  mbit: number[];
  /** the client's TCP RetransSegs in that second */
  retransmissions: number;
  /** of them, tail loss probes (TcpExt TCPLossProbes) */
  lossProbes?: number;
}

/** A per-second interval line of an iperf3 server: the total of a bundle when it has several streams. */
export function parseIperfInterval(line: string, streams: number): { start: number; mbit: number } | undefined {
  if (streams > 1 && !line.startsWith('[SUM]')) return undefined;
  const m = /^\[\s*(?:SUM|\d+)\]\s+([\d.]+)-([\d.]+)\s+sec\s+[\d.]+\s+\w?Bytes\s+([\d.]+)\s+(\w?)bits\/sec\s*$/.exec(line.trim());
  if (!m) return undefined;
  const scale: Record<string, number> = { '': 1e-6, K: 1e-3, M: 1, G: 1e3 };
  const factor = scale[m[4]!];
  return factor === undefined ? undefined : { start: Number(m[1]), mbit: Number(m[3]) * factor };
}

const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);

/** The figures of one run, from its samples and the move's place in them (seconds since the run began). */
export function migrationFigures(samples: readonly SecondSample[], move: { startS: number; endS: number }, windowS: number) {
  const bundle1 = (from: number, to: number) => samples.filter((s) => s.second >= from && s.second < to).map((s) => s.mbit[0]!);
  const before = mean(bundle1(move.startS - windowS, Math.floor(move.startS)));
  const settledFrom = Math.ceil(move.endS) + 2;
  const after = mean(bundle1(settledFrom, settledFrom + windowS));
  // The seconds the move touched: bundle 1 must not dip below its own pre-move rate.
  const during = samples.filter((s) => s.second + 1 > move.startS && s.second < move.endS + 1).map((s) => s.mbit[0]! / before);
  const sum = (from: number, to: number, count: (s: SecondSample) => number) => samples.filter((s) => s.second >= from && s.second < to).reduce((n, s) => n + count(s), 0);
  const retrans = (from: number, to: number) => sum(from, to, (s) => s.retransmissions);
  const start = Math.floor(move.startS);
  const extra = retrans(start, start + windowS) - retrans(start - windowS, start);
  const probes = (from: number, to: number) => sum(from, to, (s) => s.lossProbes ?? 0);
  return {
    beforeMbit: before,
    afterMbit: after,
    ratio: after / before,
    minSecondRatio: during.length ? Math.min(...during) : Number.NaN,
    retransBefore: retrans(start - windowS, start),
    retransAfter: retrans(start, start + windowS),
    extraRetransmissions: Math.max(0, extra),
    extraLossProbes: Math.max(0, probes(start, start + windowS) - probes(start - windowS, start)),
  };
}

interface Bundle {
  port: number;
  server: ChildProcess;
  client?: ChildProcess;
  /** Mbit/s by second of the run's clock */
  perSecond: Map<number, number>;
  /** the run's clock at the server's test start, from its first interval line's arrival */
  offsetS?: number;
}

function startServer(tb: Testbed, port: number, streams: number, clock: () => number): Bundle {
  const server = tb.spawn('server', ['iperf3', '-s', '-1', '-p', String(port), '-B', tb.host('server').address, '-i', '1', '-f', 'm', '--forceflush'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const bundle: Bundle = { port, server, perSecond: new Map() };
  let pending = '';
  server.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const interval = parseIperfInterval(line, streams);
      if (!interval) continue;
      // The server's seconds count from its test's start, after every stream connected: the first line tells when.
      bundle.offsetS ??= clock() - (interval.start + 1);
      bundle.perSecond.set(Math.round(interval.start + bundle.offsetS), interval.mbit);
    }
  });
  return bundle;
}

async function listening(tb: Testbed, port: number): Promise<void> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const r = await tb.exec('server', ['ss', '-Hltn', `sport = :${port}`], { allowFailure: true });
    if (r.stdout.trim() !== '') return;
  }
  throw new Error(`iperf3 server not listening on port ${port}`);
}

/** The client namespace's RetransSegs, and TCPLossProbes of them. */
const tcpCounters = async (tb: Testbed) => {
  const text = (await tb.exec('client', ['cat', '/proc/net/snmp', '/proc/net/netstat'])).stdout;
  return { retransmissions: parseSnmpRetransSegs(text), lossProbes: parseTcpExtCounter(text, 'TCPLossProbes') ?? 0 };
};

export async function runMigrationGoodput(options: MigrationGoodputOptions): Promise<void> {
  const connections = options.connections ?? (options.quick ? 10 : 100);
  const rate = options.rateMbit ?? 100;
  const durationS = options.quick ? 24 : 60;
  const moveAtS = durationS / 2;
  const windowS = options.quick ? 5 : 10;
  const log = options.log;
  log(`migration-goodput: ${BUNDLES} bundles of ${connections} connections through mb1 (${rate} Mbit/s links), bundle 1 moves to mb2 at ${moveAtS} s${options.stateTransfer ? ' with its state' : ' WITHOUT its state'}`);
  const tb = await createTestbed('chain-2', {
    dysco: true,
    middleboxState: 'conntrack',
    agentConfig: { dysco: { controlPort: CONTROL_PORT, timeouts: { lingerMs: 500 } } },
    policies: { client: [{ name: 'bundles', match: { dstPrefix: 'server', dstPorts: `${FIRST_PORT}-${FIRST_PORT + BUNDLES - 1}` }, chain: ['mb1'] }] },
  });
  const bundles: Bundle[] = [];
  const samples: SecondSample[] = [];
  let moveResult: { summary: MigrationSummary; results: MigrationSessionResult[]; startS: number; endS: number } | undefined;
  let refusedByMb2 = 0;
  let steps: StepMedians = {};
  let stepsP99: StepMedians = {};
  let controlRtt: { p50Ms: number | null; count: number } = { p50Ms: null, count: 0 };
  let trace: ControlTraceFigure[] | undefined;
  let retransOnWire: RetransmissionFigures | undefined;
  let cpuDuringMove: { host: string; mainMs: number; mainWaitMs: number; lcoreMs: number; lcoreWaitMs: number }[] | undefined;
  try {
    await installFirewall(tb, 'mb1');
    await installFirewall(tb, 'mb2', { admitNew: false });
    // Every connection's window fits the queue at once: the shaper delays but never drops, so a retransmission is
    // the move's doing. (With a queue too short for them, drop-tail loss runs at thousands a second.)
    const queueMs = Math.max(20, (BUNDLES * connections * WINDOW_KIB * 1024 * 2 * 8) / (rate * 1000));
    for (const mb of ['mb1', 'mb2']) await shapeLink(tb, 'router', tb.host(mb).routerIface, { mbitPerSecond: rate, queueMs, priorityUdpPort: CONTROL_PORT });
    log(`links: ${rate} Mbit/s, ${queueMs.toFixed(0)} ms of queue for ${BUNDLES * connections} windows of ${WINDOW_KIB} KiB; control datagrams ahead of the data`);
    const refused = async () => {
      const c = await ruleCounters(tb, 'mb2');
      return (c.rules.find((r) => /ctstate INVALID/.test(r.text))?.packets ?? 0) + c.policyPackets;
    };
    const refusedBefore = await refused();
    let startedAt = performance.now();
    const seconds = () => (performance.now() - startedAt) / 1000;
    for (let b = 0; b < BUNDLES; b++) bundles.push(startServer(tb, FIRST_PORT + b, connections, seconds));
    for (const bundle of bundles) await listening(tb, bundle.port);
    startedAt = performance.now();
    for (const bundle of bundles) {
      const argv = ['iperf3', '-c', tb.host('server').address, '-p', String(bundle.port), '-P', String(connections), '-t', String(durationS), '-w', `${WINDOW_KIB}K`, '-i', '0'];
      bundle.client = tb.spawn('client', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    const mb1 = new ApiClient(defaultApiSocket(tb.agentPid('mb1')!), { timeoutMs: 30_000 });
    log(`${'second'.padStart(6)}  ${bundles.map((_, b) => `bundle ${b + 1}`.padStart(9)).join('  ')}  retransmissions`);
    let last = await tcpCounters(tb);
    let printed = 0;
    const ended = Promise.all(bundles.map((b) => new Promise<void>((resolve) => b.client!.once('exit', () => resolve()))));
    let done = false;
    void ended.then(() => (done = true));
    const agentHosts = ['client', 'mb1', 'mb2', 'server'];
    const roundTrips = async () => Promise.all(agentHosts.map(async (h) => roundTripBuckets(await tb.scrapeMetrics(h))));
    const move = (async () => {
      await new Promise((r) => setTimeout(r, moveAtS * 1000));
      const rttBefore = await roundTrips();
      const captures: { host: string; capture: Capture }[] = [];
      // The client's own link, all TCP, for the retransmissions of the window the figure counts.
      const tcpCapture = options.wire ? await startCapture(tb, 'router', tb.host('client').routerIface, ['tcp'], 100) : undefined;
      const moveAtMs = Date.now();
      const cpuBefore = options.wire ? agentHosts.map((h) => threadTimes(tb.agentPid(h)!)) : [];
      if (options.wire) {
        for (const host of agentHosts) captures.push({ host, capture: await startCapture(tb, 'router', tb.host(host).routerIface, ['udp', 'port', String(CONTROL_PORT)], 1600) });
      }
      const startS = seconds();
      log(`-- ${startS.toFixed(2)} s: mb1 hands bundle 1 (${connections} sessions) over to mb2${options.stateTransfer ? ' with state' : ' without state'}`);
      const results: MigrationSessionResult[] = [];
      const summary = await mb1.migrate({ from: tb.host('mb1').address, to: tb.host('mb2').address, filter: { dstPort: FIRST_PORT }, transferState: options.stateTransfer, timeoutMs: 20_000 }, (line) => {
        if ('result' in line) results.push(line.result);
      });
      const endS = seconds();
      if (options.wire) {
        cpuDuringMove = agentHosts.map((host, i) => {
          const after = threadTimes(tb.agentPid(host)!);
          const spent = (name: string, what: 'runMs' | 'waitMs') => round((after.get(name)?.[what] ?? 0) - (cpuBefore[i]!.get(name)?.[what] ?? 0), 1);
          return { host, mainMs: spent('main', 'runMs'), mainWaitMs: spent('main', 'waitMs'), lcoreMs: spent('rte-worker-1', 'runMs'), lcoreWaitMs: spent('rte-worker-1', 'waitMs') };
        });
      }
      if (captures.length) {
        for (const c of captures) await c.capture.stop();
        trace = controlTrace(
          captures.map(({ host, capture }) => ({ host, address: parseIpv4(tb.host(host).address)!, frames: readPcapFile(capture.file) })),
          CONTROL_PORT,
        );
      }
      controlRtt = bucketMedian(subtractBuckets(await roundTrips(), rttBefore));
      log(`-- ${endS.toFixed(2)} s: ${summary.completed}/${summary.sessions} moved, switched p50 ${summary.switchP50Ms ?? '-'} ms, p99 ${summary.switchP99Ms ?? '-'} ms${Object.keys(summary.reasons).length ? `, not moved: ${JSON.stringify(summary.reasons)}` : ''}`);
      moveResult = { summary, results, startS, endS };
      if (tcpCapture) {
        await new Promise((r) => setTimeout(r, Math.max(0, moveAtMs + windowS * 1000 - Date.now())));
        await tcpCapture.stop();
        retransOnWire = classifyRetransmissions(readPcapFile(tcpCapture.file), parseIpv4(tb.host('client').address)!, moveAtMs);
      }
    })();
    // One sample per second: the servers' interval lines, and the client's retransmissions in that second.
    while (!done) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await tcpCounters(tb);
      const second = Math.floor(seconds()) - 1;
      const counted = { retransmissions: now.retransmissions - last.retransmissions, lossProbes: now.lossProbes - last.lossProbes };
      last = now;
      if (second < 0) continue;
      samples.push({ second, mbit: [], ...counted });
      // Interval lines arrive just after their second ends: print each second once every bundle has it (the
      // seconds before the tests began have nothing to print).
      for (; printed < samples.length - 1; printed++) {
        const s = samples[printed]!;
        const started = (b: Bundle) => b.offsetS !== undefined && s.second >= Math.round(b.offsetS);
        if (bundles.some((b) => b.offsetS === undefined || (started(b) && !b.perSecond.has(s.second)))) break;
        const cells = bundles.map((b) => (started(b) ? b.perSecond.get(s.second)!.toFixed(1) : '-').padStart(9));
        log(`${String(s.second).padStart(6)}  ${cells.join('  ')}  ${String(s.retransmissions).padStart(15)}`);
      }
    }
    await move;
    await Promise.all(bundles.map((b) => new Promise<void>((resolve) => (b.server.exitCode !== null ? resolve() : b.server.once('exit', () => resolve())))));
    refusedByMb2 = (await refused()) - refusedBefore;
    for (const s of samples) s.mbit = bundles.map((b) => b.perSecond.get(s.second) ?? 0);
    steps = stepPercentiles(tb.host('client').agent?.logFile, 50);
    stepsP99 = stepPercentiles(tb.host('client').agent?.logFile, 99);
    const mb2Metrics = await tb.scrapeMetrics('mb2');
    log(`mb2 imported ${metricSum(mb2Metrics, 'dysco_state_transfer_sessions_total{side="import",outcome="ok"}')} sessions' state; its firewall refused ${refusedByMb2} packets`);
  } finally {
    for (const b of bundles) {
      if (b.client) await stopProcess(b.client);
      await stopProcess(b.server);
    }
    await tb.destroy();
  }
  const complete = samples.filter((s) => s.second < durationS);
  const moved = moveResult!;
  const figures = migrationFigures(complete, moved, windowS);
  const summary = moved.summary;
  const plotPath = join(RESULTS_DIR, options.stateTransfer ? 'migration-goodput.svg' : 'migration-goodput-no-state.svg');
  await writeSvg(plotPath, plotSpec(complete, moved, rate));
  const rows = [
    ['bundle 1 before the move', `${figures.beforeMbit.toFixed(1)} Mbit/s`, `${windowS} s before`],
    ['bundle 1 after the move', `${figures.afterMbit.toFixed(1)} Mbit/s`, `${windowS} s from 2 s after`],
    ['after / before', figures.ratio.toFixed(2), `≥ ${TARGETS.ratio}`],
    ['lowest second during the move / before', figures.minSecondRatio.toFixed(2), `≥ ${TARGETS.minSecond}`],
    ['client retransmissions', `${figures.retransBefore} before, ${figures.retransAfter} after (${figures.extraLossProbes} more tail loss probes)`, 'no more after'],
    ['sessions moved', `${summary.completed}/${summary.sessions}`, options.stateTransfer ? 'all' : 'none (mb2 blocks them)'],
    ['reconfiguration p50 / p99 (to the switch)', `${summary.switchP50Ms ?? '-'} / ${summary.switchP99Ms ?? '-'} ms`, `≤ ${TARGETS.p50Ms} / ${TARGETS.p99Ms} ms`],
    ['old path drained p50 / p99', `${summary.p50Ms ?? '-'} / ${summary.p99Ms ?? '-'} ms`, 'the queue ahead of it'],
    ['steps at the left anchor, p50', formatSteps(steps), 'to the lock, to the state (both from the start), SYN to switch, drain'],
    ['steps at the left anchor, p99', formatSteps(stepsP99), ''],
    ['control round trip during the move, p50', `≤ ${controlRtt.p50Ms ?? '-'} ms (${controlRtt.count} messages)`, 'a message to the next agent and its ack'],
    ...(retransOnWire
      ? [['client retransmissions on its link', `${retransOnWire.oldPath} on old paths, ${retransOnWire.newPath} on new paths; ${retransOnWire.spurious} D-SACKed`, `the ${windowS} s from the move's start`]]
      : []),
    ...(cpuDuringMove ?? []).map((c) => [`${c.host}'s agent during the move`, `event loop ran ${c.mainMs} ms, waited ${c.mainWaitMs}; lcore ${c.lcoreMs}, ${c.lcoreWaitMs}`, 'on a CPU / runnable but waiting for one']),
    ...(trace ?? []).map((t) => [t.what, `${t.p50_ms ?? '-'} / ${t.p99_ms ?? '-'} / ${t.max_ms ?? '-'} ms (${t.count})`, 'p50 / p99 / max on the wire']),
    ['whole move', `${(moved.endS - moved.startS).toFixed(2)} s`, ''],
    ['mb2 refused', `${refusedByMb2} packets`, options.stateTransfer ? '0' : '> 0'],
  ];
  const pass = options.stateTransfer
    ? figures.ratio >= TARGETS.ratio &&
      figures.minSecondRatio >= TARGETS.minSecond &&
      figures.extraRetransmissions === 0 &&
      summary.completed === summary.sessions &&
      (summary.switchP50Ms ?? Infinity) <= TARGETS.p50Ms &&
      (summary.switchP99Ms ?? Infinity) <= TARGETS.p99Ms
    : summary.completed === 0 && refusedByMb2 > 0 && figures.minSecondRatio >= TARGETS.minSecond;
  report(
    formatTable(['figure', 'value', 'target'], rows) + `\nplot: ${plotPath}`,
    {
      bench: options.stateTransfer ? 'migration-goodput' : 'migration-goodput-no-state',
      state_transfer: options.stateTransfer,
      connections_per_bundle: connections,
      rate_mbit: rate,
      migrated_after_before_ratio: round(figures.ratio),
      min_second_ratio_during_move: round(figures.minSecondRatio),
      extra_retransmissions: figures.extraRetransmissions,
      extra_tail_loss_probes: figures.extraLossProbes,
      reconfig_p50_ms: summary.switchP50Ms,
      reconfig_p99_ms: summary.switchP99Ms,
      drained_p50_ms: summary.p50Ms,
      drained_p99_ms: summary.p99Ms,
      sessions_moved: summary.completed,
      sessions_not_moved: summary.sessions - summary.completed,
      not_moved_reasons: summary.reasons,
      mb2_refused_packets: refusedByMb2,
      steps_p50_ms: steps,
      steps_p99_ms: stepsP99,
      control_round_trip_p50_ms: controlRtt.p50Ms,
      ...(trace && { control_trace: trace }),
      ...(retransOnWire && { retransmissions_on_wire: retransOnWire }),
      ...(cpuDuringMove && { cpu_during_move_ms: cpuDuringMove }),
      plot: plotPath,
      pass,
    },
    { samples: complete, move: { startS: moved.startS, endS: moved.endS }, migration: summary, figures },
  );
}

/** The cumulative buckets of dysco_control_round_trip_seconds: upper bound (s) → count. */
export function roundTripBuckets(exposition: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of metricSamples(exposition, 'dysco_control_round_trip_seconds_bucket')) {
    const le = /le="([^"]+)"/.exec(s.line)?.[1];
    if (le !== undefined) out.set(le === '+Inf' ? Infinity : Number(le), s.value);
  }
  return out;
}

function subtractBuckets(after: Map<number, number>[], before: Map<number, number>[]): Map<number, number> {
  const out = new Map<number, number>();
  after.forEach((buckets, i) => {
    for (const [le, n] of buckets) out.set(le, (out.get(le) ?? 0) + n - (before[i]?.get(le) ?? 0));
  });
  return out;
}

/** The upper bound of the bucket that holds the median, in ms (a bound, as buckets give it). */
export function bucketMedian(buckets: Map<number, number>): { p50Ms: number | null; count: number } {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const count = sorted.length ? sorted[sorted.length - 1]![1] : 0;
  const at = sorted.find(([, n]) => n >= count / 2 && count > 0);
  return { p50Ms: at && Number.isFinite(at[0]) ? round(at[0] * 1000, 2) : null, count };
}

type StepMedians = Partial<Record<'lockMs' | 'stateMs' | 'setupMs' | 'drainMs', number>>;

/** The percentile `p` of the steps the left anchor logged for each run it finished (ReconfigService's log line). */
export function stepPercentiles(logFile: string | undefined, p: number): StepMedians {
  if (!logFile) return {};
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return {};
  }
  const runs = text
    .split('\n')
    .filter((line) => line.includes('"reconfiguration finished"'))
    .flatMap((line) => {
      try {
        return [(JSON.parse(line) as { steps?: Record<string, number> }).steps ?? {}];
      } catch {
        return [];
      }
    });
  const out: StepMedians = {};
  for (const name of ['lockMs', 'stateMs', 'setupMs', 'drainMs'] as const) {
    const values = runs.map((r) => r[name]).filter((v): v is number => typeof v === 'number');
    if (values.length) out[name] = round(percentile(values, p)!, 2);
  }
  return out;
}

const formatSteps = (s: StepMedians) => ['lockMs', 'stateMs', 'setupMs', 'drainMs'].map((k) => s[k as keyof StepMedians]?.toFixed(1) ?? '-').join(' / ') + ' ms';

function plotSpec(samples: readonly SecondSample[], move: { startS: number; endS: number }, rate: number): Record<string, unknown> {
  const values = samples.flatMap((s) => s.mbit.map((mbit, b) => ({ second: s.second + 1, mbit, bundle: `bundle ${b + 1}${b === 0 ? ' (moves)' : ''}` })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Goodput per bundle; bundle 1 moves from mb1 to mb2 at ${move.startS.toFixed(1)} s (links ${rate} Mbit/s)`,
    width: 640,
    height: 320,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: false },
        encoding: {
          x: { field: 'second', type: 'quantitative', title: 'time (s)' },
          y: { field: 'mbit', type: 'quantitative', title: 'goodput (Mbit/s)' },
          color: { field: 'bundle', type: 'nominal' },
        },
      },
      { data: { values: [{ t: move.startS }] }, mark: { type: 'rule', strokeDash: [4, 4] }, encoding: { x: { field: 't', type: 'quantitative' } } },
    ],
  };
}

