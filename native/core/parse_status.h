#pragma once
// Why ParsePacket stopped. The list generates the C++ enum and the name table that the N-API layer
// hands to TypeScript (src/native/core-binding.ts holds the same names; a native test asserts they agree).
// Append only; the numeric value is the position in the list.
#include <cstddef>
#include <cstdint>

#define DYSCO_PARSE_STATUSES(X)                                                               \
  X(kOk, "ok")                     /* Ethernet + IPv4 + a whole TCP or UDP header */          \
  X(kTruncatedEth, "truncated_eth") /* shorter than the Ethernet header (and its VLAN tag) */ \
  X(kNotIpv4, "not_ipv4")           /* EtherType is not IPv4 */                               \
  X(kBadIpVersion, "bad_ip_version") /* IPv4 EtherType but the version nibble is not 4 */     \
  X(kBadIhl, "bad_ihl")             /* IHL below 5 words */                                   \
  X(kTruncatedIp, "truncated_ip")   /* the buffer ends inside the IPv4 header */              \
  X(kBadTotalLen, "bad_total_len")  /* total length below IHL or beyond the buffer */         \
  X(kFragment, "fragment")          /* MF set or a non-zero fragment offset */                \
  X(kNotTcpUdp, "not_tcp_udp")      /* a whole IPv4 packet of another protocol */             \
  X(kTruncatedL4, "truncated_l4")   /* the IPv4 payload ends inside the TCP/UDP header */     \
  X(kBadDoff, "bad_doff")           /* TCP data offset below 5 words */                       \
  X(kBadUdpLen, "bad_udp_len")      /* UDP length below 8 or beyond the IPv4 payload */

namespace dysco {

enum class ParseStatus : uint8_t {
#define DYSCO_PARSE_STATUS_ENUM(name, label) name,
  DYSCO_PARSE_STATUSES(DYSCO_PARSE_STATUS_ENUM)
#undef DYSCO_PARSE_STATUS_ENUM
};

inline constexpr const char* kParseStatusNames[] = {
#define DYSCO_PARSE_STATUS_NAME(name, label) label,
    DYSCO_PARSE_STATUSES(DYSCO_PARSE_STATUS_NAME)
#undef DYSCO_PARSE_STATUS_NAME
};

inline constexpr size_t kParseStatusCount = sizeof(kParseStatusNames) / sizeof(kParseStatusNames[0]);

inline const char* ParseStatusName(ParseStatus status) {
  auto index = static_cast<size_t>(status);
  return index < kParseStatusCount ? kParseStatusNames[index] : "unknown";
}

}  // namespace dysco
