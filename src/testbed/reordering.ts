// Packet reordering on a host's link, for kernels without sch_netem (netem.ts is the richer tool where the kernel
// has it). The router's FORWARD chain queues the link's TCP packets, both ways, to an NFQUEUE, and the test tool
// test/tools/nfq-reorder (built by the bootstrap into dist/tools/) holds a share of them back until later ones have
// passed. Nothing is dropped; with the program gone, --queue-bypass lets every packet through.
import { join } from 'node:path';
import { stopProcess } from './middleboxes';
import type { HostHandle, Testbed } from './testbed';

/** The compiled tool, beside the compiled TypeScript. */
export const NFQ_REORDER = join(__dirname, '..', '..', 'tools', 'nfq-reorder');
const READY_TIMEOUT_MS = 5_000;

export interface Reordering {
  /** the NFQUEUE number, unique per link on the router */
  queue: number;
  /** share of packets held back, 0..100 */
  holdPercent: number;
  /** a held packet goes after this many later ones have passed (default 3) ... */
  releaseAfter?: number;
  /** ... or after this long at most (default 2000 µs) */
  maxHoldUs?: number;
  seed?: number;
}

export interface ReorderingReport {
  packets: number;
  reordered: number;
}

export interface ReorderingHandle {
  /** Removes the rules and stops the program; resolves with what it did. */
  stop(): Promise<ReorderingReport>;
}

/** The iptables rule bodies (without -A/-D) that queue a link's TCP packets, both directions. */
export function reorderingRules(routerIface: string, queue: number): string[][] {
  integerIn('queue', queue, 0, 65535);
  return ['-i', '-o'].map((side) => ['FORWARD', side, routerIface, '-p', 'tcp', '-j', 'NFQUEUE', '--queue-num', String(queue), '--queue-bypass']);
}

const integerIn = (name: string, value: number, lo: number, hi: number) => {
  if (!(Number.isInteger(value) && value >= lo && value <= hi)) throw new RangeError(`${name} must be an integer in ${lo}..${hi}, got ${value}`);
};

/** The tool's command line; throws RangeError for what it would refuse. */
export function reorderingArgs(r: Reordering): string[] {
  integerIn('queue', r.queue, 0, 65535);
  integerIn('holdPercent', r.holdPercent, 0, 100);
  integerIn('releaseAfter', r.releaseAfter ?? 3, 1, 1000);
  integerIn('maxHoldUs', r.maxHoldUs ?? 2000, 0, 10_000_000);
  integerIn('seed', r.seed ?? 1, 0, 0xffffffff);
  return [
    '--queue', String(r.queue),
    '--hold-percent', String(r.holdPercent),
    '--release-after', String(r.releaseAfter ?? 3),
    '--max-hold-us', String(r.maxHoldUs ?? 2000),
    '--seed', String(r.seed ?? 1),
  ];
}

/**
 * Starts reordering `host`'s link: the program first, then the rules. They are appended, so that rules before them
 * (random loss) still see every packet: a packet the queue accepts leaves the chain.
 */
export async function startReordering(tb: Testbed, host: string | HostHandle, r: Reordering): Promise<ReorderingHandle> {
  const h = typeof host === 'string' ? tb.host(host) : host;
  const child = tb.spawn('router', [NFQ_REORDER, ...reorderingArgs(r)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (const deadline = Date.now() + READY_TIMEOUT_MS; !stdout.includes('"event":"ready"'); ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopProcess(child, 'SIGKILL');
      throw new Error(`nfq-reorder did not start (${NFQ_REORDER}): ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const rules = reorderingRules(h.routerIface, r.queue);
  for (const rule of rules) await tb.exec('router', ['iptables', '-w', '5', '-A', ...rule]);
  return {
    async stop() {
      for (const rule of rules) await tb.exec('router', ['iptables', '-w', '5', '-D', ...rule], { allowFailure: true });
      await stopProcess(child);
      await exited;
      const line = stdout.split('\n').find((l) => l.includes('"event":"report"'));
      const report = line ? (JSON.parse(line) as Partial<ReorderingReport>) : {};
      return { packets: report.packets ?? 0, reordered: report.reordered ?? 0 };
    },
  };
}
