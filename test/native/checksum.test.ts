import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { core } from '../support/native-core';
import { Prng } from '../support/prng';
import { buildTcpFrame, buildUdpFrame, internetChecksum, parseFrame, tcpOption, tcpOptionArea } from '../support/packet-builder';

describe('checksumFull (RFC 1071)', () => {
  test('matches the RFC 1071 worked example', () => {
    // Section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, so the checksum is its complement.
    const data = Buffer.from('0001f203f4f5f6f7', 'hex');
    assert.equal(core.checksumFull(data, 0, data.length), 0x220d);
  });

  test('pads an odd last byte on the right', () => {
    assert.equal(core.checksumFull(Buffer.from([0x12]), 0, 1), ~0x1200 & 0xffff);
    assert.equal(core.checksumFull(Buffer.from([0x00, 0x01, 0x02]), 0, 3), ~0x0201 & 0xffff);
  });

  test('the empty range sums to zero', () => {
    assert.equal(core.checksumFull(Buffer.alloc(4), 2, 0), 0xffff);
  });

  test('agrees with the independent TypeScript sum on random data, odd and even lengths, any start', () => {
    const prng = new Prng(0x1071);
    for (let i = 0; i < 2000; i++) {
      const buf = prng.bytes(prng.int(0, 300));
      const start = prng.int(0, buf.length);
      const length = prng.int(0, buf.length - start);
      assert.equal(
        core.checksumFull(buf, start, length),
        internetChecksum(buf.subarray(start, start + length)),
        `seed iteration ${i}, start ${start}, length ${length}`,
      );
    }
  });

  test('rejects a range outside the Buffer instead of reading past it', () => {
    assert.throws(() => core.checksumFull(Buffer.alloc(8), 4, 5), RangeError);
  });
});

describe('incremental updates (RFC 1624)', () => {
  test('a changed 16-bit word gives the checksum of a full recompute', () => {
    const prng = new Prng(1624);
    for (let i = 0; i < 5000; i++) {
      const data = prng.bytes(2 * prng.int(1, 40));
      const before = internetChecksum(data);
      const at = 2 * prng.int(0, data.length / 2 - 1);
      const oldWord = data.readUInt16BE(at);
      const newWord = prng.chance(0.1) ? oldWord : prng.int(0, 0xffff);
      data.writeUInt16BE(newWord, at);
      assert.equal(core.checksumIncremental16(before, oldWord, newWord), internetChecksum(data), `iteration ${i}`);
    }
  });

  test('a changed 32-bit value at an even offset gives the checksum of a full recompute', () => {
    const prng = new Prng(0x32);
    for (let i = 0; i < 5000; i++) {
      const data = prng.bytes(2 * prng.int(2, 40) + (prng.chance(0.5) ? 1 : 0));
      const before = internetChecksum(data);
      const at = 2 * prng.int(0, Math.floor((data.length - 4) / 2));
      const oldValue = data.readUInt32BE(at);
      const newValue = prng.nextUint32();
      data.writeUInt32BE(newValue, at);
      assert.equal(core.checksumIncremental32(before, oldValue, newValue), internetChecksum(data), `iteration ${i}`);
    }
  });

  test('eqn 3 handles the words that eqn 2 gets wrong (all-ones and zero)', () => {
    // A header whose sum is 0xffff except for one word; moving that word between 0x0000 and 0xffff
    // is where the older HC' = HC - ~m - m' form produces -0.
    const data = Buffer.from('fffe0001', 'hex');
    const before = internetChecksum(data);
    data.writeUInt16BE(0x0000, 0);
    assert.equal(core.checksumIncremental16(before, 0xfffe, 0x0000), internetChecksum(data));
    const middle = internetChecksum(data);
    data.writeUInt16BE(0xffff, 0);
    assert.equal(core.checksumIncremental16(middle, 0x0000, 0xffff), internetChecksum(data));
  });
});

describe('verifyChecksums', () => {
  test('accepts frames built by the TypeScript builder', () => {
    const prng = new Prng(7);
    for (let i = 0; i < 200; i++) {
      const payload = prng.bytes(prng.int(0, 101));
      const tcp = buildTcpFrame({
        ip: { src: prng.nextUint32(), dst: prng.nextUint32() },
        tcp: { srcPort: prng.int(1, 65535), dstPort: prng.int(1, 65535), options: tcpOptionArea(tcpOption.mss(1460)), payload },
      });
      assert.deepEqual(core.verifyChecksums(tcp), { status: 'ok', ip: true, l4: true });
      const udp = buildUdpFrame({
        ip: { src: prng.nextUint32(), dst: prng.nextUint32() },
        udp: { srcPort: prng.int(1, 65535), dstPort: prng.int(1, 65535), payload },
      });
      assert.deepEqual(core.verifyChecksums(udp), { status: 'ok', ip: true, l4: true });
    }
  });

  test('rejects a flipped bit in the IP header, the TCP header or the payload', () => {
    const frame = buildTcpFrame({
      ip: { src: '10.0.0.1', dst: '10.0.0.2' },
      tcp: { srcPort: 1234, dstPort: 80, payload: Buffer.from('hello, odd') },
    });
    const { l3Offset, l4Offset } = parseFrame(frame);
    const ipBroken = Buffer.from(frame);
    ipBroken[l3Offset + 8] ^= 0x01; // TTL
    assert.deepEqual(core.verifyChecksums(ipBroken), { status: 'ok', ip: false, l4: true });
    const tcpBroken = Buffer.from(frame);
    tcpBroken[l4Offset + 4] ^= 0x80; // sequence number
    assert.deepEqual(core.verifyChecksums(tcpBroken), { status: 'ok', ip: true, l4: false });
    const payloadBroken = Buffer.from(frame);
    payloadBroken[frame.length - 1] ^= 0x10; // odd last byte
    assert.deepEqual(core.verifyChecksums(payloadBroken), { status: 'ok', ip: true, l4: false });
  });

  test('a UDP datagram without a checksum verifies; a frame that does not parse does not', () => {
    const udp = buildUdpFrame({ ip: { src: '10.0.0.1', dst: '10.0.0.2' }, udp: { srcPort: 53, dstPort: 53, noChecksum: true } });
    assert.deepEqual(core.verifyChecksums(udp), { status: 'ok', ip: true, l4: true });
    assert.deepEqual(core.verifyChecksums(udp.subarray(0, 20)), { status: 'truncated_ip', ip: false, l4: false });
  });
});
