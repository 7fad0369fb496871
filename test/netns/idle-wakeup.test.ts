// An idle lcore sleeps, and a frame on its af_packet sockets ends the sleep: two hosts behind Dysco agents (no
// policy, so pings pass) whose back-off may sleep 100 ms at a time, and pings spaced so that each finds the lcores
// on its way asleep.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestbed, type Testbed } from '../../src/testbed';
import { netnsUnavailableReason } from '../support/netns';
import { metric, parseMetrics } from '../support/prometheus';

const skip = netnsUnavailableReason(['ip', 'ethtool', 'curl', 'ping']);
const LONGEST_SLEEP_US = 100_000;
const SLEEPS = 'dysco_datapath_idle_sleeps_total';

describe('idle agents wake on a frame', { skip, timeout: 120_000 }, () => {
  let tb: Testbed;

  before(async () => {
    tb = await createTestbed('pair', { dysco: true, agentConfig: { poll: { idleSleepMaxUs: LONGEST_SLEEP_US } } });
  });
  after(async () => {
    await tb?.destroy();
  });

  it('answers pings to sleeping lcores in a wake-up, not in the rest of a 100 ms sleep', async () => {
    const client = tb.host('client');
    const server = tb.host('server');
    await tb.exec(client, ['ping', '-c', '2', '-W', '2', server.address]); // warm ARP caches
    const before = parseMetrics(await tb.scrapeMetrics('client'));
    // 600 ms apart: the back-off reaches its 100 ms sleeps about 230 ms after the last frame.
    const ping = await tb.exec(client, ['ping', '-c', '6', '-i', '0.6', '-W', '2', server.address]);
    const after = parseMetrics(await tb.scrapeMetrics('client'));
    const rtts = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
    assert.equal(rtts.length, 6, ping.stdout);
    // The client's lcore slept long between pings: 200 µs sleeps would number thousands in these 3.6 s.
    const sleeps = metric(after, SLEEPS) - metric(before, SLEEPS);
    assert.ok(sleeps > 0 && sleeps < 600, `client lcore sleeps: ${sleeps}`);
    // Each echo finds two lcores asleep: the client's on its way out, the server's on its way in. Waiting out
    // their sleeps would cost 50 ms each on average; all six round trips under 50 ms would then happen about
    // once in 250 000 runs.
    assert.ok(Math.max(...rtts) < 50, `round trips ${rtts.join(', ')} ms`);
  });
});
