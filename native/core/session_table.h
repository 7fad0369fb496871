#pragma once
// Storage of an agent's sessions: the session records, the two lookup tables (packets from the
// wire are looked up by the tuple they arrive with, packets from the host by the tuple the host
// emitted), the set-up state of sessions still setting up, next-hop MACs, subsession port allocation
// and tags. The lookup tables keep no keys: a key is confirmed against the record its value names.
// Single writer: the datapath lcore.
#include <cstdint>
#include <vector>

#include "core/five_tuple.h"
#include "core/flow_table.h"
#include "core/mac_table.h"
#include "core/second_path.h"
#include "core/session.h"

namespace dysco {

inline constexpr uint8_t kMaxSetupHops = 32;

// What a session needs only until its SYN has gone on: the rest of the address list, and the tag that
// finds it again when the middlebox software rewrites the SYN's tuple.
struct SetupState {
  uint32_t tag = 0;
  uint8_t count = 0;
  bool new_path = false;  // the SYN opens a live session's new path: the list carries `nonce` on
  uint32_t nonce = 0;
  uint32_t hops[kMaxSetupHops];  // network byte order; [0] is the next agent
};

// A table value (24 bits): session index in the upper bits, the translation kind in the lowest three
// (room for the kinds of a second path).
inline constexpr uint32_t kEntryKindBits = 3;
inline uint32_t PackEntry(uint32_t index, TranslationKind kind) { return (index << kEntryKindBits) | kind; }
inline uint32_t EntryIndex(uint32_t value) { return value >> kEntryKindBits; }
inline TranslationKind EntryKind(uint32_t value) {
  return static_cast<TranslationKind>(value & ((1u << kEntryKindBits) - 1));
}

struct SubsessionPorts {
  uint16_t src_port;  // network byte order
  uint16_t dst_port;  // network byte order
};

class SessionTable {
 public:
  static constexpr uint32_t kMaxSessions = 1u << (FlowTable::kValueBits - kEntryKindBits);
  static constexpr uint32_t kMaxSetups = kNoSlot;     // slots are 16-bit
  static constexpr uint32_t kMaxSecondPaths = kNoSlot;

  SessionTable() = default;
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;
  ~SessionTable();

  // host_ip: the agent's own address, the local end of every subsession (network byte order).
  bool Init(uint32_t max_sessions, uint32_t max_setups, uint32_t max_second_paths, uint16_t port_lo, uint16_t port_hi,
            uint32_t host_ip);

  // A free session record, zeroed, or nullptr when the table is full.
  Session* Allocate(uint32_t* index);
  // Erases every key the session owns, returns its set-up and second-path slots and next-hop references,
  // and frees it.
  void Free(uint32_t index);

  Session& at(uint32_t index) { return sessions_[index]; }
  const Session& at(uint32_t index) const { return sessions_[index]; }
  SessionCold& cold(uint32_t index) { return cold_[index]; }
  const SessionCold& cold(uint32_t index) const { return cold_[index]; }
  uint32_t capacity() const { return capacity_; }
  uint32_t active() const { return active_; }
  uint32_t host_ip() const { return host_ip_; }

  // [0] the forward SYN's, [1] the SYN-ACK's.
  static TcpHandshake Handshake(const SessionCold& cold, int direction);
  static void SetHandshake(SessionCold& cold, int direction, const TcpHandshake& handshake);

  // The key under which packets reach `kind` of a session. A middlebox session's right side is the
  // left side's tuple until its SYN has gone on, so kOutRight is then the placeholder key.
  FiveTuple KeyOf(const Session& session, TranslationKind kind) const;
  // True when `value` names a live session whose `kind` key is `key` (a candidate from the lookup
  // tables confirmed against its record: per packet, so compared as words without building a tuple).
  bool Matches(uint32_t value, const FiveTuple& key) const;
  // What packets from the host (outbound) or from the wire (inbound) look up.
  bool Lookup(bool outbound, const FiveTuple& key, uint32_t* value) const;
  const FlowTable& lookup_table(bool outbound) const { return outbound ? outbound_ : inbound_; }
  // Adds or removes the key of `kind` as the record now derives it.
  FlowTable::InsertResult AddKey(uint32_t index, TranslationKind kind);
  void RemoveKey(uint32_t index, TranslationKind kind);

  // Reconfiguration state (second_path.h). Acquire gives the session a fresh record (nullptr when the
  // pool is full) and marks it kReconfigured; Release returns it with its key and next-hop reference.
  SecondPath* AcquireSecondPath(uint32_t index);
  SecondPath* SecondPathOf(uint32_t index) {
    const uint16_t slot = cold_[index].reconfig;
    return slot == kNoSlot ? nullptr : &second_paths_[slot];
  }
  const SecondPath* SecondPathOf(uint32_t index) const {
    const uint16_t slot = cold_[index].reconfig;
    return slot == kNoSlot ? nullptr : &second_paths_[slot];
  }
  void ReleaseSecondPath(uint32_t index);
  // Whether a second path's phase keeps its side's inbound key in the table.
  static bool SecondPathKeyed(SecondPathPhase phase) {
    return phase == SecondPathPhase::kOpening || phase == SecondPathPhase::kAnswered ||
           phase == SecondPathPhase::kTwoPaths || phase == SecondPathPhase::kFolded;
  }
  // The session with a second path expecting or opening `nonce` (a few at a time: scanned), or UINT32_MAX.
  uint32_t SessionExpecting(uint32_t nonce) const;
  // The side a kind translates by: the session's own, or its second path's.
  const SessionSide* SideOf(uint32_t index, TranslationKind kind) const;
  uint32_t second_path_slots() const { return static_cast<uint32_t>(second_paths_.size()); }
  uint32_t SecondPathOwner(uint32_t slot) const { return second_path_owner_[slot]; }
  uint32_t second_paths_in_use() const { return static_cast<uint32_t>(second_paths_.size() - free_second_paths_.size()); }

