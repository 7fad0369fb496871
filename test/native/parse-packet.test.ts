import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PARSE_STATUS_NAMES } from '../../src/native/core-binding';
import { core } from '../support/native-core';
import { Prng } from '../support/prng';
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  buildTcpFrame,
  buildUdpFrame,
  ipv4ToNumber,
  tcpOption,
  tcpOptionArea,
} from '../support/packet-builder';

const IP = { src: '192.0.2.1', dst: '198.51.100.7' };

function tcpFrame(payloadLength = 11): Buffer {
  return buildTcpFrame({
    ip: IP,
    tcp: {
      srcPort: 40000,
      dstPort: 443,
      options: tcpOptionArea(tcpOption.mss(1460), tcpOption.nop(), tcpOption.wscale(7)),
      payload: Buffer.alloc(payloadLength, 0xab),
    },
  });
}

/** A copy of `frame` cut to `length` bytes whose IPv4 total length claims exactly what is left. */
function cutWithConsistentTotalLength(frame: Buffer, length: number): Buffer {
  const cut = Buffer.from(frame.subarray(0, length));
  cut.writeUInt16BE(length - 14, 14 + 2);
  return cut;
}

describe('parsePacket on well-formed frames', () => {
  test('TCP with options and payload', () => {
    const frame = tcpFrame();
    assert.deepEqual(core.parsePacket(frame), {
      status: 'ok',
      etherType: 0x0800,
      hasVlan: false,
      vlanTci: 0,
      l3Offset: 14,
      l4Offset: 34,
      payloadOffset: 34 + 20 + 8,
      l3End: frame.length,
      protocol: IPPROTO_TCP,
      payloadLength: 11,
      srcIp: ipv4ToNumber(IP.src),
      dstIp: ipv4ToNumber(IP.dst),
      srcPort: 40000,
      dstPort: 443,
    });
  });

  test('UDP behind an 802.1Q tag, IPv4 options and Ethernet padding', () => {
    const frame = buildUdpFrame({
      eth: { vlanId: 42 },
      ip: { ...IP, options: Buffer.from([1, 1, 1, 0]) },
      udp: { srcPort: 5353, dstPort: 53, payload: Buffer.from('abc') },
    });
    const padded = Buffer.concat([frame, Buffer.alloc(64 - frame.length, 0xee)]);
    const parsed = core.parsePacket(padded);
    assert.equal(parsed.status, 'ok');
    assert.equal(parsed.hasVlan, true);
    assert.equal(parsed.vlanTci & 0x0fff, 42);
    assert.equal(parsed.l3Offset, 18);
    assert.equal(parsed.l4Offset, 18 + 24);
    assert.equal(parsed.payloadOffset, 18 + 24 + 8);
    assert.equal(parsed.l3End, frame.length, 'the padding is not part of the IPv4 packet');
    assert.equal(parsed.payloadLength, 3);
    assert.equal(parsed.protocol, IPPROTO_UDP);
    assert.equal(parsed.srcPort, 5353);
  });

  test('DF alone is not a fragment', () => {
    const frame = buildTcpFrame({ ip: { ...IP, dontFragment: true }, tcp: { srcPort: 1, dstPort: 2 } });
    assert.equal(core.parsePacket(frame).status, 'ok');
  });
});

