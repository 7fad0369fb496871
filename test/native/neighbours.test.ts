import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ENQUEUE_RESULT_NAMES,
  LEARN_RESULT_NAMES,
  NEIGHBOUR_STATE_NAMES,
  RESOLVE_RESULT_NAMES,
  type NeighbourBinding,
  type NeighbourTableOptions,
  type NativeNeighbourTable,
} from '../../src/native/neighbour-binding';
import { ipv4ToNumber } from '../support/packet-builder';
import { Prng } from '../support/prng';
import { coreTestAddon } from '../support/core-addon';

const neighbours: NeighbourBinding = coreTestAddon.neighbours;

const MS = 1_000_000;
const SEC = 1000 * MS;

function mac(text: string): Buffer {
  const bytes = Buffer.from(text.split(':').join(''), 'hex');
  assert.equal(bytes.length, 6, `bad MAC in test: ${text}`);
  return bytes;
}

const HOST_MAC = mac('02:00:00:00:00:01');
const PEER_MAC = mac('02:00:00:00:00:02');
const OTHER_MAC = mac('02:00:00:00:00:03');
const HOST_IP = ipv4ToNumber('10.0.0.1');
const PEER_IP = ipv4ToNumber('10.0.0.2');
const GATEWAY_IP = ipv4ToNumber('10.0.0.254');

// ---- an ARP frame builder written from RFC 826, independently of native/core/arp.cc ----------------

interface ArpFields {
  ethDst?: Buffer;
  ethSrc?: Buffer;
  etherType?: number;
  htype?: number;
  ptype?: number;
  hlen?: number;
  plen?: number;
  op: number;
  senderMac: Buffer;
  senderIp: number;
  targetMac: Buffer;
  targetIp: number;
  /** Total frame length; zero bytes are added after the 42-byte message. */
  padTo?: number;
}

function arpFrame(f: ArpFields): Buffer {
  const frame = Buffer.alloc(Math.max(42, f.padTo ?? 42));
  (f.ethDst ?? Buffer.alloc(6, 0xff)).copy(frame, 0);
  (f.ethSrc ?? f.senderMac).copy(frame, 6);
  frame.writeUInt16BE(f.etherType ?? 0x0806, 12);
  frame.writeUInt16BE(f.htype ?? 1, 14);
  frame.writeUInt16BE(f.ptype ?? 0x0800, 16);
  frame.writeUInt8(f.hlen ?? 6, 18);
  frame.writeUInt8(f.plen ?? 4, 19);
  frame.writeUInt16BE(f.op, 20);
  f.senderMac.copy(frame, 22);
  frame.writeUInt32BE(f.senderIp, 28);
  f.targetMac.copy(frame, 32);
  frame.writeUInt32BE(f.targetIp, 38);
  return frame;
}

const REQUEST: ArpFields = {
  op: ARP_OP_REQUEST,
  senderMac: HOST_MAC,
  senderIp: HOST_IP,
  targetMac: Buffer.alloc(6),
  targetIp: PEER_IP,
};
const REPLY: ArpFields = {
  ethDst: HOST_MAC,
  op: ARP_OP_REPLY,
  senderMac: PEER_MAC,
  senderIp: PEER_IP,
  targetMac: HOST_MAC,
  targetIp: HOST_IP,
};

function table(options: NeighbourTableOptions = {}): NativeNeighbourTable {
  return new neighbours.NeighbourTable(options);
}

describe('neighbour name tables', () => {
  test('the TypeScript lists agree with the native ones', () => {
    assert.deepEqual(neighbours.resolveResultNames, RESOLVE_RESULT_NAMES);
    assert.deepEqual(neighbours.enqueueResultNames, ENQUEUE_RESULT_NAMES);
    assert.deepEqual(neighbours.learnResultNames, LEARN_RESULT_NAMES);
    assert.deepEqual(neighbours.stateNames, NEIGHBOUR_STATE_NAMES);
  });
});

