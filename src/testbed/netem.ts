// Impaired links with tc netem: loss, reordering, delay, duplication on what leaves an interface, for tests that must
// hold up on a bad network. One root qdisc per interface; `removeNetem` restores the default.
import type { ExecOptions, HostHandle, Target, Testbed } from './testbed';

export interface NetemSpec {
  /** percent of packets dropped, 0..100 */
  lossPercent?: number;
  /** fixed delay; netem needs one for reordering (a reordered packet skips it) */
  delayMs?: number;
  /** random variation of the delay */
  jitterMs?: number;
  /** percent of packets sent at once instead of delayed, i.e. ahead of the ones before; needs delayMs > 0 */
  reorderPercent?: number;
  /** percent of packets sent twice */
  duplicatePercent?: number;
}

function percent(name: string, value: number | undefined): string[] {
  if (value === undefined) return [];
  if (!Number.isFinite(value) || value < 0 || value > 100) throw new RangeError(`netem ${name} must be a percentage from 0 to 100, got ${value}`);
  return [name, `${value}%`];
}

function milliseconds(name: string, value: number): string {
  if (!Number.isFinite(value) || value < 0 || value > 60_000) throw new RangeError(`netem ${name} must be from 0 to 60000 ms, got ${value}`);
  return `${value}ms`;
}

/** The netem part of `tc qdisc replace dev <iface> root netem …`; throws RangeError on impossible settings. */
export function netemArgs(spec: NetemSpec): string[] {
  const args: string[] = [];
  if (spec.delayMs !== undefined) {
    args.push('delay', milliseconds('delay', spec.delayMs));
    if (spec.jitterMs !== undefined) args.push(milliseconds('jitter', spec.jitterMs));
  } else if (spec.jitterMs !== undefined) {
    throw new RangeError('netem jitter needs a delay');
  }
  args.push(...percent('loss', spec.lossPercent));
  if (spec.reorderPercent !== undefined) {
    if (!(spec.delayMs !== undefined && spec.delayMs > 0)) throw new RangeError('netem reordering needs a delay greater than 0');
    args.push(...percent('reorder', spec.reorderPercent));
  }
  args.push(...percent('duplicate', spec.duplicatePercent));
  if (args.length === 0) throw new RangeError('a netem spec must impair something');
  return args;
}

/** Impairs what leaves `iface` in the namespace of `target`; replaces whatever root qdisc was there. */
export async function addNetem(tb: Testbed, target: Target, iface: string, spec: NetemSpec, opts: ExecOptions = {}): Promise<void> {
  await tb.exec(target, ['tc', 'qdisc', 'replace', 'dev', iface, 'root', 'netem', ...netemArgs(spec)], opts);
}

export async function removeNetem(tb: Testbed, target: Target, iface: string, opts: ExecOptions = {}): Promise<void> {
  await tb.exec(target, ['tc', 'qdisc', 'del', 'dev', iface, 'root'], { ...opts, allowFailure: true });
}

/**
 * Impairs a host's data link both ways: what the host sends (its interface) and what the router sends toward it (the
 * router's interface on the host's subnet). With an agent on the host, the agent sits between the two.
 */
export async function impairHostLink(tb: Testbed, host: string | HostHandle, spec: NetemSpec): Promise<void> {
  const h = typeof host === 'string' ? tb.host(host) : host;
  await addNetem(tb, h, h.iface, spec);
  await addNetem(tb, 'router', h.routerIface, spec);
}

export async function restoreHostLink(tb: Testbed, host: string | HostHandle): Promise<void> {
  const h = typeof host === 'string' ? tb.host(host) : host;
  await removeNetem(tb, h, h.iface);
  await removeNetem(tb, 'router', h.routerIface);
}

export interface QdiscCounters {
  kind: string;
  sentPackets: number;
  dropped: number;
}

/** The root qdisc of an interface from `tc -s qdisc show dev <iface>`. */
export function parseQdiscStats(text: string): QdiscCounters | undefined {
  const kind = /^qdisc (\S+)/m.exec(text)?.[1];
  const sent = /Sent \d+ bytes (\d+) pkt \(dropped (\d+)/.exec(text);
  if (kind === undefined || !sent) return undefined;
  return { kind, sentPackets: Number(sent[1]), dropped: Number(sent[2]) };
}

export async function qdiscStats(tb: Testbed, target: Target, iface: string): Promise<QdiscCounters | undefined> {
  const r = await tb.exec(target, ['tc', '-s', 'qdisc', 'show', 'dev', iface]);
  return parseQdiscStats(r.stdout);
}

/** Why netem cannot be used on this kernel (tried on a namespace's loopback), or undefined when it can. */
export async function netemUnavailableReason(tb: Testbed, target: Target = 'router'): Promise<string | undefined> {
  const r = await tb.exec(target, ['tc', 'qdisc', 'replace', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { allowFailure: true });
  await tb.exec(target, ['tc', 'qdisc', 'del', 'dev', 'lo', 'root'], { allowFailure: true });
  return r.code === 0 ? undefined : `tc netem unavailable: ${(r.stderr.trim() || r.stdout.trim()).split('\n')[0]}`;
}
