#include "core/list_auth.h"

#include "core/address_list.h"
#include "core/byte_order.h"

namespace dysco {
namespace {

constexpr size_t kFlagsAt = kAddressListFlagsOffset;
constexpr size_t kSignedPart = kListAuthBlockSize - kSipHashBytes;  // key id and time: covered by the tag

}  // namespace

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

size_t SignAddressList(uint8_t* list, size_t size, size_t capacity, const ListKeyRing& ring, uint32_t now_s) {
  const SipHashKey* key = ring.Find(ring.signing_id());
  if (key == nullptr || size < kAddressListHeaderSize || (list[kFlagsAt] & kAddressListFlagAuthenticated) != 0 ||
      capacity < size + kListAuthBlockSize) {
    return 0;
  }
  list[kFlagsAt] |= kAddressListFlagAuthenticated;
  StoreBe16(list + size, ring.signing_id());
  StoreBe32(list + size + 2, now_s);
  key->Mac(list, size + kSignedPart, list + size + kSignedPart);
  return size + kListAuthBlockSize;
}

ListAuthStatus VerifyAddressList(const uint8_t* payload, size_t size, const ListKeyRing& ring, uint32_t now_s,
                                 uint32_t max_skew_s, size_t* list_size) {
  if (size < kAddressListHeaderSize) return ListAuthStatus::kTruncated;
  if ((payload[kFlagsAt] & kAddressListFlagAuthenticated) == 0) return ListAuthStatus::kUnauthenticated;
  if (size < kAddressListHeaderSize + kListAuthBlockSize) return ListAuthStatus::kTruncated;
  const size_t block = size - kListAuthBlockSize;
  const SipHashKey* key = ring.Find(LoadBe16(payload + block));
  if (key == nullptr) return ListAuthStatus::kUnknownKey;
  uint8_t tag[kSipHashBytes];
  key->Mac(payload, block + kSignedPart, tag);
  if (!TagsEqual(tag, payload + block + kSignedPart, kSipHashBytes)) return ListAuthStatus::kBadTag;
  // Only a list that carries our tag is worth its time's check: a forged time is a bad tag first.
  const uint32_t then = LoadBe32(payload + block + 2);
  const uint32_t skew = then > now_s ? then - now_s : now_s - then;
  if (skew > max_skew_s) return ListAuthStatus::kStale;
  *list_size = block;
  return ListAuthStatus::kOk;
}

}  // namespace dysco
