import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TCP_OPTION_STATUS_NAMES } from '../../src/native/core-binding';
import { core } from '../support/native-core';
import { Prng } from '../support/prng';
import {
  TCP_OPT_EOL,
  TCP_OPT_MSS,
  TCP_OPT_NOP,
  TCP_OPT_SACK_PERMITTED,
  TCP_OPT_TIMESTAMPS,
  TCP_OPT_WSCALE,
  TCP_SYN,
  buildTcpFrame,
  carriedChecksums,
  expectedChecksums,
  parseFrame,
  tcpOption,
  tcpOptionArea,
} from '../support/packet-builder';

const OPTIONS_AT = 14 + 20 + 20;

function synWith(options: Buffer): Buffer {
  return buildTcpFrame({
    ip: { src: '10.1.0.1', dst: '10.2.0.1' },
    tcp: { srcPort: 33000, dstPort: 80, flags: TCP_SYN, options, payload: Buffer.from('odd') },
  });
}

describe('walkTcpOptions on well-formed option areas', () => {
  test('a Linux-style SYN: MSS, SACK-permitted, timestamps, NOP, window scale', () => {
    const frame = synWith(
      tcpOptionArea(
        tcpOption.mss(1460),
        tcpOption.sackPermitted(),
        tcpOption.timestamps(0xdeadbeef, 0x01020304),
        tcpOption.nop(),
        tcpOption.wscale(7),
      ),
    );
    const before = Buffer.from(frame);
    const walk = core.walkTcpOptions(frame);
    assert.equal(walk.parseStatus, 'ok');
    assert.equal(walk.status, 'ok');
    assert.deepEqual(walk.options, [
      { kind: TCP_OPT_MSS, offset: OPTIONS_AT, length: 4 },
      { kind: TCP_OPT_SACK_PERMITTED, offset: OPTIONS_AT + 4, length: 2 },
      { kind: TCP_OPT_TIMESTAMPS, offset: OPTIONS_AT + 6, length: 10 },
      { kind: TCP_OPT_NOP, offset: OPTIONS_AT + 16, length: 1 },
      { kind: TCP_OPT_WSCALE, offset: OPTIONS_AT + 17, length: 3 },
    ]);
    assert.equal(walk.mss, 1460);
    assert.equal(walk.wscale, 7);
    assert.equal(walk.sackPermitted, true);
    assert.equal(walk.tsval, 0xdeadbeef);
    assert.equal(walk.tsecr, 0x01020304);
    assert.deepEqual(frame, before, 'walking is read-only');
  });

  test('EOL ends the walk; whatever follows it is padding, even if it looks malformed', () => {
    const frame = synWith(tcpOptionArea(tcpOption.mss(536), tcpOption.eol(), tcpOption.raw(0xfe, 0x00, 0x01)));
    const walk = core.walkTcpOptions(frame);
    assert.equal(walk.status, 'ok');
    assert.deepEqual(walk.options, [
      { kind: TCP_OPT_MSS, offset: OPTIONS_AT, length: 4 },
      { kind: TCP_OPT_EOL, offset: OPTIONS_AT + 4, length: 1 },
    ]);
    assert.equal(walk.mss, 536);
    assert.equal(walk.wscale, undefined);
    assert.equal(walk.sackPermitted, false);
  });

  test('no options at all, and an unknown kind with a sane length', () => {
    const none = core.walkTcpOptions(synWith(Buffer.alloc(0)));
    assert.equal(none.status, 'ok');
    assert.deepEqual(none.options, []);
    assert.equal(none.mss, undefined);
    const unknown = core.walkTcpOptions(synWith(tcpOptionArea(tcpOption.raw(253, 4, 0xaa, 0xbb), tcpOption.mss(1400))));
    assert.equal(unknown.status, 'ok');
    assert.deepEqual(
      unknown.options.map((o) => o.kind),
      [253, TCP_OPT_MSS],
    );
    assert.equal(unknown.mss, 1400);
  });

  test('a frame that is not TCP has no options to walk', () => {
    const walk = core.walkTcpOptions(synWith(Buffer.alloc(0)).subarray(0, 30));
    assert.equal(walk.parseStatus, 'truncated_ip');
    assert.equal(walk.status, 'not_tcp');
    assert.deepEqual(walk.options, []);
  });
});

describe('walkTcpOptions and clampMss on malformed option areas', () => {
  const malformed: Array<[string, Buffer, string]> = [
    ['length 0', tcpOption.raw(TCP_OPT_MSS, 0, 0x05, 0xb4), 'bad_length'],
    ['length 1', tcpOption.raw(TCP_OPT_MSS, 1, 0x05, 0xb4), 'bad_length'],
    ['unknown kind with length 1', tcpOption.raw(30, 1, 1, 1), 'bad_length'],
    ['MSS with length 3', tcpOption.raw(TCP_OPT_MSS, 3, 0x05, TCP_OPT_NOP), 'bad_length'],
    ['window scale with length 4', tcpOption.raw(TCP_OPT_WSCALE, 4, 7, TCP_OPT_NOP), 'bad_length'],
    ['SACK with a length that is not 2 + 8n', tcpOption.raw(5, 4, 0, 0), 'bad_length'],
    [
      'length running past the header',
      Buffer.concat([tcpOption.mss(1460), tcpOption.raw(TCP_OPT_TIMESTAMPS, 10, 0, 0)]),
      'truncated',
    ],
    [
      'a kind byte without its length byte',
      Buffer.concat([tcpOption.mss(1460), tcpOption.raw(TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_MSS)]),
      'truncated',
    ],
    ['MSS after a bad option', Buffer.concat([tcpOption.raw(30, 0, 0, 0), tcpOption.mss(9000)]), 'bad_length'],
    ['a good MSS before a bad option', Buffer.concat([tcpOption.mss(9000), tcpOption.raw(30, 0, 0, 0)]), 'bad_length'],
  ];
  for (const [name, area, status] of malformed) {
    test(`${name} → ${status}, nothing reported as negotiated, packet byte-identical`, () => {
      assert.equal(area.length % 4, 0, 'the test area must fill whole words');
      const frame = synWith(area);
      const before = Buffer.from(frame);
      const walk = core.walkTcpOptions(frame);
      assert.equal(walk.parseStatus, 'ok');
      assert.equal(walk.status, status);
      assert.equal(walk.mss, undefined);
      assert.equal(walk.wscale, undefined);
      assert.equal(walk.sackPermitted, false);
      assert.equal(walk.tsval, undefined);
      const clamp = core.clampMss(frame, 1200);
      assert.deepEqual(clamp, { parseStatus: 'ok', status, clamped: false });
      assert.deepEqual(frame, before);
    });
  }
});

