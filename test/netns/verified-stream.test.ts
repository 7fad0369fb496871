// The verified stream in real namespaces over kernel TCP, on chain-2-plain (client, mb1, mb2, server, each on the
// one router, no agents): direct, routed through a forwarding middlebox, through a proxy that flips one byte (caught),
// over a lossy reordering link (intact, with retransmissions), and the conntrack firewall role: a session routed
// through it from its SYN passes, one moved onto it mid-stream is dropped until moved back, and still ends intact.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  addRandomLoss,
  createTestbed,
  netemUnavailableReason,
  randomLossDrops,
  removeRandomLoss,
  impairHostLink,
  qdiscStats,
  restoreHostLink,
  routeThroughChain,
  runStreamClient,
  runVerifiedStreams,
  startReordering,
  startStreamServer,
  unrouteChain,
  type ReorderingReport,
  type Testbed,
  type VerifiedStreamsResult,
} from '../../src/testbed';
import { installFirewall, ruleCounters, stopProcess } from '../support/middleboxes';
import { netnsUnavailableReason } from '../support/netns';

const PROXY = join(__dirname, '..', 'fixtures', 'corrupting-proxy.js');
const skip = netnsUnavailableReason(['ip', 'ethtool', 'ss', 'tc', 'iptables', 'ping']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Bytes the interface received, from `ip -s link`. */
async function rxBytes(tb: Testbed, host: string): Promise<number> {
  const h = tb.host(host);
  const r = await tb.exec(h, ['cat', `/sys/class/net/${h.iface}/statistics/rx_bytes`]);
  return Number(r.stdout.trim());
}

describe('verified stream on chain-2-plain', { skip, timeout: 300_000 }, () => {
  let tb: Testbed;
  before(async () => {
    tb = await createTestbed('chain-2-plain');
  });
  after(async () => {
    await tb?.destroy();
  });

  it('every middlebox is reachable from client and server', async () => {
    for (const from of ['client', 'server']) {
      for (const to of ['mb1', 'mb2']) {
        const r = await tb.exec(from, ['ping', '-c', '1', '-W', '2', tb.host(to).address], { allowFailure: true });
        assert.equal(r.code, 0, `${from} → ${to}: ${r.stdout}`);
      }
    }
  });

  it('direct: two sessions intact both ways, and the middleboxes see none of it', async () => {
    const before = await rxBytes(tb, 'mb1');
    const result = await runVerifiedStreams(tb, 'client', 'server', { port: 7101, seed: 100, sessions: 2, durationMs: 1500 });
    assert.equal(result.sessions.length, 2);
    for (const s of result.sessions) {
      assert.equal(s.ok, true, JSON.stringify({ client: s.client.failures, server: s.server?.failures }));
      assert.equal(s.bytesLost, 0);
      assert.ok(s.client.sent.bytes > 1_000_000 && s.server!.sent.bytes > 1_000_000, 'both directions carried data');
      assert.equal(s.server!.received?.bytesReceived, s.client.sent.bytes);
      assert.equal(s.client.received?.bytesReceived, s.server!.sent.bytes);
      assert.ok(s.client.samples.length >= 1);
      assert.ok(s.client.retransmissions !== undefined, 'the client read its retransmissions with ss');
    }
    assert.ok(result.clientRetransSegs >= 0);
    assert.ok((await rxBytes(tb, 'mb1')) - before < 100_000, 'the direct path does not cross mb1');
  });

  it('a rate limits both directions', async () => {
    const result = await runVerifiedStreams(tb, 'client', 'server', { port: 7108, seed: 1000, durationMs: 1000, rateMbitPerSecond: 2 });
    const [s] = result.sessions;
    assert.equal(s!.ok, true, JSON.stringify({ client: s!.client.failures, server: s!.server?.failures }));
    // 2 Mbit/s for about a second is 250 kB each way; unlimited it would be hundreds of MB
    for (const [side, sent] of [['client', s!.client.sent.bytes], ['server', s!.server!.sent.bytes]] as const) {
      assert.ok(sent > 50_000 && sent < 1_000_000, `${side} sent ${sent} bytes at 2 Mbit/s`);
    }
  });

  it('through a forwarding middlebox (routed by IP): intact, and it crossed mb1', async () => {
    await routeThroughChain(tb, 'client', 'server', ['mb1'], { port: 7102, slot: 1 });
    try {
      const before = await rxBytes(tb, 'mb1');
      const result = await runVerifiedStreams(tb, 'client', 'server', { port: 7102, seed: 200, durationMs: 1500 });
      const [s] = result.sessions;
      assert.equal(s!.ok, true, JSON.stringify({ client: s!.client.failures, server: s!.server?.failures }));
      assert.ok((await rxBytes(tb, 'mb1')) - before > s!.client.sent.bytes + s!.server!.sent.bytes, 'both directions crossed mb1');
    } finally {
      await unrouteChain(tb, 'client', 'server', ['mb1'], { port: 7102, slot: 1 });
    }
  });

  it('a proxy that flips one byte is caught at that offset; the client exits non-zero', async () => {
    const server = await startStreamServer(tb, 'server', { port: 7103 });
    const mb1 = tb.host('mb1');
    const flipAt = 8 + 250_000;
    const proxy = tb.spawn(mb1, [process.execPath, PROXY, mb1.address, '7104', server.address, '7103', String(flipAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('proxy did not start')), 10_000);
        proxy.stdout!.once('data', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      const client = await runStreamClient(tb, 'client', { address: mb1.address, port: 7104 }, { seed: 300, bytes: 2_000_000 });
      const { code, reports } = await server.exited;
      assert.equal(code, 1, 'the server exits non-zero');
      assert.equal(client.ok, true, 'server → client is untouched');
      assert.equal(reports[0]?.ok, false);
      assert.equal(reports[0]?.received?.firstMismatchOffset, 250_000);
      assert.equal(reports[0]?.received?.mismatchedBytes, 1);
      const cli = await tb.exec('client', [process.execPath, join(__dirname, '..', '..', 'src', 'testbed', 'verified-stream-main.js'), 'connect', '--address', mb1.address, '--port', '7104', '--seed', '1', '--bytes', '10'], { allowFailure: true });
      assert.equal(cli.code, 1, 'a failed connect is a failure too');
    } finally {
      await stopProcess(proxy);
      await server.stop();
    }
  });

  it('1 % loss and reordering on the client link (netem): intact, with retransmissions', async (t) => {
    const reason = await netemUnavailableReason(tb);
    if (reason !== undefined) {
      t.skip(reason);
      return;
    }
    await impairHostLink(tb, 'client', { lossPercent: 1, delayMs: 2, reorderPercent: 25 });
    try {
      const result = await runVerifiedStreams(tb, 'client', 'server', { port: 7105, seed: 400, durationMs: 2000, rateMbitPerSecond: 200 });
      const [s] = result.sessions;
      assert.equal(s!.ok, true, JSON.stringify({ client: s!.client.failures, server: s!.server?.failures }));
      assert.ok(result.clientRetransSegs > 0, 'the namespace counted retransmissions');
      assert.ok((s!.client.retransmissions?.segments ?? 0) > 0, 'ss counted the connection’s retransmissions');
      const stats = await qdiscStats(tb, 'client', tb.host('client').iface);
      assert.equal(stats?.kind, 'netem');
    } finally {
      await restoreHostLink(tb, 'client');
    }
    assert.notEqual((await qdiscStats(tb, 'client', tb.host('client').iface))?.kind, 'netem');
  });

  it('reordering on the client link (NFQUEUE, test/tools/nfq-reorder): intact, and packets were reordered', async () => {
    const reordering = await startReordering(tb, 'client', { queue: 21, holdPercent: 20 });
    let report: ReorderingReport;
    let result: VerifiedStreamsResult;
    try {
      result = await runVerifiedStreams(tb, 'client', 'server', { port: 7109, seed: 1100, durationMs: 1500, rateMbitPerSecond: 50 });
    } finally {
      report = await reordering.stop();
    }
    const [s] = result.sessions;
    assert.equal(s!.ok, true, JSON.stringify({ client: s!.client.failures, server: s!.server?.failures }));
    assert.ok(report.packets > 1000 && report.reordered > report.packets / 10, JSON.stringify(report));
    const rules = await tb.exec('router', ['iptables', '-w', '5', '-S', 'FORWARD']);
    assert.doesNotMatch(rules.stdout, /NFQUEUE/, 'the rules are gone');
  });

  it('1 % random loss on the client link (iptables statistic): intact, with retransmissions', async () => {
    const loss = { probability: 0.01 };
    await addRandomLoss(tb, 'client', loss);
    try {
      const result = await runVerifiedStreams(tb, 'client', 'server', { port: 7107, seed: 700, durationMs: 2000, rateMbitPerSecond: 200 });
      const [s] = result.sessions;
      assert.equal(s!.ok, true, JSON.stringify({ client: s!.client.failures, server: s!.server?.failures }));
      assert.ok((await randomLossDrops(tb, 'client')) > 0, 'the rules dropped packets');
      assert.ok(result.clientRetransSegs > 0, 'the namespace counted retransmissions');
      assert.ok((s!.client.retransmissions?.segments ?? 0) > 0, 'ss counted the connection’s retransmissions');
    } finally {
      await removeRandomLoss(tb, 'client', loss);
    }
    assert.equal(await randomLossDrops(tb, 'client'), 0, 'the rules are gone');
  });

  it('conntrack firewall on mb2: passes a session from its SYN, drops one moved onto it mid-stream', async () => {
    await installFirewall(tb, 'mb2');
    const selector = { port: 7106, slot: 2 };
    await routeThroughChain(tb, 'client', 'server', ['mb2'], selector);
    try {
      const passed = await runVerifiedStreams(tb, 'client', 'server', { port: 7106, seed: 500, durationMs: 1000 });
      assert.equal(passed.sessions[0]!.ok, true, JSON.stringify(passed.sessions[0]!.client.failures));
      const accepted = await ruleCounters(tb, 'mb2');
      assert.equal(accepted.rules.find((r) => /tcp flags:0x17\/0x02 ctstate NEW/.test(r.text))?.packets, 1, 'one SYN accepted as NEW');
    } finally {
      await unrouteChain(tb, 'client', 'server', ['mb2'], selector);
    }
    const droppedBefore = await ruleCounters(tb, 'mb2');
    const invalidBefore = droppedBefore.rules.find((r) => /ctstate INVALID/.test(r.text))!.packets + droppedBefore.policyPackets;
    const moved = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7106,
      seed: 600,
      durationMs: 3000,
      rateMbitPerSecond: 50,
      startedAfterMs: 500,
      whileRunning: async () => {
        await routeThroughChain(tb, 'client', 'server', ['mb2'], selector);
        await sleep(700);
        await unrouteChain(tb, 'client', 'server', ['mb2'], selector);
      },
    });
    const after = await ruleCounters(tb, 'mb2');
    const invalidAfter = after.rules.find((r) => /ctstate INVALID/.test(r.text))!.packets + after.policyPackets;
    assert.ok(invalidAfter - invalidBefore > 0, 'mid-stream packets were dropped by the firewall');
    const s = moved.sessions[0]!;
    assert.equal(s.ok, true, JSON.stringify({ client: s.client.failures, server: s.server?.failures }));
    assert.ok(moved.clientRetransSegs > 0, 'the outage cost retransmissions');
  });
});

