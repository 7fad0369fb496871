// The address list an agent appends to a subsession SYN (docs/wire-format.md), version 1, big-endian:
// magic "DYSK", version, flags, hop count, reserved, the session tuple the endpoints see (TCP implied),
// then one IPv4 address per remaining hop (the first receives the SYN, the last is the destination), a new
// path's nonce, and with flag bit 0 the authentication block (key id, signer's time, SipHash-2-4 tag:
// native/core/list_auth.h; verifying and signing are the datapath's). The same format as
// native/core/address_list.h; a native test checks that the two agree.
import { formatIpv4, requireIpv4 } from '../net/ipv4';


export const ADDRESS_LIST_MAGIC = 0x4459534b; // "DYSK"
export const ADDRESS_LIST_VERSION = 1;
/** Flag bit 0: an authentication block ends the list. */
export const ADDRESS_LIST_FLAG_AUTHENTICATED = 0x01;
/** Key id u16, the signer's time u32 (Unix seconds), an 8-byte tag. */
export const ADDRESS_LIST_AUTH_BLOCK_SIZE = 14;
/** The SYN opens a live session's new path: a 4-byte reconfiguration nonce follows the hops. */
export const ADDRESS_LIST_FLAG_NEW_PATH = 0x02;
export const ADDRESS_LIST_HEADER_SIZE = 20;
export const ADDRESS_LIST_HOP_SIZE = 4;
export const MAX_HOPS = 32;

/** Why a payload is not a valid list; the position is the C++ AddressListStatus value. */
export const ADDRESS_LIST_STATUS_NAMES = [
  'ok',
  'truncated',
  'bad_magic',
  'bad_version',
  'unsupported_flags',
  'zero_hops',
  'too_many_hops',
  'length_mismatch',
] as const;
export type AddressListStatusName = (typeof ADDRESS_LIST_STATUS_NAMES)[number];

/** The session five-tuple as the endpoints see it (protocol TCP). */
export interface SessionTuple {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
}

export interface AddressList {
  session: SessionTuple;
  /** 1..MAX_HOPS IPv4 addresses: hops[0] receives the SYN, the last is the destination host. */
  hops: string[];
  /** Present on a new path's SYN: the reconfiguration's nonce (u32). */
  newPathNonce?: number;
  /** Present on a signed list (decoded only: the datapath signs). */
  auth?: AddressListAuth;
}

export interface AddressListAuth {
  keyId: number;
  /** The signer's clock, Unix seconds. */
  signedAt: number;
  tag: Buffer;
}

export type AddressListDecoding =
  | { ok: true; list: AddressList }
  | { ok: false; status: Exclude<AddressListStatusName, 'ok'> };

function checkPort(port: unknown, what: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new RangeError(`${what}: a port is an integer in 0..65535, got ${String(port)}`);
  }
  return port;
}

/** Bytes of a list with `hopCount` hops (and a new path's nonce). */
export function addressListSize(hopCount: number, newPath = false): number {
  return ADDRESS_LIST_HEADER_SIZE + ADDRESS_LIST_HOP_SIZE * hopCount + (newPath ? 4 : 0);
}

/** Encodes a list; throws TypeError/RangeError on a bad address, port or hop count. */
export function encodeAddressList(list: AddressList): Buffer {
  const { session, hops } = list;
  if (typeof session !== 'object' || session === null) throw new TypeError('address list: session is required');
  if (!Array.isArray(hops)) throw new TypeError('address list: hops must be an array of IPv4 addresses');
  if (hops.length < 1 || hops.length > MAX_HOPS) {
    throw new RangeError(`address list: 1 to ${MAX_HOPS} hops are expected, got ${hops.length}`);
  }
  const nonce = list.newPathNonce;
  if (nonce !== undefined && !(Number.isInteger(nonce) && nonce >= 0 && nonce <= 0xffffffff)) {
    throw new RangeError(`address list: a new path's nonce is a u32, got ${String(nonce)}`);
  }
  const out = Buffer.alloc(addressListSize(hops.length, nonce !== undefined));
  out.writeUInt32BE(ADDRESS_LIST_MAGIC, 0);
  out[4] = ADDRESS_LIST_VERSION;
  out[5] = nonce !== undefined ? ADDRESS_LIST_FLAG_NEW_PATH : 0;
  out[6] = hops.length;
  out[7] = 0;
  out.writeUInt32BE(requireIpv4(session.srcIp, 'session.srcIp'), 8);
  out.writeUInt32BE(requireIpv4(session.dstIp, 'session.dstIp'), 12);
  out.writeUInt16BE(checkPort(session.srcPort, 'session.srcPort'), 16);
  out.writeUInt16BE(checkPort(session.dstPort, 'session.dstPort'), 18);
  hops.forEach((hop, i) => out.writeUInt32BE(requireIpv4(hop, `hops[${i}]`), ADDRESS_LIST_HEADER_SIZE + 4 * i));
  if (nonce !== undefined) out.writeUInt32BE(nonce, addressListSize(hops.length));
  return out;
}

