import { readFileSync } from 'node:fs';
import { ClientRuntimeError, EtcdError, GRPCGenericError } from 'etcd3';
import { listPolicySet, PolicyPushConflictError, pushPolicySet } from '../../policy/etcd-admin';
import { connectEtcd } from '../../policy/etcd-connection';
import { parsePolicyFile, PolicyFileError } from '../../policy/service-server';
import { formatTable, POLICY_COLUMNS, policyCells } from '../ctl/format';
import { UserError } from '../shared/user-error';
import { storeTargetFromArgs, type PolicyPushArgs, type PolicyStoreArgs, type PolicyStoreTarget } from './options';

export type Output = (text: string) => void;
const stdout: Output = (text) => process.stdout.write(`${text}\n`);

async function withStore<T>(target: PolicyStoreTarget, fn: (client: ReturnType<typeof connectEtcd>) => Promise<T>): Promise<T> {
  const client = connectEtcd({ endpoints: target.endpoints, timeoutMs: target.timeoutMs, reconnectMaxMs: 1000 });
  try {
    return await fn(client);
  } catch (error) {
    if (error instanceof EtcdError || error instanceof GRPCGenericError || error instanceof ClientRuntimeError || error instanceof PolicyPushConflictError)
      throw new UserError(`etcd ${target.endpoints.join(',')}: ${(error as Error).message}`);
    throw error;
  } finally {
    client.close();
  }
}

/** Replaces the store's set with the file's list, in one transaction. */
export async function runPolicyPush(args: PolicyPushArgs, out: Output = stdout): Promise<void> {
  const target = storeTargetFromArgs(args);
  let text: string;
  try {
    text = readFileSync(args.file, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read ${args.file}: ${(error as Error).message}`);
  }
  let policies;
  try {
    ({ policies } = parsePolicyFile(text, args.file));
  } catch (error) {
    if (error instanceof PolicyFileError) throw new UserError(error.message);
    throw error;
  }
  const result = await withStore(target, (client) => pushPolicySet(client, target.prefix, policies));
  if (args.json) {
    out(JSON.stringify({ prefix: target.prefix, ...result }));
    return;
  }
  const names = (keys: string[]) => (keys.length ? keys.map((k) => k.slice(target.prefix.length)).join(', ') : '-');
  out(`${policies.length} policies at ${target.prefix}, revision ${result.revision}`);
  out(`  written: ${names(result.written)}\n  deleted: ${names(result.deleted)}\n  unchanged: ${names(result.unchanged)}`);
}

/** Prints the store's set in match order; exits 1 if the set is invalid (agents keep their last good set). */
export async function runPolicyList(args: PolicyStoreArgs, out: Output = stdout): Promise<void> {
  const target = storeTargetFromArgs(args);
  const { revision, set, keys } = await withStore(target, (client) => listPolicySet(client, target.prefix));
  if (!set.ok) {
    if (args.json) out(JSON.stringify({ prefix: target.prefix, revision, errors: set.errors, keys }));
    else out(`the set at ${target.prefix} (revision ${revision}) is invalid; agents keep their last good set:\n  ${set.errors.join('\n  ')}`);
    process.exitCode = 1;
    return;
  }
  const rows = set.policies.map((p) => ({ order: set.orders.get(p.name)!, ...p }));
  if (args.json) {
    out(JSON.stringify({ prefix: target.prefix, revision, policies: rows }));
    return;
  }
  out(`${rows.length} policies at ${target.prefix}, revision ${revision}`);
  if (rows.length) out(formatTable(['ORDER', 'NAME', ...POLICY_COLUMNS], rows.map((p) => [String(p.order), p.name, ...policyCells(p)]), new Set([0])));
}
