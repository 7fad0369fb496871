// The client's retransmissions during a move, from a capture of its link: which path each went on (a subsession
// seen before the move is an old path, one that began after it a new path) and whether the receiver reported it as
// a duplicate (a D-SACK: a SACK block at or below the cumulative ACK), i.e. a copy of data it already had.
import type { CapturedFrame } from '../src/testbed/capture';

export interface RetransmissionFigures {
  /** data segments the capture saw sent again, by path */
  oldPath: number;
  newPath: number;
  /** of them, reported by the receiver as duplicates */
  spurious: number;
}

interface Segment {
  atMs: number;
  flow: string;
  reverse: string;
  seq: number;
  ack: number;
  length: number;
  syn: boolean;
  /** SACK blocks (left, right edges) */
  sacks: [number, number][];
}

const seqLt = (a: number, b: number) => ((a - b) | 0) < 0;

function segmentOf({ atMs, frame }: CapturedFrame): Segment | undefined {
  if (frame.length < 54 || frame.readUInt16BE(12) !== 0x0800 || frame[23] !== 6) return undefined;
  const ihl = (frame[14]! & 0x0f) * 4;
  const tcp = 14 + ihl;
  if (frame.length < tcp + 20) return undefined;
  const doff = (frame[tcp + 12]! >> 4) * 4;
  const src = `${frame.readUInt32BE(26)}:${frame.readUInt16BE(tcp)}`;
  const dst = `${frame.readUInt32BE(30)}:${frame.readUInt16BE(tcp + 2)}`;
  const sacks: [number, number][] = [];
  const end = Math.min(frame.length, tcp + doff);
  for (let at = tcp + 20; at < end; ) {
    const kind = frame[at]!;
    if (kind === 0) break;
    if (kind === 1) {
      at += 1;
      continue;
    }
    const length = frame[at + 1] ?? 0;
    if (length < 2 || at + length > end) break;
    if (kind === 5) for (let b = at + 2; b + 8 <= at + length; b += 8) sacks.push([frame.readUInt32BE(b), frame.readUInt32BE(b + 4)]);
    at += length;
  }
  return {
    atMs,
    flow: `${src}>${dst}`,
    reverse: `${dst}>${src}`,
    seq: frame.readUInt32BE(tcp + 4),
    ack: frame.readUInt32BE(tcp + 8),
    length: frame.readUInt16BE(16) - ihl - doff,
    syn: (frame[tcp + 13]! & 0x02) !== 0,
    sacks,
  };
}

/** `from` is the sending side's address (a host-order number); `moveAtMs` the move's start on the capture's clock. */
export function classifyRetransmissions(frames: Iterable<CapturedFrame>, from: number, moveAtMs: number): RetransmissionFigures {
  const figures: RetransmissionFigures = { oldPath: 0, newPath: 0, spurious: 0 };
  const highest = new Map<string, number>();
  const firstSeen = new Map<string, number>();
  // retransmitted ranges per flow, waiting for a D-SACK of theirs
  const resent = new Map<string, [number, number][]>();
  const prefix = `${from >>> 0}:`;
  for (const captured of frames) {
    const s = segmentOf(captured);
    if (!s) continue;
    if (!s.flow.startsWith(prefix)) {
      // The receiver's ACK of one of our flows: a SACK block not above its cumulative ACK is a D-SACK.
      const waiting = resent.get(s.reverse);
      if (!waiting) continue;
      for (const [left, right] of s.sacks) {
        if (seqLt(s.ack, right)) continue;
        const i = waiting.findIndex(([l, r]) => !seqLt(left, l) && !seqLt(r, right));
        if (i >= 0) {
          waiting.splice(i, 1);
          figures.spurious += 1;
        }
      }
      continue;
    }
    if (!firstSeen.has(s.flow)) firstSeen.set(s.flow, s.atMs);
    if (s.syn || s.length <= 0) continue;
    const end = (s.seq + s.length) >>> 0;
    const top = highest.get(s.flow);
    if (top !== undefined && seqLt(s.seq, top)) {
      if (firstSeen.get(s.flow)! < moveAtMs) figures.oldPath += 1;
      else figures.newPath += 1;
      (resent.get(s.flow) ?? resent.set(s.flow, []).get(s.flow)!).push([s.seq, end]);
    }
    if (top === undefined || seqLt(top, end)) highest.set(s.flow, end);
  }
  return figures;
}
