// Polls the policy service and keeps the last good policy set, also on disk, so that an agent that starts
// while the service is down still chains sessions. Never throws on a bad response: it counts and logs it.
//
// Events: 'update' (policies, source: 'service' | 'cache', version) whenever the set in use changes.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { Logger } from '../log/logger';
import { PolicyCacheFile } from './cache-file';
import type { Policy } from './model';
import { validatePolicies } from './validate';

export type PolicySetSource = 'service' | 'cache';

export interface PolicyServiceClientOptions {
  url: string;
  intervalMs: number;
  timeoutMs: number;
  /** Where the last good set is kept (written atomically). Undefined: no cache. */
  cachePath?: string;
  log?: Logger;
}

export interface PolicyServiceStatus {
  url: string;
  /** Version of the set in use, if any. */
  version: string | undefined;
  source: PolicySetSource | undefined;
  policies: number;
  /** Epoch ms of the last 200 or 304 from the service. */
  lastSuccessAt: number | undefined;
  lastAttemptAt: number | undefined;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  /** Counts by outcome of every poll. */
  polls: { updated: number; notModified: number; failed: number; badResponse: number };
  cacheWriteErrors: number;
}

export type PollOutcome = 'updated' | 'unchanged' | 'not-modified' | 'failed' | 'bad-response';

const responseSchema = z.object({ version: z.string().min(1).max(256), policies: z.unknown() }).passthrough();

const MAX_RESPONSE_BYTES = 16 << 20;

export class PolicyServiceClient extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private inFlight: Promise<PollOutcome> | undefined;
  private controller: AbortController | undefined;
  private current: { version: string; policies: Policy[]; source: PolicySetSource } | undefined;
  private readonly cache: PolicyCacheFile | undefined;
  private readonly state: Omit<PolicyServiceStatus, 'url' | 'version' | 'source' | 'policies'> = {
    lastSuccessAt: undefined,
    lastAttemptAt: undefined,
    lastError: undefined,
    lastErrorAt: undefined,
    polls: { updated: 0, notModified: 0, failed: 0, badResponse: 0 },
    cacheWriteErrors: 0,
  };

  constructor(private readonly options: PolicyServiceClientOptions) {
    super();
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`policy service URL must be http or https: ${options.url}`);
    if (options.cachePath) this.cache = new PolicyCacheFile(options.cachePath, options.url);
  }

  status(): PolicyServiceStatus {
    return {
      url: this.options.url,
      version: this.current?.version,
      source: this.current?.source,
      policies: this.current?.policies.length ?? 0,
      ...this.state,
      polls: { ...this.state.polls },
    };
  }

  /** The set in use, if any. */
  policies(): Policy[] | undefined {
    return this.current?.policies;
  }

  /** Polls once; if that fails and nothing is in use yet, loads the cache. Then polls every intervalMs. */
  async start(): Promise<void> {
    this.stopped = false;
    const outcome = await this.poll();
    if (!this.current && (outcome === 'failed' || outcome === 'bad-response')) this.loadCache();
    this.scheduleNext();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    await this.inFlight?.catch(() => undefined);
  }

  /** One poll (never rejects). Concurrent callers share the poll in flight. */
  poll(): Promise<PollOutcome> {
    this.inFlight ??= this.pollOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().then(() => this.scheduleNext());
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private async pollOnce(): Promise<PollOutcome> {
    const { url, timeoutMs, log } = this.options;
    this.state.lastAttemptAt = Date.now();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.current?.source === 'service') headers['if-none-match'] = `"${this.current.version}"`;
    this.controller = new AbortController();
    const timeout = setTimeout(() => this.controller?.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, { headers, signal: this.controller.signal });
      status = response.status;
      if (status === 304) {
        await response.body?.cancel();
        this.state.polls.notModified += 1;
        this.state.lastSuccessAt = Date.now();
        return 'not-modified';
      }
      const declared = Number(response.headers.get('content-length') ?? 0);
      if (declared > MAX_RESPONSE_BYTES) {
        await response.body?.cancel();
        return this.bad(`response of ${declared} bytes is larger than ${MAX_RESPONSE_BYTES}`);
      }
      text = await response.text();
    } catch (error) {
      const reason = this.controller.signal.aborted && this.controller.signal.reason instanceof Error ? this.controller.signal.reason : error;
      return this.failed(describeFetchError(reason));
    } finally {
      clearTimeout(timeout);
      this.controller = undefined;
    }
    if (status !== 200) return this.failed(`HTTP ${status}`);
    if (text.length > MAX_RESPONSE_BYTES) return this.bad(`response larger than ${MAX_RESPONSE_BYTES} bytes`);
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      return this.bad(`response is not JSON: ${(error as Error).message}`);
    }
    const shape = responseSchema.safeParse(data);
    if (!shape.success) return this.bad(`response is not { version, policies }: ${shape.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    const validated = validatePolicies(shape.data.policies, 'policies');
    if (!validated.ok) return this.bad(`response has invalid policies: ${validated.errors.join('; ')}`);
    this.state.lastSuccessAt = Date.now();
    const { version } = shape.data;
    if (this.current?.source === 'service' && this.current.version === version) {
      this.state.polls.notModified += 1;
      return 'unchanged';
    }
    this.state.polls.updated += 1;
    this.current = { version, policies: validated.value, source: 'service' };
    log?.info({ url, version, policies: validated.value.length }, 'policy service: new version');
    this.writeCache(version, validated.value);
    this.emit('update', validated.value, 'service', version);
    return 'updated';
  }

  private failed(message: string): PollOutcome {
    this.state.polls.failed += 1;
    this.noteError(message);
    this.options.log?.warn({ url: this.options.url, err: message }, 'policy service unreachable');
    return 'failed';
  }

  private bad(message: string): PollOutcome {
    this.state.polls.badResponse += 1;
    this.noteError(message);
    this.options.log?.error({ url: this.options.url, err: message }, 'policy service sent a bad response; ignored');
    return 'bad-response';
  }

  private noteError(message: string): void {
    this.state.lastError = message;
    this.state.lastErrorAt = Date.now();
  }

  private writeCache(version: string, policies: Policy[]): void {
    try {
      this.cache?.write(version, policies);
    } catch (error) {
      this.state.cacheWriteErrors += 1;
      this.options.log?.error({ path: this.cache?.path, err: (error as Error).message }, 'cannot write the policy cache');
    }
  }

  private loadCache(): void {
    if (!this.cache) return;
    const log = this.options.log;
    const result = this.cache.read();
    if (!result.ok) {
      log?.warn({ path: this.cache.path, err: result.reason }, 'policy service down and no usable policy cache');
      return;
    }
    const { version, savedAt, policies } = result.set;
    this.current = { version, policies, source: 'cache' };
    log?.warn({ path: this.cache.path, version, savedAt, policies: policies.length }, 'policy service down: using the cached policies');
    this.emit('update', policies, 'cache', version);
  }
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) return `${error.message}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`;
    return error.message;
  }
  return String(error);
}
