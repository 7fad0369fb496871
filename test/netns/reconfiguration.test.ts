// Live reconfiguration with real kernel TCP through real middleboxes: verified streams both ways while the
// client's agent changes the session's chain (docs/reconfiguration.md). Every byte is checked on both ends.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/api/client';
import { defaultApiSocket } from '../../src/api/socket-path';
import type { ReconfigureResponse } from '../../src/api/types';
import { createTestbed, type Testbed } from '../../src/testbed';
import { installFirewall, ruleCounters } from '../../src/testbed/middleboxes';
import { runVerifiedStreams, type VerifiedStreamsResult } from '../../src/testbed/verified-stream-run';
import { netnsUnavailableReason } from '../support/netns';

const CONTROL_PORT = 7777;
const skip = netnsUnavailableReason(['ip', 'ethtool', 'ss', 'iptables', 'conntrack']);

function assertIntact(result: VerifiedStreamsResult): void {
  for (const s of result.sessions) {
    assert.equal(s.ok, true, JSON.stringify({ client: s.client.failures, server: s.server?.failures }));
    assert.equal(s.bytesLost, 0);
    assert.ok(s.client.sent.bytes > 10_000 && (s.server?.sent.bytes ?? 0) > 10_000, 'traffic both ways');
  }
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.trim().split(/\s+/).pop());
  }
  return sum;
}

describe('live reconfiguration on chain-2 (iptables conntrack firewalls on mb1 and mb2)', { skip, timeout: 600_000 }, () => {
  let tb: Testbed;
  let api: ApiClient;
  const address = (host: string) => tb.host(host).address;

  before(async () => {
    tb = await createTestbed('chain-2', {
      dysco: true,
      agentConfig: { dysco: { controlPort: CONTROL_PORT, timeouts: { lingerMs: 500 } } },
      policies: {
        client: [
          { name: 'direct', match: { dstPrefix: 'server', dstPorts: '7301-7309' }, chain: [] },
          { name: 'via-mb1', match: { dstPrefix: 'server', dstPorts: '7311-7319' }, chain: ['mb1'] },
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

  async function reconfigure(port: number, via: string[]): Promise<ReconfigureResponse> {
    return api.reconfigure({ filter: { dstPort: port }, rightAnchor: address('server'), via: via.map(address), timeoutMs: 10_000 });
  }

  function completed(response: ReconfigureResponse): void {
    assert.ok(response.results.length >= 1, 'a session matched');
    for (const r of response.results) assert.equal(r.outcome, 'completed', JSON.stringify(r));
  }

  it('inserts the mb1 firewall into a direct session; the firewall sees a new connection start and passes it all', async () => {
    const fwBefore = await ruleCounters(tb, 'mb1');
    const newSyns = (c: typeof fwBefore) => c.rules.find((r) => /tcp flags:0x17\/0x02 ctstate NEW/.test(r.text))?.packets ?? 0;
    let response: ReconfigureResponse | undefined;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7301,
      seed: 10,
      durationMs: 3000,
      whileRunning: async () => {
        response = await reconfigure(7301, ['mb1']);
      },
    });
    assertIntact(result);
    completed(response!);
    const fwAfter = await ruleCounters(tb, 'mb1');
    assert.equal(newSyns(fwAfter) - newSyns(fwBefore), 1, 'the new path began with a SYN the firewall admitted');
    const invalid = (c: typeof fwBefore) => (c.rules.find((r) => /ctstate INVALID/.test(r.text))?.packets ?? 0) + c.policyPackets;
    assert.equal(invalid(fwAfter) - invalid(fwBefore), 0, 'the firewall dropped nothing');
    assert.ok(metric(await tb.scrapeMetrics('client'), 'dysco_new_path_steps_total') > 0);
  });

  it('replaces mb1 by mb2, then removes mb2, on one session carrying traffic both ways', async () => {
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
    assertIntact(result);
    for (const response of responses) completed(response);
  });

  it('twenty reconfigurations in a row on one session', async () => {
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
    assertIntact(result);
    assert.equal(responses.length, 20);
    for (const response of responses) completed(response);
  });
});
