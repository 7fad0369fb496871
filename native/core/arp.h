#pragma once
// ARP for Ethernet/IPv4 (RFC 826): a bounds-checked parser and a request builder. The agent has no
// address of its own; it speaks ARP with its host's IPv4 and MAC as the sender.
//
// Byte order: every IPv4 address here is "network order" — a uint32_t whose bytes in memory are the
// address as it sits on the wire (what memcpy from a header gives, rte_be32_t in DPDK). Ipv4View in
// packet_view.h hands out host-order values instead; convert with Ipv4HostToNet / Ipv4NetToHost.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/byte_order.h"

namespace dysco {

inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kArpHardwareEthernet = 1;
inline constexpr uint16_t kArpOpRequest = 1;
inline constexpr uint16_t kArpOpReply = 2;
inline constexpr size_t kArpPayloadSize = 28;               // Ethernet/IPv4 ARP body
inline constexpr size_t kArpFrameSize = 14 + kArpPayloadSize;  // without padding
inline constexpr size_t kEthernetMinFrameSize = 60;         // without the FCS

struct MacAddress {
  uint8_t bytes[6];

  bool operator==(const MacAddress& other) const { return std::memcmp(bytes, other.bytes, 6) == 0; }
  bool operator!=(const MacAddress& other) const { return !(*this == other); }
  bool is_zero() const { return (bytes[0] | bytes[1] | bytes[2] | bytes[3] | bytes[4] | bytes[5]) == 0; }
  // Group bit set: multicast, broadcast included.
  bool is_multicast() const { return (bytes[0] & 0x01) != 0; }
  // A MAC a neighbour can own: neither zero nor a group address.
  bool is_unicast() const { return !is_zero() && !is_multicast(); }
};
static_assert(sizeof(MacAddress) == 6);

inline constexpr MacAddress kBroadcastMac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

inline uint32_t Ipv4HostToNet(uint32_t host_order) {
  uint8_t bytes[4];
  StoreBe32(bytes, host_order);
  uint32_t net;
  std::memcpy(&net, bytes, sizeof net);
  return net;
}

inline uint32_t Ipv4NetToHost(uint32_t net_order) {
  uint8_t bytes[4];
  std::memcpy(bytes, &net_order, sizeof bytes);
  return LoadBe32(bytes);
}

// One Ethernet/IPv4 ARP message. The Ethernet addresses are the frame's; the others are the ARP body's.
struct ArpMessage {
  uint16_t op = 0;  // kArpOpRequest or kArpOpReply
  MacAddress eth_dst{};
  MacAddress eth_src{};
  MacAddress sender_mac{};
  uint32_t sender_ip_be = 0;
  MacAddress target_mac{};
  uint32_t target_ip_be = 0;

  // A gratuitous announcement (request or reply) names the sender's own address as the target.
  bool is_gratuitous() const { return sender_ip_be == target_ip_be; }
};

// Accepts an untagged Ethernet frame of EtherType ARP whose body is Ethernet/IPv4 (htype 1, ptype
// 0x0800, hlen 6, plen 4) with op request or reply, at least 42 bytes long (padding after the body is
// allowed). VLAN-tagged frames are not accepted. Fills *out only on success; never reads past len.
bool ParseArp(const uint8_t* frame, size_t len, ArpMessage* out);

// Writes a broadcast ARP request "who has target_ip_be? tell sender_ip_be (sender_mac)" with a zero
// target hardware address, zero-padded to the 60-byte Ethernet minimum. Returns the frame length (60),
// or 0 when cap is smaller and nothing was written.
size_t BuildArpRequest(uint8_t* out, size_t cap, const MacAddress& sender_mac, uint32_t sender_ip_be,
                       uint32_t target_ip_be);

}  // namespace dysco
