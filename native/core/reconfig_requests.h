#pragma once
// What the control plane asks of a reconfiguration anchor's datapath (requests.def: OpenNewPath and
// ExpectNewPath take a NewPathSpec; docs/reconfiguration.md, "The datapath's part").
#include <cstdint>

#include "core/address_list.h"
#include "core/five_tuple.h"

namespace dysco {

// Which side of a session doubles during a reconfiguration: the left anchor's right side, the right
// anchor's left side.
enum class AnchorSide : uint8_t { kRight = 0, kLeft = 1 };

struct NewPathSpec {
  uint32_t session_id = 0;  // the session's id in dumps
  FiveTuple host_tuple;     // the session on the doubling side, forward direction: checked against the record
  AnchorSide side = AnchorSide::kRight;
  uint8_t hop_count = 0;    // OpenNewPath: the new middleboxes, then the right anchor; ExpectNewPath: 0
  uint32_t nonce = 0;       // the reconfiguration's nonce: the new path's SYN carries it in its address list
  // The old segment's delta (PROTOCOL.md, "Locking"): what its middleboxes add to the sequence numbers of
  // the forward (initiator → responder) and reverse byte streams, modulo 2^32.
  uint32_t delta_forward = 0, delta_reverse = 0;
  uint32_t hops[kMaxAddressListHops] = {};  // network byte order
};

}  // namespace dysco
