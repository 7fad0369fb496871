// Packet captures on testbed links: tcpdump writing a classic pcap in the run directory, and a reader for what it
// wrote (and for the pcaps that tests feed to net_pcap ports). Every wait is bounded.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopProcess } from './middleboxes';
import type { Testbed } from './testbed';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Capture {
  readonly file: string;
  /** Stop tcpdump (SIGINT, bounded) and let it flush the file. */
  stop(): Promise<void>;
}

/** tcpdump writing `filter` on `iface` in `target`'s namespace (a host, or `router`) to a pcap in the run dir. */
export async function startCapture(
  tb: Testbed,
  target: string,
  iface: string,
  filter: readonly string[] = ['tcp'],
  snapLength = 256,
): Promise<Capture> {
  const file = join(tb.runDir, `capture-${target}-${iface}-${Date.now()}.pcap`);
  const child = tb.spawn(target, ['tcpdump', '-i', iface, '-n', '-U', '--immediate-mode', '-s', String(snapLength), '-w', file, ...filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const deadline = Date.now() + 10_000;
  while (!/listening on/.test(stderr) && child.exitCode === null && Date.now() < deadline) await sleep(20);
  if (!/listening on/.test(stderr)) {
    await stopProcess(child, 'SIGKILL');
    throw new Error(`tcpdump on ${target}/${iface} did not start: ${stderr.trim()}`);
  }
  return { file, stop: () => stopProcess(child, 'SIGINT') };
}

export interface CapturedFrame {
  /** the capture's timestamp, ms since the epoch */
  atMs: number;
  frame: Buffer;
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;

/** The frames of a classic pcap file (either byte order, µs or ns stamps, Ethernet); throws on anything else. */
export function parsePcap(bytes: Buffer, name = 'pcap'): CapturedFrame[] {
  if (bytes.length < 24) throw new Error(`${name}: too short for a pcap header`);
  const le = bytes.readUInt32LE(0) === PCAP_MAGIC_US || bytes.readUInt32LE(0) === PCAP_MAGIC_NS;
  const u32 = (at: number) => (le ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  const magic = u32(0);
  if (magic !== PCAP_MAGIC_US && magic !== PCAP_MAGIC_NS) throw new Error(`${name}: unsupported pcap magic ${magic.toString(16)}`);
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error(`${name}: link type ${u32(20)}, Ethernet expected`);
  const fractionPerMs = magic === PCAP_MAGIC_NS ? 1e6 : 1e3;
  const frames: CapturedFrame[] = [];
  for (let at = 24; at + 16 <= bytes.length; ) {
    const captured = u32(at + 8);
    const start = at + 16;
    if (start + captured > bytes.length) throw new Error(`${name}: truncated record at ${at}`);
    frames.push({ atMs: u32(at) * 1000 + u32(at + 4) / fractionPerMs, frame: Buffer.from(bytes.subarray(start, start + captured)) });
    at = start + captured;
  }
  return frames;
}

export function readPcapFile(path: string): CapturedFrame[] {
  return parsePcap(readFileSync(path), path);
}
