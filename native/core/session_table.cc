#include "core/session_table.h"

#include <new>

#include "core/table_memory.h"

namespace dysco {
namespace {

constexpr int kPortAttempts = 64;

// Erases `key` only if it still maps to `value`: a session never removes a key another one owns.
void EraseOwned(FlowTable& table, const FiveTuple& key, uint32_t value) {
  uint32_t found;
  if (table.Lookup(key, &found) && found == value) table.Erase(key);
}

}  // namespace

SessionTable::~SessionTable() { FreeTableMemory(sessions_); }

bool SessionTable::Init(uint32_t max_sessions, uint32_t max_setups, uint16_t port_lo, uint16_t port_hi) {
  if (max_sessions == 0 || max_sessions > kMaxSessions || max_setups == 0 || port_lo >= port_hi) return false;
  FreeTableMemory(sessions_);
  sessions_ = static_cast<Session*>(AllocateTableMemory(size_t{max_sessions} * sizeof(Session), alignof(Session)));
  if (sessions_ == nullptr) return false;
  capacity_ = max_sessions;
  // The tag keeps just enough bits for a slot; the rest is a generation, so a stale tag rarely matches.
  tag_index_bits_ = 1;
  while ((1u << tag_index_bits_) < max_sessions) ++tag_index_bits_;
  for (uint32_t i = 0; i < max_sessions; ++i) new (&sessions_[i]) Session{};
  handshakes_.assign(max_sessions, {});
  free_sessions_.resize(max_sessions);
  for (uint32_t i = 0; i < max_sessions; ++i) free_sessions_[i] = max_sessions - 1 - i;  // lowest index first
  setups_.assign(max_setups, SetupList{});
  free_setups_.resize(max_setups);
  for (uint32_t i = 0; i < max_setups; ++i) free_setups_[i] = max_setups - 1 - i;
  port_lo_ = port_lo;
  port_hi_ = port_hi;
  // Every session owns at most two inbound and two outbound keys (one per side).
  return inbound_.Init(2 * max_sessions) && outbound_.Init(2 * max_sessions);
}

Session* SessionTable::Allocate(uint32_t* index) {
  if (free_sessions_.empty()) return nullptr;
  *index = free_sessions_.back();
  free_sessions_.pop_back();
  ++active_;
  Session& session = sessions_[*index];
  session = Session{};
  handshakes_[*index] = {};
  return &session;
}

FiveTuple SessionTable::KeyOf(const Session& session, TranslationKind kind) {
  return session.xlate[Opposite(kind)].Result().Reversed();
}

void SessionTable::Free(uint32_t index) {
  Session& session = sessions_[index];
  if (session.state == SessionState::kFree) return;
  if (session.sides & kHasLeft) {
    EraseOwned(inbound_, KeyOf(session, kInLeft), PackEntry(index, kInLeft));
    EraseOwned(outbound_, KeyOf(session, kOutLeft), PackEntry(index, kOutLeft));
  }
  if (session.sides & kHasRight) {
    EraseOwned(inbound_, KeyOf(session, kInRight), PackEntry(index, kInRight));
    EraseOwned(outbound_, KeyOf(session, kOutRight), PackEntry(index, kOutRight));
  } else if (session.role == SessionRole::kMiddlebox) {
    // The placeholder that lets the SYN be recognised when the middlebox emits it unchanged; it stays
    // until the SYN goes on, so also a session that ended while pending (a RST from the host) owns it.
    EraseOwned(outbound_, session.xlate[kInLeft].Result(), PackEntry(index, kOutRight));
  }
  ReleaseSetup(session);
  session.state = SessionState::kFree;
  session.fast = 0;
  free_sessions_.push_back(index);
  --active_;
}

bool SessionTable::StoreSetup(Session& session, const uint32_t* hops, uint8_t count) {
  if (count > kMaxSetupHops) return false;
  if (session.setup == UINT32_MAX) {
    if (free_setups_.empty()) return false;
    session.setup = free_setups_.back();
    free_setups_.pop_back();
  }
  SetupList& list = setups_[session.setup];
  list.count = count;
  for (uint8_t i = 0; i < count; ++i) list.hops[i] = hops[i];
  return true;
}

const SetupList* SessionTable::SetupOf(const Session& session) const {
  return session.setup == UINT32_MAX ? nullptr : &setups_[session.setup];
}

void SessionTable::ReleaseSetup(Session& session) {
  if (session.setup == UINT32_MAX) return;
  free_setups_.push_back(session.setup);
  session.setup = UINT32_MAX;
}

bool SessionTable::AllocatePorts(uint32_t host_be, uint32_t neighbour_be, SubsessionPorts* out) {
  const uint32_t parity = __builtin_bswap32(host_be) < __builtin_bswap32(neighbour_be) ? 0 : 1;
  const uint32_t half = (static_cast<uint32_t>(port_hi_) - port_lo_ + 1) / 2;
  const uint32_t base = port_lo_ + ((port_lo_ & 1) != parity ? 1 : 0);
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    const uint32_t cursor = port_cursor_++;
    const uint32_t src = base + 2 * (cursor % half);
    const uint32_t dst = base + 2 * ((cursor / half + cursor) % half);
    if (src > port_hi_ || dst > port_hi_) continue;
    FiveTuple reverse;  // how the neighbour's packets on this subsession arrive here
    reverse.src_ip = neighbour_be;
    reverse.dst_ip = host_be;
    reverse.src_port = __builtin_bswap16(static_cast<uint16_t>(dst));
    reverse.dst_port = __builtin_bswap16(static_cast<uint16_t>(src));
    reverse.protocol = 6;
    uint32_t unused;
    if (inbound_.Lookup(reverse, &unused)) continue;
    out->src_port = reverse.dst_port;
    out->dst_port = reverse.src_port;
    return true;
  }
  return false;
}

uint32_t SessionTable::NewTag(uint32_t index) {
  ++tag_generation_;
  uint32_t tag = (tag_generation_ << tag_index_bits_) | index;
  if (tag == 0) tag = (1u << tag_index_bits_) | index;  // 0 never names a session
  return tag;
}

Session* SessionTable::ByTag(uint32_t tag, uint32_t* index) {
  const uint32_t candidate = tag & ((1u << tag_index_bits_) - 1);
  if (candidate >= capacity_) return nullptr;
  Session& session = sessions_[candidate];
  // A middlebox session whose SYN has not gone on yet (pending, or established by a SYN proxy).
  if (session.state == SessionState::kFree || session.state == SessionState::kLinger ||
      session.role != SessionRole::kMiddlebox || (session.sides & kHasRight) || session.tag != tag) {
    return nullptr;
  }
  *index = candidate;
  return &session;
}

size_t SessionTable::MemoryBytes() const {
  return size_t{capacity_} * sizeof(Session) + handshakes_.capacity() * sizeof(handshakes_[0]) +
         free_sessions_.capacity() * sizeof(uint32_t) +
         setups_.capacity() * sizeof(SetupList) + free_setups_.capacity() * sizeof(uint32_t) +
         inbound_.MemoryBytes() + outbound_.MemoryBytes();
}

}  // namespace dysco
