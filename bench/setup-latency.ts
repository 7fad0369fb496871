// `setup-latency`: connect() latency through chains of 0 to 4 middleboxes, Dysco against the same
// chain routed by IP. One chain-4 testbed serves both, so both cross the very same agent processes:
// Dysco connections go to port 9000+L, which the client's policies chain through L middleboxes;
// baseline connections go to port 9100+L, which no policy matches (every agent bridges them
// unchanged) and which the router steers through the same L middleboxes by policy routing.
// Batches of the two alternate so that drift on this shared machine hits both alike.
import { join } from 'node:path';
import { createTestbed, routeThroughChain, type Testbed } from '../src/testbed';
import { REPO_ROOT } from '../src/version';
import { writeSvg } from './plot';
import { formatTable, median, report, RESULTS_DIR, round } from './report';

export interface SetupLatencyOptions {
  quick: boolean;
  deviceKind: 'af_packet' | 'af_xdp';
  log: (line: string) => void;
}

const FIXTURE = join(REPO_ROOT, 'dist', 'bench', 'fixtures', 'connect-latency.js');
const CHAIN_LENGTHS = [0, 1, 2, 3, 4];
const DYSCO_PORT = 9000;
const ROUTED_PORT = 9100;
const MIDDLEBOXES = ['mb1', 'mb2', 'mb3', 'mb4'];
const TARGET_OVERHEAD = 1.1;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function startServers(tb: Testbed): Promise<void> {
  for (const port of CHAIN_LENGTHS.flatMap((length) => [DYSCO_PORT + length, ROUTED_PORT + length])) {
    const child = tb.spawn('server', [process.execPath, FIXTURE, 'serve', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('latency server did not start')), 10_000);
      child.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

async function measureBatch(tb: Testbed, port: number, count: number, warmup: number): Promise<number[]> {
  const server = tb.host('server');
  const result = await tb.exec('client', [process.execPath, FIXTURE, 'measure', server.address, String(port), String(count), String(warmup)], {
    timeoutMs: 120_000,
  });
  return (JSON.parse(result.stdout.trim()) as { latenciesUs: number[] }).latenciesUs;
}

export async function runSetupLatency(options: SetupLatencyOptions): Promise<void> {
  const perMode = options.quick ? 200 : 1000;
  const batches = 4;
  const warmup = options.quick ? 10 : 50;
  const policies = CHAIN_LENGTHS.map((length) => ({
    name: `chain-${length}`,
    match: { dstPrefix: 'server', dstPorts: DYSCO_PORT + length },
    chain: MIDDLEBOXES.slice(0, length),
  }));
  const samples = new Map<string, number[]>();
  let tb: Testbed | undefined;
  try {
    options.log('setting up a chain-4 testbed with Dysco agents');
    tb = await createTestbed('chain-4', { dysco: true, deviceKind: options.deviceKind, policies: { client: policies } });
    for (const length of CHAIN_LENGTHS) {
      await routeThroughChain(tb, 'client', 'server', MIDDLEBOXES.slice(0, length), { port: ROUTED_PORT + length, slot: length });
    }
    await startServers(tb);
    for (const length of CHAIN_LENGTHS) {
      for (let b = 0; b < batches; b++) {
        for (const [mode, port] of [['dysco', DYSCO_PORT + length], ['passthrough', ROUTED_PORT + length]] as const) {
          const key = `${mode}/${length}`;
          const batch = await measureBatch(tb, port, perMode / batches, b === 0 ? warmup : 5);
          samples.set(key, [...(samples.get(key) ?? []), ...batch]);
        }
      }
      options.log(
        `chain ${length}: dysco median ${median(samples.get(`dysco/${length}`)!).toFixed(0)} µs, ` +
          `IP-routed median ${median(samples.get(`passthrough/${length}`)!).toFixed(0)} µs`,
      );
    }
  } finally {
    await tb?.destroy();
  }

  const rows: (string | number)[][] = [];
  const overhead: Record<string, number> = {};
  const cdf: { chain: string; mode: string; latencyUs: number; fraction: number }[] = [];
  for (const length of CHAIN_LENGTHS) {
    const d = [...samples.get(`dysco/${length}`)!].sort((a, b) => a - b);
    const p = [...samples.get(`passthrough/${length}`)!].sort((a, b) => a - b);
    overhead[String(length)] = round(median(d) / median(p));
    rows.push([length, median(p).toFixed(0), median(d).toFixed(0), overhead[String(length)]!.toFixed(3), percentile(p, 99).toFixed(0), percentile(d, 99).toFixed(0), `≤ ${TARGET_OVERHEAD}`]);
    for (const [mode, sorted] of [['dysco', d], ['pass-through (IP routed)', p]] as const) {
      sorted.forEach((latencyUs, i) => {
        if (i % Math.max(1, Math.floor(sorted.length / 200)) === 0 || i === sorted.length - 1) {
          cdf.push({ chain: `${length} middleboxes`, mode, latencyUs, fraction: (i + 1) / sorted.length });
        }
      });
    }
  }
  const plot = join(RESULTS_DIR, 'setup-latency.svg');
  await writeSvg(plot, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'connect() latency CDF: Dysco vs the same chain routed by IP',
    data: { values: cdf },
    facet: { field: 'chain', type: 'ordinal', title: null },
    columns: 5,
    spec: {
      width: 180,
      height: 160,
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'latencyUs', type: 'quantitative', title: 'connect() µs', scale: { type: 'log' } },
        y: { field: 'fraction', type: 'quantitative', title: 'CDF' },
        color: { field: 'mode', type: 'nominal', title: null },
      },
    },
  });
  const table = formatTable(['middleboxes', 'pass-through p50 µs', 'dysco p50 µs', 'dysco/pass-through', 'pass-through p99 µs', 'dysco p99 µs', 'target'], rows);
  report(
    `${table}\nplot: ${plot}`,
    {
      bench: 'setup-latency',
      median_overhead_ratio: overhead,
      pass: Object.values(overhead).every((ratio) => ratio <= TARGET_OVERHEAD),
    },
    { quick: options.quick, connectsPerMode: perMode, samples: Object.fromEntries(samples) },
  );
}
