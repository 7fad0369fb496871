// Where a reconfiguration's control messages spend their time, from captures of the router's links (one per
// host, classic pcap, Ethernet, IPv4): the router sees every control datagram twice, as it arrives from its
// sender and as it leaves towards its receiver (after the shaper), so the gap is the network's share; and it sees
// each message go to an agent and that agent's ack come back, so that gap is the agent's own (wire to lcore to
// event loop and back). The two side by side say whether a slow crossing waits in a queue or in an agent.
import { readdirSync, readFileSync } from 'node:fs';
import { decodeDatagram } from '../src/control/codec';
import type { CapturedFrame } from '../src/testbed/capture';
import { percentile } from './reconfig-figures';

export interface HostCapture {
  /** the host at the far end of the router's link */
  host: string;
  address: number;
  frames: readonly CapturedFrame[];
}

export interface ControlTraceFigure {
  /** `transit a→b` (router in to router out), `ack b` (message out to b, b's ack back), or `b: x → y` (a run's
   * message x out to b, b's next message of that run back: its handling) */
  what: string;
  count: number;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

interface Datagram {
  atMs: number;
  src: number;
  dst: number;
  /** the IPv4 identification and UDP checksum: one datagram's name as the router forwards it unchanged */
  key: string;
  payload: Buffer;
}

function controlDatagramOf(frame: Buffer, atMs: number, controlPort: number): Datagram | undefined {
  if (frame.length < 42 || frame.readUInt16BE(12) !== 0x0800 || frame[23] !== 17) return undefined;
  const ihl = (frame[14]! & 0x0f) * 4;
  const udp = 14 + ihl;
  if (frame.length < udp + 8) return undefined;
  if (frame.readUInt16BE(udp) !== controlPort && frame.readUInt16BE(udp + 2) !== controlPort) return undefined;
  const src = frame.readUInt32BE(26);
  const dst = frame.readUInt32BE(30);
  const key = `${src}>${dst}#${frame.readUInt16BE(18)}/${frame.readUInt16BE(udp + 6)}`;
  return { atMs, src, dst, key, payload: frame.subarray(udp + 8, Math.min(frame.length, 14 + frame.readUInt16BE(16))) };
}

const figure = (what: string, samples: number[]): ControlTraceFigure => {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (v: number | undefined) => (v === undefined ? null : Math.round(v * 100) / 100);
  return { what, count: sorted.length, p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)), max_ms: round(sorted[sorted.length - 1]) };
};

/** Transit through the router per direction, and each agent's ack turnaround. */
export function controlTrace(captures: readonly HostCapture[], controlPort: number): ControlTraceFigure[] {
  const hostOf = new Map(captures.map((c) => [c.address >>> 0, c.host]));
  const arrived = new Map<string, number>();
  const transit = new Map<string, number[]>();
  // (agent, epoch, seq) of a message sent to that agent → when it left the router
  const delivered = new Map<string, number>();
  const turnaround = new Map<string, number[]>();
  // Per run (left anchor / nonce) and agent: the last message of that run the agent was given, and when.
  const lastIn = new Map<string, { type: string; atMs: number }>();
  const handling = new Map<string, number[]>();
  const push = (map: Map<string, number[]>, key: string, value: number) => (map.get(key) ?? map.set(key, []).get(key)!).push(value);
  const all = captures.flatMap((c) =>
    c.frames.flatMap(({ atMs, frame }) => {
      const d = controlDatagramOf(frame, atMs, controlPort);
      return d ? [{ ...d, link: c.address >>> 0 }] : [];
    }),
  );
  all.sort((a, b) => a.atMs - b.atMs);
  for (const d of all) {
    const inbound = d.src === d.link; // from the host on this link into the router
    if (inbound) {
      arrived.set(d.key, d.atMs);
    } else {
      const from = arrived.get(d.key);
      if (from !== undefined) push(transit, `transit ${hostOf.get(d.src) ?? d.src}→${hostOf.get(d.dst) ?? d.dst}`, d.atMs - from);
    }
    for (const decoded of decodeDatagram(d.payload)) {
      if (!decoded.ok) continue;
      const f = decoded.frame;
      if (f.kind === 'message' && !inbound) delivered.set(`${d.dst}/${f.epoch}/${f.seq}`, d.atMs);
      if (f.kind === 'message' && 'id' in f.message) {
        const run = `${f.message.id.leftAnchor}/${f.message.id.nonce}`;
        if (!inbound) {
          lastIn.set(`${d.dst}@${run}`, { type: f.message.type, atMs: d.atMs });
        } else {
          const before = lastIn.get(`${d.src}@${run}`);
          if (before) push(handling, `${hostOf.get(d.src) ?? d.src}: ${before.type} → ${f.message.type}`, d.atMs - before.atMs);
        }
      }
      if (f.kind === 'ack' && inbound) {
        const sentAt = delivered.get(`${d.src}/${f.epoch}/${f.seq}`);
        if (sentAt !== undefined) push(turnaround, `ack ${hostOf.get(d.src) ?? d.src}`, d.atMs - sentAt);
      }
    }
  }
  return [...transit.entries(), ...turnaround.entries(), ...handling.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([what, samples]) => figure(what, samples));
}

/** Of each thread of a process, by name (threads of one name add up; the main thread is `main`): the time it
 * ran and the time it waited to run, runnable, on a run queue (ms, from /proc's schedstat). */
export function threadTimes(pid: number): Map<string, { runMs: number; waitMs: number }> {
  const out = new Map<string, { runMs: number; waitMs: number }>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const key = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const sum = out.get(key) ?? { runMs: 0, waitMs: 0 };
      out.set(key, { runMs: sum.runMs + run! / 1e6, waitMs: sum.waitMs + wait! / 1e6 });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
