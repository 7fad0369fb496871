// Sessions moved between two firewall instances with their conntrack state (docs/state-transfer.md): real kernel
// TCP through iptables on mb1, handed over to mb2 by `POST /v1/migrate` at mb1's agent. mb2 admits no connection by
// itself: whatever it passes, it knows from mb1's state. Every byte is checked on both ends. A NAT's mappings move
// the same way.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ApiClient } from '../../src/api/client';
import { defaultApiSocket } from '../../src/api/socket-path';
import type { MigrateBody, MigrateLine, MigrationSummary } from '../../src/api/types';
import { createTestbed, type Testbed } from '../../src/testbed';
import { withAgentDiagnosis } from '../../src/testbed/diagnosis';
import { metricSum } from '../../src/testbed/exposition';
import { conntrackEntries, installFirewall, ruleCounters } from '../../src/testbed/middleboxes';
import { runVerifiedStreams } from '../../src/testbed/verified-stream-run';
import { assertIntact } from '../support/intact';
import { netnsUnavailableReason } from '../support/netns';

const CONTROL_PORT = 7777;
/** The NAT's pool address: both instances map to it; the server reaches it through Dysco, no route needed. */
const NAT_POOL = '10.77.99.1';
const skip = netnsUnavailableReason(['ip', 'ethtool', 'ss', 'iptables', 'conntrack']);


