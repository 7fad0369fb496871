#pragma once
// A defensive walker over the TCP option area (the bytes between the fixed 20-byte header and the data
// offset). It never reads past the area: EOL ends the walk (bytes after it are padding), NOP is one byte,
// every other option needs a length byte of at least 2 that keeps it inside the area, and the options we
// interpret must have their RFC length. A malformed area is reported, and nothing that uses this walker
// writes to a packet whose area is malformed.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/packet_view.h"

#define DYSCO_TCP_OPTION_STATUSES(X)                                                             \
  X(kOk, "ok")                 /* walked to the end of the area or to EOL */                     \
  X(kBadLength, "bad_length")  /* a length byte below 2, or not the RFC length of a known kind */ \
  X(kTruncated, "truncated")   /* an option without its length byte, or running past the area */

namespace dysco {

enum class TcpOptionStatus : uint8_t {
#define DYSCO_TCP_OPTION_STATUS_ENUM(name, label) name,
  DYSCO_TCP_OPTION_STATUSES(DYSCO_TCP_OPTION_STATUS_ENUM)
#undef DYSCO_TCP_OPTION_STATUS_ENUM
};

inline constexpr const char* kTcpOptionStatusNames[] = {
#define DYSCO_TCP_OPTION_STATUS_NAME(name, label) label,
    DYSCO_TCP_OPTION_STATUSES(DYSCO_TCP_OPTION_STATUS_NAME)
#undef DYSCO_TCP_OPTION_STATUS_NAME
};

inline constexpr size_t kTcpOptionStatusCount = sizeof(kTcpOptionStatusNames) / sizeof(kTcpOptionStatusNames[0]);

inline const char* TcpOptionStatusName(TcpOptionStatus status) {
  auto index = static_cast<size_t>(status);
  return index < kTcpOptionStatusCount ? kTcpOptionStatusNames[index] : "unknown";
}

inline constexpr uint8_t kTcpOptionEol = 0;
inline constexpr uint8_t kTcpOptionNop = 1;
inline constexpr uint8_t kTcpOptionMss = 2;
inline constexpr uint8_t kTcpOptionWindowScale = 3;
inline constexpr uint8_t kTcpOptionSackPermitted = 4;
inline constexpr uint8_t kTcpOptionSack = 5;
inline constexpr uint8_t kTcpOptionTimestamps = 8;

inline constexpr size_t kTcpMaxOptionsSize = 40;

// One option as the walker saw it. EOL and NOP are reported with length 1.
struct TcpOption {
  uint8_t kind;
  uint8_t length;
  uint16_t offset;  // from the start of the option area
};

// The RFC length of the kinds we interpret; any length of at least 2 for the others.
inline bool TcpOptionLengthValid(uint8_t kind, uint8_t length) {
  switch (kind) {
    case kTcpOptionMss: return length == 4;
    case kTcpOptionWindowScale: return length == 3;
    case kTcpOptionSackPermitted: return length == 2;
    case kTcpOptionTimestamps: return length == 10;
    case kTcpOptionSack: return length >= 10 && length <= 34 && (length - 2) % 8 == 0;
    default: return length >= 2;
  }
}

// Calls visit(const TcpOption&) for each option in order, EOL included, and returns how the walk ended.
// On a non-ok status the options already visited came from a malformed area: do not act on them.
template <typename Visit>
inline TcpOptionStatus WalkTcpOptions(const uint8_t* options, size_t size, Visit&& visit) {
  size_t at = 0;
  while (at < size) {
    const uint8_t kind = options[at];
    if (kind == kTcpOptionEol) {
      visit(TcpOption{kind, 1, static_cast<uint16_t>(at)});
      return TcpOptionStatus::kOk;
    }
    if (kind == kTcpOptionNop) {
      visit(TcpOption{kind, 1, static_cast<uint16_t>(at)});
      ++at;
      continue;
    }
    if (size - at < 2) return TcpOptionStatus::kTruncated;
    const uint8_t length = options[at + 1];
    if (length < 2) return TcpOptionStatus::kBadLength;
    if (length > size - at) return TcpOptionStatus::kTruncated;
    if (!TcpOptionLengthValid(kind, length)) return TcpOptionStatus::kBadLength;
    visit(TcpOption{kind, length, static_cast<uint16_t>(at)});
    at += length;
  }
  return TcpOptionStatus::kOk;
}

// The first option of `kind`, found only if the whole area is well formed.
struct TcpOptionLookup {
  TcpOptionStatus status = TcpOptionStatus::kOk;
  bool found = false;
  TcpOption option{};
};
TcpOptionLookup FindTcpOption(const uint8_t* options, size_t size, uint8_t kind);

struct TcpTimestamps {
  uint32_t value;  // TSval
  uint32_t echo;   // TSecr
};

// Typed readers; each is empty (false) when the option is absent or the area is malformed.
std::optional<uint16_t> ReadMss(const uint8_t* options, size_t size);
std::optional<uint8_t> ReadWindowScale(const uint8_t* options, size_t size);
bool HasSackPermitted(const uint8_t* options, size_t size);
std::optional<TcpTimestamps> ReadTimestamps(const uint8_t* options, size_t size);

// Everything a SYN negotiates, in one walk. Only the status is set when the area is malformed.
struct TcpOptionSummary {
  TcpOptionStatus status = TcpOptionStatus::kOk;
  bool has_mss = false;
  bool has_window_scale = false;
  bool sack_permitted = false;
  bool has_timestamps = false;
  uint16_t mss = 0;
  uint8_t window_scale = 0;
  TcpTimestamps timestamps{0, 0};
};
TcpOptionSummary SummarizeTcpOptions(const uint8_t* options, size_t size);

// Lowers the MSS option of a TCP header to max_mss when it is larger, fixing the TCP checksum
// incrementally. A malformed option area leaves the header byte-identical.
struct MssClampResult {
  TcpOptionStatus status = TcpOptionStatus::kOk;
  bool clamped = false;
};
MssClampResult ClampMss(const TcpView& tcp, uint16_t max_mss);

}  // namespace dysco
