// EAL with net_null (endless traffic) and net_ring (silence) ports: every received packet is either
// transmitted or counted as a drop, the mempool drains back, the idle back-off sleeps only when idle
// and only in adaptive mode, and a request wakes a sleeping lcore.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Datapath, type DatapathOptions } from '../../src/datapath/datapath';
import { cleanupEal } from '../../src/datapath/eal';
import { DatapathError } from '../../src/native/errors';
import { compilePolicies } from '../../src/policy/compile';
import { dpdkUnavailableReason, testEalOptions } from '../support/dpdk';

const skip = dpdkUnavailableReason();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function options(hostDevice: string, wireDevice: string): DatapathOptions {
  return {
    hostDevice,
    wireDevice,
    pollMode: 'adaptive',
    idleSleepMaxUs: 200,
    txDrainUs: 100,
    mbufs: 4095,
    rxDescriptors: 512,
    txDescriptors: 512,
    ringSize: 1024,
    eal: testEalOptions('poll'),
  };
}

describe('poll-mode loop', { skip }, () => {
  after(() => cleanupEal());

  it('accounts for every packet under load: received = transmitted + dropped', async () => {
    const datapath = Datapath.open(options('net_null0', 'net_null1'));
    try {
      datapath.start();
      await sleep(300);
      datapath.stop();
      const c = datapath.counters();
      assert.ok(c.ports.host.rxPackets > 1000, `null PMD produced traffic: ${c.ports.host.rxPackets}`);
      assert.equal(c.ports.host.rxPackets + c.ports.wire.rxPackets, c.ports.host.txPackets + c.ports.wire.txPackets + c.drops.tx_full);
      assert.equal(c.mempoolAvailable, c.mempoolSize);
      assert.ok(c.busySeconds > 0);
    } finally {
      datapath.close();
    }
  });

  it('a request the lcore refuses rejects with a DatapathError whose stack names the caller', async () => {
    const datapath = Datapath.open(options('net_ring0', 'net_ring1'));
    try {
      datapath.start();
      // Policies on a pass-through datapath: the lcore answers NOT_RUNNING through the event ring.
      // A plain function handing the promise on: V8's async stack traces cannot name it, only an early Error can.
      function installOnAPassThroughDatapath(): Promise<unknown> {
        return datapath.installPolicies(compilePolicies([]));
      }
      await assert.rejects(installOnAPassThroughDatapath(), (error: unknown) => {
        assert.ok(error instanceof DatapathError);
        assert.equal(error.code, 'NOT_RUNNING');
        assert.match(error.stack ?? '', /installOnAPassThroughDatapath/);
        assert.doesNotMatch((error.cause as Error).stack ?? '', /installOnAPassThroughDatapath/, 'settled from the event ring');
        return true;
      });
    } finally {
      datapath.close();
    }
  });

  it('sleeps when idle in adaptive mode and never in busy mode', async () => {
    const datapath = Datapath.open(options('net_ring0', 'net_ring1'));
    try {
      datapath.start();
      await sleep(200);
      const adaptive = datapath.counters();
      assert.ok(adaptive.idleSleeps > 0, 'adaptive mode sleeps when idle');
      assert.ok(adaptive.idleSeconds > adaptive.busySeconds);

      await datapath.setPollMode('busy', 200);
      const before = datapath.counters().idleSleeps;
      await sleep(100);
      assert.equal(datapath.counters().idleSleeps, before, 'busy mode never sleeps');

      await datapath.setPollMode('adaptive', 50);
      await sleep(100);
      assert.ok(datapath.counters().idleSleeps > before, 'adaptive again after the request');
      assert.equal(datapath.counters().ports.host.rxPackets, 0);
    } finally {
      datapath.close();
    }
  });

  it('a request cuts an idle sleep short: it waits for a wake-up, not for the rest of the sleep', async () => {
    // Sleeps of up to 100 ms; the back-off reaches that ceiling about 230 ms after the last work.
    const datapath = Datapath.open({ ...options('net_ring0', 'net_ring1'), idleSleepMaxUs: 100_000 });
    try {
      datapath.start();
      const waits: number[] = [];
      for (let i = 0; i < 5; i++) {
        const sleepsBefore = datapath.counters().idleSleeps;
        await sleep(400);
        // Doubling from 1 µs, then 100 ms sleeps: a few dozen in all (200-µs sleeps would be a thousand).
        assert.ok(datapath.counters().idleSleeps - sleepsBefore < 40, 'the lcore took its longest sleeps');
        const start = performance.now();
        await datapath.ping();
        waits.push(performance.now() - start);
      }
      // Sleeping on, the five would wait 50 ms on average, and all five under 25 ms once in a thousand runs.
      assert.ok(Math.max(...waits) < 25, `ping round trips ${waits.map((w) => w.toFixed(2)).join(', ')} ms`);
    } finally {
      datapath.close();
    }
  });
});
