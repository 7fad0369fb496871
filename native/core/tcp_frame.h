#pragma once
// Builds an Ethernet/IPv4/TCP frame: the segments an anchor makes itself for a new path's handshake
// and its announcements (docs/reconfiguration.md). Checksums are computed in full: these are rare.
#include <cstddef>
#include <cstdint>

namespace dysco {

struct TcpFrameSpec {
  const uint8_t* src_mac;  // 6 bytes
  const uint8_t* dst_mac;  // 6 bytes; zeros until the next hop resolves
  uint32_t src_ip;         // network byte order
  uint32_t dst_ip;         // network byte order
  uint16_t src_port;       // network byte order
  uint16_t dst_port;       // network byte order
  uint16_t ip_id;
  uint32_t seq;
  uint32_t ack;
  uint8_t flags;
  uint16_t window;
  const uint8_t* options;  // a whole option area: a multiple of 4 bytes, at most 40
  uint32_t options_length;
  const uint8_t* payload;
  uint32_t payload_length;
};

// Writes the frame into `out`; returns its length, or 0 when it does not fit `capacity` or the option
// area is not whole words.
size_t BuildTcpFrame(uint8_t* out, size_t capacity, const TcpFrameSpec& spec);

}  // namespace dysco
