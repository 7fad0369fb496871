// The receiver's memory of which sequence numbers of one peer's epoch it has delivered: the highest, and a bitmap
// of the DUPLICATE_WINDOW numbers up to it. The sender's unacked messages never span more than DUPLICATE_WINDOW
// numbers, so anything older than the window was delivered (or given up by the sender) and is refused as stale.
//
// The window is wide enough for a bulk migration's burst to one neighbour (a few messages per session, hundreds of
// sessions) to go out at once: a narrow one holds the rest back for an ack round trip each.
import { serialDistance } from './serial';

/** A power of two: a number's bit is its value modulo the window (and 2^32 is a multiple of it). */
export const DUPLICATE_WINDOW = 1024;

export type WindowVerdict = 'new' | 'duplicate' | 'stale';

const MASK = DUPLICATE_WINDOW - 1;

export class DuplicateWindow {
  /** Undefined until the first number: a peer's numbering may start anywhere. */
  private highest: number | undefined;
  /** Bit (n mod DUPLICATE_WINDOW): n was delivered, for the numbers from highest - DUPLICATE_WINDOW + 1 to highest. */
  private readonly seen = new Uint32Array(DUPLICATE_WINDOW / 32);

  /** Marks `seq` delivered if it is new; says what it was. */
  accept(seq: number): WindowVerdict {
    const n = seq >>> 0;
    if (this.highest === undefined) {
      this.highest = n;
      this.mark(n);
      return 'new';
    }
    const ahead = serialDistance(this.highest, n);
    if (ahead > 0) {
      // The numbers the window slides over are forgotten: their bits now stand for the newer ones.
      if (ahead >= DUPLICATE_WINDOW) this.seen.fill(0);
      else for (let k = 1; k <= ahead; k++) this.clear(this.highest + k);
      this.highest = n;
      this.mark(n);
      return 'new';
    }
    if (-ahead >= DUPLICATE_WINDOW) return 'stale';
    if (this.has(n)) return 'duplicate';
    this.mark(n);
    return 'new';
  }

  private has(n: number): boolean {
    const bit = n & MASK;
    return (this.seen[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  private mark(n: number): void {
    const bit = n & MASK;
    this.seen[bit >>> 5]! |= 1 << (bit & 31);
  }

  private clear(n: number): void {
    const bit = n & MASK;
    this.seen[bit >>> 5]! &= ~(1 << (bit & 31));
  }
}
