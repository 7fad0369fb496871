import type { SeqDelta } from './messages';

export const ZERO_DELTA: SeqDelta = Object.freeze({ forward: 0, reverse: 0 });

/** Sequence numbers are 32-bit: deltas add modulo 2^32 and stay in [0, 2^32). */
export function addDelta(a: SeqDelta, b: SeqDelta): SeqDelta {
  return { forward: (a.forward + b.forward) >>> 0, reverse: (a.reverse + b.reverse) >>> 0 };
}

export function isSeqDelta(d: SeqDelta): boolean {
  const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
  return u32(d.forward) && u32(d.reverse);
}
