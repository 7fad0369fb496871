// Policy server and client over real HTTP on 127.0.0.1.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Policy } from '../../src/policy/model';
import { PolicyServiceClient, type PolicySetSource } from '../../src/policy/service-client';
import { parsePolicyFile, PolicyFileError, startPolicyServer } from '../../src/policy/service-server';

const dir = mkdtempSync(join(tmpdir(), 'dysco-policy-service-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const V1 = ['policies:', '  - name: web', '    match: { dstPrefix: 10.0.1.0/24, dstPorts: 80 }', '    chain: [10.0.2.1]', ''].join('\n');
const V2 = ['- name: web', '  match: { dstPrefix: 10.0.1.0/24, dstPorts: 443 }', '  chain: [10.0.2.1, 10.0.2.2]', '- name: all', '  match: {}', '  chain: []', ''].join('\n');
const INVALID = ['- name: web', '  match: { dstPrefix: 10.0.1.0/33 }', '  chain: []', ''].join('\n');

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function recordUpdates(client: PolicyServiceClient) {
  const updates: { policies: Policy[]; source: PolicySetSource; version: string }[] = [];
  client.on('update', (policies: Policy[], source: PolicySetSource, version: string) => updates.push({ policies, source, version }));
  return updates;
}

/** A throwaway HTTP server answering every request with `handler`. */
async function fakeService(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/policies`, server };
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe('policy file', () => {
  test('a list or { policies }, validated, versioned by sha256', () => {
    const parsed = parsePolicyFile(V1, 'f.yaml');
    assert.equal(parsed.version, createHash('sha256').update(V1).digest('hex'));
    assert.deepEqual(parsed.policies, [{ name: 'web', match: { dstPrefix: '10.0.1.0/24', dstPorts: 80 }, chain: ['10.0.2.1'] }]);
    assert.equal(parsePolicyFile(V2, 'f.yaml').policies.length, 2);
    assert.throws(() => parsePolicyFile(INVALID, 'f.yaml'), (e: Error) => e instanceof PolicyFileError && /policies\[0\]\.match\.dstPrefix: "10\.0\.1\.0\/33"/.test(e.message));
    assert.throws(() => parsePolicyFile('rules: []', 'f.yaml'), /unknown key "rules"/);
  });
});

describe('policy server and client', () => {
  const file = join(dir, 'policies.yaml');
  const cachePath = join(dir, 'cache', 'policy-cache.json');

  test('update propagation, 304, invalid file keeps the last good version, service down uses the cache', async () => {
    writeFileSync(file, V1);
    const server = await startPolicyServer({ file, host: '127.0.0.1', port: 0, pollMs: 20 });
    let client: PolicyServiceClient | undefined;
    try {
      const v1 = server.current().version;

      // Plain HTTP: ETag and If-None-Match.
      const first = await fetch(server.url);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('etag'), `"${v1}"`);
      assert.deepEqual(await first.json(), { version: v1, policies: parsePolicyFile(V1, 'x').policies });
      const again = await fetch(server.url, { headers: { 'if-none-match': `"${v1}"` } });
      assert.equal(again.status, 304);
      assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
      assert.equal((await fetch(server.url.replace('/policies', '/nope'))).status, 404);

      client = new PolicyServiceClient({ url: server.url, intervalMs: 60_000, timeoutMs: 1000, cachePath });
      const updates = recordUpdates(client);
      await client.start();
      assert.deepEqual(updates.map((u) => [u.source, u.version, u.policies.length]), [['service', v1, 1]]);
      const cached = JSON.parse(readFileSync(cachePath, 'utf8'));
      assert.equal(cached.version, v1);
      assert.deepEqual(cached.policies, updates[0]!.policies);

      assert.equal(await client.poll(), 'not-modified');
      assert.equal(updates.length, 1);

      // The file changes: the server reloads, the client picks it up.
      writeFileSync(file, V2);
      await until('the server to reload', () => server.current().version !== v1);
      const v2 = server.current().version;
      assert.equal(await client.poll(), 'updated');
      assert.deepEqual(updates.map((u) => u.version), [v1, v2]);
      assert.deepEqual(updates[1]!.policies.map((p) => p.name), ['web', 'all']);
      assert.equal(JSON.parse(readFileSync(cachePath, 'utf8')).version, v2);

      // An invalid file: the server keeps serving v2.
      writeFileSync(file, INVALID);
      assert.equal(server.reload(), false);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(server.current().version, v2);
      assert.equal(((await (await fetch(server.url)).json()) as { version: string }).version, v2);
      assert.equal(await client.poll(), 'not-modified');

      const status = client.status();
      assert.equal(status.version, v2);
      assert.equal(status.source, 'service');
      assert.deepEqual(status.polls, { updated: 2, notModified: 2, failed: 0, badResponse: 0 });
      assert.ok(status.lastSuccessAt && status.lastSuccessAt <= Date.now());
      await client.stop();
    } finally {
      await client?.stop();
      await server.close();
    }

    // The service is down: a new client starts from the cache.
    const down = new PolicyServiceClient({ url: server.url, intervalMs: 60_000, timeoutMs: 500, cachePath });
    const updates = recordUpdates(down);
    await down.start();
    await down.stop();
    assert.equal(updates.length, 1);
    assert.equal(updates[0]!.source, 'cache');
    assert.deepEqual(updates[0]!.policies.map((p) => p.name), ['web', 'all']);
    const status = down.status();
    assert.equal(status.source, 'cache');
    assert.equal(status.polls.failed, 1);
    assert.match(status.lastError ?? '', /ECONNREFUSED|fetch failed/);
  });

  test('the server refuses to start on an invalid file', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, INVALID);
    await assert.rejects(startPolicyServer({ file: bad, port: 0 }), PolicyFileError);
    await assert.rejects(startPolicyServer({ file: join(dir, 'missing.yaml'), port: 0 }), /cannot read policy file/);
  });

  test('bad responses are counted and ignored, never thrown', async () => {
    const bodies = [
      'not json',
      JSON.stringify({ policies: [] }),
      JSON.stringify({ version: 'v9', policies: [{ name: 'x', match: { dstPrefix: '10.0.0.1/8' }, chain: [] }] }),
      JSON.stringify({ version: 'v9', policies: [{ name: 'x', match: {}, chain: [] }, { name: 'x', match: {}, chain: [] }] }),
    ];
    let next = 0;
    const { url, server } = await fakeService((_req, res) => {
      const body = bodies[next++] ?? JSON.stringify({ version: 'good', policies: [{ name: 'ok', match: {}, chain: [] }] });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    const client = new PolicyServiceClient({ url, intervalMs: 60_000, timeoutMs: 1000, cachePath: join(dir, 'bad-cache.json') });
    const updates = recordUpdates(client);
    try {
      for (let i = 0; i < bodies.length; i += 1) assert.equal(await client.poll(), 'bad-response', `body ${i}`);
      assert.equal(updates.length, 0);
      assert.equal(existsSync(join(dir, 'bad-cache.json')), false);
      assert.equal(client.status().polls.badResponse, 4);
      assert.match(client.status().lastError ?? '', /duplicate policy name "x"/);
      assert.equal(await client.poll(), 'updated');
      assert.deepEqual(updates.map((u) => [u.source, u.version]), [['service', 'good']]);
    } finally {
      await client.stop();
      await closeServer(server);
    }
  });

  test('HTTP errors and timeouts count as failures', async () => {
    let mode: 'error' | 'hang' = 'error';
    const { url, server } = await fakeService((_req, res) => {
      if (mode === 'error') res.writeHead(500).end('boom');
      // 'hang': never answer
    });
    const client = new PolicyServiceClient({ url, intervalMs: 60_000, timeoutMs: 150 });
    try {
      assert.equal(await client.poll(), 'failed');
      assert.equal(client.status().lastError, 'HTTP 500');
      mode = 'hang';
      const started = Date.now();
      assert.equal(await client.poll(), 'failed');
      assert.ok(Date.now() - started < 2000);
      assert.match(client.status().lastError ?? '', /timed out after 150 ms/);
      assert.equal(client.status().polls.failed, 2);
    } finally {
      await client.stop();
      await closeServer(server);
    }
  });
});
