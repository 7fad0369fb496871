// Sealed control frames (src/security/frame-auth.ts) alone and between two real ControlChannels: what a sealed frame
// binds, how forged, moved, re-keyed, stale, unsealed and replayed frames are refused and counted, key rotation, and
// the per-peer rate limit that refuses a flood before any frame of it is read.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ControlChannel, type ChannelOutput, type Delivery } from '../../src/control/channel';
import { CONTROL_AUTH_TRAILER_BYTES, decodeDatagram, encodeFrame } from '../../src/control/codec';
import type { RetryPolicy } from '../../src/control/retry-policy';
import type { ReconfigMessage } from '../../src/reconfig/messages';
import { FrameAuthenticator } from '../../src/security/frame-auth';
import { KeyRing } from '../../src/security/key-ring';

const A = 0x0a000102;
const B = 0x0a000202;
const C = 0x0a000302;
const PORT = 7070;
const RETRY: RetryPolicy = { initialMs: 20, factor: 2, maxMs: 100, attempts: 5 };
const KEY_1 = randomBytes(16).toString('hex');
const KEY_2 = randomBytes(16).toString('hex');
const ring = (keys: [number, string][], signingKeyId: number) => KeyRing.parse({ keys: keys.map(([id, key]) => ({ id, key })), signingKeyId });

function teardown(nonce: number): ReconfigMessage {
  return {
    type: 'teardown',
    id: { leftAnchor: A, nonce },
    session: { srcIp: A, dstIp: B, srcPort: 40000, dstPort: 80 },
    subsession: { srcIp: A, dstIp: B, srcPort: 61000, dstPort: 61001 },
  };
}

class Clock {
  seconds = 1_800_000_000;
  readonly read = () => this.seconds;
}

function authenticator(self: number, clock: Clock, keys = ring([[1, KEY_1]], 1), acceptUnsealed = false): FrameAuthenticator {
  return new FrameAuthenticator(keys, { self, maxSkewSeconds: 30, acceptUnsealed, clock: clock.read });
}

describe('a sealed control frame', () => {
  const clock = new Clock();
  const a = authenticator(A, clock);
  const b = authenticator(B, clock);
  const frame = encodeFrame({ kind: 'message', epoch: 5, seq: 9, message: teardown(1) });

  test('carries its flag and trailer, opens to the frame at its receiver, and its tag is HMAC-SHA-256 with the derived key', () => {
    const sealed = a.seal(frame, B);
    assert.equal(sealed.length, frame.length + CONTROL_AUTH_TRAILER_BYTES);
    assert.equal(sealed[6], 1);
    assert.equal(sealed.readUInt16BE(frame.length), 1);
    assert.equal(sealed.readUInt32BE(frame.length + 2), clock.seconds);
    const key = createHmac('sha256', Buffer.from(KEY_1, 'hex')).update('dysco control frames v1').digest();
    const addresses = Buffer.from([10, 0, 1, 2, 10, 0, 2, 2]);
    const tag = createHmac('sha256', key).update(addresses).update(sealed.subarray(0, sealed.length - 16)).digest().subarray(0, 16);
    assert.deepEqual(sealed.subarray(sealed.length - 16), tag);
    assert.deepEqual(b.open(sealed, A), { ok: true, frame });
  });

  test('every byte is bound, and so are both addresses; other keys, unknown ids and old times are refused by name', () => {
    const sealed = a.seal(frame, B);
    for (let at = 0; at < sealed.length; at++) {
      const tampered = Buffer.from(sealed);
      tampered[at] = tampered[at]! ^ 0x04;
      const outcome = b.open(tampered, A);
      assert.ok(!outcome.ok && (outcome.reason === 'bad_mac' || outcome.reason === 'unknown_key'), `byte ${at}: ${JSON.stringify(outcome)}`);
    }
    assert.deepEqual(b.open(sealed, C), { ok: false, reason: 'bad_mac' }, 'claimed from another address');
    assert.deepEqual(authenticator(C, clock).open(sealed, A), { ok: false, reason: 'bad_mac' }, 'delivered to another agent');
    assert.deepEqual(authenticator(B, clock, ring([[1, KEY_2]], 1)).open(sealed, A), { ok: false, reason: 'bad_mac' });
    assert.deepEqual(authenticator(B, clock, ring([[2, KEY_1]], 2)).open(sealed, A), { ok: false, reason: 'unknown_key' });
    const later = new Clock();
    later.seconds += 31;
    assert.deepEqual(authenticator(B, later).open(sealed, A), { ok: false, reason: 'stale' });
    later.seconds -= 62;
    assert.deepEqual(authenticator(B, later).open(sealed, A), { ok: false, reason: 'stale' });
    assert.deepEqual(b.open(sealed.subarray(0, 20), A), { ok: false, reason: 'truncated' });
  });

  test('in a datagram: sealed frames side by side open one by one; an unsealed one is refused where seals are required', () => {
    const two = Buffer.concat([a.seal(frame, B), a.seal(encodeFrame({ kind: 'ack', epoch: 5, seq: 3 }), B)]);
    const opened = decodeDatagram(two, { from: A, auth: b });
    assert.deepEqual(opened.map((r) => r.ok), [true, true]);
    assert.deepEqual(decodeDatagram(frame, { from: A, auth: b }), [{ ok: false, reason: 'unsealed', type: 'teardown' }]);
    assert.equal(decodeDatagram(frame, { from: A, auth: authenticator(B, clock, undefined, true) })[0]!.ok, true, 'accepted unsealed while migrating');
    assert.deepEqual(decodeDatagram(a.seal(frame, B)), [{ ok: false, reason: 'unsupported_flags' }], 'without keys: an unknown flag');
  });
});

