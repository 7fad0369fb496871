#include "core/segment_deltas.h"

#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/tcp_options.h"

namespace dysco {
namespace {

// The TCP checksum sums 16-bit words from the (even) start of the header: a 32-bit value at an odd
// offset contributes its bytes rotated by one, so the delta is taken over the rotated values.
void Add32At(uint8_t* tcp, size_t offset, uint32_t addend, ChecksumDelta* delta) {
  const uint32_t old_value = LoadBe32(tcp + offset);
  const uint32_t new_value = old_value + addend;
  const bool odd = (offset & 1) != 0;
  delta->Replace32(odd ? (old_value >> 8 | old_value << 24) : old_value, odd ? (new_value >> 8 | new_value << 24) : new_value);
  StoreBe32(tcp + offset, new_value);
}

uint16_t Rescaled(uint16_t window, uint8_t scale_in, uint8_t scale_out) {
  const uint64_t bytes = uint64_t{window} << scale_in;
  const uint64_t field = bytes >> scale_out;
  return field > 0xffff ? 0xffff : static_cast<uint16_t>(field);
}

}  // namespace

SegmentDeltaStatus ApplySegmentDeltas(uint8_t* frame, const PacketLayout& layout, const SegmentDeltas& deltas) {
  if (!layout.is_tcp() || layout.l4_offset + kTcpMinHeaderSize > layout.l3_end) return SegmentDeltaStatus::kNotTcp;
  const TcpView tcp(frame + layout.l4_offset);
  if (layout.l4_offset + tcp.header_size() > layout.l3_end) return SegmentDeltaStatus::kNotTcp;

  // Walk first: a malformed area means nothing is written.
  uint16_t sack_at = 0, sack_length = 0, timestamps_at = 0;
  bool has_sack = false, has_timestamps = false;
  const TcpOptionStatus walk = WalkTcpOptions(tcp.options(), tcp.options_size(), [&](const TcpOption& option) {
    if (option.kind == kTcpOptionSack && !has_sack) {
      has_sack = true;
      sack_at = option.offset;
      sack_length = option.length;
    } else if (option.kind == kTcpOptionTimestamps && !has_timestamps) {
      has_timestamps = true;
      timestamps_at = option.offset;
    }
  });
  if (walk != TcpOptionStatus::kOk) return SegmentDeltaStatus::kBadOptions;

  uint8_t* header = tcp.data();
  ChecksumDelta delta;
  const uint8_t flags = tcp.flags();
  if (deltas.seq != 0) Add32At(header, 4, deltas.seq, &delta);
  if (deltas.ack != 0 && (flags & kTcpAck)) Add32At(header, 8, deltas.ack, &delta);
  if (has_sack && deltas.ack != 0) {
    for (size_t edge = 2; edge < sack_length; edge += 4) Add32At(header, kTcpMinHeaderSize + sack_at + edge, deltas.ack, &delta);
  }
  if (has_timestamps) {
    const size_t value_at = kTcpMinHeaderSize + timestamps_at + 2;
    if (deltas.ts_val != 0) Add32At(header, value_at, deltas.ts_val, &delta);
    if (deltas.ts_ecr != 0 && LoadBe32(header + value_at + 4) != 0) Add32At(header, value_at + 4, deltas.ts_ecr, &delta);
  }
  if (deltas.window_scale_in != deltas.window_scale_out && !(flags & kTcpSyn)) {
    const uint16_t window = tcp.window();
    const uint16_t rescaled = Rescaled(window, deltas.window_scale_in, deltas.window_scale_out);
    delta.Replace16(window, rescaled);
    StoreBe16(header + 14, rescaled);
  }
  tcp.set_checksum(delta.ApplyTo(tcp.checksum()));
  return SegmentDeltaStatus::kOk;
}

}  // namespace dysco
