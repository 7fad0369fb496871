// Live reconfiguration with real kernel TCP through real middleboxes: verified streams both ways while the
// client's agent changes the session's chain (docs/reconfiguration.md). Every byte is checked on both ends.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ApiClient } from '../../src/api/client';
import { defaultApiSocket } from '../../src/api/socket-path';
import type { ReconfigureResponse } from '../../src/api/types';
import { createTestbed, type Testbed } from '../../src/testbed';
import { withAgentDiagnosis } from '../../src/testbed/diagnosis';
import { metricSum } from '../../src/testbed/exposition';
import { conntrackEntries, installFirewall, ruleCounters } from '../../src/testbed/middleboxes';
import { addRandomLoss, randomLossDrops, removeRandomLoss } from '../../src/testbed/random-loss';
import { startReordering } from '../../src/testbed/reordering';
import { runVerifiedStreams, type VerifiedStreamsResult } from '../../src/testbed/verified-stream-run';
import { assertIntact } from '../support/intact';
import { netnsUnavailableReason } from '../support/netns';

const CONTROL_PORT = 7777;
const skip = netnsUnavailableReason(['ip', 'ethtool', 'ss', 'iptables', 'conntrack']);


describe('live reconfiguration on chain-2 (iptables conntrack firewalls on mb1 and mb2)', { skip, timeout: 600_000 }, () => {
  let tb: Testbed;
  let api: ApiClient;
  const address = (host: string) => tb.host(host).address;
  /** A case whose failure message carries every agent's trouble counters and log tail. */
  const diagnosed = (name: string, body: (t: TestContext) => Promise<void>) => it(name, (t) => withAgentDiagnosis(tb, () => body(t)));

  before(async () => {
    tb = await createTestbed('chain-2', {
      dysco: true,
      // The middleboxes' agents delete a session's conntrack entry when a reconfiguration retires it there.
      middleboxState: 'conntrack',
      agentConfig: { dysco: { controlPort: CONTROL_PORT, timeouts: { lingerMs: 500 } } },
      policies: {
        client: [
          { name: 'direct', match: { dstPrefix: 'server', dstPorts: '7301-7309' }, chain: [] },
          { name: 'via-mb1', match: { dstPrefix: 'server', dstPorts: '7311-7319' }, chain: ['mb1'] },
          { name: 'via-mb1-mb2', match: { dstPrefix: 'server', dstPorts: '7321-7329' }, chain: ['mb1', 'mb2'] },
        ],
      },
    });
    await installFirewall(tb, 'mb1');
    await installFirewall(tb, 'mb2');
    api = new ApiClient(defaultApiSocket(tb.agentPid('client')!), { timeoutMs: 30_000 });
  });
  after(async () => {
    await tb?.destroy();
  });

  /** Waits (at most 10 s) until the agent lists an established session to `port`: clients connect in their time. */
  async function established(at: ApiClient, port: number): Promise<void> {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      const sessions = await at.allSessions({ port });
      if (sessions.some((s) => s.state === 'established' && (s.left?.session.dstPort === port || s.right?.session.dstPort === port))) return;
    }
    throw new Error(`no established session to port ${port}`);
  }

  async function reconfigure(port: number, via: string[], at = api): Promise<ReconfigureResponse> {
    await established(at, port);
    return at.reconfigure({ filter: { dstPort: port }, rightAnchor: address('server'), via: via.map(address), timeoutMs: 10_000 });
  }

  const agentApi = (host: string) => new ApiClient(defaultApiSocket(tb.agentPid(host)!), { timeoutMs: 30_000 });

  function completed(response: ReconfigureResponse): void {
    assert.ok(response.results.length >= 1, 'a session matched');
    for (const r of response.results) assert.equal(r.outcome, 'completed', JSON.stringify(r));
  }

  diagnosed('inserts the mb1 firewall into a direct session; the firewall sees a new connection start and passes it all', async () => {
    const fwBefore = await ruleCounters(tb, 'mb1');
    const newSyns = (c: typeof fwBefore) => c.rules.find((r) => /tcp flags:0x17\/0x02 ctstate NEW/.test(r.text))?.packets ?? 0;
    // the SYNs the client anchor sent: the first, and one more each 20 ms the handshake takes (a loaded box)
    const synsSent = async () => metricSum(await tb.scrapeMetrics('client'), 'dysco_new_path_steps_total{kind="opened"}');
    const sentBefore = await synsSent();
    let response: ReconfigureResponse | undefined;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7301,
      seed: 10,
      durationMs: 3000,
      whileRunning: async () => {
        response = await reconfigure(7301, ['mb1']);
      },
    });
    assertIntact(result, 10_000);
    completed(response!);
    const fwAfter = await ruleCounters(tb, 'mb1');
    const admitted = newSyns(fwAfter) - newSyns(fwBefore);
    const sent = (await synsSent()) - sentBefore;
    assert.ok(admitted >= 1 && admitted <= sent, `the new path began with a SYN the firewall admitted (${admitted} admitted, ${sent} sent)`);
    const invalid = (c: typeof fwBefore) => (c.rules.find((r) => /ctstate INVALID/.test(r.text))?.packets ?? 0) + c.policyPackets;
    assert.equal(invalid(fwAfter) - invalid(fwBefore), 0, 'the firewall dropped nothing');
    assert.ok(metricSum(await tb.scrapeMetrics('client'), 'dysco_new_path_steps_total') > 0);
  });

  diagnosed('replaces mb1 by mb2, then removes mb2, on one session carrying traffic both ways', async () => {
    const responses: ReconfigureResponse[] = [];
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7311,
      seed: 20,
      durationMs: 4000,
      whileRunning: async () => {
        responses.push(await reconfigure(7311, ['mb2']));
        await new Promise((r) => setTimeout(r, 500));
        responses.push(await reconfigure(7311, []));
      },
    });
    assertIntact(result, 10_000);
    for (const response of responses) completed(response);
    // Each firewall the session left forgot it: its agent deleted the entry when the teardown retired the session
    // (without that, an entry stays ESTABLISHED for days: the old path's boxes never see the FIN).
    for (const box of ['mb1', 'mb2']) {
      let left = (await conntrackEntries(tb, box)).filter((e) => e.dport === 7311);
      for (const deadline = Date.now() + 5_000; left.length > 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        left = (await conntrackEntries(tb, box)).filter((e) => e.dport === 7311);
      }
      assert.deepEqual(left, [], `${box} holds no entry of the session`);
    }
  });

  diagnosed('twenty reconfigurations in a row on one session', async () => {
    const responses: ReconfigureResponse[] = [];
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7302,
      seed: 30,
      durationMs: 8000,
      whileRunning: async () => {
        // Insert, replace, remove, in turn. (A middlebox cannot be on the old and the new path at once: its stack
        // would see two connections with one tuple. Shortening mb1+mb2 to mb1 is mb1's own reconfiguration.)
        const plan = [['mb1'], ['mb2'], [], ['mb2', 'mb1'], []];
        for (let i = 0; i < 20; i++) responses.push(await reconfigure(7302, plan[i % plan.length]!));
      },
    });
    assertIntact(result, 10_000);
    assert.equal(responses.length, 20);
    for (const response of responses) completed(response);
  });

  diagnosed('an idle session reconfigured four times within half a second: each anchor asks its host, and is answered every time', async () => {
    // One byte each way every 800 ms: the anchors find their hosts idle and probe them. Linux answers an
    // out-of-window segment without data once per 500 ms and socket, so probes without data left the second and
    // later runs waiting for the 600 ms repeat; a probe with one byte is answered every time.
    const responses: ReconfigureResponse[] = [];
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7303,
      seed: 35,
      durationMs: 3000,
      rateMbitPerSecond: 0.00001,
      whileRunning: async () => {
        await new Promise((r) => setTimeout(r, 300));
        for (const via of [['mb1'], [], ['mb2'], []]) responses.push(await reconfigure(7303, via));
      },
    });
    assertIntact(result, 1);
    for (const response of responses) completed(response);
    const times = responses.map((r) => r.results[0]!.durationMs ?? Infinity);
    assert.ok(times.reduce((a, b) => a + b) < 500, `four reconfigurations took ${times.join(', ')} ms`);
  });

  diagnosed('a middlebox as left anchor: mb1 takes mb2 out of client → mb1 → mb2 → server', async () => {
    let response: ReconfigureResponse | undefined;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7321,
      seed: 40,
      durationMs: 3000,
      whileRunning: async () => {
        response = await reconfigure(7321, [], agentApi('mb1'));
      },
    });
    assertIntact(result, 10_000);
    completed(response!);
  });

  diagnosed('the same with 1 % loss and reordering on the data links and 10 % loss of control messages', async () => {
    const losses = [
      { host: 'client', loss: { probability: 0.01 } },
      { host: 'server', loss: { probability: 0.01 } },
      { host: 'client', loss: { probability: 0.1, udpDstPort: CONTROL_PORT } },
      { host: 'server', loss: { probability: 0.1, udpDstPort: CONTROL_PORT } },
    ];
    for (const l of losses) await addRandomLoss(tb, l.host, l.loss);
    // Every TCP packet of the data links (subsessions, new paths' handshakes, announcements): one in five held back.
    const reorderings = [await startReordering(tb, 'client', { queue: 31, holdPercent: 20, seed: 3 }), await startReordering(tb, 'server', { queue: 32, holdPercent: 20, seed: 4 })];
    const reordered: number[] = [];
    const responses: ReconfigureResponse[] = [];
    let result: VerifiedStreamsResult;
    try {
      result = await runVerifiedStreams(tb, 'client', 'server', {
        port: 7303,
        seed: 50,
        durationMs: 8000,
        rateMbitPerSecond: 20,
        whileRunning: async () => {
          const plan = [['mb1'], ['mb2'], []];
          for (let i = 0; i < 6; i++) responses.push(await reconfigure(7303, plan[i % plan.length]!));
        },
      });
      assert.ok((await randomLossDrops(tb, 'client')) + (await randomLossDrops(tb, 'server')) > 0, 'packets were lost');
    } finally {
      for (const r of reorderings) reordered.push((await r.stop()).reordered);
      for (const l of losses) await removeRandomLoss(tb, l.host, l.loss);
    }
    // A packet between client and server is the client link's to reorder (the first rule that queues it decides),
    // so the server link's queue sees only what goes through a middlebox to the server.
    assert.ok(reordered[0]! > 100 && reordered[1]! > 0, `packets reordered on the client and server links: ${reordered.join(', ')}`);
    assertIntact(result, 10_000);
    for (const response of responses) completed(response);
  });

  diagnosed('a new path whose middlebox is down: the reconfiguration fails and the session carries on', async () => {
    await tb.stopAgent('mb2');
    let response: ReconfigureResponse | undefined;
    let result: VerifiedStreamsResult;
    try {
      result = await runVerifiedStreams(tb, 'client', 'server', {
        port: 7304,
        seed: 60,
        durationMs: 5000,
        whileRunning: async () => {
          response = await reconfigure(7304, ['mb2']);
        },
      });
    } finally {
      await tb.startAgent('mb2');
    }
    assertIntact(result, 10_000);
    const [r] = response!.results;
    assert.equal(r!.outcome, 'failed');
    assert.equal(r!.reason, 'setup_timeout');
  });

  diagnosed('two overlapping reconfigurations at once: exactly one succeeds, the other is refused for the lock', async () => {
    const outcomes: string[] = [];
    // Every control message to or from the server is lost for a while, so that mb1's lock stays pending
    // until the client's request has reached mb1: without it, mb1's run could finish first, and the client's
    // replace would then be a later reconfiguration, not a contending one.
    const blackout = { probability: 1, udpDstPort: CONTROL_PORT };
    let blackedOut = 0;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7312,
      seed: 70,
      durationMs: 4000,
      whileRunning: async () => {
        // The client replaces mb1 by mb2 while mb1 inserts mb2 between itself and the server: the segments overlap.
        const mb1 = agentApi('mb1');
        await established(api, 7312);
        await established(mb1, 7312);
        const session = (await api.allSessions({ port: 7312 }))[0]!.right!.session;
        const body = { session, rightAnchor: address('server'), via: [address('mb2')], timeoutMs: 10_000 };
        await addRandomLoss(tb, 'server', blackout);
        let both;
        try {
          both = Promise.all([api.reconfigure(body), mb1.reconfigure(body)]);
          await new Promise((r) => setTimeout(r, 150));
        } finally {
          blackedOut = await randomLossDrops(tb, 'server');
          await removeRandomLoss(tb, 'server', blackout);
        }
        const [a, b] = await both;
        outcomes.push(...[a, b].map((x) => `${x.results[0]?.outcome}:${x.results[0]?.reason ?? ''}`));
      },
    });
    assertIntact(result, 10_000);
    assert.ok(blackedOut > 0, 'the blackout dropped control messages');
    assert.equal(outcomes.filter((o) => o.startsWith('completed')).length, 1, outcomes.join(' '));
    assert.equal(outcomes.filter((o) => /^failed:(locked|contention)$/.test(o)).length, 1, outcomes.join(' '));
  });

  diagnosed('afterwards every agent has forgotten every session', async () => {
    const hosts = ['client', 'mb1', 'mb2', 'server'];
    const deadline = Date.now() + 15_000;
    let left: Record<string, number> = {};
    do {
      left = {};
      for (const host of hosts) left[host] = (await agentApi(host).allSessions()).length;
      if (Object.values(left).every((n) => n === 0)) break;
      await new Promise((r) => setTimeout(r, 500));
    } while (Date.now() < deadline);
    assert.deepEqual(left, { client: 0, mb1: 0, mb2: 0, server: 0 });
  });
});
