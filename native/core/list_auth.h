#pragma once
// The authentication block of an address list (docs/security.md, docs/wire-format.md): flag bit 0 of the list
// set, and after the list's hops (and nonce) 14 bytes, big-endian:
//
//   0  key id u16 (non-zero)     2  timestamp u32: the signer's clock, Unix seconds     6  tag: 8 bytes of SipHash-2-4
//
// The tag covers the carrier (the 12 bytes of IPv4 source, destination and TCP ports of the SYN that carries the
// list, as they are on the wire) and then every byte of the list before the tag, from its magic (the flag bit
// included): the subsession, the session tuple, the hops, a new path's nonce, the key id and the time are all
// bound, so a list cannot be moved onto another SYN. Each agent verifies what it receives before it keeps any
// state for it and signs what it sends on with its own signing key and clock.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/address_list.h"
#include "core/five_tuple.h"
#include "core/mac.h"
#include "core/packet_view.h"

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
static_assert(kListAuthBlockSize == kAddressListAuthBlockSize, "address_list.h sizes the block the same");
inline constexpr size_t kListCarrierBytes = 12;

// The carrier of a TCP over IPv4 frame that ParsePacket described: IPv4 source and destination, TCP source and
// destination port, as the frame holds them.
void ListCarrierOf(const uint8_t* frame, const PacketLayout& layout, uint8_t out[kListCarrierBytes]);
// The same of a subsession tuple (network byte order) as the SYN that carries the list will have it.
void ListCarrierOf(const FiveTuple& subsession, uint8_t out[kListCarrierBytes]);

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
  size_t size() const { return count_; }

 private:
  uint16_t ids_[kMaxKeys] = {};
  SipHashKey keys_[kMaxKeys];
  size_t count_ = 0;
  uint16_t signing_ = 0;
};

// Appends the block to the list in list[0, size) and sets its flag bit, signing with the ring's signing key at
// `now_s`. Returns the new size, or 0 (nothing written) without a signing key, with the flag already set, or
// without room in `capacity`.
size_t SignAddressList(uint8_t* list, size_t size, size_t capacity, const ListKeyRing& ring, uint32_t now_s,
                       const uint8_t carrier[kListCarrierBytes]);

// Checks the block at the end of payload[0, size): on kOk *list_size is the list's size without it. `max_skew_s`:
// how far the signer's time may lie from `now_s`, either way. On kOk and kStale *tag is the tag (the replay cache's
// key).
ListAuthStatus VerifyAddressList(const uint8_t* payload, size_t size, const ListKeyRing& ring, uint32_t now_s,
                                 uint32_t max_skew_s, const uint8_t carrier[kListCarrierBytes], size_t* list_size,
                                 uint64_t* tag = nullptr);

// Which sessions may still be set up by an unsigned list (a network moving from unsigned lists to signed ones):
// a session matches when its source and destination lie in the prefixes and its destination port in the range.
struct UnsignedListMatch {
  uint32_t src_net, src_mask, dst_net, dst_mask;  // host byte order, nets masked
  uint16_t dst_port_lo, dst_port_hi;
  bool Matches(const FiveTuple& session) const;
};

// What the pipeline checks lists against: the control plane builds one (the addon from the agent's security
// settings) and the lcore swaps it in whole (RequestType::kInstallListAuth).
struct ListAuthPolicy {
  static constexpr size_t kMaxUnsignedMatches = 64;
  ListKeyRing ring;
  uint32_t max_skew_s = 30;
  bool accept_all_unsigned = false;
  UnsignedListMatch unsigned_matches[kMaxUnsignedMatches] = {};
  size_t unsigned_match_count = 0;

  bool AcceptsUnsigned(const FiveTuple& session) const;
};

// Tags of lists that set up a session here lately, so that a copy of a SYN replayed after its session ended (inside
// the freshness window, where its time still passes) is refused. Direct-mapped on the tag: a tag that lands on a
// slot held by a younger one within the window pushes it out (counted by the caller), so the cache holds
// `slots` set-ups per window at least and forgets the oldest first.
class ListReplayCache {
 public:
  bool Init(uint32_t slots);  // rounded up to a power of two; false when it cannot allocate
  // True when `tag` set up a session within the last `window_s` seconds.
  bool Seen(uint64_t tag, uint32_t now_s, uint32_t window_s) const;
  // Remembers `tag`; true when it pushed out another tag younger than `window_s`.
  bool Remember(uint64_t tag, uint32_t now_s, uint32_t window_s);
  size_t MemoryBytes() const { return (mask_ + 1) * sizeof(Entry); }

 private:
  struct Entry {
    uint64_t tag;
    uint32_t time_s;
  };
  std::unique_ptr<Entry[]> entries_;
  uint32_t mask_ = 0;
};

}  // namespace dysco
