// The tag option: the TypeScript codec (src/protocol/tag-option.ts) and the C++ frame functions
// (native/core/tag_option.h). Add keeps checksums valid (checked by the builder's independent checksum),
// Remove restores the frame byte for byte, malformed option areas are left alone, and a kind-253
// option with another ExID or length is never taken for ours.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  TAG_OPTION_EXID,
  TAG_OPTION_KIND,
  TAG_OPTION_LENGTH,
  TAG_STATUS_NAMES,
  decodeTagOption,
  encodeTagOption,
} from '../../src/protocol/tag-option';
import type { ProtocolBinding } from '../../src/native/protocol-binding';
import { core } from '../support/native-core';
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

const tag32 = fc.integer({ min: 0, max: 0xffffffff });

function frameWith(options: Buffer, payload?: Buffer, vlanId?: number, flags = TCP_SYN): Buffer {
  return buildTcpFrame({
    eth: vlanId === undefined ? {} : { vlanId },
    ip: { src: '192.0.2.10', dst: '198.51.100.7' },
    tcp: { srcPort: 51000, dstPort: 443, seq: 0xfeedf00d, flags, options, ...(payload ? { payload } : {}) },
  });
}

function assertChecksumsValid(frame: Buffer, what: string): void {
  assert.deepEqual(carriedChecksums(frame), expectedChecksums(frame), `${what}: checksums`);
  const verdict = core.verifyChecksums(frame);
  assert.equal(verdict.ip && verdict.l4, true, `${what}: native verification`);
}

/** Options a SYN may carry, as unpadded option byte strings. */
const someOption = fc.oneof(
  fc.integer({ min: 88, max: 0xffff }).map((mss) => tcpOption.mss(mss)),
  fc.constant(tcpOption.sackPermitted()),
  fc.tuple(tag32, tag32).map(([a, b]) => tcpOption.timestamps(a, b)),
  fc.constant(tcpOption.nop()),
  fc.integer({ min: 0, max: 14 }).map((shift) => tcpOption.wscale(shift)),
  // Someone else's experimental options: another ExID, another length.
  fc.integer({ min: 0, max: 0xffff }).filter((exid) => exid !== TAG_OPTION_EXID).map((exid) =>
    tcpOption.raw(TAG_OPTION_KIND, 8, exid >> 8, exid & 0xff, 1, 2, 3, 4),
  ),
  fc.constant(tcpOption.raw(TAG_OPTION_KIND, 4, TAG_OPTION_EXID >> 8, TAG_OPTION_EXID & 0xff)),
);

/** An option area of at most `max` bytes: random options, padded with EOL to a multiple of four. */
function optionArea(max: number): fc.Arbitrary<Buffer> {
  return fc
    .array(someOption, { maxLength: 8 })
    .map((options) => {
      const kept: Buffer[] = [];
      let size = 0;
      for (const option of options) {
        if (size + option.length > max) break;
        kept.push(option);
        size += option.length;
      }
      return tcpOptionArea(...kept);
    })
    .filter((area) => area.length <= max);
}

const LINUX_SYN_OPTIONS = tcpOptionArea(
  tcpOption.mss(1460),
  tcpOption.sackPermitted(),
  tcpOption.timestamps(0x11223344, 0),
  tcpOption.nop(),
  tcpOption.wscale(7),
);

describe('tag option codec (TypeScript)', () => {
  test('status names match the native list, in order', () => {
    assert.deepEqual([...protocol.tagStatusNames], [...TAG_STATUS_NAMES]);
  });

  test('encode/decode round trip and the exact bytes', () => {
    assert.equal(encodeTagOption(0xcafe0001).toString('hex'), 'fd084459cafe0001');
    fc.assert(fc.property(tag32, (tag) => decodeTagOption(encodeTagOption(tag)) === tag));
    const inside = Buffer.concat([Buffer.from([1, 1, 1]), encodeTagOption(7)]);
    assert.equal(decodeTagOption(inside, 3), 7);
    assert.equal(decodeTagOption(inside, 2), null);
    assert.equal(decodeTagOption(inside.subarray(0, 10), 3), null, 'fewer than 8 bytes');
    assert.throws(() => encodeTagOption(-1), RangeError);
    assert.throws(() => encodeTagOption(2 ** 32), RangeError);
    assert.throws(() => encodeTagOption(1.5), RangeError);
  });

  test('another ExID, another length or another kind is not ours', () => {
    const good = encodeTagOption(42);
    const otherExid = Buffer.from(good);
    otherExid.writeUInt16BE(0x4458, 2);
    const otherLength = Buffer.from(good);
    otherLength[1] = 10;
    const otherKind = Buffer.from(good);
    otherKind[0] = 254;
    for (const bytes of [otherExid, otherLength, otherKind]) assert.equal(decodeTagOption(bytes), null);
  });
});

