#include "core/tag_option.h"

#include <cstring>

#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/tcp_options.h"

namespace dysco {
namespace {

constexpr size_t kTcpDataOffsetAt = 12;
constexpr uint32_t kIpv4MaxTotalLength = 0xffff;

// What one walk of the option area learns.
struct TagScan {
  TcpOptionStatus status = TcpOptionStatus::kOk;
  bool found = false;
  size_t tag_at = 0;  // offset of our option in the area, when found
  size_t end = 0;     // where a new option goes: the EOL's offset, or the area's size
};

// `option` is one the walker visited, so its length byte is `length` and lies inside the area.
bool IsOurs(const uint8_t* option, uint8_t length) {
  return option[0] == kTcpOptionExperimental && length == kTagOptionLength && LoadBe16(option + 2) == kTagOptionExId;
}

TagScan ScanOptions(const uint8_t* options, size_t size) {
  TagScan scan;
  scan.end = size;
  scan.status = WalkTcpOptions(options, size, [&](const TcpOption& option) {
    if (option.kind == kTcpOptionEol) {
      scan.end = option.offset;
    } else if (!scan.found && IsOurs(options + option.offset, option.length)) {
      scan.found = true;
      scan.tag_at = option.offset;
    }
  });
  return scan;
}

const uint8_t* OptionArea(const uint8_t* frame, const PacketLayout& layout, size_t* size) {
  const uint8_t* tcp = frame + layout.l4_offset;
  *size = static_cast<size_t>(tcp[kTcpDataOffsetAt] >> 4) * 4 - kTcpMinHeaderSize;
  return tcp + kTcpMinHeaderSize;
}

// The one's-complement sum that `bytes`, sitting at `segment_offset` of the TCP segment, contribute to its
// checksum: at an odd offset every byte is the other half of its word, which swaps the sum's bytes.
uint16_t SumAtOffset(const uint8_t* bytes, size_t count, size_t segment_offset) {
  const uint16_t sum = SumBigEndianWords(bytes, count);
  return (segment_offset & 1) != 0 ? __builtin_bswap16(sum) : sum;
}

// Grows (delta_words = +2) or shrinks (-2) the TCP header after the option bytes were inserted or
// removed: data offset, IPv4 total length, IPv4 checksum, and the TCP checksum, which also gains or
// loses `option_sum`.
void FixHeaders(uint8_t* frame, const PacketLayout& layout, int delta_words, uint16_t option_sum) {
  const Ipv4View ip(frame + layout.l3_offset);
  uint8_t* tcp = frame + layout.l4_offset;
  const uint16_t old_total = ip.total_length();
  const auto new_total = static_cast<uint16_t>(old_total + delta_words * 4);
  const auto ip_header_size = static_cast<uint16_t>(ip.header_size());
  ip.set_checksum(ChecksumUpdate16(ip.checksum(), old_total, new_total));
  ip.set_total_length(new_total);

  const uint16_t old_word = LoadBe16(tcp + kTcpDataOffsetAt);
  const auto new_offset = static_cast<uint8_t>((tcp[kTcpDataOffsetAt] >> 4) + delta_words);
  tcp[kTcpDataOffsetAt] = static_cast<uint8_t>((new_offset << 4) | (tcp[kTcpDataOffsetAt] & 0x0f));
  const uint16_t new_word = LoadBe16(tcp + kTcpDataOffsetAt);

  ChecksumDelta delta;
  delta.Replace16(static_cast<uint16_t>(old_total - ip_header_size), static_cast<uint16_t>(new_total - ip_header_size));
  delta.Replace16(old_word, new_word);
  // One's complement: adding s is replacing a zero word by s, removing s is replacing s by zero.
  if (delta_words > 0) {
    delta.Replace16(0, option_sum);
  } else {
    delta.Replace16(option_sum, 0);
  }
  const TcpView view(tcp);
  view.set_checksum(delta.ApplyTo(view.checksum()));
}

}  // namespace

void EncodeTagOption(uint32_t tag, uint8_t* out) {
  out[0] = kTcpOptionExperimental;
  out[1] = kTagOptionLength;
  StoreBe16(out + 2, kTagOptionExId);
  StoreBe32(out + 4, tag);
}

bool FindTagOption(const uint8_t* frame, const PacketLayout& layout, uint32_t* tag) {
  if (!layout.is_tcp()) return false;
  size_t size = 0;
  const uint8_t* options = OptionArea(frame, layout, &size);
  const TagScan scan = ScanOptions(options, size);
  if (scan.status != TcpOptionStatus::kOk || !scan.found) return false;
  *tag = LoadBe32(options + scan.tag_at + 4);
  return true;
}

TagStatus AddTagOption(uint8_t* frame, size_t* length, size_t capacity, PacketLayout* edited, uint32_t tag) {
  const PacketLayout& layout = *edited;
  if (!layout.is_tcp() || layout.l3_end > *length) return TagStatus::kNotTcp;
  size_t size = 0;
  const uint8_t* options = OptionArea(frame, layout, &size);
  const TagScan scan = ScanOptions(options, size);
  if (scan.status != TcpOptionStatus::kOk) return TagStatus::kMalformedOptions;
  if (size + kTagOptionLength > kTcpMaxOptionsSize) return TagStatus::kNoOptionSpace;
  if (*length + kTagOptionLength > capacity ||
      layout.l3_end - layout.l3_offset + kTagOptionLength > kIpv4MaxTotalLength) {
    return TagStatus::kNoRoom;
  }

  const size_t segment_offset = kTcpMinHeaderSize + scan.end;
  uint8_t* at = frame + layout.l4_offset + segment_offset;
  std::memmove(at + kTagOptionLength, at, static_cast<size_t>(frame + *length - at));
  EncodeTagOption(tag, at);
  FixHeaders(frame, layout, kTagOptionLength / 4, SumAtOffset(at, kTagOptionLength, segment_offset));
  *length += kTagOptionLength;
  edited->payload_offset += kTagOptionLength;
  edited->l3_end += kTagOptionLength;
  return TagStatus::kOk;
}

bool RemoveTagOption(uint8_t* frame, size_t* length, PacketLayout* edited) {
  const PacketLayout& layout = *edited;
  if (!layout.is_tcp() || layout.l3_end > *length) return false;
  size_t size = 0;
  const uint8_t* options = OptionArea(frame, layout, &size);
  const TagScan scan = ScanOptions(options, size);
  if (scan.status != TcpOptionStatus::kOk || !scan.found) return false;

  const size_t segment_offset = kTcpMinHeaderSize + scan.tag_at;
  uint8_t* at = frame + layout.l4_offset + segment_offset;
  const uint16_t option_sum = SumAtOffset(at, kTagOptionLength, segment_offset);
  std::memmove(at, at + kTagOptionLength, static_cast<size_t>(frame + *length - (at + kTagOptionLength)));
  FixHeaders(frame, layout, -static_cast<int>(kTagOptionLength / 4), option_sum);
  *length -= kTagOptionLength;
  edited->payload_offset -= kTagOptionLength;
  edited->l3_end -= kTagOptionLength;
  return true;
}

}  // namespace dysco
