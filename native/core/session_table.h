#pragma once
// Storage of an agent's sessions: the session records, the two lookup tables (packets from the
// wire are looked up by the tuple they arrive with, packets from the host by the tuple the host
// emitted), the address lists of sessions still setting up, subsession port allocation and tags.
// Single writer: the datapath lcore.
#include <array>
#include <cstdint>
#include <vector>

#include "core/five_tuple.h"
#include "core/flow_table.h"
#include "core/session.h"

namespace dysco {

inline constexpr uint8_t kMaxSetupHops = 32;

struct SetupList {
  uint8_t count = 0;
  uint32_t hops[kMaxSetupHops];  // network byte order; [0] is the next agent
};

// A table value: session index in the upper bits, the translation kind in the lowest two.
inline uint32_t PackEntry(uint32_t index, TranslationKind kind) { return (index << 2) | kind; }
inline uint32_t EntryIndex(uint32_t value) { return value >> 2; }
inline TranslationKind EntryKind(uint32_t value) { return static_cast<TranslationKind>(value & 3); }

struct SubsessionPorts {
  uint16_t src_port;  // network byte order
  uint16_t dst_port;  // network byte order
};

class SessionTable {
 public:
  static constexpr uint32_t kMaxSessions = 1u << 22;  // leaves a tag at least 10 bits of generation

  SessionTable() = default;
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;
  ~SessionTable();

  bool Init(uint32_t max_sessions, uint32_t max_setups, uint16_t port_lo, uint16_t port_hi);

  // A free session record, zeroed, or nullptr when the table is full.
  Session* Allocate(uint32_t* index);
  // Erases every key the session owns, returns its setup slot, and frees it.
  void Free(uint32_t index);

  Session& at(uint32_t index) { return sessions_[index]; }
  const Session& at(uint32_t index) const { return sessions_[index]; }
  // [0] the forward SYN's, [1] the SYN-ACK's.
  TcpHandshake* handshakes(uint32_t index) { return handshakes_[index].data(); }
  const TcpHandshake* handshakes(uint32_t index) const { return handshakes_[index].data(); }
  uint32_t capacity() const { return capacity_; }
  uint32_t active() const { return active_; }

  FlowTable& inbound() { return inbound_; }
  FlowTable& outbound() { return outbound_; }

  // The key under which packets reach `kind` of a session (derived from the opposite translation).
  static FiveTuple KeyOf(const Session& session, TranslationKind kind);

  // Address lists of sessions setting up.
  bool StoreSetup(Session& session, const uint32_t* hops, uint8_t count);
  const SetupList* SetupOf(const Session& session) const;
  void ReleaseSetup(Session& session);

  // A port pair toward `neighbour_be` that no live subsession with that neighbour uses. Both ports
  // have the parity this host owns toward that neighbour (the lower address takes even ports), so
  // the neighbour's own allocations never collide with ours. False when the range is exhausted.
  bool AllocatePorts(uint32_t host_be, uint32_t neighbour_be, SubsessionPorts* out);

  uint32_t NewTag(uint32_t index);
  // The pending session a tag names, or nullptr (stale or forged tag).
  Session* ByTag(uint32_t tag, uint32_t* index);

  size_t MemoryBytes() const;

 private:
  Session* sessions_ = nullptr;  // huge-page table memory
  uint32_t capacity_ = 0;
  std::vector<std::array<TcpHandshake, 2>> handshakes_;
  std::vector<uint32_t> free_sessions_;
  std::vector<SetupList> setups_;
  std::vector<uint32_t> free_setups_;
  FlowTable inbound_;
  FlowTable outbound_;
  uint32_t active_ = 0;
  uint32_t port_cursor_ = 0;
  uint16_t port_lo_ = 61000;
  uint16_t port_hi_ = 65535;
  uint32_t tag_generation_ = 0;
  uint32_t tag_index_bits_ = 22;
};

}  // namespace dysco
