// The channel's counters as Prometheus series: every series present from the start, values from a real
// channel's snapshot, bounded labels only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { ControlChannel } from '../../src/control/channel';
import { encodeFrame } from '../../src/control/codec';
import { COUNTED_TYPES, DELIVERY_FAILURE_REASONS, FRAME_OUTCOMES, REJECT_REASONS } from '../../src/control/counters';
import { registerControlMetrics } from '../../src/metrics/control-collector';

const PEER = 0x0a000202;
const RETRY = { initialMs: 10, factor: 2, maxMs: 40, attempts: 2 };
const teardown = {
  type: 'teardown' as const,
  id: { leftAnchor: 0x0a000102, nonce: 1 },
  session: { srcIp: 0x0a000102, dstIp: PEER, srcPort: 40000, dstPort: 80 },
  subsession: { srcIp: 0x0a000102, dstIp: PEER, srcPort: 61000, dstPort: 61001 },
};

async function values(registry: Registry, name: string) {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, name);
  return (metric as unknown as { values: { labels: Record<string, string>; value: number }[] }).values;
}

describe('control channel metrics', () => {
  it('every type × outcome, type × reason and failure reason is a series, zero without a channel', async () => {
    const registry = new Registry();
    registerControlMetrics(registry, () => undefined);
    const messages = await values(registry, 'dysco_control_messages_total');
    assert.equal(messages.length, (COUNTED_TYPES.length - 1) * FRAME_OUTCOMES.length);
    assert.ok(messages.every((v) => v.value === 0));
    assert.equal((await values(registry, 'dysco_control_rejected_total')).length, COUNTED_TYPES.length * REJECT_REASONS.length);
    assert.equal((await values(registry, 'dysco_control_delivery_failures_total')).length, DELIVERY_FAILURE_REASONS.length);
  });

  it('mirror a real channel: sent, retransmitted, failed, rejected by type and reason', async () => {
    const channel = new ControlChannel({ epoch: 7, initialSeq: 0, retry: RETRY });
    const registry = new Registry();
    registerControlMetrics(registry, () => channel);
    channel.send(PEER, teardown, 0);
    channel.tick(10); // retransmitted
    channel.tick(30); // given up
    channel.receive({ ip: PEER, port: 7070 }, Buffer.from('junk'), 31);
    channel.receive({ ip: PEER, port: 7070 }, encodeFrame({ kind: 'ack', epoch: 8, seq: 0 }), 31);
    const messages = await values(registry, 'dysco_control_messages_total');
    const at = (type: string, outcome: string) => messages.find((v) => v.labels.type === type && v.labels.outcome === outcome)!.value;
    assert.equal(at('teardown', 'sent'), 1);
    assert.equal(at('teardown', 'retransmitted'), 1);
    assert.equal(at('teardown', 'delivery_failed'), 1);
    assert.equal(at('requestLock', 'sent'), 0);
    const rejected = await values(registry, 'dysco_control_rejected_total');
    const nonZero = rejected.filter((v) => v.value > 0).map((v) => [v.labels.type, v.labels.reason, v.value]);
    assert.deepEqual(nonZero, [['ack', 'stale_epoch', 1], ['unknown', 'bad_magic', 1]]);
    const failures = await values(registry, 'dysco_control_delivery_failures_total');
    assert.deepEqual(failures.map((v) => [v.labels.reason, v.value]), [['retries_exhausted', 1], ['queue_full', 0]]);
    // A second scrape reads again rather than adding up.
    assert.equal((await values(registry, 'dysco_control_messages_total')).find((v) => v.labels.type === 'teardown' && v.labels.outcome === 'sent')!.value, 1);
  });

  it('round trips: a histogram in seconds, from the first bucket at 0.1 ms', async () => {
    const registry = new Registry();
    const metrics = registerControlMetrics(registry, () => undefined);
    metrics.roundTrip(0.0004);
    metrics.roundTrip(0.003);
    const series = await values(registry, 'dysco_control_round_trip_seconds');
    const bucket = (le: string) => series.find((v) => String(v.labels.le) === le)!.value;
    assert.equal(bucket('0.0001'), 0);
    assert.equal(bucket('0.0005'), 1);
    assert.equal(bucket('0.003'), 2);
    assert.equal(bucket('+Inf'), 2);
  });

  it('labels are only type, outcome and reason (and a histogram\'s bucket bound)', async () => {
    const registry = new Registry();
    registerControlMetrics(registry, () => undefined);
    for (const metric of await registry.getMetricsAsJSON()) {
      for (const v of (metric as unknown as { values: { labels: Record<string, string> }[] }).values) {
        for (const label of Object.keys(v.labels)) assert.ok(['type', 'outcome', 'reason', 'le'].includes(label), `${metric.name}: ${label}`);
      }
    }
  });
});
