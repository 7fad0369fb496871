// What `dysco policy push` and `dysco policy list` do to the store (layout: ./etcd-layout.ts).
// A push replaces the whole set in one transaction, guarded by the revisions it read, so agents never see
// half a push and two concurrent pushes cannot interleave: the later one sees the conflict and retries.
import type { Etcd3 } from 'etcd3';
import { decodePolicySet, encodePolicySet, type DecodedPolicySet } from './etcd-layout';
import type { Policy } from './model';

const PUSH_ATTEMPTS = 3;

export interface PushResult {
  /** The store's revision after the push (unchanged if nothing had to change). */
  revision: number;
  written: string[];
  deleted: string[];
  unchanged: string[];
}

export interface ListResult {
  revision: number;
  set: DecodedPolicySet;
  /** Keys under the prefix, in the set's order when it is valid. */
  keys: string[];
}

export class PolicyPushConflictError extends Error {
  constructor(attempts: number) {
    super(`the policy set changed in etcd during each of ${attempts} attempts to push; try again`);
    this.name = 'PolicyPushConflictError';
  }
}

export async function pushPolicySet(client: Etcd3, prefix: string, policies: readonly Policy[]): Promise<PushResult> {
  const wanted = new Map(encodePolicySet(prefix, policies).map(({ key, value }) => [key, value]));
  for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
    const current = await client.getAll().prefix(prefix).exec();
    const existing = new Map(current.kvs.map((kv) => [kv.key.toString(), { value: kv.value.toString(), modRevision: kv.mod_revision }]));
    const written = [...wanted].filter(([key, value]) => existing.get(key)?.value !== value).map(([key]) => key);
    const deleted = [...existing.keys()].filter((key) => !wanted.has(key));
    const unchanged = [...wanted].filter(([key, value]) => existing.get(key)?.value === value).map(([key]) => key);
    if (written.length === 0 && deleted.length === 0) return { revision: Number(current.header.revision), written, deleted, unchanged };
    // Every key read must be as read, and every key to create must still be absent.
    const guards: [string, 'Mod' | 'Create', string | number][] = [
      ...[...existing].map(([key, { modRevision }]): [string, 'Mod', string] => [key, 'Mod', modRevision]),
      ...[...wanted.keys()].filter((key) => !existing.has(key)).map((key): [string, 'Create', number] => [key, 'Create', 0]),
    ];
    const [first, ...rest] = guards;
    let txn = client.if(first![0], first![1], '==', first![2]);
    for (const [key, target, value] of rest) txn = txn.and(key, target, '==', value);
    const result = await txn
      .then(...deleted.map((key) => client.delete().key(key)), ...written.map((key) => client.put(key).value(wanted.get(key)!)))
      .commit();
    if (result.succeeded) return { revision: Number(result.header.revision), written, deleted, unchanged };
  }
  throw new PolicyPushConflictError(PUSH_ATTEMPTS);
}

export async function listPolicySet(client: Etcd3, prefix: string): Promise<ListResult> {
  const response = await client.getAll().prefix(prefix).exec();
  const stored = response.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString() }));
  const set = decodePolicySet(prefix, stored);
  const keys = set.ok ? set.policies.map((p) => `${prefix}${p.name}`) : stored.map((s) => s.key);
  return { revision: Number(response.header.revision), set, keys };
}
