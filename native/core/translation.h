#pragma once
// Translation: a packet of a session leaves with the tuple of the side it crosses, its checksums adjusted
// incrementally (RFC 1624) by what the side precomputed at set-up. The sequence, acknowledgement, SACK,
// timestamp and window deltas of a reconfigured session's second path belong here too.
#include <cstdint>
#include <cstring>

#include "core/session.h"

namespace dysco {

// RFC 1624 eqn 3 with a precomputed adjustment: HC' = ~(~HC + adjust). One's-complement sums do not
// depend on byte order, so checksum and adjustment stay in network order (no swaps), and one fold
// suffices: ~HC + adjust is at most 0x1fffe, so adding its carry back (a 16-bit add with carry) cannot
// carry again.
inline void AdjustChecksumAt(uint8_t* field, uint16_t adjust) {
  uint16_t checksum;
  std::memcpy(&checksum, field, 2);
  uint16_t sum;
  const bool carry = __builtin_add_overflow(static_cast<uint16_t>(~checksum), adjust, &sum);
  checksum = static_cast<uint16_t>(~(sum + carry));
  std::memcpy(field, &checksum, 2);
}

// Writes the tuple a packet leaves with over its addresses and ports, and adjusts both checksums. The
// side's adjustments are for the subsession → host direction; the other direction adds their
// complements (the same change undone).
inline void RewriteTuple(uint8_t* ip, uint8_t* tcp, const TupleWords& to, const SessionSide& side, bool outbound) {
  std::memcpy(ip + 12, &to.addresses, 8);
  std::memcpy(tcp, &to.ports, 4);
  const uint16_t flip = outbound ? 0xffff : 0;
  AdjustChecksumAt(ip + 10, side.ip_adjust ^ flip);
  AdjustChecksumAt(tcp + 16, side.l4_adjust ^ flip);
}

// The checksum adjustments of a side whose tuples are set: from the subsession as it arrives to the
// host's tuple (the order of fields within a header does not change a one's-complement sum).
void SetAdjustments(SessionSide& side, uint32_t own_ip);

}  // namespace dysco
