// Random packet loss on a host's link by iptables' statistic match on the router, for kernels without sch_netem (tc
// netem, netem.ts, is the richer tool where the kernel has it). Optionally only some traffic: UDP to a port drops
// control messages and leaves the data alone.
import type { HostHandle, Testbed } from './testbed';

export interface RandomLoss {
  /** 0 < probability ≤ 1, per packet */
  probability: number;
  /** only UDP packets to this port (e.g. the agents' control port) */
  udpDstPort?: number;
}

/** The iptables rule bodies (without -A/-D) for a loss on the router's interface toward a host, both directions. */
export function randomLossRules(routerIface: string, loss: RandomLoss): string[][] {
  if (!(loss.probability > 0 && loss.probability <= 1)) throw new RangeError(`loss probability must be in (0, 1], got ${loss.probability}`);
  if (loss.udpDstPort !== undefined && !(Number.isInteger(loss.udpDstPort) && loss.udpDstPort >= 1 && loss.udpDstPort <= 65535)) {
    throw new RangeError(`bad UDP port ${loss.udpDstPort}`);
  }
  const match = loss.udpDstPort === undefined ? [] : ['-p', 'udp', '--dport', String(loss.udpDstPort)];
  const statistic = ['-m', 'statistic', '--mode', 'random', '--probability', loss.probability.toFixed(6)];
  return ['-i', '-o'].map((side) => ['FORWARD', side, routerIface, ...match, ...statistic, '-j', 'DROP']);
}

/** Drops packets at random on `host`'s link (in the router's FORWARD chain, both ways). */
export async function addRandomLoss(tb: Testbed, host: string | HostHandle, loss: RandomLoss): Promise<void> {
  const h = typeof host === 'string' ? tb.host(host) : host;
  for (const rule of randomLossRules(h.routerIface, loss)) await tb.exec('router', ['iptables', '-w', '5', '-I', ...rule]);
}

export async function removeRandomLoss(tb: Testbed, host: string | HostHandle, loss: RandomLoss): Promise<void> {
  const h = typeof host === 'string' ? tb.host(host) : host;
  for (const rule of randomLossRules(h.routerIface, loss)) await tb.exec('router', ['iptables', '-w', '5', '-D', ...rule], { allowFailure: true });
}

/** Packets the loss rules of `host`'s link dropped so far. */
export async function randomLossDrops(tb: Testbed, host: string | HostHandle): Promise<number> {
  const h = typeof host === 'string' ? tb.host(host) : host;
  const r = await tb.exec('router', ['iptables', '-w', '5', '-L', 'FORWARD', '-v', '-n', '-x']);
  return r.stdout
    .split('\n')
    .filter((line) => line.includes('statistic mode random') && line.includes(h.routerIface))
    .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0]), 0);
}
