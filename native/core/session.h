#pragma once
// One Dysco session as an agent sees it: up to two sides, each the mapping between a subsession
// with a neighbour agent and the session as this host's stack sees it on that side.
//
//   host stack ──out_right──► wire (toward the right neighbour)    wire ──in_left──► host stack
//   host stack ──out_left───► wire (toward the left neighbour)     wire ──in_right─► host stack
//
// The initiator's agent has only the right side, the responder's only the left, a middlebox's both.
// A side holds each tuple once: the four translations of a middlebox are derived from two sides, the
// subsession's local address is always the agent's own, and a direction's reverse is the same tuple
// read swapped, with the checksum adjustment negated. A session is a 72-byte hot record (what every
// packet reads; it never spans more than two cache lines) and a 32-byte cold one (set-up, teardown,
// reconfiguration) in a parallel array.
#include <bit>
#include <cstdint>
#include <cstring>

#include "core/five_tuple.h"

namespace dysco {

// Kinds 0-3 translate by the session's own sides; kinds 4-7 the same by the side of its second path
// (second_path.h), which has only inbound keys: the host's tuple is the same on both paths.
enum TranslationKind : uint8_t {
  kInLeft = 0, kOutRight = 1, kInRight = 2, kOutLeft = 3, kTranslationKinds = 4,
  kSecondInLeft = 4, kSecondInRight = 6,
};

inline constexpr TranslationKind BaseKind(TranslationKind kind) { return static_cast<TranslationKind>(kind & 3); }
inline constexpr bool IsSecondPath(TranslationKind kind) { return kind >= kTranslationKinds; }
// Which TCP direction a translation carries: forward = initiator → responder.
inline constexpr bool IsForward(TranslationKind kind) { return BaseKind(kind) == kInLeft || BaseKind(kind) == kOutRight; }
inline constexpr bool IsOutbound(TranslationKind kind) { return BaseKind(kind) == kOutRight || BaseKind(kind) == kOutLeft; }
inline constexpr bool IsLeft(TranslationKind kind) { return BaseKind(kind) == kInLeft || BaseKind(kind) == kOutLeft; }

// One side of a session. Addresses and ports in network byte order, each pair in packet order.
struct SessionSide {
  uint32_t host_src_ip = 0, host_dst_ip = 0;      // the session on this side, forward direction
  uint16_t host_src_port = 0, host_dst_port = 0;
  uint32_t neighbour_ip = 0;                       // the subsession's far end (ours is the agent's address)
  uint16_t local_port = 0, neighbour_port = 0;
  // One's-complement sums to add to the IPv4 and TCP checksums of a packet that arrives on the
  // subsession and leaves as the host's tuple (network order); the other way adds their complements.
  uint16_t ip_adjust = 0, l4_adjust = 0;

  FiveTuple HostTuple() const {
    FiveTuple t;
    t.src_ip = host_src_ip;
    t.dst_ip = host_dst_ip;
    t.src_port = host_src_port;
    t.dst_port = host_dst_port;
    t.protocol = 6;
    return t;
  }
  // The subsession as this agent sends it (from its own address to the neighbour).
  FiveTuple Outgoing(uint32_t own_ip) const {
    FiveTuple t;
    t.src_ip = own_ip;
    t.dst_ip = neighbour_ip;
    t.src_port = local_port;
    t.dst_port = neighbour_port;
    t.protocol = 6;
    return t;
  }
  void SetHost(const FiveTuple& t) {
    host_src_ip = t.src_ip;
    host_dst_ip = t.dst_ip;
    host_src_port = t.src_port;
    host_dst_port = t.dst_port;
  }
  // `incoming`: the subsession as it arrives from the neighbour.
  void SetSubsession(const FiveTuple& incoming) {
    neighbour_ip = incoming.src_ip;
    neighbour_port = incoming.src_port;
    local_port = incoming.dst_port;
  }
};
static_assert(sizeof(SessionSide) == 24);

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
  uint32_t ts_val = 0;          // the SYN's TSval (0 when timestamps are off)
  uint8_t window_scale = 0xff;  // 0xff: option absent
  uint8_t sack_permitted = 0;
  uint8_t timestamps = 0;
};

// A handshake's options packed into one byte of the record.
inline constexpr uint8_t kHandshakeScaleMask = 0x0f, kHandshakeNoScale = 0x0f, kHandshakeSack = 0x10,
                         kHandshakeTimestamps = 0x20;

inline constexpr uint8_t kFinSeenForward = 1, kFinSeenReverse = 2, kFinAckedForward = 4, kFinAckedReverse = 8;
// A RST ended the session (from the initiator's side, or the responder's): it lingers, and comes back if
// its sender talks again (the endpoint ignored an out-of-window RST, RFC 5961).
inline constexpr uint8_t kRstForward = 16, kRstReverse = 32;
// Session::flags. kFast: established, every next-hop MAC known, no FIN yet: a data packet needs only
// its translation. kReconfigured: the session holds a second path or a folded one's deltas
// (SessionCold::reconfig), so every packet takes the slow path.
inline constexpr uint8_t kHasLeft = 1, kHasRight = 2, kFast = 4, kReconfigured = 8, kStateBeforeRstShift = 4;
inline constexpr uint16_t kNoSlot = 0xffff;
inline constexpr uint16_t kNoRule = 0xffff;

