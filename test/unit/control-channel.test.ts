// The control channel's reliability core between two (or more) real ControlChannel instances joined by a
// simulated network that loses, duplicates, delays and reorders datagrams as each test says.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ControlChannel, MAX_PEERS, MAX_QUEUED_PER_PEER, type Acknowledgement, type ChannelOutput, type Delivery, type DeliveryFailure } from '../../src/control/channel';
import { decodeFrame, encodeFrame } from '../../src/control/codec';
import { DUPLICATE_WINDOW, DuplicateWindow } from '../../src/control/duplicate-window';
import { retransmitDelayMs, retrySpanMs, type RetryPolicy } from '../../src/control/retry-policy';
import type { ReconfigMessage } from '../../src/reconfig/messages';

const A = 0x0a000102;
const B = 0x0a000202;
const PORT = 7070;
const RETRY: RetryPolicy = { initialMs: 20, factor: 2, maxMs: 100, attempts: 5 };

function teardown(nonce: number): ReconfigMessage {
  return {
    type: 'teardown',
    id: { leftAnchor: A, nonce },
    session: { srcIp: A, dstIp: B, srcPort: 40000, dstPort: 80 },
    subsession: { srcIp: A, dstIp: B, srcPort: 61000, dstPort: 61001 },
  };
}
const nonceOf = (d: Delivery) => (d.message.type === 'teardown' ? d.message.id.nonce : -1);

interface Datagram {
  from: number;
  to: number;
  bytes: Buffer;
}

/** Agents by address, the datagrams on the wire, and what each agent's channel reported. */
class Net {
  readonly agents = new Map<number, ControlChannel>();
  wire: Datagram[] = [];
  readonly delivered = new Map<number, Delivery[]>();
  readonly acked = new Map<number, Acknowledgement[]>();
  readonly failed = new Map<number, DeliveryFailure[]>();
  now = 0;

  add(ip: number, options: Partial<{ epoch: number; initialSeq: number; retry: RetryPolicy }> = {}): ControlChannel {
    const channel = new ControlChannel({ epoch: options.epoch ?? ip, initialSeq: options.initialSeq ?? 0, retry: options.retry ?? RETRY });
    this.agents.set(ip, channel);
    for (const table of [this.delivered, this.acked, this.failed]) table.set(ip, []);
    return channel;
  }

  take(ip: number, out: ChannelOutput): void {
    for (const t of out.transmit) this.wire.push({ from: ip, to: t.peer, bytes: t.bytes });
    this.delivered.get(ip)!.push(...out.deliver);
    this.acked.get(ip)!.push(...out.acked);
    this.failed.get(ip)!.push(...out.failed);
  }

  send(from: number, to: number, message: ReconfigMessage): void {
    const result = this.agents.get(from)!.send(to, message, this.now);
    assert.ok(result.ok);
    this.take(from, result);
  }

  /** Hands over the datagrams now on the wire, in order, each passed through `fate` (how many copies arrive). */
  flush(fate: (d: Datagram) => number = () => 1): void {
    const batch = this.wire;
    this.wire = [];
    for (const d of batch) {
      for (let copy = 0; copy < fate(d); copy++) this.take(d.to, this.agents.get(d.to)!.receive({ ip: d.from, port: PORT }, d.bytes, this.now));
    }
  }

  /** Advances to the earliest deadline of any agent and ticks them all; false when nothing waits. */
  step(): boolean {
    const deadlines = [...this.agents.values()].map((c) => c.nextDeadline()).filter((d): d is number => d !== undefined);
    if (deadlines.length === 0) return false;
    this.now = Math.max(this.now, Math.min(...deadlines));
    for (const [ip, channel] of this.agents) this.take(ip, channel.tick(this.now));
    return true;
  }
}

/** The nonce of a teardown frame, -1 for anything else. */
const nonceOfBytes = (bytes: Buffer) => {
  const r = decodeFrame(bytes);
  return r.ok && r.frame.kind === 'message' ? nonceOf({ peer: 0, message: r.frame.message }) : -1;
};

