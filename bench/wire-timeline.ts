// Each reconfiguration's steps as the wire saw them: a tcpdump capture of the left anchor's link (classic pcap,
// Ethernet, IPv4) is read for the control frames (src/control/codec.ts) and the new path's TCP segments, and every
// step is timed from the left anchor's first requestLock. The agents' own marks include their event loops' delays;
// these do not, so the two side by side show where a reconfiguration's time goes.
import { decodeFrame } from '../src/control/codec';
import type { CapturedFrame } from '../src/testbed/capture';
import { percentile } from './reconfig-figures';

/** The steps of one reconfiguration, in the order the protocol takes them. */
export const WIRE_STEPS = [
  'ackLock', // the lock's answer reaches the left anchor
  'syn', // the new path's SYN leaves it
  'synAck',
  'farHeard', // the right anchor's first segment with a path option
  'farSwitched', // … saying it switched
  'ownSwitched', // the left anchor's own announcement that it switched
  'ownFolded', // … that it folded: its old path carries nothing more
  'teardown', // its teardown goes along the old path
] as const;
export type WireStep = (typeof WIRE_STEPS)[number];

export interface WireTimeline {
  nonce: number;
  /** ms since the left anchor's first requestLock of this run */
  at: Partial<Record<WireStep, number>>;
}

const PATH_OPTION_KIND = 253;
const PATH_OPTION_LENGTH = 14;
const PATH_OPTION_EXID = 0x4450;
const PATH_FOLDED = 4;
const PATH_SWITCHED = 8;

interface Ipv4Packet {
  src: number;
  dst: number;
  protocol: number;
  l4: Buffer;
}

function ipv4Of(frame: Buffer): Ipv4Packet | undefined {
  if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800) return undefined;
  const ihl = (frame[14]! & 0x0f) * 4;
  const total = frame.readUInt16BE(16);
  if (ihl < 20 || frame.length < 14 + ihl) return undefined;
  const end = Math.min(frame.length, 14 + total);
  return { src: frame.readUInt32BE(26), dst: frame.readUInt32BE(30), protocol: frame[23]!, l4: frame.subarray(14 + ihl, end) };
}

/** The flags and nonce of a path option in a TCP header's option area, if it holds one. */
function pathOptionOf(tcp: Buffer): { flags: number; nonce: number } | undefined {
  const end = Math.min(tcp.length, (tcp[12]! >> 4) * 4);
  for (let at = 20; at < end; ) {
    const kind = tcp[at]!;
    if (kind === 0) return undefined;
    if (kind === 1) {
      at += 1;
      continue;
    }
    const length = tcp[at + 1];
    if (length === undefined || length < 2 || at + length > end) return undefined;
    if (kind === PATH_OPTION_KIND && length === PATH_OPTION_LENGTH && tcp.readUInt16BE(at + 2) === PATH_OPTION_EXID) {
      return { flags: tcp[at + 4]!, nonce: tcp.readUInt32BE(at + 6) };
    }
    at += length;
  }
  return undefined;
}

/**
 * One timeline per reconfiguration the left anchor (`leftAnchor`, an IPv4 address as a number) started in the
 * capture. The SYN and SYN-ACK carry no path option: they are the first SYN the anchor sends after its requestLock
 * and the SYN-ACK that answers it. Each step keeps its first sighting (a repeat is not a step).
 */
