// The network of a testbed: namespaces with their sysctls, veth pairs born in their namespaces, addresses, routes,
// offloads off. Built once per run; deleting the namespaces removes all of it.
import { run, runInNamespace, type RunResult } from './exec';
import type { HostHandle } from './handles';

/** Features turned off on every veth end the datapath touches and on their peers. */
export const OFFLOAD_FEATURES = ['tx', 'rx', 'tso', 'gso', 'gro'] as const;

/** Sysctls set in every namespace of a run, before any link exists (so `default` applies to new links). */
const BASE_SYSCTLS = [
  'net.ipv6.conf.all.disable_ipv6=1',
  'net.ipv6.conf.default.disable_ipv6=1',
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
  'net.ipv4.conf.all.send_redirects=0',
  'net.ipv4.conf.default.send_redirects=0',
  'net.ipv4.conf.all.accept_redirects=0',
  'net.ipv4.conf.default.accept_redirects=0',
];

export interface NetworkPlan {
  routerNs: string;
  hosts: readonly HostHandle[];
  /** turn offloads off on links without an agent too (fair baselines) */
  offloadsOffOnPlainLinks: boolean;
}

/** Namespaces, links, addresses and routes of a run; the caller checked that no namespace exists yet. */
export async function buildNetwork(plan: NetworkPlan): Promise<void> {
  const { routerNs, hosts } = plan;
  await addNamespace(routerNs, true);
  await Promise.all(
    hosts.map(async (h) => {
      await addNamespace(h.ns, h.forwarding);
      if (h.agent) {
        const ag = h.agent;
        await addNamespace(ag.ns, false);
        await ipLinkVeth(h.iface, h.ns, ag.hostIface, ag.ns);
        await ipLinkVeth(ag.wireIface, ag.ns, h.routerIface, routerNs);
        await runInNamespace(ag.ns, [
          'sysctl',
          '-q',
          '-e',
          '-w',
          `net.ipv6.conf.${ag.hostIface}.disable_ipv6=1`,
          `net.ipv6.conf.${ag.wireIface}.disable_ipv6=1`,
        ]);
        await Promise.all([
          offloadsOff(h.ns, h.iface),
          offloadsOff(ag.ns, ag.hostIface),
          offloadsOff(ag.ns, ag.wireIface),
          offloadsOff(routerNs, h.routerIface),
        ]);
        await ipBatch(ag.ns, [
          `link set dev ${ag.hostIface} promisc on up`,
          `link set dev ${ag.wireIface} promisc on up`,
        ]);
      } else {
        await ipLinkVeth(h.iface, h.ns, h.routerIface, routerNs);
        if (plan.offloadsOffOnPlainLinks) await Promise.all([offloadsOff(h.ns, h.iface), offloadsOff(routerNs, h.routerIface)]);
      }
      await ipBatch(h.ns, [`addr add ${h.cidr} dev ${h.iface}`, `link set dev ${h.iface} up`]);
    }),
  );
  // The router's side last: one batch for all its interfaces.
  await ipBatch(
    routerNs,
    hosts.flatMap((h) => [
      `addr add ${h.gateway}/${h.prefixLength} dev ${h.routerIface}`,
      `link set dev ${h.routerIface} up`,
    ]),
  );
  await Promise.all(hosts.map((h) => ipBatch(h.ns, [`route add default via ${h.gateway} dev ${h.iface}`])));
}

export async function addNamespace(ns: string, forwarding: boolean): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await runInNamespace(ns, [
    'sysctl',
    '-q',
    '-e',
    '-w',
    ...BASE_SYSCTLS,
    `net.ipv4.ip_forward=${forwarding ? 1 : 0}`,
  ]);
  await ipBatch(ns, ['link set dev lo up']);
}

/** `ip link add A netns NSA type veth peer name B netns NSB`: both ends born in their namespaces. */
export function ipLinkVeth(a: string, nsA: string, b: string, nsB: string): Promise<RunResult> {
  return run('ip', ['link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB]);
}

/** Several `ip` commands in one namespace, one process. */
export function ipBatch(ns: string, lines: readonly string[]): Promise<RunResult> {
  return run('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

export function offloadsOff(ns: string, dev: string): Promise<RunResult> {
  return runInNamespace(ns, ['ethtool', '-K', dev, ...OFFLOAD_FEATURES.flatMap((f) => [f, 'off'])]);
}