describe('reliable delivery between two channels', () => {
  it('a message is delivered, acked, and nothing stays pending', () => {
    const net = new Net();
    const a = net.add(A);
    const b = net.add(B);
    net.send(A, B, teardown(1));
    assert.equal(a.pending(), 1);
    net.flush();
    assert.deepEqual(net.delivered.get(B), [{ peer: A, message: teardown(1) }]);
    assert.equal(net.wire.length, 1, 'one ack');
    net.now = 3;
    net.flush();
    assert.deepEqual(net.acked.get(A), [{ peer: B, message: teardown(1), roundTripMs: 3 }], 'acked after one transmission: its round trip');
    assert.equal(a.pending(), 0);
    assert.equal(a.counterSnapshot().frames.teardown.sent, 1);
    assert.equal(a.counterSnapshot().frames.ack.received, 1);
    assert.equal(b.counterSnapshot().frames.teardown.received, 1);
    assert.equal(b.counterSnapshot().frames.ack.sent, 1);
  });

  it('a lost datagram is retransmitted after initialMs and delivered once', () => {
    const net = new Net();
    const a = net.add(A);
    net.add(B);
    net.send(A, B, teardown(1));
    net.flush(() => 0);
    assert.equal(a.nextDeadline(), RETRY.initialMs);
    assert.deepEqual(a.tick(RETRY.initialMs - 1).transmit, [], 'nothing before the deadline');
    net.step();
    assert.equal(net.now, 20);
    net.flush();
    net.flush();
    assert.equal(net.delivered.get(B)!.length, 1);
    assert.equal(net.acked.get(A)!.length, 1);
    assert.equal(net.acked.get(A)![0]!.roundTripMs, undefined, 'no round trip for a retransmitted message (Karn)');
    assert.equal(a.counterSnapshot().frames.teardown.retransmitted, 1);
  });

  it('a lost ack: the retransmission is acked again but delivered once, and counted as a duplicate', () => {
    const net = new Net();
    const a = net.add(A);
    const b = net.add(B);
    net.send(A, B, teardown(1));
    net.flush();
    net.flush(() => 0); // the ack
    net.step();
    net.flush();
    assert.equal(net.wire.length, 1, 'acked again');
    net.flush();
    assert.equal(net.delivered.get(B)!.length, 1);
    assert.equal(b.counterSnapshot().frames.teardown.duplicate, 1);
    assert.equal(b.counterSnapshot().frames.ack.sent, 2);
    assert.equal(a.pending(), 0);
  });

  it('a duplicated datagram is delivered once; the second ack is counted as unexpected and ignored', () => {
    const net = new Net();
    const a = net.add(A);
    net.add(B);
    net.send(A, B, teardown(1));
    net.flush(() => 2);
    assert.equal(net.delivered.get(B)!.length, 1);
    net.flush();
    assert.equal(net.acked.get(A)!.length, 1);
    assert.equal(a.counterSnapshot().rejected.ack.unexpected_ack, 1);
    assert.equal(a.nextDeadline(), undefined, 'nothing to retransmit; no peer heard from');
  });

  it('reordered datagrams are each delivered once, in arrival order', () => {
    const net = new Net();
    net.add(A);
    net.add(B);
    for (let n = 1; n <= 10; n++) net.send(A, B, teardown(n));
    net.wire.reverse();
    net.flush();
    assert.deepEqual(net.delivered.get(B)!.map(nonceOf), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    net.flush();
    assert.equal(net.acked.get(A)!.length, 10);
  });

  it('after `attempts` transmissions, waiting initialMs·factor^n capped at maxMs, the message fails', () => {
    const net = new Net();
    const a = net.add(A);
    net.add(B);
    net.send(A, B, teardown(1));
    const sentAt: number[] = [net.now];
    net.flush(() => 0);
    while (net.step()) {
      if (net.wire.length > 0) sentAt.push(net.now);
      net.flush(() => 0);
    }
    assert.deepEqual(sentAt, [0, 20, 60, 140, 240], 'waits of 20, 40, 80, then 100 (the cap)');
    assert.deepEqual(net.failed.get(A), [{ peer: B, message: teardown(1), reason: 'retries_exhausted' }]);
    assert.equal(net.now, 340, 'given up one wait after the last transmission');
    assert.equal(retrySpanMs(RETRY), 340);
    assert.equal(a.pending(), 0);
    const counters = a.counterSnapshot();
    assert.equal(counters.frames.teardown.sent, 1);
    assert.equal(counters.frames.teardown.retransmitted, 4);
    assert.equal(counters.frames.teardown.delivery_failed, 1);
    assert.equal(counters.deliveryFailures.retries_exhausted, 1);
  });

  it('one attempt and no back-off are legal policies', () => {
    assert.equal(retransmitDelayMs({ initialMs: 5, factor: 1, maxMs: 5, attempts: 1 }, 9), 5);
    const net = new Net();
    net.add(A, { retry: { initialMs: 5, factor: 1, maxMs: 5, attempts: 1 } });
    net.add(B);
    net.send(A, B, teardown(1));
    net.flush(() => 0);
    net.step();
    assert.equal(net.wire.length, 0);
    assert.equal(net.failed.get(A)!.length, 1);
  });

  it('refuses bad policies, peers and messages with a clear error', () => {
    assert.throws(() => new ControlChannel({ epoch: 1, initialSeq: 0, retry: { ...RETRY, factor: 0.5 } }), /factor/);
    assert.throws(() => new ControlChannel({ epoch: 1, initialSeq: 0, retry: { ...RETRY, maxMs: 10 } }), /maxMs/);
    assert.throws(() => new ControlChannel({ epoch: -1, initialSeq: 0, retry: RETRY }), /epoch/);
    const a = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY });
    const badPeer = a.send(0, teardown(1), 0);
    assert.equal(badPeer.ok, false);
    const badMessage = a.send(B, { ...teardown(1), session: { srcIp: 0, dstIp: B, srcPort: 1, dstPort: 1 } } as ReconfigMessage, 0);
    assert.ok(!badMessage.ok && /session\.srcIp/.test(badMessage.error));
    assert.equal(a.pending(), 0);
  });
});

