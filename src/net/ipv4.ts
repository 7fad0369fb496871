// The one IPv4 address and prefix parser of the TypeScript side (config schema, policy validation, control API,
// address-list codec, agent options). Addresses are unsigned 32-bit host-order numbers.
//
// Decisions (strict on purpose; every boundary accepts the same spellings):
// - exactly four decimal parts "a.b.c.d", each 0..255, ASCII digits only, no sign, no spaces;
// - no leading zeros ("010.0.0.1" is refused: inet_aton reads 010 as octal 8, other parsers as decimal 10);
// - no short forms ("10.1", "10.0.1" are refused, although inet_aton accepts them);
// - a prefix is "a.b.c.d/n" with n 0..32, written without leading zeros ("/08" and "/33" are refused);
// - host bits: the parser reports them (`address` next to `net`) and clears nothing. A policy prefix with host
//   bits set is refused by src/policy/validate.ts; an interface address ("10.0.1.2/24") has them by nature.

const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const PREFIX = /^([^/]*)\/(0|[1-9][0-9]?)$/;

export const IPV4_MAX_PREFIX_LENGTH = 32;

export interface Ipv4Prefix {
  /** The address as written, host bits included. */
  address: number;
  /** The network address: `address` with the host bits cleared. */
  net: number;
  length: number;
  /** e.g. 0xffffff00 for /24; 0 for /0. */
  mask: number;
}

/** A dotted quad as a host-order number; undefined for anything else (see the decisions above). */
export function parseIpv4(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** parseIpv4, throwing a TypeError that names `what` for anything that is not a dotted quad. */
export function requireIpv4(text: unknown, what = 'address'): number {
  const value = parseIpv4(text);
  if (value === undefined) throw new TypeError(`${what}: not a dotted-quad IPv4 address: ${JSON.stringify(text)}`);
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** The host-order mask of a prefix length 0..32. */
export function maskOf(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (IPV4_MAX_PREFIX_LENGTH - length)) >>> 0;
}

/** "a.b.c.d/n"; undefined if malformed. Host bits are reported, not cleared. */
export function parsePrefix(text: unknown): Ipv4Prefix | undefined {
  if (typeof text !== 'string') return undefined;
  const match = PREFIX.exec(text);
  if (!match) return undefined;
  const address = parseIpv4(match[1]);
  const length = Number(match[2]);
  if (address === undefined || length > IPV4_MAX_PREFIX_LENGTH) return undefined;
  const mask = maskOf(length);
  return { address, net: (address & mask) >>> 0, length, mask };
}

/** Whether a prefix was written with host bits set ("10.0.0.1/24"). */
export function hasHostBits(prefix: Ipv4Prefix): boolean {
  return prefix.address !== prefix.net;
}

/** Whether a host-order address lies in a prefix. */
export function inPrefix(prefix: Ipv4Prefix, address: number): boolean {
  return ((address & prefix.mask) >>> 0) === prefix.net;
}
