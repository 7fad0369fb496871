// Frames longer than the port MTU through the real DPDK loop (net_pcap ports, MTU 1500), with no
// kernel in the way: a whole IPv4 datagram without DF leaves as fragments that reassemble to it
// byte for byte; DF set, not IPv4, or a datagram cut short is dropped under its reason; fragments,
// truncated headers and UDP pass unchanged and are counted as not Dysco's. Pass-through and Dysco
// mode alike. One EAL per process, so this file owns its process.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Datapath, type DatapathCounters } from '../../src/datapath/datapath';
import { cleanupEal } from '../../src/datapath/eal';
import { DROP_REASONS, type DropReason } from '../../src/native/generated/codes';
import { pipelineOptions } from '../../src/agent/agent';
import { dyscoConfigSchema } from '../../src/agent/config';
import { compilePolicies } from '../../src/policy/compile';
import { dpdkUnavailableReason, pcapDatapathOptions, testEalOptions } from '../support/dpdk';
import { buildTcpFrame, buildUdpFrame, ipv4HeaderChecksum, TCP_ACK } from '../support/packet-builder';
import { readPcap, writePcap } from '../support/pcap';
import { Prng } from '../support/prng';
import { waitFor } from '../support/wait';

const skip = dpdkUnavailableReason();
const HOST = '10.1.0.1';
const SERVER = '10.2.0.1';
const MTU = 1500;

function payload(prng: Prng, size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = prng.int(0, 255);
  return data;
}

/** Reassembles IPv4 fragments of one datagram into the unfragmented frame (Ethernet header of the first). */
function reassemble(fragments: Buffer[]): Buffer {
  assert.ok(fragments.length > 1, 'expected fragments');
  const parts: { offset: number; data: Buffer; more: boolean }[] = [];
  let first: Buffer | undefined;
  for (const frame of fragments) {
    assert.ok(frame.length <= MTU + 14, `fragment of ${frame.length} bytes exceeds the MTU`);
    const ip = frame.subarray(14, 14 + ((frame[14]! & 0x0f) * 4));
    assert.equal(ip.readUInt16BE(10), ipv4HeaderChecksum(ip), 'fragment header checksum');
    assert.equal(ip.readUInt16BE(2), frame.length - 14, 'fragment total length');
    const flags = ip.readUInt16BE(6);
    const offset = (flags & 0x1fff) * 8;
    if (offset === 0) first = frame;
    parts.push({ offset, data: frame.subarray(14 + ip.length), more: (flags & 0x2000) !== 0 });
  }
  parts.sort((a, b) => a.offset - b.offset);
  let expected = 0;
  for (const [i, part] of parts.entries()) {
    assert.equal(part.offset, expected, 'fragments leave no hole and do not overlap');
    assert.equal(part.more, i < parts.length - 1, 'MF on every fragment but the last');
    if (i < parts.length - 1) assert.equal(part.data.length % 8, 0);
    expected += part.data.length;
  }
  assert.ok(first, 'no first fragment');
  const header = Buffer.from(first.subarray(0, 14 + ((first[14]! & 0x0f) * 4)));
  header.writeUInt16BE(header.length - 14 + expected, 16);
  header.writeUInt16BE(0, 20);
  header.writeUInt16BE(ipv4HeaderChecksum(header.subarray(14)), 24);
  return Buffer.concat([header, ...parts.map((p) => p.data)]);
}

function withDf(frame: Buffer): Buffer {
  const copy = Buffer.from(frame);
  copy.writeUInt16BE(0x4000, 20);
  copy.writeUInt16BE(ipv4HeaderChecksum(copy.subarray(14, 34)), 24);
  return copy;
}

function zeroDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;
}

