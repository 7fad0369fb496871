// A TCP segment moved into a second path's sequence space (native/core/segment_deltas.h): SEQ, ACK, SACK
// edges, TSval/TSecr and the window, with the checksum adjusted incrementally — checked against values and a
// checksum computed from scratch here, over random option layouts (odd offsets included).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { core } from '../support/native-core';
import {
  buildTcpFrame,
  buildUdpFrame,
  carriedChecksums,
  expectedChecksums,
  parseFrame,
  TCP_ACK,
  TCP_SYN,
  tcpOption,
  tcpOptionArea,
} from '../support/packet-builder';

const u32 = (x: number) => x >>> 0;

function sack(edges: number[]): Buffer {
  const option = Buffer.alloc(2 + 4 * edges.length);
  option[0] = 5;
  option[1] = option.length;
  edges.forEach((edge, i) => option.writeUInt32BE(u32(edge), 2 + 4 * i));
  return option;
}

/** The option area's timestamps and SACK edges, read by kind. */
function optionValues(options: Buffer): { ts?: [number, number]; sack: number[] } {
  const out: { ts?: [number, number]; sack: number[] } = { sack: [] };
  for (let at = 0; at < options.length; ) {
    const kind = options[at]!;
    if (kind === 0) break;
    if (kind === 1) {
      at += 1;
      continue;
    }
    const length = options[at + 1]!;
    if (kind === 8) out.ts = [options.readUInt32BE(at + 2), options.readUInt32BE(at + 6)];
    if (kind === 5) for (let e = at + 2; e < at + length; e += 4) out.sack.push(options.readUInt32BE(e));
    at += length;
  }
  return out;
}

describe('applySegmentDeltas', () => {
  test('every field moves by its delta, and the checksum equals a full recompute (random layouts)', () => {
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.nat(0xffffffff),
          ack: fc.nat(0xffffffff),
          window: fc.nat(0xffff),
          tsVal: fc.nat(0xffffffff),
          tsEcr: fc.nat(0xffffffff),
          edges: fc.array(fc.nat(0xffffffff), { minLength: 0, maxLength: 3 }).map((blocks) => blocks.flatMap((b) => [b, u32(b + 1460)])),
          nopsBefore: fc.nat(3),
          nopsBetween: fc.nat(3),
          withTimestamps: fc.boolean(),
          ackFlag: fc.boolean(),
          payload: fc.uint8Array({ maxLength: 41 }),
        }),
        fc.record({
          seq: fc.nat(0xffffffff),
          ack: fc.nat(0xffffffff),
          tsVal: fc.nat(0xffffffff),
          tsEcr: fc.nat(0xffffffff),
          windowScaleIn: fc.nat(14),
          windowScaleOut: fc.nat(14),
        }),
        (seg, deltas) => {
          const parts: Buffer[] = [];
          for (let i = 0; i < seg.nopsBefore; i++) parts.push(tcpOption.nop());
          if (seg.withTimestamps) parts.push(tcpOption.timestamps(seg.tsVal, seg.tsEcr));
          for (let i = 0; i < seg.nopsBetween; i++) parts.push(tcpOption.nop());
          if (seg.edges.length > 0 && (seg.withTimestamps ? 10 : 0) + seg.nopsBefore + seg.nopsBetween + 2 + 4 * seg.edges.length <= 40) {
            parts.push(sack(seg.edges));
          }
          const options = tcpOptionArea(...parts);
          const frame = buildTcpFrame({
            ip: { src: '10.0.1.2', dst: '10.0.2.2' },
            tcp: { srcPort: 61000, dstPort: 61002, seq: seg.seq, ack: seg.ack, window: seg.window, flags: seg.ackFlag ? TCP_ACK : 0, options, payload: Buffer.from(seg.payload) },
          });
          const before = parseFrame(frame);
          const result = core.applySegmentDeltas(frame, deltas);
          assert.equal(result.status, 'ok');
          const after = parseFrame(result.frame);
          assert.equal(after.tcp!.seq, u32(seg.seq + deltas.seq));
          assert.equal(after.tcp!.ack, seg.ackFlag ? u32(seg.ack + deltas.ack) : seg.ack, 'ACK moves only with the ACK flag');
          const window = Math.min(0xffff, Math.floor((seg.window * 2 ** deltas.windowScaleIn) / 2 ** deltas.windowScaleOut));
          assert.equal(after.tcp!.window, window);
          const was = optionValues(before.tcp!.options);
          const now = optionValues(after.tcp!.options);
          assert.deepEqual(now.sack, was.sack.map((edge) => u32(edge + deltas.ack)), 'SACK edges move with the other stream');
          if (was.ts) assert.deepEqual(now.ts, [u32(was.ts[0] + deltas.tsVal), was.ts[1] === 0 ? 0 : u32(was.ts[1] + deltas.tsEcr)]);
          assert.deepEqual(after.tcp!.payload, before.tcp!.payload);
          assert.deepEqual(carriedChecksums(result.frame), expectedChecksums(result.frame));
        },
      ),
      { numRuns: 400 },
    );
  });

  test('a SYN keeps its (unscaled) window; a zero TSecr stays zero', () => {
    const frame = buildTcpFrame({
      ip: { src: '10.0.1.2', dst: '10.0.2.2' },
      tcp: { srcPort: 1, dstPort: 2, seq: 7, window: 64240, flags: TCP_SYN, options: tcpOptionArea(tcpOption.timestamps(5, 0)) },
    });
    const result = core.applySegmentDeltas(frame, { seq: 10, tsVal: 3, tsEcr: 99, windowScaleIn: 0, windowScaleOut: 7 });
    const after = parseFrame(result.frame);
    assert.equal(after.tcp!.seq, 17);
    assert.equal(after.tcp!.window, 64240);
    assert.deepEqual(optionValues(after.tcp!.options).ts, [8, 0]);
    assert.deepEqual(carriedChecksums(result.frame), expectedChecksums(result.frame));
  });

  test('a malformed option area or a frame that is not TCP is left byte for byte', () => {
    const bad = buildTcpFrame({
      ip: { src: '10.0.1.2', dst: '10.0.2.2' },
      tcp: { srcPort: 1, dstPort: 2, seq: 7, flags: TCP_ACK, options: tcpOptionArea(tcpOption.raw(8, 9, 0, 0, 0, 0, 0, 0)) },
    });
    assert.deepEqual(core.applySegmentDeltas(bad, { seq: 1, ack: 1 }), { status: 'bad_options', frame: bad });
    const udp = buildUdpFrame({ ip: { src: '10.0.1.2', dst: '10.0.2.2' }, udp: { srcPort: 1, dstPort: 2, payload: Buffer.from('x') } });
    assert.deepEqual(core.applySegmentDeltas(udp, { seq: 1 }), { status: 'not_tcp', frame: udp });
  });
});
