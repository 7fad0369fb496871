// The receiver's memory of which sequence numbers of one peer's epoch it has delivered: the highest, and a bitmap
// of the DUPLICATE_WINDOW numbers up to it. The sender's unacked messages never span more than DUPLICATE_WINDOW
// numbers, so anything older than the window was delivered (or given up by the sender) and is refused as stale.
import { serialDistance } from './serial';

export const DUPLICATE_WINDOW = 64;

export type WindowVerdict = 'new' | 'duplicate' | 'stale';

export class DuplicateWindow {
  /** Undefined until the first number: a peer's numbering may start anywhere. */
  private highest: number | undefined;
  /** Bit i: highest - i was delivered. */
  private seen = 0n;

  /** Marks `seq` delivered if it is new; says what it was. */
  accept(seq: number): WindowVerdict {
    if (this.highest === undefined) {
      this.highest = seq >>> 0;
      this.seen = 1n;
      return 'new';
    }
    const ahead = serialDistance(this.highest, seq >>> 0);
    if (ahead > 0) {
      this.seen = ahead >= DUPLICATE_WINDOW ? 1n : ((this.seen << BigInt(ahead)) | 1n) & WINDOW_MASK;
      this.highest = seq >>> 0;
      return 'new';
    }
    const behind = -ahead;
    if (behind >= DUPLICATE_WINDOW) return 'stale';
    const bit = 1n << BigInt(behind);
    if (this.seen & bit) return 'duplicate';
    this.seen |= bit;
    return 'new';
  }
}

const WINDOW_MASK = (1n << BigInt(DUPLICATE_WINDOW)) - 1n;