describe('windows', () => {
  it('the receiver: up to DUPLICATE_WINDOW - 1 behind is remembered, further behind is stale, a jump clears it', () => {
    const w = new DuplicateWindow();
    assert.equal(w.accept(1000), 'new');
    assert.equal(w.accept(1000), 'duplicate');
    assert.equal(w.accept(1000 - (DUPLICATE_WINDOW - 1)), 'new');
    assert.equal(w.accept(1000 - (DUPLICATE_WINDOW - 1)), 'duplicate');
    assert.equal(w.accept(1000 - DUPLICATE_WINDOW), 'stale');
    assert.equal(w.accept(1001), 'new');
    assert.equal(w.accept(1000), 'duplicate', 'still remembered after the shift');
    assert.equal(w.accept(1000 - (DUPLICATE_WINDOW - 1)), 'stale', 'the old low edge fell out with the shift');
    assert.equal(w.accept(1001 - (DUPLICATE_WINDOW - 1)), 'new', 'the new low edge, never seen');
    assert.equal(w.accept(1001 + DUPLICATE_WINDOW), 'new');
    assert.equal(w.accept(1001), 'stale');
    assert.equal(w.accept(1002), 'new', 'a number skipped by the jump but inside the window is new');
  });

  it('the sender: DUPLICATE_WINDOW messages in flight, the next waits until an ack makes room', () => {
    const net = new Net();
    const a = net.add(A);
    net.add(B);
    for (let n = 0; n <= DUPLICATE_WINDOW; n++) net.send(A, B, teardown(n));
    assert.equal(net.wire.length, DUPLICATE_WINDOW);
    assert.equal(a.pending(), DUPLICATE_WINDOW + 1);
    net.flush((d) => (nonceOfBytes(d.bytes) === 0 ? 1 : 0));
    assert.equal(net.delivered.get(B)!.length, 1);
    net.flush(); // the ack of message 0
    assert.equal(net.wire.length, 1, 'the queued message goes out');
    net.flush();
    assert.deepEqual(net.delivered.get(B)!.map(nonceOf), [0, DUPLICATE_WINDOW]);
  });

  it('the sender: an old message still unacked holds the window, so its retransmission is never refused as stale', () => {
    const net = new Net();
    const a = net.add(A);
    net.add(B);
    // Two windows' worth at once; the first datagram is lost, every other arrives.
    for (let n = 0; n < 2 * DUPLICATE_WINDOW; n++) net.send(A, B, teardown(n));
    net.flush((d) => (nonceOfBytes(d.bytes) === 0 ? 0 : 1));
    for (let round = 0; round < 5; round++) net.flush();
    // Acks of 1..W-1 freed slots, but nothing past 0 + W-1 went out: 0 is still within the receiver's window.
    assert.equal(net.delivered.get(B)!.length, DUPLICATE_WINDOW - 1);
    assert.equal(a.pending(), 2 * DUPLICATE_WINDOW - (DUPLICATE_WINDOW - 1));
    while (net.delivered.get(B)!.length < 2 * DUPLICATE_WINDOW && net.step()) net.flush();
    assert.equal(net.delivered.get(B)!.length, 2 * DUPLICATE_WINDOW);
    net.flush(); // the last acks
    assert.equal(a.counterSnapshot().deliveryFailures.retries_exhausted, 0);
    assert.equal(a.pending(), 0);
  });

  it('a full queue fails the message at once', () => {
    const a = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY });
    for (let n = 0; n < DUPLICATE_WINDOW + MAX_QUEUED_PER_PEER; n++) assert.equal(a.send(B, teardown(n), 0).failed.length, 0);
    const over = a.send(B, teardown(9999), 0);
    assert.deepEqual(over.failed, [{ peer: B, message: teardown(9999), reason: 'queue_full' }]);
    assert.equal(a.counterSnapshot().deliveryFailures.queue_full, 1);
  });

  it('sequence numbers wrap past 2^32 - 1 with duplicates still recognised', () => {
    const net = new Net();
    const a = net.add(A, { initialSeq: 0xfffffffd });
    const b = net.add(B);
    const seqs: number[] = [];
    for (let n = 0; n < 6; n++) {
      net.send(A, B, teardown(n));
      const r = decodeFrame(net.wire[net.wire.length - 1]!.bytes);
      assert.ok(r.ok);
      seqs.push(r.frame.seq);
    }
    assert.deepEqual(seqs, [0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1, 2]);
    const copies = [...net.wire];
    net.flush();
    net.wire.push(...copies); // every one again, across the wrap
    net.flush();
    assert.equal(net.delivered.get(B)!.length, 6);
    assert.equal(b.counterSnapshot().frames.teardown.duplicate, 6);
    net.flush();
    assert.equal(a.pending(), 0);
  });
});

