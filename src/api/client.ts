// Client of the agent's control API, over a Unix socket or http://host:port. Used by `dysco ctl`.
import { readdirSync } from 'node:fs';
import { request, type RequestOptions } from 'node:http';
import { join } from 'node:path';
import type { Policy } from '../policy/model';
import {
  RECONFIGURE_TIMEOUT_DEFAULT_MS,
  type ApiErrorBody,
  type MigrateBody,
  type MigrateLine,
  type PolicyCreated,
  type PolicyList,
  type ReconfigureBody,
  type ReconfigureResponse,
  type SessionPage,
  type SessionQuery,
  type SessionRecord,
} from './types';

import { DEFAULT_API_DIR, pidOfApiSocket } from './socket-path';

export { DEFAULT_API_DIR, defaultApiSocket } from './socket-path';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly details?: string[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Where to reach the agent: an explicit socket path or http(s) URL, else the one agent socket in /run/dysco whose
 * process is alive. Sockets left by dead agents are passed over; an error names them when nothing else is there.
 */
export function resolveApiEndpoint(explicit?: string, dir = DEFAULT_API_DIR, alive: (pid: number) => boolean = processExists): string {
  if (explicit) return explicit;
  let sockets: string[];
  try {
    sockets = readdirSync(dir).filter((name) => pidOfApiSocket(name) !== undefined).sort();
  } catch {
    sockets = [];
  }
  const live = sockets.filter((name) => alive(pidOfApiSocket(name)!));
  if (live.length === 1) return join(dir, live[0]!);
  if (live.length > 1) throw new ApiError(`several agents in ${dir} (${live.join(', ')}); pick one with --api`);
  if (sockets.length > 0) {
    const stale = sockets.map((name) => join(dir, name)).join(', ');
    throw new ApiError(`no agent is listening on ${stale}: left by an agent that is gone (pass --api to name another)`);
  }
  throw new ApiError(`no agent is listening in ${dir}: no agent-<pid>.sock there (is the agent running? or pass --api)`);
}

export interface ApiClientOptions {
  timeoutMs?: number;
}

export class ApiClient {
  private readonly base: RequestOptions;
  private readonly timeoutMs: number;

  /** `endpoint`: a Unix socket path, or an http:// URL of the agent's TCP listener. */
  constructor(
    readonly endpoint: string,
    options: ApiClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    if (/^https?:\/\//.test(endpoint)) {
      const url = new URL(endpoint);
      if (url.protocol !== 'http:') throw new ApiError(`the control API speaks plain http on 127.0.0.1: ${endpoint}`);
      this.base = { host: url.hostname, port: url.port || 80 };
    } else {
      this.base = { socketPath: endpoint };
    }
  }

  async sessions(query: SessionQuery = {}): Promise<SessionPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return (await this.call('GET', `/v1/sessions${qs ? `?${qs}` : ''}`)) as SessionPage;
  }

  /** Follows nextCursor from `query.cursor` to the end, at most `maxPages` pages. */
  async allSessions(query: SessionQuery = {}, maxPages = 10_000): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    let cursor: number | null = query.cursor ?? 0;
    for (let page = 0; cursor !== null && page < maxPages; page += 1) {
      const result: SessionPage = await this.sessions({ ...query, cursor });
      out.push(...result.sessions);
      cursor = result.nextCursor;
    }
    return out;
  }

  async listPolicies(): Promise<PolicyList> {
    return (await this.call('GET', '/v1/policies')) as PolicyList;
  }

  async addPolicy(policy: Policy): Promise<PolicyCreated> {
    return (await this.call('POST', '/v1/policies', policy)) as PolicyCreated;
  }

  async removePolicy(name: string): Promise<void> {
    await this.call('DELETE', `/v1/policies/${encodeURIComponent(name)}`);
  }

  /** Waits for the agent's answer at least as long as the agent waits for the runs, plus the client's own timeout. */
  async reconfigure(body: ReconfigureBody): Promise<ReconfigureResponse> {
    return (await this.call('POST', '/v1/reconfigure', body, (body.timeoutMs ?? RECONFIGURE_TIMEOUT_DEFAULT_MS) + this.timeoutMs)) as ReconfigureResponse;
  }

  /**
   * POST /v1/migrate: hands each line of the NDJSON answer to `onLine` as it arrives and resolves with the summary.
   * No client timeout applies to a body that keeps coming: the agent ends it by the request's own timeout.
   */
  migrate(body: MigrateBody, onLine: (line: MigrateLine) => void): Promise<Extract<MigrateLine, { summary: unknown }>['summary']> {
    const payload = Buffer.from(JSON.stringify(body));
    const waitMs = (body.timeoutMs ?? RECONFIGURE_TIMEOUT_DEFAULT_MS) + this.timeoutMs;
    return new Promise((resolve, reject) => {
      const req = request({ ...this.base, method: 'POST', path: '/v1/migrate', timeout: waitMs, headers: { 'content-type': 'application/json', 'content-length': payload.length } }, (res) => {
        const status = res.statusCode ?? 0;
        let pending = '';
        let summary: Extract<MigrateLine, { summary: unknown }>['summary'] | undefined;
        const fail = (message: string, details?: string[]) => {
          reject(new ApiError(message, status, details));
          res.destroy();
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          if (status < 200 || status >= 300) return;
          let newline: number;
          while ((newline = pending.indexOf('\n')) >= 0) {
            const text = pending.slice(0, newline);
            pending = pending.slice(newline + 1);
            if (text.trim() === '') continue;
            let line: MigrateLine;
            try {
              line = JSON.parse(text) as MigrateLine;
            } catch {
              return fail(`${this.endpoint}: a migrate answer line is not JSON`);
            }
            if ('summary' in line) summary = line.summary;
            onLine(line);
          }
        });
        res.on('error', (error) => reject(new ApiError(`${this.endpoint}: ${error.message}`)));
        res.on('end', () => {
          if (status >= 200 && status < 300) {
            if (summary) resolve(summary);
            else reject(new ApiError(`${this.endpoint}: the migrate answer ended before its summary`, status));
            return;
          }
          let err: Partial<ApiErrorBody> | undefined;
          try {
            err = JSON.parse(pending) as Partial<ApiErrorBody>;
          } catch {
            err = undefined;
          }
          reject(new ApiError(typeof err?.error === 'string' ? err.error : `HTTP ${status}`, status, err?.details));
        });
      });
      this.onRequestErrors(req, waitMs, reject);
      req.end(payload);
    });
  }

  /** One request; resolves with the parsed JSON body (undefined for 204), rejects with ApiError. */
  call(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...this.base,
          method,
          path,
          timeout: timeoutMs,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) => reject(new ApiError(`${this.endpoint}: ${error.message}`)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let data: unknown;
            try {
              data = text ? JSON.parse(text) : undefined;
            } catch {
              reject(new ApiError(`${this.endpoint}: HTTP ${res.statusCode}, response is not JSON`, res.statusCode));
              return;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(data);
            else {
              const err = data as Partial<ApiErrorBody> | undefined;
              reject(new ApiError(typeof err?.error === 'string' ? err.error : `HTTP ${status}`, status, err?.details));
            }
          });
        },
      );
      this.onRequestErrors(req, timeoutMs, reject);
      req.end(payload);
    });
  }

  private onRequestErrors(req: ReturnType<typeof request>, timeoutMs: number, reject: (error: ApiError) => void): void {
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
          ? 'agent not reachable: no agent is listening there (is it running?)'
          : error.code === 'EACCES'
            ? 'permission denied (run as root or a member of the socket group)'
            : error.message;
      reject(new ApiError(`${this.endpoint}: ${reason}`));
    });
  }
}