  // Set-up state of sessions setting up: every session before its handshake completes holds a slot (a responder's
  // with no hops), so that half-open sessions are bounded apart from established ones. False when none is free.
  bool StoreSetup(uint32_t index, const uint32_t* hops, uint8_t count, const uint32_t* new_path_nonce = nullptr);
  const SetupState* SetupOf(uint32_t index) const;
  void ReleaseSetup(uint32_t index);
  // The session holding the oldest slot (the first to give way under a SYN flood), or UINT32_MAX when none is held.
  uint32_t OldestSetupOwner() const { return oldest_setup_ == kNoSlot ? UINT32_MAX : setup_links_[oldest_setup_].owner; }
  // The session holding the next younger slot than `owner`'s, or UINT32_MAX.
  uint32_t NewerSetupOwner(uint32_t owner) const {
    const uint16_t slot = cold_[owner].setup;
    const uint16_t newer = slot == kNoSlot ? kNoSlot : setup_links_[slot].newer;
    return newer == kNoSlot ? UINT32_MAX : setup_links_[newer].owner;
  }
  bool full() const { return free_head_ == UINT32_MAX; }
  bool setups_full() const { return free_setups_.empty(); }
  uint32_t setups_in_use() const { return static_cast<uint32_t>(setups_.size() - free_setups_.size()); }

  // A port pair toward `neighbour_be` that no live subsession with that neighbour uses. Both ports
  // have the parity this host owns toward that neighbour (the lower address takes even ports), so
  // the neighbour's own allocations never collide with ours. False when the range is exhausted.
  bool AllocatePorts(uint32_t neighbour_be, SubsessionPorts* out);

  // A new tag for a session holding set-up state (stored there); 0 when it has none.
  uint32_t NewTag(uint32_t index);
  // The pending session a tag names, or nullptr (stale or forged tag).
  Session* ByTag(uint32_t tag, uint32_t* index);

  // Next-hop MACs: references held by sessions, released with them.
  MacTable& macs() { return macs_; }
  const MacTable& macs() const { return macs_; }
  // Points side `side` (0 right, 1 left) of a session at `mac`; false when the MAC table is full.
  bool SetNextHop(Session& session, int side, const uint8_t* mac);

  size_t MemoryBytes() const;

 private:
  FlowTable& table_for(TranslationKind kind) { return IsOutbound(kind) ? outbound_ : inbound_; }

  Session* sessions_ = nullptr;  // huge-page table memory; a free record's `packets` links the free list
  SessionCold* cold_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t free_head_ = UINT32_MAX;
  std::vector<SetupState> setups_;
  std::vector<uint16_t> free_setups_;
  // Slots in use, oldest first (a doubly linked list by slot), with the session holding each.
  struct SetupLink {
    uint32_t owner;
    uint16_t older;
    uint16_t newer;
  };
  std::vector<SetupLink> setup_links_;
  uint16_t oldest_setup_ = kNoSlot;
  uint16_t newest_setup_ = kNoSlot;
  std::vector<SecondPath> second_paths_;
  std::vector<uint16_t> free_second_paths_;
  std::vector<uint32_t> second_path_owner_;  // by slot: the session index, UINT32_MAX when free
  FlowTable inbound_;
  FlowTable outbound_;
  MacTable macs_;
  uint32_t host_ip_ = 0;
  uint32_t active_ = 0;
  uint32_t port_cursor_ = 0;
  uint16_t port_lo_ = 61000;
  uint16_t port_hi_ = 65535;
  uint32_t tag_generation_ = 0;
  uint32_t tag_index_bits_ = 22;
};

inline const SessionSide* SessionTable::SideOf(uint32_t index, TranslationKind kind) const {
  const Session& session = sessions_[index];
  if (!IsSecondPath(kind)) return OwnsKind(session, kind) ? &session.side(kind) : nullptr;
  const SecondPath* second = SecondPathOf(index);
  if (second == nullptr || !SecondPathKeyed(second->phase) || IsOutbound(kind) ||
      IsLeft(kind) != (second->doubled == AnchorSide::kLeft)) {
    return nullptr;
  }
  return &second->side;
}

inline bool SessionTable::Matches(uint32_t value, const FiveTuple& key) const {
  const uint32_t index = EntryIndex(value);
  if (index >= capacity_ || key.protocol != 6) return false;
  const Session& session = sessions_[index];
  const TranslationKind kind = EntryKind(value);
  if (session.state == SessionState::kFree) return false;
  const SessionSide* side = SideOf(index, kind);
  if (side == nullptr) return false;
  TupleWords arrives, leaves;
  KindWordsOf(*side, kind, host_ip_, &arrives, &leaves);
  return arrives == TupleWords::Of(key);
}

}  // namespace dysco
