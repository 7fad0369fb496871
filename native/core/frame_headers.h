#pragma once
// The Ethernet and IPv4 headers of a frame the agent makes itself (control datagrams, a new path's handshake
// and announcements): no IPv4 options, DF set, TTL 64, the header checksum computed in full.
#include <cstdint>
#include <cstring>

#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/packet_view.h"

namespace dysco {

inline constexpr uint32_t kOwnIpv4HeaderSize = 20;

// Writes both headers at `out` for an IPv4 payload of `l4_length` bytes; returns the IPv4 header's address.
// Addresses in network byte order.
inline uint8_t* WriteOwnFrameHeaders(uint8_t* out, const uint8_t* src_mac, const uint8_t* dst_mac, uint32_t src_ip,
                                     uint32_t dst_ip, uint16_t ip_id, uint8_t protocol, uint32_t l4_length) {
  std::memcpy(out, dst_mac, 6);
  std::memcpy(out + 6, src_mac, 6);
  StoreBe16(out + 12, kEtherTypeIpv4);
  uint8_t* ip = out + kEthernetHeaderSize;
  ip[0] = 0x45;
  ip[1] = 0;
  StoreBe16(ip + 2, static_cast<uint16_t>(kOwnIpv4HeaderSize + l4_length));
  StoreBe16(ip + 4, ip_id);
  StoreBe16(ip + 6, 0x4000);  // DF: sized for the link, never fragmented
  ip[8] = 64;
  ip[9] = protocol;
  StoreBe16(ip + 10, 0);
  std::memcpy(ip + 12, &src_ip, 4);
  std::memcpy(ip + 16, &dst_ip, 4);
  StoreBe16(ip + 10, ChecksumFull(ip, kOwnIpv4HeaderSize));
  return ip;
}

}  // namespace dysco
