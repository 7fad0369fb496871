// The control frames' codec: round trips of every message type (fast-check), the byte layout of
// docs/wire-format.md, and one test per rejection reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BODY_BYTES,
  CONTROL_HEADER_BYTES,
  DECODE_ERRORS,
  decodeFrame,
  encodeFrame,
  frameProblem,
  MIGRATE_OUTCOME_CODES,
  NACK_REASON_CODES,
  STATE_CHUNK_BYTES,
  STATE_CHUNK_PARTS_MAX,
  STATE_RESULT_CODES,
  type ControlFrame,
  type DecodeError,
} from '../../src/control/codec';
import { REJECT_REASONS } from '../../src/reconfig/coordinator';
import { FAILURE_REASONS } from '../../src/reconfig/outcome';
import { RECONFIG_MESSAGE_TYPES, type NackReason, type ReconfigMessage, type RequestLock, type StateChunk } from '../../src/reconfig/messages';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const address = fc.integer({ min: 1, max: 0xffffffff });
const port = fc.integer({ min: 1, max: 65535 });
const tuple = fc.record({ srcIp: address, dstIp: address, srcPort: port, dstPort: port });
const id = fc.record({ leftAnchor: address, nonce: u32 });
const delta = fc.record({ forward: u32, reverse: u32 });
const nackReason = fc.constantFrom(...(Object.keys(NACK_REASON_CODES) as NackReason[]));

const message: fc.Arbitrary<ReconfigMessage> = fc.oneof(
  fc.record({ type: fc.constant('requestLock' as const), id, session: tuple, subsession: tuple, rightAnchor: address, delta }),
  fc.record({ type: fc.constant('ackLock' as const), id, session: tuple, subsession: tuple, rightAnchor: address, delta }),
  fc.record({ type: fc.constant('nackLock' as const), id, session: tuple, subsession: tuple, reason: nackReason }),
  fc.record({ type: fc.constant('cancelLock' as const), id, session: tuple, subsession: tuple }),
  fc.record({ type: fc.constant('ackCancel' as const), id, session: tuple, subsession: tuple }),
  fc.record({ type: fc.constant('rightRequest' as const), session: tuple, subsession: tuple, rightAnchor: address }),
  fc.record({ type: fc.constant('teardown' as const), id, session: tuple, subsession: tuple }),
  fc.record({ type: fc.constant('migrateRequest' as const), session: tuple, subsession: tuple, rightAnchor: address, replacement: address, transferState: fc.boolean() }),
  fc.record({ type: fc.constant('migrateResult' as const), id, session: tuple, outcome: fc.constantFrom(...(Object.keys(MIGRATE_OUTCOME_CODES) as (keyof typeof MIGRATE_OUTCOME_CODES)[])), durationUs: u32, switchedUs: u32 }),
  fc.record({ type: fc.constant('moveState' as const), id, session: tuple, subsession: tuple, to: address }),
  fc
    .record({ id, session: tuple, tuple, parts: fc.integer({ min: 1, max: STATE_CHUNK_PARTS_MAX }), part: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: STATE_CHUNK_BYTES }) })
    .map(({ part, parts, bytes, ...rest }): StateChunk => ({ type: 'stateChunk', ...rest, part: part % parts, parts, bytes: Buffer.from(bytes) })),
  fc.record({ type: fc.constant('stateResult' as const), id, session: tuple, result: fc.constantFrom(...(Object.keys(STATE_RESULT_CODES) as (keyof typeof STATE_RESULT_CODES)[])) }),
  fc.record({ type: fc.constant('dropState' as const), id, session: tuple }),
  fc.record({ type: fc.constant('expectState' as const), id, session: tuple, from: address }),
);
const trailingBytes = (m: ReconfigMessage) => (m.type === 'stateChunk' ? m.bytes.length : 0);

const frame: fc.Arbitrary<ControlFrame> = fc.oneof(
  fc.record({ kind: fc.constant('message' as const), epoch: u32, seq: u32, message }),
  fc.record({ kind: fc.constant('ack' as const), epoch: u32, seq: u32 }),
);

const SESSION = { srcIp: 0x0a000001, dstIp: 0x0a000302, srcPort: 40000, dstPort: 80 };
const SUBSESSION = { srcIp: 0x0a000001, dstIp: 0x0a000101, srcPort: 61000, dstPort: 61001 };
const REQUEST: RequestLock = {
  type: 'requestLock',
  id: { leftAnchor: 0x0a000001, nonce: 7 },
  session: SESSION,
  subsession: SUBSESSION,
  rightAnchor: 0x0a000302,
  delta: { forward: 0xfffffff0, reverse: 16 },
};
const requestBytes = () => encodeFrame({ kind: 'message', epoch: 0xcafe0001, seq: 42, message: REQUEST });

function reasonOf(bytes: Buffer): DecodeError | 'ok' {
  const result = decodeFrame(bytes);
  return result.ok ? 'ok' : result.reason;
}

