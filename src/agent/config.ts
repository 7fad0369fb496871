// The agent's configuration: one zod schema gives validation, defaults and the TypeScript type.
// Unknown keys are rejected; every error names the offending field.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { defaultFilePrefix, EAL_FILE_PREFIX } from '../datapath/eal';
import { validateDevice } from '../datapath/datapath';
import { parseIpv4, parsePrefix } from '../net/ipv4';
import { checkEtcdPrefix, DEFAULT_ETCD_PREFIX, ETCD_ENDPOINT_FORM, isEtcdEndpoint } from '../policy/etcd-layout';
import { policyListSchema } from '../policy/validate';
import { securityConfigSchema } from '../security/list-auth';

const deviceString = z
  .string()
  .min(1)
  .superRefine((device, ctx) => {
    const problem = validateDevice(device);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

const port = z.object({ device: deviceString }).strict();

// The Dysco section: the one place its defaults and limits live (the addon checks only what its types need).
export const dyscoConfigSchema = z
  .object({
    // The host's own address and prefix: subsessions use it, and on-link next hops are ARPed directly.
    address: z.string().refine((a) => parsePrefix(a) !== undefined, 'must be an IPv4 address with a prefix length, e.g. 10.0.1.2/24'),
    gateway: z.string().refine((a) => parseIpv4(a) !== undefined, 'must be a dotted-quad IPv4 address').optional(),
    maxSessions: z.number().int().min(1).max(2_097_152).default(65_536),  // SessionTable::kMaxSessions (24-bit table values)
    maxSetups: z.number().int().min(1).max(65_535).default(16_384),  // SessionTable::kMaxSetups (16-bit slots)
    // Sessions that hold reconfiguration state at once: two paths, or a folded new path's sequence deltas
    // (kept for the session's life). SessionTable::kMaxSecondPaths (16-bit slots).
    maxReconfigurations: z.number().int().min(1).max(65_535).default(4_096),
    // Subsession ports; keep them outside the hosts' ephemeral range (Linux: 32768-60999).
    portRange: z
      .string()
      .regex(/^\d+-\d+$/, 'must be "lo-hi"')
      .refine((r) => {
        const [lo, hi] = r.split('-').map(Number) as [number, number];
        return lo >= 1024 && hi <= 65535 && lo < hi;
      }, 'must lie within 1024-65535 with lo < hi')
      .default('61000-65535'),
    mtu: z.number().int().min(576).max(9216).default(1500),
    // UDP port of the channel between agents: datagrams from the wire to address:controlPort go to the
    // control plane instead of the host stack. 0: none (the host keeps every port).
    controlPort: z.number().int().min(0).max(65535).default(0),
    // Retransmission of messages between agents (src/control): wait initialMs after the first transmission, then
    // factor times longer each time up to maxMs; after `attempts` transmissions unacked, the message has failed and
    // its reconfiguration cancels. Every agent on a path should use the same values.
    controlRetry: z
      .object({
        initialMs: z.number().int().min(1).max(10_000).default(20),
        factor: z.number().min(1).max(10).default(2),
        maxMs: z.number().int().min(1).max(60_000).default(500),
        attempts: z.number().int().min(1).max(32).default(8),
      })
      .strict()
      .refine((r) => r.maxMs >= r.initialMs, { message: 'maxMs must not be below initialMs', path: ['maxMs'] })
      .default({}),
    // Datagrams to the control port taken per peer and second (a token bucket of `burst`); more are dropped unread and
    // counted (dysco_control_rejected_total{reason="rate_limited"}), so that a flood from one peer costs little.
    controlRateLimit: z
      .object({
        perSecond: z.number().int().min(1).max(1_000_000).default(5_000),
        burst: z.number().int().min(1).max(1_000_000).default(10_000),
      })
      .strict()
      .default({}),
    // Post session_established / session_ended events to the control plane. Default: on with a control port, so
    // that an agent knows its sessions before a reconfiguration's first message names one (else it asks the
    // lcore then, on the lock's critical path).
    sessionEvents: z.boolean().optional(),
    timeouts: z
      .object({
        setupMs: z.number().int().min(100).max(3_600_000).default(10_000),
        establishedMs: z.number().int().min(1000).max(86_400_000).default(300_000),
        closingMs: z.number().int().min(100).max(3_600_000).default(30_000),
        lingerMs: z.number().int().min(0).max(600_000).default(2_000),
      })
      .strict()
      .default({}),
  })
  .strict()
  .transform((dysco) => ({ ...dysco, sessionEvents: dysco.sessionEvents ?? dysco.controlPort > 0 }));

export const agentConfigSchema = z
  .object({
    host: port,
    wire: port,
    poll: z
      .object({
        mode: z.enum(['adaptive', 'busy']).default('adaptive'),
        idleSleepMaxUs: z.number().int().min(1).max(100_000).default(200),
        txDrainUs: z.number().int().min(1).max(100_000).default(100),
      })
      .strict()
      .default({}),
    datapath: z
      .object({
        mbufs: z.number().int().min(1023).max(1 << 22).default(8191),
        rxDescriptors: z.number().int().min(64).max(16384).default(1024),
        txDescriptors: z.number().int().min(64).max(16384).default(1024),
        // Entries of the request and event rings between the JS thread and the lcore. Half the event ring is kept
        // for requests' completions; the other half must hold a burst of control datagrams (up to the lcore's
        // 1024 slots) with room to spare for session events.
        ringSize: z
          .number()
          .int()
          .min(64)
          .max(65_536)
          .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
          .default(4096),
      })
      .strict()
      .default({}),
    eal: z
      .object({
        hugepages: z.boolean().default(false),
        memoryMb: z.number().int().min(64).max(65536).default(256),
        filePrefix: z
          .string()
          .regex(new RegExp(`^${EAL_FILE_PREFIX}[A-Za-z0-9_-]+$`), `must start with "${EAL_FILE_PREFIX}" and use [A-Za-z0-9_-]`)
          .optional(),
        logLevel: z.enum(['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug']).default('warning'),
        extraArgs: z.array(z.string()).default([]),
      })
      .strict()
      .default({}),
    metrics: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().ip().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .strict()
      .default({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({}),
    shutdown: z.object({ timeoutMs: z.number().int().min(100).max(60_000).default(4000) }).strict().default({}),
    // Dysco mode: without this section the agent bridges every frame unchanged (pass-through).
    dysco: dyscoConfigSchema.optional(),
    // The per-session state of this host's middlebox software (docs/state-transfer.md): how to export, import and
    // delete it. A session a reconfiguration takes off this box has its state deleted when the box retires it.
    state: z
      .discriminatedUnion('adapter', [
        z
          .object({
            adapter: z.literal('conntrack'),
            // the middlebox stack's network namespace (/var/run/netns/NAME, /proc/PID/ns/net); default the agent's own
            netns: z.string().startsWith('/', 'must be an absolute path').optional(),
          })
          .strict(),
        z
          .object({
            adapter: z.literal('commands'),
            export: z.array(z.string().min(1)).min(1),
            import: z.array(z.string().min(1)).min(1),
            delete: z.array(z.string().min(1)).min(1).optional(),
            timeoutMs: z.number().int().min(1).max(600_000).default(10_000),
          })
          .strict(),
      ])
      .optional(),
    // Local policies, in match order (first match wins); see src/policy/ and docs/policy.md.
    policies: policyListSchema.default([]),
    // Authenticated address lists (docs/security.md). Absent: lists are neither signed nor checked.
    security: securityConfigSchema.optional(),
    policyService: z
      .object({
        url: z
          .string()
          .url()
          .refine((url) => /^https?:\/\//.test(url), 'must be an http or https URL')
          .optional(),
        intervalMs: z.number().int().min(100).max(3_600_000).default(5000),
        timeoutMs: z.number().int().min(50).max(60_000).default(2000),
        cachePath: z.string().min(1).default('/var/lib/dysco/policy-cache.json'),
      })
      .strict()
      .optional(),
    // Fleet policies from etcd (docs/deployment.md has the key layout). Exclusive with policyService.url.
    policyEtcd: z
      .object({
        endpoints: z.array(z.string().refine(isEtcdEndpoint, ETCD_ENDPOINT_FORM)).min(1),
        prefix: z
          .string()
          .default(DEFAULT_ETCD_PREFIX)
          .superRefine((prefix, ctx) => {
            const problem = checkEtcdPrefix(prefix);
            if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
          }),
        timeoutMs: z.number().int().min(50).max(60_000).default(2000),
        reconnectMaxMs: z.number().int().min(50).max(60_000).default(1000),
        cachePath: z.string().min(1).default('/var/lib/dysco/policy-cache.json'),
      })
      .strict()
      .optional(),
    // Control API. `socket` undefined: the agent uses /run/dysco/agent-<pid>.sock. TCP only if `port` is set.
    api: z
      .object({
        socket: z.string().min(1).optional(),
        host: z.string().ip().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .refine((config) => !(config.policyEtcd && config.policyService?.url), {
    message: 'set policyService.url or policyEtcd, not both: an agent takes its fleet policies from one source',
    path: ['policyEtcd'],
  });

export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type AgentConfig = z.output<typeof agentConfigSchema> & { eal: { filePrefix: string } };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function describeIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.join('.') : '(root)';
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      const keys = issue.keys.map((k) => (issue.path.length ? `${field}.${k}` : k));
      return `  ${keys.join(', ')}: unknown key${keys.length > 1 ? 's' : ''}`;
    }
    return `  ${field}: ${issue.message}`;
  });
  return `invalid agent configuration (${source}):\n${lines.join('\n')}`;
}

/** Validates a configuration object, filling defaults. Throws ConfigError naming every bad field. */
export function parseAgentConfig(input: unknown, source = 'config'): AgentConfig {
  const result = agentConfigSchema.safeParse(input);
  if (!result.success) throw new ConfigError(describeIssues(result.error, source));
  const config = result.data;
  return { ...config, eal: { ...config.eal, filePrefix: config.eal.filePrefix ?? defaultFilePrefix() } };
}

/** Reads a YAML or JSON file (YAML is a superset of JSON) into an unvalidated object. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid YAML or JSON: ${(error as Error).message}`);
  }
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges `overlay` onto `base` (overlay wins; undefined leaves base alone). */
export function mergeConfig(base: unknown, overlay: Plain): Plain {
  const out: Plain = isPlain(base) ? { ...base } : {};
  for (const [key, value] of Object.entries(overlay)) {
    if (value === undefined) continue;
    if (isPlain(value)) {
      const merged = mergeConfig(out[key], value);
      // An overlay section with nothing set does not create the section (its presence can mean something).
      if (Object.keys(merged).length > 0 || key in out) out[key] = merged;
    } else {
      out[key] = value;
    }
  }
  return out;
}