// What a packet reads and writes. Both cache lines a record may span are prefetched before a packet is
// translated.
struct alignas(8) Session {
  SessionSide left;
  SessionSide right;
  uint64_t bytes = 0;
  uint32_t packets = 0;  // counts modulo 2^32
  uint32_t last_seen_ms = 0;
  uint16_t next_hop[2] = {0, 0};  // MacTable references for out_right [0] and out_left [1]; 0 = unknown
  SessionState state = SessionState::kFree;
  SessionRole role = SessionRole::kInitiator;
  uint8_t flags = 0;  // kHasLeft | kHasRight | kFast | kReconfigured, and the state a RST ended (bits 4-6)
  uint8_t fin_flags = 0;

  bool fast() const { return flags & kFast; }
  bool has_left() const { return flags & kHasLeft; }
  bool has_right() const { return flags & kHasRight; }
  bool reconfigured() const { return flags & kReconfigured; }
  SessionState state_before_rst() const { return static_cast<SessionState>((flags >> kStateBeforeRstShift) & 7); }
  void set_state_before_rst(SessionState s) {
    flags = static_cast<uint8_t>((flags & ((1u << kStateBeforeRstShift) - 1)) | (static_cast<uint8_t>(s) << kStateBeforeRstShift));
  }
  SessionSide& side(TranslationKind kind) { return IsLeft(kind) ? left : right; }
  const SessionSide& side(TranslationKind kind) const { return IsLeft(kind) ? left : right; }
};
// At most 64 + its alignment, so a record never spans a third cache line.
static_assert(sizeof(Session) == 72 && sizeof(Session) <= 64 + alignof(Session), "hot record: two lines at most");

// What set-up, FIN tracking, reconfiguration and the control API read.
struct SessionCold {
  uint32_t fin_end[2] = {0, 0};  // sequence number that acknowledges each direction's FIN
  uint32_t isn[2] = {0, 0};      // [0] the forward SYN's, [1] the SYN-ACK's
  uint32_t syn_ts_val[2] = {0, 0};
  uint8_t handshake_options[2] = {kHandshakeNoScale, kHandshakeNoScale};
  uint16_t setup = kNoSlot;     // slot of the set-up state (remaining address list, tag)
  uint16_t reconfig = kNoSlot;  // slot of reconfiguration state (second path)
  uint16_t rule_id = kNoRule;   // the policy that chained it (initiating agent only)
};
static_assert(sizeof(SessionCold) == 32);

static_assert(std::endian::native == std::endian::little, "TupleWords compose words in memory order");

// A tuple's addresses and ports as two words, in packet order (little-endian host): what the
// per-packet path compares and writes instead of building FiveTuples.
struct TupleWords {
  uint64_t addresses;
  uint32_t ports;

  static TupleWords Of(const FiveTuple& t) {
    TupleWords w;
    std::memcpy(&w.addresses, &t.src_ip, 8);
    std::memcpy(&w.ports, &t.src_port, 4);
    return w;
  }
  TupleWords Reversed() const { return {addresses << 32 | addresses >> 32, ports << 16 | ports >> 16}; }
  friend bool operator==(const TupleWords& a, const TupleWords& b) {
    return a.addresses == b.addresses && a.ports == b.ports;
  }
};

// The tuple a packet of `kind` arrives with (its lookup key) and the one it leaves with. Outbound
// packets leave as the subsession from `own_ip`; inbound ones as the host's tuple, read swapped for the
// reverse direction. kOutbound must be IsOutbound(kind): the per-packet path knows it from the port.
template <bool kOutbound>
inline void KindWordsFor(const SessionSide& side, bool forward, uint32_t own_ip, TupleWords* arrives,
                         TupleWords* leaves) {
  TupleWords host;
  std::memcpy(&host.addresses, &side.host_src_ip, 8);
  std::memcpy(&host.ports, &side.host_src_port, 4);
  if (!forward) host = host.Reversed();
  uint32_t sent_ports;  // local, then the neighbour's: the order a sent packet carries them
  std::memcpy(&sent_ports, &side.local_port, 4);
  if (kOutbound) {
    *arrives = host;
    *leaves = {uint64_t{own_ip} | uint64_t{side.neighbour_ip} << 32, sent_ports};
  } else {
    *arrives = {uint64_t{side.neighbour_ip} | uint64_t{own_ip} << 32, sent_ports << 16 | sent_ports >> 16};
    *leaves = host;
  }
}

inline void KindWordsOf(const SessionSide& side, TranslationKind kind, uint32_t own_ip, TupleWords* arrives,
                        TupleWords* leaves) {
  if (IsOutbound(kind)) {
    KindWordsFor<true>(side, IsForward(kind), own_ip, arrives, leaves);
  } else {
    KindWordsFor<false>(side, IsForward(kind), own_ip, arrives, leaves);
  }
}

// Kinds 0-3 only: a second path's side lives in the table's pool (SessionTable::SideOf).
inline void KindWords(const Session& session, TranslationKind kind, uint32_t own_ip, TupleWords* arrives,
                      TupleWords* leaves) {
  KindWordsOf(session.side(kind), kind, own_ip, arrives, leaves);
}

// Whether the session holds the key of `kind` (a middlebox's kOutRight is its placeholder until the
// right side exists).
inline bool OwnsKind(const Session& session, TranslationKind kind) {
  switch (kind) {
    case kInLeft:
    case kOutLeft: return session.has_left();
    case kInRight: return session.has_right();
    case kOutRight: return session.has_right() || session.role == SessionRole::kMiddlebox;
    default: return false;
  }
}

}  // namespace dysco