describe('migration between two iptables firewalls (mb1 → mb2) with conntrack state', { skip, timeout: 600_000 }, () => {
  let tb: Testbed;
  let mb1: ApiClient;
  const address = (host: string) => tb.host(host).address;
  const diagnosed = (name: string, body: (t: TestContext) => Promise<void>) => it(name, (t) => withAgentDiagnosis(tb, () => body(t)));
  /** What mb2's firewall refused: INVALID drops and the DROP policy. */
  const refusedByMb2 = async () => {
    const c = await ruleCounters(tb, 'mb2');
    return (c.rules.find((r) => /ctstate INVALID/.test(r.text))?.packets ?? 0) + c.policyPackets;
  };

  before(async () => {
    tb = await createTestbed('chain-2', {
      dysco: true,
      middleboxState: 'conntrack',
      agentConfig: { dysco: { controlPort: CONTROL_PORT, timeouts: { lingerMs: 500 } } },
      policies: { client: [{ name: 'via-mb1', match: { dstPrefix: 'server', dstPorts: '7331-7339' }, chain: ['mb1'] }] },
    });
    await installFirewall(tb, 'mb1');
    await installFirewall(tb, 'mb2', { admitNew: false });
    mb1 = new ApiClient(defaultApiSocket(tb.agentPid('mb1')!), { timeoutMs: 30_000 });
  });
  after(async () => {
    await tb?.destroy();
  });

  /** Waits until mb1's agent carries `count` established sessions to `port`. */
  async function established(port: number, count: number): Promise<void> {
    let seen = 0;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const sessions = await mb1.allSessions({ port });
      seen = sessions.filter((s) => s.state === 'established' && s.left?.session.dstPort === port).length;
      if (seen >= count) return;
    }
    throw new Error(`mb1 carries ${seen} of ${count} established sessions to port ${port}`);
  }

  async function migrate(port: number, count: number, body: Partial<MigrateBody> = {}): Promise<{ lines: MigrateLine[]; summary: MigrationSummary }> {
    await established(port, count);
    const lines: MigrateLine[] = [];
    const summary = await mb1.migrate({ from: address('mb1'), to: address('mb2'), filter: { dstPort: port }, timeoutMs: 30_000, ...body }, (l) => lines.push(l));
    return { lines, summary };
  }

  const entriesTo = async (box: string, port: number) => (await conntrackEntries(tb, box)).filter((e) => e.dport === port);

  diagnosed('four sessions move to mb2 with their state: every byte both ways, mb2 holds their entries and drops nothing', async () => {
    const refusedBefore = await refusedByMb2();
    let moved: Awaited<ReturnType<typeof migrate>> | undefined;
    let onMb2: Awaited<ReturnType<typeof entriesTo>> = [];
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7331,
      seed: 100,
      sessions: 4,
      durationMs: 4000,
      rateMbitPerSecond: 20,
      whileRunning: async () => {
        moved = await migrate(7331, 4);
        onMb2 = await entriesTo('mb2', 7331);
      },
    });
    assertIntact(result, 100_000);
    const { lines, summary } = moved!;
    assert.deepEqual([summary.sessions, summary.completed], [4, 4], JSON.stringify(summary));
    assert.deepEqual(lines[0], { start: { from: address('mb1'), to: address('mb2'), sessions: 4 } });
    assert.ok(summary.p50Ms !== null && summary.p50Ms > 0);
    assert.equal(onMb2.length, 4, onMb2.map((e) => e.line).join('\n'));
    for (const entry of onMb2) assert.equal(entry.state, 'ESTABLISHED', entry.line);
    assert.equal((await refusedByMb2()) - refusedBefore, 0, 'mb2 refused nothing of the migrated sessions');
    const mb2Metrics = await tb.scrapeMetrics('mb2');
    assert.equal(metricSum(mb2Metrics, 'dysco_state_transfer_sessions_total{side="import",outcome="ok"}'), 4);
    // The sessions left mb1: its agent deleted their entries when the teardown retired them there.
    let left = await entriesTo('mb1', 7331);
    for (const deadline = Date.now() + 5_000; left.length > 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) left = await entriesTo('mb1', 7331);
    assert.deepEqual(left, []);
  });

  diagnosed('without state transfer mb2 blocks the new path: the migration fails, reported, and the sessions go on through mb1', async () => {
    const refusedBefore = await refusedByMb2();
    let moved: Awaited<ReturnType<typeof migrate>> | undefined;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7332,
      seed: 200,
      sessions: 2,
      durationMs: 5000,
      rateMbitPerSecond: 5,
      whileRunning: async () => {
        moved = await migrate(7332, 2, { transferState: false });
      },
    });
    assertIntact(result, 10_000);
    const { summary } = moved!;
    assert.deepEqual([summary.sessions, summary.completed, summary.failed], [2, 0, 2], JSON.stringify(summary));
    assert.deepEqual(summary.reasons, { setup_timeout: 2 });
    assert.ok((await refusedByMb2()) - refusedBefore >= 2, 'mb2 dropped the new paths\' SYNs');
    assert.deepEqual(await entriesTo('mb2', 7332), []);
  });

  diagnosed('mb2 already holds an entry for the session: the import is refused, the run cancels, the session stays on mb1 unharmed', async () => {
    let moved: Awaited<ReturnType<typeof migrate>> | undefined;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7333,
      seed: 300,
      durationMs: 3000,
      rateMbitPerSecond: 5,
      whileRunning: async () => {
        await established(7333, 1);
        // A stale entry of the same connection on mb2, as a crashed earlier attempt could leave it.
        const [entry] = await entriesTo('mb1', 7333);
        assert.ok(entry, 'mb1 tracks the session');
        await tb.exec('mb2', ['conntrack', '-I', '-p', 'tcp', '-s', entry.src, '-d', entry.dst, '--sport', String(entry.sport), '--dport', String(entry.dport), '--state', 'SYN_SENT', '-t', '60', '-u', 'SEEN_REPLY']);
        moved = await migrate(7333, 1);
      },
    });
    assertIntact(result, 10_000);
    assert.deepEqual(moved!.summary.reasons, { state_exists: 1 }, JSON.stringify(moved!.summary));
    const onMb1 = await entriesTo('mb1', 7333);
    assert.equal(onMb1.length, 1, 'mb1 keeps the state of the session that stayed');
    await tb.exec('mb2', ['conntrack', '-D', '-p', 'tcp', '--dport', '7333'], { allowFailure: true });
  });

  diagnosed('mb2 unreachable: the state cannot be delivered, the run cancels, the session stays on mb1 unharmed', async () => {
    let moved: Awaited<ReturnType<typeof migrate>> | undefined;
    const mb2Link = tb.host('mb2').routerIface;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7335,
      seed: 400,
      durationMs: 6000,
      rateMbitPerSecond: 5,
      whileRunning: async () => {
        await tb.exec('router', ['ip', 'link', 'set', mb2Link, 'down']);
        try {
          moved = await migrate(7335, 1);
        } finally {
          await tb.exec('router', ['ip', 'link', 'set', mb2Link, 'up']);
        }
      },
    });
    assertIntact(result, 10_000);
    assert.deepEqual(moved!.summary.reasons, { state_unreachable: 1 }, JSON.stringify(moved!.summary));
    assert.equal((await entriesTo('mb1', 7335)).length, 1, 'mb1 keeps the state of the session that stayed');
  });

  diagnosed('a NAT\'s mapping moves with its session: mb1 and mb2 map it to one pool address, the server sees no change', async () => {
    // The same rule on both instances: configuration is theirs; the mapping of each session is state.
    for (const box of ['mb1', 'mb2']) await tb.exec(box, ['iptables', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-p', 'tcp', '--dport', '7336', '-j', 'SNAT', '--to-source', NAT_POOL]);
    let moved: Awaited<ReturnType<typeof migrate>> | undefined;
    let onMb2: Awaited<ReturnType<typeof entriesTo>> = [];
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7336,
      seed: 500,
      sessions: 2,
      durationMs: 4000,
      rateMbitPerSecond: 5,
      whileRunning: async () => {
        moved = await migrate(7336, 2);
        onMb2 = await entriesTo('mb2', 7336);
      },
    });
    assertIntact(result, 10_000);
    assert.deepEqual([moved!.summary.sessions, moved!.summary.completed], [2, 2], JSON.stringify(moved!.summary));
    for (const s of result.sessions) assert.equal(s.server?.remote?.address, NAT_POOL, 'the server\'s peer is the pool address, before and after');
    assert.equal(onMb2.length, 2, onMb2.map((e) => e.line).join('\n'));
    for (const e of onMb2) assert.equal(e.replyDst, NAT_POOL, `mb2 maps the session as mb1 did: ${e.line}`);
  });

  diagnosed('bulk: 500 sessions move in one request, state in batches, every session intact', async (t) => {
    const count = 500;
    let moved: Awaited<ReturnType<typeof migrate>> | undefined;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7334,
      seed: 1000,
      sessions: count,
      sessionsPerProcess: 250,
      durationMs: 12_000,
      rateMbitPerSecond: 0.05,
      startedAfterMs: 1000,
      whileRunning: async () => {
        moved = await migrate(7334, count);
      },
    });
    const { summary } = moved!;
    t.diagnostic(JSON.stringify(summary));
    const brokenSessions = result.sessions.filter((s) => !s.ok);
    const broken = brokenSessions.map((s) => s.client.local?.port);
    const why = brokenSessions.slice(0, 3).map((s) => ({ port: s.client.local?.port, client: s.client.failures, server: s.server?.failures }));
    const notMoved = moved!.lines.flatMap((l) => ('result' in l && l.result.outcome !== 'completed' ? [l.result] : []));
    assert.deepEqual(broken, [], `sessions not intact (client ports) ${JSON.stringify(broken)}, the first: ${JSON.stringify(why)}; not moved ${JSON.stringify(notMoved)}`);
    assertIntact(result, 1);
    assert.deepEqual([summary.sessions, summary.completed], [count, count], JSON.stringify(summary));
    const mb1Metrics = await tb.scrapeMetrics('mb1');
    const exportBatches = metricSum(mb1Metrics, 'dysco_state_transfer_batch_sessions_count{side="export"}');
    assert.ok(exportBatches >= 1 && exportBatches < count / 4, `${exportBatches} export batches for ${count} sessions`);
    assert.equal((await entriesTo('mb2', 7334)).length, count);
  });
});
