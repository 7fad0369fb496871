// EAL with net_pcap ports: every frame read on one port leaves, byte for byte, on the other, and the
// counters account for each one exactly. One EAL per process, so this file owns its process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Datapath } from '../../src/datapath/datapath';
import { allowedCpuList, cleanupEal, initEal } from '../../src/datapath/eal';
import { native } from '../../src/native/binding';
import { DatapathError } from '../../src/native/errors';
import { DROP_REASONS } from '../../src/native/generated/codes';
import { dpdkUnavailableReason, pcapDatapathOptions, testEalOptions } from '../support/dpdk';
import { buildTcpFrame, buildUdpFrame, TCP_ACK, TCP_PSH } from '../support/packet-builder';
import { readPcap, writePcap } from '../support/pcap';
import { Prng } from '../support/prng';
import { waitFor } from '../support/wait';

function randomFrames(prng: Prng, count: number, from: string, to: string): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const payload = Buffer.alloc(prng.int(0, 1400), i & 0xff);
    frames.push(
      i % 5 === 0
        ? buildUdpFrame({ ip: { src: from, dst: to }, udp: { srcPort: 5000 + i, dstPort: 53, payload } })
        : buildTcpFrame({
            ip: { src: from, dst: to },
            tcp: { srcPort: 40000 + (i % 1000), dstPort: 80, seq: prng.nextUint32(), flags: TCP_ACK | TCP_PSH, payload },
          }),
    );
  }
  return frames;
}

const skip = dpdkUnavailableReason();
const cpusBeforeEal = allowedCpuList();

describe('datapath over net_pcap ports', { skip }, () => {
  const dir = skip ? '' : mkdtempSync(join(tmpdir(), 'dysco-pcap-'));
  const ealOptions = testEalOptions('pcap');
  const prng = new Prng(20170821);
  const fromHost = skip ? [] : randomFrames(prng, 3000, '10.1.0.1', '10.2.0.1');
  const fromWire = skip ? [] : randomFrames(prng, 1700, '10.2.0.1', '10.1.0.1');
  let datapath: Datapath;
  let runtimeDir = '';

  before(() => {
    writePcap(join(dir, 'host-in.pcap'), fromHost);
    writePcap(join(dir, 'wire-in.pcap'), fromWire);
    datapath = Datapath.open(pcapDatapathOptions(dir, ealOptions, { mbufs: 4095, rxDescriptors: 512, txDescriptors: 512 }));
    runtimeDir = datapath.runtimeDir;
  });

  after(() => {
    datapath?.close();
    cleanupEal();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second EAL initialisation with a clear error', () => {
    assert.throws(
      () => initEal(ealOptions, []),
      (error: unknown) =>
        error instanceof DatapathError && error.code === 'EAL_ALREADY_INITIALISED' && /once/.test(error.message),
    );
  });

  it('keeps the main thread floating over every CPU it had', () => {
    const mainThread = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8'));
    assert.equal(mainThread?.[1], cpusBeforeEal);
  });

  it('bridges every frame unchanged in both directions with exact counters', async () => {
    datapath.start();
    const done = await waitFor(() => {
      const c = datapath.counters();
      return c.ports.host.rxPackets === fromHost.length && c.ports.wire.rxPackets === fromWire.length;
    }, 20_000);
    assert.ok(done, `frames not all received: ${JSON.stringify(datapath.counters().ports)}`);
    const { loopIterations } = await datapath.ping();
    assert.ok(loopIterations > 0);
    datapath.stop();

    const c = datapath.counters();
    const bytes = (frames: Buffer[]) => frames.reduce((sum, f) => sum + f.length, 0);
    assert.deepEqual(c.ports.host, {
      rxPackets: fromHost.length,
      rxBytes: bytes(fromHost),
      txPackets: fromWire.length,
      txBytes: bytes(fromWire),
    });
    assert.deepEqual(c.ports.wire, {
      rxPackets: fromWire.length,
      rxBytes: bytes(fromWire),
      txPackets: fromHost.length,
      txBytes: bytes(fromHost),
    });
    assert.deepEqual(c.drops, Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])));
    assert.equal(c.mempoolAvailable, c.mempoolSize, 'every mbuf returned to the pool');
    assert.ok(c.requestsServed >= 1 && c.eventsPosted >= 1);

    datapath.close(); // flushes and closes the pcap writers
    const wireOut = readPcap(join(dir, 'wire-out.pcap'));
    const hostOut = readPcap(join(dir, 'host-out.pcap'));
    assert.equal(wireOut.length, fromHost.length);
    assert.equal(hostOut.length, fromWire.length);
    wireOut.forEach((frame, i) => assert.ok(frame.equals(fromHost[i]!), `host→wire frame ${i} differs`));
    hostOut.forEach((frame, i) => assert.ok(frame.equals(fromWire[i]!), `wire→host frame ${i} differs`));
  });

  it('rejects requests once the datapath is closed', async () => {
    await assert.rejects(datapath.ping(), (error: unknown) => error instanceof DatapathError && error.code === 'NOT_RUNNING');
  });

  it('cleans up the EAL, removes its runtime files and refuses to start again', () => {
    cleanupEal();
    assert.equal(native().ealState(), 'cleaned-up');
    assert.equal(existsSync(runtimeDir), false, `${runtimeDir} left behind`);
    assert.throws(() => initEal(ealOptions, []), (error: unknown) => error instanceof DatapathError && error.code === 'EAL_CLEANED_UP');
  });
});
