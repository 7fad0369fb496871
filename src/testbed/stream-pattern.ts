// The deterministic pseudorandom byte stream of verified-stream traffic. Counter based: 32-bit word i of a stream is
// a hash of (key, i), so any offset can be produced directly, which lets a receiver check bytes wherever a read
// happens to split them. Not cryptographic; it only has to make lost, duplicated, reordered or altered bytes show.
import { endianness } from 'node:os';

/** Which way a stream flows; each direction of a connection has its own pattern. */
export type StreamDirection = 'client-to-server' | 'server-to-client';

const LITTLE_ENDIAN = endianness() === 'LE';

/** murmur3's 32-bit finalizer: a bijection on 32-bit words with good avalanche. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const DIRECTION_TWEAK: Readonly<Record<StreamDirection, number>> = {
  'client-to-server': 0x632be59b,
  'server-to-client': 0x85157af5,
};

/** The pattern seed of one direction of a connection whose seed is `seed`. */
export function directionSeed(seed: number, direction: StreamDirection): number {
  return mix32((seed >>> 0) ^ DIRECTION_TWEAK[direction]);
}

export class StreamPattern {
  private readonly lowKey: number;
  private readonly highKey: number;
  private scratch = new Uint32Array(0);

  constructor(readonly seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`pattern seed must be an unsigned 32-bit integer, got ${seed}`);
    }
    this.lowKey = mix32(seed ^ 0x5bd1e995);
    this.highKey = mix32((seed + 0x9e3779b9) >>> 0);
  }

  /** Writes bytes [offset, offset + out.length) of the stream into `out`. */
  fill(offset: number, out: Uint8Array): Uint8Array {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative safe integer, got ${offset}`);
    if (out.length === 0) return out;
    const firstWord = Math.floor(offset / 4);
    const words = Math.ceil((offset + out.length) / 4) - firstWord;
    if (this.scratch.length < words) this.scratch = new Uint32Array(Math.max(words, this.scratch.length * 2));
    const scratch = this.scratch;
    let word = firstWord;
    let high = Math.floor(word / 0x100000000);
    let highMix = mix32(high ^ this.highKey);
    let low = word % 0x100000000;
    for (let i = 0; i < words; i++) {
      scratch[i] = mix32(((low ^ this.lowKey) + highMix) >>> 0);
      low++;
      if (low === 0x100000000) {
        low = 0;
        high++;
        highMix = mix32(high ^ this.highKey);
      }
      word++;
    }
    const bytes = new Uint8Array(scratch.buffer, scratch.byteOffset, words * 4);
    // the stream is defined as little-endian words whatever the host's order
    if (!LITTLE_ENDIAN) Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).swap32();
    out.set(bytes.subarray(offset % 4, (offset % 4) + out.length));
    return out;
  }

  /** A fresh Buffer holding bytes [offset, offset + length). */
  bytes(offset: number, length: number): Buffer {
    return this.fill(offset, Buffer.allocUnsafe(length)) as Buffer;
  }
}
