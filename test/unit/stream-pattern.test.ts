// The verified stream's pattern and verifier: deterministic bytes at any offset, and a verifier that accepts an
// intact stream however reads split it and names what is wrong with a damaged one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { directionSeed, mix32, StreamPattern } from '../../src/testbed/stream-pattern';
import { encodeTrailer, StreamVerifier, TRAILER_BYTES } from '../../src/testbed/stream-verifier';
import { decodeHello, encodeHello, HELLO_BYTES } from '../../src/testbed/verified-stream';
import { Prng } from '../support/prng';

/** What a sender puts on the wire: `length` pattern bytes and the trailer. */
function wire(pattern: StreamPattern, length: number): Buffer {
  return Buffer.concat([pattern.bytes(0, length), encodeTrailer(length)]);
}

function verify(seed: number, chunks: readonly Uint8Array[]) {
  const verifier = new StreamVerifier(new StreamPattern(seed));
  for (const chunk of chunks) verifier.push(chunk);
  return verifier.end();
}

describe('StreamPattern', () => {
  test('the same seed gives the same bytes; other seeds and the two directions differ', () => {
    const a = new StreamPattern(42).bytes(0, 4096);
    assert.deepEqual(new StreamPattern(42).bytes(0, 4096), a);
    assert.notDeepEqual(new StreamPattern(43).bytes(0, 4096), a);
    const up = directionSeed(42, 'client-to-server');
    const down = directionSeed(42, 'server-to-client');
    assert.notEqual(up, down);
    assert.notDeepEqual(new StreamPattern(up).bytes(0, 64), new StreamPattern(down).bytes(0, 64));
  });

  test('bytes at any offset and length are the matching slice of one long run', () => {
    const pattern = new StreamPattern(7);
    const long = pattern.bytes(0, 2048);
    for (let offset = 0; offset < 40; offset++) {
      for (let length = 0; length < 40; length++) {
        assert.deepEqual(pattern.bytes(offset, length), long.subarray(offset, offset + length), `offset ${offset} length ${length}`);
      }
    }
    const prng = new Prng(1);
    for (let i = 0; i < 200; i++) {
      const offset = prng.int(0, 1900);
      const length = prng.int(0, 2048 - offset);
      assert.deepEqual(pattern.bytes(offset, length), long.subarray(offset, offset + length));
    }
  });

  test('is continuous across the 2^32-word boundary and does not repeat there', () => {
    const pattern = new StreamPattern(9);
    const boundary = 4 * 0x100000000;
    const across = pattern.bytes(boundary - 13, 40);
    assert.deepEqual(pattern.bytes(boundary - 13, 13), across.subarray(0, 13));
    assert.deepEqual(pattern.bytes(boundary, 27), across.subarray(13));
    assert.notDeepEqual(pattern.bytes(boundary, 64), pattern.bytes(0, 64));
  });

  test('looks random enough: byte values spread, no short period', () => {
    const data = new StreamPattern(3).bytes(0, 1 << 16);
    const counts = new Array<number>(256).fill(0);
    for (const b of data) counts[b]!++;
    assert.ok(Math.min(...counts) > 150 && Math.max(...counts) < 370, `byte counts ${Math.min(...counts)}..${Math.max(...counts)}`);
    for (const shift of [1, 2, 4, 8, 64, 1460, 4096]) {
      assert.notDeepEqual(data.subarray(shift, shift + 256), data.subarray(0, 256), `shift ${shift}`);
    }
  });

  test('rejects bad seeds and offsets', () => {
    assert.throws(() => new StreamPattern(-1), RangeError);
    assert.throws(() => new StreamPattern(2 ** 32), RangeError);
    assert.throws(() => new StreamPattern(1.5), RangeError);
    assert.throws(() => new StreamPattern(1).bytes(-1, 4), RangeError);
    assert.throws(() => new StreamPattern(1).bytes(0.5, 4), RangeError);
  });

  test('mix32 is a bijection on a sample (no two inputs collide)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) seen.add(mix32(i));
    assert.equal(seen.size, 100_000);
  });
});