describe('frames longer than the port MTU', { skip }, () => {
  const dir = skip ? '' : mkdtempSync(join(tmpdir(), 'dysco-oversize-'));
  const prng = new Prng(576);
  const eth = { srcMac: '02:00:00:00:01:01', dstMac: '02:00:00:00:01:fe' };
  const ip = { src: HOST, dst: SERVER };
  // From the host: what af_packet hands over after its socket reassembled fragments, and worse.
  const bigUdp = buildUdpFrame({ eth, ip: { ...ip, id: 0x4242 }, udp: { srcPort: 5000, dstPort: 5001, payload: payload(prng, 65000) } });
  const mediumUdp = buildUdpFrame({ eth, ip: { ...ip, id: 0x4343 }, udp: { srcPort: 5000, dstPort: 5002, payload: payload(prng, 3000) } });
  const dfSet = withDf(mediumUdp);
  const notIpv4 = Buffer.concat([Buffer.from('02000000010102000000010188b5', 'hex'), Buffer.alloc(1600, 7)]);
  const cutShort = mediumUdp.subarray(0, 2000);
  const fragment = buildUdpFrame({ eth, ip: { ...ip, id: 7, moreFragments: true }, udp: { srcPort: 1, dstPort: 2, payload: payload(prng, 800) } });
  const tcpFull = buildTcpFrame({ eth, ip, tcp: { srcPort: 40000, dstPort: 22, seq: 1, ack: 1, flags: TCP_ACK, payload: payload(prng, 1460) } });
  const truncatedTcp = (() => {
    const frame = Buffer.from(tcpFull.subarray(0, 14 + 20 + 10));
    frame.writeUInt16BE(30, 16);
    frame.writeUInt16BE(ipv4HeaderChecksum(frame.subarray(14, 34)), 24);
    return frame;
  })();
  const fromHost = [bigUdp, dfSet, notIpv4, cutShort, fragment, truncatedTcp, tcpFull];
  // From the wire: a 3000-byte datagram toward the host, and a whole TCP segment.
  const towardHost = buildUdpFrame({ eth, ip: { src: SERVER, dst: HOST, id: 0x5151 }, udp: { srcPort: 53, dstPort: 5353, payload: payload(prng, 3000) } });
  const fromWire = [towardHost, buildTcpFrame({ eth, ip: { src: SERVER, dst: HOST }, tcp: { srcPort: 22, dstPort: 40000, flags: TCP_ACK } })];

  after(() => {
    cleanupEal();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['pass-through', 'dysco'] as const) {
    it(`fragments what may be fragmented and counts the rest (${mode})`, async () => {
      const sub = join(dir, mode);
      mkdirSync(sub);
      writePcap(join(sub, 'host-in.pcap'), fromHost);
      writePcap(join(sub, 'wire-in.pcap'), fromWire);
      const datapath = Datapath.open({
        ...pcapDatapathOptions(sub, testEalOptions('oversize'), { firstPort: mode === 'dysco' ? 2 : 0 }),
        ...(mode === 'dysco'
          ? {
              dysco: {
                ...pipelineOptions(dyscoConfigSchema.parse({ address: `${HOST}/24`, gateway: '10.1.0.254', maxSessions: 1024, maxSetups: 256 })),
                policies: compilePolicies([{ name: 'web', match: { dstPorts: 80 }, chain: ['10.3.0.1'] }]),
              },
            }
          : {}),
      });
      let c: DatapathCounters;
      try {
        datapath.start();
        const done = await waitFor(() => {
          const now = datapath.counters();
          return now.ports.host.rxPackets === fromHost.length && now.ports.wire.rxPackets === fromWire.length;
        }, 10_000);
        assert.ok(done, JSON.stringify(datapath.counters().ports));
        await datapath.ping(); // one more loop iteration: everything received has been flushed
        datapath.stop();
        c = datapath.counters();
        assert.equal(c.mempoolAvailable, c.mempoolSize, 'every mbuf back in the pool');
      } finally {
        datapath.close();
      }

      const drops = zeroDrops();
      drops.tx_too_big = 2; // DF set, and not IPv4
      drops.tx_incomplete_datagram = 1;
      assert.deepEqual(c.drops, drops);
      // not a whole TCP segment: big UDP, DF UDP, not IPv4, cut short, fragment, truncated TCP; and the wire's UDP
      assert.deepEqual(c.passedNotDysco, { host: 6, wire: 1 });
      assert.deepEqual(c.txFragmented, { host: 1, wire: 1 });

      const wireOut = readPcap(join(sub, 'wire-out.pcap'));
      const bigFragments = Math.ceil((65000 + 8) / 1480);
      assert.equal(wireOut.length, bigFragments + 3);
      assert.equal(c.ports.wire.txPackets, wireOut.length);
      assert.ok(reassemble(wireOut.slice(0, bigFragments)).equals(bigUdp), 'the 65000-byte datagram reassembles byte for byte');
      assert.ok(wireOut[bigFragments]!.equals(fragment), 'a fragment passes unchanged');
      assert.ok(wireOut[bigFragments + 1]!.equals(truncatedTcp), 'a truncated TCP header passes unchanged');
      assert.ok(wireOut[bigFragments + 2]!.equals(tcpFull), 'a full-MTU segment passes unchanged');

      const hostOut = readPcap(join(sub, 'host-out.pcap'));
      assert.equal(hostOut.length, 3 + 1);
      assert.ok(reassemble(hostOut.slice(0, 3)).equals(towardHost), 'the 3000-byte datagram reassembles byte for byte');
      assert.ok(hostOut[3]!.equals(fromWire[1]!));
    });
  }
});
