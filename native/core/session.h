#pragma once
// One Dysco session as an agent sees it. An agent holds up to four translations per session:
//
//   host stack ──out_right──► wire (toward the right neighbour)    wire ──in_left──► host stack
//   host stack ──out_left───► wire (toward the left neighbour)     wire ──in_right─► host stack
//
// The initiator's agent has only the right side, the responder's only the left, a middlebox's both.
// Each translation rewrites addresses and ports to fixed values, so its checksum adjustments are
// computed once at set-up and every packet pays one table lookup and a few adds.
#include <cstdint>

#include "core/five_tuple.h"

namespace dysco {

enum TranslationKind : uint8_t { kInLeft = 0, kOutRight = 1, kInRight = 2, kOutLeft = 3, kTranslationKinds = 4 };

// Which TCP direction a translation carries: forward = initiator → responder.
inline constexpr bool IsForward(TranslationKind kind) { return kind == kInLeft || kind == kOutRight; }
inline constexpr bool IsOutbound(TranslationKind kind) { return kind == kOutRight || kind == kOutLeft; }
// The translation whose result, reversed, is this translation's lookup key.
inline constexpr TranslationKind Opposite(TranslationKind kind) {
  switch (kind) {
    case kInLeft: return kOutLeft;
    case kOutLeft: return kInLeft;
    case kOutRight: return kInRight;
    default: return kOutRight;
  }
}

struct Translation {
  uint32_t src_ip = 0, dst_ip = 0;      // network byte order: what the packet gets
  uint16_t src_port = 0, dst_port = 0;  // network byte order
  uint16_t ip_adjust = 0;               // one's-complement sum to add to the IPv4 checksum
  uint16_t l4_adjust = 0;               // ... and to the TCP checksum (addresses + ports)

  FiveTuple Result() const {
    FiveTuple t;
    t.src_ip = src_ip;
    t.dst_ip = dst_ip;
    t.src_port = src_port;
    t.dst_port = dst_port;
    t.protocol = 6;
    return t;
  }
};
static_assert(sizeof(Translation) == 16);

// The bodies come from session_states.def and session_roles.def (TypeScript is generated from them).
enum class SessionState : uint8_t {
#define DYSCO_SESSION_STATE(name, label, meaning) k##name,
#include "core/session_states.def"
#undef DYSCO_SESSION_STATE
};

enum class SessionRole : uint8_t {
#define DYSCO_SESSION_ROLE(name, label, meaning) k##name,
#include "core/session_roles.def"
#undef DYSCO_SESSION_ROLE
};

// TCP facts of one direction, recorded from its SYN (reconfiguration needs them).
struct TcpHandshake {
  uint32_t isn = 0;
  uint32_t ts_val = 0;  // the SYN's TSval (0 when timestamps are off)
  uint8_t window_scale = 0xff;  // 0xff: option absent
  uint8_t sack_permitted = 0;
  uint8_t timestamps = 0;
  uint8_t reserved = 0;
};
static_assert(sizeof(TcpHandshake) == 12);

inline constexpr uint8_t kFinSeenForward = 1, kFinSeenReverse = 2, kFinAckedForward = 4, kFinAckedReverse = 8;
// A RST ended the session (from the initiator's side, or the responder's): it lingers, and comes back if
// its sender talks again (the endpoint ignored an out-of-window RST, RFC 5961).
inline constexpr uint8_t kRstForward = 16, kRstReverse = 32;
inline constexpr uint8_t kHasLeft = 1, kHasRight = 2;

// Two cache lines, both prefetched before a packet is translated: the translations, then the state a
// packet reads or updates. The handshakes, read only by reconfiguration, live in a separate array.
struct alignas(64) Session {
  Translation xlate[kTranslationKinds];
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint32_t last_seen_ms = 0;
  uint32_t tag = 0;              // set while pending (kInLeft SYN delivered with this tag)
  uint32_t fin_end[2] = {0, 0};  // sequence number that acknowledges each direction's FIN
  uint32_t setup = UINT32_MAX;   // slot of the remaining address list while setting up
  uint32_t rule_id = UINT32_MAX;  // the policy that chained it (initiating agent only)
  uint8_t next_hop_mac[2][6] = {};  // destination MAC for out_right [0] and out_left [1]
  SessionState state = SessionState::kFree;
  SessionRole role = SessionRole::kInitiator;
  uint8_t sides = 0;
  uint8_t fin_flags = 0;
  // Established, every next-hop MAC known, no FIN yet: a data packet needs only its translation.
  uint8_t fast = 0;
  SessionState state_before_rst = SessionState::kFree;
};
static_assert(sizeof(Session) == 128, "two cache lines: translations, then per-packet state");

}  // namespace dysco
