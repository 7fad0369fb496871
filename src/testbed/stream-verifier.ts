// Checks one direction of a verified stream as it arrives, in reads split anywhere: every byte against the pattern,
// and at the end the total against the sender's trailer (the last TRAILER_BYTES of the stream: the number of pattern
// bytes sent, 64-bit big-endian). Lost bytes show as a mismatch and a shortfall, duplicated ones as a mismatch and a
// surplus, altered ones as mismatched bytes.
import type { StreamPattern } from './stream-pattern';

export const TRAILER_BYTES = 8;

/** The trailer a sender appends after `patternBytes` bytes of pattern. */
export function encodeTrailer(patternBytes: number): Buffer {
  if (!Number.isSafeInteger(patternBytes) || patternBytes < 0) throw new RangeError(`bad pattern byte count ${patternBytes}`);
  const trailer = Buffer.alloc(TRAILER_BYTES);
  trailer.writeBigUInt64BE(BigInt(patternBytes));
  return trailer;
}

export interface VerifiedDirection {
  /** pattern bytes received (the trailer not counted) */
  bytesReceived: number;
  /** what the sender's trailer says it sent; undefined when the stream ended before a trailer could be there */
  bytesDeclared: number | undefined;
  /** stream offset of the first byte that differs from the pattern */
  firstMismatchOffset: number | undefined;
  mismatchedBytes: number;
  /** declared but never received */
  missingBytes: number;
  /** received beyond what was declared (duplication) */
  extraBytes: number;
  /** every byte matched and the count agrees with the trailer */
  intact: boolean;
}

export class StreamVerifier {
  private received = 0;
  private firstMismatch: number | undefined;
  private mismatched = 0;
  // the last bytes seen, not checked yet: they may be the trailer
  private held: Buffer = Buffer.alloc(0);
  private expected = Buffer.alloc(0);
  private finished: VerifiedDirection | undefined;

  constructor(private readonly pattern: StreamPattern) {}

  /** Pattern bytes checked so far. */
  get bytesChecked(): number {
    return this.received;
  }

  get firstMismatchOffset(): number | undefined {
    return this.firstMismatch;
  }

  push(chunk: Uint8Array): void {
    if (this.finished) throw new Error('stream verifier: data after the end');
    if (chunk.length === 0) return;
    if (chunk.length >= TRAILER_BYTES) {
      this.check(this.held);
      this.check(chunk.subarray(0, chunk.length - TRAILER_BYTES));
      this.held = Buffer.from(chunk.subarray(chunk.length - TRAILER_BYTES));
      return;
    }
    const joined = Buffer.concat([this.held, chunk]);
    const ready = Math.max(0, joined.length - TRAILER_BYTES);
    this.check(joined.subarray(0, ready));
    this.held = joined.subarray(ready);
  }

  /** The peer's end of stream: read the trailer and settle the totals. */
  end(): VerifiedDirection {
    if (this.finished) return this.finished;
    let declared: number | undefined;
    if (this.held.length === TRAILER_BYTES) {
      const value = this.held.readBigUInt64BE();
      declared = value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Number.MAX_SAFE_INTEGER;
    } else {
      // too short for a trailer: whatever arrived is pattern
      this.check(this.held);
    }
    this.held = Buffer.alloc(0);
    const missing = declared === undefined ? 0 : Math.max(0, declared - this.received);
    const extra = declared === undefined ? 0 : Math.max(0, this.received - declared);
    this.finished = {
      bytesReceived: this.received,
      bytesDeclared: declared,
      firstMismatchOffset: this.firstMismatch,
      mismatchedBytes: this.mismatched,
      missingBytes: missing,
      extraBytes: extra,
      intact: declared !== undefined && this.mismatched === 0 && missing === 0 && extra === 0,
    };
    return this.finished;
  }

  private check(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.expected.length < bytes.length) this.expected = Buffer.allocUnsafe(Math.max(bytes.length, this.expected.length * 2));
    const expected = this.expected.subarray(0, bytes.length);
    this.pattern.fill(this.received, expected);
    if (expected.equals(bytes)) {
      this.received += bytes.length;
      return;
    }
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === expected[i]) continue;
      this.mismatched++;
      if (this.firstMismatch === undefined) this.firstMismatch = this.received + i;
    }
    this.received += bytes.length;
  }
}
