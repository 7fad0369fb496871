// The address list: the TypeScript codec (src/protocol/address-list.ts) and the C++ one
// (native/core/address_list.h) agree byte for byte and status for status; the SYN helpers keep valid
// checksums (checked by the builder's independent checksum) and strip(append(x)) is x.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ADDRESS_LIST_MAGIC,
  ADDRESS_LIST_STATUS_NAMES,
  MAX_HOPS,
  addressListSize,
  decodeAddressList,
  encodeAddressList,
  maxHopsForMtu,
  type AddressList,
} from '../../src/protocol/address-list';
import { formatIpv4, requireIpv4 as parseIpv4 } from '../../src/net/ipv4';
import { SYN_PAYLOAD_STATUS_NAMES, type NativeSessionTuple, type ProtocolBinding } from '../../src/native/protocol-binding';
import { core } from '../support/native-core';
import { Prng } from '../support/prng';
import {
  TCP_ACK,
  TCP_SYN,
  buildTcpFrame,
  buildUdpFrame,
  carriedChecksums,
  expectedChecksums,
  parseFrame,
  tcpOption,
  tcpOptionArea,
} from '../support/packet-builder';
import { coreTestAddon } from '../support/core-addon';

const protocol: ProtocolBinding = coreTestAddon.protocol;

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) => octets.join('.'));
const port = fc.integer({ min: 0, max: 0xffff });
const addressList: fc.Arbitrary<AddressList> = fc.record({
  session: fc.record({ srcIp: ipv4, dstIp: ipv4, srcPort: port, dstPort: port }),
  hops: fc.array(ipv4, { minLength: 1, maxLength: MAX_HOPS }),
});

function nativeSession(list: AddressList): NativeSessionTuple {
  const { session } = list;
  return { srcIp: parseIpv4(session.srcIp), dstIp: parseIpv4(session.dstIp), srcPort: session.srcPort, dstPort: session.dstPort };
}

function nativeHops(list: AddressList): number[] {
  return list.hops.map((hop) => parseIpv4(hop));
}

/** Both codecs' verdict on the same bytes, asserted equal. */
function statusOfBoth(bytes: Buffer): string {
  const ts = decodeAddressList(bytes);
  const native = protocol.parseAddressList(bytes);
  assert.equal(ts.ok ? 'ok' : ts.status, native.status, `TS and C++ disagree on ${bytes.toString('hex')}`);
  return native.status;
}

const SAMPLE: AddressList = {
  session: { srcIp: '10.0.0.1', dstIp: '10.0.3.2', srcPort: 40000, dstPort: 80 },
  hops: ['10.0.1.1', '10.0.2.1', '10.0.3.2'],
};
/** The worked example of docs/wire-format.md. */
const SAMPLE_HEX = '4459534b' + '01000300' + '0a000001' + '0a000302' + '9c400050' + '0a000101' + '0a000201' + '0a000302';

describe('address list status names', () => {
  test('TypeScript lists match the native ones, in order', () => {
    assert.deepEqual([...protocol.addressListStatusNames], [...ADDRESS_LIST_STATUS_NAMES]);
    assert.deepEqual([...protocol.synPayloadStatusNames], [...SYN_PAYLOAD_STATUS_NAMES]);
  });
});

