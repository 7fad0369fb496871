// Unmodified Linux middleboxes on testbed hosts, for tests and benchmarks: HAProxy as a TCP proxy, an
// iptables/conntrack firewall, an iptables MASQUERADE NAT, rate limits with tc, and small parsers for what those
// tools print. Everything lives in the testbed's run directory and dies with the testbed; every wait is bounded.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecOptions, HostHandle, Target, Testbed } from './testbed';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Bounded wait for a child to exit; SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const gone = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!gone) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(2_000)]);
  }
}

/** Polls `ss` in the host's namespace until something listens on `address:port`. */
export async function waitForListener(tb: Testbed, host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await tb.exec(host, ['ss', '-Hltn', `sport = :${port}`], { allowFailure: true, timeoutMs: 3_000 });
    if (r.stdout.trim() !== '') return;
    await sleep(50);
  }
  throw new Error(`nothing listens on port ${port} on ${host} after ${timeoutMs} ms`);
}

/** The last lines a child printed (stdout and stderr), for error messages. */
export function collectOutput(child: ChildProcess): () => string {
  let text = '';
  child.stdout?.on('data', (b: Buffer) => (text += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (text += b.toString()));
  return () => text.trim().split('\n').slice(-10).join('\n');
}

// ---- HAProxy ------------------------------------------------------------------------------------------------------

export interface Haproxy {
  readonly config: string;
  stop(): Promise<void>;
}

/** HAProxy in TCP mode in the host's namespace, in the foreground: `bind` → `backend` (address:port each). */
export async function startHaproxy(tb: Testbed, host: HostHandle, bind: { address: string; port: number }, backend: string): Promise<Haproxy> {
  const dir = join(tb.runDir, `haproxy-${host.name}`);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 4096',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend fe',
      `  bind ${bind.address}:${bind.port}`,
      '  default_backend be',
      'backend be',
      `  server upstream ${backend}`,
      '',
    ].join('\n'),
  );
  const child = tb.spawn(host, ['haproxy', '-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  try {
    await waitForListener(tb, host.name, bind.port);
  } catch (err) {
    await stopProcess(child, 'SIGKILL');
    throw new Error(`${(err as Error).message}; haproxy: ${output()}`);
  }
  return { config, stop: () => stopProcess(child) };
}

// ---- iptables and conntrack ---------------------------------------------------------------------------------------