/** Decodes exactly one list occupying all of `payload`; checks in the same order as the C++ parser. */
export function decodeAddressList(payload: Uint8Array): AddressListDecoding {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buf.length < 4) return { ok: false, status: 'truncated' };
  if (buf.readUInt32BE(0) !== ADDRESS_LIST_MAGIC) return { ok: false, status: 'bad_magic' };
  if (buf.length < ADDRESS_LIST_HEADER_SIZE) return { ok: false, status: 'truncated' };
  if (buf[4] !== ADDRESS_LIST_VERSION) return { ok: false, status: 'bad_version' };
  const flags = buf[5]!;
  if ((flags & ~(ADDRESS_LIST_FLAG_NEW_PATH | ADDRESS_LIST_FLAG_AUTHENTICATED)) !== 0) {
    return { ok: false, status: 'unsupported_flags' };
  }
  const newPath = (flags & ADDRESS_LIST_FLAG_NEW_PATH) !== 0;
  const signed = (flags & ADDRESS_LIST_FLAG_AUTHENTICATED) !== 0;
  const count = buf[6]!;
  if (count === 0) return { ok: false, status: 'zero_hops' };
  if (count > MAX_HOPS) return { ok: false, status: 'too_many_hops' };
  const expected = addressListSize(count, newPath) + (signed ? ADDRESS_LIST_AUTH_BLOCK_SIZE : 0);
  if (buf.length < expected) return { ok: false, status: 'truncated' };
  if (buf.length > expected) return { ok: false, status: 'length_mismatch' };
  const hops: string[] = [];
  for (let i = 0; i < count; i++) hops.push(formatIpv4(buf.readUInt32BE(ADDRESS_LIST_HEADER_SIZE + 4 * i)));
  const block = addressListSize(count, newPath);
  return {
    ok: true,
    list: {
      session: {
        srcIp: formatIpv4(buf.readUInt32BE(8)),
        dstIp: formatIpv4(buf.readUInt32BE(12)),
        srcPort: buf.readUInt16BE(16),
        dstPort: buf.readUInt16BE(18),
      },
      hops,
      ...(newPath ? { newPathNonce: buf.readUInt32BE(addressListSize(count)) } : {}),
      ...(signed
        ? {
            auth: {
              keyId: buf.readUInt16BE(block),
              signedAt: buf.readUInt32BE(block + 2),
              tag: Buffer.from(buf.subarray(block + 6, block + ADDRESS_LIST_AUTH_BLOCK_SIZE)),
            },
          }
        : {}),
    },
  };
}

const IPV4_HEADER_SIZE = 20;
const TCP_HEADER_SIZE = 20;
const TCP_MAX_OPTION_BYTES = 40;

/**
 * How many hops a list may carry on a SYN that must fit in `mtu` (the largest IPv4 packet on the link):
 * IPv4 header 20 + TCP header 20 + the SYN's options (rounded up to whole words) + list header 20 +
 * 4 per hop (+ 14 for the authentication block when `signed`), capped at MAX_HOPS. 0 when not even one
 * hop fits.
 */
export function maxHopsForMtu(mtu: number, tcpOptionBytes: number, signed = false): number {
  if (!Number.isInteger(mtu) || mtu < 0) throw new RangeError(`MTU must be a non-negative integer, got ${mtu}`);
  if (!Number.isInteger(tcpOptionBytes) || tcpOptionBytes < 0 || tcpOptionBytes > TCP_MAX_OPTION_BYTES) {
    throw new RangeError(`TCP option bytes must be an integer in 0..${TCP_MAX_OPTION_BYTES}, got ${tcpOptionBytes}`);
  }
  const options = Math.ceil(tcpOptionBytes / 4) * 4;
  const room =
    mtu - IPV4_HEADER_SIZE - TCP_HEADER_SIZE - options - ADDRESS_LIST_HEADER_SIZE - (signed ? ADDRESS_LIST_AUTH_BLOCK_SIZE : 0);
  if (room < ADDRESS_LIST_HOP_SIZE) return 0;
  return Math.min(MAX_HOPS, Math.floor(room / ADDRESS_LIST_HOP_SIZE));
}
