// `dysco testbed` flags, parsed into typed objects. Defaults live in src/testbed, not here.
import type { Argv } from 'yargs';
import { DEVICE_KINDS, isRunId, type DeviceKind, type TestbedOptions } from '../../testbed';
import { UserError } from '../shared/user-error';

export function upOptions<T>(yargs: Argv<T>) {
  return yargs
    .positional('topology', {
      type: 'string',
      demandOption: true,
      describe: 'built-in topology (pair, pair-plain, chain-<N>) or a topology file (YAML or JSON)',
    })
    .option('device-kind', {
      choices: DEVICE_KINDS,
      describe: 'how the agents\u2019 ports are backed (default af_packet)',
    })
    .option('agents', {
      type: 'boolean',
      describe: 'start the agents (--no-agents wires the agent namespaces but starts nothing)',
    })
    .option('dysco', {
      type: 'boolean',
      describe: 'run the agents in Dysco mode (no policies: add them with dysco ctl policy add --api <socket>)',
    })
    .option('metrics-port', { type: 'number', describe: 'metrics port of every agent, inside its agent namespace' })
    .option('ready-timeout-ms', { type: 'number', describe: 'how long to wait for each agent to be ready' })
    .option('log-level', { type: 'string', describe: 'agent log level' })
    .option('control-port', { type: 'number', describe: 'Dysco mode: the agents\u2019 control port for reconfiguration (default 7777; 0: none)' })
    .option('agent-image', {
      type: 'string',
      describe: 'run each agent from this container image under podman, inside its agent namespace (npm run image builds dysco:latest)',
    })
    .option('signed-lists', {
      type: 'boolean',
      describe: 'Dysco mode: the agents sign and verify address lists and seal control frames with a key made for the run (docs/security.md)',
    });
}

export interface UpArgs {
  topology: string;
  deviceKind?: DeviceKind;
  agents?: boolean;
  dysco?: boolean;
  metricsPort?: number;
  readyTimeoutMs?: number;
  logLevel?: string;
  controlPort?: number;
  signedLists?: boolean;
  agentImage?: string;
}

/** An image reference as podman and docker take it: [registry[:port]/]name[:tag][@digest], lower-case name. */
const IMAGE_REFERENCE = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

export interface UpRequest {
  topology: string;
  options: TestbedOptions;
}

function positiveInt(value: number | undefined, flag: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UserError(`--${flag} must be an integer in 1..${max}`);
  return value;
}

/** `up` flags → what createTestbed takes (always persistent: the testbed outlives the command). */
export function parseUpArgs(args: UpArgs): UpRequest {
  const options: TestbedOptions = { persistent: true };
  if (args.deviceKind !== undefined) options.deviceKind = args.deviceKind;
  if (args.agents !== undefined) options.startAgents = args.agents;
  if (args.dysco !== undefined) options.dysco = args.dysco;
  const port = positiveInt(args.metricsPort, 'metrics-port', 65535);
  if (port !== undefined) options.metricsPort = port;
  const ready = positiveInt(args.readyTimeoutMs, 'ready-timeout-ms');
  if (ready !== undefined) options.readyTimeoutMs = ready;
  if (args.logLevel !== undefined) options.logLevel = args.logLevel;
  if (args.controlPort !== undefined) {
    if (!Number.isInteger(args.controlPort) || args.controlPort < 0 || args.controlPort > 65535) {
      throw new UserError('--control-port must be an integer in 0..65535');
    }
    options.controlPort = args.controlPort;
  }
  if (args.signedLists) {
    if (!args.dysco) throw new UserError('--signed-lists needs --dysco');
    options.signedLists = true;
  }
  if (args.agentImage !== undefined) {
    if (!IMAGE_REFERENCE.test(args.agentImage)) throw new UserError(`--agent-image: not an image reference: ${JSON.stringify(args.agentImage)}`);
    options.agentImage = args.agentImage;
  }
  return { topology: args.topology, options };
}

export function downOptions<T>(yargs: Argv<T>) {
  return yargs.positional('run', {
    type: 'string',
    describe: 'run id (4 hex characters) to remove; without it, every dysco- testbed',
  });
}

export interface DownArgs {
  run?: string;
}

/** `down` → one run id, or undefined for all. */
export function parseDownArgs(args: DownArgs): { runId?: string } {
  if (args.run === undefined) return {};
  const runId = args.run.toLowerCase();
  if (!isRunId(runId)) throw new UserError(`run must be 4 hex characters (see dysco testbed status), got "${args.run}"`);
  return { runId };
}

export function statusOptions<T>(yargs: Argv<T>) {
  return yargs.option('json', { type: 'boolean', describe: 'print JSON' });
}

export interface StatusArgs {
  json?: boolean;
}