/** The stateful firewall of the Dysco paper's experiments: new connections only by SYN, then conntrack's state. */
export const FIREWALL_RULES: readonly (readonly string[])[] = [
  ['-P', 'FORWARD', 'DROP'],
  ['-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'],
  ['-A', 'FORWARD', '-p', 'tcp', '--syn', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'ACCEPT'],
  ['-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
];

/**
 * `admitNew: false`: a firewall that admits no connection itself and passes only those conntrack already holds, as
 * a firewall instance that takes sessions over from another must (state transfer puts them there).
 */
export async function installFirewall(tb: Testbed, host: string, options: { admitNew?: boolean } = {}): Promise<void> {
  const rules = options.admitNew === false ? FIREWALL_RULES.filter((rule) => !rule.includes('NEW')) : FIREWALL_RULES;
  for (const rule of rules) await tb.exec(host, ['iptables', '-w', '5', ...rule]);
  // conntrack must not pick up connections in the middle: a packet that is not a SYN of a known flow is INVALID
  await tb.exec(host, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_tcp_loose=0']);
}

export async function installMasquerade(tb: Testbed, host: string): Promise<void> {
  await tb.exec(host, ['iptables', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-j', 'MASQUERADE']);
}

export interface RuleCounters {
  /** the chain policy's packet count */
  policyPackets: number;
  rules: { packets: number; bytes: number; target: string; text: string }[];
}

/** `iptables -L <chain> -v -n -x`, parsed. */
export async function ruleCounters(tb: Testbed, host: string, chain = 'FORWARD'): Promise<RuleCounters> {
  const r = await tb.exec(host, ['iptables', '-w', '5', '-L', chain, '-v', '-n', '-x']);
  const lines = r.stdout.trim().split('\n');
  const policy = /policy \S+ (\d+) packets/.exec(lines[0] ?? '');
  const rules = lines.slice(2).map((line) => {
    const cols = line.trim().split(/\s+/);
    return { packets: Number(cols[0]), bytes: Number(cols[1]), target: cols[2] ?? '', text: line.trim() };
  });
  return { policyPackets: policy ? Number(policy[1]) : 0, rules };
}

export interface ConntrackEntry {
  state: string;
  /** the original direction */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** the reply direction (after NAT) */
  replySrc: string;
  replyDst: string;
  replySport: number;
  replyDport: number;
  line: string;
}

/** `conntrack -L -p tcp` in the host's namespace, parsed. */
export async function conntrackEntries(tb: Testbed, host: string): Promise<ConntrackEntry[]> {
  const r = await tb.exec(host, ['conntrack', '-L', '-p', 'tcp'], { allowFailure: true });
  const entries: ConntrackEntry[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^tcp\s+\d+\s+\d+\s+(\S+)\s+src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+).*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/.exec(line);
    if (!m) continue;
    entries.push({
      state: m[1]!,
      src: m[2]!,
      dst: m[3]!,
      sport: Number(m[4]),
      dport: Number(m[5]),
      replySrc: m[6]!,
      replyDst: m[7]!,
      replySport: Number(m[8]),
      replyDport: Number(m[9]),
      line,
    });
  }
  return entries;
}

// ---- rate limits with tc ------------------------------------------------------------------------------------------

export interface RateLimit {
  /** e.g. 100 for 100 Mbit/s */
  mbitPerSecond: number;
  /** token bucket size; default 1/100 s of traffic at the rate, at least 16 KiB (a few frames at 1500 bytes) */
  burstBytes?: number;
  /** the longest a packet may wait in the queue; default 50 ms */
  latencyMs?: number;
}

/**
 * Limits what leaves `iface` in the namespace of `target` with a token bucket filter (`tc qdisc replace ... tbf`),
 * the bottleneck link of a benchmark. Replaces whatever root qdisc was there; `removeRateLimit` restores the default.
 */
export async function limitRate(tb: Testbed, target: Target, iface: string, limit: RateLimit, opts: ExecOptions = {}): Promise<void> {
  if (!(limit.mbitPerSecond > 0) || !Number.isFinite(limit.mbitPerSecond)) throw new RangeError(`rate must be a positive number of Mbit/s: ${limit.mbitPerSecond}`);
  const burst = limit.burstBytes ?? Math.max(16_384, Math.ceil((limit.mbitPerSecond * 1e6) / 8 / 100));
  const latencyMs = limit.latencyMs ?? 50;
  await tb.exec(target, ['tc', 'qdisc', 'replace', 'dev', iface, 'root', 'tbf', 'rate', `${limit.mbitPerSecond}mbit`, 'burst', String(burst), 'latency', `${latencyMs}ms`], opts);
}

/**
 * A rate-limited link whose control datagrams (UDP to `priorityUdpPort`) go ahead of the data, as operators give
 * control traffic its own class: HTB at the rate with two classes, the data's a byte FIFO of `queueMs` at the rate.
 * (This kernel has HTB, TBF and the FIFOs, no fq_codel or prio.)
 */
export async function shapeLink(tb: Testbed, target: Target, iface: string, link: { mbitPerSecond: number; queueMs: number; priorityUdpPort: number }, opts: ExecOptions = {}): Promise<void> {
  const { mbitPerSecond: rate, queueMs, priorityUdpPort } = link;
  if (!(rate > 1) || !Number.isFinite(rate)) throw new RangeError(`rate must be a number of Mbit/s above 1: ${rate}`);
  const tc = (args: string[]) => tb.exec(target, ['tc', ...args], opts);
  await tb.exec(target, ['tc', 'qdisc', 'del', 'dev', iface, 'root'], { ...opts, allowFailure: true });
  await tc(['qdisc', 'add', 'dev', iface, 'root', 'handle', '1:', 'htb', 'default', '20']);
  await tc(['class', 'add', 'dev', iface, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', `${rate}mbit`, 'ceil', `${rate}mbit`]);
  // Both classes may use the whole rate on their own, so neither waits to borrow from the other; when both have
  // packets, the control class goes first. (A control class assured 1 Mbit/s sent a migration's burst at that rate.)
  await tc(['class', 'add', 'dev', iface, 'parent', '1:1', 'classid', '1:10', 'htb', 'rate', `${rate}mbit`, 'ceil', `${rate}mbit`, 'prio', '0']);
  await tc(['class', 'add', 'dev', iface, 'parent', '1:1', 'classid', '1:20', 'htb', 'rate', `${rate}mbit`, 'ceil', `${rate}mbit`, 'prio', '1']);
  await tc(['qdisc', 'add', 'dev', iface, 'parent', '1:20', 'bfifo', 'limit', String(Math.max(64 * 1024, Math.round((rate * 1e6 * queueMs) / 8000)))]);
  await tc(['filter', 'add', 'dev', iface, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'dport', String(priorityUdpPort), '0xffff', 'flowid', '1:10']);
}

export async function removeRateLimit(tb: Testbed, target: Target, iface: string, opts: ExecOptions = {}): Promise<void> {
  await tb.exec(target, ['tc', 'qdisc', 'del', 'dev', iface, 'root'], { ...opts, allowFailure: true });
}
