// `dysco ctl` flags, parsed into typed requests for the control API.
import type { Argv } from 'yargs';
import type { SessionQuery } from '../../api/types';
import type { Policy, PolicyMatch, PortSpec } from '../../policy/model';

export interface CtlArgs {
  api?: string;
  json?: boolean;
  timeoutMs?: number;
}

export interface SessionsArgs extends CtlArgs {
  limit?: number;
  cursor?: number;
  all?: boolean;
  state?: string;
  address?: string;
  port?: number;
}

export interface PolicyAddArgs extends CtlArgs {
  name: string;
  src?: string;
  dst?: string;
  srcPorts?: string;
  dstPorts?: string;
  chain?: string;
}

export interface PolicyRmArgs extends CtlArgs {
  name: string;
}

export function ctlOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('api', { type: 'string', describe: 'agent control API: Unix socket path or http://127.0.0.1:PORT (default: the one socket in /run/dysco)' })
    .option('json', { type: 'boolean', describe: 'print JSON instead of a table' })
    .option('timeout-ms', { type: 'number', describe: 'give up on the agent after this long' });
}

export function sessionsOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('limit', { type: 'number', describe: 'sessions per page (1..1000)' })
    .option('cursor', { type: 'number', describe: 'start at this cursor (from a previous page)' })
    .option('all', { type: 'boolean', describe: 'follow cursors to the last page' })
    .option('state', { type: 'string', describe: 'only sessions in this state' })
    .option('address', { type: 'string', describe: 'only sessions with this IPv4 address in a tuple or the chain' })
    .option('port', { type: 'number', describe: 'only sessions with this port in a tuple' });
}

export function policyAddOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('name', { type: 'string', demandOption: true, describe: 'unique policy name ([a-z0-9_-]{1,64})' })
    .option('src', { type: 'string', describe: 'source prefix a.b.c.d/n' })
    .option('dst', { type: 'string', describe: 'destination prefix a.b.c.d/n' })
    .option('src-ports', { type: 'string', describe: 'source port or range lo-hi' })
    .option('dst-ports', { type: 'string', describe: 'destination port or range lo-hi' })
    .option('chain', { type: 'string', describe: 'middlebox addresses a,b,c in path order (empty: straight to the destination)' });
}

export function sessionQueryFromArgs(args: SessionsArgs): SessionQuery {
  const query: SessionQuery = {};
  if (args.limit !== undefined) query.limit = args.limit;
  if (args.cursor !== undefined) query.cursor = args.cursor;
  if (args.state !== undefined) query.state = args.state;
  if (args.address !== undefined) query.address = args.address;
  if (args.port !== undefined) query.port = args.port;
  return query;
}

function portSpec(text: string): PortSpec {
  return /^[0-9]+$/.test(text) ? Number(text) : text;
}

/** The policy a `policy add` would POST (the agent validates it). */
export function policyFromArgs(args: PolicyAddArgs): Policy {
  const match: PolicyMatch = {};
  if (args.src !== undefined) match.srcPrefix = args.src;
  if (args.dst !== undefined) match.dstPrefix = args.dst;
  if (args.srcPorts !== undefined) match.srcPorts = portSpec(String(args.srcPorts));
  if (args.dstPorts !== undefined) match.dstPorts = portSpec(String(args.dstPorts));
  const chain = (args.chain ?? '')
    .split(',')
    .map((hop) => hop.trim())
    .filter((hop) => hop !== '');
  return { name: String(args.name), match, chain };
}
