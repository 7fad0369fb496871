#pragma once
// The tag option (docs/wire-format.md): an RFC 6994 shared experimental TCP option carrying the 32-bit
// tag an agent puts on a SYN it delivers to its local stack, so that it can recognise the SYN when the
// middlebox software emits it again, even with a rewritten five-tuple.
//
//   0 kind u8 = 253    1 length u8 = 8    2 ExID u16 = 0x4459 ("DY")    4 tag u32
//
// A kind-253 option with another ExID or another length belongs to someone else and is left alone.
// Every function walks the option area with the defensive walker (core/tcp_options.h) and does nothing
// to a frame whose area is malformed. Nothing here allocates.
#include <cstddef>
#include <cstdint>

#include "core/packet_view.h"

// Append only; the numeric value is the position in the list. src/protocol/tag-option.ts holds the same
// names; a native test asserts they agree.
#define DYSCO_TAG_STATUSES(X)                                                                          \
  X(kOk, "ok")                                                                                         \
  X(kNoOptionSpace, "no_option_space")     /* the option area would exceed 40 bytes */                 \
  X(kNoRoom, "no_room")                    /* the buffer (or the IPv4 total length) is too small */    \
  X(kMalformedOptions, "malformed_options") /* the walker refused the option area */                   \
  X(kNotTcp, "not_tcp")                    /* the layout is not a parsed TCP over IPv4 packet */

namespace dysco {

enum class TagStatus : uint8_t {
#define DYSCO_TAG_STATUS_ENUM(name, label) name,
  DYSCO_TAG_STATUSES(DYSCO_TAG_STATUS_ENUM)
#undef DYSCO_TAG_STATUS_ENUM
};

inline constexpr const char* kTagStatusNames[] = {
#define DYSCO_TAG_STATUS_NAME(name, label) label,
    DYSCO_TAG_STATUSES(DYSCO_TAG_STATUS_NAME)
#undef DYSCO_TAG_STATUS_NAME
};

inline constexpr size_t kTagStatusCount = sizeof(kTagStatusNames) / sizeof(kTagStatusNames[0]);

inline const char* TagStatusName(TagStatus status) {
  auto index = static_cast<size_t>(status);
  return index < kTagStatusCount ? kTagStatusNames[index] : "unknown";
}

inline constexpr uint8_t kTcpOptionExperimental = 253;  // RFC 4727 / RFC 6994 shared experimental
inline constexpr uint8_t kTagOptionLength = 8;
inline constexpr uint16_t kTagOptionExId = 0x4459;  // "DY"

// Writes the 8 option bytes at `out`.
void EncodeTagOption(uint32_t tag, uint8_t* out);

// True and *tag set when the frame's option area is well formed and holds our option (the first one
// if there are several). False for a malformed area, a non-TCP layout, or no tag.
bool FindTagOption(const uint8_t* frame, const PacketLayout& layout, uint32_t* tag);

// Inserts the option after the last option of the area: at its end, or where its EOL is (the EOL and
// the padding after it move back 8 bytes, so the area stays a multiple of 4 and the tag stays before
// EOL). Padding is never reused, so RemoveTagOption restores the frame byte for byte. The payload and
// any Ethernet padding (bytes after layout.l3_end) move back 8 bytes; the data offset, the IPv4 total
// length and both checksums are fixed incrementally. It does not look for a tag already present.
// On kOk *length grows by 8 and *layout describes the edited frame; otherwise nothing is written.
TagStatus AddTagOption(uint8_t* frame, size_t* length, size_t capacity, PacketLayout* layout, uint32_t tag);

// Removes our option (the first one) wherever it is in the area, moving everything after it forward
// 8 bytes and fixing the data offset, the IPv4 total length and both checksums incrementally. True
// when it removed one (then *length shrank by 8 and *layout describes the edited frame); false, frame
// untouched, for a
// malformed area, a non-TCP layout or no tag.
bool RemoveTagOption(uint8_t* frame, size_t* length, PacketLayout* layout);

}  // namespace dysco
