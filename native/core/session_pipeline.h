#pragma once
// The per-packet work of a Dysco agent on bursts of frames, with no DPDK and no N-API: the DPDK
// loop hands it mbuf data, the test addon hands it Buffers. See docs/session-setup.md.
//
//  from the host stack: translate a known session; a SYN the policies chain starts a session (or
//                       completes a pending one at a middlebox); anything else passes untouched.
//  from the wire:       translate a known subsession; a SYN carrying an address list for this host
//                       starts a session; anything else passes untouched.
#include <cstdint>
#include <memory>

#include "core/counters.h"
#include "core/neighbour_table.h"
#include "core/packet_view.h"
#include "core/policy_rules.h"
#include "core/session_table.h"

namespace dysco {

struct PipelineConfig {
  uint32_t host_ip = 0;       // network byte order: the address subsessions use
  uint32_t prefix_mask = 0;   // network byte order: on-link next hops
  uint32_t gateway_ip = 0;    // network byte order; 0 = every next hop is on-link
  uint32_t max_sessions = 65536;
  uint32_t max_setups = 16384;
  uint16_t port_lo = 61000;   // subsession ports: keep out of the hosts' ephemeral range
  uint16_t port_hi = 65535;
  uint16_t mtu = 1500;
  // Idle timeouts by state, milliseconds.
  uint32_t setup_timeout_ms = 10000;
  uint32_t established_timeout_ms = 300000;
  uint32_t closing_timeout_ms = 30000;
  uint32_t linger_ms = 2000;
};

// One frame in a burst. `capacity` is how far `data` may grow (a SYN gains its address list).
struct PipelinePacket {
  uint8_t* data;
  uint32_t length;
  uint32_t capacity;
  void* handle;  // the caller's buffer (an mbuf); kept by the pipeline while a next hop resolves
};

enum class Verdict : uint8_t {
  kToWire,  // send on the wire port (possibly rewritten)
  kToHost,  // deliver to the host port (possibly rewritten)
  kDrop,    // counted under a drop reason; the caller frees it
  kHeld,    // waiting for ARP; the pipeline hands it back through PipelineIo::ReleaseHeld
};

// What the pipeline needs from its environment beyond the burst in hand.
class PipelineIo {
 public:
  virtual ~PipelineIo() = default;
  // Sends a frame the pipeline built (an ARP request) on the wire port; false if it could not.
  virtual bool SendFrame(const uint8_t* frame, uint32_t length) = 0;
  // A held packet's next hop resolved (mac != nullptr: write it as destination MAC and send on the
  // wire) or failed (mac == nullptr: free it; the pipeline already counted the drop).
  virtual void ReleaseHeld(void* handle, const uint8_t* mac) = 0;
};

enum class TeardownCause : uint8_t { kFin = 0, kRst = 1, kIdle = 2, kCount = 3 };

// Written by the lcore only; read by the control thread at scrape time.
struct PipelineCounters {
  SingleWriterCounter sessions_initiated;  // SYNs chained by a local policy
  SingleWriterCounter sessions_accepted;   // SYNs with an address list from a neighbour
  SingleWriterCounter sessions_completed;  // pending sessions whose SYN came back down (by tuple or tag)
  SingleWriterCounter completed_by_tag;    // ... of those, matched by the tag after the middlebox rewrote the tuple
  SingleWriterCounter established;         // SYN-ACKs seen
  SingleWriterCounter syn_retransmits;
  SingleWriterCounter teardowns[static_cast<int>(TeardownCause::kCount)];
  SingleWriterCounter tag_no_space;  // a SYN with no room for the tag went up untagged
  SingleWriterCounter stale_tags;    // a tagged SYN named no pending session
  SingleWriterCounter rsts_ignored;  // a RST's sender kept talking: the session carried on
  SingleWriterCounter arp_requests;
  SingleWriterCounter active_sessions;
};

class SessionPipeline {
 public:
  static constexpr uint32_t kMaxBurst = 64;

  bool Init(const PipelineConfig& config, LcoreCounters* counters, PipelineIo* io);

  // Processes a burst; verdicts[i] says where packets[i] goes. now_ms is a monotonic clock.
  void FromHost(PipelinePacket* packets, uint32_t n, uint32_t now_ms, Verdict* verdicts);
  void FromWire(PipelinePacket* packets, uint32_t n, uint32_t now_ms, Verdict* verdicts);

