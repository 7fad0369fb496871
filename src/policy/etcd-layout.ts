// How a fleet's policy set is laid out in etcd (docs/deployment.md): one key per policy,
//   <prefix><name>  ->  {"order": 10, "match": {...}, "chain": ["10.0.1.2", ...]}
// The set is the keys under the prefix sorted by (order, name), so every agent builds the same list and the
// first match wins as it does in a policy file. `dysco policy push` writes a file's list with orders
// 10, 20, 30 ... in one transaction; an operator may also put or delete single keys with etcdctl.
// A set with any bad key is refused whole: skipping one policy would silently route its sessions elsewhere.
import type { Policy } from './model';
import { POLICY_NAME_PATTERN } from './model';
import { validatePolicies } from './validate';

export const DEFAULT_ETCD_PREFIX = '/dysco/policies/';
export const ORDER_STEP = 10;
const MAX_ORDER = 2 ** 31 - 1;

export const ETCD_ENDPOINT_FORM = 'must be an http:// or https:// URL, or unix:/absolute/path of a socket';

/** etcd's client URL (http://10.0.0.5:2379) or a Unix socket, which etcd serves with unix:// listen URLs. */
export function isEtcdEndpoint(endpoint: string): boolean {
  if (/^unix:\/[^\0]+$/.test(endpoint)) return true;
  try {
    const url = new URL(endpoint);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.pathname === '/';
  } catch {
    return false;
  }
}

/** A prefix is an absolute key path ending in '/', so that "/dysco/policies/" never matches "/dysco/policies-old/x". */
export function checkEtcdPrefix(prefix: string): string | undefined {
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) return `etcd prefix must start and end with "/": ${JSON.stringify(prefix)}`;
  if (prefix.length > 512) return 'etcd prefix is longer than 512 characters';
  return undefined;
}

export interface StoredPolicy {
  key: string;
  value: string;
}

export type DecodedPolicySet = { ok: true; policies: Policy[]; orders: Map<string, number> } | { ok: false; errors: string[] };

/** Builds the ordered, validated policy list from the keys under `prefix`. */
export function decodePolicySet(prefix: string, stored: Iterable<StoredPolicy>): DecodedPolicySet {
  const errors: string[] = [];
  const entries: { order: number; policy: Record<string, unknown> }[] = [];
  for (const { key, value } of stored) {
    const name = key.slice(prefix.length);
    if (!key.startsWith(prefix) || !POLICY_NAME_PATTERN.test(name)) {
      errors.push(`${key}: the name after the prefix must match ${POLICY_NAME_PATTERN}`);
      continue;
    }
    let data: unknown;
    try {
      data = JSON.parse(value);
    } catch (error) {
      errors.push(`${key}: not JSON: ${(error as Error).message}`);
      continue;
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      errors.push(`${key}: must be a JSON object { order, match, chain }`);
      continue;
    }
    const { order = 0, name: stated, ...policy } = data as Record<string, unknown>;
    if (!Number.isInteger(order) || (order as number) < 0 || (order as number) > MAX_ORDER) {
      errors.push(`${key}: order must be an integer from 0 to ${MAX_ORDER}`);
      continue;
    }
    if (stated !== undefined && stated !== name) {
      errors.push(`${key}: states the name ${JSON.stringify(stated)}, but its key names ${JSON.stringify(name)}`);
      continue;
    }
    entries.push({ order: order as number, policy: { name, ...policy } });
  }
  if (errors.length) return { ok: false, errors };
  entries.sort((a, b) => a.order - b.order || compareNames(a.policy.name as string, b.policy.name as string));
  const validated = validatePolicies(
    entries.map((e) => e.policy),
    'policies',
  );
  if (!validated.ok) return { ok: false, errors: validated.errors.map((e) => relabel(e, entries)) };
  return { ok: true, policies: validated.value, orders: new Map(entries.map((e) => [e.policy.name as string, e.order])) };
}

/** The keys and values that store `policies` in list order. */
export function encodePolicySet(prefix: string, policies: readonly Policy[]): StoredPolicy[] {
  return policies.map(({ name, ...rest }, index) => ({ key: `${prefix}${name}`, value: JSON.stringify({ order: (index + 1) * ORDER_STEP, ...rest }) }));
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "policies[3].match.dstPrefix: ..." names the fourth policy of the sorted list; say which key that is. */
function relabel(error: string, entries: { policy: Record<string, unknown> }[]): string {
  return error.replace(/^policies\[(\d+)\]/, (whole, index: string) => {
    const name = entries[Number(index)]?.policy.name;
    return typeof name === 'string' ? `policy ${name}` : whole;
  });
}
