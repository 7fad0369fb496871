#pragma once
// A TCP segment moved into another sequence space: what a reconfigured session's second path does to every
// segment it carries (PROTOCOL.md, "Two paths"). The new path's subsessions start with their own initial
// sequence numbers and timestamps, and may have another window scale, so each direction of each path keeps
// the deltas below; the segment's checksum is adjusted incrementally for every field it changes.
#include <cstdint>

#include "core/packet_view.h"

namespace dysco {

struct SegmentDeltas {
  uint32_t seq = 0;     // added (mod 2^32) to SEQ: this direction's byte stream
  uint32_t ack = 0;     // added to ACK (when the ACK flag is set) and to every SACK edge: the other direction's
  uint32_t ts_val = 0;  // added to TSval
  uint32_t ts_ecr = 0;  // added to TSecr (when not 0: a zero echo carries no timestamp)
  // The sender's window scale as the segment arrived and as the path it leaves on negotiated: the window
  // field is rescaled (rounded down, at most 65535). Never on a SYN, whose window is not scaled.
  uint8_t window_scale_in = 0;
  uint8_t window_scale_out = 0;
};

enum class SegmentDeltaStatus : uint8_t {
  kOk,
  kNotTcp,      // the layout is not a TCP segment inside the frame
  kBadOptions,  // a malformed option area: the segment is left byte for byte as it was
};

SegmentDeltaStatus ApplySegmentDeltas(uint8_t* frame, const PacketLayout& layout, const SegmentDeltas& deltas);

}  // namespace dysco
