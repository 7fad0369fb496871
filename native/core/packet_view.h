#pragma once
// Bounds-checked views over an Ethernet frame carrying IPv4 and TCP or UDP. ParsePacket validates every
// length once; the header views it hands out then read and write without further checks. Accessors
// return host-order values and setters write network order. Nothing here allocates.
#include <cstddef>
#include <cstdint>

#include "core/byte_order.h"
#include "core/parse_status.h"

namespace dysco {

inline constexpr size_t kEthernetHeaderSize = 14;
inline constexpr size_t kVlanTagSize = 4;
inline constexpr size_t kIpv4MinHeaderSize = 20;
inline constexpr size_t kTcpMinHeaderSize = 20;
inline constexpr size_t kUdpHeaderSize = 8;

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint8_t kIpProtocolTcp = 6;
inline constexpr uint8_t kIpProtocolUdp = 17;

// TCP flag bits as they appear in the low byte of header word 6.
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpUrg = 0x20;

// Offsets are from the start of the frame. Fields the parse did not reach stay zero.
struct PacketLayout {
  ParseStatus status = ParseStatus::kOk;
  uint8_t ip_protocol = 0;
  bool has_vlan = false;
  uint16_t vlan_tci = 0;
  uint16_t ether_type = 0;  // the inner EtherType when a VLAN tag is present
  uint32_t l3_offset = 0;
  uint32_t l4_offset = 0;
  uint32_t payload_offset = 0;
  uint32_t l3_end = 0;  // l3_offset + IPv4 total length; any bytes after it are Ethernet padding

