// Watches a key prefix in etcd and keeps the fleet's policy set (layout: ./etcd-layout.ts), also on disk.
//
// Consistency: on every (re)connection of the watch stream the whole prefix is read again, and watch events
// at or below the revision of that read are ignored, so no change is missed or applied twice however the
// stream and the reads interleave. While etcd is down the agent keeps the set in use; one that starts while
// etcd is down uses the cache. Never throws on bad data: a bad set is counted and logged, the last good kept.
//
// Events: 'update' (policies, source: 'etcd' | 'cache', version) whenever the set in use changes;
// version is the etcd revision the set was read at.
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from '../log/logger';
import { PolicyCacheFile } from './cache-file';
import { connectEtcd } from './etcd-connection';
import { decodePolicySet } from './etcd-layout';
import type { Policy } from './model';

export type EtcdPolicySetSource = 'etcd' | 'cache';

export interface EtcdPolicySourceOptions {
  endpoints: readonly string[];
  prefix: string;
  /** Deadline of each read; also bounds the first read in start(). */
  timeoutMs: number;
  /** Longest wait between reconnection attempts. */
  reconnectMaxMs: number;
  cachePath?: string;
  log?: Logger;
}

export interface EtcdPolicySourceStatus {
  endpoints: string[];
  prefix: string;
  connected: boolean;
  /** Revision of the set in use (if it came from etcd, or the cache's). */
  version: string | undefined;
  source: EtcdPolicySetSource | undefined;
  policies: number;
  /** Highest etcd revision this agent has caught up to. */
  revision: number;
  lastSyncAt: number | undefined;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  /** Full reads of the prefix, and what each new view of the prefix did to the set in use. */
  reads: { ok: number; failed: number };
  sets: { applied: number; unchanged: number; invalid: number };
  disconnects: number;
  cacheWriteErrors: number;
}

interface Entry {
  value: string;
  modRevision: number;
}

export class EtcdPolicySource extends EventEmitter {
  private client: Etcd3 | undefined;
  private watcher: Watcher | undefined;
  private stopped = true;
  private readonly entries = new Map<string, Entry>();
  /** Revision the entries reflect; watch events at or below it are already in them. */
  private revision = 0;
  private reading: Promise<boolean> | undefined;
  private catchUpTimer: NodeJS.Timeout | undefined;
  private rewatchTimer: NodeJS.Timeout | undefined;
  private current: { version: string; policies: Policy[]; source: EtcdPolicySetSource; text: string } | undefined;
  private readonly cache: PolicyCacheFile | undefined;
  private readonly origin: string;
  private readonly state = {
    connected: false,
    lastSyncAt: undefined as number | undefined,
    lastError: undefined as string | undefined,
    lastErrorAt: undefined as number | undefined,
    reads: { ok: 0, failed: 0 },
    sets: { applied: 0, unchanged: 0, invalid: 0 },
    disconnects: 0,
    cacheWriteErrors: 0,
  };

  constructor(private readonly options: EtcdPolicySourceOptions) {
    super();
    if (options.endpoints.length === 0) throw new TypeError('etcd policy source needs at least one endpoint');
    this.origin = `etcd:${options.endpoints.join(',')}${options.prefix}`;
    if (options.cachePath) this.cache = new PolicyCacheFile(options.cachePath, this.origin);
  }

  status(): EtcdPolicySourceStatus {
    return {
      endpoints: [...this.options.endpoints],
      prefix: this.options.prefix,
      version: this.current?.version,
      source: this.current?.source,
      policies: this.current?.policies.length ?? 0,
      revision: this.revision,
      ...this.state,
      reads: { ...this.state.reads },
      sets: { ...this.state.sets },
    };
  }

  policies(): Policy[] | undefined {
    return this.current?.policies;
  }

