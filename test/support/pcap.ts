// Minimal libpcap file reader and writer (Ethernet link type, microsecond timestamps) for tests
// that feed net_pcap ports.
import { readFileSync, writeFileSync } from 'node:fs';

const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;

export function writePcap(path: string, frames: readonly Buffer[]): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(MAGIC_MICROSECONDS, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const records = frames.map((frame, i) => {
    const record = Buffer.alloc(16);
    record.writeUInt32LE(1_700_000_000, 0);
    record.writeUInt32LE(i % 1_000_000, 4);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    return Buffer.concat([record, frame]);
  });
  writeFileSync(path, Buffer.concat([header, ...records]));
}

export function readPcap(path: string): Buffer[] {
  const data = readFileSync(path);
  if (data.length < 24) throw new Error(`${path}: too short for a pcap header`);
  const magic = data.readUInt32LE(0);
  const littleEndian = magic === MAGIC_MICROSECONDS || magic === 0xa1b23c4d;
  if (!littleEndian) throw new Error(`${path}: unsupported pcap magic ${magic.toString(16)}`);
  const frames: Buffer[] = [];
  let offset = 24;
  while (offset + 16 <= data.length) {
    const captured = data.readUInt32LE(offset + 8);
    const start = offset + 16;
    if (start + captured > data.length) throw new Error(`${path}: truncated record at ${offset}`);
    frames.push(Buffer.from(data.subarray(start, start + captured)));
    offset = start + captured;
  }
  return frames;
}
