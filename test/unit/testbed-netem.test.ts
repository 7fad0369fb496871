// tc netem settings: the argv for each impairment, and the settings netem cannot honour refused before tc runs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { netemArgs, parseQdiscStats } from '../../src/testbed/netem';
import { randomLossRules } from '../../src/testbed/random-loss';
import { reorderingArgs, reorderingRules } from '../../src/testbed/reordering';

describe('netemArgs', () => {
  test('loss, delay with jitter, reordering, duplication', () => {
    assert.deepEqual(netemArgs({ lossPercent: 1 }), ['loss', '1%']);
    assert.deepEqual(netemArgs({ delayMs: 5, jitterMs: 1 }), ['delay', '5ms', '1ms']);
    assert.deepEqual(netemArgs({ lossPercent: 1, delayMs: 2, reorderPercent: 25, duplicatePercent: 0.5 }), [
      'delay', '2ms', 'loss', '1%', 'reorder', '25%', 'duplicate', '0.5%',
    ]);
  });

  test('refuses what netem would reject or ignore', () => {
    assert.throws(() => netemArgs({}), /impair something/);
    assert.throws(() => netemArgs({ reorderPercent: 10 }), /reordering needs a delay/);
    assert.throws(() => netemArgs({ delayMs: 0, reorderPercent: 10 }), /reordering needs a delay/);
    assert.throws(() => netemArgs({ jitterMs: 1 }), /jitter needs a delay/);
    assert.throws(() => netemArgs({ lossPercent: 101 }), /loss must be a percentage/);
    assert.throws(() => netemArgs({ lossPercent: Number.NaN }), RangeError);
    assert.throws(() => netemArgs({ delayMs: -1 }), /delay must be/);
  });
});

test('parseQdiscStats reads tc -s qdisc', () => {
  const text = [
    'qdisc netem 8001: root refcnt 2 limit 1000 delay 2ms loss 1% reorder 25%',
    ' Sent 123456 bytes 789 pkt (dropped 8, overlimits 0 requeues 0)',
    ' backlog 0b 0p requeues 0',
  ].join('\n');
  assert.deepEqual(parseQdiscStats(text), { kind: 'netem', sentPackets: 789, dropped: 8 });
  assert.equal(parseQdiscStats(''), undefined);
});

describe('randomLossRules', () => {
  test('both directions of the router interface, optionally only UDP to a port', () => {
    assert.deepEqual(randomLossRules('dyab12r3', { probability: 0.01 }), [
      ['FORWARD', '-i', 'dyab12r3', '-m', 'statistic', '--mode', 'random', '--probability', '0.010000', '-j', 'DROP'],
      ['FORWARD', '-o', 'dyab12r3', '-m', 'statistic', '--mode', 'random', '--probability', '0.010000', '-j', 'DROP'],
    ]);
    const control = randomLossRules('x', { probability: 0.1, udpDstPort: 4790 });
    assert.deepEqual(control[0]!.slice(3, 7), ['-p', 'udp', '--dport', '4790']);
  });

  test('refuses impossible settings', () => {
    assert.throws(() => randomLossRules('x', { probability: 0 }), RangeError);
    assert.throws(() => randomLossRules('x', { probability: 1.5 }), RangeError);
    assert.throws(() => randomLossRules('x', { probability: 0.1, udpDstPort: 0 }), /UDP port/);
  });
});

describe('reordering (NFQUEUE)', () => {
  test('queues TCP both ways on the router interface; the tool gets its settings with defaults', () => {
    assert.deepEqual(reorderingRules('dyab12r3', 7), [
      ['FORWARD', '-i', 'dyab12r3', '-p', 'tcp', '-j', 'NFQUEUE', '--queue-num', '7', '--queue-bypass'],
      ['FORWARD', '-o', 'dyab12r3', '-p', 'tcp', '-j', 'NFQUEUE', '--queue-num', '7', '--queue-bypass'],
    ]);
    assert.deepEqual(reorderingArgs({ queue: 7, holdPercent: 20 }), ['--queue', '7', '--hold-percent', '20', '--release-after', '3', '--max-hold-us', '2000', '--seed', '1']);
  });

  test('refuses what the tool would refuse', () => {
    assert.throws(() => reorderingRules('x', 70000), /queue/);
    assert.throws(() => reorderingArgs({ queue: 1, holdPercent: 101 }), /holdPercent/);
    assert.throws(() => reorderingArgs({ queue: 1, holdPercent: 10, releaseAfter: 0 }), /releaseAfter/);
    assert.throws(() => reorderingArgs({ queue: 1, holdPercent: 10, seed: -1 }), /seed/);
  });
});