describe('address list codec', () => {
  test('the worked example of docs/wire-format.md, in both codecs', () => {
    const ts = encodeAddressList(SAMPLE);
    assert.equal(ts.toString('hex'), SAMPLE_HEX);
    assert.equal(protocol.encodeAddressList(nativeSession(SAMPLE), nativeHops(SAMPLE)).toString('hex'), SAMPLE_HEX);
    assert.equal(ts.length, addressListSize(3));
    assert.equal(ts.readUInt32BE(0), ADDRESS_LIST_MAGIC);
    assert.deepEqual(decodeAddressList(ts), { ok: true, list: SAMPLE });
  });

  test('property: TS encode → C++ parse, C++ encode → TS decode, identical bytes', () => {
    fc.assert(
      fc.property(addressList, (list) => {
        const tsBytes = encodeAddressList(list);
        const nativeBytes = protocol.encodeAddressList(nativeSession(list), nativeHops(list));
        assert.deepEqual(nativeBytes, tsBytes);

        const parsed = protocol.parseAddressList(tsBytes);
        assert.equal(parsed.status, 'ok');
        assert.deepEqual(parsed.session, nativeSession(list));
        assert.deepEqual(parsed.hops, nativeHops(list));

        assert.deepEqual(decodeAddressList(nativeBytes), { ok: true, list });
      }),
      { numRuns: 500 },
    );
  });

  test('property: on arbitrary and on mutated bytes both codecs reach the same verdict', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void statusOfBoth(Buffer.from(bytes))), {
      numRuns: 300,
    });
    const mutated = fc
      .tuple(addressList, fc.nat(), fc.nat(255), fc.integer({ min: -8, max: 8 }))
      .map(([list, at, value, resize]) => {
        const bytes = encodeAddressList(list);
        bytes[at % bytes.length] = value;
        if (resize < 0) return bytes.subarray(0, Math.max(0, bytes.length + resize));
        return Buffer.concat([bytes, Buffer.alloc(resize, 0xee)]);
      });
    fc.assert(fc.property(mutated, (bytes) => void statusOfBoth(bytes)), { numRuns: 1000 });
  });

  test('truncated at every length, for 1, 3 and 32 hops', () => {
    for (const count of [1, 3, MAX_HOPS]) {
      const bytes = encodeAddressList({ session: SAMPLE.session, hops: Array.from({ length: count }, (_, i) => `192.0.2.${i}`) });
      for (let length = 0; length < bytes.length; length++) {
        assert.equal(statusOfBoth(bytes.subarray(0, length)), 'truncated', `${count} hops cut to ${length} bytes`);
      }
      assert.equal(statusOfBoth(bytes), 'ok');
    }
  });

  test('bad magic, bad version, flags, zero hops, 33 hops, length mismatch', () => {
    const good = encodeAddressList(SAMPLE);
    const variant = (edit: (b: Buffer) => void, extra = 0): Buffer => {
      const b = Buffer.concat([good, Buffer.alloc(extra)]);
      edit(b);
      return b;
    };
    for (let i = 0; i < 4; i++) assert.equal(statusOfBoth(variant((b) => (b[i] ^= 0x20))), 'bad_magic');
    // TCP Fast Open data that happens to be short still reads as "not ours" once it has four bytes.
    assert.equal(statusOfBoth(Buffer.from('GET ')), 'bad_magic');
    for (const version of [0, 2, 255]) assert.equal(statusOfBoth(variant((b) => (b[4] = version))), 'bad_version');
    // Bits 0 (signed) and 1 (a new path's SYN) are known: with them the list needs its block or its nonce, so the
    // same bytes are a truncated one.
    for (let bit = 0; bit < 8; bit++) {
      assert.equal(statusOfBoth(variant((b) => (b[5] = 1 << bit))), bit <= 1 ? 'truncated' : 'unsupported_flags');
    }
    // With room for them, both parse; the block's bytes are the datapath's to verify (test/native/list-auth.test.ts).
    assert.equal(statusOfBoth(variant((b) => (b[5] = 1), 14)), 'ok');
    assert.equal(statusOfBoth(variant((b) => (b[5] = 3), 18)), 'ok');
    assert.equal(statusOfBoth(variant((b) => (b[5] = 1), 15)), 'length_mismatch');
    assert.equal(statusOfBoth(variant((b) => (b[6] = 0)).subarray(0, 20)), 'zero_hops');
    assert.equal(statusOfBoth(variant((b) => (b[6] = 0))), 'zero_hops');
    for (const count of [33, 255]) {
      const many = Buffer.alloc(addressListSize(count));
      good.copy(many, 0, 0, 20);
      many[6] = count;
      assert.equal(statusOfBoth(many), 'too_many_hops');
    }
    for (let extra = 1; extra <= 8; extra++) assert.equal(statusOfBoth(variant(() => {}, extra)), 'length_mismatch');
    // Fewer hops announced than carried is also a length mismatch; more is truncation.
    assert.equal(statusOfBoth(variant((b) => (b[6] = 2))), 'length_mismatch');
    assert.equal(statusOfBoth(variant((b) => (b[6] = 4))), 'truncated');
    // The reserved byte is ignored on receipt.
    assert.equal(statusOfBoth(variant((b) => (b[7] = 0xff))), 'ok');
  });

  test('encodeAddressList validates its input with clear errors', () => {
    const withHops = (hops: string[]): AddressList => ({ session: SAMPLE.session, hops });
    assert.throws(() => encodeAddressList(withHops([])), /1 to 32 hops/);
    assert.throws(() => encodeAddressList(withHops(Array(33).fill('10.0.0.1'))), /1 to 32 hops/);
    for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.01', ' 10.0.0.1', '10.0.0.1.', 'a.b.c.d', '']) {
      assert.throws(() => encodeAddressList(withHops([bad])), /hops\[0\]: not a dotted-quad IPv4 address/);
    }
    assert.throws(() => encodeAddressList({ ...SAMPLE, session: { ...SAMPLE.session, srcIp: '1.2.3' } }), /session\.srcIp/);
    for (const bad of [-1, 65536, 1.5, Number.NaN]) {
      assert.throws(() => encodeAddressList({ ...SAMPLE, session: { ...SAMPLE.session, dstPort: bad } }), /session\.dstPort/);
    }
    assert.throws(() => protocol.encodeAddressList(nativeSession(SAMPLE), []), RangeError);
    assert.throws(() => protocol.encodeAddressList(nativeSession(SAMPLE), Array(33).fill(1)), RangeError);
    assert.equal(formatIpv4(parseIpv4('255.0.128.1')), '255.0.128.1');
  });

  test('maxHopsForMtu: the arithmetic of docs/wire-format.md', () => {
    // 1500 - 20 (IPv4) - 20 (TCP) - 20 (Linux SYN options) - 20 (list header) = 1420 bytes: 355 hops, capped at 32.
    assert.equal(maxHopsForMtu(1500, 20), MAX_HOPS);
    assert.equal(maxHopsForMtu(1500, 40), MAX_HOPS);
    assert.equal(maxHopsForMtu(200, 20), 30);
    assert.equal(maxHopsForMtu(64, 0), 1);
    assert.equal(maxHopsForMtu(63, 0), 0);
    assert.equal(maxHopsForMtu(84, 20), 1);
    assert.equal(maxHopsForMtu(83, 17), 0, 'option bytes count in whole words (17 take 20)');
    assert.equal(maxHopsForMtu(20, 0), 0);
    assert.throws(() => maxHopsForMtu(1500, 41), RangeError);
    assert.throws(() => maxHopsForMtu(1.5, 0), RangeError);
  });
});