/** Sum of a labelled counter's series in a Prometheus text exposition. */
function counterSum(text: string, metric: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) sum += Number(line.trim().split(/\s+/).pop());
  }
  return sum;
}

describe('verified stream through Dysco agents on chain-2', { skip: netnsUnavailableReason(['ip', 'ethtool', 'ss', 'iptables', 'curl']), timeout: 300_000 }, () => {
  let tb: Testbed;
  before(async () => {
    tb = await createTestbed('chain-2', {
      dysco: true,
      policies: {
        client: [
          { name: 'via-mb1', match: { dstPrefix: 'server', dstPorts: 7201 }, chain: ['mb1'] },
          { name: 'direct', match: { dstPrefix: 'server', dstPorts: 7202 }, chain: [] },
        ],
      },
    });
    await installFirewall(tb, 'mb1');
  });
  after(async () => {
    await tb?.destroy();
  });

  it('a session chained through the firewall on mb1 by policy: intact both ways, set up by the agents', async () => {
    const setupsBefore = counterSum(await tb.scrapeMetrics('mb1'), 'dysco_session_setups_total');
    const result = await runVerifiedStreams(tb, 'client', 'server', { port: 7201, seed: 800, sessions: 2, durationMs: 1500 });
    for (const s of result.sessions) {
      assert.equal(s.ok, true, JSON.stringify({ client: s.client.failures, server: s.server?.failures }));
      assert.ok(s.client.sent.bytes > 100_000 && (s.server?.sent.bytes ?? 0) > 100_000);
    }
    assert.ok(counterSum(await tb.scrapeMetrics('mb1'), 'dysco_session_setups_total') > setupsBefore, 'mb1’s agent took part in the set-up');
    const fw = await ruleCounters(tb, 'mb1');
    assert.equal(fw.rules.find((r) => /tcp flags:0x17\/0x02 ctstate NEW/.test(r.text))?.packets, 2, 'the firewall saw each session’s SYN');
  });

  it('a session with an empty chain (the start of an insert): a Dysco session, intact, and the middleboxes see none of it', async () => {
    const before = await rxBytes(tb, 'mb1');
    const setupsBefore = counterSum(await tb.scrapeMetrics('client'), 'dysco_session_setups_total');
    const result = await runVerifiedStreams(tb, 'client', 'server', { port: 7202, seed: 900, durationMs: 1500 });
    const steps = counterSum(await tb.scrapeMetrics('client'), 'dysco_session_setups_total') - setupsBefore;
    assert.ok(steps > 0, 'the client agent set the direct session up as a Dysco session (a reconfiguration needs one)');
    const [s] = result.sessions;
    assert.equal(s!.ok, true, JSON.stringify({ client: s!.client.failures, server: s!.server?.failures }));
    assert.ok((await rxBytes(tb, 'mb1')) - before < 100_000);
  });
});
