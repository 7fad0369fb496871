#pragma once
// The authentication block of an address list (issue 9; docs/wire-format.md once the pipeline uses it): flag bit 0
// of the list set, and after the list's hops (and nonce) 14 bytes, big-endian:
//
//   0  key id u16 (non-zero)     2  timestamp u32: the signer's clock, seconds     6  tag: 8 bytes of SipHash-2-4
//
// The tag covers every byte before it, from the list's magic (the flag bit included), so the session tuple, the
// hops, a new path's nonce, the key id and the time are all bound. Each agent verifies what it receives before
// it keeps any state for it and signs what it sends on with its own signing key and clock.
#include <cstddef>
#include <cstdint>

#include "core/mac.h"

#define DYSCO_LIST_AUTH_STATUSES(X)                                                            \
  X(kOk, "ok")                                                                                 \
  X(kUnauthenticated, "unauthenticated") /* flag bit 0 clear: no block */                      \
  X(kTruncated, "truncated")             /* shorter than a header, or than the block needs */  \
  X(kUnknownKey, "unknown_key")          /* a key id this agent does not accept (or 0) */      \
  X(kBadTag, "bad_tag")                  /* the tag does not match: tampered, or another key */ \
  X(kStale, "stale")                     /* its time lies further from ours than allowed */

namespace dysco {

enum class ListAuthStatus : uint8_t {
#define DYSCO_LIST_AUTH_STATUS_ENUM(name, label) name,
  DYSCO_LIST_AUTH_STATUSES(DYSCO_LIST_AUTH_STATUS_ENUM)
#undef DYSCO_LIST_AUTH_STATUS_ENUM
};

inline constexpr const char* kListAuthStatusNames[] = {
#define DYSCO_LIST_AUTH_STATUS_NAME(name, label) label,
    DYSCO_LIST_AUTH_STATUSES(DYSCO_LIST_AUTH_STATUS_NAME)
#undef DYSCO_LIST_AUTH_STATUS_NAME
};
inline constexpr size_t kListAuthStatusCount = sizeof(kListAuthStatusNames) / sizeof(kListAuthStatusNames[0]);

inline constexpr size_t kListAuthBlockSize = 2 + 4 + kSipHashBytes;

// The keys an agent accepts, by id, and the one it signs with. Fixed size, no allocation: the pipeline holds one.
class ListKeyRing {
 public:
  static constexpr size_t kMaxKeys = 8;
  // False when the ring is full, the id is 0 or already taken.
  bool Add(uint16_t id, const uint8_t key[kSipHashKeyBytes]);
  // False when no key has this id.
  bool SetSigning(uint16_t id);
  const SipHashKey* Find(uint16_t id) const;
  uint16_t signing_id() const { return signing_; }

 private:
  uint16_t ids_[kMaxKeys] = {};
  SipHashKey keys_[kMaxKeys];
  size_t count_ = 0;
  uint16_t signing_ = 0;
};

// Appends the block to the list in list[0, size) and sets its flag bit, signing with the ring's signing key at
// `now_s`. Returns the new size, or 0 (nothing written) without a signing key, with the flag already set, or
// without room in `capacity`.
size_t SignAddressList(uint8_t* list, size_t size, size_t capacity, const ListKeyRing& ring, uint32_t now_s);

// Checks the block at the end of payload[0, size): on kOk *list_size is the list's size without it (the flag bit
// still set; the parser takes the list once the caller cleared it). `max_skew_s`: how far the signer's time may
// lie from `now_s`, either way.
ListAuthStatus VerifyAddressList(const uint8_t* payload, size_t size, const ListKeyRing& ring, uint32_t now_s,
                                 uint32_t max_skew_s, size_t* list_size);

}  // namespace dysco