describe('parseArp', () => {
  for (const [name, fields] of [
    ['request', REQUEST],
    ['reply', REPLY],
  ] as const) {
    for (const padTo of [42, 60]) {
      test(`a ${name} of ${padTo} bytes`, () => {
        const frame = arpFrame({ ...fields, padTo });
        const before = Buffer.from(frame);
        const parsed = neighbours.parseArp(frame);
        assert.deepEqual(parsed, {
          op: fields.op,
          ethDst: fields.ethDst ?? Buffer.alloc(6, 0xff),
          ethSrc: fields.senderMac,
          senderMac: fields.senderMac,
          senderIp: fields.senderIp,
          targetMac: fields.targetMac,
          targetIp: fields.targetIp,
          gratuitous: false,
        });
        assert.deepEqual(frame, before, 'parsing is read-only');
      });
    }
  }

  test('a gratuitous announcement names the sender as target', () => {
    const parsed = neighbours.parseArp(arpFrame({ ...REQUEST, targetIp: HOST_IP, padTo: 60 }));
    assert.equal(parsed?.gratuitous, true);
  });

  test('every truncation of a valid frame is rejected', () => {
    for (const fields of [REQUEST, REPLY]) {
      const frame = arpFrame({ ...fields, padTo: 60 });
      for (let length = 0; length < 42; length++) {
        // A copy, so a read past the end would be past the Buffer and not into the rest of the frame.
        const truncated = Buffer.from(frame.subarray(0, length));
        assert.equal(neighbours.parseArp(truncated), null, `length ${length}`);
      }
      assert.notEqual(neighbours.parseArp(Buffer.from(frame.subarray(0, 42))), null);
    }
  });

  test('bad fields are rejected', () => {
    const bad: [string, Partial<ArpFields>][] = [
      ['EtherType IPv4', { etherType: 0x0800 }],
      ['EtherType VLAN (tagged frames are not parsed)', { etherType: 0x8100 }],
      ['htype 6 (IEEE 802)', { htype: 6 }],
      ['htype 0', { htype: 0 }],
      ['ptype IPv6', { ptype: 0x86dd }],
      ['hlen 8', { hlen: 8 }],
      ['hlen 0', { hlen: 0 }],
      ['plen 16', { plen: 16 }],
      ['op 0', { op: 0 }],
      ['op 3 (RARP request)', { op: 3 }],
      ['op 0x0101', { op: 0x0101 }],
    ];
    for (const [name, change] of bad) {
      assert.equal(neighbours.parseArp(arpFrame({ ...REQUEST, ...change, padTo: 60 })), null, name);
    }
  });

  test('random bytes never crash and are only accepted when the header is right', () => {
    const prng = new Prng(0xa4b);
    for (let i = 0; i < 2000; i++) {
      const frame = prng.bytes(prng.int(0, 80));
      if (frame.length >= 14 && prng.chance(0.5)) frame.writeUInt16BE(0x0806, 12);
      const parsed = neighbours.parseArp(frame);
      const valid =
        frame.length >= 42 &&
        frame.readUInt16BE(12) === 0x0806 &&
        frame.readUInt16BE(14) === 1 &&
        frame.readUInt16BE(16) === 0x0800 &&
        frame[18] === 6 &&
        frame[19] === 4 &&
        (frame.readUInt16BE(20) === 1 || frame.readUInt16BE(20) === 2);
      assert.equal(parsed !== null, valid);
    }
  });
});

describe('buildArpRequest', () => {
  test('a broadcast who-has, byte-exact and padded to 60 bytes', () => {
    const built = neighbours.buildArpRequest(HOST_MAC, HOST_IP, GATEWAY_IP);
    const expected = arpFrame({ ...REQUEST, targetIp: GATEWAY_IP, padTo: 60 });
    assert.equal(built.length, 60);
    assert.deepEqual(built, expected);
    assert.deepEqual(built.subarray(42), Buffer.alloc(18), 'zero padding');
    const parsed = neighbours.parseArp(built);
    assert.equal(parsed?.op, ARP_OP_REQUEST);
    assert.equal(parsed?.senderIp, HOST_IP);
    assert.equal(parsed?.targetIp, GATEWAY_IP);
  });

  test('addresses with high bytes keep their order', () => {
    const sender = ipv4ToNumber('192.168.200.7');
    const target = ipv4ToNumber('255.1.2.3');
    const built = neighbours.buildArpRequest(OTHER_MAC, sender, target);
    const expected = arpFrame({ ...REQUEST, senderMac: OTHER_MAC, senderIp: sender, targetIp: target, padTo: 60 });
    assert.deepEqual(built, expected);
  });

  test('a MAC that is not 6 bytes is a TypeError', () => {
    assert.throws(() => neighbours.buildArpRequest(Buffer.alloc(5), HOST_IP, PEER_IP), TypeError);
  });
});

