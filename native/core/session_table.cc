#include "core/session_table.h"

#include <cstring>
#include <new>

#include "core/table_memory.h"

namespace dysco {
namespace {

constexpr int kPortAttempts = 64;

}  // namespace

SessionTable::~SessionTable() {
  FreeTableMemory(sessions_);
  FreeTableMemory(cold_);
}

bool SessionTable::Init(uint32_t max_sessions, uint32_t max_setups, uint32_t max_second_paths, uint16_t port_lo,
                        uint16_t port_hi, uint32_t host_ip) {
  if (max_sessions == 0 || max_sessions > kMaxSessions || max_setups == 0 || max_setups > kMaxSetups ||
      max_second_paths == 0 || max_second_paths > kMaxSecondPaths || port_lo >= port_hi) {
    return false;
  }
  FreeTableMemory(sessions_);
  FreeTableMemory(cold_);
  sessions_ = static_cast<Session*>(AllocateTableMemory(size_t{max_sessions} * sizeof(Session), alignof(Session)));
  cold_ = static_cast<SessionCold*>(AllocateTableMemory(size_t{max_sessions} * sizeof(SessionCold), alignof(SessionCold)));
  if (sessions_ == nullptr || cold_ == nullptr) return false;
  capacity_ = max_sessions;
  host_ip_ = host_ip;
  active_ = 0;
  // The tag keeps just enough bits for a slot; the rest is a generation, so a stale tag rarely matches.
  tag_index_bits_ = 1;
  while ((1u << tag_index_bits_) < max_sessions) ++tag_index_bits_;
  // Free records link through `packets`, lowest index first.
  for (uint32_t i = 0; i < max_sessions; ++i) {
    new (&sessions_[i]) Session{};
    new (&cold_[i]) SessionCold{};
    sessions_[i].packets = i + 1 < max_sessions ? i + 1 : UINT32_MAX;
  }
  free_head_ = 0;
  setups_.assign(max_setups, SetupState{});
  setup_links_.assign(max_setups, SetupLink{UINT32_MAX, kNoSlot, kNoSlot});
  oldest_setup_ = newest_setup_ = kNoSlot;
  free_setups_.resize(max_setups);
  for (uint32_t i = 0; i < max_setups; ++i) free_setups_[i] = static_cast<uint16_t>(max_setups - 1 - i);
  second_paths_.assign(max_second_paths, SecondPath{});
  second_path_owner_.assign(max_second_paths, UINT32_MAX);
  free_second_paths_.resize(max_second_paths);
  for (uint32_t i = 0; i < max_second_paths; ++i) {
    free_second_paths_[i] = static_cast<uint16_t>(max_second_paths - 1 - i);
  }
  port_lo_ = port_lo;
  port_hi_ = port_hi;
  // Every session owns at most two inbound and two outbound keys (one per side).
  return inbound_.Init(2 * max_sessions) && outbound_.Init(2 * max_sessions);
}

Session* SessionTable::Allocate(uint32_t* index) {
  if (free_head_ == UINT32_MAX) return nullptr;
  *index = free_head_;
  Session& session = sessions_[free_head_];
  free_head_ = session.packets;
  ++active_;
  session = Session{};
  cold_[*index] = SessionCold{};
  return &session;
}

TcpHandshake SessionTable::Handshake(const SessionCold& cold, int direction) {
  TcpHandshake out;
  const uint8_t options = cold.handshake_options[direction];
  out.isn = cold.isn[direction];
  out.ts_val = cold.syn_ts_val[direction];
  const uint8_t scale = options & kHandshakeScaleMask;
  out.window_scale = scale == kHandshakeNoScale ? 0xff : scale;
  out.sack_permitted = (options & kHandshakeSack) ? 1 : 0;
  out.timestamps = (options & kHandshakeTimestamps) ? 1 : 0;
  return out;
}

void SessionTable::SetHandshake(SessionCold& cold, int direction, const TcpHandshake& handshake) {
  cold.isn[direction] = handshake.isn;
  cold.syn_ts_val[direction] = handshake.ts_val;
  // RFC 7323 caps the shift at 14; anything above is taken as 14, as TCP itself does.
  const uint8_t scale = handshake.window_scale == 0xff ? kHandshakeNoScale
                        : handshake.window_scale > 14 ? 14
                                                       : handshake.window_scale;
  cold.handshake_options[direction] = static_cast<uint8_t>(scale | (handshake.sack_permitted ? kHandshakeSack : 0) |
                                                              (handshake.timestamps ? kHandshakeTimestamps : 0));
}

FiveTuple SessionTable::KeyOf(const Session& session, TranslationKind kind) const {
  TupleWords arrives, leaves;
  if (IsSecondPath(kind)) {
    // Only a record of this table has a second path.
    const uint32_t index = static_cast<uint32_t>(&session - sessions_);
    KindWordsOf(second_paths_[cold_[index].reconfig].side, kind, host_ip_, &arrives, &leaves);
  } else {
    KindWords(session, kind, host_ip_, &arrives, &leaves);
  }
  FiveTuple key;
  std::memcpy(&key.src_ip, &arrives.addresses, 8);
  std::memcpy(&key.src_port, &arrives.ports, 4);
  key.protocol = 6;
  return key;
}

bool SessionTable::Lookup(bool outbound, const FiveTuple& key, uint32_t* value) const {
  if (key.protocol == 0) return false;
  return lookup_table(outbound).Find(
      FlowTable::Hash(key), [this, &key](uint32_t v) { return Matches(v, key); }, value);
}

FlowTable::InsertResult SessionTable::AddKey(uint32_t index, TranslationKind kind) {
  const FiveTuple key = KeyOf(sessions_[index], kind);
  const uint32_t value = PackEntry(index, kind);
  uint32_t owner = value;
  const auto result = table_for(kind).Insert(FlowTable::Hash(key), value, [this, &key, &owner](uint32_t v) {
    owner = v;
    return Matches(v, key);
  });
  // The session's own entry already under this key (a placeholder the SYN came back with) is no conflict.
  if (result == FlowTable::InsertResult::kExists && owner == value) return FlowTable::InsertResult::kInserted;
  return result;
}

void SessionTable::RemoveKey(uint32_t index, TranslationKind kind) {
  table_for(kind).Erase(FlowTable::Hash(KeyOf(sessions_[index], kind)), PackEntry(index, kind));
}

void SessionTable::Free(uint32_t index) {
  Session& session = sessions_[index];
  if (session.state == SessionState::kFree) return;
  if (session.has_left()) {
    RemoveKey(index, kInLeft);
    RemoveKey(index, kOutLeft);
  }
  if (session.has_right()) RemoveKey(index, kInRight);
  // With no right side yet, kOutRight is a middlebox's placeholder; erasing by value never touches a key
  // another session owns.
  if (session.has_right() || session.role == SessionRole::kMiddlebox) RemoveKey(index, kOutRight);
  ReleaseSetup(index);
  ReleaseSecondPath(index);
  macs_.Release(session.next_hop[0]);
  macs_.Release(session.next_hop[1]);
  session = Session{};
  session.packets = free_head_;
  free_head_ = index;
  --active_;
}

SecondPath* SessionTable::AcquireSecondPath(uint32_t index) {
  uint16_t& slot = cold_[index].reconfig;
  if (slot == kNoSlot) {
    if (free_second_paths_.empty()) return nullptr;
    slot = free_second_paths_.back();
    free_second_paths_.pop_back();
    second_path_owner_[slot] = index;
  }
  second_paths_[slot] = SecondPath{};
  sessions_[index].flags |= kReconfigured;
  return &second_paths_[slot];
}

void SessionTable::ReleaseSecondPath(uint32_t index) {
  uint16_t& slot = cold_[index].reconfig;
  if (slot == kNoSlot) return;
  SecondPath& second = second_paths_[slot];
  if (SecondPathKeyed(second.phase)) {
    RemoveKey(index, second.doubled == AnchorSide::kLeft ? kSecondInLeft : kSecondInRight);
  }
  macs_.Release(second.next_hop);
  second = SecondPath{};
  second_path_owner_[slot] = UINT32_MAX;
  free_second_paths_.push_back(slot);
  slot = kNoSlot;
  sessions_[index].flags &= static_cast<uint8_t>(~kReconfigured);
}

uint32_t SessionTable::SessionExpecting(uint32_t nonce) const {
  for (uint32_t slot = 0; slot < second_paths_.size(); ++slot) {
    const uint32_t owner = second_path_owner_[slot];
    if (owner == UINT32_MAX) continue;
    const SecondPath& second = second_paths_[slot];
    if (second.nonce == nonce &&
        (second.phase == SecondPathPhase::kExpecting || second.phase == SecondPathPhase::kAnswered)) {
      return owner;
    }
  }
  return UINT32_MAX;
}

bool SessionTable::StoreSetup(uint32_t index, const uint32_t* hops, uint8_t count, const uint32_t* new_path_nonce) {
  if (count > kMaxSetupHops) return false;
  uint16_t& slot = cold_[index].setup;
  if (slot == kNoSlot) {
    if (free_setups_.empty()) return false;
    slot = free_setups_.back();
    free_setups_.pop_back();
    setups_[slot].tag = 0;
    setup_links_[slot] = SetupLink{index, newest_setup_, kNoSlot};
    if (newest_setup_ != kNoSlot) setup_links_[newest_setup_].newer = slot;
    newest_setup_ = slot;
    if (oldest_setup_ == kNoSlot) oldest_setup_ = slot;
  }
  SetupState& state = setups_[slot];
  state.count = count;
  state.new_path = new_path_nonce != nullptr;
  state.nonce = new_path_nonce != nullptr ? *new_path_nonce : 0;
  for (uint8_t i = 0; i < count; ++i) state.hops[i] = hops[i];
  return true;
}

const SetupState* SessionTable::SetupOf(uint32_t index) const {
  const uint16_t slot = cold_[index].setup;
  return slot == kNoSlot ? nullptr : &setups_[slot];
}

void SessionTable::ReleaseSetup(uint32_t index) {
  uint16_t& slot = cold_[index].setup;
  if (slot == kNoSlot) return;
  const SetupLink link = setup_links_[slot];
  (link.older != kNoSlot ? setup_links_[link.older].newer : oldest_setup_) = link.newer;
  (link.newer != kNoSlot ? setup_links_[link.newer].older : newest_setup_) = link.older;
  setup_links_[slot] = SetupLink{UINT32_MAX, kNoSlot, kNoSlot};
  free_setups_.push_back(slot);
  slot = kNoSlot;
}

bool SessionTable::AllocatePorts(uint32_t neighbour_be, SubsessionPorts* out) {
  const uint32_t parity = __builtin_bswap32(host_ip_) < __builtin_bswap32(neighbour_be) ? 0 : 1;
  const uint32_t half = (static_cast<uint32_t>(port_hi_) - port_lo_ + 1) / 2;
  const uint32_t base = port_lo_ + ((port_lo_ & 1) != parity ? 1 : 0);
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    const uint32_t cursor = port_cursor_++;
    const uint32_t src = base + 2 * (cursor % half);
    const uint32_t dst = base + 2 * ((cursor / half + cursor) % half);
    if (src > port_hi_ || dst > port_hi_) continue;
    FiveTuple reverse;  // how the neighbour's packets on this subsession arrive here
    reverse.src_ip = neighbour_be;
    reverse.dst_ip = host_ip_;
    reverse.src_port = __builtin_bswap16(static_cast<uint16_t>(dst));
    reverse.dst_port = __builtin_bswap16(static_cast<uint16_t>(src));
    reverse.protocol = 6;
    uint32_t unused;
    if (Lookup(false, reverse, &unused)) continue;
    out->src_port = reverse.dst_port;
    out->dst_port = reverse.src_port;
    return true;
  }
  return false;
}

