// A tc token-bucket rate limit on a testbed link (src/testbed/middleboxes.ts) holds iperf3 goodput to the rate,
// and removing it gives the link back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestbed, measureIperf3, type Testbed } from '../../src/testbed';
import { limitRate, removeRateLimit } from '../../src/testbed/middleboxes';
import { netnsUnavailableReason } from '../support/netns';

const skip = netnsUnavailableReason(['ip', 'ethtool', 'iperf3', 'tc']);
const LIMIT_MBIT = 40;

describe('rate limits on a testbed link', { skip, timeout: 120_000 }, () => {
  let tb: Testbed;
  before(async () => {
    tb = await createTestbed('pair-plain');
  });
  after(async () => {
    await tb?.destroy();
  });

  const goodputMbit = async () => {
    const client = tb.host('client');
    const server = tb.host('server');
    const result = await measureIperf3({ ns: client.ns }, { ns: server.ns, address: server.address }, { seconds: 3, omitSeconds: 1 });
    return result.gbps * 1000;
  };

  it(`holds iperf3 goodput to ${LIMIT_MBIT} Mbit/s, and the link is fast again once removed`, async () => {
    const client = tb.host('client');
    await limitRate(tb, client, client.iface, { mbitPerSecond: LIMIT_MBIT });
    const qdisc = await tb.exec(client, ['tc', 'qdisc', 'show', 'dev', client.iface]);
    assert.match(qdisc.stdout, /tbf .*rate 40Mbit/);
    const limited = await goodputMbit();
    assert.ok(limited <= LIMIT_MBIT * 1.05, `limited goodput ${limited.toFixed(1)} Mbit/s`);
    assert.ok(limited >= LIMIT_MBIT * 0.6, `limited goodput ${limited.toFixed(1)} Mbit/s uses the link`);

    await removeRateLimit(tb, client, client.iface);
    assert.doesNotMatch((await tb.exec(client, ['tc', 'qdisc', 'show', 'dev', client.iface])).stdout, /tbf/);
    const free = await goodputMbit();
    assert.ok(free >= LIMIT_MBIT * 4, `unlimited goodput ${free.toFixed(1)} Mbit/s`);
  });

  it('refuses a rate that is not a positive number', async () => {
    const client = tb.host('client');
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(limitRate(tb, client, client.iface, { mbitPerSecond: bad }), RangeError);
    }
  });
});