describe('NeighbourTable', () => {
  test('options out of range throw INVALID_ARGUMENT', () => {
    for (const options of [{ capacity: 0 }, { maxRequests: 0 }, { maxQueuedPerEntry: 0 }, { maxQueuedTotal: 0 }]) {
      assert.throws(() => table(options), { code: 'INVALID_ARGUMENT' }, JSON.stringify(options));
    }
    assert.throws(() => table({ retryIntervalNs: -1 }), RangeError);
  });

  test('resolve → need request → pending → learn → reachable, queued handles become sendable in order', () => {
    const t = table();
    const t0 = 5 * SEC;
    assert.deepEqual(t.resolve(PEER_IP, t0), { status: 'need_request' });
    assert.equal(t.enqueue(PEER_IP, 11, t0), 'queued');
    assert.deepEqual(t.resolve(PEER_IP, t0 + 1 * MS), { status: 'pending' });
    assert.equal(t.enqueue(PEER_IP, 12, t0 + 1 * MS), 'queued');
    assert.equal(t.lookup(PEER_IP)?.state, 'incomplete');
    assert.equal(t.stats().queued, 2);

    assert.deepEqual(t.learn(PEER_IP, PEER_MAC, t0 + 2 * MS), { status: 'resolved', sendable: [11, 12] });
    assert.deepEqual(t.resolve(PEER_IP, t0 + 3 * MS), { status: 'reachable', mac: PEER_MAC });
    assert.equal(t.enqueue(PEER_IP, 13, t0 + 3 * MS), 'not_resolving', 'nothing queues behind a reachable entry');
    assert.deepEqual(t.expire(t0 + 10 * SEC), []);
    assert.deepEqual(t.stats(), { size: 1, queued: 0, capacity: 256, evictions: 0, failures: 0 });
  });

  test('learn never creates an entry and ignores zero or group MACs', () => {
    const t = table();
    assert.deepEqual(t.learn(PEER_IP, PEER_MAC, 0), { status: 'untracked', sendable: [] });
    assert.equal(t.lookup(PEER_IP), undefined);
    t.resolve(PEER_IP, 0);
    assert.equal(t.enqueue(PEER_IP, 1, 0), 'queued');
    assert.equal(t.learn(PEER_IP, Buffer.alloc(6), 0).status, 'invalid_mac');
    assert.equal(t.learn(PEER_IP, Buffer.alloc(6, 0xff), 0).status, 'invalid_mac');
    assert.equal(t.learn(PEER_IP, mac('01:00:5e:00:00:01'), 0).status, 'invalid_mac');
    assert.equal(t.lookup(PEER_IP)?.state, 'incomplete');
    assert.deepEqual(t.learn(PEER_IP, PEER_MAC, 0), { status: 'resolved', sendable: [1] });
  });

  test('a gratuitous ARP with another MAC replaces it; the same MAC refreshes', () => {
    const t = table();
    t.resolve(PEER_IP, 0);
    t.learn(PEER_IP, PEER_MAC, 0);
    assert.equal(t.learn(PEER_IP, PEER_MAC, 1 * SEC).status, 'refreshed');
    assert.equal(t.learn(PEER_IP, OTHER_MAC, 2 * SEC).status, 'changed');
    assert.deepEqual(t.resolve(PEER_IP, 3 * SEC), { status: 'reachable', mac: OTHER_MAC });
  });

  test('re-requests are rate-limited to one per retry interval per entry', () => {
    const t = table({ retryIntervalNs: 200 * MS, maxRequests: 3 });
    const t0 = 1 * SEC;
    assert.equal(t.resolve(PEER_IP, t0).status, 'need_request');
    for (let dt = 0; dt < 200 * MS; dt += 20 * MS) assert.equal(t.resolve(PEER_IP, t0 + dt).status, 'pending');
    assert.equal(t.resolve(PEER_IP, t0 + 199 * MS).status, 'pending');
    assert.equal(t.resolve(PEER_IP, t0 + 200 * MS).status, 'need_request');
    assert.equal(t.resolve(PEER_IP, t0 + 300 * MS).status, 'pending', 'the interval restarts at the re-request');
    assert.equal(t.resolve(GATEWAY_IP, t0 + 300 * MS).status, 'need_request', 'another entry has its own limit');
    assert.equal(t.resolve(PEER_IP, t0 + 400 * MS).status, 'need_request');
    assert.equal(t.lookup(PEER_IP)?.requestsSent, 3);
    assert.equal(t.resolve(PEER_IP, t0 + 599 * MS).status, 'pending');
    assert.equal(t.resolve(PEER_IP, t0 + 600 * MS).status, 'failed', 'the third request went unanswered');
  });

  test('retries exhausted → failed; queued handles come back once; a new attempt after the hold', () => {
    const t = table({ retryIntervalNs: 200 * MS, maxRequests: 3, queueTimeoutNs: 5 * SEC, failedHoldNs: 1 * SEC });
    assert.equal(t.resolve(PEER_IP, 0).status, 'need_request');
    for (const handle of [1, 2, 3]) assert.equal(t.enqueue(PEER_IP, handle, 0), 'queued');
    assert.equal(t.resolve(PEER_IP, 200 * MS).status, 'need_request');
    assert.equal(t.enqueue(PEER_IP, 4, 200 * MS), 'queued');
    assert.equal(t.resolve(PEER_IP, 400 * MS).status, 'need_request');
    assert.deepEqual(t.expire(599 * MS), [], 'still waiting for the last answer');
    assert.deepEqual(t.expire(600 * MS), [1, 2, 3, 4]);
    assert.deepEqual(t.expire(601 * MS), [], 'exactly once');
    assert.equal(t.lookup(PEER_IP)?.state, 'failed');
    assert.equal(t.stats().failures, 1);
    assert.equal(t.stats().queued, 0);
    assert.equal(t.resolve(PEER_IP, 700 * MS).status, 'failed');
    assert.equal(t.enqueue(PEER_IP, 5, 700 * MS), 'not_resolving');
    assert.deepEqual(t.learn(PEER_IP, PEER_MAC, 800 * MS).sendable, [], 'a late answer has nothing left to send');
    assert.equal(t.resolve(PEER_IP, 800 * MS).status, 'reachable');
  });

  test('a failed entry is removed by expire after the hold, and resolve starts over', () => {
    const t = table({ maxRequests: 1, failedHoldNs: 1 * SEC });
    assert.equal(t.resolve(PEER_IP, 0).status, 'need_request');
    assert.equal(t.enqueue(PEER_IP, 7, 0), 'queued');
    assert.equal(t.resolve(PEER_IP, 200 * MS).status, 'failed', 'one request, unanswered for one interval');
    assert.equal(t.enqueue(PEER_IP, 8, 200 * MS), 'not_resolving');
    assert.deepEqual(t.expire(300 * MS), [7], 'handles of a failed entry come back at the next expire');
    assert.equal(t.resolve(PEER_IP, 1199 * MS).status, 'failed');
    assert.equal(t.resolve(PEER_IP, 1200 * MS).status, 'need_request', 'a new attempt after the hold');
    assert.equal(t.resolve(PEER_IP, 1400 * MS).status, 'failed');
    assert.deepEqual(t.expire(2400 * MS), []);
    assert.equal(t.lookup(PEER_IP), undefined);
    assert.equal(t.stats().size, 0);
  });

  test('handles that wait longer than the queue timeout come back, younger ones stay', () => {
    const t = table({ maxRequests: 100, queueTimeoutNs: 1 * SEC });
    t.resolve(PEER_IP, 0);
    t.enqueue(PEER_IP, 1, 0);
    t.resolve(PEER_IP, 500 * MS);
    t.enqueue(PEER_IP, 2, 500 * MS);
    assert.deepEqual(t.expire(999 * MS), []);
    assert.deepEqual(t.expire(1000 * MS), [1]);
    assert.deepEqual(t.learn(PEER_IP, PEER_MAC, 1200 * MS).sendable, [2]);
  });

  test('the per-entry and the total queue limits', () => {
    const t = table({ maxQueuedPerEntry: 8, maxQueuedTotal: 10 });
    t.resolve(PEER_IP, 0);
    for (let h = 0; h < 8; h++) assert.equal(t.enqueue(PEER_IP, h, 0), 'queued');
    assert.equal(t.enqueue(PEER_IP, 8, 0), 'entry_full');
    t.resolve(GATEWAY_IP, 0);
    assert.equal(t.enqueue(GATEWAY_IP, 100, 0), 'queued');
    assert.equal(t.enqueue(GATEWAY_IP, 101, 0), 'queued');
    assert.equal(t.enqueue(GATEWAY_IP, 102, 0), 'total_full');
    assert.equal(t.stats().queued, 10);
    assert.deepEqual(t.learn(PEER_IP, PEER_MAC, 0).sendable, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(t.enqueue(GATEWAY_IP, 102, 0), 'queued', 'room again once the queue drained');
    assert.deepEqual(t.clear(), [100, 101, 102]);
    assert.deepEqual(t.stats(), { size: 0, queued: 0, capacity: 256, evictions: 0, failures: 0 });
  });

  test('after its lifetime a reachable entry is stale: it still forwards and asks for a re-request', () => {
    const t = table({ reachableLifetimeNs: 30 * SEC, retryIntervalNs: 200 * MS, maxRequests: 3 });
    t.resolve(PEER_IP, 0);
    t.learn(PEER_IP, PEER_MAC, 1 * SEC);
    assert.deepEqual(t.resolve(PEER_IP, 31 * SEC - 1), { status: 'reachable', mac: PEER_MAC });
    assert.deepEqual(t.resolve(PEER_IP, 31 * SEC), { status: 'stale_need_request', mac: PEER_MAC });
    assert.deepEqual(
      t.resolve(PEER_IP, 31 * SEC + 100 * MS),
      { status: 'stale', mac: PEER_MAC },
      'one request per interval',
    );
    assert.equal(t.enqueue(PEER_IP, 1, 31 * SEC), 'not_resolving', 'a stale entry forwards, nothing queues');
    assert.deepEqual(t.learn(PEER_IP, PEER_MAC, 31 * SEC + 150 * MS), { status: 'refreshed', sendable: [] });
    assert.equal(t.resolve(PEER_IP, 32 * SEC).status, 'reachable');
  });

  test('a stale entry whose re-requests go unanswered fails', () => {
    const t = table({ reachableLifetimeNs: 10 * SEC, retryIntervalNs: 200 * MS, maxRequests: 2 });
    t.resolve(PEER_IP, 0);
    t.learn(PEER_IP, PEER_MAC, 0);
    assert.equal(t.resolve(PEER_IP, 10 * SEC).status, 'stale_need_request');
    assert.equal(t.resolve(PEER_IP, 10 * SEC + 200 * MS).status, 'stale_need_request');
    assert.equal(t.resolve(PEER_IP, 10 * SEC + 399 * MS).status, 'stale');
    assert.deepEqual(t.resolve(PEER_IP, 10 * SEC + 400 * MS), { status: 'failed' });
  });

  test('capacity: full of resolutions in progress → table_full; otherwise the least recently used is reused', () => {
    const t = table({ capacity: 4 });
    const ips = [1, 2, 3, 4].map((i) => ipv4ToNumber(`10.0.1.${i}`));
    const fifth = ipv4ToNumber('10.0.1.5');
    for (const ip of ips) assert.equal(t.resolve(ip, 0).status, 'need_request');
    assert.equal(t.resolve(fifth, 0).status, 'table_full');
    assert.equal(t.enqueue(fifth, 1, 0), 'not_resolving');
    assert.equal(t.stats().size, 4);

    t.learn(ips[1]!, PEER_MAC, 1 * MS);
    t.learn(ips[2]!, OTHER_MAC, 1 * MS);
    t.resolve(ips[1]!, 5 * MS);
    t.resolve(ips[2]!, 3 * MS); // ips[2] is now the least recently used reachable entry
    assert.equal(t.resolve(fifth, 10 * MS).status, 'need_request');
    assert.equal(t.lookup(ips[2]!), undefined, 'the least recently used entry was reused');
    assert.equal(t.lookup(ips[1]!)?.state, 'reachable');
    assert.equal(t.stats().evictions, 1);
    assert.equal(t.stats().size, 4);
    // Entries with queued handles are never evicted.
    assert.equal(t.enqueue(fifth, 9, 10 * MS), 'queued');
    assert.equal(t.resolve(ipv4ToNumber('10.0.1.6'), 20 * MS).status, 'need_request', 'evicts ips[1]');
    assert.equal(t.resolve(ipv4ToNumber('10.0.1.7'), 20 * MS).status, 'table_full');
    assert.deepEqual(t.clear(), [9]);
  });

  test('many addresses through a small table keep the index consistent', () => {
    const t = table({ capacity: 64, maxRequests: 1, failedHoldNs: 0 });
    const prng = new Prng(77);
    let now = 0;
    for (let round = 0; round < 50; round++) {
      const live = new Map<number, Buffer>();
      for (let i = 0; i < 64; i++) {
        const ip = prng.nextUint32();
        if (live.has(ip)) continue;
        assert.equal(t.resolve(ip, now).status, 'need_request');
        const m = Buffer.from([0x02, ...prng.bytes(5)]);
        t.learn(ip, m, now);
        live.set(ip, m);
      }
      for (const [ip, m] of live) assert.deepEqual(t.resolve(ip, now), { status: 'reachable', mac: m });
      now += SEC;
      t.clear();
      assert.equal(t.stats().size, 0);
    }
  });
});

describe('NeighbourTable hands every handle back exactly once', () => {
  for (const seed of [1, 2, 3, 0xdead, 0xbeef]) {
    test(`random enqueue/learn/expire/clear with a moving clock (seed ${seed})`, () => {
      const prng = new Prng(seed);
      const options = {
        capacity: 8,
        maxQueuedPerEntry: 4,
        maxQueuedTotal: 20,
        maxRequests: 3,
        retryIntervalNs: 200 * MS,
        reachableLifetimeNs: 3 * SEC,
        queueTimeoutNs: 1 * SEC,
        failedHoldNs: 1 * SEC,
      };
      const t = table(options);
      const ips = Array.from({ length: 12 }, (_, i) => ipv4ToNumber(`10.9.0.${i + 1}`));
      const outstanding = new Map<number, { ip: number; at: number }>();
      let nextHandle = 1;
      let now = 0;
      let accepted = 0;
      let returned = 0;
      const seen = new Map<string, number>();
      const note = (what: string, count = 1): void => void seen.set(what, (seen.get(what) ?? 0) + count);

      const takeBack = (handles: number[], why: string, ip?: number): void => {
        note(`${why} returned`, handles.length);
        for (const h of handles) {
          const entry = outstanding.get(h);
          assert.ok(entry !== undefined, `${why}: handle ${h} came back but was not outstanding`);
          if (ip !== undefined) assert.equal(entry.ip, ip, `${why}: handle ${h} was queued for another address`);
          outstanding.delete(h);
          returned++;
        }
      };

      for (let step = 0; step < 4000; step++) {
        now += prng.chance(0.3) ? prng.int(0, 400) * MS : prng.int(0, 5) * MS;
        const ip = ips[prng.int(0, ips.length - 1)]!;
        const roll = prng.int(0, 99);
        if (roll < 55) {
          const { status } = t.resolve(ip, now);
          note(status);
          if (status === 'need_request' || status === 'pending') {
            const handle = nextHandle++;
            const result = t.enqueue(ip, handle, now);
            if (result === 'queued') {
              outstanding.set(handle, { ip, at: now });
              accepted++;
            } else {
              assert.ok(result === 'entry_full' || result === 'total_full', `enqueue after ${status}: ${result}`);
            }
          } else {
            assert.equal(t.enqueue(ip, nextHandle++, now), 'not_resolving', `enqueue after ${status}`);
          }
        } else if (roll < 75) {
          const m = prng.chance(0.5) ? PEER_MAC : OTHER_MAC;
          takeBack(t.learn(ip, m, now).sendable, 'learn', ip);
        } else if (roll < 98) {
          takeBack(t.expire(now), 'expire');
          for (const [h, { at }] of outstanding) {
            assert.ok(now - at < options.queueTimeoutNs, `handle ${h} outlived the queue timeout after expire`);
          }
        } else {
          takeBack(t.clear(), 'clear');
          assert.equal(outstanding.size, 0, 'clear returns everything');
        }
        const stats = t.stats();
        assert.equal(stats.queued, outstanding.size, `step ${step}: the table holds what we think it holds`);
        assert.ok(stats.queued <= options.maxQueuedTotal);
        assert.ok(stats.size <= options.capacity);
      }
      takeBack(t.clear(), 'final clear');
      assert.equal(outstanding.size, 0);
      assert.equal(returned, accepted);
      assert.ok(accepted > 100, `the sequence exercised the queue (${accepted} accepted)`);
      for (const path of ['need_request', 'pending', 'reachable', 'failed', 'learn returned', 'expire returned']) {
        assert.ok((seen.get(path) ?? 0) > 0, `the sequence reached ${path}: ${JSON.stringify([...seen])}`);
      }
    });
  }
});
