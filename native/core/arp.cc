#include "core/arp.h"

#include "core/packet_view.h"

namespace dysco {
namespace {

// Offsets inside the ARP body.
constexpr size_t kHtype = 0;
constexpr size_t kPtype = 2;
constexpr size_t kHlen = 4;
constexpr size_t kPlen = 5;
constexpr size_t kOp = 6;
constexpr size_t kSha = 8;
constexpr size_t kSpa = 14;
constexpr size_t kTha = 18;
constexpr size_t kTpa = 24;

constexpr uint8_t kMacLength = 6;
constexpr uint8_t kIpv4Length = 4;

void CopyMac(MacAddress* out, const uint8_t* from) { std::memcpy(out->bytes, from, sizeof out->bytes); }

}  // namespace

bool ParseArp(const uint8_t* frame, size_t len, ArpMessage* out) {
  if (frame == nullptr || len < kArpFrameSize) return false;
  if (LoadBe16(frame + 12) != kEtherTypeArp) return false;
  const uint8_t* arp = frame + kEthernetHeaderSize;
  if (LoadBe16(arp + kHtype) != kArpHardwareEthernet) return false;
  if (LoadBe16(arp + kPtype) != kEtherTypeIpv4) return false;
  if (arp[kHlen] != kMacLength || arp[kPlen] != kIpv4Length) return false;
  const uint16_t op = LoadBe16(arp + kOp);
  if (op != kArpOpRequest && op != kArpOpReply) return false;

  ArpMessage message;
  message.op = op;
  CopyMac(&message.eth_dst, frame);
  CopyMac(&message.eth_src, frame + 6);
  CopyMac(&message.sender_mac, arp + kSha);
  std::memcpy(&message.sender_ip_be, arp + kSpa, sizeof message.sender_ip_be);
  CopyMac(&message.target_mac, arp + kTha);
  std::memcpy(&message.target_ip_be, arp + kTpa, sizeof message.target_ip_be);
  *out = message;
  return true;
}

size_t BuildArpRequest(uint8_t* out, size_t cap, const MacAddress& sender_mac, uint32_t sender_ip_be,
                       uint32_t target_ip_be) {
  if (out == nullptr || cap < kEthernetMinFrameSize) return 0;
  std::memset(out, 0, kEthernetMinFrameSize);
  std::memcpy(out, kBroadcastMac.bytes, 6);
  std::memcpy(out + 6, sender_mac.bytes, 6);
  StoreBe16(out + 12, kEtherTypeArp);
  uint8_t* arp = out + kEthernetHeaderSize;
  StoreBe16(arp + kHtype, kArpHardwareEthernet);
  StoreBe16(arp + kPtype, kEtherTypeIpv4);
  arp[kHlen] = kMacLength;
  arp[kPlen] = kIpv4Length;
  StoreBe16(arp + kOp, kArpOpRequest);
  std::memcpy(arp + kSha, sender_mac.bytes, 6);
  std::memcpy(arp + kSpa, &sender_ip_be, sizeof sender_ip_be);
  // Target hardware address stays zero: it is what we ask for.
  std::memcpy(arp + kTpa, &target_ip_be, sizeof target_ip_be);
  return kEthernetMinFrameSize;
}

}  // namespace dysco
