// `state-transfer`: how long moving the conntrack state of N real sessions takes (the paper's transfer-time figure):
// N TCP connections held open in one network namespace, their entries exported over ctnetlink there and imported
// into a second namespace with the agent's ConntrackAdapter (which reads every created entry back), for N = 1, 10,
// 100, 1K and 10K. Side by side in the same run, the Dysco prototype's way: one `conntrack -I` process per entry,
// for N up to 1K (100 with --quick).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { formatIpv4, parseIpv4 } from '../src/net/ipv4';
import type { Tuple } from '../src/reconfig/messages';
import { ConntrackAdapter } from '../src/state/conntrack-adapter';
import type { StateBlob } from '../src/state/state-adapter';
import { hostNamespace, newRunId } from '../src/testbed/names';
import { writeSvg } from './plot';
import { formatTable, median, report, RESULTS_DIR, round } from './report';

export interface StateTransferOptions {
  quick: boolean;
  log: (line: string) => void;
}

export const TARGET_10K_MS = 200;
const PORT = 7500;
const LOOPBACK = parseIpv4('127.0.0.1')!;
const run = promisify(execFile);
const sh = (args: string[]) => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });

/** A node script in `ns`, killed with the bench; resolves with the first line it prints. */
async function nodeIn(ns: string, script: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      text += b.toString();
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`a helper process in ${ns} exited (${code})`)));
  });
  return { child, line };
}

/**
 * N loopback connections held open in `ns`, the two ends in two processes (each stays under the open-file limit);
 * resolves with their tuples (client → server) once all are up.
 */
async function holdConnections(ns: string, count: number): Promise<{ children: ChildProcess[]; tuples: Tuple[] }> {
  const server = await nodeIn(ns, `require('net').createServer(() => {}).listen(${PORT}, '127.0.0.1', () => console.log('ready'))`);
  const clients = await nodeIn(
    ns,
    `const net = require('net'); const ports = [];
    for (let i = 0; i < ${count}; i++) {
      const c = net.connect(${PORT}, '127.0.0.1', () => { ports.push(c.localPort); c.write('x');
        if (ports.length === ${count}) setTimeout(() => console.log(JSON.stringify(ports)), 200); });
      c.on('error', (e) => { console.error(e.message); process.exit(1); });
    }`,
  );
  const ports = JSON.parse(clients.line) as number[];
  return { children: [server.child, clients.child], tuples: ports.map((srcPort) => ({ srcIp: LOOPBACK, dstIp: LOOPBACK, srcPort, dstPort: PORT })) };
}

/** Export from A, import into B (with read-back): ms, and how many moved. */
async function transfer(source: ConntrackAdapter, target: ConntrackAdapter, tuples: Tuple[]): Promise<{ ms: number; moved: number }> {
  const start = performance.now();
  const exported = await source.exportState(tuples);
  const blobs = exported.flatMap((o): StateBlob[] => (o.ok ? [o.blob] : []));
  const imported = await target.importState(blobs);
  const ms = performance.now() - start;
  return { ms, moved: imported.filter((o) => o.ok).length };
}

/** The prototype's import: one conntrack process per entry, a few at a time. */
async function conntrackPerEntry(ns: string, tuples: Tuple[]): Promise<number> {
  const start = performance.now();
  const parallel = 4;
  for (let i = 0; i < tuples.length; i += parallel) {
    await Promise.all(
      tuples.slice(i, i + parallel).map((t) =>
        run('ip', ['netns', 'exec', ns, 'conntrack', '-I', '-p', 'tcp', '-s', formatIpv4(t.srcIp), '-d', formatIpv4(t.dstIp), '--sport', String(t.srcPort), '--dport', String(t.dstPort), '--state', 'ESTABLISHED', '-t', '432000', '-u', 'SEEN_REPLY,ASSURED']),
      ),
    );
  }
  return performance.now() - start;
}