uint32_t SessionTable::NewTag(uint32_t index) {
  const uint16_t slot = cold_[index].setup;
  if (slot == kNoSlot) return 0;
  ++tag_generation_;
  uint32_t tag = (tag_generation_ << tag_index_bits_) | index;
  if (tag == 0) tag = (1u << tag_index_bits_) | index;  // 0 never names a session
  setups_[slot].tag = tag;
  return tag;
}

Session* SessionTable::ByTag(uint32_t tag, uint32_t* index) {
  const uint32_t candidate = tag & ((1u << tag_index_bits_) - 1);
  if (candidate >= capacity_) return nullptr;
  Session& session = sessions_[candidate];
  // A middlebox session whose SYN has not gone on yet (pending, or established by a SYN proxy).
  if (session.state == SessionState::kFree || session.state == SessionState::kLinger ||
      session.role != SessionRole::kMiddlebox || session.has_right() || cold_[candidate].setup == kNoSlot ||
      setups_[cold_[candidate].setup].tag != tag) {
    return nullptr;
  }
  *index = candidate;
  return &session;
}

bool SessionTable::SetNextHop(Session& session, int side, const uint8_t* mac) {
  const uint16_t ref = macs_.Acquire(mac);
  if (ref == 0) return false;
  macs_.Release(session.next_hop[side]);
  session.next_hop[side] = ref;
  return true;
}

size_t SessionTable::MemoryBytes() const {
  return size_t{capacity_} * (sizeof(Session) + sizeof(SessionCold)) + setups_.capacity() * sizeof(SetupState) +
         free_setups_.capacity() * sizeof(uint16_t) + setup_links_.capacity() * sizeof(SetupLink) +
         second_paths_.capacity() * (sizeof(SecondPath) + sizeof(uint16_t) + sizeof(uint32_t)) + inbound_.MemoryBytes() + outbound_.MemoryBytes() +
         MacTable::MemoryBytes();
}

}  // namespace dysco