  // Retires idle sessions, visiting at most `budget` slots from where the last call stopped, and
  // gives back packets whose next hop never answered.
  void Expire(uint32_t now_ms, uint32_t budget);

  // Hands every packet still waiting for ARP back to the caller as dropped (shutdown).
  void ReleaseAllHeld();

  // Swaps in a new policy set; returns the old one for the control thread to free.
  std::unique_ptr<PolicySet> ReplacePolicies(std::unique_ptr<PolicySet> policies);

  const PipelineCounters& counters() const { return stats_; }
  const SessionTable& sessions() const { return table_; }
  uint32_t active_sessions() const { return table_.active(); }
  size_t MemoryBytes() const { return table_.MemoryBytes(); }

 private:
  // Per-burst working space, kept in the pipeline so that a burst does not initialise it again. A
  // common frame (IsCommonTcpFrame) needs no stored layout: its offsets are fixed.
  struct BurstScratch {
    uint64_t common;                  // bit i: packet i is a common TCP frame
    uint32_t hashes[kMaxBurst];       // of each common frame's key
    uint32_t homes[kMaxBurst];        // its home bucket
    uint32_t probes[kMaxBurst];       // its FlowTable::FirstCandidate, or once looked up, the answer
    Session* records[kMaxBurst];      // the record a candidate probe names
    PacketLayout layouts[kMaxBurst];  // of every other packet
  };
  void ClassifyBurst(const PipelinePacket* packets, uint32_t n, bool outbound);
  enum class FastResult : uint8_t { kTranslated, kSlowPath, kOtherKey };
  template <bool kOutbound>
  FastResult TranslateIfFast(uint32_t value, Session* record, PipelinePacket& packet, uint32_t now);
  template <bool kOutbound>
  bool MatchesWords(uint32_t value, const TupleWords& key) const;
  template <bool kOutbound>
  bool TranslateFast(uint32_t i, PipelinePacket& packet, uint32_t now);
  PacketLayout LayoutOf(uint32_t i, const PipelinePacket& packet) const;
  bool FindSession(uint32_t i, bool outbound, const FiveTuple& key, uint32_t* value) const;
  Verdict HostSlowPath(uint32_t i, PipelinePacket& packet, uint32_t now);
  Verdict WireSlowPath(uint32_t i, PipelinePacket& packet, uint32_t now);
  static void RefreshFast(Session& session);
  Verdict HostPacket(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, bool hit,
                     uint32_t value, uint32_t now);
  Verdict WirePacket(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, bool hit,
                     uint32_t value, uint32_t now);
  Verdict HostMiss(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, uint32_t now);
  Verdict Initiate(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, const PolicyRule& rule,
                   uint32_t now);
  Verdict Accept(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, uint32_t now);
  Verdict CompletePending(uint32_t index, PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key,
                          bool by_tag, uint32_t now);
  Verdict SendSyn(uint32_t index, PipelinePacket& packet, const PacketLayout& layout, uint32_t now);
  uint32_t NextHopFor(uint32_t agent) const;
  void ResolveSessionMac(Session& session, int side, uint32_t now);
  Verdict ForwardToNextHop(Session& session, int side, uint32_t next_agent, PipelinePacket& packet, uint32_t now);
  void Translate(const Session& session, TranslationKind kind, PipelinePacket& packet, const PacketLayout& layout) const;
  void SetNextHopMac(const Session& session, TranslationKind kind, PipelinePacket& packet) const;
  void Track(uint32_t index, TranslationKind kind, const PipelinePacket& packet, const PacketLayout& layout, uint32_t now);
  bool SetUpSide(uint32_t index, TranslationKind out_kind, const FiveTuple& session_tuple, const FiveTuple& subsession);
  void SendArpRequest(uint32_t target_be);
  void LearnFromArp(const PipelinePacket& packet, bool from_host, uint32_t now);
  void EndSession(uint32_t index, TeardownCause cause);
  void Retire(uint32_t index);
  Verdict DropWith(DropReason reason);

  PipelineConfig config_;
  LcoreCounters* counters_ = nullptr;
  PipelineIo* io_ = nullptr;
  SessionTable table_;
  NeighbourTable neighbours_;
  std::unique_ptr<PolicySet> policies_;
  PipelineCounters stats_;
  uint8_t host_mac_[6] = {};
  bool host_mac_known_ = false;
  uint32_t expiry_cursor_ = 0;
  uint32_t last_neighbour_expiry_ms_ = 0;
  BurstScratch scratch_;
};

}  // namespace dysco