export async function runStateTransfer(options: StateTransferOptions): Promise<void> {
  const sizes = options.quick ? [1, 10, 100, 1000] : [1, 10, 100, 1000, 10000];
  const prototypeMax = options.quick ? 100 : 1000;
  const id = newRunId();
  const [A, B] = [hostNamespace(id, 'sta'), hostNamespace(id, 'stb')];
  const results: { sessions: number; ms: number; moved: number; prototypeMs: number | null }[] = [];
  let holders: ChildProcess[] = [];
  try {
    for (const ns of [A, B]) {
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      sh(['ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP']);
    }
    const largest = sizes[sizes.length - 1]!;
    options.log(`holding ${largest} TCP connections open in ${A}`);
    const held = await holdConnections(A, largest);
    holders = held.children;
    const source = new ConntrackAdapter({ netnsPath: `/var/run/netns/${A}` });
    const target = new ConntrackAdapter({ netnsPath: `/var/run/netns/${B}` });
    for (const size of sizes) {
      const tuples = held.tuples.slice(0, size);
      const reps = size >= 1000 ? 3 : 7;
      const times: number[] = [];
      let moved = 0;
      for (let r = 0; r < reps; r++) {
        const one = await transfer(source, target, tuples);
        times.push(one.ms);
        moved = one.moved;
        await target.deleteState(tuples);
      }
      let prototypeMs: number | null = null;
      if (size <= prototypeMax) {
        prototypeMs = await conntrackPerEntry(B, tuples);
        await target.deleteState(tuples);
      }
      results.push({ sessions: size, ms: median(times), moved, prototypeMs });
      options.log(`${size} sessions: ${median(times).toFixed(2)} ms (${moved} moved)${prototypeMs === null ? '' : `, one conntrack process per entry ${prototypeMs.toFixed(0)} ms`}`);
    }
  } finally {
    for (const child of holders) child.kill('SIGKILL');
    for (const ns of [A, B]) {
      try {
        sh(['ip', 'netns', 'del', ns]);
      } catch {
        // never made
      }
    }
  }

  const byCount = (n: number) => results.find((r) => r.sessions === n);
  const plot = join(RESULTS_DIR, 'state-transfer.svg');
  const points = results.flatMap((r) => [
    { sessions: r.sessions, ms: r.ms, way: 'ctnetlink batches (ConntrackAdapter)' },
    ...(r.prototypeMs === null ? [] : [{ sessions: r.sessions, ms: r.prototypeMs, way: 'one conntrack -I process per entry' }]),
  ]);
  await writeSvg(plot, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'conntrack state transfer: export, import and read-back',
    width: 420,
    height: 280,
    data: { values: points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'sessions', type: 'quantitative', scale: { type: 'log' }, title: 'sessions moved' },
      y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms' },
      color: { field: 'way', type: 'nominal', title: null },
    },
  });
  const rows = results.map((r) => [r.sessions, r.moved, r.ms.toFixed(2), r.prototypeMs === null ? '—' : r.prototypeMs.toFixed(0), r.prototypeMs === null ? '—' : (r.prototypeMs / r.ms).toFixed(0)]);
  const ms10k = byCount(10000)?.ms;
  const allMoved = results.every((r) => r.moved === r.sessions);
  report(
    `${formatTable(['sessions', 'moved', 'ms (export + import + read-back)', 'ms, a process per entry', 'ratio'], rows)}\ntarget: 10K sessions ≤ ${TARGET_10K_MS} ms\nplot: ${plot}`,
    {
      bench: 'state-transfer',
      ms_1: round(byCount(1)!.ms),
      ms_10: round(byCount(10)!.ms),
      ms_100: round(byCount(100)!.ms),
      ms_1k: round(byCount(1000)!.ms),
      ms_10k: ms10k === undefined ? null : round(ms10k),
      prototype_ms_100: round(byCount(100)!.prototypeMs!),
      prototype_ms_1k: byCount(1000)?.prototypeMs == null ? null : round(byCount(1000)!.prototypeMs!),
      all_moved: allMoved,
      pass: allMoved && (ms10k === undefined || ms10k <= TARGET_10K_MS),
    },
    { quick: options.quick, results },
  );
}
