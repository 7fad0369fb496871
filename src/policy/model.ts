// The policy model: a predicate on the session header (prefixes and port ranges) and a chain of
// middlebox addresses. First match wins, in list order. This file holds the types, the port-range
// helper (IPv4 parsing is src/net/ipv4.ts), and the pure reference matcher that the compiled datapath form must agree with.
import { inPrefix, parseIpv4, parsePrefix } from '../net/ipv4';

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

function matchesPrefix(prefixText: string | undefined, ip: number): boolean {
  if (prefixText === undefined) return true;
  const prefix = parsePrefix(prefixText);
  return prefix !== undefined && inPrefix(prefix, ip);
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
      matchesPrefix(p.match.srcPrefix, src) &&
      matchesPrefix(p.match.dstPrefix, dst) &&
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
