import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointRewrite } from '../../src/native/core-binding';
import { core } from '../support/native-core';
import { Prng } from '../support/prng';
import {
  TCP_ACK,
  TCP_PSH,
  buildTcpFrame,
  buildUdpFrame,
  carriedChecksums,
  expectedChecksums,
  ipv4ToNumber,
  parseFrame,
  type ParsedFrame,
  tcpOption,
  tcpOptionArea,
} from '../support/packet-builder';

function randomOptions(prng: Prng): Buffer {
  const pool = [
    () => tcpOption.mss(prng.int(500, 9000)),
    () => tcpOption.nop(),
    () => tcpOption.wscale(prng.int(0, 14)),
    () => tcpOption.sackPermitted(),
    () => tcpOption.timestamps(prng.nextUint32(), prng.nextUint32()),
  ];
  const parts: Buffer[] = [];
  for (let n = prng.int(0, 4); n > 0; n--) parts.push(pool[prng.int(0, pool.length - 1)]!());
  return tcpOptionArea(...parts);
}

function randomFrame(prng: Prng): Buffer {
  // Payload lengths cluster on the edges: empty, one byte, odd and even.
  const payload = prng.bytes(prng.chance(0.2) ? prng.int(0, 1) : prng.int(0, 300));
  const ip = {
    src: prng.nextUint32(),
    dst: prng.nextUint32(),
    ttl: prng.int(1, 255),
    id: prng.int(0, 0xffff),
    dontFragment: prng.chance(0.5),
    ...(prng.chance(0.2) ? { options: Buffer.from([1, 1, 1, 0]) } : {}),
  };
  const eth = prng.chance(0.2) ? { vlanId: prng.int(1, 4094) } : {};
  if (prng.chance(0.25)) {
    return buildUdpFrame({
      eth,
      ip,
      udp: { srcPort: prng.int(0, 65535), dstPort: prng.int(0, 65535), payload, noChecksum: prng.chance(0.2) },
    });
  }
  return buildTcpFrame({
    eth,
    ip,
    tcp: {
      srcPort: prng.int(0, 65535),
      dstPort: prng.int(0, 65535),
      seq: prng.nextUint32(),
      ack: prng.nextUint32(),
      flags: TCP_ACK | (prng.chance(0.5) ? TCP_PSH : 0),
      window: prng.int(0, 65535),
      options: randomOptions(prng),
      payload,
    },
  });
}

function randomRewrite(prng: Prng): EndpointRewrite {
  const rewrite: EndpointRewrite = {};
  // Edge values on purpose: all-zero and all-ones words are where one's-complement slips show.
  const address = () => (prng.chance(0.1) ? (prng.chance(0.5) ? 0 : 0xffffffff) : prng.nextUint32());
  const port = () => (prng.chance(0.1) ? (prng.chance(0.5) ? 0 : 0xffff) : prng.int(0, 65535));
  if (prng.chance(0.6)) rewrite.srcIp = address();
  if (prng.chance(0.6)) rewrite.dstIp = address();
  if (prng.chance(0.6)) rewrite.srcPort = port();
  if (prng.chance(0.6)) rewrite.dstPort = port();
  return rewrite;
}

function portsOf(frame: Buffer): { src: number; dst: number } {
  const parsed = parseFrame(frame);
  const l4 = parsed.tcp ?? parsed.udp!;
  return { src: l4.srcPort, dst: l4.dstPort };
}

/** The TCP/UDP segment without its ports and checksum. */
function segmentBody(parsed: ParsedFrame): Buffer {
  const copy = Buffer.from(parsed.segment);
  const checksumAt = parsed.tcp ? 16 : 6;
  copy.fill(0, 0, 4);
  copy.fill(0, checksumAt, checksumAt + 2);
  return copy;
}

