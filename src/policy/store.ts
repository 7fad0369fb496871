// The agent's effective policy list and its installation into the datapath.
//
// Order (first match wins): API-added policies (newest operator intent, in the order they were added),
// then config-file policies, then policy-service policies (fleet-wide defaults). Names are unique in the
// effective list: adding through the API a name that already exists among the API or config policies is a
// conflict; a service policy whose name a local (API or config) policy already uses is shadowed — left out
// and logged. Only API-added policies can be removed through the API.
//
// Every change compiles the whole list and hands the buffer to the PolicySink. Installs are serialised:
// one at a time, and changes that arrive while one runs are coalesced into a single next install of the
// newest list. If an install fails the store keeps its list (it is the source of truth) and the next
// successful install brings the datapath up to date.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger';
import { compilePolicies } from './compile';
import { MAX_POLICIES, type Policy } from './model';
import { parsePolicies, PolicyValidationError, validatePolicy } from './validate';

export interface PolicySink {
  installPolicies(compiled: Buffer): Promise<void>;
}

export type PolicyOrigin = 'api' | 'config' | 'service';

export interface EffectivePolicy extends Policy {
  source: PolicyOrigin;
}

export class PolicyConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyConflictError';
  }
}

export class PolicyNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyNotFoundError';
  }
}

export class PolicyInstallError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PolicyInstallError';
  }
}

export interface PolicyStoreStatus {
  rules: number;
  shadowed: string[];
  serviceVersion: string | undefined;
  installs: number;
  installFailures: number;
  lastInstallAt: number | undefined;
  lastInstallError: string | undefined;
}

export interface PolicyStoreOptions {
  sink: PolicySink;
  config?: readonly Policy[];
  log?: Logger;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class PolicyStore extends EventEmitter {
  private readonly sink: PolicySink;
  private readonly log: Logger | undefined;
  private readonly config: Policy[];
  private api: Policy[] = [];
  private service: Policy[] = [];
  private serviceVersion: string | undefined;
  private list: EffectivePolicy[] = [];
  private shadowed: string[] = [];
  private installing = false;
  private queued: { buffer: Buffer; waiters: Waiter[] } | undefined;
  private idle: Waiter[] = [];
  private stats = { installs: 0, installFailures: 0, lastInstallAt: undefined as number | undefined, lastInstallError: undefined as string | undefined };

  constructor(options: PolicyStoreOptions) {
    super();
    this.sink = options.sink;
    this.log = options.log;
    this.config = parsePolicies(options.config ?? [], 'policies');
    this.rebuild(this.api, this.service);
  }

  /** The effective list, in match order, each with where it came from. */
  effective(): EffectivePolicy[] {
    return this.list.map((p) => ({ ...p, match: { ...p.match }, chain: [...p.chain] }));
  }

  /** The buffer the datapath should hold now. */
  compiled(): Buffer {
    return compilePolicies(this.list.map(stripSource));
  }

  status(): PolicyStoreStatus {
    return { rules: this.list.length, shadowed: [...this.shadowed], serviceVersion: this.serviceVersion, ...this.stats };
  }

  /** Installs the current list (at start). Resolves when it is in the datapath. */
  sync(): Promise<void> {
    return this.schedule();
  }

  /**
   * Adds a policy at the end of the API-added group (ahead of config and service policies). Validates it;
   * throws PolicyValidationError, PolicyConflictError; resolves once installed (rejects with
   * PolicyInstallError if the datapath refused — the policy stays in the store).
   */
  async add(input: unknown): Promise<Policy> {
    const result = validatePolicy(input);
    if (!result.ok) throw new PolicyValidationError(result.errors);
    const policy = result.value;
    const existing = this.list.find((p) => p.name === policy.name && p.source !== 'service');
    if (existing) throw new PolicyConflictError(`policy "${policy.name}" already exists (from ${existing.source})`);
    this.rebuild([...this.api, policy], this.service);
    this.log?.info({ policy: policy.name, rules: this.list.length }, 'policy added');
    await this.schedule();
    return policy;
  }

  /** Removes an API-added policy. Throws PolicyNotFoundError or PolicyConflictError (not removable here). */
  async remove(name: string): Promise<void> {
    if (!this.api.some((p) => p.name === name)) {
      const other = this.list.find((p) => p.name === name) ?? this.service.find((p) => p.name === name);
      if (other) {
        const source = this.config.some((p) => p.name === name) ? 'config' : 'service';
        throw new PolicyConflictError(`policy "${name}" comes from ${source} and cannot be removed through the API`);
      }
      throw new PolicyNotFoundError(`no policy named "${name}"`);
    }
    this.rebuild(
      this.api.filter((p) => p.name !== name),
      this.service,
    );
    this.log?.info({ policy: name, rules: this.list.length }, 'policy removed');
    await this.schedule();
  }

  /** Replaces the service policies (already validated by the client). Rejects if the effective list would be too long. */
  async setServicePolicies(policies: readonly Policy[], version?: string): Promise<void> {
    const validated = parsePolicies(policies, 'service.policies');
    this.rebuild(this.api, validated);
    this.serviceVersion = version;
    this.log?.info({ version, service: validated.length, rules: this.list.length, shadowed: this.shadowed }, 'service policies updated');
    await this.schedule();
  }

  /** Resolves when no install is running or queued. */
  whenIdle(): Promise<void> {
    if (!this.installing && !this.queued) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.idle.push({ resolve, reject }));
  }

  private rebuild(api: Policy[], service: Policy[]): void {
    const list: EffectivePolicy[] = [];
    const names = new Set<string>();
    const shadowed: string[] = [];
    for (const [source, group] of [['api', api], ['config', this.config], ['service', service]] as const) {
      for (const policy of group) {
        if (names.has(policy.name)) {
          shadowed.push(policy.name);
          continue;
        }
        names.add(policy.name);
        list.push({ ...policy, source });
      }
    }
    if (list.length > MAX_POLICIES)
      throw new PolicyConflictError(`the change would make ${list.length} policies; the datapath holds at most ${MAX_POLICIES}`);
    if (shadowed.length) this.log?.warn({ shadowed }, 'service policies shadowed by local policies of the same name');
    this.api = api;
    this.service = service;
    this.list = list;
    this.shadowed = shadowed;
    this.emit('change', this.effective());
  }

  private schedule(): Promise<void> {
    const buffer = compilePolicies(this.list.map(stripSource));
    return new Promise<void>((resolve, reject) => {
      if (this.queued) {
        this.queued.buffer = buffer;
        this.queued.waiters.push({ resolve, reject });
      } else {
        this.queued = { buffer, waiters: [{ resolve, reject }] };
      }
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.installing) return;
    this.installing = true;
    while (this.queued) {
      const { buffer, waiters } = this.queued;
      this.queued = undefined;
      try {
        await this.sink.installPolicies(buffer);
        this.stats.installs += 1;
        this.stats.lastInstallAt = Date.now();
        this.stats.lastInstallError = undefined;
        this.emit('installed', buffer);
        for (const w of waiters) w.resolve();
      } catch (error) {
        const message = (error as Error)?.message ?? String(error);
        this.stats.installFailures += 1;
        this.stats.lastInstallError = message;
        this.log?.error({ err: error }, 'installing policies into the datapath failed');
        for (const w of waiters) w.reject(new PolicyInstallError(`installing policies into the datapath failed: ${message}`, { cause: error }));
      }
    }
    this.installing = false;
    const idle = this.idle;
    this.idle = [];
    for (const w of idle) w.resolve();
  }
}

function stripSource(policy: EffectivePolicy): Policy {
  const { source: _source, ...rest } = policy;
  return rest;
}
