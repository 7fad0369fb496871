import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FLOW_TABLE_MAX_BULK,
  type FlowKey,
  type FlowTableBinding,
  type FlowTableHandle,
} from '../../src/native/table-binding';
import { Prng } from '../support/prng';
import { coreTestAddon } from '../support/core-addon';

const flowTable: FlowTableBinding = coreTestAddon.flowTable;

const BUCKET_BYTES = 64;
const SLOTS_PER_BUCKET = 15;
const MAX_LOAD = 0.85;

function keyId(k: FlowKey): string {
  return `${k.srcIp},${k.dstIp},${k.srcPort},${k.dstPort},${k.protocol}`;
}

/** Keys drawn from a small universe so that repeats (exists, erase of present keys) are common. */
function smallKey(prng: Prng, universe: number): FlowKey {
  const n = prng.int(0, universe - 1);
  return {
    srcIp: 0x0a000000 + (n % 7),
    dstIp: 0x0a000100 + ((n >>> 3) % 5),
    srcPort: 1000 + (n % 11),
    dstPort: 80 + ((n >>> 2) % 13),
    protocol: n & 1 ? 6 : 17,
  };
}

function randomKey(prng: Prng): FlowKey {
  return {
    srcIp: prng.nextUint32(),
    dstIp: prng.nextUint32(),
    srcPort: prng.int(0, 0xffff),
    dstPort: prng.int(0, 0xffff),
    protocol: prng.chance(0.5) ? 6 : 17,
  };
}

function distinctKeys(prng: Prng, count: number): FlowKey[] {
  const seen = new Set<string>();
  const out: FlowKey[] = [];
  while (out.length < count) {
    const k = randomKey(prng);
    if (!seen.has(keyId(k))) {
      seen.add(keyId(k));
      out.push(k);
    }
  }
  return out;
}

/** Every key the model holds is found with its value, and the sizes agree. */
function assertAgrees(table: FlowTableHandle, model: Map<string, [FlowKey, number]>, context: string): void {
  assert.equal(table.size(), model.size, `${context}: size`);
  for (const [key, value] of model.values()) assert.equal(table.lookup(key), value, `${context}: ${keyId(key)}`);
}