describe('clampMss', () => {
  test('lowers a larger MSS and keeps the TCP checksum right', () => {
    const frame = synWith(tcpOptionArea(tcpOption.mss(1460), tcpOption.sackPermitted(), tcpOption.wscale(9)));
    assert.deepEqual(core.clampMss(frame, 1400), { parseStatus: 'ok', status: 'ok', clamped: true });
    assert.equal(core.walkTcpOptions(frame).mss, 1400);
    assert.deepEqual(carriedChecksums(frame), expectedChecksums(frame));
  });

  test('an MSS at an odd offset (after one NOP) is clamped with the right checksum', () => {
    const frame = synWith(tcpOptionArea(tcpOption.nop(), tcpOption.mss(0xfedc), tcpOption.wscale(1)));
    const walk = core.walkTcpOptions(frame);
    assert.equal(walk.options[1]!.offset % 2, 1);
    assert.deepEqual(core.clampMss(frame, 0x1234), { parseStatus: 'ok', status: 'ok', clamped: true });
    assert.equal(core.walkTcpOptions(frame).mss, 0x1234);
    assert.deepEqual(carriedChecksums(frame), expectedChecksums(frame));
    assert.deepEqual(core.verifyChecksums(frame), { status: 'ok', ip: true, l4: true });
  });

  test('leaves a smaller or missing MSS alone', () => {
    const small = synWith(tcpOptionArea(tcpOption.mss(536)));
    const smallBefore = Buffer.from(small);
    assert.equal(core.clampMss(small, 1400).clamped, false);
    assert.deepEqual(small, smallBefore);
    const none = synWith(tcpOptionArea(tcpOption.wscale(2)));
    const noneBefore = Buffer.from(none);
    assert.equal(core.clampMss(none, 1400).clamped, false);
    assert.deepEqual(none, noneBefore);
  });
});

describe('random option areas', () => {
  test('never crash; malformed ones are left byte-identical, well-formed ones stay checksum-correct', () => {
    const prng = new Prng(0x0b7);
    const known = new Set<string>(TCP_OPTION_STATUS_NAMES);
    const kinds = [TCP_OPT_EOL, TCP_OPT_NOP, TCP_OPT_MSS, TCP_OPT_WSCALE, TCP_OPT_SACK_PERMITTED, 5, TCP_OPT_TIMESTAMPS, 77];
    let malformedSeen = 0;
    let clampedSeen = 0;
    for (let i = 0; i < 5000; i++) {
      // Bytes drawn mostly from plausible kinds and small lengths so that both outcomes are common.
      const area = Buffer.alloc(4 * prng.int(1, 10));
      for (let k = 0; k < area.length; k++) {
        area[k] = prng.chance(0.5) ? kinds[prng.int(0, kinds.length - 1)]! : prng.chance(0.5) ? prng.int(0, 12) : prng.int(0, 255);
      }
      if (prng.chance(0.3)) tcpOption.mss(prng.int(500, 9000)).copy(area, 0);
      const frame = synWith(area);
      const before = Buffer.from(frame);
      const walk = core.walkTcpOptions(frame);
      assert.ok(known.has(walk.status), `status ${walk.status}`);
      for (const option of walk.options) {
        assert.ok(option.offset >= OPTIONS_AT && option.offset + option.length <= OPTIONS_AT + area.length);
      }
      const clamp = core.clampMss(frame, 1000);
      assert.equal(clamp.status, walk.status);
      if (walk.status !== 'ok') {
        malformedSeen++;
        assert.deepEqual(frame, before, `iteration ${i}: a malformed area was modified`);
        continue;
      }
      assert.equal(clamp.clamped, walk.mss !== undefined && walk.mss > 1000);
      if (clamp.clamped) {
        clampedSeen++;
        assert.equal(core.walkTcpOptions(frame).mss, 1000);
      } else {
        assert.deepEqual(frame, before);
      }
      assert.deepEqual(carriedChecksums(frame), expectedChecksums(frame), `iteration ${i}`);
      assert.deepEqual(parseFrame(frame).tcp!.payload, Buffer.from('odd'));
    }
    assert.ok(malformedSeen > 500, `only ${malformedSeen} malformed areas generated`);
    assert.ok(clampedSeen > 200, `only ${clampedSeen} clamps exercised`);
  });
});