export function wireTimelines(frames: Iterable<CapturedFrame>, leftAnchor: number): WireTimeline[] {
  const timelines: WireTimeline[] = [];
  const byNonce = new Map<number, { timeline: WireTimeline; startMs: number; synTuple?: string }>();
  let current: { timeline: WireTimeline; startMs: number; synTuple?: string } | undefined;
  const mark = (entry: typeof current, step: WireStep, atMs: number) => {
    if (entry && entry.timeline.at[step] === undefined) entry.timeline.at[step] = atMs - entry.startMs;
  };
  for (const { atMs, frame } of frames) {
    const ip = ipv4Of(frame);
    if (!ip) continue;
    const outgoing = ip.src === leftAnchor;
    if (ip.protocol === 17 && ip.l4.length >= 8) {
      const decoded = decodeFrame(ip.l4.subarray(8));
      if (!decoded.ok || decoded.frame.kind !== 'message') continue;
      const message = decoded.frame.message;
      if (!('id' in message)) continue;
      const nonce = message.id.nonce >>> 0;
      if (message.type === 'requestLock' && outgoing && message.id.leftAnchor >>> 0 === leftAnchor && !byNonce.has(nonce)) {
        current = { timeline: { nonce, at: {} }, startMs: atMs };
        byNonce.set(nonce, current);
        timelines.push(current.timeline);
      } else if (message.type === 'ackLock' && !outgoing) {
        mark(byNonce.get(nonce), 'ackLock', atMs);
      } else if (message.type === 'teardown' && outgoing) {
        mark(byNonce.get(nonce), 'teardown', atMs);
      }
      continue;
    }
    if (ip.protocol !== 6 || ip.l4.length < 20) continue;
    const tcp = ip.l4;
    const flags = tcp[13]!;
    const tuple = (src: number, sp: number, dst: number, dp: number) => `${src}:${sp}>${dst}:${dp}`;
    const sport = tcp.readUInt16BE(0);
    const dport = tcp.readUInt16BE(2);
    const syn = (flags & 0x02) !== 0;
    const ack = (flags & 0x10) !== 0;
    if (syn && !ack && outgoing && current && current.synTuple === undefined) {
      current.synTuple = tuple(ip.src, sport, ip.dst, dport);
      mark(current, 'syn', atMs);
      continue;
    }
    if (syn && ack && !outgoing && current && current.synTuple === tuple(ip.dst, dport, ip.src, sport)) {
      mark(current, 'synAck', atMs);
      continue;
    }
    const option = pathOptionOf(tcp);
    const entry = option && byNonce.get(option.nonce);
    if (!option || !entry) continue;
    if (!outgoing) {
      mark(entry, 'farHeard', atMs);
      if (option.flags & PATH_SWITCHED) mark(entry, 'farSwitched', atMs);
    } else {
      if (option.flags & PATH_SWITCHED) mark(entry, 'ownSwitched', atMs);
      if (option.flags & PATH_FOLDED) mark(entry, 'ownFolded', atMs);
    }
  }
  return timelines;
}

/** What each step waits for on the wire: the latest of these (the left anchor's requestLock when none). */
const WAITS_FOR: Readonly<Record<WireStep, readonly WireStep[]>> = {
  ackLock: [],
  syn: ['ackLock'],
  synAck: ['syn'],
  farHeard: ['synAck'],
  farSwitched: ['farHeard'],
  ownSwitched: ['farHeard'],
  ownFolded: ['ownSwitched', 'farSwitched'],
  teardown: ['ownFolded'],
};

export interface WireStepFigure {
  step: WireStep;
  /** what the step waited for: `requestLock`, or the latest of these steps */
  after: string;
  count: number;
  p10_ms: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
  /** p50 of the step's time since the left anchor's requestLock */
  since_lock_p50_ms: number | null;
}

/** Each step's time after what it waited for, and since the requestLock (over the reconfigurations that saw them). */
export function wireStepFigures(timelines: readonly WireTimeline[]): WireStepFigure[] {
  const round = (v: number | undefined) => (v === undefined ? null : Math.round(v * 1000) / 1000);
  return WIRE_STEPS.map((step) => {
    const waits = WAITS_FOR[step];
    const gaps: number[] = [];
    const since: number[] = [];
    for (const t of timelines) {
      const end = t.at[step];
      if (end === undefined) continue;
      since.push(end);
      const starts = waits.map((w) => t.at[w]);
      if (starts.some((v) => v === undefined)) continue;
      gaps.push(end - Math.max(0, ...(starts as number[])));
    }
    const q = (values: number[], p: number) => round(values.length ? percentile(values, p) : undefined);
    return {
      step,
      after: waits.length ? waits.join(' + ') : 'requestLock',
      count: gaps.length,
      p10_ms: q(gaps, 10),
      p50_ms: q(gaps, 50),
      p90_ms: q(gaps, 90),
      since_lock_p50_ms: q(since, 50),
    };
  });
}