describe('StreamVerifier', () => {
  const pattern = new StreamPattern(11);
  const LENGTH = 300;
  const stream = wire(pattern, LENGTH);

  test('accepts an intact stream split in two at every boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const result = verify(11, [stream.subarray(0, cut), stream.subarray(cut)]);
      assert.equal(result.intact, true, `cut at ${cut}`);
      assert.equal(result.bytesReceived, LENGTH);
      assert.equal(result.bytesDeclared, LENGTH);
    }
  });

  test('accepts an intact stream in one-byte reads and in random reads', () => {
    assert.equal(verify(11, [...stream].map((b) => Uint8Array.of(b))).intact, true);
    const prng = new Prng(5);
    for (let round = 0; round < 50; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = prng.int(0, 20);
        chunks.push(stream.subarray(at, at + size));
        at += size;
      }
      assert.equal(verify(11, chunks).intact, true, `round ${round}`);
    }
  });

  test('an empty stream with its trailer is intact', () => {
    const result = verify(11, [encodeTrailer(0)]);
    assert.equal(result.intact, true);
    assert.equal(result.bytesReceived, 0);
  });

  test('a flipped byte is found at its offset, whichever read it lands in', () => {
    for (const at of [0, 1, 57, 150, 299]) {
      const damaged = Buffer.from(stream);
      damaged[at]! ^= 0x80;
      for (const cut of [0, at, at + 1, 200, stream.length]) {
        const result = verify(11, [damaged.subarray(0, cut), damaged.subarray(cut)]);
        assert.equal(result.intact, false);
        assert.equal(result.firstMismatchOffset, at, `flip at ${at} cut ${cut}`);
        assert.equal(result.mismatchedBytes, 1);
        assert.equal(result.missingBytes, 0);
        assert.equal(result.extraBytes, 0);
      }
    }
  });

  test('a missing chunk shows as a mismatch where it was and a shortfall', () => {
    const data = pattern.bytes(0, 10_000);
    const lost = Buffer.concat([data.subarray(0, 4000), data.subarray(5460), encodeTrailer(10_000)]);
    const result = verify(11, [lost.subarray(0, 3000), lost.subarray(3000)]);
    assert.equal(result.intact, false);
    assert.equal(result.firstMismatchOffset, 4000);
    assert.equal(result.missingBytes, 1460);
    assert.equal(result.bytesReceived, 8540);
  });

  test('a duplicated chunk shows as a mismatch where it repeats and a surplus', () => {
    const data = pattern.bytes(0, 10_000);
    const doubled = Buffer.concat([data.subarray(0, 5460), data.subarray(4000, 5460), data.subarray(5460), encodeTrailer(10_000)]);
    const result = verify(11, [doubled]);
    assert.equal(result.intact, false);
    assert.equal(result.firstMismatchOffset, 5460);
    assert.equal(result.extraBytes, 1460);
    assert.equal(result.missingBytes, 0);
  });

  test('two reordered chunks are caught', () => {
    const data = pattern.bytes(0, 4000);
    const swapped = Buffer.concat([data.subarray(0, 1000), data.subarray(2000, 3000), data.subarray(1000, 2000), data.subarray(3000), encodeTrailer(4000)]);
    const result = verify(11, [swapped]);
    assert.equal(result.intact, false);
    assert.equal(result.firstMismatchOffset, 1000);
    assert.equal(result.missingBytes + result.extraBytes, 0);
  });

  test('a stream cut short (no trailer) is not intact', () => {
    const cut = verify(11, [pattern.bytes(0, 5)]);
    assert.equal(cut.intact, false);
    assert.equal(cut.bytesDeclared, undefined);
    assert.equal(cut.bytesReceived, 5);
    const longer = verify(11, [pattern.bytes(0, 1000)]);
    assert.equal(longer.intact, false, 'the last 8 pattern bytes read as a trailer declare a different count');
  });

  test('another seed fails from byte 0', () => {
    const result = verify(12, [stream]);
    assert.equal(result.intact, false);
    assert.equal(result.firstMismatchOffset, 0);
  });

  test('data after the end is refused', () => {
    const verifier = new StreamVerifier(pattern);
    verifier.push(stream);
    assert.equal(verifier.end().intact, true);
    assert.equal(verifier.end().intact, true, 'end is idempotent');
    assert.throws(() => verifier.push(Uint8Array.of(1)), /after the end/);
  });

  test('the trailer is 8 bytes and takes only safe counts', () => {
    assert.equal(encodeTrailer(5).length, TRAILER_BYTES);
    assert.throws(() => encodeTrailer(-1), RangeError);
    assert.throws(() => encodeTrailer(1.5), RangeError);
  });
});

describe('hello', () => {
  test('carries the seed', () => {
    const hello = encodeHello(0xdeadbeef);
    assert.equal(hello.length, HELLO_BYTES);
    assert.deepEqual(decodeHello(hello), { seed: 0xdeadbeef });
  });

  test('a bad magic, version or length is an error, not a seed', () => {
    const bad = encodeHello(1);
    bad[0] = 0;
    assert.match((decodeHello(bad) as { error: string }).error, /magic/);
    const version = encodeHello(1);
    version[2] = 9;
    assert.match((decodeHello(version) as { error: string }).error, /version 9/);
    assert.match((decodeHello(Buffer.alloc(3)) as { error: string }).error, /3 bytes/);
  });
});
