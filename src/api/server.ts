// The agent's local control API: HTTP/1.1 + JSON on a Unix socket (and optionally TCP on 127.0.0.1).
//
//   GET    /v1/sessions?limit=&cursor=&state=&address=&port=   -> { sessions, nextCursor }
//   GET    /v1/policies                                        -> { policies }  (effective order, with source)
//   POST   /v1/policies          body: a policy                -> 201 { policy }
//   DELETE /v1/policies/:name                                  -> 204
//   POST   /v1/reconfigure       body: ReconfigureBody         -> { results } (when every run has ended or timed out)
//   POST   /v1/migrate           body: MigrateBody             -> NDJSON: { start }, { result } per session, { summary }
//
// Errors are JSON `{ error, details? }`: 400 bad query / JSON / policy (details name the field), 404 unknown
// route or policy, 405 wrong method (with Allow), 409 name conflict or a policy that is not the API's to
// remove, 503 reconfiguration off (no control port), 413 body over 1 MiB (the body is parsed as JSON whatever its content-type), 500 datapath install failure. Nothing a client sends can
// crash the agent.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../log/logger';
import { formatIpv4, parseIpv4 } from '../net/ipv4';
import { summarizeMigration } from './migration-summary';
import { PolicyConflictError, PolicyInstallError, PolicyNotFoundError, type PolicyStore } from '../policy/store';
import { PolicyValidationError } from '../policy/validate';
import {
  API_MAX_BODY_BYTES,
  MIGRATE_CONCURRENCY_MAX,
  RECONFIGURE_TIMEOUT_DEFAULT_MS,
  RECONFIGURE_TIMEOUT_MAX_MS,
  RECONFIGURE_VIA_MAX,
  type MigrateCommand,
  type MigrateLine,
  type ReconfigureCommand,
  type Reconfigurer,
  SESSION_LIMIT_DEFAULT,
  SESSION_LIMIT_MAX,
  type ApiErrorBody,
  type SessionPage,
  type SessionRecord,
  type SessionSource,
} from './types';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: string[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ApiHandlerOptions {
  store: PolicyStore;
  sessions: SessionSource;
  /** Absent: POST /v1/reconfigure answers 503. */
  reconfigurer?: Reconfigurer;
  log?: Logger;
  maxBodyBytes?: number;
}

interface SessionFilter {
  limit: number;
  cursor: number;
  state?: string;
  address?: string;
  port?: number;
}

const SESSION_PARAMS = new Set(['limit', 'cursor', 'state', 'address', 'port']);
/** Source calls one filtered page may make before it returns what it has (with a cursor to go on). */
const MAX_SOURCE_CALLS = 64;

function integerParam(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (!/^[0-9]{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new HttpError(400, `${name}: must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return Number(raw);
}

export function parseSessionQuery(params: URLSearchParams): SessionFilter {
  for (const key of params.keys()) if (!SESSION_PARAMS.has(key)) throw new HttpError(400, `unknown query parameter ${JSON.stringify(key)}`);
  for (const key of SESSION_PARAMS) if (params.getAll(key).length > 1) throw new HttpError(400, `${key}: given more than once`);
  const filter: SessionFilter = {
    limit: integerParam(params, 'limit', 1, SESSION_LIMIT_MAX) ?? SESSION_LIMIT_DEFAULT,
    cursor: integerParam(params, 'cursor', 0, Number.MAX_SAFE_INTEGER) ?? 0,
  };
  const state = params.get('state');
  if (state !== null) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(state)) throw new HttpError(400, `state: ${JSON.stringify(state)} is not a session state name`);
    filter.state = state;
  }
  const address = params.get('address');
  if (address !== null) {
    if (parseIpv4(address) === undefined) throw new HttpError(400, `address: ${JSON.stringify(address)} is not an IPv4 address`);
    filter.address = address;
  }
  const port = integerParam(params, 'port', 0, 65535);
  if (port !== undefined) filter.port = port;
  return filter;
}

function tuplesOf(record: SessionRecord) {
  return [record.left?.session, record.left?.subsession, record.right?.session, record.right?.subsession].filter((t) => t !== undefined);
}

export function sessionMatches(record: SessionRecord, filter: Omit<SessionFilter, 'limit' | 'cursor'>): boolean {
  if (filter.state !== undefined && record.state !== filter.state) return false;
  const tuples = tuplesOf(record);
  if (filter.address !== undefined) {
    const a = filter.address;
    if (!tuples.some((t) => t.srcIp === a || t.dstIp === a) && !record.chain.includes(a)) return false;
  }
  if (filter.port !== undefined) {
    const p = filter.port;
    if (!tuples.some((t) => t.srcPort === p || t.dstPort === p)) return false;
  }
  return true;
}

/**
 * One page of at most `limit` matching sessions. Without filters it is one source call; with filters it
 * asks the source for no more than it still needs (so the cursor never skips a match) and stops after
 * MAX_SOURCE_CALLS calls, returning a shorter page whose nextCursor continues the scan.
 */
export async function pageSessions(source: SessionSource, filter: SessionFilter): Promise<SessionPage> {
  const filtered = filter.state !== undefined || filter.address !== undefined || filter.port !== undefined;
  const sessions: SessionRecord[] = [];
  let cursor: number | null = filter.cursor;
  for (let calls = 0; cursor !== null && sessions.length < filter.limit && calls < MAX_SOURCE_CALLS; calls += 1) {
    const page = await source.sessions(cursor, filter.limit - sessions.length);
    for (const record of page.sessions) if (!filtered || sessionMatches(record, filter)) sessions.push(record);
    if (page.nextCursor !== null && page.nextCursor <= cursor && page.sessions.length === 0) break;
    cursor = page.nextCursor;
    if (!filtered) break;
  }
  return { sessions: sessions.slice(0, filter.limit), nextCursor: cursor };
}

const TUPLE_FIELDS = ['srcIp', 'dstIp', 'srcPort', 'dstPort'] as const;
const RECONFIGURE_FIELDS = new Set(['session', 'filter', 'rightAnchor', 'via', 'transferState', 'timeoutMs']);
const MIGRATE_FIELDS = new Set(['from', 'to', 'filter', 'transferState', 'timeoutMs', 'concurrency']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type TupleNumbers = { srcIp?: number; dstIp?: number; srcPort?: number; dstPort?: number };

/** Field checks that collect every problem of one body, each naming its field. */
function fieldChecks(problems: string[]) {
  const address = (value: unknown, where: string): number | undefined => {
    const parsed = typeof value === 'string' ? parseIpv4(value) : undefined;
    if (parsed === undefined) problems.push(`${where}: must be a dotted IPv4 address (got ${JSON.stringify(value)})`);
    return parsed;
  };
  const port = (value: unknown, where: string): number | undefined => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535) return value;
    problems.push(`${where}: must be a port number 0..65535 (got ${JSON.stringify(value)})`);
    return undefined;
  };
  const tupleFields = (raw: Record<string, unknown>, where: string, required: boolean): TupleNumbers => {
    const out: Record<string, number> = {};
    for (const key of Object.keys(raw)) if (!(TUPLE_FIELDS as readonly string[]).includes(key)) problems.push(`${where}.${key}: unknown field`);
    for (const key of TUPLE_FIELDS) {
      if (raw[key] === undefined) {
        if (required) problems.push(`${where}.${key}: required`);
        continue;
      }
      const value = key.endsWith('Ip') ? address(raw[key], `${where}.${key}`) : port(raw[key], `${where}.${key}`);
      if (value !== undefined) out[key] = value;
    }
    return out;
  };
  const filter = (raw: unknown): TupleNumbers | undefined => {
    if (!isObject(raw)) {
      problems.push('filter: must be an object with some of srcIp, dstIp, srcPort, dstPort');
      return undefined;
    }
    if (Object.keys(raw).length === 0) problems.push('filter: name at least one of srcIp, dstIp, srcPort, dstPort');
    return tupleFields(raw, 'filter', false);
  };
  const flag = (value: unknown, where: string, fallback: boolean): boolean => {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') problems.push(`${where}: must be true or false`);
    return value === true;
  };
  const timeout = (value: unknown): number => {
    if (value === undefined) return RECONFIGURE_TIMEOUT_DEFAULT_MS;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > RECONFIGURE_TIMEOUT_MAX_MS) problems.push(`timeoutMs: must be an integer from 1 to ${RECONFIGURE_TIMEOUT_MAX_MS}`);
    return value as number;
  };
  const unknownFields = (body: Record<string, unknown>, known: Set<string>) => {
    for (const key of Object.keys(body)) if (!known.has(key)) problems.push(`${key}: unknown field`);
  };
  return { address, tupleFields, filter, flag, timeout, unknownFields };
}

/** A ReconfigureBody checked field by field; every problem is named in the 400's details. */
export function parseReconfigureBody(body: unknown): ReconfigureCommand {
  if (!isObject(body)) throw new HttpError(400, 'invalid reconfigure request: the body must be a JSON object', ['body: not an object']);
  const problems: string[] = [];
  const check = fieldChecks(problems);
  check.unknownFields(body, RECONFIGURE_FIELDS);
  const command: Partial<ReconfigureCommand> = {};
  if ((body.session === undefined) === (body.filter === undefined)) problems.push('session, filter: give exactly one of the two');
  if (body.session !== undefined) {
    if (!isObject(body.session)) problems.push('session: must be an object { srcIp, dstIp, srcPort, dstPort }');
    else command.session = check.tupleFields(body.session, 'session', true) as ReconfigureCommand['session'];
  }
  if (body.filter !== undefined) {
    const filter = check.filter(body.filter);
    if (filter) command.filter = filter;
  }
  if (body.rightAnchor === undefined) problems.push('rightAnchor: required');
  else command.rightAnchor = check.address(body.rightAnchor, 'rightAnchor');
  if (!Array.isArray(body.via)) problems.push('via: must be an array of IPv4 addresses (empty removes the middleboxes)');
  else {
    if (body.via.length > RECONFIGURE_VIA_MAX) problems.push(`via: at most ${RECONFIGURE_VIA_MAX} middleboxes`);
    const via = body.via.slice(0, RECONFIGURE_VIA_MAX + 1).map((hop, i) => check.address(hop, `via[${i}]`));
    if (via.every((hop) => hop !== undefined)) {
      if (new Set(via).size !== via.length) problems.push('via: names a middlebox twice');
      if (command.rightAnchor !== undefined && via.includes(command.rightAnchor)) problems.push('via: names the right anchor');
      command.via = via as number[];
    }
  }
  command.transferState = check.flag(body.transferState, 'transferState', false);
  if (command.transferState && command.via?.length !== 1) problems.push('transferState: needs exactly one middlebox in via, the one that takes the state over');
  command.timeoutMs = check.timeout(body.timeoutMs);
  if (problems.length > 0) throw new HttpError(400, `invalid reconfigure request: ${problems.join('; ')}`, problems);
  return command as ReconfigureCommand;
}

/** A MigrateBody checked field by field. */
export function parseMigrateBody(body: unknown): MigrateCommand {
  if (!isObject(body)) throw new HttpError(400, 'invalid migrate request: the body must be a JSON object', ['body: not an object']);
  const problems: string[] = [];
  const check = fieldChecks(problems);
  check.unknownFields(body, MIGRATE_FIELDS);
  const command: Partial<MigrateCommand> = {};
  if (body.to === undefined) problems.push('to: required (the middlebox that takes the sessions over)');
  else command.to = check.address(body.to, 'to');
  if (body.from !== undefined) command.from = check.address(body.from, 'from');
  if (command.from !== undefined && command.from === command.to) problems.push('to: must not be the middlebox the sessions leave');
  if (body.filter !== undefined) {
    const filter = check.filter(body.filter);
    if (filter) command.filter = filter;
  }
  command.transferState = check.flag(body.transferState, 'transferState', true);
  command.timeoutMs = check.timeout(body.timeoutMs);
  if (body.concurrency !== undefined) {
    const c = body.concurrency;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MIGRATE_CONCURRENCY_MAX) problems.push(`concurrency: must be an integer from 1 to ${MIGRATE_CONCURRENCY_MAX}`);
    else command.concurrency = c;
  }
  if (problems.length > 0) throw new HttpError(400, `invalid migrate request: ${problems.join('; ')}`, problems);
  return command as MigrateCommand;
}

async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    throw new HttpError(413, `request body of ${declared} bytes is larger than ${maxBytes}`, undefined, { connection: 'close' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) tooLarge = true;
    else chunks.push(chunk);
    if (size > 16 * maxBytes) break;
  }
  if (tooLarge) throw new HttpError(413, `request body larger than ${maxBytes} bytes`, undefined, { connection: 'close' });
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'request body is empty; expected JSON');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, value?: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (value === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(`${JSON.stringify(value)}\n`);
}

/** A route answers [status, body], or 'streamed' when it wrote the response itself. */
type Route = {
  pattern: RegExp;
  methods: Record<string, (match: RegExpExecArray, req: IncomingMessage, url: URL, res: ServerResponse) => Promise<[number, unknown?] | 'streamed'>>;
};

const RECONFIGURATION_OFF = 'reconfiguration is off on this agent: it needs dysco.controlPort and a datapath with the reconfiguration requests';

/** Runs a migration and streams its lines; the summary closes the response. */
async function streamMigration(reconfigurer: Reconfigurer, command: MigrateCommand, res: ServerResponse): Promise<'streamed'> {
  const startedAt = performance.now();
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const line = (value: MigrateLine) => res.write(`${JSON.stringify(value)}\n`);
  const to = formatIpv4(command.to);
  const results = await reconfigurer.migrate(command, {
    start: (sessions) => line({ start: { from: reconfigurer.self, to, sessions } }),
    result: (result) => line({ result }),
  });
  line({ summary: summarizeMigration(results, performance.now() - startedAt) });
  res.end();
  return 'streamed';
}

/** The request handler shared by the Unix-socket and TCP listeners. */
export function createApiHandler(options: ApiHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, sessions, log, reconfigurer } = options;
  const maxBody = options.maxBodyBytes ?? API_MAX_BODY_BYTES;
  const routes: Route[] = [
    {
      pattern: /^\/v1\/sessions$/,
      methods: { GET: async (_m, _req, url) => [200, await pageSessions(sessions, parseSessionQuery(url.searchParams))] },
    },
    {
      pattern: /^\/v1\/policies$/,
      methods: {
        GET: async () => [200, { policies: store.effective() }],
        POST: async (_m, req) => [201, { policy: await store.add(await readJsonBody(req, maxBody)) }],
      },
    },
    {
      pattern: /^\/v1\/policies\/([^/]+)$/,
      methods: {
        GET: async (m) => {
          const name = decodeURIComponent(m[1]!);
          const policy = store.effective().find((p) => p.name === name);
          if (!policy) throw new HttpError(404, `no policy named ${JSON.stringify(name)}`);
          return [200, { policy }];
        },
        DELETE: async (m) => {
          await store.remove(decodeURIComponent(m[1]!));
          return [204];
        },
      },
    },
    {
      pattern: /^\/v1\/reconfigure$/,
      methods: {
        POST: async (_m, req) => {
          const command = parseReconfigureBody(await readJsonBody(req, maxBody));
          if (!reconfigurer) throw new HttpError(503, RECONFIGURATION_OFF);
          return [200, { results: await reconfigurer.reconfigure(command) }];
        },
      },
    },
    {
      pattern: /^\/v1\/migrate$/,
      methods: {
        POST: async (_m, req, _url, res) => {
          const command = parseMigrateBody(await readJsonBody(req, maxBody));
          if (!reconfigurer) throw new HttpError(503, RECONFIGURATION_OFF);
          if (command.from !== undefined && formatIpv4(command.from) !== reconfigurer.self) {
            throw new HttpError(400, `from: this agent is ${reconfigurer.self}; a migration runs at the agent of the middlebox the sessions leave`, ['from: not this agent']);
          }
          return streamMigration(reconfigurer, command, res);
        },
      },
    },
  ];

  const dispatch = async (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dysco.local');
    } catch {
      throw new HttpError(400, `bad request target ${JSON.stringify(req.url)}`);
    }
    for (const route of routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      const method = route.methods[req.method ?? ''];
      if (!method) {
        req.resume();
        const allow = Object.keys(route.methods).join(', ');
        throw new HttpError(405, `method ${req.method} not allowed on ${url.pathname} (allowed: ${allow})`, undefined, { allow });
      }
      const answer = await method(match, req, url, res);
      if (answer === 'streamed') return;
      const [status, body] = answer;
      send(res, status, body);
      return;
    }
    req.resume();
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  };

  return (req, res) => {
    dispatch(req, res).catch((error: unknown) => {
      const http = toHttpError(error);
      if (http.status >= 500) log?.error({ err: error, method: req.method, url: req.url }, 'control API request failed');
      else log?.debug({ status: http.status, method: req.method, url: req.url, error: http.message }, 'control API request rejected');
      const body: ApiErrorBody = { error: http.message, ...(http.details ? { details: http.details } : {}) };
      send(res, http.status, body, http.headers);
    });
  };
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof PolicyValidationError) return new HttpError(400, `invalid policy: ${error.errors.join('; ')}`, error.errors);
  if (error instanceof PolicyNotFoundError) return new HttpError(404, error.message);
  if (error instanceof PolicyConflictError) return new HttpError(409, error.message);
  if (error instanceof PolicyInstallError) return new HttpError(500, `${error.message} (the policy is stored and will be installed with the next change)`);
  return new HttpError(500, `internal error: ${(error as Error)?.message ?? String(error)}`);
}

export interface ApiServerOptions extends ApiHandlerOptions {
  /** Unix socket path. Undefined: no Unix listener. */
  socketPath?: string;
  /** TCP listener, only if a port is given (0 = any free port). Host defaults to 127.0.0.1. */
  host?: string;
  port?: number;
}

export interface ApiServer {
  readonly socketPath: string | undefined;
  /** http://host:port of the TCP listener, if any. */
  readonly url: string | undefined;
  close(): Promise<void>;
}

/** Removes a socket file left by a dead process; refuses if something still answers on it. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path} is in use by another process`);
  unlinkSync(path);
}

function listen(server: Server, target: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in target) server.listen(target.path, () => resolve());
    else server.listen(target.port, target.host, () => resolve());
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const handler = createApiHandler(options);
  const servers: Server[] = [];
  let socketPath: string | undefined;
  let url: string | undefined;
  try {
    if (options.socketPath) {
      mkdirSync(dirname(options.socketPath), { recursive: true, mode: 0o755 });
      await clearStaleSocket(options.socketPath);
      const server = createServer(handler);
      servers.push(server);
      // Root's alone (docs/security.md): created so, with no moment when others could connect.
      const umask = process.umask(0o177);
      try {
        await listen(server, { path: options.socketPath });
      } finally {
        process.umask(umask);
      }
      chmodSync(options.socketPath, 0o600);
      socketPath = options.socketPath;
    }
    if (options.port !== undefined) {
      const server = createServer(handler);
      servers.push(server);
      await listen(server, { host: options.host ?? '127.0.0.1', port: options.port });
      const address = server.address() as AddressInfo;
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }
  for (const server of servers) server.keepAliveTimeout = 1000;
  options.log?.info({ socket: socketPath, url }, 'control API listening');
  let closing: Promise<void> | undefined;
  return {
    socketPath,
    url,
    close: () =>
      (closing ??= Promise.all(servers.map(closeServer)).then(() => {
        // net.Server unlinks its Unix socket on close; make sure of it.
        if (socketPath && existsSync(socketPath)) unlinkSync(socketPath);
      })),
  };
}
