// The policy model: a predicate on the session header (prefixes and port ranges) and a chain of
// middlebox addresses. First match wins, in list order. This file holds the types, the IPv4 and
// port-range helpers, and the pure reference matcher that the compiled datapath form must agree with.

/** A port or an inclusive range: 443, "443", or "1024-65535". */
export type PortSpec = number | string;

export interface PolicyMatch {
  /** "a.b.c.d/n", no host bits set. Absent: any source. */
  srcPrefix?: string;
  /** "a.b.c.d/n", no host bits set. Absent: any destination. */
  dstPrefix?: string;
  srcPorts?: PortSpec;
  dstPorts?: PortSpec;
}

export interface Policy {
  /** Unique, [a-z0-9_-]{1,64}. */
  name: string;
  match: PolicyMatch;
  /**
   * IPv4 addresses of the middlebox hosts, in path order, 0..31 entries. The session's destination is
   * the last hop: it may be written as the last entry or omitted. An empty chain still makes a Dysco
   * session, straight to the destination.
   */
  chain: string[];
}

/** The session header the matcher looks at (the SYN's five-tuple without the protocol: TCP only). */
export interface SessionHeader {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
}

export interface PortRange {
  lo: number;
  hi: number;
}

export interface Prefix {
  /** Host-order number of the network address. */
  net: number;
  length: number;
  /** Host-order mask, e.g. 0xffffff00 for /24; 0 for /0. */
  mask: number;
}

export const MAX_POLICIES = 4096;
/** Chain entries a policy may list; with the destination appended the SYN address list has at most 32. */
export const MAX_CHAIN = 31;
export const MAX_HOPS = 32;
export const POLICY_NAME_PATTERN = /^[a-z0-9_-]{1,64}$/;

const OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** Dotted-quad IPv4 to its host-order number (0..2^32-1); undefined if not strictly a.b.c.d. */
export function parseIpv4(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

export function maskOf(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/** "a.b.c.d/n" to its parts; undefined if malformed. Host bits are reported, not cleared (see hostBitsSet). */
export function parsePrefix(text: string): (Prefix & { address: number }) | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^([0-9.]+)\/(3[0-2]|[12]?[0-9])$/.exec(text);
  if (!match) return undefined;
  const address = parseIpv4(match[1]!);
  if (address === undefined) return undefined;
  const length = Number(match[2]);
  const mask = maskOf(length);
  return { address, net: (address & mask) >>> 0, length, mask };
}

/** 443 / "443" / "1024-2048" to an inclusive range; undefined if malformed or outside 1..65535 or lo > hi. */
export function parsePortSpec(spec: PortSpec): PortRange | undefined {
  let lo: number;
  let hi: number;
  if (typeof spec === 'number') {
    lo = hi = spec;
  } else if (typeof spec === 'string') {
    const match = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(spec);
    if (!match) return undefined;
    lo = Number(match[1]);
    hi = match[2] === undefined ? lo : Number(match[2]);
  } else {
    return undefined;
  }
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi) return undefined;
  return { lo, hi };
}

function inPrefix(prefixText: string | undefined, ip: number): boolean {
  if (prefixText === undefined) return true;
  const prefix = parsePrefix(prefixText);
  return prefix !== undefined && ((ip & prefix.mask) >>> 0) === prefix.net;
}

function inPorts(spec: PortSpec | undefined, port: number): boolean {
  if (spec === undefined) return true;
  const range = parsePortSpec(spec);
  return range !== undefined && port >= range.lo && port <= range.hi;
}

/** Reference matcher: the first policy, in list order, whose every present field matches the header. */
export function matchPolicy<P extends Policy>(policies: readonly P[], header: SessionHeader): P | undefined {
  const src = parseIpv4(header.srcIp);
  const dst = parseIpv4(header.dstIp);
  if (src === undefined || dst === undefined) return undefined;
  return policies.find(
    (p) =>
      inPrefix(p.match.srcPrefix, src) &&
      inPrefix(p.match.dstPrefix, dst) &&
      inPorts(p.match.srcPorts, header.srcPort) &&
      inPorts(p.match.dstPorts, header.dstPort),
  );
}

/**
 * The SYN address list for a session this policy chains: the chain, then the session's destination
 * unless the chain already ends with it. An empty chain gives [destination].
 */
export function addressListFor(policy: Policy, sessionDst: string): string[] {
  const chain = [...policy.chain];
  if (chain.length > 0 && parseIpv4(chain[chain.length - 1]!) === parseIpv4(sessionDst)) return chain;
  return [...chain, sessionDst];
}
