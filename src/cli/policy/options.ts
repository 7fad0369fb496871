// `dysco policy` flags: where the fleet's etcd store is (flags, or the policyEtcd section of an agent config).
import type { Argv } from 'yargs';
import { parseAgentConfig, readConfigFile } from '../../agent/config';
import { checkEtcdPrefix, DEFAULT_ETCD_PREFIX, ETCD_ENDPOINT_FORM, isEtcdEndpoint } from '../../policy/etcd-layout';
import { UserError } from '../shared/user-error';

export interface PolicyStoreArgs {
  endpoints?: string[];
  prefix?: string;
  config?: string;
  timeoutMs?: number;
  json?: boolean;
}

export interface PolicyPushArgs extends PolicyStoreArgs {
  file: string;
}

export interface PolicyStoreTarget {
  endpoints: string[];
  prefix: string;
  timeoutMs: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

export function policyStoreOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('endpoints', { type: 'string', array: true, describe: 'etcd endpoints: http(s)://host:port or unix:/path (default: from --config)' })
    .option('prefix', { type: 'string', describe: `key prefix of the policy set (default ${DEFAULT_ETCD_PREFIX}, or from --config)` })
    .option('config', { type: 'string', describe: 'an agent config file whose policyEtcd section names the store' })
    .option('timeout-ms', { type: 'number', describe: `deadline of each etcd call (default ${DEFAULT_TIMEOUT_MS})` })
    .option('json', { type: 'boolean', describe: 'print JSON' });
}

/** Flags win over the agent config; every value is checked before anything connects. */
export function storeTargetFromArgs(args: PolicyStoreArgs): PolicyStoreTarget {
  const fromConfig = args.config !== undefined ? parseAgentConfig(readConfigFile(args.config), args.config).policyEtcd : undefined;
  if (args.config !== undefined && !fromConfig && !args.endpoints?.length) throw new UserError(`${args.config} has no policyEtcd section`);
  const endpoints = args.endpoints?.length ? args.endpoints.flatMap((e) => e.split(',')).filter(Boolean) : fromConfig?.endpoints;
  if (!endpoints?.length) throw new UserError('name the etcd store with --endpoints or --config');
  for (const endpoint of endpoints) if (!isEtcdEndpoint(endpoint)) throw new UserError(`--endpoints ${endpoint}: ${ETCD_ENDPOINT_FORM}`);
  const prefix = args.prefix ?? fromConfig?.prefix ?? DEFAULT_ETCD_PREFIX;
  const problem = checkEtcdPrefix(prefix);
  if (problem) throw new UserError(`--prefix: ${problem}`);
  const timeoutMs = args.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) throw new UserError('--timeout-ms must be an integer from 1 to 600000');
  return { endpoints, prefix, timeoutMs };
}
