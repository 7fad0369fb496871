/**
 * Declarative testbed topologies: a name, hosts, and an address plan. Validated with zod; loadable from JSON or
 * YAML; a few built in by name (`pair`, `pair-plain`, `chain-N`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ROUTER_ROLE } from './names';

/** Longest host name; keeps `dysco-<run>-<host>-ag` readable. */
export const MAX_HOST_NAME_LENGTH = 20;
/** At most one /24 per host under 10.<base>.0.0/16, third octet 1..254. */
export const MAX_HOSTS = 254;
/** Default second octet of the address plan. */
export const DEFAULT_ADDRESS_BASE = 77;
/** Longest middlebox chain `chain-N` accepts. */
export const MAX_CHAIN_LENGTH = 16;

const HostNameSchema = z
  .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(MAX_HOST_NAME_LENGTH, `must be at most ${MAX_HOST_NAME_LENGTH} characters`)
  .regex(/^[a-z][a-z0-9]*$/, 'must start with a lowercase letter and contain only lowercase letters and digits')
  .refine((n) => n !== ROUTER_ROLE, { message: `"${ROUTER_ROLE}" is reserved for the shared router` });

export const HostSpecSchema = z
  .object({
    name: HostNameSchema,
    agent: z.boolean({ required_error: 'is required', invalid_type_error: 'must be a boolean' }),
    forwarding: z.boolean({ invalid_type_error: 'must be a boolean' }).optional(),
  })
  .strict();

export const AddressPlanSchema = z
  .object({
    base: z
      .number({ invalid_type_error: 'must be a number' })
      .int('must be an integer')
      .min(0, 'must be between 0 and 255')
      .max(255, 'must be between 0 and 255')
      .default(DEFAULT_ADDRESS_BASE),
  })
  .strict();

export const TopologySchema = z
  .object({
    name: z
      .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
      .min(1, 'must not be empty')
      .max(64, 'must be at most 64 characters')
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must contain only letters, digits, ".", "_" and "-"'),
    hosts: z
      .array(HostSpecSchema, { required_error: 'is required', invalid_type_error: 'must be an array' })
      .min(1, 'must list at least one host')
      .max(MAX_HOSTS, `must list at most ${MAX_HOSTS} hosts`),
    addressPlan: AddressPlanSchema.default({}),
  })
  .strict()
  .superRefine((topo, ctx) => {
    const seen = new Map<string, number>();
    topo.hosts.forEach((h, i) => {
      const first = seen.get(h.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['hosts', i, 'name'],
          message: `duplicates hosts[${first}].name "${h.name}"`,
        });
      } else {
        seen.set(h.name, i);
      }
    });
  });

export type HostSpec = z.infer<typeof HostSpecSchema>;
/** A validated topology (defaults applied). */
export type Topology = z.infer<typeof TopologySchema>;
/** What a user writes (defaults optional). */
export type TopologyInput = z.input<typeof TopologySchema>;

/** A topology failed validation; `issues` name the fields, e.g. `hosts[1].name`. */
export class TopologyError extends Error {
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(message);
    this.name = 'TopologyError';
  }
}

/** `['hosts', 1, 'name']` → `hosts[1].name`. */
export function formatIssuePath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

function describeIssue(issue: z.ZodIssue): string {
  const where = formatIssuePath(issue.path);
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') {
    return `${where}: is required`;
  }
  return `${where}: ${issue.message}`;
}

/** Validate a topology object; throws TopologyError naming every bad field. */
export function parseTopology(input: unknown, source = 'topology'): Topology {
  const result = TopologySchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map(describeIssue);
  throw new TopologyError(`invalid ${source}: ${issues.join('; ')}`, issues);
}

/** Load and validate a topology from a `.json`, `.yaml` or `.yml` file. */
export function loadTopologyFile(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyError(`cannot read topology file ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new TopologyError(`cannot parse topology file ${file}: ${(err as Error).message}`);
  }
  return parseTopology(data, `topology file ${file}`);
}

/** Names accepted by `builtinTopology`, for help texts. */
export const BUILTIN_TOPOLOGY_NAMES = ['pair', 'pair-plain', 'chain-<N>', 'chain-<N>-plain'] as const;

/**
 * A built-in topology by name, or undefined:
 * - `pair`: client and server, both with agents;
 * - `pair-plain`: client and server, no agents;
 * - `chain-N`: client, mb1..mbN (forwarding), server; all with agents. Every host hangs off the one router, so each
 *   middlebox is reachable from client and server alike and a session may run direct or through any of them:
 *   `chain-2` is the reconfiguration tests' topology (a direct session gets mb1 inserted, mb1 replaced by mb2, …);
 * - `chain-N-plain`: the same hosts without agents (a routed chain, baselines).
 */
export function builtinTopology(name: string): Topology | undefined {
  if (name === 'pair' || name === 'pair-plain') {
    const agent = name === 'pair';
    return parseTopology({
      name,
      hosts: [
        { name: 'client', agent },
        { name: 'server', agent },
      ],
    });
  }
  const chain = /^chain-(\d+)(-plain)?$/.exec(name);
  if (chain) {
    const n = Number(chain[1]);
    const agent = chain[2] === undefined;
    if (n < 1 || n > MAX_CHAIN_LENGTH) {
      throw new TopologyError(`${name}: chain length must be between 1 and ${MAX_CHAIN_LENGTH}`);
    }
    const middleboxes = Array.from({ length: n }, (_, i) => ({ name: `mb${i + 1}`, agent, forwarding: true }));
    return parseTopology({
      name,
      hosts: [{ name: 'client', agent }, ...middleboxes, { name: 'server', agent }],
    });
  }
  return undefined;
}

/**
 * A topology from a built-in name, a file path, or an object. Built-in names win over files of the same name.
 */
export function resolveTopology(spec: string | TopologyInput | Topology): Topology {
  if (typeof spec !== 'string') return parseTopology(spec);
  const builtin = builtinTopology(spec);
  if (builtin) return builtin;
  if (existsSync(spec)) return loadTopologyFile(spec);
  throw new TopologyError(
    `unknown topology "${spec}": not a built-in (${BUILTIN_TOPOLOGY_NAMES.join(', ')}) and no such file`,
  );
}

/** One host's place in the address plan. */
export interface HostAddressing {
  readonly host: string;
  /** position in `topology.hosts` */
  readonly index: number;
  /** the host's address, `10.<base>.<index+1>.2` */
  readonly address: string;
  /** the router's address on the host's subnet, `10.<base>.<index+1>.1`; the host's default gateway */
  readonly gateway: string;
  readonly prefixLength: 24;
  /** the subnet, `10.<base>.<index+1>.0/24` */
  readonly subnet: string;
}

/** The address plan: host i on `10.<base>.<i+1>.0/24`, host `.2`, router `.1`. */
export function addressPlan(topology: Topology): HostAddressing[] {
  const base = topology.addressPlan.base;
  return topology.hosts.map((h, index) => {
    const net = `10.${base}.${index + 1}`;
    return {
      host: h.name,
      index,
      address: `${net}.2`,
      gateway: `${net}.1`,
      prefixLength: 24,
      subnet: `${net}.0/24`,
    };
  });
}
