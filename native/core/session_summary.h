#pragma once
// A copy of one session for the control API, made on the lcore between bursts, and the names of its
// states and roles (from session_states.def and session_roles.def).
#include <cstdint>

#include "core/session.h"
#include "core/session_table.h"

namespace dysco {

inline constexpr const char* kSessionStateLabels[] = {
#define DYSCO_SESSION_STATE(name, label, meaning) label,
#include "core/session_states.def"
#undef DYSCO_SESSION_STATE
};

inline constexpr const char* kSessionRoleLabels[] = {
#define DYSCO_SESSION_ROLE(name, label, meaning) label,
#include "core/session_roles.def"
#undef DYSCO_SESSION_ROLE
};

struct SessionSummary {
  uint32_t id;
  uint8_t state;  // SessionState
  uint8_t role;   // SessionRole
  uint8_t sides;  // kHasLeft | kHasRight
  uint8_t reserved;
  FiveTuple left_session;   // as the left neighbour named it (valid with kHasLeft)
  FiveTuple left_subsession;  // as it arrives from the left neighbour
  FiveTuple right_session;  // as this host emits it toward the right
  FiveTuple right_subsession;  // as it leaves toward the right neighbour
  uint64_t packets;
  uint64_t bytes;
  uint32_t idle_ms;
  uint32_t rule_id;
  // [0] the forward SYN's, [1] the SYN-ACK's (ISN, window scale, SACK-permitted, timestamps):
  // what reconfiguration needs to splice a new path into the session.
  TcpHandshake handshakes[2];
  // Reconfiguration state (second_path.h), for operators and tests; second_phase 0xff: none.
  uint8_t second_phase = 0xff;
  uint8_t second_side = 0;
  uint8_t second_known = 0;
  uint8_t second_their_flags = 0;
  uint32_t second_nonce = 0;
  uint32_t cutoff_ours = 0, cutoff_theirs = 0;  // host sequence space
  uint32_t sent = 0, their_ack = 0, host_ack = 0, old_received = 0;
};

inline SessionSummary Summarize(const SessionTable& table, uint32_t index, uint32_t now_ms) {
  const Session& s = table.at(index);
  SessionSummary out{};
  out.id = index;
  out.state = static_cast<uint8_t>(s.state);
  out.role = static_cast<uint8_t>(s.role);
  out.sides = s.flags & (kHasLeft | kHasRight);
  if (s.has_left() || s.state == SessionState::kPending) out.left_session = s.left.HostTuple();
  if (s.has_left()) out.left_subsession = table.KeyOf(s, kInLeft);
  if (s.has_right()) {
    out.right_session = s.right.HostTuple();
    out.right_subsession = s.right.Outgoing(table.host_ip());
  }
  out.packets = s.packets;
  out.bytes = s.bytes;
  out.idle_ms = now_ms - s.last_seen_ms;
  const uint16_t rule = table.cold(index).rule_id;
  out.rule_id = rule == kNoRule ? UINT32_MAX : rule;
  out.handshakes[0] = SessionTable::Handshake(table.cold(index), 0);
  out.handshakes[1] = SessionTable::Handshake(table.cold(index), 1);
  if (const SecondPath* second = table.SecondPathOf(index)) {
    out.second_phase = static_cast<uint8_t>(second->phase);
    out.second_side = static_cast<uint8_t>(second->doubled);
    out.second_known = second->known;
    out.second_their_flags = second->their_flags;
    out.second_nonce = second->nonce;
    out.cutoff_ours = second->cutoff_ours;
    out.cutoff_theirs = second->cutoff_theirs;
    out.sent = second->sent;
    out.their_ack = second->their_ack;
    out.host_ack = second->host_ack;
    out.old_received = second->old_received;
  }
  return out;
}

}  // namespace dysco
