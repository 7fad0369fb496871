// Steers the traffic between two hosts of a testbed through a chain of forwarding hosts by plain IP
// routing on the router (policy routing by incoming interface): the "same chain routed by IP" that
// Dysco chains are measured against.
import type { HostHandle, Testbed } from './testbed';

const TABLE_BASE = 100;

/** Restricts a routed chain to the TCP traffic of one server port (both directions). */
export interface ChainSelector {
  port: number;
  /** Distinguishes the routing tables of several selectors (0..63). */
  slot: number;
}

function tableOf(from: HostHandle, selector?: ChainSelector): string {
  return String(TABLE_BASE + (selector ? (selector.slot + 1) * 64 : 0) + from.index);
}

async function routeOneWay(tb: Testbed, path: readonly HostHandle[], selector?: ChainSelector, towardServer = true): Promise<void> {
  const destination = path[path.length - 1]!;
  for (let i = 0; i < path.length - 1; i++) {
    const from = path[i]!;
    const next = path[i + 1]!;
    const table = tableOf(from, selector);
    const rules = await tb.exec('router', ['ip', 'rule', 'show', 'iif', from.routerIface]);
    if (!rules.stdout.includes(`lookup ${table}`)) {
      const match = selector ? ['ipproto', 'tcp', towardServer ? 'dport' : 'sport', String(selector.port)] : [];
      await tb.exec('router', ['ip', 'rule', 'add', 'iif', from.routerIface, ...match, 'table', table, 'priority', table]);
    }
    const route =
      next === destination
        ? ['ip', 'route', 'replace', `${destination.address}/32`, 'dev', destination.routerIface, 'table', table]
        : ['ip', 'route', 'replace', `${destination.address}/32`, 'via', next.address, 'table', table];
    await tb.exec('router', route);
  }
}

/**
 * Routes client ↔ server through `via` (forwarding hosts, in order from the client) in both directions;
 * with a selector, only the TCP traffic to and from that server port.
 */
export async function routeThroughChain(
  tb: Testbed,
  client: string,
  server: string,
  via: readonly string[],
  selector?: ChainSelector,
): Promise<void> {
  const path = [client, ...via, server].map((name) => tb.host(name));
  for (const host of path.slice(1, -1)) {
    if (!host.forwarding) throw new Error(`host ${host.name} does not forward IP; it cannot be on a routed chain`);
  }
  if (via.length === 0) return;
  await routeOneWay(tb, path, selector, true);
  await routeOneWay(tb, [...path].reverse(), selector, false);
}

/**
 * Undoes routeThroughChain with the same arguments: the router's rules and tables for that path go, and the traffic
 * takes the direct route again (mid-session, for tests of what a path change does to a connection).
 */
export async function unrouteChain(
  tb: Testbed,
  client: string,
  server: string,
  via: readonly string[],
  selector?: ChainSelector,
): Promise<void> {
  const path = [client, ...via, server].map((name) => tb.host(name));
  for (const hops of [path, [...path].reverse()]) {
    for (const from of hops.slice(0, -1)) {
      const table = tableOf(from, selector);
      await tb.exec('router', ['ip', 'rule', 'del', 'table', table], { allowFailure: true });
      await tb.exec('router', ['ip', 'route', 'flush', 'table', table], { allowFailure: true });
    }
  }
}
