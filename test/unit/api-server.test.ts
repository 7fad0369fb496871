// The control API on a temporary Unix socket, with a real PolicyStore and sessions from a plain array.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient, ApiError } from '../../src/api/client';
import { startApiServer, type ApiServer } from '../../src/api/server';
import type { SessionRecord, SessionSource } from '../../src/api/types';
import { decodeCompiledPolicies } from '../../src/policy/compile';
import { formatIpv4 } from '../../src/net/ipv4';
import type { Policy } from '../../src/policy/model';
import { PolicyStore, type PolicySink } from '../../src/policy/store';

/** Sessions from an array; the cursor is the index of the next record. */
function arraySource(records: SessionRecord[]): SessionSource {
  return {
    sessions: async (cursor, limit) => {
      const sessions = records.slice(cursor, cursor + limit);
      const next = cursor + sessions.length;
      return { sessions, nextCursor: next < records.length ? next : null };
    },
  };
}

function session(id: number): SessionRecord {
  const client = `10.0.0.${1 + (id % 3)}`;
  return {
    id,
    state: id % 4 === 0 ? 'closing' : 'established',
    role: 'initiator',
    left: { session: { srcIp: client, dstIp: '10.0.1.1', srcPort: 40000 + id, dstPort: id % 2 ? 80 : 443 } },
    right: {
      session: { srcIp: client, dstIp: '10.0.1.1', srcPort: 40000 + id, dstPort: id % 2 ? 80 : 443 },
      subsession: { srcIp: client, dstIp: '10.0.2.1', srcPort: 50000 + id, dstPort: 60000 },
    },
    chain: ['10.0.2.1', '10.0.1.1'],
    packets: id * 10,
    bytes: id * 1000,
    idleSeconds: id,
  };
}

class RecordingSink implements PolicySink {
  installed: Buffer[] = [];
  async installPolicies(compiled: Buffer): Promise<void> {
    this.installed.push(Buffer.from(compiled));
  }
}

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: string; details?: string[] } & Record<string, unknown>;
}

function raw(socketPath: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string | number> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : {} });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'dysco-api-'));
const socketPath = join(dir, 'run', 'agent-test.sock');
const records = Array.from({ length: 25 }, (_, i) => session(i));
const sink = new RecordingSink();
const configPolicies: Policy[] = [{ name: 'cfg', match: { dstPrefix: '10.0.1.0/24' }, chain: ['10.0.2.1'] }];
let store: PolicyStore;
let server: ApiServer;
let client: ApiClient;

before(async () => {
  store = new PolicyStore({ sink, config: configPolicies });
  await store.sync();
  server = await startApiServer({ store, sessions: arraySource(records), socketPath });
  client = new ApiClient(socketPath);
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the API socket', () => {
  test("is root's alone: mode 0600, no group or other bits (docs/security.md)", () => {
    assert.equal(statSync(socketPath).mode & 0o777, 0o600);
  });
});