describe('parsePacket on malformed frames', () => {
  const cases: Array<[string, (frame: Buffer) => void, string]> = [
    ['an ARP EtherType', (f) => f.writeUInt16BE(0x0806, 12), 'not_ipv4'],
    ['IP version 6 in an IPv4 EtherType', (f) => (f[14] = 0x65), 'bad_ip_version'],
    ['IHL of 4 words', (f) => (f[14] = 0x44), 'bad_ihl'],
    ['IHL of 0 words', (f) => (f[14] = 0x40), 'bad_ihl'],
    ['IHL past the end of the frame', (f) => (f[14] = 0x4f), 'truncated_ip'],
    ['total length below IHL', (f) => f.writeUInt16BE(19, 16), 'bad_total_len'],
    ['total length beyond the frame', (f) => f.writeUInt16BE(f.length - 14 + 1, 16), 'bad_total_len'],
    ['more-fragments set', (f) => (f[20] |= 0x20), 'fragment'],
    ['a non-zero fragment offset', (f) => f.writeUInt16BE(0x0001, 20), 'fragment'],
    ['ICMP', (f) => (f[23] = 1), 'not_tcp_udp'],
    ['TCP data offset of 4 words', (f) => (f[34 + 12] = 0x40), 'bad_doff'],
    ['TCP data offset past the IPv4 packet', (f) => (f[34 + 12] = 0xf0), 'truncated_l4'],
  ];
  for (const [name, breakIt, expected] of cases) {
    test(`${name} → ${expected}`, () => {
      const frame = tcpFrame();
      breakIt(frame);
      assert.equal(core.parsePacket(frame).status, expected);
    });
  }

  test('a VLAN tag with nothing after it → truncated_eth', () => {
    const frame = buildTcpFrame({ eth: { vlanId: 7 }, ip: IP, tcp: { srcPort: 1, dstPort: 2 } });
    for (let length = 14; length < 18; length++) {
      assert.equal(core.parsePacket(frame.subarray(0, length)).status, 'truncated_eth', `length ${length}`);
    }
  });

  test('UDP length below 8 or beyond the IPv4 payload → bad_udp_len', () => {
    const frame = buildUdpFrame({ ip: IP, udp: { srcPort: 1, dstPort: 2, payload: Buffer.from('xyz') } });
    const short = Buffer.from(frame);
    short.writeUInt16BE(7, 34 + 4);
    assert.equal(core.parsePacket(short).status, 'bad_udp_len');
    const long = Buffer.from(frame);
    long.writeUInt16BE(8 + 4, 34 + 4);
    assert.equal(core.parsePacket(long).status, 'bad_udp_len');
  });
});

describe('parsePacket on every truncation of a frame', () => {
  test('each shorter length gives the error for where the cut falls', () => {
    const frame = tcpFrame();
    for (let length = 0; length < frame.length; length++) {
      const expected = length < 14 ? 'truncated_eth' : length < 34 ? 'truncated_ip' : 'bad_total_len';
      const parsed = core.parsePacket(frame.subarray(0, length));
      assert.equal(parsed.status, expected, `length ${length}`);
    }
    assert.equal(core.parsePacket(frame).status, 'ok');
  });

  test('with the total length fixed up to the cut, the L4 checks catch it', () => {
    const frame = tcpFrame();
    const tcpHeaderEnd = 34 + 28;
    for (let length = 34; length <= frame.length; length++) {
      const expected = length < 34 + 20 ? 'truncated_l4' : length < tcpHeaderEnd ? 'truncated_l4' : 'ok';
      const parsed = core.parsePacket(cutWithConsistentTotalLength(frame, length));
      assert.equal(parsed.status, expected, `length ${length}`);
      if (expected === 'ok') assert.equal(parsed.payloadLength, length - tcpHeaderEnd);
    }
    const udp = buildUdpFrame({ ip: IP, udp: { srcPort: 1, dstPort: 2, payload: Buffer.from('abcdef') } });
    for (let length = 34; length < 42; length++) {
      assert.equal(core.parsePacket(cutWithConsistentTotalLength(udp, length)).status, 'truncated_l4', `udp length ${length}`);
    }
  });

  test('random bytes of random lengths never crash and always give a known status', () => {
    const prng = new Prng(0xbad);
    const known = new Set<string>(PARSE_STATUS_NAMES);
    const template = tcpFrame(30);
    for (let i = 0; i < 20000; i++) {
      let frame: Buffer;
      if (prng.chance(0.5)) {
        frame = prng.bytes(prng.int(0, 120));
      } else {
        // Mostly a real frame with a few bytes corrupted and a random cut: reaches the deeper checks.
        frame = Buffer.from(template.subarray(0, prng.int(0, template.length)));
        for (let k = prng.int(1, 4); k > 0 && frame.length > 0; k--) frame[prng.int(0, frame.length - 1)] = prng.int(0, 255);
      }
      const parsed = core.parsePacket(frame);
      assert.ok(known.has(parsed.status), `unknown status ${parsed.status}`);
      if (parsed.status === 'ok') {
        assert.ok(parsed.l3End <= frame.length);
        assert.ok(parsed.payloadOffset <= parsed.l3End);
      }
    }
  });
});
