#pragma once
// Internet checksums. The full computation (RFC 1071) is for tests, verification and new headers; the
// per-packet path uses incremental updates (RFC 1624 eqn 3: HC' = ~(~HC + ~m + m')), accumulating every
// changed word of a header into one ChecksumDelta and folding once.
//
// Checksum values are host-order uint16_t: store them with StoreBe16 into the header's checksum field.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/byte_order.h"

namespace dysco {

// Folds a one's-complement sum held in a wider integer down to 16 bits (end-around carry).
inline uint16_t FoldChecksumSum(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// One's-complement sum of `data` read as big-endian 16-bit words, a trailing odd byte padded with a zero
// byte on its right, folded to 16 bits. The loop adds native-order 32-bit words and swaps once at the
// end, which RFC 1071 section 2(B) shows is the same sum.
inline uint16_t SumBigEndianWords(const uint8_t* data, size_t length) {
  uint64_t sum = 0;
  while (length >= 4) {
    uint32_t word;
    std::memcpy(&word, data, sizeof word);
    sum += word;
    data += 4;
    length -= 4;
  }
  if (length >= 2) {
    uint16_t word;
    std::memcpy(&word, data, sizeof word);
    sum += word;
    data += 2;
    length -= 2;
  }
  if (length != 0) {
    // As a big-endian word the odd byte is the high half; in a little-endian native word it is the low half.
    sum += std::endian::native == std::endian::little ? uint64_t{data[0]} : uint64_t{data[0]} << 8;
  }
  uint16_t folded = FoldChecksumSum(sum);
  if constexpr (std::endian::native == std::endian::little) folded = __builtin_bswap16(folded);
  return folded;
}

// The RFC 1071 checksum of a buffer (the checksum field, if inside, must be zero to compute it).
inline uint16_t ChecksumFull(const uint8_t* data, size_t length) {
  return static_cast<uint16_t>(~SumBigEndianWords(data, length));
}

// True when a buffer that includes its checksum field sums to all ones, i.e. the checksum is right.
inline bool ChecksumVerifies(const uint8_t* data, size_t length) { return SumBigEndianWords(data, length) == 0xffff; }

// The TCP/UDP pseudo-header (RFC 793 / RFC 768) as an unfolded sum; addresses in host order.
inline uint32_t PseudoHeaderSum(uint32_t src, uint32_t dst, uint8_t protocol, uint16_t l4_length) {
  return (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + protocol + l4_length;
}

// Full TCP or UDP checksum of `segment` (header + payload, checksum field zero) over the pseudo-header.
// For UDP the caller sends a computed zero as 0xffff (see UdpChecksumForWire).
inline uint16_t TransportChecksumFull(uint32_t src, uint32_t dst, uint8_t protocol, const uint8_t* segment,
                                      size_t length) {
  const uint64_t sum = uint64_t{PseudoHeaderSum(src, dst, protocol, static_cast<uint16_t>(length))} +
                       SumBigEndianWords(segment, length);
  return static_cast<uint16_t>(~FoldChecksumSum(sum));
}

// True when a TCP or UDP segment, checksum field included, verifies against its pseudo-header.
inline bool TransportChecksumVerifies(uint32_t src, uint32_t dst, uint8_t protocol, const uint8_t* segment,
                                      size_t length) {
  const uint64_t sum = uint64_t{PseudoHeaderSum(src, dst, protocol, static_cast<uint16_t>(length))} +
                       SumBigEndianWords(segment, length);
  return FoldChecksumSum(sum) == 0xffff;
}

// UDP reserves a zero checksum for "none computed" (RFC 768), so a computed zero goes out as all ones.
inline uint16_t UdpChecksumForWire(uint16_t checksum) { return checksum == 0 ? 0xffff : checksum; }

// The changes made to one header, accumulated unfolded: each Replace adds ~m + m' (at most 0x1fffe), so
// a 32-bit sum holds thousands of them. ApplyTo folds once.
class ChecksumDelta {
 public:
  void Replace16(uint16_t old_word, uint16_t new_word) {
    sum_ += static_cast<uint16_t>(~old_word) + uint32_t{new_word};
  }
  void Replace32(uint32_t old_value, uint32_t new_value) {
    Replace16(static_cast<uint16_t>(old_value >> 16), static_cast<uint16_t>(new_value >> 16));
    Replace16(static_cast<uint16_t>(old_value), static_cast<uint16_t>(new_value));
  }
  // Folds another header's changes into this one (e.g. IPv4 address changes into the TCP pseudo-header).
  void Add(const ChecksumDelta& other) { sum_ += FoldChecksumSum(other.sum_); }

  // The changes folded to 16 bits: an adjustment to keep and add to a checksum later (ApplyTo's operand).
  uint16_t Folded() const { return FoldChecksumSum(sum_); }

  // RFC 1624 eqn 3 with every recorded change at once.
  uint16_t ApplyTo(uint16_t checksum) const {
    return static_cast<uint16_t>(~FoldChecksumSum(uint64_t{static_cast<uint16_t>(~checksum)} + sum_));
  }

 private:
  uint32_t sum_ = 0;
};

// One changed 16-bit word of the covered data.
inline uint16_t ChecksumUpdate16(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  ChecksumDelta delta;
  delta.Replace16(old_word, new_word);
  return delta.ApplyTo(checksum);
}

// One changed 32-bit value at an even offset of the covered data (e.g. an IPv4 address, a sequence number).
inline uint16_t ChecksumUpdate32(uint16_t checksum, uint32_t old_value, uint32_t new_value) {
  ChecksumDelta delta;
  delta.Replace32(old_value, new_value);
  return delta.ApplyTo(checksum);
}

}  // namespace dysco