describe('FlowTable (native/core/flow_table.h)', () => {
  test('insert, lookup, update and erase one key', () => {
    const table = flowTable.create(16);
    const key: FlowKey = { srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 40000, dstPort: 443, protocol: 6 };
    assert.equal(table.lookup(key), undefined);
    assert.equal(table.erase(key), false);
    assert.equal(table.update(key, 1), false);
    assert.equal(table.insert(key, 7), 'inserted');
    assert.equal(table.insert(key, 8), 'exists');
    assert.equal(table.lookup(key), 7, 'exists leaves the value unchanged');
    assert.equal(table.update(key, 0xffffffff), true);
    assert.equal(table.lookup(key), 0xffffffff, 'values are full unsigned 32-bit');
    assert.equal(table.size(), 1);
    assert.equal(table.erase(key), true);
    assert.equal(table.erase(key), false);
    assert.equal(table.lookup(key), undefined);
    assert.equal(table.size(), 0);
  });

  test('protocol 0 is never a key', () => {
    const table = flowTable.create(4);
    const key: FlowKey = { srcIp: 0, dstIp: 0, srcPort: 0, dstPort: 0, protocol: 0 };
    assert.equal(table.insert(key, 1), 'invalid_key');
    assert.equal(table.lookup(key), undefined, 'an empty slot must not match the all-zero key');
    assert.equal(table.erase(key), false);
    assert.equal(table.update(key, 1), false);
    assert.equal(table.lookupBulk([key]).hitMask, 0n);
    assert.equal(table.size(), 0);
  });

  test('create rejects 0 and sizes the buckets for a load factor of at most 0.85', () => {
    assert.throws(() => flowTable.create(0), RangeError);
    assert.throws(() => flowTable.create(2 ** 30 + 1), RangeError);
    for (const max of [1, 2, 3, 4, 5, 12, 13, 100, 1000, 10000, 12345]) {
      const table = flowTable.create(max);
      assert.equal(table.capacity(), max);
      const buckets = table.memoryBytes() / BUCKET_BYTES;
      assert.ok(Number.isInteger(buckets), `${max}: whole buckets`);
      assert.ok(max < buckets * SLOTS_PER_BUCKET, `${max}: a slot stays free at max`);
      assert.ok(max / (buckets * SLOTS_PER_BUCKET) <= MAX_LOAD, `${max}: load factor at max`);
      assert.ok(buckets === 1 || max / ((buckets - 1) * SLOTS_PER_BUCKET) >= MAX_LOAD, `${max}: smallest such table`);
    }
  });

  test('keys differing in one field are distinct entries', () => {
    const table = flowTable.create(64);
    const base: FlowKey = { srcIp: 0xc0a80001, dstIp: 0xc0a80002, srcPort: 1234, dstPort: 80, protocol: 6 };
    const variants: FlowKey[] = [
      base,
      { ...base, srcPort: base.dstPort, dstPort: base.srcPort },
      { ...base, srcIp: base.dstIp, dstIp: base.srcIp },
      { srcIp: base.dstIp, dstIp: base.srcIp, srcPort: base.dstPort, dstPort: base.srcPort, protocol: 6 },
      { ...base, protocol: 17 },
      { ...base, protocol: 255 },
      { ...base, srcIp: base.srcIp + 0x100 },
      { ...base, dstIp: base.dstIp ^ 0x80000000 },
      { ...base, srcPort: base.srcPort + 1 },
      { ...base, dstPort: base.dstPort + 256 },
      { ...base, srcIp: base.dstIp },
    ];
    assert.equal(new Set(variants.map(keyId)).size, variants.length);
    variants.forEach((k, i) => assert.equal(table.insert(k, 100 + i), 'inserted', keyId(k)));
    variants.forEach((k, i) => assert.equal(table.lookup(k), 100 + i, keyId(k)));
    assert.equal(table.erase(variants[0]!), true);
    assert.equal(table.lookup(variants[0]!), undefined);
    variants.slice(1).forEach((k, i) => assert.equal(table.lookup(k), 101 + i, `after erase: ${keyId(k)}`));
  });

  test('full at capacity: insert reports full, exists still wins, erase makes room', () => {
    const prng = new Prng(0xf011);
    for (const max of [1, 2, 3, 7, 100, 3000]) {
      const table = flowTable.create(max);
      const keys = distinctKeys(prng, max + 1);
      for (let i = 0; i < max; i++) assert.equal(table.insert(keys[i]!, i), 'inserted', `${max}: key ${i}`);
      assert.equal(table.size(), max);
      assert.equal(table.insert(keys[max]!, max), 'full');
      assert.equal(table.lookup(keys[max]!), undefined);
      assert.equal(table.insert(keys[0]!, 999), 'exists');
      for (let i = 0; i < max; i++) assert.equal(table.lookup(keys[i]!), i);
      assert.equal(table.erase(keys[max >> 1]!), true);
      assert.equal(table.insert(keys[max]!, max), 'inserted');
      assert.equal(table.lookup(keys[max]!), max);
      assert.equal(table.insert(keys[max >> 1]!, 0), 'full');
    }
  });

  test('randomized operations agree with a Map (small key universe, several sizes)', () => {
    for (const [max, universe, ops, seed] of [
      [1, 4, 2000, 1],
      [2, 6, 4000, 2],
      [3, 8, 4000, 3],
      [8, 24, 20000, 4],
      [64, 160, 60000, 5],
      [1000, 1500, 100000, 6],
    ] as const) {
      const prng = new Prng(seed);
      const table = flowTable.create(max);
      const model = new Map<string, [FlowKey, number]>();
      const context = `max ${max} seed ${seed}`;
      for (let op = 0; op < ops; op++) {
        const key = smallKey(prng, universe);
        const id = keyId(key);
        const roll = prng.int(0, 99);
        if (roll < 45) {
          const value = prng.nextUint32();
          const expected = model.has(id) ? 'exists' : model.size === max ? 'full' : 'inserted';
          assert.equal(table.insert(key, value), expected, `${context} op ${op}: insert ${id}`);
          if (expected === 'inserted') model.set(id, [key, value]);
        } else if (roll < 75) {
          assert.equal(table.erase(key), model.delete(id), `${context} op ${op}: erase ${id}`);
        } else if (roll < 80) {
          const value = prng.nextUint32();
          assert.equal(table.update(key, value), model.has(id), `${context} op ${op}: update ${id}`);
          if (model.has(id)) model.set(id, [key, value]);
        } else {
          assert.equal(table.lookup(key), model.get(id)?.[1], `${context} op ${op}: lookup ${id}`);
        }
        if (op % 997 === 0) assertAgrees(table, model, `${context} op ${op}`);
      }
      assertAgrees(table, model, `${context} end`);
      for (const [key] of [...model.values()]) assert.equal(table.erase(key), true);
      assert.equal(table.size(), 0);
    }
  });

  test('heavy churn at full load keeps every entry reachable', () => {
    const prng = new Prng(0xc4c4);
    for (const max of [5, 48, 3000]) {
      const table = flowTable.create(max);
      const model = new Map<string, [FlowKey, number]>();
      const present: FlowKey[] = [];
      for (const key of distinctKeys(prng, max)) {
        const value = prng.nextUint32();
        assert.equal(table.insert(key, value), 'inserted');
        model.set(keyId(key), [key, value]);
        present.push(key);
      }
      const rounds = Math.max(20000, max * 20);
      for (let round = 0; round < rounds; round++) {
        // Erase a random present key, then insert a fresh one: the table stays at capacity.
        const at = prng.int(0, present.length - 1);
        const gone = present[at]!;
        assert.equal(table.erase(gone), true, `max ${max} round ${round}: erase`);
        model.delete(keyId(gone));
        assert.equal(table.lookup(gone), undefined);
        let fresh = randomKey(prng);
        while (model.has(keyId(fresh))) fresh = randomKey(prng);
        const value = prng.nextUint32();
        assert.equal(table.insert(fresh, value), 'inserted', `max ${max} round ${round}: insert`);
        model.set(keyId(fresh), [fresh, value]);
        present[at] = fresh;
        assert.equal(table.insert(randomKey(prng), 0), 'full');
        if (round % (max * 4) === 0) assertAgrees(table, model, `max ${max} round ${round}`);
      }
      assertAgrees(table, model, `max ${max} end`);
    }
  });

  test('lookupBulk equals single lookups', () => {
    const prng = new Prng(0xb01c);
    const table = flowTable.create(500);
    const keys = distinctKeys(prng, 1000);
    for (let i = 0; i < 500; i++) table.insert(keys[i]!, i * 7);
    for (let i = 0; i < 100; i++) table.erase(keys[prng.int(0, 499)]!);
    for (let round = 0; round < 300; round++) {
      const n = round < 65 ? round : prng.int(0, FLOW_TABLE_MAX_BULK);
      const batch: FlowKey[] = [];
      for (let i = 0; i < n; i++) {
        batch.push(prng.chance(0.05) ? { ...randomKey(prng), protocol: 0 } : keys[prng.int(0, keys.length - 1)]!);
      }
      const { hitMask, values } = table.lookupBulk(batch);
      assert.equal(values.length, n);
      let expectedMask = 0n;
      batch.forEach((key, i) => {
        const single = table.lookup(key);
        if (single !== undefined) expectedMask |= 1n << BigInt(i);
        assert.equal(values[i], single, `round ${round} key ${i}`);
      });
      assert.equal(hitMask, expectedMask, `round ${round}`);
    }
    assert.throws(() => table.lookupBulk(keys.slice(0, FLOW_TABLE_MAX_BULK + 1)), RangeError);
  });
});