const LINUX_SYN_OPTIONS = tcpOptionArea(
  tcpOption.mss(1460),
  tcpOption.sackPermitted(),
  tcpOption.timestamps(0x11223344, 0),
  tcpOption.nop(),
  tcpOption.wscale(7),
);

function syn(options: Buffer, extra: { vlanId?: number; ipOptions?: Buffer; flags?: number; payload?: Buffer } = {}): Buffer {
  return buildTcpFrame({
    eth: extra.vlanId === undefined ? {} : { vlanId: extra.vlanId },
    ip: { src: '10.0.0.1', dst: '10.0.1.1', ...(extra.ipOptions ? { options: extra.ipOptions } : {}) },
    tcp: {
      srcPort: 40000,
      dstPort: 80,
      seq: 0x01020304,
      flags: extra.flags ?? TCP_SYN,
      options,
      ...(extra.payload ? { payload: extra.payload } : {}),
    },
  });
}

function assertChecksumsValid(frame: Buffer, what: string): void {
  assert.deepEqual(carriedChecksums(frame), expectedChecksums(frame), `${what}: checksums`);
  const verdict = core.verifyChecksums(frame);
  assert.equal(verdict.ip && verdict.l4, true, `${what}: native verification`);
}

describe('appendAddressListToSyn and stripSynPayload', () => {
  test('random SYNs: append keeps checksums valid, carries the list, and strip restores the SYN byte for byte', () => {
    const prng = new Prng(0xd15c0);
    const optionSets = [Buffer.alloc(0), LINUX_SYN_OPTIONS, tcpOptionArea(tcpOption.mss(536)), Buffer.alloc(40, 1)];
    fc.assert(
      fc.property(addressList, fc.nat(optionSets.length - 1), fc.boolean(), fc.boolean(), (list, which, vlan, ipOptions) => {
        const original = syn(optionSets[which]!, {
          ...(vlan ? { vlanId: 42 } : {}),
          ...(ipOptions ? { ipOptions: Buffer.from([1, 1, 1, 0]) } : {}),
        });
        // Random header fields that enter the checksums.
        const tweaked = buildTcpFrame({
          ip: { src: prng.nextUint32(), dst: prng.nextUint32(), id: prng.int(0, 0xffff) },
          tcp: { srcPort: prng.int(1, 0xffff), dstPort: prng.int(1, 0xffff), seq: prng.nextUint32(), flags: TCP_SYN, options: optionSets[which]! },
        });
        for (const frame of [original, tweaked]) {
          const before = Buffer.from(frame);
          const appended = protocol.appendAddressListToSyn(frame, nativeSession(list), nativeHops(list));
          assert.equal(appended.status, 'ok');
          assert.equal(appended.layoutAgrees, true, 'the layout handed back describes the appended frame');
          assert.deepEqual(frame, before, 'the argument is not changed');
          assert.equal(appended.frame.length, frame.length + addressListSize(list.hops.length));
          assertChecksumsValid(appended.frame, 'appended');
          const parsed = parseFrame(appended.frame);
          assert.deepEqual(parsed.tcp!.payload, encodeAddressList(list));
          assert.deepEqual(decodeAddressList(parsed.tcp!.payload), { ok: true, list });

          const stripped = protocol.stripSynPayload(appended.frame);
          assert.equal(stripped.status, 'ok');
          assert.equal(stripped.layoutAgrees, true, 'the layout handed back describes the stripped frame');
          assert.deepEqual(stripped.frame, frame, 'strip(append(x)) == x');
        }
      }),
      { numRuns: 200 },
    );
  });

  test('Ethernet padding after the packet stays behind it', () => {
    const bare = syn(Buffer.alloc(0));
    const padded = Buffer.concat([bare, Buffer.alloc(60 - bare.length, 0xab)]);
    const appended = protocol.appendAddressListToSyn(padded, nativeSession(SAMPLE), nativeHops(SAMPLE));
    assert.equal(appended.status, 'ok');
    assert.deepEqual(parseFrame(appended.frame).tcp!.payload, encodeAddressList(SAMPLE));
    assert.deepEqual(appended.frame.subarray(appended.frame.length - 6), Buffer.alloc(6, 0xab));
    assertChecksumsValid(appended.frame, 'padded');
    assert.deepEqual(protocol.stripSynPayload(appended.frame).frame, padded);
  });

  test('strip removes any SYN payload, odd lengths included, with valid checksums', () => {
    for (let length = 1; length <= 41; length += 4) {
      for (const payload of [Buffer.alloc(length, 0xf1), Buffer.alloc(length + 1, 0x0e)]) {
        const withData = syn(LINUX_SYN_OPTIONS, { payload });
        const stripped = protocol.stripSynPayload(withData);
        assert.equal(stripped.status, 'ok');
        assertChecksumsValid(stripped.frame, `stripped ${payload.length} bytes`);
        assert.deepEqual(stripped.frame, syn(LINUX_SYN_OPTIONS));
      }
    }
  });

  test('refusals leave the frame untouched', () => {
    const list = { session: nativeSession(SAMPLE), hops: nativeHops(SAMPLE) };
    const cases: { frame: Buffer; append: string; strip: string; hops?: number[]; spare?: number }[] = [
      { frame: syn(LINUX_SYN_OPTIONS, { flags: TCP_SYN | TCP_ACK }), append: 'not_syn', strip: 'not_syn' },
      { frame: syn(LINUX_SYN_OPTIONS, { flags: TCP_ACK }), append: 'not_syn', strip: 'not_syn' },
      { frame: syn(LINUX_SYN_OPTIONS, { payload: Buffer.from('tfo') }), append: 'has_payload', strip: 'ok' },
      { frame: syn(LINUX_SYN_OPTIONS), append: 'bad_hop_count', strip: 'no_payload', hops: [] },
      { frame: syn(LINUX_SYN_OPTIONS), append: 'bad_hop_count', strip: 'no_payload', hops: Array(33).fill(1) },
      { frame: syn(LINUX_SYN_OPTIONS), append: 'bad_hop_count', strip: 'no_payload', hops: Array(300).fill(1) },
      { frame: syn(LINUX_SYN_OPTIONS), append: 'no_room', strip: 'no_payload', spare: addressListSize(3) - 1 },
      {
        frame: buildUdpFrame({ ip: { src: '10.0.0.1', dst: '10.0.0.2' }, udp: { srcPort: 1, dstPort: 2 } }),
        append: 'not_tcp',
        strip: 'not_tcp',
      },
      { frame: syn(LINUX_SYN_OPTIONS).subarray(0, 40), append: 'not_tcp', strip: 'not_tcp' },
    ];
    for (const c of cases) {
      const appended = protocol.appendAddressListToSyn(c.frame, list.session, c.hops ?? list.hops, c.spare);
      assert.equal(appended.status, c.append);
      assert.deepEqual(appended.frame, c.frame);
      const stripped = protocol.stripSynPayload(c.frame);
      assert.equal(stripped.status, c.strip);
      if (c.strip !== 'ok') assert.deepEqual(stripped.frame, c.frame);
    }
    // Exactly enough room is enough.
    const exact = protocol.appendAddressListToSyn(syn(LINUX_SYN_OPTIONS), list.session, list.hops, addressListSize(3));
    assert.equal(exact.status, 'ok');
  });
});