describe('control frame codec', () => {
  it('round-trips every frame of every type, and the length is the header plus the body of its type', () => {
    fc.assert(
      fc.property(frame, (f) => {
        const bytes = encodeFrame(f);
        assert.equal(bytes.length, CONTROL_HEADER_BYTES + (f.kind === 'ack' ? 0 : BODY_BYTES[f.message.type] + trailingBytes(f.message)));
        assert.deepEqual(decodeFrame(bytes), { ok: true, frame: f });
      }),
      { numRuns: 2000 },
    );
  });

  it('gives every failure reason and start refusal a migration outcome code of its own', () => {
    for (const reason of [...FAILURE_REASONS, ...REJECT_REASONS]) assert.ok(reason in MIGRATE_OUTCOME_CODES, reason);
    const codes = Object.values(MIGRATE_OUTCOME_CODES);
    assert.equal(new Set(codes).size, codes.length);
    assert.ok(codes.every((c) => c >= 0 && c <= 255));
  });

  it('covers every message type of the shared vocabulary, and every nack reason with its own code', () => {
    for (const type of RECONFIG_MESSAGE_TYPES) assert.ok(BODY_BYTES[type] > 0, type);
    const codes = Object.values(NACK_REASON_CODES);
    assert.equal(new Set(codes).size, codes.length);
    assert.deepEqual([...codes].sort((x, y) => x - y), codes.map((_, i) => i + 1), 'codes 1..n');
  });

  it('lays out a requestLock byte for byte as docs/wire-format.md shows', () => {
    assert.equal(
      requestBytes().toString('hex'),
      '44595343' + '01' + '01' + '00' + '2c' + 'cafe0001' + '0000002a' +
        '0a000001' + '00000007' +
        '0a000001' + '0a000302' + '9c40' + '0050' +
        '0a000001' + '0a000101' + 'ee48' + 'ee49' +
        '0a000302' + 'fffffff0' + '00000010',
    );
    assert.equal(encodeFrame({ kind: 'ack', epoch: 0xcafe0001, seq: 42 }).toString('hex'), '4459534301800000cafe00010000002a');
  });

  it('never throws and never returns a partial message, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (raw) => {
        const result = decodeFrame(Buffer.from(raw));
        if (result.ok) assert.deepEqual(decodeFrame(encodeFrame(result.frame)), result);
        else assert.ok(DECODE_ERRORS.includes(result.reason));
      }),
      { numRuns: 3000 },
    );
    // Valid headers with random bodies reach the body checks.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 44, maxLength: 44 }), (body) => {
        const bytes = Buffer.concat([requestBytes().subarray(0, CONTROL_HEADER_BYTES), Buffer.from(body)]);
        const result = decodeFrame(bytes);
        if (result.ok) assert.deepEqual(encodeFrame(result.frame), bytes, 'what decodes re-encodes to the same bytes');
        else assert.equal(result.reason, 'out_of_range');
      }),
    );
  });

  it('refuses a corrupted copy of a valid frame with some reason, never as another valid frame of the same bytes', () => {
    fc.assert(
      fc.property(frame, fc.nat(), fc.integer({ min: 1, max: 255 }), (f, at, flip) => {
        const bytes = encodeFrame(f);
        const i = at % bytes.length;
        bytes[i]! ^= flip;
        const result = decodeFrame(bytes);
        if (result.ok) assert.deepEqual(encodeFrame(result.frame), bytes);
      }),
    );
  });
});

