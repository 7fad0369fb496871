// The tag option (docs/wire-format.md): an RFC 6994 shared experimental TCP option, kind 253, length 8,
// ExID 0x4459 ("DY"), then the 32-bit tag. The same format as native/core/tag_option.h.

export const TAG_OPTION_KIND = 253;
export const TAG_OPTION_LENGTH = 8;
export const TAG_OPTION_EXID = 0x4459; // "DY"

/** How AddTagOption ended; the position is the C++ TagStatus value. */
export const TAG_STATUS_NAMES = ['ok', 'no_option_space', 'no_room', 'malformed_options', 'not_tcp'] as const;
export type TagStatusName = (typeof TAG_STATUS_NAMES)[number];

/** The 8 option bytes for `tag` (an unsigned 32-bit integer; throws RangeError otherwise). */
export function encodeTagOption(tag: number): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff) {
    throw new RangeError(`tag option: the tag is an unsigned 32-bit integer, got ${tag}`);
  }
  const out = Buffer.alloc(TAG_OPTION_LENGTH);
  out[0] = TAG_OPTION_KIND;
  out[1] = TAG_OPTION_LENGTH;
  out.writeUInt16BE(TAG_OPTION_EXID, 2);
  out.writeUInt32BE(tag, 4);
  return out;
}

/** The tag of our option starting at bytes[offset], or null when the bytes there are not our option
 *  (another kind, another length, another ExID, or fewer than 8 bytes). */
export function decodeTagOption(bytes: Uint8Array, offset = 0): number | null {
  if (!Number.isInteger(offset) || offset < 0 || offset + TAG_OPTION_LENGTH > bytes.length) return null;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf[offset] !== TAG_OPTION_KIND || buf[offset + 1] !== TAG_OPTION_LENGTH) return null;
  if (buf.readUInt16BE(offset + 2) !== TAG_OPTION_EXID) return null;
  return buf.readUInt32BE(offset + 4);
}
