// Fleet policies from a real etcd: three agents (client, mb1, server) watch one prefix. A push reroutes new
// sessions on all three within a second; with etcd stopped the agents keep serving, and one restarted meanwhile
// chains from its cache; once etcd is back they catch up. Every session's bytes are checked, and whether it
// crossed mb1 is read from mb1's own agent.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/api/client';
import { defaultApiSocket } from '../../src/api/socket-path';
import { pushPolicySet } from '../../src/policy/etcd-admin';
import { connectEtcd } from '../../src/policy/etcd-connection';
import type { Policy } from '../../src/policy/model';
import { createTestbed, type Testbed } from '../../src/testbed';
import { withAgentDiagnosis } from '../../src/testbed/diagnosis';
import { metricSum } from '../../src/testbed/exposition';
import { runVerifiedStreams } from '../../src/testbed/verified-stream-run';
import { EtcdMember, etcdUnavailable } from '../support/etcd';
import { assertIntact } from '../support/intact';
import { netnsUnavailableReason } from '../support/netns';
import { waitFor } from '../support/wait';

const HOSTS = ['client', 'mb1', 'server'];
const PORTS = '7400-7499';
const skip = netnsUnavailableReason(['ip', 'ethtool', 'ss']) ?? etcdUnavailable();

describe('fleet policies from etcd', { skip, timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dysco-etcd-netns-'));
  const etcd = new EtcdMember(join(dir, 'etcd'));
  let tb: Testbed | undefined;
  let nextPort = 7400;
  const address = (host: string) => tb!.host(host).address;
  const api = (host: string) => new ApiClient(defaultApiSocket(tb!.agentPid(host)!), { timeoutMs: 10_000 });
  const diagnosed = (name: string, body: () => Promise<void>) => it(name, () => withAgentDiagnosis(tb!, body));

  /** Sessions to each end: direct, or through mb1. */
  const fleet = (toServer: string[], toClient: string[]): Policy[] => [
    { name: 'to-server', match: { dstPrefix: `${address('server')}/32`, dstPorts: PORTS }, chain: toServer },
    { name: 'to-client', match: { dstPrefix: `${address('client')}/32`, dstPorts: PORTS }, chain: toClient },
  ];

  async function push(policies: Policy[]): Promise<number> {
    const client = connectEtcd({ endpoints: [etcd.endpoint], timeoutMs: 5000, reconnectMaxMs: 200 });
    try {
      return (await pushPolicySet(client, '/dysco/policies/', policies)).revision;
    } finally {
      client.close();
    }
  }

  /** The chains of the fleet policies an agent has installed, by name. */
  async function installedChains(host: string): Promise<Record<string, string[]>> {
    const { policies } = await api(host).listPolicies();
    return Object.fromEntries(policies.filter((p) => p.source === 'service').map((p) => [p.name, p.chain]));
  }

  async function everyAgentHas(policies: Policy[]): Promise<boolean> {
    const wanted = JSON.stringify(Object.fromEntries(policies.map((p) => [p.name, p.chain])));
    const chains = await Promise.all(HOSTS.map(installedChains));
    return chains.every((c) => JSON.stringify(c) === wanted);
  }

  /** One verified session from `from` to `to`; whether mb1's agent carried it. */
  async function route(from: string, to: string): Promise<'direct' | 'via mb1'> {
    const accepted = async () => metricSum(await tb!.scrapeMetrics('mb1'), 'dysco_session_setups_total{kind="accepted"}');
    const before = await accepted();
    const port = nextPort++;
    const result = await runVerifiedStreams(tb!, from, to, { port, seed: port, sessions: 1, durationMs: 1500, rateMbitPerSecond: 10 });
    assertIntact(result, 100_000);
    return (await accepted()) > before ? 'via mb1' : 'direct';
  }

  before(async () => {
    await etcd.start();
    tb = await createTestbed('chain-1', {
      dysco: true,
      policyEtcd: { endpoints: [etcd.endpoint], reconnectMaxMs: 200 },
      agentConfig: { dysco: { timeouts: { lingerMs: 500 } } },
    });
  });
  after(async () => {
    await tb?.destroy();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  diagnosed('every agent installs the fleet set from etcd; sessions run direct', async () => {
    const direct = fleet([], []);
    await push(direct);
    assert.ok(await waitFor(() => everyAgentHas(direct), 5000, 50), 'all three agents hold the set');
    assert.equal(await route('client', 'server'), 'direct');
    assert.equal(await route('server', 'client'), 'direct');
  });

  diagnosed('a push reroutes new sessions on all three agents within a second', async () => {
    const viaMb1 = fleet([address('mb1')], [address('mb1')]);
    const pushedAt = Date.now();
    await push(viaMb1);
    assert.ok(await waitFor(() => everyAgentHas(viaMb1), 1000, 20), 'the change reached every agent within a second');
    const reachedMs = Date.now() - pushedAt;
    assert.ok(reachedMs <= 1000, `${reachedMs} ms`);
    assert.equal(await route('client', 'server'), 'via mb1');
    assert.equal(await route('server', 'client'), 'via mb1');
  });

  diagnosed('etcd stopped: the agents keep serving, and one restarted meanwhile chains from its cache', async () => {
    await etcd.stop();
    const disconnected = async () =>
      (await Promise.all(HOSTS.map(async (h) => metricSum(await tb!.scrapeMetrics(h), 'dysco_policy_etcd_connected')))).every((v) => v === 0);
    assert.ok(await waitFor(disconnected, 5000, 100), 'every agent noticed etcd going away');
    assert.equal(await route('client', 'server'), 'via mb1');

    await tb!.stopAgent('client');
    await tb!.startAgent('client');
    assert.deepEqual(await installedChains('client'), { 'to-server': [address('mb1')], 'to-client': [address('mb1')] });
    assert.equal(await route('client', 'server'), 'via mb1');
    assert.equal(await route('server', 'client'), 'via mb1');
  });

  diagnosed('etcd back: every agent catches up, and new sessions follow the new set', async () => {
    await etcd.start();
    const mixed = fleet([], [address('mb1')]);
    const revision = await push(mixed);
    assert.ok(await waitFor(() => everyAgentHas(mixed), 5000, 50), 'all three agents caught up');
    for (const host of HOSTS) assert.ok(metricSum(await tb!.scrapeMetrics(host), 'dysco_policy_etcd_revision') >= revision, host);
    assert.equal(await route('client', 'server'), 'direct');
    assert.equal(await route('server', 'client'), 'via mb1');
  });
});
