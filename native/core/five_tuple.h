#pragma once
// The fixed-size key of every session and subsession table: a TCP/UDP five-tuple with addresses and
// ports kept in network byte order exactly as they sit in the packet, so building a key is four loads
// and no byte swaps. 16 bytes, no implicit padding, compared and hashed as two 64-bit words.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace dysco {

struct FiveTuple {
  uint32_t src_ip = 0;    // network byte order
  uint32_t dst_ip = 0;    // network byte order
  uint16_t src_port = 0;  // network byte order
  uint16_t dst_port = 0;  // network byte order
  uint8_t protocol = 0;   // 0 never occurs in a valid key: tables use it to mark an empty slot
  uint8_t reserved[3] = {0, 0, 0};

  FiveTuple Reversed() const {
    FiveTuple r;
    r.src_ip = dst_ip;
    r.dst_ip = src_ip;
    r.src_port = dst_port;
    r.dst_port = src_port;
    r.protocol = protocol;
    return r;
  }

  uint64_t Word0() const {
    uint64_t w;
    std::memcpy(&w, this, 8);
    return w;
  }
  uint64_t Word1() const {
    uint64_t w;
    std::memcpy(&w, reinterpret_cast<const uint8_t*>(this) + 8, 8);
    return w;
  }

  friend bool operator==(const FiveTuple& a, const FiveTuple& b) {
    return a.Word0() == b.Word0() && a.Word1() == b.Word1();
  }
};

static_assert(sizeof(FiveTuple) == 16, "FiveTuple is hashed and compared as two 64-bit words");

// Mixes both words of the key (all five fields: hashing only the addresses would put every session
// between two hosts in one bucket).
// The hash of a key given as its two words, for a caller that reads them straight from a packet.
inline uint32_t HashTupleWords(uint64_t word0, uint64_t word1) {
#if defined(__SSE4_2__)
  uint64_t h = __builtin_ia32_crc32di(0x9e3779b9u, word0);
  h = __builtin_ia32_crc32di(h, word1);
  return static_cast<uint32_t>(h);
#else
  uint64_t h = word0 * 0x9e3779b97f4a7c15ull ^ word1 * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return static_cast<uint32_t>(h ^ (h >> 32));
#endif
}

inline uint32_t HashFiveTuple(const FiveTuple& key) { return HashTupleWords(key.Word0(), key.Word1()); }

}  // namespace dysco

namespace dysco {
// Keys are built with two loads from the packet: addresses, then ports, each pair adjacent as in IPv4/TCP.
static_assert(offsetof(FiveTuple, dst_ip) == offsetof(FiveTuple, src_ip) + 4);
static_assert(offsetof(FiveTuple, dst_port) == offsetof(FiveTuple, src_port) + 2);
}  // namespace dysco