describe('GET /v1/sessions', () => {
  test('pages with cursors', async () => {
    const first = await client.sessions({ limit: 10 });
    assert.deepEqual(first.sessions.map((s) => s.id), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(first.nextCursor, 10);
    const last = await client.sessions({ limit: 10, cursor: 20 });
    assert.deepEqual(last.sessions.map((s) => s.id), [20, 21, 22, 23, 24]);
    assert.equal(last.nextCursor, null);
    assert.equal((await client.sessions()).sessions.length, 25);
    assert.deepEqual((await client.allSessions({ limit: 7 })).map((s) => s.id), records.map((s) => s.id));
    assert.deepEqual(first.sessions[3], records[3]);
  });

  test('filters: state, address, port — paged without skipping matches', async () => {
    const closing = await client.allSessions({ state: 'closing', limit: 2 });
    assert.deepEqual(closing.map((s) => s.id), [0, 4, 8, 12, 16, 20, 24]);
    const page = await client.sessions({ state: 'closing', limit: 2 });
    assert.deepEqual(page.sessions.map((s) => s.id), [0, 4]);
    assert.equal(page.nextCursor, 5);
    const byAddress = await client.allSessions({ address: '10.0.0.2' });
    assert.deepEqual(byAddress.map((s) => s.id), [1, 4, 7, 10, 13, 16, 19, 22]);
    assert.equal((await client.allSessions({ address: '10.0.2.1' })).length, 25, 'chain and subsession addresses match');
    assert.deepEqual((await client.allSessions({ port: 40003 })).map((s) => s.id), [3]);
    assert.deepEqual((await client.allSessions({ port: 80, state: 'closing' })).map((s) => s.id), []);
    assert.equal((await client.allSessions({ port: 60000 })).length, 25);
  });

  test('bad queries are 400 with a message naming the parameter', async () => {
    const cases: [string, RegExp][] = [
      ['limit=0', /^limit: must be an integer from 1 to 1000 \(got "0"\)$/],
      ['limit=1001', /^limit: must be an integer from 1 to 1000/],
      ['limit=abc', /^limit: must be an integer from 1 to 1000 \(got "abc"\)$/],
      ['cursor=-1', /^cursor: must be an integer/],
      ['address=10.0.0', /^address: "10\.0\.0" is not an IPv4 address$/],
      ['port=70000', /^port: must be an integer from 0 to 65535/],
      ['state=a%20b', /^state: "a b" is not a session state name$/],
      ['colour=red', /^unknown query parameter "colour"$/],
      ['limit=1&limit=2', /^limit: given more than once$/],
    ];
    for (const [query, pattern] of cases) {
      const res = await raw(socketPath, 'GET', `/v1/sessions?${query}`);
      assert.equal(res.status, 400, query);
      assert.match(res.body.error ?? '', pattern, query);
    }
  });
});

describe('routes and request errors', () => {
  test('404 for unknown routes, 405 with Allow for wrong methods', async () => {
    const unknown = await raw(socketPath, 'GET', '/v2/nothing');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, 'no route GET /v2/nothing');
    const wrong = await raw(socketPath, 'PUT', '/v1/policies', '{}');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'GET, POST');
    assert.equal((await raw(socketPath, 'POST', '/v1/sessions')).status, 405);
  });

  test('bad JSON, empty body, oversized body', async () => {
    const bad = await raw(socketPath, 'POST', '/v1/policies', '{"name": ', { 'content-type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error ?? '', /^request body is not valid JSON/);
    assert.equal((await raw(socketPath, 'POST', '/v1/policies', '')).status, 400);
    const big = Buffer.alloc((1 << 20) + 10, 0x20);
    const tooLarge = await raw(socketPath, 'POST', '/v1/policies', big, { 'content-type': 'application/json', 'content-length': big.length });
    assert.equal(tooLarge.status, 413);
    assert.match(tooLarge.body.error ?? '', /larger than 1048576/);
    // Chunked (no content-length) is caught while reading.
    const chunked = await raw(socketPath, 'POST', '/v1/policies', big, { 'transfer-encoding': 'chunked' });
    assert.equal(chunked.status, 413);
    // The server still answers afterwards.
    assert.equal((await raw(socketPath, 'GET', '/v1/policies')).status, 200);
  });
});

describe('policies through the API reach the sink', () => {
  test('POST validates with field messages, installs, orders API policies first; DELETE removes', async () => {
    const before = sink.installed.length;
    const invalid = await raw(socketPath, 'POST', '/v1/policies', JSON.stringify({ name: 'x', match: { dstPrefix: '10.0.0.0/33', srcPorts: '9-1' }, chain: [] }));
    assert.equal(invalid.status, 400);
    assert.deepEqual([...(invalid.body.details ?? [])].sort(), [
      'match.dstPrefix: "10.0.0.0/33" is not an IPv4 prefix (a.b.c.d/n, n from 0 to 32)',
      'match.srcPorts: "9-1" is not a port or port range (integers 1..65535, "lo-hi" with lo <= hi)',
    ]);
    assert.match(invalid.body.error ?? '', /^invalid policy: /);
    assert.equal(sink.installed.length, before, 'nothing installed for an invalid policy');

    const web: Policy = { name: 'web', match: { dstPrefix: '10.0.1.0/24', dstPorts: '80-443' }, chain: ['10.0.3.1', '10.0.3.2'] };
    const created = await client.addPolicy(web);
    assert.deepEqual(created.policy, web);
    assert.equal(sink.installed.length, before + 1);
    const rules = decodeCompiledPolicies(sink.installed[sink.installed.length - 1]!);
    assert.equal(rules.length, 2);
    assert.deepEqual(rules[0]!.hops.map(formatIpv4), ['10.0.3.1', '10.0.3.2'], 'the API policy comes first');
    assert.equal(rules[0]!.dstPortLo, 80);
    assert.equal(rules[1]!.hops.map(formatIpv4)[0], '10.0.2.1');

    const list = await client.listPolicies();
    assert.deepEqual(list.policies.map((p) => [p.name, p.source]), [['web', 'api'], ['cfg', 'config']]);

    await assert.rejects(client.addPolicy(web), (e: Error) => e instanceof ApiError && e.status === 409 && /already exists \(from api\)/.test(e.message));
    await assert.rejects(client.addPolicy({ ...web, name: 'cfg' }), (e: Error) => e instanceof ApiError && e.status === 409);
    await assert.rejects(client.removePolicy('cfg'), (e: Error) => e instanceof ApiError && e.status === 409 && /comes from config/.test(e.message));
    await assert.rejects(client.removePolicy('nope'), (e: Error) => e instanceof ApiError && e.status === 404 && e.message === 'no policy named "nope"');

    await client.removePolicy('web');
    assert.equal(sink.installed.length, before + 2);
    const after = decodeCompiledPolicies(sink.installed[sink.installed.length - 1]!);
    assert.deepEqual(after.map((r) => r.hops.map(formatIpv4)), [['10.0.2.1']]);
    assert.deepEqual((await client.listPolicies()).policies.map((p) => p.name), ['cfg']);
  });
});

test('a live socket is not taken over; close removes the socket; optional TCP listener', async () => {
  const path = join(dir, 'second.sock');
  const s1 = await startApiServer({ store, sessions: arraySource([]), socketPath: path });
  await assert.rejects(startApiServer({ store, sessions: arraySource([]), socketPath: path }), /in use by another process/);
  await s1.close();
  assert.equal(existsSync(path), false);
  const s2 = await startApiServer({ store, sessions: arraySource([]), socketPath: path, port: 0 });
  try {
    assert.match(s2.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    const overTcp = new ApiClient(s2.url!);
    assert.deepEqual(await overTcp.sessions(), { sessions: [], nextCursor: null });
  } finally {
    await s2.close();
  }
});
