#include "core/tcp_options.h"

#include "core/byte_order.h"
#include "core/checksum.h"

namespace dysco {

TcpOptionLookup FindTcpOption(const uint8_t* options, size_t size, uint8_t kind) {
  TcpOptionLookup lookup;
  lookup.status = WalkTcpOptions(options, size, [&](const TcpOption& option) {
    if (!lookup.found && option.kind == kind) {
      lookup.found = true;
      lookup.option = option;
    }
  });
  if (lookup.status != TcpOptionStatus::kOk) lookup.found = false;
  return lookup;
}

std::optional<uint16_t> ReadMss(const uint8_t* options, size_t size) {
  const TcpOptionLookup lookup = FindTcpOption(options, size, kTcpOptionMss);
  if (!lookup.found) return std::nullopt;
  return LoadBe16(options + lookup.option.offset + 2);
}

std::optional<uint8_t> ReadWindowScale(const uint8_t* options, size_t size) {
  const TcpOptionLookup lookup = FindTcpOption(options, size, kTcpOptionWindowScale);
  if (!lookup.found) return std::nullopt;
  return options[lookup.option.offset + 2];
}

bool HasSackPermitted(const uint8_t* options, size_t size) {
  return FindTcpOption(options, size, kTcpOptionSackPermitted).found;
}

std::optional<TcpTimestamps> ReadTimestamps(const uint8_t* options, size_t size) {
  const TcpOptionLookup lookup = FindTcpOption(options, size, kTcpOptionTimestamps);
  if (!lookup.found) return std::nullopt;
  const uint8_t* at = options + lookup.option.offset;
  return TcpTimestamps{LoadBe32(at + 2), LoadBe32(at + 6)};
}

TcpOptionSummary SummarizeTcpOptions(const uint8_t* options, size_t size) {
  TcpOptionSummary summary;
  summary.status = WalkTcpOptions(options, size, [&](const TcpOption& option) {
    const uint8_t* at = options + option.offset;
    switch (option.kind) {
      case kTcpOptionMss:
        if (!summary.has_mss) summary.mss = LoadBe16(at + 2);
        summary.has_mss = true;
        break;
      case kTcpOptionWindowScale:
        if (!summary.has_window_scale) summary.window_scale = at[2];
        summary.has_window_scale = true;
        break;
      case kTcpOptionSackPermitted:
        summary.sack_permitted = true;
        break;
      case kTcpOptionTimestamps:
        if (!summary.has_timestamps) summary.timestamps = TcpTimestamps{LoadBe32(at + 2), LoadBe32(at + 6)};
        summary.has_timestamps = true;
        break;
      default:
        break;
    }
  });
  if (summary.status != TcpOptionStatus::kOk) {
    const TcpOptionStatus status = summary.status;
    summary = TcpOptionSummary{};
    summary.status = status;
  }
  return summary;
}

MssClampResult ClampMss(const TcpView& tcp, uint16_t max_mss) {
  MssClampResult result;
  uint8_t* options = tcp.options();
  const TcpOptionLookup lookup = FindTcpOption(options, tcp.options_size(), kTcpOptionMss);
  result.status = lookup.status;
  if (!lookup.found) return result;

  uint8_t* value = options + lookup.option.offset + 2;
  const uint16_t mss = LoadBe16(value);
  if (mss <= max_mss) return result;

  // The checksum sums 16-bit words from the start of the (4-byte aligned) header. A value at an odd
  // offset straddles two words, contributing its bytes swapped, so the delta uses the swapped values.
  const size_t header_offset = kTcpMinHeaderSize + lookup.option.offset + 2;
  const bool odd = (header_offset & 1) != 0;
  ChecksumDelta delta;
  delta.Replace16(odd ? __builtin_bswap16(mss) : mss, odd ? __builtin_bswap16(max_mss) : max_mss);
  StoreBe16(value, max_mss);
  tcp.set_checksum(delta.ApplyTo(tcp.checksum()));
  result.clamped = true;
  return result;
}

}  // namespace dysco