  bool ok() const { return status == ParseStatus::kOk; }
  bool is_tcp() const { return ok() && ip_protocol == kIpProtocolTcp; }
  bool is_udp() const { return ok() && ip_protocol == kIpProtocolUdp; }
  uint32_t l4_length() const { return l3_end - l4_offset; }
  uint32_t payload_length() const { return l3_end - payload_offset; }
  // True when the fixed 20 bytes of the IPv4 header are inside the buffer (even if the header is invalid).
  bool has_ipv4_header() const { return l3_offset != 0 && status != ParseStatus::kTruncatedIp; }
};

inline PacketLayout ParsePacket(const uint8_t* frame, size_t length) {
  PacketLayout layout;
  auto fail = [&layout](ParseStatus status) {
    layout.status = status;
    return layout;
  };

  if (length < kEthernetHeaderSize) return fail(ParseStatus::kTruncatedEth);
  size_t l3 = kEthernetHeaderSize;
  uint16_t ether_type = LoadBe16(frame + 12);
  if (ether_type == kEtherTypeVlan) {
    if (length < kEthernetHeaderSize + kVlanTagSize) return fail(ParseStatus::kTruncatedEth);
    layout.has_vlan = true;
    layout.vlan_tci = LoadBe16(frame + 14);
    ether_type = LoadBe16(frame + 16);
    l3 += kVlanTagSize;
  }
  layout.ether_type = ether_type;
  if (ether_type != kEtherTypeIpv4) return fail(ParseStatus::kNotIpv4);

  layout.l3_offset = static_cast<uint32_t>(l3);
  const size_t l3_available = length - l3;
  if (l3_available < kIpv4MinHeaderSize) return fail(ParseStatus::kTruncatedIp);
  const uint8_t* ip = frame + l3;
  if ((ip[0] >> 4) != 4) return fail(ParseStatus::kBadIpVersion);
  const size_t ip_header_size = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if (ip_header_size < kIpv4MinHeaderSize) return fail(ParseStatus::kBadIhl);
  if (ip_header_size > l3_available) return fail(ParseStatus::kTruncatedIp);
  const size_t total_length = LoadBe16(ip + 2);
  if (total_length < ip_header_size || total_length > l3_available) return fail(ParseStatus::kBadTotalLen);

  layout.ip_protocol = ip[9];
  layout.l3_end = static_cast<uint32_t>(l3 + total_length);
  layout.l4_offset = static_cast<uint32_t>(l3 + ip_header_size);
  // Low 14 bits of word 3: MF plus the 13-bit fragment offset. DF alone is an ordinary packet.
  if ((LoadBe16(ip + 6) & 0x3fff) != 0) return fail(ParseStatus::kFragment);

  const size_t l4_available = total_length - ip_header_size;
  const uint8_t* l4 = frame + layout.l4_offset;
  if (layout.ip_protocol == kIpProtocolTcp) {
    if (l4_available < kTcpMinHeaderSize) return fail(ParseStatus::kTruncatedL4);
    const size_t tcp_header_size = static_cast<size_t>(l4[12] >> 4) * 4;
    if (tcp_header_size < kTcpMinHeaderSize) return fail(ParseStatus::kBadDoff);
    if (tcp_header_size > l4_available) return fail(ParseStatus::kTruncatedL4);
    layout.payload_offset = static_cast<uint32_t>(layout.l4_offset + tcp_header_size);
    return layout;
  }
  if (layout.ip_protocol == kIpProtocolUdp) {
    if (l4_available < kUdpHeaderSize) return fail(ParseStatus::kTruncatedL4);
    const size_t udp_length = LoadBe16(l4 + 4);
    if (udp_length < kUdpHeaderSize || udp_length > l4_available) return fail(ParseStatus::kBadUdpLen);
    layout.payload_offset = static_cast<uint32_t>(layout.l4_offset + kUdpHeaderSize);
    return layout;
  }
  return fail(ParseStatus::kNotTcpUdp);
}

// The frame nearly every data packet is: untagged Ethernet, IPv4 without options, not a fragment, TCP
// with a sane data offset, lengths that fit the buffer. The per-packet path recognises it with two word
// compares and knows its header offsets without storing a layout; for such a frame ParsePacket returns
// CommonTcpLayout(frame).
inline constexpr uint32_t kCommonL3Offset = 14;
inline constexpr uint32_t kCommonL4Offset = 34;

inline bool IsCommonTcpFrame(const uint8_t* frame, size_t length) {
  if (length < kCommonL4Offset + kTcpMinHeaderSize) return false;
  // Bytes 12-14: EtherType and IPv4 version/IHL. Bytes 20-23: flags and fragment offset (DF alone is an
  // ordinary packet), TTL, protocol.
  if ((LoadBe32(frame + 12) & 0xffffff00u) != 0x08004500u || (LoadBe32(frame + 20) & 0x3fff00ffu) != kIpProtocolTcp) {
    return false;
  }
  const uint32_t total = LoadBe16(frame + 16);
  const uint32_t data_offset = frame[kCommonL4Offset + 12];  // TCP header length in words, high nibble
  return kCommonL3Offset + total <= length && data_offset >= (kTcpMinHeaderSize / 4) << 4 &&
         kIpv4MinHeaderSize + (data_offset >> 4) * 4 <= total;
}

inline PacketLayout CommonTcpLayout(const uint8_t* frame) {
  PacketLayout layout;
  layout.ip_protocol = kIpProtocolTcp;
  layout.ether_type = kEtherTypeIpv4;
  layout.l3_offset = kCommonL3Offset;
  layout.l4_offset = kCommonL4Offset;
  layout.payload_offset = kCommonL4Offset + static_cast<uint32_t>(frame[kCommonL4Offset + 12] >> 4) * 4;
  layout.l3_end = kCommonL3Offset + LoadBe16(frame + 16);
  return layout;
}

class Ipv4View {
 public:
  explicit Ipv4View(uint8_t* header) : p_(header) {}

  uint8_t* data() const { return p_; }
  uint8_t version() const { return p_[0] >> 4; }
  size_t header_size() const { return static_cast<size_t>(p_[0] & 0x0f) * 4; }
  uint8_t tos() const { return p_[1]; }
  uint16_t total_length() const { return LoadBe16(p_ + 2); }
  uint16_t identification() const { return LoadBe16(p_ + 4); }
  bool dont_fragment() const { return (p_[6] & 0x40) != 0; }
  bool more_fragments() const { return (p_[6] & 0x20) != 0; }
  uint16_t fragment_offset() const { return LoadBe16(p_ + 6) & 0x1fff; }  // in 8-byte units
  uint8_t ttl() const { return p_[8]; }
  uint8_t protocol() const { return p_[9]; }
  uint16_t checksum() const { return LoadBe16(p_ + 10); }
  uint32_t src() const { return LoadBe32(p_ + 12); }
  uint32_t dst() const { return LoadBe32(p_ + 16); }

