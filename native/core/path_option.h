#pragma once
// The path option (docs/wire-format.md): an RFC 6994 shared experimental TCP option on the segments an
// anchor makes itself on a new path (the handshake's ACK and the announcements). It tells the far anchor
// that this anchor is there, where its byte stream moved to the new path once it switched, and how far
// it got.
//
//   0 kind u8 = 253   1 length u8 = 14   2 ExID u16 = 0x4450 ("DP")   4 flags u8   5 reserved u8 = 0
//   6 nonce u32: the reconfiguration    10 cutoff u32: with kPathSwitched, the sender's first byte on the
//                                          new path, in its host's sequence space (else 0)
//
// The far anchor consumes these segments: no host stack ever sees one.
#include <cstddef>
#include <cstdint>

#include "core/packet_view.h"

namespace dysco {

inline constexpr uint8_t kPathOptionKind = 253;
inline constexpr uint8_t kPathOptionLength = 14;
inline constexpr uint16_t kPathOptionExId = 0x4450;

// flags
inline constexpr uint8_t kPathKnowsYourCutoff = 1;  // the sender maps the receiver's new-path stream
inline constexpr uint8_t kPathReceivedAll = 2;      // the sender's host acknowledged all the receiver sent on the old path
inline constexpr uint8_t kPathFolded = 4;           // the sender has folded the new path and left the old
inline constexpr uint8_t kPathSwitched = 8;         // the sender's stream is on the new path: `cutoff` is valid

struct PathAnnouncement {
  uint8_t flags = 0;
  uint32_t nonce = 0;
  uint32_t cutoff = 0;
};

// Writes the option (14 bytes) at `out`.
void WritePathOption(uint8_t* out, const PathAnnouncement& announcement);

// The announcement a TCP segment carries, if its option area is well formed and holds one.
bool FindPathOption(const uint8_t* frame, const PacketLayout& layout, PathAnnouncement* out);

}  // namespace dysco
