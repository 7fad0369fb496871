#include "core/address_list.h"

#include <cstring>

#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/list_auth.h"

namespace dysco {
namespace {

// Header field offsets.
constexpr size_t kMagicAt = 0;
constexpr size_t kVersionAt = 4;
constexpr size_t kFlagsAt = kAddressListFlagsOffset;
constexpr size_t kHopCountAt = 6;
constexpr size_t kReservedAt = 7;
constexpr size_t kSrcIpAt = 8;
constexpr size_t kDstIpAt = 12;
constexpr size_t kSrcPortAt = 16;
constexpr size_t kDstPortAt = 18;

constexpr uint32_t kIpv4MaxTotalLength = 0xffff;

constexpr size_t kTcpFlagsAt = 13;

bool IsPlainSyn(const uint8_t* frame, const PacketLayout& layout) {
  const uint8_t flags = frame[layout.l4_offset + kTcpFlagsAt];
  return (flags & kTcpSyn) != 0 && (flags & kTcpAck) == 0;
}

// Sets the IPv4 total length (and with it the pseudo-header's TCP length) to new_total_length, and adds
// to or removes from the TCP checksum the one's-complement sum of the bytes that were added or removed
// (they sit at an even offset of the segment). Both checksums are updated incrementally.
void FixLengthsAndChecksums(uint8_t* frame, const PacketLayout& layout, uint16_t bytes_sum, bool added,
                            uint32_t new_total_length) {
  const Ipv4View ip(frame + layout.l3_offset);
  const TcpView tcp(frame + layout.l4_offset);
  const uint16_t old_total = ip.total_length();
  const auto new_total = static_cast<uint16_t>(new_total_length);
  const auto header_size = static_cast<uint16_t>(ip.header_size());

  ip.set_checksum(ChecksumUpdate16(ip.checksum(), old_total, new_total));
  ip.set_total_length(new_total);

  ChecksumDelta tcp_delta;
  tcp_delta.Replace16(static_cast<uint16_t>(old_total - header_size), static_cast<uint16_t>(new_total - header_size));
  // One's complement: adding s is replacing a zero word by s, removing s is replacing s by zero.
  if (added) {
    tcp_delta.Replace16(0, bytes_sum);
  } else {
    tcp_delta.Replace16(bytes_sum, 0);
  }
  tcp.set_checksum(tcp_delta.ApplyTo(tcp.checksum()));
}

}  // namespace

AddressListStatus ParseAddressList(const uint8_t* payload, size_t length, AddressList* out) {
  // The magic first, so that data which is not ours (TCP Fast Open) reads as bad_magic when it can.
  if (length < sizeof(uint32_t)) return AddressListStatus::kTruncated;
  if (LoadBe32(payload + kMagicAt) != kAddressListMagic) return AddressListStatus::kBadMagic;
  if (length < kAddressListHeaderSize) return AddressListStatus::kTruncated;
  if (payload[kVersionAt] != kAddressListVersion) return AddressListStatus::kBadVersion;
  const uint8_t flags = payload[kFlagsAt];
  if ((flags & ~(kAddressListFlagNewPath | kAddressListFlagAuthenticated)) != 0) {
    return AddressListStatus::kUnsupportedFlags;
  }
  const bool new_path = (flags & kAddressListFlagNewPath) != 0;
  const bool authenticated = (flags & kAddressListFlagAuthenticated) != 0;
  const uint8_t count = payload[kHopCountAt];
  if (count == 0) return AddressListStatus::kZeroHops;
  if (count > kMaxAddressListHops) return AddressListStatus::kTooManyHops;
  const size_t expected = AddressListSize(count, new_path) + (authenticated ? kAddressListAuthBlockSize : 0);
  if (length < expected) return AddressListStatus::kTruncated;
  if (length > expected) return AddressListStatus::kLengthMismatch;

  FiveTuple session;
  std::memcpy(&session.src_ip, payload + kSrcIpAt, 4);
  std::memcpy(&session.dst_ip, payload + kDstIpAt, 4);
  std::memcpy(&session.src_port, payload + kSrcPortAt, 2);
  std::memcpy(&session.dst_port, payload + kDstPortAt, 2);
  session.protocol = kIpProtocolTcp;
  out->session = session;
  out->hop_count = count;
  std::memcpy(out->hops, payload + kAddressListHeaderSize, kAddressListHopSize * count);
  out->new_path = new_path;
  out->nonce = new_path ? LoadBe32(payload + AddressListSize(count)) : 0;
  out->authenticated = authenticated;
  return AddressListStatus::kOk;
}

size_t EncodeAddressList(const FiveTuple& session, const uint32_t* hops_network_order, uint8_t count, uint8_t* out,
                         size_t capacity, const uint32_t* new_path_nonce) {
  if (count == 0 || count > kMaxAddressListHops) return 0;
  const size_t size = AddressListSize(count, new_path_nonce != nullptr);
  if (size > capacity) return 0;
  StoreBe32(out + kMagicAt, kAddressListMagic);
  out[kVersionAt] = kAddressListVersion;
  out[kFlagsAt] = new_path_nonce != nullptr ? kAddressListFlagNewPath : 0;
  out[kHopCountAt] = count;
  out[kReservedAt] = 0;
  // The tuple and the hops are already in network order: copied as they are.
  std::memcpy(out + kSrcIpAt, &session.src_ip, 4);
  std::memcpy(out + kDstIpAt, &session.dst_ip, 4);
  std::memcpy(out + kSrcPortAt, &session.src_port, 2);
  std::memcpy(out + kDstPortAt, &session.dst_port, 2);
  std::memcpy(out + kAddressListHeaderSize, hops_network_order, kAddressListHopSize * count);
  if (new_path_nonce != nullptr) StoreBe32(out + AddressListSize(count), *new_path_nonce);
  return size;
}

SynPayloadStatus AppendAddressListToSyn(uint8_t* frame, size_t* length, size_t capacity, PacketLayout* edited,
                                        const FiveTuple& session, const uint32_t* hops_network_order, uint8_t count,
                                        const uint32_t* new_path_nonce, const ListKeyRing* signer,
                                        uint32_t now_s) {
  const PacketLayout& layout = *edited;
  if (!layout.is_tcp() || layout.l3_end > *length) return SynPayloadStatus::kNotTcp;
  if (!IsPlainSyn(frame, layout)) return SynPayloadStatus::kNotSyn;
  if (layout.payload_length() != 0) return SynPayloadStatus::kHasPayload;
  if (count == 0 || count > kMaxAddressListHops) return SynPayloadStatus::kBadHopCount;
  const bool sign = signer != nullptr && signer->Find(signer->signing_id()) != nullptr;
  const size_t plain_size = AddressListSize(count, new_path_nonce != nullptr);
  const size_t size = plain_size + (sign ? kAddressListAuthBlockSize : 0);
  const uint32_t new_total = layout.l3_end - layout.l3_offset + static_cast<uint32_t>(size);
  if (*length + size > capacity || new_total > kIpv4MaxTotalLength) return SynPayloadStatus::kNoRoom;

  uint8_t* at = frame + layout.l3_end;
  std::memmove(at + size, at, *length - layout.l3_end);  // Ethernet padding, if any
  EncodeAddressList(session, hops_network_order, count, at, size, new_path_nonce);
  if (sign) {
    uint8_t carrier[kListCarrierBytes];
    ListCarrierOf(frame, layout, carrier);
    SignAddressList(at, plain_size, size, *signer, now_s, carrier);
  }
  // The list starts at an even offset of the segment (the TCP header is whole words), so its own sum is
  // what it adds to the checksum.
  FixLengthsAndChecksums(frame, layout, SumBigEndianWords(at, size), /*added=*/true, new_total);
  *length += size;
  edited->l3_end += static_cast<uint32_t>(size);
  return SynPayloadStatus::kOk;
}

SynPayloadStatus StripSynPayload(uint8_t* frame, size_t* length, PacketLayout* edited) {
  const PacketLayout& layout = *edited;
  if (!layout.is_tcp() || layout.l3_end > *length) return SynPayloadStatus::kNotTcp;
  if (!IsPlainSyn(frame, layout)) return SynPayloadStatus::kNotSyn;
  const size_t size = layout.payload_length();
  if (size == 0) return SynPayloadStatus::kNoPayload;

  uint8_t* at = frame + layout.payload_offset;
  // An odd last byte is summed padded on its right, exactly as the TCP checksum counts it.
  const uint16_t removed_sum = SumBigEndianWords(at, size);
  FixLengthsAndChecksums(frame, layout, removed_sum, /*added=*/false, layout.payload_offset - layout.l3_offset);
  std::memmove(at, at + size, *length - layout.l3_end);
  *length -= size;
  edited->l3_end = edited->payload_offset;
  return SynPayloadStatus::kOk;
}

}  // namespace dysco