  void set_tos(uint8_t v) const { p_[1] = v; }
  void set_total_length(uint16_t v) const { StoreBe16(p_ + 2, v); }
  void set_ttl(uint8_t v) const { p_[8] = v; }
  void set_checksum(uint16_t v) const { StoreBe16(p_ + 10, v); }
  void set_src(uint32_t v) const { StoreBe32(p_ + 12, v); }
  void set_dst(uint32_t v) const { StoreBe32(p_ + 16, v); }

 private:
  uint8_t* p_;
};

class TcpView {
 public:
  explicit TcpView(uint8_t* header) : p_(header) {}

  uint8_t* data() const { return p_; }
  uint16_t src_port() const { return LoadBe16(p_); }
  uint16_t dst_port() const { return LoadBe16(p_ + 2); }
  uint32_t seq() const { return LoadBe32(p_ + 4); }
  uint32_t ack() const { return LoadBe32(p_ + 8); }
  size_t header_size() const { return static_cast<size_t>(p_[12] >> 4) * 4; }
  uint8_t flags() const { return p_[13]; }
  bool has_flags(uint8_t mask) const { return (p_[13] & mask) == mask; }
  uint16_t window() const { return LoadBe16(p_ + 14); }
  uint16_t checksum() const { return LoadBe16(p_ + 16); }
  uint16_t urgent_pointer() const { return LoadBe16(p_ + 18); }
  uint8_t* options() const { return p_ + kTcpMinHeaderSize; }
  size_t options_size() const { return header_size() - kTcpMinHeaderSize; }

  void set_src_port(uint16_t v) const { StoreBe16(p_, v); }
  void set_dst_port(uint16_t v) const { StoreBe16(p_ + 2, v); }
  void set_seq(uint32_t v) const { StoreBe32(p_ + 4, v); }
  void set_ack(uint32_t v) const { StoreBe32(p_ + 8, v); }
  void set_flags(uint8_t v) const { p_[13] = v; }
  void set_window(uint16_t v) const { StoreBe16(p_ + 14, v); }
  void set_checksum(uint16_t v) const { StoreBe16(p_ + 16, v); }

 private:
  uint8_t* p_;
};

class UdpView {
 public:
  explicit UdpView(uint8_t* header) : p_(header) {}

  uint8_t* data() const { return p_; }
  uint16_t src_port() const { return LoadBe16(p_); }
  uint16_t dst_port() const { return LoadBe16(p_ + 2); }
  uint16_t length() const { return LoadBe16(p_ + 4); }
  uint16_t checksum() const { return LoadBe16(p_ + 6); }  // zero: the sender computed none

  void set_src_port(uint16_t v) const { StoreBe16(p_, v); }
  void set_dst_port(uint16_t v) const { StoreBe16(p_ + 2, v); }
  void set_checksum(uint16_t v) const { StoreBe16(p_ + 6, v); }

 private:
  uint8_t* p_;
};

// A frame plus its parsed layout. The header accessors are valid only for what the layout reached:
// ipv4() when layout().has_ipv4_header(), tcp()/udp()/payload() when layout().is_tcp()/is_udp().
class PacketView {
 public:
  PacketView(uint8_t* frame, size_t length) : frame_(frame), length_(length), layout_(ParsePacket(frame, length)) {}

  const PacketLayout& layout() const { return layout_; }
  ParseStatus status() const { return layout_.status; }
  uint8_t* frame() const { return frame_; }
  size_t length() const { return length_; }

  Ipv4View ipv4() const { return Ipv4View(frame_ + layout_.l3_offset); }
  TcpView tcp() const { return TcpView(frame_ + layout_.l4_offset); }
  UdpView udp() const { return UdpView(frame_ + layout_.l4_offset); }
  uint8_t* payload() const { return frame_ + layout_.payload_offset; }

 private:
  uint8_t* frame_;
  size_t length_;
  PacketLayout layout_;
};

}  // namespace dysco