describe('addTagOption, findTagOption, removeTagOption', () => {
  test('property: add then remove is byte-identical, on random SYNs with and without payload', () => {
    fc.assert(
      fc.property(
        optionArea(32),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { nil: undefined }),
        fc.boolean(),
        tag32,
        (options, payload, vlan, tag) => {
          const frame = frameWith(options, payload ? Buffer.from(payload) : undefined, vlan ? 7 : undefined);
          const before = Buffer.from(frame);
          const added = protocol.addTagOption(frame, tag);
          assert.equal(added.status, 'ok');
          assert.equal(added.layoutAgrees, true, 'the layout handed back describes the tagged frame');
          assert.deepEqual(frame, before, 'the argument is not changed');
          assert.equal(added.frame.length, frame.length + TAG_OPTION_LENGTH);
          assertChecksumsValid(added.frame, 'tagged');
          const parsedBefore = parseFrame(frame);
          const parsed = parseFrame(added.frame);
          assert.equal(parsed.tcp!.headerLength, parsedBefore.tcp!.headerLength + TAG_OPTION_LENGTH);
          assert.deepEqual(parsed.tcp!.payload, parsedBefore.tcp!.payload);
          const walk = core.walkTcpOptions(added.frame);
          assert.equal(walk.status, 'ok');
          assert.equal(protocol.findTagOption(added.frame), tag);
          assert.equal(protocol.findTagOption(frame), null, 'other kind-253 options are not ours');

          const removed = protocol.removeTagOption(added.frame);
          assert.equal(removed.removed, true);
          assert.equal(removed.layoutAgrees, true, 'the layout handed back describes the untagged frame');
          assert.deepEqual(removed.frame, frame, 'remove(add(x)) == x');
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a Linux SYN (20 bytes of options) gets the tag after its options', () => {
    const frame = frameWith(LINUX_SYN_OPTIONS);
    const added = protocol.addTagOption(frame, 0xdeadbeef);
    assert.equal(added.status, 'ok');
    const options = parseFrame(added.frame).tcp!.options;
    assert.deepEqual(options, Buffer.concat([LINUX_SYN_OPTIONS, encodeTagOption(0xdeadbeef)]));
    const walk = core.walkTcpOptions(added.frame);
    assert.equal(walk.mss, 1460);
    assert.equal(walk.wscale, 7);
    assert.equal(walk.tsval, 0x11223344);
  });

  test('an area that ends in EOL padding gets the tag before the EOL', () => {
    // MSS, NOP, EOL: the EOL sits at an odd offset, so the tag does too.
    const options = tcpOptionArea(tcpOption.mss(1400), tcpOption.nop());
    assert.deepEqual(options, Buffer.from([2, 4, 0x05, 0x78, 1, 0, 0, 0]));
    const frame = frameWith(options, Buffer.from('abc'));
    const added = protocol.addTagOption(frame, 0x01020304);
    assert.equal(added.status, 'ok');
    assertChecksumsValid(added.frame, 'tag at an odd offset');
    assert.deepEqual(
      parseFrame(added.frame).tcp!.options,
      Buffer.concat([Buffer.from([2, 4, 0x05, 0x78, 1]), encodeTagOption(0x01020304), Buffer.from([0, 0, 0])]),
    );
    assert.equal(protocol.findTagOption(added.frame), 0x01020304);
    assert.deepEqual(protocol.removeTagOption(added.frame).frame, frame);
  });

  test('removal wherever the tag is, odd offsets included, gives the frame built without it', () => {
    const others = [tcpOption.mss(1460), tcpOption.nop(), tcpOption.sackPermitted(), tcpOption.nop(), tcpOption.wscale(3)];
    for (let at = 0; at <= others.length; at++) {
      for (const payload of [undefined, Buffer.from('odd'), Buffer.from('even')]) {
        const withTag = [...others.slice(0, at), encodeTagOption(0x5a5a5a5a + at), ...others.slice(at)];
        const tagged = frameWith(tcpOptionArea(...withTag), payload);
        const clean = frameWith(tcpOptionArea(...others), payload);
        assert.equal(protocol.findTagOption(tagged), 0x5a5a5a5a + at);
        const removed = protocol.removeTagOption(tagged);
        assert.equal(removed.removed, true);
        assertChecksumsValid(removed.frame, `tag removed from position ${at}`);
        assert.deepEqual(removed.frame, clean);
      }
    }
  });

  test('a kind-253 option with another ExID or length is not ours; ours after it is found and removed', () => {
    const foreign = tcpOption.raw(TAG_OPTION_KIND, 8, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef);
    const shortOurs = tcpOption.raw(TAG_OPTION_KIND, 6, TAG_OPTION_EXID >> 8, TAG_OPTION_EXID & 0xff, 0, 1);
    const longOurs = tcpOption.raw(TAG_OPTION_KIND, 10, TAG_OPTION_EXID >> 8, TAG_OPTION_EXID & 0xff, 0, 0, 0, 1, 0, 0);
    for (const option of [foreign, shortOurs, longOurs]) {
      const frame = frameWith(tcpOptionArea(option));
      assert.equal(protocol.findTagOption(frame), null);
      assert.deepEqual(protocol.removeTagOption(frame), { removed: false, frame });
    }
    const both = frameWith(tcpOptionArea(foreign, encodeTagOption(99)));
    assert.equal(protocol.findTagOption(both), 99);
    assert.deepEqual(protocol.removeTagOption(both).frame, frameWith(tcpOptionArea(foreign)));
  });

  test('option space: 32 bytes of options take the tag (exactly 40), 36 and 40 do not', () => {
    const area32 = tcpOptionArea(tcpOption.timestamps(1, 2), tcpOption.timestamps(3, 4), tcpOption.timestamps(5, 6), tcpOption.nop(), tcpOption.nop());
    assert.equal(area32.length, 32);
    const fits = protocol.addTagOption(frameWith(area32), 1);
    assert.equal(fits.status, 'ok');
    assert.equal(parseFrame(fits.frame).tcp!.headerLength, 60);
    assertChecksumsValid(fits.frame, '40 bytes of options');
    for (const size of [36, 40]) {
      const area = Buffer.alloc(size, 1); // NOPs
      const frame = frameWith(area, Buffer.from('payload'));
      const added = protocol.addTagOption(frame, 1);
      assert.equal(added.status, 'no_option_space', `${size} bytes of options`);
      assert.deepEqual(added.frame, frame);
    }
    // 32 bytes of NOPs then a word of EOL padding: padding is not reused (Remove could not restore it), so
    // there is no space either.
    const padded = frameWith(Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(4, 0)]));
    assert.equal(protocol.addTagOption(padded, 1).status, 'no_option_space');
  });

  test('malformed option areas: unchanged frame and malformed_options; find and remove refuse too', () => {
    const areas = [
      Buffer.from([2, 0, 0, 0]), // length byte 0
      Buffer.from([2, 1, 0, 0]), // length byte 1
      Buffer.from([1, 1, 1, 2]), // MSS without its length byte
      Buffer.from([3, 3, 7, 2, 9, 0, 0, 0]), // MSS running past the area
      Buffer.from([2, 5, 0, 0, 0, 1, 1, 1]), // MSS with a wrong length
      Buffer.from([TAG_OPTION_KIND, 12, 0x44, 0x59, 0, 0, 0, 1]), // our kind running past the area
    ];
    for (const area of areas) {
      for (const payload of [undefined, Buffer.from('x')]) {
        // Our tag first: the walk still refuses the whole area, so it is not found.
        const tagged = frameWith(Buffer.concat([encodeTagOption(5), area]), payload);
        const frame = frameWith(area, payload);
        for (const f of [frame, tagged]) {
          const added = protocol.addTagOption(f, 5);
          assert.equal(added.status, 'malformed_options', area.toString('hex'));
          assert.deepEqual(added.frame, f);
          assert.equal(protocol.findTagOption(f), null);
          assert.deepEqual(protocol.removeTagOption(f), { removed: false, frame: f });
        }
      }
    }
  });

  test('not TCP, and no room in the buffer', () => {
    const udp = buildUdpFrame({ ip: { src: '10.0.0.1', dst: '10.0.0.2' }, udp: { srcPort: 1, dstPort: 2 } });
    assert.deepEqual(protocol.addTagOption(udp, 1), { status: 'not_tcp', frame: udp });
    assert.equal(protocol.findTagOption(udp), null);
    assert.equal(protocol.removeTagOption(udp).removed, false);
    const truncated = frameWith(LINUX_SYN_OPTIONS).subarray(0, 50);
    assert.equal(protocol.addTagOption(truncated, 1).status, 'not_tcp');

    const frame = frameWith(LINUX_SYN_OPTIONS);
    assert.deepEqual(protocol.addTagOption(frame, 1, 7), { status: 'no_room', frame });
    assert.equal(protocol.addTagOption(frame, 1, 8).status, 'ok');
  });

  test('works on any TCP segment, not only SYNs, and keeps Ethernet padding behind the packet', () => {
    const ack = frameWith(tcpOptionArea(tcpOption.nop(), tcpOption.nop(), tcpOption.timestamps(1, 2)), Buffer.from('data'), undefined, TCP_ACK);
    const added = protocol.addTagOption(ack, 77);
    assert.equal(added.status, 'ok');
    assertChecksumsValid(added.frame, 'ACK');
    assert.deepEqual(protocol.removeTagOption(added.frame).frame, ack);

    const bare = frameWith(Buffer.alloc(0));
    const padded = Buffer.concat([bare, Buffer.alloc(60 - bare.length, 0xcd)]);
    const tagged = protocol.addTagOption(padded, 3);
    assert.equal(tagged.status, 'ok');
    assert.deepEqual(tagged.frame.subarray(tagged.frame.length - 6), Buffer.alloc(6, 0xcd));
    assertChecksumsValid(tagged.frame, 'padded');
    assert.deepEqual(protocol.removeTagOption(tagged.frame).frame, padded);
  });
});
