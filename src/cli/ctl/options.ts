// `dysco ctl` flags, parsed into typed requests for the control API.
import type { Argv } from 'yargs';
import { MIGRATE_CONCURRENCY_MAX, RECONFIGURE_TIMEOUT_MAX_MS, type MigrateBody, type ReconfigureBody, type SessionQuery, type Tuple } from '../../api/types';
import { parseIpv4 } from '../../net/ipv4';
import { UserError } from '../shared/user-error';
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

export interface ReconfigureArgs extends CtlArgs {
  session?: string;
  filter?: string;
  rightAnchor?: string;
  via?: string | string[];
  transferState?: boolean;
  waitMs?: number;
}

export interface MigrateArgs extends CtlArgs {
  from?: string;
  to?: string;
  filter?: string;
  stateTransfer?: boolean;
  waitMs?: number;
  concurrency?: number;
  progress?: boolean;
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

export function reconfigureOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('session', { type: 'string', describe: 'the session to reconfigure: SRC_IP:PORT-DST_IP:PORT (its session tuple at this agent)' })
    .option('filter', { type: 'string', describe: 'every session matching srcIp=,dstIp=,srcPort=,dstPort= (comma-separated, at least one)' })
    .option('right-anchor', { type: 'string', describe: 'IPv4 address of the agent at the right end of the segment that changes' })
    .option('via', { type: 'string', describe: 'the new middleboxes between the anchors, a,b,… left to right (none: remove the ones there are)' })
    .option('transfer-state', { type: 'boolean', describe: 'move each session\'s state from its one old middlebox to the one in --via first' })
    .option('wait-ms', { type: 'number', describe: `how long the agent waits for the runs to end (1..${RECONFIGURE_TIMEOUT_MAX_MS}; default 60000)` });
}

function ipv4Arg(text: string, flag: string): string {
  if (parseIpv4(text) === undefined) throw new UserError(`${flag}: "${text}" is not an IPv4 address`);
  return text;
}

function portArg(text: string, flag: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) throw new UserError(`${flag}: "${text}" is not a port number 0..65535`);
  return Number(text);
}

/** SRC_IP:PORT-DST_IP:PORT (also with ->, as the session tables print it). */
export function parseSessionArg(text: string): Tuple {
  const m = /^([0-9.]+):([0-9]+)(?:->|-)([0-9.]+):([0-9]+)$/.exec(text.trim());
  if (!m) throw new UserError(`--session: "${text}" is not SRC_IP:PORT-DST_IP:PORT (e.g. 10.0.0.1:40000-10.0.0.2:5201)`);
  return { srcIp: ipv4Arg(m[1]!, '--session'), srcPort: portArg(m[2]!, '--session'), dstIp: ipv4Arg(m[3]!, '--session'), dstPort: portArg(m[4]!, '--session') };
}

const FILTER_KEYS = ['srcIp', 'dstIp', 'srcPort', 'dstPort'] as const;

export function parseFilterArg(text: string): Partial<Tuple> {
  const filter: Partial<Tuple> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [key, value, ...rest] = part.split('=');
    if (!FILTER_KEYS.includes(key as (typeof FILTER_KEYS)[number]) || value === undefined || rest.length > 0) {
      throw new UserError(`--filter: "${part}" is not one of ${FILTER_KEYS.map((k) => `${k}=…`).join(', ')}`);
    }
    if (filter[key as keyof Tuple] !== undefined) throw new UserError(`--filter: ${key} given twice`);
    if (key === 'srcIp' || key === 'dstIp') filter[key] = ipv4Arg(value, `--filter ${key}`);
    else filter[key as 'srcPort' | 'dstPort'] = portArg(value, `--filter ${key}`);
  }
  if (Object.keys(filter).length === 0) throw new UserError('--filter: name at least one of srcIp, dstIp, srcPort, dstPort');
  return filter;
}

/** The request a `reconfigure` would POST; flags are checked here, the agent checks the rest. */
export function reconfigureBodyFromArgs(args: ReconfigureArgs): ReconfigureBody {
  if ((args.session === undefined) === (args.filter === undefined)) throw new UserError('give exactly one of --session and --filter');
  if (args.rightAnchor === undefined) throw new UserError('--right-anchor is required');
  const via = (Array.isArray(args.via) ? args.via : args.via === undefined ? [] : [args.via])
    .flatMap((v) => String(v).split(','))
    .map((hop) => hop.trim())
    .filter((hop) => hop !== '')
    .map((hop) => ipv4Arg(hop, '--via'));
  const body: ReconfigureBody = { rightAnchor: ipv4Arg(String(args.rightAnchor), '--right-anchor'), via };
  if (args.session !== undefined) body.session = parseSessionArg(String(args.session));
  else body.filter = parseFilterArg(String(args.filter));
  if (args.transferState) {
    if (via.length !== 1) throw new UserError('--transfer-state: needs exactly one middlebox in --via, the one that takes the state over');
    body.transferState = true;
  }
  const wait = waitArg(args.waitMs);
  if (wait !== undefined) body.timeoutMs = wait;
  return body;
}

function waitArg(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > RECONFIGURE_TIMEOUT_MAX_MS) throw new UserError(`--wait-ms: must be an integer from 1 to ${RECONFIGURE_TIMEOUT_MAX_MS}`);
  return value;
}

export function migrateOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('from', { type: 'string', describe: 'IPv4 address of the middlebox the sessions leave: the agent talked to (checked)' })
    .option('to', { type: 'string', describe: 'IPv4 address of the middlebox that takes the sessions over' })
    .option('filter', { type: 'string', describe: 'only sessions matching srcIp=,dstIp=,srcPort=,dstPort= (default: every session through the middlebox)' })
    .option('state-transfer', { type: 'boolean', default: true, describe: 'move each session\'s middlebox state first (--no-state-transfer: do not)' })
    .option('wait-ms', { type: 'number', describe: `how long to wait for the sessions to move (1..${RECONFIGURE_TIMEOUT_MAX_MS}, default 60000)` })
    .option('concurrency', { type: 'number', describe: `sessions moving at once, the next started as one ends (1..${MIGRATE_CONCURRENCY_MAX}, default: all at once)` })
    .option('progress', { type: 'boolean', describe: 'show progress as sessions move (default: when stderr is a terminal)' });
}

/** The request a `migrate` would POST. */
export function migrateBodyFromArgs(args: MigrateArgs): MigrateBody {
  if (args.to === undefined) throw new UserError('--to is required (the middlebox that takes the sessions over)');
  const body: MigrateBody = { to: ipv4Arg(String(args.to), '--to'), transferState: args.stateTransfer !== false };
  if (args.from !== undefined) body.from = ipv4Arg(String(args.from), '--from');
  if (body.from === body.to) throw new UserError('--to: must not be the middlebox the sessions leave');
  if (args.filter !== undefined) body.filter = parseFilterArg(String(args.filter));
  const wait = waitArg(args.waitMs);
  if (wait !== undefined) body.timeoutMs = wait;
  if (args.concurrency !== undefined) {
    if (!Number.isInteger(args.concurrency) || args.concurrency < 1 || args.concurrency > MIGRATE_CONCURRENCY_MAX) {
      throw new UserError(`--concurrency: must be an integer from 1 to ${MIGRATE_CONCURRENCY_MAX}`);
    }
    body.concurrency = args.concurrency;
  }
  return body;
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
