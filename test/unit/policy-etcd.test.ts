// The etcd policy store: the key layout, and the source, push and list against a real etcd member.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseAgentConfig } from '../../src/agent/config';
import { AgentControlPlane } from '../../src/api/control-plane';
import { decodeCompiledPolicies } from '../../src/policy/compile';
import { listPolicySet, pushPolicySet } from '../../src/policy/etcd-admin';
import { connectEtcd } from '../../src/policy/etcd-connection';
import { checkEtcdPrefix, decodePolicySet, encodePolicySet, isEtcdEndpoint } from '../../src/policy/etcd-layout';
import { EtcdPolicySource, type EtcdPolicySetSource } from '../../src/policy/etcd-source';
import type { Policy } from '../../src/policy/model';
import { EtcdMember, etcdUnavailable } from '../support/etcd';
import { waitFor } from '../support/wait';

const PREFIX = '/dysco/policies/';
const WEB: Policy = { name: 'web', match: { dstPrefix: '10.0.1.0/24', dstPorts: 80 }, chain: ['10.0.2.1'] };
const TLS: Policy = { name: 'tls', match: { dstPorts: 443 }, chain: ['10.0.2.1', '10.0.2.2'] };
const ALL: Policy = { name: 'all', match: {}, chain: [] };
const minimal = { host: { device: 'net_af_packet0,iface=veth0' }, wire: { device: 'net_af_packet1,iface=veth1' } };

describe('etcd key layout', () => {
  test('a pushed list decodes to the same list, in its order, whatever the key order', () => {
    const stored = encodePolicySet(PREFIX, [WEB, TLS, ALL]);
    assert.deepEqual(
      stored.map((s) => s.key),
      ['/dysco/policies/web', '/dysco/policies/tls', '/dysco/policies/all'],
    );
    assert.equal(JSON.parse(stored[1]!.value).order, 20);
    const decoded = decodePolicySet(PREFIX, [...stored].reverse());
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.policies, [WEB, TLS, ALL]);
  });

  test('equal orders fall back to the name, so every agent builds the same list', () => {
    const decoded = decodePolicySet(PREFIX, [
      { key: `${PREFIX}zeta`, value: '{"match":{},"chain":[]}' },
      { key: `${PREFIX}alpha`, value: '{"match":{"dstPorts":22},"chain":[]}' },
      { key: `${PREFIX}first`, value: '{"order":-0,"match":{"dstPorts":1},"chain":[]}' },
    ]);
    assert.ok(decoded.ok);
    assert.deepEqual(
      decoded.policies.map((p) => p.name),
      ['alpha', 'first', 'zeta'],
    );
  });

  test('a set with any bad key is refused whole, and the error names the key', () => {
    const good = encodePolicySet(PREFIX, [WEB]);
    const cases: [string, string, RegExp][] = [
      [`${PREFIX}Bad Name`, '{"match":{},"chain":[]}', /Bad Name: the name after the prefix/],
      [`${PREFIX}x`, 'not json', /\/x: not JSON/],
      [`${PREFIX}x`, '[1]', /\/x: must be a JSON object/],
      [`${PREFIX}x`, '{"order":1.5,"match":{},"chain":[]}', /\/x: order must be an integer/],
      [`${PREFIX}x`, '{"name":"y","match":{},"chain":[]}', /states the name "y", but its key names "x"/],
      [`${PREFIX}x`, '{"match":{"dstPrefix":"10.0.0.1/24"},"chain":[]}', /^policy x\.match\.dstPrefix: "10\.0\.0\.1\/24" has host bits set/],
      [`${PREFIX}x`, '{"match":{},"chain":[],"extra":1}', /policy x/],
    ];
    for (const [key, value, pattern] of cases) {
      const decoded = decodePolicySet(PREFIX, [...good, { key, value }]);
      assert.equal(decoded.ok, false, `${key} = ${value}`);
      assert.ok(!decoded.ok && decoded.errors.some((e) => pattern.test(e)), `${value}: ${!decoded.ok && decoded.errors.join('; ')}`);
    }
  });

  test('prefixes and endpoints', () => {
    assert.equal(checkEtcdPrefix('/dysco/policies/'), undefined);
    assert.match(checkEtcdPrefix('/dysco/policies') ?? '', /must start and end with "\/"/);
    assert.match(checkEtcdPrefix('dysco/') ?? '', /must start and end/);
    for (const ok of ['http://10.0.0.5:2379', 'https://etcd.example:2379', 'unix:/run/etcd/client.sock']) assert.ok(isEtcdEndpoint(ok), ok);
    for (const bad of ['10.0.0.5:2379', 'ftp://x:1', 'http://x:2379/v3', 'unix:relative', 'http://']) assert.ok(!isEtcdEndpoint(bad), bad);
  });

  test('agent config: policyEtcd with defaults, exclusive with policyService.url', () => {
    const config = parseAgentConfig({ ...minimal, policyEtcd: { endpoints: ['http://10.0.0.5:2379'] } });
    assert.deepEqual(config.policyEtcd, {
      endpoints: ['http://10.0.0.5:2379'],
      prefix: PREFIX,
      timeoutMs: 2000,
      reconnectMaxMs: 1000,
      cachePath: '/var/lib/dysco/policy-cache.json',
    });
    assert.throws(
      () => parseAgentConfig({ ...minimal, policyEtcd: { endpoints: ['http://a:2379'] }, policyService: { url: 'http://127.0.0.1:9466/policies' } }),
      /policyEtcd: set policyService.url or policyEtcd, not both/,
    );
    assert.throws(() => parseAgentConfig({ ...minimal, policyEtcd: { endpoints: [] } }), /policyEtcd\.endpoints/);
    assert.throws(() => parseAgentConfig({ ...minimal, policyEtcd: { endpoints: ['a:2379'] } }), /policyEtcd\.endpoints\.0: must be an http/);
    assert.throws(() => parseAgentConfig({ ...minimal, policyEtcd: { endpoints: ['http://a:2379'], prefix: '/x' } }), /policyEtcd\.prefix/);
    assert.throws(() => parseAgentConfig({ ...minimal, policyEtcd: { endpoints: ['http://a:2379'], watch: true } }), /policyEtcd\.watch: unknown key/);
  });
});

