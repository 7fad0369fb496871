#include "core/mac.h"

#include <cstring>

namespace dysco {
namespace {

// FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
// 5.3.3: the first 32 bits of the fractional parts of the square roots of the first 8 primes.
constexpr uint32_t kInitial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
constexpr size_t kBlock = 64;

constexpr uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
constexpr uint64_t Rotl(uint64_t x, int n) { return (x << n) | (x >> (64 - n)); }

uint32_t LoadBe(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }
void StoreBe(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "SipHash reads its words little-endian as they lie");
uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// 6.2.2: one 64-byte block into the state.
void Compress(uint32_t state[8], const uint8_t* block) {
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) w[t] = LoadBe(block + 4 * t);
  for (int t = 16; t < 64; ++t) {
    const uint32_t s0 = Rotr(w[t - 15], 7) ^ Rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const uint32_t s1 = Rotr(w[t - 2], 17) ^ Rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6],
           h = state[7];
  for (int t = 0; t < 64; ++t) {
    const uint32_t t1 = h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRound[t] + w[t];
    const uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

// The rest of a message whose first `done` bytes (whole blocks) are already in `state`, with the padding of 5.1.1.
void Finish(uint32_t state[8], const uint8_t* data, size_t size, uint64_t done, uint8_t out[kSha256Bytes]) {
  size_t at = 0;
  for (; size - at >= kBlock; at += kBlock) Compress(state, data + at);
  uint8_t tail[2 * kBlock] = {};
  const size_t rest = size - at;
  std::memcpy(tail, data + at, rest);
  tail[rest] = 0x80;
  const size_t blocks = rest + 1 + 8 <= kBlock ? 1 : 2;
  const uint64_t bits = (done + size) * 8;
  for (int i = 0; i < 8; ++i) tail[blocks * kBlock - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  for (size_t i = 0; i < blocks; ++i) Compress(state, tail + i * kBlock);
  for (int i = 0; i < 8; ++i) StoreBe(out + 4 * i, state[i]);
}

}  // namespace

void Sha256(const uint8_t* data, size_t size, uint8_t out[kSha256Bytes]) {
  uint32_t state[8];
  std::memcpy(state, kInitial, sizeof state);
  Finish(state, data, size, 0, out);
}

HmacSha256Key::HmacSha256Key(const uint8_t* key, size_t size) {
  uint8_t block[kBlock] = {};
  if (size > kBlock) {
    Sha256(key, size, block);
  } else {
    std::memcpy(block, key, size);
  }
  uint8_t pad[kBlock];
  std::memcpy(inner_, kInitial, sizeof inner_);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
  Compress(inner_, pad);
  std::memcpy(outer_, kInitial, sizeof outer_);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
  Compress(outer_, pad);
}

void HmacSha256Key::Mac(const uint8_t* data, size_t size, uint8_t out[kSha256Bytes]) const {
  uint32_t state[8];
  uint8_t inner[kSha256Bytes];
  std::memcpy(state, inner_, sizeof state);
  Finish(state, data, size, kBlock, inner);
  std::memcpy(state, outer_, sizeof state);
  Finish(state, inner, sizeof inner, kBlock, out);
}

SipHashKey::SipHashKey(const uint8_t key[kSipHashKeyBytes]) : k0_(LoadLe64(key)), k1_(LoadLe64(key + 8)) {}

uint64_t SipHashKey::Tag(const uint8_t* data, size_t size) const {
  // The initial words are "somepseudorandomlygeneratedbytes" in ASCII, as the SipHash paper gives them.
  uint64_t v0 = k0_ ^ 0x736f6d6570736575ULL, v1 = k1_ ^ 0x646f72616e646f6dULL, v2 = k0_ ^ 0x6c7967656e657261ULL,
           v3 = k1_ ^ 0x7465646279746573ULL;
  auto round = [&] {
    v0 += v1;
    v1 = Rotl(v1, 13);
    v1 ^= v0;
    v0 = Rotl(v0, 32);
    v2 += v3;
    v3 = Rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotl(v1, 17);
    v1 ^= v2;
    v2 = Rotl(v2, 32);
  };
  size_t at = 0;
  for (; size - at >= 8; at += 8) {
    const uint64_t m = LoadLe64(data + at);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  uint64_t last = uint64_t{static_cast<uint8_t>(size)} << 56;
  for (size_t i = 0; at + i < size; ++i) last |= uint64_t{data[at + i]} << (8 * i);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

void SipHashKey::Mac(const uint8_t* data, size_t size, uint8_t out[kSipHashBytes]) const {
  const uint64_t tag = Tag(data, size);
  for (size_t i = 0; i < kSipHashBytes; ++i) out[i] = static_cast<uint8_t>(tag >> (8 * i));
}

bool TagsEqual(const uint8_t* a, const uint8_t* b, size_t size) {
  uint8_t diff = 0;
  for (size_t i = 0; i < size; ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

}  // namespace dysco
