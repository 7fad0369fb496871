// 32-bit sequence numbers compared as RFC 1982 serial numbers, so that the channel's numbering may wrap.

/** a + n (mod 2^32). */
export function serialAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** How far b is ahead of a: positive when b is later, negative when earlier, in (-2^31, 2^31]. */
export function serialDistance(a: number, b: number): number {
  return ((b - a) | 0);
}