  /** Reads the prefix once (bounded by timeoutMs; on failure the cache is used), then watches it. */
  async start(): Promise<void> {
    this.stopped = false;
    this.client = connectEtcd(this.options);
    const ok = await this.resync();
    if (!ok && !this.current) this.loadCache();
    this.watch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.catchUpTimer);
    clearTimeout(this.rewatchTimer);
    const watcher = this.watcher;
    this.watcher = undefined;
    // cancel() waits for etcd to confirm while connected; when it is not, there is nothing to wait for.
    if (watcher) await Promise.race([watcher.cancel().catch(() => undefined), delay(this.options.timeoutMs)]);
    await this.reading?.catch(() => undefined);
    this.client?.close();
    this.client = undefined;
  }

  /** Reads the whole prefix (never rejects). Concurrent callers share the read in flight. */
  resync(): Promise<boolean> {
    this.reading ??= this.readAll().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async readAll(): Promise<boolean> {
    const client = this.client;
    if (!client || this.stopped) return false;
    let response;
    try {
      response = await client.getAll().prefix(this.options.prefix).exec();
    } catch (error) {
      this.state.reads.failed += 1;
      this.noteError(`read of ${this.options.prefix}: ${(error as Error).message}`);
      this.options.log?.warn({ prefix: this.options.prefix, err: (error as Error).message }, 'etcd policy read failed');
      return false;
    }
    const revision = Number(response.header.revision);
    this.state.reads.ok += 1;
    this.state.lastSyncAt = Date.now();
    if (revision < this.revision) return true;
    this.entries.clear();
    for (const kv of response.kvs) this.entries.set(kv.key.toString(), { value: kv.value.toString(), modRevision: Number(kv.mod_revision) });
    this.revision = revision;
    this.apply();
    return true;
  }

  private watch(): void {
    if (this.stopped || !this.client) return;
    const watcher = this.client.watch().prefix(this.options.prefix).watcher();
    this.watcher = watcher;
    watcher.on('connected', () => {
      if (this.watcher !== watcher) return;
      this.state.connected = true;
      this.options.log?.info({ prefix: this.options.prefix }, 'etcd policy watch connected');
      void this.catchUp();
    });
    watcher.on('data', (response: IWatchResponse) => {
      if (this.watcher === watcher) this.onEvents(response);
    });
    watcher.on('disconnected', (error: Error) => {
      if (this.watcher !== watcher) return;
      if (this.state.connected) {
        this.state.disconnects += 1;
        this.options.log?.warn({ err: error.message }, 'etcd policy watch disconnected; keeping the policies in use');
      }
      this.state.connected = false;
      this.noteError(`watch: ${error.message}`);
    });
    // The watch was cancelled by etcd (e.g. its revision was compacted away): start a new one.
    watcher.on('error', (error: Error) => {
      if (this.watcher !== watcher) return;
      this.state.connected = false;
      this.noteError(`watch: ${error.message}`);
      this.options.log?.warn({ err: error.message }, 'etcd policy watch ended; watching again');
      this.watcher = undefined;
      this.rewatchTimer = setTimeout(() => this.watch(), this.options.reconnectMaxMs);
      this.rewatchTimer.unref();
    });
  }

  /** After the stream (re)connects: read everything again, retrying while the stream stays up. */
  private async catchUp(): Promise<void> {
    if (await this.resync()) return;
    if (this.stopped || !this.state.connected) return;
    clearTimeout(this.catchUpTimer);
    this.catchUpTimer = setTimeout(() => void this.catchUp(), this.options.reconnectMaxMs);
    this.catchUpTimer.unref();
  }

  private onEvents(response: IWatchResponse): void {
    let changed = false;
    for (const event of response.events) {
      const kv: IKeyValue = event.kv;
      const at = Number(kv.mod_revision);
      if (at <= this.revision) continue;
      const key = kv.key.toString();
      if (event.type === 'Delete') this.entries.delete(key);
      else this.entries.set(key, { value: kv.value.toString(), modRevision: at });
      changed = true;
    }
    const revision = Number(response.header.revision);
    if (revision > this.revision) this.revision = revision;
    if (changed) this.apply();
  }

  private apply(): void {
    const log = this.options.log;
    const decoded = decodePolicySet(
      this.options.prefix,
      [...this.entries].map(([key, entry]) => ({ key, value: entry.value })),
    );
    if (!decoded.ok) {
      this.state.sets.invalid += 1;
      this.noteError(`invalid policy set at revision ${this.revision}: ${decoded.errors.join('; ')}`);
      log?.error({ revision: this.revision, errors: decoded.errors }, 'etcd holds an invalid policy set; keeping the policies in use');
      return;
    }
    const text = JSON.stringify(decoded.policies);
    if (this.current?.source === 'etcd' && this.current.text === text) {
      this.state.sets.unchanged += 1;
      return;
    }
    const version = String(this.revision);
    this.state.sets.applied += 1;
    this.current = { version, policies: decoded.policies, source: 'etcd', text };
    log?.info({ revision: this.revision, policies: decoded.policies.length }, 'etcd policies: new set');
    try {
      this.cache?.write(version, decoded.policies);
    } catch (error) {
      this.state.cacheWriteErrors += 1;
      log?.error({ path: this.cache?.path, err: (error as Error).message }, 'cannot write the policy cache');
    }
    this.emit('update', decoded.policies, 'etcd', version);
  }

  private loadCache(): void {
    if (!this.cache) return;
    const result = this.cache.read();
    if (!result.ok) {
      this.options.log?.warn({ path: this.cache.path, err: result.reason }, 'etcd unreachable and no usable policy cache');
      return;
    }
    const { version, savedAt, policies } = result.set;
    this.current = { version, policies, source: 'cache', text: JSON.stringify(policies) };
    this.options.log?.warn({ path: this.cache.path, version, savedAt, policies: policies.length }, 'etcd unreachable: using the cached policies');
    this.emit('update', policies, 'cache', version);
  }

  private noteError(message: string): void {
    this.state.lastError = message;
    this.state.lastErrorAt = Date.now();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