describe('rewriteIpv4Tcp', () => {
  test('incremental checksums equal a full TypeScript recompute over many random packets', () => {
    const prng = new Prng(20240611);
    for (let i = 0; i < 3000; i++) {
      const frame = randomFrame(prng);
      const before = parseFrame(Buffer.from(frame));
      const udpWithoutChecksum = before.udp !== undefined && before.udp.checksum === 0;
      const rewrite = randomRewrite(prng);
      assert.equal(core.rewriteIpv4Tcp(frame, rewrite), 'ok', `iteration ${i}`);

      const after = parseFrame(frame);
      assert.equal(after.ip.src, rewrite.srcIp ?? before.ip.src);
      assert.equal(after.ip.dst, rewrite.dstIp ?? before.ip.dst);
      const beforePorts = before.tcp ?? before.udp!;
      assert.deepEqual(portsOf(frame), {
        src: rewrite.srcPort ?? beforePorts.srcPort,
        dst: rewrite.dstPort ?? beforePorts.dstPort,
      });
      assert.deepEqual(segmentBody(after), segmentBody(before), `iteration ${i}: only ports and checksum move`);

      const carried = carriedChecksums(frame);
      const expected = expectedChecksums(frame);
      assert.equal(carried.ip, expected.ip, `iteration ${i}: IPv4 checksum`);
      if (udpWithoutChecksum) {
        assert.equal(carried.l4, 0, `iteration ${i}: a UDP datagram without a checksum keeps none`);
      } else {
        assert.equal(carried.l4, expected.l4, `iteration ${i}: L4 checksum`);
      }
      assert.deepEqual(core.verifyChecksums(frame), { status: 'ok', ip: true, l4: true }, `iteration ${i}`);
    }
  });

  test('touches only the rewritten fields and the two checksums', () => {
    const frame = buildTcpFrame({
      ip: { src: '10.0.0.1', dst: '10.0.0.2' },
      tcp: { srcPort: 1000, dstPort: 2000, options: tcpOptionArea(tcpOption.mss(1460)), payload: Buffer.from('payload') },
    });
    const before = Buffer.from(frame);
    assert.equal(core.rewriteIpv4Tcp(frame, { dstIp: ipv4ToNumber('172.16.5.9'), srcPort: 4242 }), 'ok');
    const changed = new Set<number>();
    for (let k = 0; k < frame.length; k++) if (frame[k] !== before[k]) changed.add(k);
    const allowed = new Set([24, 25, 30, 31, 32, 33, 34, 35, 50, 51]); // IP checksum, dst, TCP src port, TCP checksum
    for (const k of changed) assert.ok(allowed.has(k), `byte ${k} changed`);
    assert.equal(parseFrame(frame).ip.dst, ipv4ToNumber('172.16.5.9'));
    assert.equal(parseFrame(frame).tcp!.srcPort, 4242);
  });

  test('rewriting there and back restores the original bytes', () => {
    const prng = new Prng(99);
    for (let i = 0; i < 500; i++) {
      const frame = randomFrame(prng);
      const original = Buffer.from(frame);
      const parsed = parseFrame(original);
      const ports = portsOf(original);
      assert.equal(core.rewriteIpv4Tcp(frame, randomRewrite(prng)), 'ok');
      assert.equal(
        core.rewriteIpv4Tcp(frame, { srcIp: parsed.ip.src, dstIp: parsed.ip.dst, srcPort: ports.src, dstPort: ports.dst }),
        'ok',
      );
      assert.deepEqual(frame, original, `iteration ${i}`);
    }
  });

  test('a frame that does not parse is left byte-identical and its status returned', () => {
    const frame = buildTcpFrame({ ip: { src: '10.0.0.1', dst: '10.0.0.2' }, tcp: { srcPort: 1, dstPort: 2, payload: Buffer.from('x') } });
    for (let length = 0; length < frame.length; length++) {
      const cut = Buffer.from(frame.subarray(0, length));
      const before = Buffer.from(cut);
      const status = core.rewriteIpv4Tcp(cut, { srcIp: 1, dstIp: 2, srcPort: 3, dstPort: 4 });
      assert.notEqual(status, 'ok', `length ${length}`);
      assert.equal(status, core.parsePacket(before).status);
      assert.deepEqual(cut, before, `length ${length}`);
    }
    const fragment = buildTcpFrame({ ip: { src: '10.0.0.1', dst: '10.0.0.2', moreFragments: true }, tcp: { srcPort: 1, dstPort: 2 } });
    const fragmentBefore = Buffer.from(fragment);
    assert.equal(core.rewriteIpv4Tcp(fragment, { srcIp: 1 }), 'fragment');
    assert.deepEqual(fragment, fragmentBefore);
  });
});