describe('stale, unexpected and malformed datagrams', () => {
  it('a restarted peer (new epoch, same numbers) is heard; late copies from its former self are refused', () => {
    const net = new Net();
    net.add(A, { epoch: 111 });
    const b = net.add(B);
    net.send(A, B, teardown(1));
    const oldCopy = net.wire[0]!;
    net.flush();
    net.flush();
    net.add(A, { epoch: 222 }); // restart: numbering starts again at 0
    net.send(A, B, teardown(2));
    net.flush();
    assert.deepEqual(net.delivered.get(B)!.map(nonceOf), [1, 2], 'not taken for a duplicate of seq 0');
    net.wire.push(oldCopy);
    net.flush();
    assert.equal(net.delivered.get(B)!.length, 2);
    assert.equal(b.counterSnapshot().rejected.teardown.stale_epoch, 1);
    assert.equal(net.wire.length, 0, 'a stale copy is not acked');
  });

  it('an ack of another epoch of ours is refused as stale', () => {
    const a = new ControlChannel({ epoch: 5, initialSeq: 0, retry: RETRY });
    a.send(B, teardown(1), 0);
    const out = a.receive({ ip: B, port: PORT }, encodeFrame({ kind: 'ack', epoch: 6, seq: 0 }), 1);
    assert.deepEqual(out.acked, []);
    assert.equal(a.counterSnapshot().rejected.ack.stale_epoch, 1);
    assert.equal(a.pending(), 1);
  });

  it('a message older than the window is refused as stale, not acked', () => {
    const b = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY });
    const frame = (seq: number) => encodeFrame({ kind: 'message', epoch: 9, seq, message: teardown(seq) });
    b.receive({ ip: A, port: PORT }, frame(5000), 0);
    const out = b.receive({ ip: A, port: PORT }, frame(5000 - DUPLICATE_WINDOW), 0);
    assert.deepEqual(out, { transmit: [], deliver: [], acked: [], failed: [] });
    assert.equal(b.counterSnapshot().rejected.teardown.stale_seq, 1);
  });

  it('malformed datagrams are counted under their reason and type and change nothing', () => {
    const b = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY });
    const good = encodeFrame({ kind: 'message', epoch: 9, seq: 3, message: teardown(3) });
    const badLength = Buffer.from(good);
    badLength[7] = 0;
    const inputs = [Buffer.alloc(0), Buffer.from('GET / HTTP/1.1\r\n'), badLength, good.subarray(0, 20)];
    for (const bytes of inputs) assert.deepEqual(b.receive({ ip: A, port: PORT }, bytes, 0), { transmit: [], deliver: [], acked: [], failed: [] });
    const r = b.counterSnapshot().rejected;
    assert.equal(r.unknown.truncated, 1);
    assert.equal(r.unknown.bad_magic, 1);
    assert.equal(r.teardown.bad_length, 1);
    assert.equal(r.teardown.truncated, 1);
    assert.equal(b.nextDeadline(), undefined, 'no peer state was created');
    assert.equal(b.receive({ ip: A, port: PORT }, good, 0).deliver.length, 1, 'the good frame after them is delivered');
  });

  it('a datagram of several frames: each is taken in order; a bad one ends the datagram, the ones before it count', () => {
    const b = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY });
    const frames = [0, 1, 2].map((n) => encodeFrame({ kind: 'message', epoch: 9, seq: n, message: teardown(n) }));
    const out = b.receive({ ip: A, port: PORT }, Buffer.concat(frames), 0);
    assert.deepEqual(out.deliver.map(nonceOf), [0, 1, 2]);
    assert.equal(out.transmit.length, 3, 'an ack each');
    const tail = b.receive({ ip: A, port: PORT }, Buffer.concat([encodeFrame({ kind: 'message', epoch: 9, seq: 3, message: teardown(3) }), Buffer.alloc(2), frames[0]!]), 0);
    assert.deepEqual(tail.deliver.map(nonceOf), [3]);
    assert.equal(b.counterSnapshot().rejected.unknown.bad_magic, 1, 'the two stray bytes, and nothing after them');
  });

  it('receive state is bounded: a peer beyond MAX_PEERS is refused until silent peers are forgotten', () => {
    const b = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY });
    const frame = encodeFrame({ kind: 'message', epoch: 9, seq: 0, message: teardown(0) });
    for (let i = 1; i <= MAX_PEERS; i++) assert.equal(b.receive({ ip: i, port: PORT }, frame, 0).deliver.length, 1);
    assert.equal(b.receive({ ip: MAX_PEERS + 1, port: PORT }, frame, 1).deliver.length, 0);
    assert.equal(b.counterSnapshot().rejected.teardown.too_many_peers, 1);
    const forgetAt = 2 * retrySpanMs(RETRY);
    assert.equal(b.nextDeadline(), forgetAt);
    b.tick(forgetAt);
    assert.equal(b.nextDeadline(), undefined);
    assert.equal(b.receive({ ip: MAX_PEERS + 1, port: PORT }, frame, forgetAt).deliver.length, 1);
  });

  it('acks go back to the port the message came from', () => {
    const b = new ControlChannel({ epoch: 1, initialSeq: 0, retry: RETRY });
    const out = b.receive({ ip: A, port: 40001 }, encodeFrame({ kind: 'message', epoch: 9, seq: 0, message: teardown(0) }), 0);
    assert.deepEqual(out.transmit.map((t) => [t.peer, t.port, t.type]), [[A, 40001, 'ack']]);
  });
});

describe('under random loss, duplication and reordering', () => {
  it('every message is delivered at most once; every acked one exactly once; the rest fail, none hang', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (messages, fates, initialSeq) => {
          const net = new Net();
          const a = net.add(A, { initialSeq });
          net.add(B);
          let i = 0;
          // 0-2: lost, 3: duplicated, else delivered; batches reversed on odd rounds.
          const fate = () => {
            const f = fates[i++ % fates.length]!;
            return f < 3 ? 0 : f === 3 ? 2 : 1;
          };
          for (let n = 0; n < messages; n++) net.send(A, B, teardown(n));
          for (let round = 0; round < 1000; round++) {
            if (round % 2) net.wire.reverse();
            net.flush(fate);
            if (net.wire.length === 0 && !net.step()) break;
          }
          const delivered = net.delivered.get(B)!.map(nonceOf);
          assert.equal(new Set(delivered).size, delivered.length, 'never delivered twice');
          const acked = net.acked.get(A)!.map(nonceOf);
          const failed = net.failed.get(A)!.map(nonceOf);
          assert.equal(acked.length + failed.length, messages, 'each message is acked or failed');
          for (const n of acked) assert.ok(delivered.includes(n), `acked ${n} was delivered`);
          assert.equal(a.pending(), 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
