// Builds Ethernet/IPv4/TCP and Ethernet/IPv4/UDP frames for tests, and parses them back for assertions.
// It has its own checksum code, independent of native/core, so the two can check each other.

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_VLAN = 0x8100;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WSCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMPS = 8;

// ---- addresses -------------------------------------------------------------------------------------

export function ipv4ToNumber(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function numberToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

function macBytes(mac: string): Buffer {
  const bytes = Buffer.from(mac.split(':').join(''), 'hex');
  if (bytes.length !== 6) throw new Error(`not a MAC address: ${mac}`);
  return bytes;
}

// ---- checksum (RFC 1071, written independently of native/core/checksum.h) --------------------------

/** Unfolded sum of big-endian 16-bit words; an odd last byte counts as the high byte of a word. */
export function onesComplementSum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const evenEnd = data.length & ~1;
  for (let i = 0; i < evenEnd; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  return sum;
}

export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

export function internetChecksum(data: Uint8Array, initial = 0): number {
  return ~foldSum(onesComplementSum(data, initial)) & 0xffff;
}

function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** TCP/UDP checksum over the pseudo-header; the segment's checksum field is treated as zero. */
export function transportChecksum(src: number, dst: number, protocol: number, segment: Buffer): number {
  const copy = Buffer.from(segment);
  copy.writeUInt16BE(0, protocol === IPPROTO_TCP ? 16 : 6);
  const sum = internetChecksum(copy, pseudoHeaderSum(src, dst, protocol, copy.length));
  return protocol === IPPROTO_UDP && sum === 0 ? 0xffff : sum;
}

/** IPv4 header checksum; the header's checksum field is treated as zero. */
export function ipv4HeaderChecksum(header: Buffer): number {
  const copy = Buffer.from(header);
  copy.writeUInt16BE(0, 10);
  return internetChecksum(copy);
}

// ---- TCP options -----------------------------------------------------------------------------------

export const tcpOption = {
  eol: (): Buffer => Buffer.from([TCP_OPT_EOL]),
  nop: (): Buffer => Buffer.from([TCP_OPT_NOP]),
  mss: (mss: number): Buffer => Buffer.from([TCP_OPT_MSS, 4, mss >>> 8, mss & 0xff]),
  wscale: (shift: number): Buffer => Buffer.from([TCP_OPT_WSCALE, 3, shift]),
  sackPermitted: (): Buffer => Buffer.from([TCP_OPT_SACK_PERMITTED, 2]),
  timestamps: (tsval: number, tsecr: number): Buffer => {
    const option = Buffer.alloc(10);
    option[0] = TCP_OPT_TIMESTAMPS;
    option[1] = 10;
    option.writeUInt32BE(tsval >>> 0, 2);
    option.writeUInt32BE(tsecr >>> 0, 6);
    return option;
  },
  raw: (...bytes: number[]): Buffer => Buffer.from(bytes),
};

/** Concatenates options and pads with zero bytes (EOL) to a multiple of four. */
export function tcpOptionArea(...options: Buffer[]): Buffer {
  const area = Buffer.concat(options);
  const padded = Buffer.alloc(Math.ceil(area.length / 4) * 4);
  area.copy(padded);
  return padded;
}

// ---- frames ----------------------------------------------------------------------------------------

export interface EthernetSpec {
  dstMac?: string;
  srcMac?: string;
  vlanId?: number;
}

export interface Ipv4Spec {
  src: string | number;
  dst: string | number;
  ttl?: number;
  tos?: number;
  id?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In 8-byte units. */
  fragmentOffset?: number;
  /** IPv4 options, padded to a multiple of four by the caller. */
  options?: Buffer;
}

export interface TcpSpec {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  urgentPointer?: number;
  /** The option area, a multiple of four bytes (see tcpOptionArea). */
  options?: Buffer;
  payload?: Buffer;
}

export interface UdpSpec {
  srcPort: number;
  dstPort: number;
  payload?: Buffer;
  /** Send a zero checksum ("none computed"). */
  noChecksum?: boolean;
}

function address(value: string | number): number {
  return typeof value === 'number' ? value >>> 0 : ipv4ToNumber(value);
}

function ethernetHeader(spec: EthernetSpec): Buffer {
  const dst = macBytes(spec.dstMac ?? '02:00:00:00:00:02');
  const src = macBytes(spec.srcMac ?? '02:00:00:00:00:01');
  if (spec.vlanId === undefined) {
    const header = Buffer.alloc(14);
    dst.copy(header, 0);
    src.copy(header, 6);
    header.writeUInt16BE(ETHERTYPE_IPV4, 12);
    return header;
  }
  const header = Buffer.alloc(18);
  dst.copy(header, 0);
  src.copy(header, 6);
  header.writeUInt16BE(ETHERTYPE_VLAN, 12);
  header.writeUInt16BE(spec.vlanId & 0x0fff, 14);
  header.writeUInt16BE(ETHERTYPE_IPV4, 16);
  return header;
}

function ipv4Header(spec: Ipv4Spec, protocol: number, l4Length: number): Buffer {
  const options = spec.options ?? Buffer.alloc(0);
  if (options.length % 4 !== 0 || options.length > 40) throw new Error('IPv4 options must be 0..40 bytes, a multiple of 4');
  const header = Buffer.alloc(20 + options.length);
  header[0] = 0x40 | (header.length / 4);
  header[1] = spec.tos ?? 0;
  header.writeUInt16BE(header.length + l4Length, 2);
  header.writeUInt16BE(spec.id ?? 0x1234, 4);
  const flags = (spec.dontFragment ? 0x4000 : 0) | (spec.moreFragments ? 0x2000 : 0);
  header.writeUInt16BE(flags | ((spec.fragmentOffset ?? 0) & 0x1fff), 6);
  header[8] = spec.ttl ?? 64;
  header[9] = protocol;
  header.writeUInt32BE(address(spec.src), 12);
  header.writeUInt32BE(address(spec.dst), 16);
  options.copy(header, 20);
  header.writeUInt16BE(ipv4HeaderChecksum(header), 10);
  return header;
}

export function buildTcpFrame(spec: { eth?: EthernetSpec; ip: Ipv4Spec; tcp: TcpSpec }): Buffer {
  const options = spec.tcp.options ?? Buffer.alloc(0);
  if (options.length % 4 !== 0 || options.length > 40) throw new Error('TCP options must be 0..40 bytes, a multiple of 4');
  const payload = spec.tcp.payload ?? Buffer.alloc(0);
  const tcp = Buffer.alloc(20 + options.length + payload.length);
  tcp.writeUInt16BE(spec.tcp.srcPort, 0);
  tcp.writeUInt16BE(spec.tcp.dstPort, 2);
  tcp.writeUInt32BE((spec.tcp.seq ?? 1000) >>> 0, 4);
  tcp.writeUInt32BE((spec.tcp.ack ?? 0) >>> 0, 8);
  tcp[12] = ((20 + options.length) / 4) << 4;
  tcp[13] = spec.tcp.flags ?? TCP_ACK;
  tcp.writeUInt16BE(spec.tcp.window ?? 65535, 14);
  tcp.writeUInt16BE(spec.tcp.urgentPointer ?? 0, 18);
  options.copy(tcp, 20);
  payload.copy(tcp, 20 + options.length);
  tcp.writeUInt16BE(transportChecksum(address(spec.ip.src), address(spec.ip.dst), IPPROTO_TCP, tcp), 16);
  return Buffer.concat([ethernetHeader(spec.eth ?? {}), ipv4Header(spec.ip, IPPROTO_TCP, tcp.length), tcp]);
}

export function buildUdpFrame(spec: { eth?: EthernetSpec; ip: Ipv4Spec; udp: UdpSpec }): Buffer {
  const payload = spec.udp.payload ?? Buffer.alloc(0);
  const udp = Buffer.alloc(8 + payload.length);
  udp.writeUInt16BE(spec.udp.srcPort, 0);
  udp.writeUInt16BE(spec.udp.dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, 8);
  if (!spec.udp.noChecksum) {
    udp.writeUInt16BE(transportChecksum(address(spec.ip.src), address(spec.ip.dst), IPPROTO_UDP, udp), 6);
  }
  return Buffer.concat([ethernetHeader(spec.eth ?? {}), ipv4Header(spec.ip, IPPROTO_UDP, udp.length), udp]);
}

// ---- parsing back, for assertions ------------------------------------------------------------------

export interface ParsedFrame {
  etherType: number;
  vlanId?: number;
  l3Offset: number;
  ip: {
    headerLength: number;
    totalLength: number;
    protocol: number;
    ttl: number;
    checksum: number;
    src: number;
    dst: number;
    header: Buffer;
  };
  l4Offset: number;
  /** The TCP or UDP segment, header and payload, without Ethernet padding. */
  segment: Buffer;
  tcp?: {
    srcPort: number;
    dstPort: number;
    seq: number;
    ack: number;
    headerLength: number;
    flags: number;
    window: number;
    checksum: number;
    options: Buffer;
    payload: Buffer;
  };
  udp?: { srcPort: number; dstPort: number; length: number; checksum: number; payload: Buffer };
}

/** Parses a well-formed frame (throws on anything else); the test-side reference for field values. */
export function parseFrame(frame: Buffer): ParsedFrame {
  let etherType = frame.readUInt16BE(12);
  let l3Offset = 14;
  let vlanId: number | undefined;
  if (etherType === ETHERTYPE_VLAN) {
    vlanId = frame.readUInt16BE(14) & 0x0fff;
    etherType = frame.readUInt16BE(16);
    l3Offset = 18;
  }
  if (etherType !== ETHERTYPE_IPV4) throw new Error(`not IPv4: ethertype 0x${etherType.toString(16)}`);
  const headerLength = (frame[l3Offset]! & 0x0f) * 4;
  const totalLength = frame.readUInt16BE(l3Offset + 2);
  const protocol = frame[l3Offset + 9]!;
  const ip = {
    headerLength,
    totalLength,
    protocol,
    ttl: frame[l3Offset + 8]!,
    checksum: frame.readUInt16BE(l3Offset + 10),
    src: frame.readUInt32BE(l3Offset + 12),
    dst: frame.readUInt32BE(l3Offset + 16),
    header: frame.subarray(l3Offset, l3Offset + headerLength),
  };
  const l4Offset = l3Offset + headerLength;
  const segment = frame.subarray(l4Offset, l3Offset + totalLength);
  const parsed: ParsedFrame = { etherType, l3Offset, ip, l4Offset, segment };
  if (vlanId !== undefined) parsed.vlanId = vlanId;
  if (protocol === IPPROTO_TCP) {
    const tcpHeaderLength = (segment[12]! >> 4) * 4;
    parsed.tcp = {
      srcPort: segment.readUInt16BE(0),
      dstPort: segment.readUInt16BE(2),
      seq: segment.readUInt32BE(4),
      ack: segment.readUInt32BE(8),
      headerLength: tcpHeaderLength,
      flags: segment[13]!,
      window: segment.readUInt16BE(14),
      checksum: segment.readUInt16BE(16),
      options: segment.subarray(20, tcpHeaderLength),
      payload: segment.subarray(tcpHeaderLength),
    };
  } else if (protocol === IPPROTO_UDP) {
    parsed.udp = {
      srcPort: segment.readUInt16BE(0),
      dstPort: segment.readUInt16BE(2),
      length: segment.readUInt16BE(4),
      checksum: segment.readUInt16BE(6),
      payload: segment.subarray(8),
    };
  }
  return parsed;
}

/** The checksums a frame should carry, recomputed from scratch in TypeScript. */
export function expectedChecksums(frame: Buffer): { ip: number; l4: number } {
  const parsed = parseFrame(frame);
  return {
    ip: ipv4HeaderChecksum(parsed.ip.header),
    l4: transportChecksum(parsed.ip.src, parsed.ip.dst, parsed.ip.protocol, parsed.segment),
  };
}

/** The checksums a frame carries. */
export function carriedChecksums(frame: Buffer): { ip: number; l4: number } {
  const parsed = parseFrame(frame);
  return { ip: parsed.ip.checksum, l4: parsed.tcp?.checksum ?? parsed.udp?.checksum ?? 0 };
}