/** Two channels with authenticators, joined by a wire the test hands over (or tampers with). */
class SealedPair {
  readonly clock = new Clock();
  now = 0;
  wire: { from: number; to: number; bytes: Buffer }[] = [];
  readonly delivered: Delivery[] = [];
  readonly a: ControlChannel;
  readonly b: ControlChannel;
  readonly authA: FrameAuthenticator;
  readonly authB: FrameAuthenticator;

  constructor(rateLimit?: { perSecond: number; burst: number }) {
    this.authA = authenticator(A, this.clock);
    this.authB = authenticator(B, this.clock);
    this.a = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY, auth: this.authA });
    this.b = new ControlChannel({ epoch: 2, initialSeq: 0, retry: RETRY, auth: this.authB, ...(rateLimit && { rateLimit }) });
  }

  take(from: number, out: ChannelOutput): void {
    for (const t of out.transmit) this.wire.push({ from, to: t.peer, bytes: t.bytes });
    if (from === B) this.delivered.push(...out.deliver);
  }

  send(nonce: number): Buffer {
    const result = this.a.send(B, teardown(nonce), this.now);
    assert.ok(result.ok);
    this.take(A, result);
    return this.wire[this.wire.length - 1]!.bytes;
  }

  toB(bytes: Buffer, from = A): void {
    this.take(B, this.b.receive({ ip: from, port: PORT }, bytes, this.now));
  }

  flush(): void {
    const batch = this.wire;
    this.wire = [];
    for (const d of batch) {
      const to = d.to === B ? this.b : this.a;
      this.take(d.to, to.receive({ ip: d.from, port: PORT }, d.bytes, this.now));
    }
  }

  rejected(reason: string): number {
    const snapshot = this.b.counterSnapshot();
    return Object.values(snapshot.rejected).reduce((sum, byReason) => sum + (byReason as Record<string, number>)[reason]!, 0);
  }
}

describe('sealed frames between two channels', () => {
  test('delivered and acked once; a replayed copy is a duplicate, also after the sender went quiet for the whole freshness window', () => {
    const pair = new SealedPair();
    const sealed = pair.send(1);
    pair.flush();
    pair.flush();
    assert.equal(pair.delivered.length, 1);
    assert.equal(pair.a.pending(), 0, 'the sealed ack settled it');
    pair.now += 59_000;
    pair.clock.seconds += 29;
    pair.b.tick(pair.now);
    pair.toB(sealed);
    assert.equal(pair.delivered.length, 1, 'not delivered again');
    assert.equal(pair.b.counterSnapshot().frames.teardown.duplicate, 1);
    pair.clock.seconds += 2;
    pair.toB(sealed);
    assert.equal(pair.rejected('stale'), 1, 'older than the skew');
  });

  test('forged, moved and unsealed frames are refused and counted; nothing is delivered or acked for them', () => {
    const pair = new SealedPair();
    const sealed = pair.send(2);
    pair.wire = [];
    const forged = Buffer.from(sealed);
    forged[30] = forged[30]! ^ 1;
    pair.toB(forged);
    pair.toB(sealed, C);
    pair.toB(encodeFrame({ kind: 'message', epoch: 1, seq: 0, message: teardown(2) }));
    assert.equal(pair.rejected('bad_mac'), 2);
    assert.equal(pair.rejected('unsealed'), 1);
    assert.deepEqual([pair.delivered.length, pair.wire.length], [0, 0], 'no delivery, no ack');
    pair.toB(sealed);
    assert.equal(pair.delivered.length, 1, 'the genuine frame still goes through');
  });

  test('a rotated ring: new frames are sealed with the new key, old seals stop opening once their key is retired', () => {
    const pair = new SealedPair();
    pair.authB.setRing(ring([[1, KEY_1], [2, KEY_2]], 1));
    pair.authA.setRing(ring([[1, KEY_1], [2, KEY_2]], 2));
    const old = authenticator(A, pair.clock).seal(encodeFrame({ kind: 'message', epoch: 1, seq: 50, message: teardown(50) }), B);
    const fresh = pair.send(3);
    assert.equal(fresh.readUInt16BE(fresh.length - CONTROL_AUTH_TRAILER_BYTES), 2);
    pair.flush();
    assert.equal(pair.delivered.length, 1);
    pair.authB.setRing(ring([[2, KEY_2]], 2));
    pair.toB(old);
    assert.equal(pair.rejected('unknown_key'), 1);
  });

  test('a flood from one peer is refused past its allowance, unread; the allowance refills with time', () => {
    const pair = new SealedPair({ perSecond: 100, burst: 10 });
    const sealed = pair.send(4);
    for (let i = 0; i < 50; i++) pair.toB(sealed);
    assert.equal(pair.rejected('rate_limited'), 40);
    assert.equal(pair.delivered.length, 1);
    pair.now += 1000;
    pair.toB(pair.send(5));
    assert.equal(pair.delivered.length, 2, 'refilled after a second');
  });
});
