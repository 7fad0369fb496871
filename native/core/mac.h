#pragma once
// Message authentication for address lists and control messages (docs/security.md, issue 9), two candidates
// side by side so that the choice is a measurement: HMAC-SHA-256 (RFC 2104 over FIPS 180-4 SHA-256) and
// SipHash-2-4 (Aumasson and Bernstein, a keyed PRF with a 64-bit tag). Both take their key prepared once
// (HMAC's inner and outer states hashed ahead: two compressions a message fewer), allocate nothing and keep no
// state between calls, so an lcore can use them per packet.
#include <cstddef>
#include <cstdint>

namespace dysco {

inline constexpr size_t kSha256Bytes = 32;
inline constexpr size_t kSipHashKeyBytes = 16;
inline constexpr size_t kSipHashBytes = 8;

void Sha256(const uint8_t* data, size_t size, uint8_t out[kSha256Bytes]);

// HMAC-SHA-256 with a key hashed into its inner and outer states once.
class HmacSha256Key {
 public:
  HmacSha256Key(const uint8_t* key, size_t size);
  void Mac(const uint8_t* data, size_t size, uint8_t out[kSha256Bytes]) const;

 private:
  uint32_t inner_[8];
  uint32_t outer_[8];
};

// SipHash-2-4: a 64-bit tag, little-endian in `out` as the reference implementation writes it.
class SipHashKey {
 public:
  SipHashKey() : k0_(0), k1_(0) {}
  explicit SipHashKey(const uint8_t key[kSipHashKeyBytes]);
  uint64_t Tag(const uint8_t* data, size_t size) const;
  void Mac(const uint8_t* data, size_t size, uint8_t out[kSipHashBytes]) const;

 private:
  uint64_t k0_;
  uint64_t k1_;
};

// Compares two tags in time independent of where they differ.
bool TagsEqual(const uint8_t* a, const uint8_t* b, size_t size);

}  // namespace dysco