describe('control frame rejection reasons', () => {
  const mutate = (change: (b: Buffer) => Buffer | void): Buffer => {
    const bytes = requestBytes();
    return change(bytes) ?? bytes;
  };

  it('truncated: under the magic, under the header, under the body', () => {
    assert.equal(reasonOf(Buffer.alloc(0)), 'truncated');
    assert.equal(reasonOf(Buffer.from([0x44, 0x59, 0x53])), 'truncated');
    assert.equal(reasonOf(requestBytes().subarray(0, 15)), 'truncated');
    assert.equal(reasonOf(requestBytes().subarray(0, 59)), 'truncated');
    assert.equal(reasonOf('not a buffer' as unknown as Buffer), 'truncated');
  });

  it('bad_magic: someone else\'s datagram, even a long one', () => {
    assert.equal(reasonOf(mutate((b) => void b.writeUInt32BE(0x4459534b, 0))), 'bad_magic', 'the address list\'s DYSK is not a control frame');
    assert.equal(reasonOf(Buffer.from('hello from a peer agent, not a frame')), 'bad_magic');
  });

  it('bad_version', () => {
    assert.equal(reasonOf(mutate((b) => void (b[4] = 2))), 'bad_version');
    assert.equal(reasonOf(mutate((b) => void (b[4] = 0))), 'bad_version');
  });

  it('unsupported_flags: any bit', () => {
    for (let bit = 0; bit < 8; bit++) assert.equal(reasonOf(mutate((b) => void (b[6] = 1 << bit))), 'unsupported_flags');
  });

  it('unknown_type: 0, 15, 0x7f, 0x81, 0xff', () => {
    for (const code of [0, 15, 0x7f, 0x81, 0xff]) assert.equal(reasonOf(mutate((b) => void (b[5] = code))), 'unknown_type', `type ${code}`);
  });

  it('bad_length: the body length field disagrees with the type, even when the bytes are there', () => {
    assert.equal(reasonOf(mutate((b) => void (b[7] = 43))), 'bad_length');
    const padded = Buffer.concat([requestBytes(), Buffer.alloc(1)]);
    padded[7] = 45;
    assert.equal(reasonOf(padded), 'bad_length');
    assert.equal(reasonOf(mutate((b) => void (b[5] = 4))), 'bad_length', 'a cancelLock header on a requestLock body');
    const result = decodeFrame(mutate((b) => void (b[7] = 0)));
    assert.deepEqual(result, { ok: false, reason: 'bad_length', type: 'requestLock' }, 'the type is reported once known');
  });

  it('a stateChunk: its bytes must be exactly as many as it announces, and within the bounds', () => {
    const chunk: StateChunk = { type: 'stateChunk', id: REQUEST.id, session: SESSION, tuple: SESSION, part: 1, parts: 2, bytes: Buffer.from('conntrack entry') };
    const bytes = encodeFrame({ kind: 'message', epoch: 1, seq: 1, message: chunk });
    assert.equal(bytes.length, CONTROL_HEADER_BYTES + BODY_BYTES.stateChunk + 15);
    assert.equal(reasonOf(bytes.subarray(0, bytes.length - 1)), 'truncated');
    assert.equal(reasonOf(Buffer.concat([bytes, Buffer.from([0])])), 'trailing_bytes');
    const empty = Buffer.from(bytes.subarray(0, CONTROL_HEADER_BYTES + BODY_BYTES.stateChunk));
    empty.writeUInt16BE(0, empty.length - 2);
    assert.equal(reasonOf(empty), 'out_of_range', 'no bytes at all');
    const partPastParts = Buffer.from(bytes);
    partPastParts[CONTROL_HEADER_BYTES + 32] = 2;
    assert.equal(reasonOf(partPastParts), 'out_of_range', 'part 2 of 2');
    assert.match(frameProblem({ kind: 'message', epoch: 1, seq: 1, message: { ...chunk, bytes: Buffer.alloc(STATE_CHUNK_BYTES + 1) } })!, /bytes/);
    assert.ok(encodeFrame({ kind: 'message', epoch: 1, seq: 1, message: { ...chunk, bytes: Buffer.alloc(STATE_CHUNK_BYTES, 1) } }).length <= 1472, 'one datagram');
  });

  it('trailing_bytes', () => {
    assert.equal(reasonOf(Buffer.concat([requestBytes(), Buffer.from([0])])), 'trailing_bytes');
    assert.equal(reasonOf(Buffer.concat([encodeFrame({ kind: 'ack', epoch: 1, seq: 2 }), Buffer.from([0])])), 'trailing_bytes');
  });

  it('out_of_range: a zero address or port, an unknown nack reason', () => {
    const at = (offset: number) => mutate((b) => void b.fill(0, offset, offset + 2));
    assert.equal(reasonOf(mutate((b) => void b.writeUInt32BE(0, 16))), 'out_of_range', 'left anchor 0.0.0.0');
    assert.equal(reasonOf(at(32)), 'out_of_range', 'session src port 0');
    assert.equal(reasonOf(at(46)), 'out_of_range', 'subsession dst port 0');
    assert.equal(reasonOf(mutate((b) => void b.writeUInt32BE(0, 48))), 'out_of_range', 'right anchor 0.0.0.0');
    const nack = encodeFrame({ kind: 'message', epoch: 1, seq: 1, message: { type: 'nackLock', id: REQUEST.id, session: SESSION, subsession: SUBSESSION, reason: 'locked' } });
    for (const code of [0, 7, 255]) {
      const bad = Buffer.from(nack);
      bad[bad.length - 1] = code;
      assert.equal(reasonOf(bad), 'out_of_range', `nack reason ${code}`);
    }
  });

  it('each reason has its test above', () => {
    const seen = new Set<string>(['truncated', 'bad_magic', 'bad_version', 'unsupported_flags', 'unknown_type', 'bad_length', 'trailing_bytes', 'out_of_range']);
    assert.deepEqual([...DECODE_ERRORS].sort(), [...seen].sort());
  });
});

describe('encoding refuses what the wire cannot carry', () => {
  it('names the field, and encodeFrame throws a RangeError', () => {
    const bad: ControlFrame = { kind: 'message', epoch: 1, seq: 1, message: { ...REQUEST, session: { ...SESSION, srcPort: 70000 } } };
    assert.match(frameProblem(bad)!, /session\.srcPort/);
    assert.throws(() => encodeFrame(bad), RangeError);
    assert.match(frameProblem({ kind: 'ack', epoch: -1, seq: 0 })!, /epoch/);
    assert.match(frameProblem({ kind: 'ack', epoch: 0, seq: 2 ** 32 })!, /seq/);
    assert.match(frameProblem({ kind: 'message', epoch: 0, seq: 0, message: { ...REQUEST, delta: { forward: 1.5, reverse: 0 } } })!, /delta/);
    assert.match(frameProblem({ kind: 'message', epoch: 0, seq: 0, message: { type: 'bogus' } as unknown as ReconfigMessage })!, /unknown message type/);
  });
});
