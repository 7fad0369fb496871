// native/core/mac.h: SHA-256 and HMAC-SHA-256 against their published test vectors (FIPS 180-4's examples, RFC 4231)
// and against Node's own crypto on random keys and messages of every length around the block edges; SipHash-2-4
// against the vector of its paper.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { coreTestAddon } from '../support/core-addon';
import { Prng } from '../support/prng';

const { mac } = coreTestAddon;
const hex = (b: Buffer) => b.toString('hex');
const range = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i));

describe('MACs of native/core (mac.h)', () => {
  test('SHA-256: the FIPS 180-4 examples, and Node\'s digest for every length from 0 to 200', () => {
    assert.equal(hex(mac.sha256(Buffer.from('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(hex(mac.sha256(Buffer.alloc(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(
      hex(mac.sha256(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    const prng = new Prng(7);
    for (let n = 0; n <= 200; n++) {
      const data = prng.bytes(n);
      assert.equal(hex(mac.sha256(data)), createHash('sha256').update(data).digest('hex'), `length ${n}`);
    }
  });

  test('HMAC-SHA-256: RFC 4231 cases 1, 2 and 6 (a key longer than a block), and Node\'s HMAC on random keys', () => {
    assert.equal(hex(mac.hmacSha256(Buffer.alloc(20, 0x0b), Buffer.from('Hi There'))), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    assert.equal(hex(mac.hmacSha256(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'))), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    assert.equal(
      hex(mac.hmacSha256(Buffer.alloc(131, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'))),
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    );
    const prng = new Prng(11);
    for (let n = 0; n <= 140; n += 3) {
      const key = prng.bytes(1 + (n % 90));
      const data = prng.bytes(n);
      assert.equal(hex(mac.hmacSha256(key, data)), createHmac('sha256', key).update(data).digest('hex'), `key ${key.length}, data ${n}`);
    }
  });

  test('SipHash-2-4: the paper\'s vector (key 00..0f, message 00..0e); a one-bit change of key or message changes the tag', () => {
    const key = range(16);
    assert.equal(hex(mac.sipHash24(key, range(15))), 'e545be4961ca29a1');
    const tag = mac.sipHash24(key, range(40));
    const otherKey = Buffer.from(key);
    otherKey[3] ^= 1;
    const otherData = range(40);
    otherData[39] ^= 0x80;
    assert.notEqual(hex(mac.sipHash24(otherKey, range(40))), hex(tag));
    assert.notEqual(hex(mac.sipHash24(key, otherData)), hex(tag));
    assert.throws(() => mac.sipHash24(Buffer.alloc(15), range(4)), /16 bytes/);
    assert.throws(() => mac.hmacSha256('key' as never, range(4)), /Buffer/);
  });
});

describe('the address list\'s authentication block (native/core/list_auth.h)', () => {
  const { protocol } = coreTestAddon;
  const KEY_A = { id: 7, key: Buffer.alloc(16, 0xa5) };
  const KEY_B = { id: 9, key: Buffer.alloc(16, 0x5a) };
  const NOW = 1_800_000_000;
  // The SYN's IPv4 source, destination and TCP ports: 10.0.0.1:61000 → 10.0.1.1:61001.
  const CARRIER = Buffer.from([10, 0, 0, 1, 10, 0, 1, 1, 0xee, 0x48, 0xee, 0x49]);
  // A list of two hops for a session 10.0.0.1:40000 → 10.0.0.2:80 (network-order fields, as the datapath keeps them).
  const list = () =>
    protocol.encodeAddressList(
      { srcIp: Buffer.from([10, 0, 0, 1]).readUInt32LE(0), dstIp: Buffer.from([10, 0, 0, 2]).readUInt32LE(0), srcPort: 0x409c, dstPort: 0x5000, protocol: 6 } as never,
      [Buffer.from([10, 0, 1, 1]).readUInt32LE(0), Buffer.from([10, 0, 0, 2]).readUInt32LE(0)],
    );

  test('signed, it verifies with the signing key and within the skew; without the block it is the list it was', () => {
    const plain = list();
    const signed = mac.signAddressList([KEY_A, KEY_B], 7, NOW, plain, CARRIER)!;
    assert.equal(signed.length, plain.length + 14);
    assert.equal(signed[5]! & 1, 1, 'flag bit 0 set');
    assert.deepEqual(mac.verifyAddressList([KEY_B, KEY_A], NOW + 30, 60, signed, CARRIER), { status: 'ok', listSize: plain.length });
    const back = Buffer.from(signed.subarray(0, plain.length));
    back[5] = back[5]! & ~1;
    assert.deepEqual(back, plain);
    assert.deepEqual(mac.verifyAddressList([KEY_A], NOW, 60, plain, CARRIER), { status: 'unauthenticated' });
  });

  test('every byte is bound: a change anywhere, another key, an unknown id, an old or a future time, a cut block', () => {
    const signed = mac.signAddressList([KEY_A], 7, NOW, list(), CARRIER)!;
    for (let at = 0; at < signed.length; at++) {
      if (at === 5) continue; // the flags: clearing bit 0 makes it an unsigned list (policy decides), see above
      const tampered = Buffer.from(signed);
      tampered[at] = tampered[at]! ^ 0x10;
      const { status } = mac.verifyAddressList([KEY_A, { id: 0x17, key: KEY_A.key }], NOW, 60, tampered, CARRIER);
      assert.ok(status === 'bad_tag' || status === 'unknown_key', `byte ${at}: ${status}`);
    }
    assert.equal(mac.verifyAddressList([{ id: 7, key: KEY_B.key }], NOW, 60, signed, CARRIER).status, 'bad_tag');
    assert.equal(mac.verifyAddressList([KEY_B], NOW, 60, signed, CARRIER).status, 'unknown_key');
    assert.equal(mac.verifyAddressList([KEY_A], NOW + 61, 60, signed, CARRIER).status, 'stale');
    assert.equal(mac.verifyAddressList([KEY_A], NOW - 61, 60, signed, CARRIER).status, 'stale');
    assert.equal(mac.verifyAddressList([KEY_A], NOW, 60, signed.subarray(0, 30), CARRIER).status, 'truncated');
  });

  test('the tag is SipHash-2-4 over the carrier and the list up to the tag; another carrier is a bad tag', () => {
    const signed = mac.signAddressList([KEY_A], 7, NOW, list(), CARRIER)!;
    const block = signed.length - 14;
    assert.equal(signed.readUInt16BE(block), 7);
    assert.equal(signed.readUInt32BE(block + 2), NOW);
    const expected = mac.sipHash24(KEY_A.key, Buffer.concat([CARRIER, signed.subarray(0, block + 6)]));
    assert.deepEqual(signed.subarray(block + 6), expected);
    for (let at = 0; at < CARRIER.length; at++) {
      const moved = Buffer.from(CARRIER);
      moved[at] = moved[at]! ^ 1;
      assert.equal(mac.verifyAddressList([KEY_A], NOW, 60, signed, moved).status, 'bad_tag', `carrier byte ${at}`);
    }
    assert.throws(() => mac.verifyAddressList([KEY_A], NOW, 60, signed, CARRIER.subarray(0, 8)), /carrier: Buffer\(12\)/);
  });

  test('no signing key, a list already signed, or bad keys: nothing signed, a clear error', () => {
    assert.equal(mac.signAddressList([KEY_A], 8, NOW, list(), CARRIER), null);
    const signed = mac.signAddressList([KEY_A], 7, NOW, list(), CARRIER)!;
    assert.equal(mac.signAddressList([KEY_A], 7, NOW, signed, CARRIER), null);
    assert.throws(() => mac.signAddressList([{ id: 0, key: KEY_A.key }], 0, NOW, list(), CARRIER), /id: 1\.\.65535/);
    assert.throws(() => mac.verifyAddressList([KEY_A, KEY_A], NOW, 60, signed, CARRIER), /unique/);
    assert.throws(() => mac.verifyAddressList('x' as never, NOW, 60, signed, CARRIER), /array/);
    assert.throws(() => (mac.verifyAddressList as (...a: unknown[]) => unknown)([KEY_A], NOW), /verifyAddressList\(keys, nowS, maxSkewS, payload, carrier: Buffer\(12\)\)/);
    assert.throws(() => (mac.signAddressList as (...a: unknown[]) => unknown)([KEY_A], 7, NOW, 'list'), /signAddressList\(keys, signingId, nowS, list, carrier: Buffer\(12\)\)/);
  });
});
