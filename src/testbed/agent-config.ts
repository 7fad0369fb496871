// How a testbed agent is started: its DPDK device strings, its command line, and in Dysco mode the config file with
// its address, gateway and policies (host names resolved to addresses).
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DeviceKind } from './state';
import type { AgentHandle, HostHandle } from './handles';

/** Every agent listens for /metrics on 127.0.0.1:<port> inside its own agent namespace. */
export const DEFAULT_METRICS_PORT = 9464;
export const DEFAULT_DEVICE_KIND: DeviceKind = 'af_packet';
export const DEFAULT_AGENT_LOG_LEVEL = 'info';
/** The agent's entry point: dist/src/cli/main.js next to this compiled file. */
export const DEFAULT_AGENT_ENTRY = resolve(__dirname, '..', 'cli', 'main.js');

export interface TestbedPolicy {
  name: string;
  match: { srcPrefix?: string; dstPrefix?: string; srcPorts?: number | string; dstPorts?: number | string };
  chain: readonly string[];
}

export function deviceString(kind: DeviceKind, port: 0 | 1, iface: string): string {
  return kind === 'af_xdp' ? `net_af_xdp${port},iface=${iface}` : `net_af_packet${port},iface=${iface}`;
}

export interface AgentLaunch {
  /** path of the compiled CLI entry */
  entry: string;
  logLevel: string;
  /** appended to the command line */
  extraArgs: readonly string[];
}

/** The agent's argv (without the namespace wrapper): the CLI's `agent` command on the two devices. */
export function agentArgv(agent: AgentHandle, launch: AgentLaunch, dyscoArgs: readonly string[]): string[] {
  return [process.execPath, ...nodeArgsFromEnvironment(), launch.entry, ...agentCommandArgs(agent, launch, dyscoArgs)];
}

/** The `dysco` command's arguments for the agent: `agent` and its options. */
export function agentCommandArgs(agent: AgentHandle, launch: Omit<AgentLaunch, 'entry'>, dyscoArgs: readonly string[]): string[] {
  return [
    'agent',
    '--host-device',
    agent.hostDevice,
    '--wire-device',
    agent.wireDevice,
    '--metrics-host',
    '127.0.0.1',
    '--metrics-port',
    String(agent.metricsPort),
    '--log-level',
    launch.logLevel,
    ...dyscoArgs,
    ...launch.extraArgs,
  ];
}

export interface DyscoAgentConfig {
  runDir: string;
  /** every host of the testbed, to resolve names in chains and prefixes */
  hosts: readonly HostHandle[];
  policies: readonly TestbedPolicy[];
  /** extra agent config merged into the file */
  agentConfig: Readonly<Record<string, unknown>>;
}

/**
 * Dysco mode: writes the host's agent config file (its policies, host names resolved; a prefix that names a host is
 * its /32) and returns the arguments that give the agent its address, gateway and that file.
 */
export function writeDyscoAgentConfig(host: HostHandle, config: DyscoAgentConfig): string[] {
  const address = (name: string) => config.hosts.find((x) => x.name === name)?.address ?? name;
  const prefix = (p: string | undefined) => (p === undefined ? undefined : p.includes('/') ? p : `${address(p)}/32`);
  const policies = config.policies.map((p) => ({
    name: p.name,
    match: Object.fromEntries(
      Object.entries({ ...p.match, srcPrefix: prefix(p.match.srcPrefix), dstPrefix: prefix(p.match.dstPrefix) }).filter(
        ([, v]) => v !== undefined,
      ),
    ),
    chain: p.chain.map(address),
  }));
  const file = join(config.runDir, `agent-${host.name}.json`);
  writeFileSync(file, `${JSON.stringify({ ...config.agentConfig, policies }, null, 2)}\n`);
  return ['--address', host.cidr, '--gateway', host.gateway, '--config', file];
}

/** Node's own flags for every agent (TESTBED_AGENT_NODE_ARGS, split on spaces): to profile agents, say `--cpu-prof`. */
function nodeArgsFromEnvironment(): string[] {
  return (process.env.TESTBED_AGENT_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
}
