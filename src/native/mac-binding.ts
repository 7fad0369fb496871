// The typed surface of the test addon's `mac` object (native/addon/mac_bindings.cc): the MACs of native/core/mac.h
// on Buffers, for the native test tier.
export interface MacBinding {
  sha256(data: Buffer): Buffer;
  hmacSha256(key: Buffer, data: Buffer): Buffer;
  /** `key`: 16 bytes; the 8-byte tag as the reference implementation writes it (little-endian). */
  sipHash24(key: Buffer, data: Buffer): Buffer;
  /**
   * The list with its authentication block (native/core/list_auth.h), or null when it cannot be signed. `carrier`:
   * the 12 bytes of IPv4 source, destination, TCP source and destination port of the SYN that carries it.
   */
  signAddressList(keys: ListKey[], signingId: number, nowS: number, list: Buffer, carrier: Buffer): Buffer | null;
  verifyAddressList(
    keys: ListKey[],
    nowS: number,
    maxSkewS: number,
    payload: Buffer,
    carrier: Buffer,
  ): { status: ListAuthStatusName; listSize?: number };
}

export interface ListKey {
  id: number;
  key: Buffer;
}

/** native/core/list_auth.h's statuses, in order. */
export type ListAuthStatusName = 'ok' | 'unauthenticated' | 'truncated' | 'unknown_key' | 'bad_tag' | 'stale';
