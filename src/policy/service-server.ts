// The policy service: serves one YAML (or JSON) policy file over HTTP to a fleet of agents.
//   GET /policies -> 200 { version, policies } with ETag "<version>", or 304 when If-None-Match matches.
//   GET /healthz  -> 200 ok
// `version` is the sha256 (hex) of the file's bytes. The file is validated on load; the server refuses to
// start without a valid file. Afterwards it re-reads the file when its size, mtime or inode changes (stat
// polling survives editors that replace the file by rename); an invalid new version is logged and the last
// good version keeps being served.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../log/logger';
import type { Policy } from './model';
import { validatePolicies } from './validate';

export interface PolicyFileVersion {
  version: string;
  policies: Policy[];
}

export class PolicyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyFileError';
  }
}

/** Parses and validates the text of a policy file: a list of policies, or `{ policies: [...] }`. */
export function parsePolicyFile(text: string, source: string): PolicyFileVersion {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new PolicyFileError(`${source} is not valid YAML or JSON: ${(error as Error).message}`);
  }
  data ??= [];
  const list =
    typeof data === 'object' && data !== null && !Array.isArray(data) && 'policies' in data ? (data as { policies: unknown }).policies : data;
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const extra = Object.keys(data).filter((k) => k !== 'policies');
    if (extra.length) throw new PolicyFileError(`${source}: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
  }
  const result = validatePolicies(list, 'policies');
  if (!result.ok) throw new PolicyFileError(`${source} is invalid:\n  ${result.errors.join('\n  ')}`);
  return { version: createHash('sha256').update(text).digest('hex'), policies: result.value };
}

export interface PolicyServerOptions {
  file: string;
  host?: string;
  port?: number;
  /** How often the file's stat is checked. Default 1000 ms. */
  pollMs?: number;
  log?: Logger;
}

export interface PolicyServer {
  readonly url: string;
  current(): PolicyFileVersion;
  /** Re-reads the file now; returns whether a new good version was loaded. */
  reload(): boolean;
  close(): Promise<void>;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

export async function startPolicyServer(options: PolicyServerOptions): Promise<PolicyServer> {
  const { file, log } = options;
  const readVersion = () => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new PolicyFileError(`cannot read policy file ${file}: ${(error as Error).message}`);
    }
    return parsePolicyFile(text, file);
  };
  let current = readVersion();
  let body = JSON.stringify(current);
  let lastStat = statKey(file);
  log?.info({ file, version: current.version, policies: current.policies.length }, 'policy file loaded');

  const reload = (): boolean => {
    try {
      const next = readVersion();
      if (next.version === current.version) return false;
      current = next;
      body = JSON.stringify(current);
      log?.info({ file, version: current.version, policies: current.policies.length }, 'policy file reloaded');
      return true;
    } catch (error) {
      log?.error({ file, err: (error as Error).message, servedVersion: current.version }, 'policy file invalid; serving the last good version');
      return false;
    }
  };

  const timer = setInterval(() => {
    const key = statKey(file);
    if (key === lastStat) return;
    lastStat = key;
    reload();
  }, options.pollMs ?? 1000);
  timer.unref();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, value: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(value)}\n`);
    if (path !== '/policies' && path !== '/healthz') {
      json(404, { error: `no route ${path}` });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      json(405, { error: `method ${req.method} not allowed on ${path}` });
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const etag = `"${current.version}"`;
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server: Server = createServer(handle);
  server.keepAliveTimeout = 1000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 9466, options.host ?? '127.0.0.1', () => resolve());
    });
  } catch (error) {
    clearInterval(timer);
    throw error;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/policies`,
    current: () => current,
    reload,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function statKey(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}