const unavailable = etcdUnavailable();

const CLI = join(__dirname, '..', '..', 'src', 'cli', 'main.js');
const dysco = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('etcd policy store against a real etcd', { skip: unavailable }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-etcd-'));
  const etcd = new EtcdMember(join(dir, 'member'));
  const admin = () => connectEtcd({ endpoints: [etcd.endpoint], timeoutMs: 2000, reconnectMaxMs: 200 });
  const log = pino({ level: 'silent' });
  const sourceOptions = (cacheName: string) => ({
    endpoints: [etcd.endpoint],
    prefix: PREFIX,
    timeoutMs: 500,
    reconnectMaxMs: 200,
    cachePath: join(dir, cacheName),
    log,
  });

  before(() => etcd.start());
  after(async () => {
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function recordUpdates(source: EtcdPolicySource) {
    const updates: { names: string[]; from: EtcdPolicySetSource; version: string }[] = [];
    source.on('update', (policies: Policy[], from: EtcdPolicySetSource, version: string) =>
      updates.push({ names: policies.map((p) => p.name), from, version }),
    );
    return updates;
  }

  test('push, watch, single-key edits, an invalid edit kept out, list', async () => {
    const client = admin();
    const source = new EtcdPolicySource(sourceOptions('cache-a.json'));
    const updates = recordUpdates(source);
    try {
      const pushed = await pushPolicySet(client, PREFIX, [WEB, TLS]);
      assert.deepEqual(pushed.written, [`${PREFIX}web`, `${PREFIX}tls`]);
      await source.start();
      assert.deepEqual(updates, [{ names: ['web', 'tls'], from: 'etcd', version: String(pushed.revision) }]);
      assert.ok(await waitFor(() => source.status().connected, 3000));

      // A whole new set arrives as one update (one transaction, one revision).
      const second = await pushPolicySet(client, PREFIX, [TLS, ALL]);
      assert.deepEqual(second.deleted, [`${PREFIX}web`]);
      assert.ok(await waitFor(() => updates.length === 2, 1000), 'the push reached the watcher within a second');
      assert.deepEqual(updates[1], { names: ['tls', 'all'], from: 'etcd', version: String(second.revision) });
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'cache-a.json'), 'utf8')).version, String(second.revision));

      // Pushing the same set writes nothing.
      const again = await pushPolicySet(client, PREFIX, [TLS, ALL]);
      assert.deepEqual([again.written, again.deleted, again.revision], [[], [], second.revision]);

      // An operator's etcdctl edit of one key.
      etcd.ctl('put', `${PREFIX}web`, JSON.stringify({ order: 5, match: WEB.match, chain: WEB.chain }));
      assert.ok(await waitFor(() => updates.length === 3, 1000));
      assert.deepEqual(updates[2]!.names, ['web', 'tls', 'all']);

      // An invalid edit: counted, logged, the set in use kept, no update.
      etcd.ctl('put', `${PREFIX}broken`, '{"match":{"dstPrefix":"10.0.0.0/33"},"chain":[]}');
      assert.ok(await waitFor(() => source.status().sets.invalid === 1, 1000));
      assert.equal(updates.length, 3);
      assert.deepEqual(
        source.policies()!.map((p) => p.name),
        ['web', 'tls', 'all'],
      );
      assert.match(source.status().lastError ?? '', /policy broken\.match\.dstPrefix/);
      const listed = await listPolicySet(client, PREFIX);
      assert.equal(listed.set.ok, false);
      etcd.ctl('del', `${PREFIX}broken`);
      // Back to the set in use: nothing to install.
      assert.ok(await waitFor(() => source.status().sets.unchanged >= 1, 1000));
      assert.equal(updates.length, 3);

      const list = await listPolicySet(client, PREFIX);
      assert.ok(list.set.ok);
      assert.deepEqual(list.keys, [`${PREFIX}web`, `${PREFIX}tls`, `${PREFIX}all`]);
      assert.deepEqual([...list.set.orders.values()], [5, 10, 20]);
    } finally {
      await source.stop();
      client.close();
    }
  });

  test('concurrent pushes never mix: the result is one of the two sets, whole', async () => {
    const [a, b] = [admin(), admin()];
    try {
      const one: Policy[] = Array.from({ length: 20 }, (_, i) => ({ name: `one-${i}`, match: { dstPorts: 1000 + i }, chain: [] }));
      const two: Policy[] = Array.from({ length: 20 }, (_, i) => ({ name: `two-${i}`, match: { dstPorts: 2000 + i }, chain: [] }));
      await Promise.all([pushPolicySet(a, PREFIX, one), pushPolicySet(b, PREFIX, two)]);
      const list = await listPolicySet(a, PREFIX);
      assert.ok(list.set.ok);
      const names = list.set.policies.map((p) => p.name);
      assert.ok(
        JSON.stringify(names) === JSON.stringify(one.map((p) => p.name)) || JSON.stringify(names) === JSON.stringify(two.map((p) => p.name)),
        names.join(','),
      );
    } finally {
      a.close();
      b.close();
    }
  });

  test('etcd down: the set in use stays, a new agent starts from the cache; back up: both catch up', async () => {
    const client = admin();
    await pushPolicySet(client, PREFIX, [WEB]);
    client.close();
    const running = new EtcdPolicySource(sourceOptions('cache-b.json'));
    const runningUpdates = recordUpdates(running);
    let late: EtcdPolicySource | undefined;
    try {
      await running.start();
      assert.ok(await waitFor(() => running.status().connected, 3000));
      await etcd.stop();
      assert.ok(await waitFor(() => !running.status().connected, 5000), 'the watch noticed etcd going away');
      assert.deepEqual(
        running.policies()!.map((p) => p.name),
        ['web'],
      );

      // A cache of another origin is never used.
      writeFileSync(join(dir, 'foreign.json'), readFileSync(join(dir, 'cache-b.json'), 'utf8').replace(/"url": "[^"]*"/, '"url": "http://127.0.0.1:9466/policies"'));
      const foreign = new EtcdPolicySource(sourceOptions('foreign.json'));
      const foreignUpdates = recordUpdates(foreign);
      await foreign.start();
      assert.deepEqual(foreignUpdates, []);
      await foreign.stop();

      late = new EtcdPolicySource(sourceOptions('cache-b.json'));
      const lateUpdates = recordUpdates(late);
      const startedAt = Date.now();
      await late.start();
      assert.ok(Date.now() - startedAt < 3000, 'start() is bounded while etcd is down');
      assert.deepEqual(lateUpdates.map((u) => [u.names, u.from]), [[['web'], 'cache']]);

      await etcd.start();
      const writer = admin();
      try {
        await pushPolicySet(writer, PREFIX, [WEB, ALL]);
      } finally {
        writer.close();
      }
      const caughtUp = (updates: { names: string[] }[]) => updates.at(-1)?.names.join(',') === 'web,all';
      assert.ok(await waitFor(() => caughtUp(runningUpdates) && caughtUp(lateUpdates), 5000), 'both caught up after etcd returned');
      assert.equal(late.status().source, 'etcd');
      assert.ok(running.status().disconnects >= 1);
    } finally {
      await running.stop();
      await late?.stop();
    }
  });

  test('dysco policy push / list, and their errors', () => {
    const file = join(dir, 'fleet.yaml');
    writeFileSync(file, ['- name: web', '  match: { dstPrefix: 10.0.1.0/24, dstPorts: 80 }', '  chain: [10.0.2.1]', '- name: all', '  match: {}', '  chain: []', ''].join('\n'));
    const push = dysco('policy', 'push', '--endpoints', etcd.endpoint, '--prefix', '/cli/', '--file', file);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stdout, /^2 policies at \/cli\/, revision \d+\n  written: web, all\n  deleted: -\n  unchanged: -$/m);
    const list = dysco('policy', 'list', '--endpoints', etcd.endpoint, '--prefix', '/cli/');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^ORDER  NAME  SRC  DST +SRC_PORTS  DST_PORTS  CHAIN$/m);
    assert.match(list.stdout, /^   10  web   \*    10\.0\.1\.0\/24  \*          80         10\.0\.2\.1$/m);
    const json = JSON.parse(dysco('policy', 'list', '--endpoints', etcd.endpoint, '--prefix', '/cli/', '--json').stdout);
    assert.deepEqual(json.policies.map((p: { order: number; name: string }) => [p.order, p.name]), [[10, 'web'], [20, 'all']]);

    // The endpoints from an agent config's policyEtcd section.
    const config = join(dir, 'agent.yaml');
    writeFileSync(config, JSON.stringify({ ...minimal, policyEtcd: { endpoints: [etcd.endpoint], prefix: '/cli/' } }));
    assert.match(dysco('policy', 'list', '--config', config).stdout, /^2 policies at \/cli\//m);

    etcd.ctl('put', '/cli/bad', '{');
    const invalid = dysco('policy', 'list', '--endpoints', etcd.endpoint, '--prefix', '/cli/');
    assert.equal(invalid.status, 1);
    assert.match(invalid.stdout, /is invalid; agents keep their last good set:\n  \/cli\/bad: not JSON/);

    const errors: [string[], RegExp][] = [
      [['policy', 'list'], /name the etcd store with --endpoints or --config/],
      [['policy', 'list', '--endpoints', '10.0.0.5:2379'], /--endpoints 10\.0\.0\.5:2379: must be an http/],
      [['policy', 'list', '--endpoints', etcd.endpoint, '--prefix', 'x'], /--prefix: etcd prefix must start and end with/],
      [['policy', 'push', '--endpoints', etcd.endpoint, '--file', join(dir, 'missing.yaml')], /cannot read .*missing\.yaml/],
      [['policy', 'list', '--endpoints', `unix:${join(dir, 'nobody.sock')}`, '--timeout-ms', '300'], /^dysco: etcd unix:.*nobody\.sock: .*UNAVAILABLE/],
    ];
    for (const [args, pattern] of errors) {
      const result = dysco(...args);
      assert.equal(result.status, 1, args.join(' '));
      assert.match(result.stderr, pattern, args.join(' '));
      assert.doesNotMatch(result.stderr, /\n    at /, 'a user error, not a stack');
    }
  });

  test('AgentControlPlane installs the etcd set and reports it in metrics', async () => {
    const client = admin();
    await pushPolicySet(client, PREFIX, [TLS]);
    const installs: Buffer[] = [];
    const cp = new AgentControlPlane();
    try {
      await cp.start({
        config: {
          policies: [{ name: 'cfg', match: { dstPorts: 80 }, chain: ['10.0.8.1'] }],
          policyEtcd: { endpoints: [etcd.endpoint], prefix: PREFIX, timeoutMs: 1000, reconnectMaxMs: 200, cachePath: join(dir, 'cache-cp.json') },
          api: { socket: join(dir, 'cp.sock'), host: '127.0.0.1' },
        },
        sink: { installPolicies: async (b) => void installs.push(b) },
        sessions: { sessions: async () => ({ sessions: [], nextCursor: null }) },
        log,
      });
      await cp.store!.whenIdle();
      assert.deepEqual(
        decodeCompiledPolicies(installs.at(-1)!).map((r) => r.dstPortLo),
        [80, 443],
      );
      await pushPolicySet(client, PREFIX, [TLS, ALL]);
      assert.ok(await waitFor(() => decodeCompiledPolicies(installs.at(-1)!).length === 3, 1000), 'the change reached the datapath within a second');

      const registry = new Registry();
      cp.registerMetrics(registry);
      const text = await registry.metrics();
      assert.match(text, /^dysco_policy_etcd_connected 1$/m);
      assert.match(text, /^dysco_policy_etcd_sets_total\{result="applied"\} 2$/m);
      assert.match(text, new RegExp(`^dysco_policy_etcd_revision ${cp.status().etcd!.revision}$`, 'm'));
    } finally {
      await cp.stop();
      client.close();
    }
  });
});
