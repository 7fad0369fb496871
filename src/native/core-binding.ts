// The typed surface of the addon's `core` object (native/addon/core_bindings.cc): native/core run on
// Buffers without EAL. Arguments are trusted by the native side; callers validate them first.

/** Why parsePacket stopped; the position in this list is the C++ ParseStatus value (native/core/parse_status.h). */
export const PARSE_STATUS_NAMES = [
  'ok',
  'truncated_eth',
  'not_ipv4',
  'bad_ip_version',
  'bad_ihl',
  'truncated_ip',
  'bad_total_len',
  'fragment',
  'not_tcp_udp',
  'truncated_l4',
  'bad_doff',
  'bad_udp_len',
] as const;
export type ParseStatusName = (typeof PARSE_STATUS_NAMES)[number];

/** How a walk of the TCP option area ended (native/core/tcp_options.h). */
export const TCP_OPTION_STATUS_NAMES = ['ok', 'bad_length', 'truncated'] as const;
export type TcpOptionStatusName = (typeof TCP_OPTION_STATUS_NAMES)[number];

/** An option walk on a frame that parsePacket does not accept as TCP over IPv4. */
export const NOT_TCP = 'not_tcp';
export type TcpOptionWalkStatus = TcpOptionStatusName | typeof NOT_TCP;

/** Offsets are from the start of the frame; fields the parse did not reach are 0. */
export interface ParsedPacket {
  status: ParseStatusName;
  /** The inner EtherType when a VLAN tag is present. */
  etherType: number;
  hasVlan: boolean;
  vlanTci: number;
  l3Offset: number;
  l4Offset: number;
  payloadOffset: number;
  /** l3Offset + IPv4 total length; bytes after it are Ethernet padding. */
  l3End: number;
  protocol: number;
  payloadLength: number;
  /** IPv4 addresses as unsigned 32-bit host-order numbers. */
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

export interface TcpOptionEntry {
  kind: number;
  /** Offset of the option's kind byte in the frame. */
  offset: number;
  /** 1 for EOL and NOP. */
  length: number;
}

export interface TcpOptionWalk {
  parseStatus: ParseStatusName;
  status: TcpOptionWalkStatus;
  /** Every option visited, in order, EOL included; untrustworthy unless status is 'ok'. */
  options: TcpOptionEntry[];
  /** The negotiated values, present only when the area is well formed and carries them. */
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  tsval?: number;
  tsecr?: number;
}

export interface MssClamp {
  parseStatus: ParseStatusName;
  status: TcpOptionWalkStatus;
  clamped: boolean;
}

/** Each field present replaces the packet's value; addresses are unsigned 32-bit host-order numbers. */
export interface EndpointRewrite {
  srcIp?: number;
  dstIp?: number;
  srcPort?: number;
  dstPort?: number;
}

export interface ChecksumVerdict {
  status: ParseStatusName;
  /** Both false unless status is 'ok'; l4 is true for a UDP datagram sent without a checksum. */
  ip: boolean;
  l4: boolean;
}

export interface CoreBinding {
  /** The native name tables, for the test that they agree with the constants above. */
  readonly parseStatusNames: readonly string[];
  readonly tcpOptionStatusNames: readonly string[];

  parsePacket(frame: Buffer): ParsedPacket;
  walkTcpOptions(frame: Buffer): TcpOptionWalk;
  /** Lowers a larger MSS option to maxMss in place, fixing the TCP checksum; a malformed area is left untouched. */
  clampMss(frame: Buffer, maxMss: number): MssClamp;
  /** A copy of a TCP frame moved into another sequence space (native/core/segment_deltas.h): the deltas are
   *  added mod 2^32; 'bad_options' and 'not_tcp' leave the copy as the input was. */
  applySegmentDeltas(frame: Buffer, deltas: SegmentDeltasSpec): SegmentDeltasResult;
  /** RFC 1071 checksum of buf[start, start + length) (throws RangeError outside the Buffer). */
  checksumFull(buf: Buffer, start: number, length: number): number;
  /** RFC 1624 eqn 3 for one changed 16-bit word. */
  checksumIncremental16(oldChecksum: number, oldWord: number, newWord: number): number;
  /** RFC 1624 eqn 3 for one changed 32-bit value at an even offset. */
  checksumIncremental32(oldChecksum: number, oldValue: number, newValue: number): number;
  /** Rewrites addresses/ports of a TCP or UDP over IPv4 frame in place, fixing both checksums incrementally.
   *  Any status but 'ok' leaves the frame unchanged. */
  rewriteIpv4Tcp(frame: Buffer, rewrite: EndpointRewrite): ParseStatusName;
  verifyChecksums(frame: Buffer): ChecksumVerdict;
}

export interface SegmentDeltasSpec {
  seq?: number;
  ack?: number;
  tsVal?: number;
  tsEcr?: number;
  windowScaleIn?: number;
  windowScaleOut?: number;
}

export interface SegmentDeltasResult {
  status: 'ok' | 'not_tcp' | 'bad_options';
  frame: Buffer;
}
