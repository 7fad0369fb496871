#pragma once
// Rewrites the addresses and ports of a parsed IPv4 TCP/UDP packet in place and fixes the IPv4 header
// checksum and the TCP/UDP checksum incrementally: address changes enter both checksums (the transport
// one through its pseudo-header), port changes only the transport checksum.
#include <cstdint>
#include <optional>

#include "core/checksum.h"
#include "core/packet_view.h"

namespace dysco {

struct EndpointRewrite {
  std::optional<uint32_t> src_ip;  // host order
  std::optional<uint32_t> dst_ip;
  std::optional<uint16_t> src_port;
  std::optional<uint16_t> dst_port;
};

// Returns the parse status; on anything but kOk the frame is left untouched.
inline ParseStatus RewriteEndpoints(const PacketView& packet, const EndpointRewrite& rewrite) {
  const PacketLayout& layout = packet.layout();
  if (!layout.ok()) return layout.status;

  const Ipv4View ip = packet.ipv4();
  ChecksumDelta ip_delta;
  if (rewrite.src_ip) {
    ip_delta.Replace32(ip.src(), *rewrite.src_ip);
    ip.set_src(*rewrite.src_ip);
  }
  if (rewrite.dst_ip) {
    ip_delta.Replace32(ip.dst(), *rewrite.dst_ip);
    ip.set_dst(*rewrite.dst_ip);
  }
  ip.set_checksum(ip_delta.ApplyTo(ip.checksum()));

  ChecksumDelta l4_delta = ip_delta;
  if (layout.ip_protocol == kIpProtocolTcp) {
    const TcpView tcp = packet.tcp();
    if (rewrite.src_port) {
      l4_delta.Replace16(tcp.src_port(), *rewrite.src_port);
      tcp.set_src_port(*rewrite.src_port);
    }
    if (rewrite.dst_port) {
      l4_delta.Replace16(tcp.dst_port(), *rewrite.dst_port);
      tcp.set_dst_port(*rewrite.dst_port);
    }
    tcp.set_checksum(l4_delta.ApplyTo(tcp.checksum()));
    return ParseStatus::kOk;
  }

  const UdpView udp = packet.udp();
  if (rewrite.src_port) {
    l4_delta.Replace16(udp.src_port(), *rewrite.src_port);
    udp.set_src_port(*rewrite.src_port);
  }
  if (rewrite.dst_port) {
    l4_delta.Replace16(udp.dst_port(), *rewrite.dst_port);
    udp.set_dst_port(*rewrite.dst_port);
  }
  // A zero UDP checksum means the sender computed none; it stays none.
  if (udp.checksum() != 0) udp.set_checksum(UdpChecksumForWire(l4_delta.ApplyTo(udp.checksum())));
  return ParseStatus::kOk;
}

}  // namespace dysco
