// `dysco agent` flags. Flags only override the config file; defaults live in src/agent/config.ts.
import type { Argv } from 'yargs';
import { ConfigError, mergeConfig, parseAgentConfig, readConfigFile, type AgentConfig } from '../../agent/config';

export function agentOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('config', {
      type: 'string',
      array: true,
      describe: 'agent config file (YAML or JSON); given again, each later file is merged onto the ones before (e.g. a fleet file, then the node\'s own)',
    })
    .option('host-device', { type: 'string', describe: 'device string of the port toward the host stack, e.g. net_af_packet0,iface=veth0' })
    .option('wire-device', { type: 'string', describe: 'device string of the port toward the network, e.g. net_af_xdp0,iface=eth1' })
    .option('poll-mode', { choices: ['adaptive', 'busy'] as const, describe: 'adaptive idle back-off or pure busy polling' })
    .option('idle-sleep-max-us', { type: 'number', describe: 'longest idle sleep of the adaptive back-off' })
    .option('metrics', { type: 'boolean', describe: 'serve Prometheus metrics (--no-metrics to disable)' })
    .option('metrics-host', { type: 'string', describe: 'address the metrics endpoint binds' })
    .option('metrics-port', { type: 'number', describe: 'port of the metrics endpoint' })
    .option('eal-file-prefix', { type: 'string', describe: 'DPDK runtime file prefix (must start with dysco-)' })
    .option('eal-memory-mb', { type: 'number', describe: 'DPDK memory in MiB' })
    .option('hugepages', { type: 'boolean', describe: 'use hugepages instead of --no-huge' })
    .option('log-level', { type: 'string', describe: 'fatal|error|warn|info|debug|trace|silent' })
    .option('address', { type: 'string', describe: 'Dysco mode: the host\'s address and prefix, e.g. 10.0.1.2/24 (without it, and without a dysco section in the config, the agent is a pass-through bridge)' })
    .option('gateway', { type: 'string', describe: 'Dysco mode: the host\'s default gateway, for next hops off the prefix' });
}

export interface AgentArgs {
  config?: string | string[];
  hostDevice?: string;
  wireDevice?: string;
  pollMode?: 'adaptive' | 'busy';
  idleSleepMaxUs?: number;
  metrics?: boolean;
  metricsHost?: string;
  metricsPort?: number;
  ealFilePrefix?: string;
  ealMemoryMb?: number;
  hugepages?: boolean;
  logLevel?: string;
  address?: string;
  gateway?: string;
}

/** Config files, each merged onto the ones before, then flags on top, validated as one object (errors name the field). */
export function resolveAgentConfig(args: AgentArgs): AgentConfig {
  const files = [args.config ?? []].flat();
  const fromFile = files.length === 1 ? readConfigFile(files[0]!) : files.reduce<Record<string, unknown>>((merged, file) => mergeConfig(merged, configObject(file)), {});
  const overlay = {
    host: { device: args.hostDevice },
    wire: { device: args.wireDevice },
    poll: { mode: args.pollMode, idleSleepMaxUs: args.idleSleepMaxUs },
    metrics: { enabled: args.metrics, host: args.metricsHost, port: args.metricsPort },
    eal: { filePrefix: args.ealFilePrefix, memoryMb: args.ealMemoryMb, hugepages: args.hugepages },
    log: { level: args.logLevel },
    dysco: { address: args.address, gateway: args.gateway },
  };
  return parseAgentConfig(mergeConfig(fromFile, overlay), files.length ? `${files.join(' + ')} + flags` : 'flags');
}

function configObject(file: string): Record<string, unknown> {
  const data = readConfigFile(file);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError(`config file ${file} must hold a mapping of keys`);
  return data as Record<string, unknown>;
}
