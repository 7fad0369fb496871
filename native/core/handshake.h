#pragma once
// The TCP facts of a SYN or SYN-ACK that a session keeps for reconfiguration (ISN, window scale,
// SACK-permitted, timestamps).
#include <cstdint>

#include "core/packet_view.h"
#include "core/session.h"

namespace dysco {

// Records direction `direction` ([0] the forward SYN, [1] the SYN-ACK) from a parsed TCP frame.
void RecordHandshake(SessionCold& cold, int direction, const uint8_t* frame, const PacketLayout& layout);

}  // namespace dysco
