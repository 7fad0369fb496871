// The typed surface of the test addon's `mac` object (native/addon/mac_bindings.cc): the MACs of native/core/mac.h
// on Buffers, for the native test tier.
export interface MacBinding {
  sha256(data: Buffer): Buffer;
  hmacSha256(key: Buffer, data: Buffer): Buffer;
  /** `key`: 16 bytes; the 8-byte tag as the reference implementation writes it (little-endian). */
  sipHash24(key: Buffer, data: Buffer): Buffer;
}
