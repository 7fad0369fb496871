// The typed surface of the addon's `protocol` object (native/addon/protocol_bindings.cc): the address list
// and tag option of native/core on Buffers. Arguments are trusted by the native side; callers validate
// them first (src/protocol/*.ts does, for strings). Frame functions never change their argument: they
// return a new Buffer, a copy of the input when the status is not 'ok'.
import type { AddressListStatusName } from '../protocol/address-list';
import type { TagStatusName } from '../protocol/tag-option';

/** How appendAddressListToSyn / stripSynPayload ended (native/core/address_list.h SynPayloadStatus). */
export const SYN_PAYLOAD_STATUS_NAMES = [
  'ok',
  'not_tcp',
  'not_syn',
  'has_payload',
  'no_payload',
  'bad_hop_count',
  'no_room',
] as const;
export type SynPayloadStatusName = (typeof SYN_PAYLOAD_STATUS_NAMES)[number];

/** The session tuple with IPv4 addresses as unsigned 32-bit host-order numbers. */
export interface NativeSessionTuple {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

export interface NativeAddressListParse {
  status: AddressListStatusName;
  /** Present only when status is 'ok'. */
  session?: NativeSessionTuple;
  /** Host-order numbers; present only when status is 'ok'. */
  hops?: number[];
  /** Flag bit 0: the payload ends in an authentication block (parsed, not verified). */
  authenticated?: boolean;
}

/** After a successful edit, `layoutAgrees` says whether the layout the edit handed back (the pipeline
 * does not parse again) equals parsing the edited frame. */
export interface SynPayloadResult {
  status: SynPayloadStatusName;
  frame: Buffer;
  layoutAgrees?: boolean;
}

export interface TagAddResult {
  status: TagStatusName;
  frame: Buffer;
  layoutAgrees?: boolean;
}

export interface TagRemoveResult {
  removed: boolean;
  frame: Buffer;
  layoutAgrees?: boolean;
}

export interface ProtocolBinding {
  /** The native name tables, for the test that they agree with the TypeScript constants. */
  readonly addressListStatusNames: readonly string[];
  readonly synPayloadStatusNames: readonly string[];
  readonly tagStatusNames: readonly string[];

  /** Parses a whole TCP payload as one address list. */
  parseAddressList(payload: Buffer): NativeAddressListParse;
  /** Throws RangeError unless 1..32 hops. */
  encodeAddressList(session: NativeSessionTuple, hops: number[]): Buffer;
  /** Appends the list as the payload of a SYN without payload, fixing lengths and checksums.
   *  `spareCapacity` (tests only) limits the room the native side gets beyond the frame (default: enough). */
  appendAddressListToSyn(frame: Buffer, session: NativeSessionTuple, hops: number[], spareCapacity?: number): SynPayloadResult;
  /** Removes the payload of a SYN, fixing lengths and checksums. */
  stripSynPayload(frame: Buffer): SynPayloadResult;
  /** Inserts our option after the last option (before EOL), fixing data offset, lengths and checksums.
   *  `spareCapacity` (tests only) limits the room the native side gets beyond the frame (default: 8). */
  addTagOption(frame: Buffer, tag: number, spareCapacity?: number): TagAddResult;
  /** Our tag, or null (no tag, malformed option area, not TCP). */
  findTagOption(frame: Buffer): number | null;
  removeTagOption(frame: Buffer): TagRemoveResult;
}
