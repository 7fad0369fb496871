#pragma once
// Builds an Ethernet/IPv4/UDP frame around a payload: the frames the agent sends of its own for the
// control plane. Checksums are computed in full (these are rare, not per-packet work).
#include <cstddef>
#include <cstdint>

namespace dysco {

struct UdpFrameSpec {
  const uint8_t* src_mac;  // 6 bytes
  const uint8_t* dst_mac;  // 6 bytes; zeros until the next hop resolves
  uint32_t src_ip;         // network byte order
  uint32_t dst_ip;         // network byte order
  uint16_t src_port;       // host byte order
  uint16_t dst_port;       // host byte order
  uint16_t ip_id;
  const uint8_t* payload;
  uint32_t length;
};

inline constexpr size_t kUdpFrameOverhead = 14 + 20 + 8;

// Writes the frame into `out`; returns its length, or 0 when it does not fit `capacity`.
size_t BuildUdpFrame(uint8_t* out, size_t capacity, const UdpFrameSpec& spec);

}  // namespace dysco
