#include "core/list_auth.h"

#include <cstring>
#include <new>

#include "core/address_list.h"
#include "core/byte_order.h"

namespace dysco {
namespace {

constexpr size_t kFlagsAt = kAddressListFlagsOffset;
constexpr size_t kSignedPart = kListAuthBlockSize - kSipHashBytes;  // key id and time: covered by the tag
constexpr size_t kMacInputMax = kListCarrierBytes + kMaxAddressListSize + kSignedPart;

// SipHash takes one contiguous input: the carrier and the list are copied side by side (at most 184 bytes).
void ListTag(const SipHashKey& key, const uint8_t carrier[kListCarrierBytes], const uint8_t* list, size_t size,
             uint8_t out[kSipHashBytes]) {
  uint8_t input[kMacInputMax];
  std::memcpy(input, carrier, kListCarrierBytes);
  std::memcpy(input + kListCarrierBytes, list, size);
  key.Mac(input, kListCarrierBytes + size, out);
}

uint32_t Distance(uint32_t a, uint32_t b) { return a > b ? a - b : b - a; }

}  // namespace

void ListCarrierOf(const uint8_t* frame, const PacketLayout& layout, uint8_t out[kListCarrierBytes]) {
  std::memcpy(out, frame + layout.l3_offset + 12, 8);  // IPv4 source and destination
  std::memcpy(out + 8, frame + layout.l4_offset, 4);   // TCP source and destination port
}

void ListCarrierOf(const FiveTuple& subsession, uint8_t out[kListCarrierBytes]) {
  std::memcpy(out, &subsession.src_ip, 4);
  std::memcpy(out + 4, &subsession.dst_ip, 4);
  std::memcpy(out + 8, &subsession.src_port, 2);
  std::memcpy(out + 10, &subsession.dst_port, 2);
}

bool ListKeyRing::Add(uint16_t id, const uint8_t key[kSipHashKeyBytes]) {
  if (id == 0 || count_ == kMaxKeys || Find(id) != nullptr) return false;
  ids_[count_] = id;
  keys_[count_] = SipHashKey(key);
  ++count_;
  return true;
}

bool ListKeyRing::SetSigning(uint16_t id) {
  if (Find(id) == nullptr) return false;
  signing_ = id;
  return true;
}

const SipHashKey* ListKeyRing::Find(uint16_t id) const {
  for (size_t i = 0; i < count_; ++i) {
    if (ids_[i] == id) return &keys_[i];
  }
  return nullptr;
}

size_t SignAddressList(uint8_t* list, size_t size, size_t capacity, const ListKeyRing& ring, uint32_t now_s,
                       const uint8_t carrier[kListCarrierBytes]) {
  const SipHashKey* key = ring.Find(ring.signing_id());
  if (key == nullptr || size < kAddressListHeaderSize || size > kMaxAddressListSize ||
      (list[kFlagsAt] & kAddressListFlagAuthenticated) != 0 || capacity < size + kListAuthBlockSize) {
    return 0;
  }
  list[kFlagsAt] |= kAddressListFlagAuthenticated;
  StoreBe16(list + size, ring.signing_id());
  StoreBe32(list + size + 2, now_s);
  ListTag(*key, carrier, list, size + kSignedPart, list + size + kSignedPart);
  return size + kListAuthBlockSize;
}

ListAuthStatus VerifyAddressList(const uint8_t* payload, size_t size, const ListKeyRing& ring, uint32_t now_s,
                                 uint32_t max_skew_s, const uint8_t carrier[kListCarrierBytes], size_t* list_size,
                                 uint64_t* tag) {
  if (size < kAddressListHeaderSize) return ListAuthStatus::kTruncated;
  if ((payload[kFlagsAt] & kAddressListFlagAuthenticated) == 0) return ListAuthStatus::kUnauthenticated;
  if (size < kAddressListHeaderSize + kListAuthBlockSize || size > kMaxAddressListSize + kListAuthBlockSize) {
    return ListAuthStatus::kTruncated;
  }
  const size_t block = size - kListAuthBlockSize;
  const SipHashKey* key = ring.Find(LoadBe16(payload + block));
  if (key == nullptr) return ListAuthStatus::kUnknownKey;
  uint8_t expected[kSipHashBytes];
  ListTag(*key, carrier, payload, block + kSignedPart, expected);
  if (!TagsEqual(expected, payload + block + kSignedPart, kSipHashBytes)) return ListAuthStatus::kBadTag;
  if (tag != nullptr) std::memcpy(tag, expected, sizeof *tag);
  // Only a list that carries our tag is worth its time's check: a forged time is a bad tag first.
  if (Distance(LoadBe32(payload + block + 2), now_s) > max_skew_s) return ListAuthStatus::kStale;
  *list_size = block;
  return ListAuthStatus::kOk;
}

bool UnsignedListMatch::Matches(const FiveTuple& session) const {
  const uint32_t src = __builtin_bswap32(session.src_ip);
  const uint32_t dst = __builtin_bswap32(session.dst_ip);
  const uint16_t dport = __builtin_bswap16(session.dst_port);
  return (src & src_mask) == src_net && (dst & dst_mask) == dst_net && dport >= dst_port_lo && dport <= dst_port_hi;
}

bool ListAuthPolicy::AcceptsUnsigned(const FiveTuple& session) const {
  if (accept_all_unsigned) return true;
  for (size_t i = 0; i < unsigned_match_count; ++i) {
    if (unsigned_matches[i].Matches(session)) return true;
  }
  return false;
}

bool ListReplayCache::Init(uint32_t slots) {
  uint32_t size = 1;
  while (size < slots && size < (1u << 24)) size <<= 1;
  entries_.reset(new (std::nothrow) Entry[size]());
  if (!entries_) return false;
  mask_ = size - 1;
  return true;
}

bool ListReplayCache::Seen(uint64_t tag, uint32_t now_s, uint32_t window_s) const {
  if (!entries_) return false;
  const Entry& entry = entries_[static_cast<uint32_t>(tag) & mask_];
  return entry.tag == tag && entry.time_s != 0 && Distance(entry.time_s, now_s) <= window_s;
}

bool ListReplayCache::Remember(uint64_t tag, uint32_t now_s, uint32_t window_s) {
  if (!entries_) return false;
  Entry& entry = entries_[static_cast<uint32_t>(tag) & mask_];
  const bool pushed_out = entry.time_s != 0 && entry.tag != tag && Distance(entry.time_s, now_s) <= window_s;
  entry.tag = tag;
  entry.time_s = now_s == 0 ? 1 : now_s;
  return pushed_out;
}

}  // namespace dysco
