#pragma once
// The per-packet work of a Dysco agent on bursts of frames, with no DPDK and no N-API: the DPDK
// loop hands it mbuf data, the test addon hands it Buffers. See docs/session-setup.md.
//
//  from the host stack: translate a known session; a SYN the policies chain starts a session (or
//                       completes a pending one at a middlebox); anything else passes untouched.
//  from the wire:       translate a known subsession; a SYN carrying an address list for this host
//                       starts a session; anything else passes untouched.
//
// The members live in the file of their concern (docs/architecture.md, "The datapath by concern"):
// session_pipeline.cc classification, fast path and dispatch; pipeline_setup.cc set-up;
// pipeline_next_hops.cc next hops and ARP; pipeline_tracking.cc TCP tracking and expiry;
// pipeline_translation.cc translation; pipeline_requests.cc requests, events and control packets.
#include <cstdint>
#include <ctime>
#include <memory>

#include "core/control_messages.h"
#include "core/control_packet_pool.h"
#include "core/counters.h"
#include "core/neighbour_table.h"
#include "core/packet_view.h"
#include "core/address_list.h"
#include "core/list_auth.h"
#include "core/policy_rules.h"
#include "core/reconfig_requests.h"
#include "core/session_table.h"

namespace dysco {

struct PipelineConfig {
  uint32_t host_ip = 0;       // network byte order: the address subsessions use
  uint32_t prefix_mask = 0;   // network byte order: on-link next hops
  uint32_t gateway_ip = 0;    // network byte order; 0 = every next hop is on-link
  uint32_t max_sessions = 65536;
  uint32_t max_setups = 16384;
  uint32_t max_second_paths = 4096;  // sessions with reconfiguration state (two paths, or a folded new path)
  uint16_t port_lo = 61000;   // subsession ports: keep out of the hosts' ephemeral range
  uint16_t port_hi = 65535;
  uint16_t mtu = 1500;
  // Idle timeouts by state, milliseconds.
  uint32_t setup_timeout_ms = 10000;
  uint32_t established_timeout_ms = 300000;
  uint32_t closing_timeout_ms = 30000;
  uint32_t linger_ms = 2000;
  // UDP datagrams from the wire to host_ip:control_port go to the control plane as ControlPacket
  // events instead of the host stack (the channel between agents). 0: no control port.
  uint16_t control_port = 0;
  // Tags of signed lists remembered against replays (ListReplayCache); 0: no cache.
  uint32_t replay_cache_slots = 16384;
  // Post SessionEstablished/SessionEnded events (off: one branch per set-up and teardown, no event).
  bool session_events = false;
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
  kConsumed,  // taken by the pipeline (a control packet, copied into an event); the caller frees it
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
  // Queues an event for the control plane; false when there is no room (the pipeline counts it in
  // events_dropped). A RequestDone always finds room: the io keeps one place per request in flight.
  // An environment without a control plane (a benchmark) refuses every event.
  virtual bool PostEvent(const Event& /*event*/) { return false; }
  // A copy of a frame the pipeline built, in a buffer that can wait for ARP and then go through
  // ReleaseHeld; nullptr when no buffer is free (or the environment cannot hold frames).
  virtual void* CopyForHold(const uint8_t* /*frame*/, uint32_t /*length*/) { return nullptr; }
  // Sends a frame the pipeline built on the host port (a probe that makes the host's stack answer);
  // false if it could not, or the environment has no host port.
  virtual bool SendToHost(const uint8_t* /*frame*/, uint32_t /*length*/) { return false; }
  // The wall clock in Unix seconds, for the times of signed address lists (shared between hosts, unlike now_ms).
  virtual uint32_t UnixSeconds() { return static_cast<uint32_t>(std::time(nullptr)); }
};

enum class TeardownCause : uint8_t {
#define DYSCO_TEARDOWN_CAUSE(name, label, meaning) k##name,
#include "core/teardown_causes.def"
#undef DYSCO_TEARDOWN_CAUSE
  kCount
};

// Written by the lcore only; read by the control thread at scrape time.
struct PipelineCounters {
#define DYSCO_PIPELINE_COUNTER(field, key, metric, kind, meaning) SingleWriterCounter field;
#include "core/pipeline_counters.def"
#undef DYSCO_PIPELINE_COUNTER
  SingleWriterCounter teardowns[static_cast<int>(TeardownCause::kCount)];
  SingleWriterCounter active_sessions;  // a gauge: mirrored from the table on every expiry pass
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
  // Swaps in what address lists are checked against (nullptr: no authentication); returns the old one.
  std::unique_ptr<ListAuthPolicy> ReplaceListAuth(std::unique_ptr<ListAuthPolicy> policy);

  // Answers a request the control plane sent (ServedByPipeline(type)) and posts its completion
  // through PipelineIo::PostEvent. pipeline_requests.cc.
  void Serve(Request& request, uint32_t now_ms);
  // Slots of the datagrams posted as ControlPacket events; the control thread releases each it read.
  const ControlPacketPool& control_packets() const { return control_packets_; }

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
  // Classification, the fast path and dispatch (session_pipeline.cc).
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
  Verdict HostPacket(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, bool hit,
                     uint32_t value, uint32_t now);
  Verdict WirePacket(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, bool hit,
                     uint32_t value, uint32_t now);
  Verdict DropWith(DropReason reason);
  // `port_be` in network order
  bool InSubsessionPorts(uint16_t port_be) const {
    const uint16_t port = __builtin_bswap16(port_be);
    return port >= config_.port_lo && port <= config_.port_hi;
  }
  // Set-up (pipeline_setup.cc).
  Verdict HostMiss(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, uint32_t now);
  Verdict Initiate(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, const PolicyRule& rule,
                   uint32_t now);
  Verdict Accept(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, uint32_t now);
  bool MakeWayForNewPath(const FiveTuple& session_tuple);
  Verdict CompletePending(uint32_t index, PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key,
                          bool by_tag, uint32_t now);
  Verdict SendSyn(uint32_t index, PipelinePacket& packet, const PacketLayout& layout, uint32_t now);
  bool SetUpSide(uint32_t index, TranslationKind out_kind, const FiveTuple& session_tuple, const FiveTuple& subsession);
  void MakeRoomForSetup();
  bool ListAdmitted(const PipelinePacket& packet, const PacketLayout& layout, const AddressList& list, uint64_t* tag,
                    DropReason* refused);
  void RememberList(const AddressList& list, uint64_t tag);
  const ListKeyRing* Signer() const { return list_auth_ ? &list_auth_->ring : nullptr; }
  // Next hops (pipeline_next_hops.cc).
  uint32_t NextHopFor(uint32_t agent) const;
  // A next hop's MAC now (kReady, *mac set), later (kWait: hold the packet), or not (kUnreachable). Sends the
  // ARP request the neighbour table asks for.
  enum class NextHopState : uint8_t { kReady, kWait, kUnreachable };
  NextHopState ResolveNextHop(uint32_t next_hop, uint32_t now, MacAddress* mac);
  void ResolveSessionMac(Session& session, int side, uint32_t now);
  Verdict ForwardToNextHop(Session& session, int side, uint32_t next_agent, PipelinePacket& packet, uint32_t now);
  void SendArpRequest(uint32_t target_be);
  Status SendOwnFrame(uint8_t* frame, uint32_t size, uint32_t dst_ip, uint32_t now, bool* sent_now);
  void LearnFromArp(const PipelinePacket& packet, bool from_host, uint32_t now);
  // TCP tracking and expiry (pipeline_tracking.cc).
  static void RefreshFast(Session& session);
  void Track(uint32_t index, TranslationKind kind, const PipelinePacket& packet, const PacketLayout& layout, uint32_t now);
  void EndSession(uint32_t index, TeardownCause cause);
  void Retire(uint32_t index);
  // Translation on the slow path (pipeline_translation.cc; the fast path's is inline in session_pipeline.cc).
  void Translate(const Session& session, TranslationKind kind, PipelinePacket& packet, const PacketLayout& layout) const;
  void SetNextHopMac(const Session& session, TranslationKind kind, PipelinePacket& packet) const;
  // The control channel (pipeline_requests.cc).
  bool IsControlPacket(const PipelinePacket& packet, const PacketLayout& layout) const {
    return config_.control_port != 0 && layout.is_udp() &&
           LoadBe16(packet.data + layout.l4_offset + 2) == config_.control_port &&
           LoadBe32(packet.data + layout.l3_offset + 16) == __builtin_bswap32(config_.host_ip);
  }
  Verdict TakeControlPacket(const PipelinePacket& packet, const PacketLayout& layout);
  void PostSessionEvent(EventType type, uint32_t index, TeardownCause cause = TeardownCause::kCount) {
    if (__builtin_expect(config_.session_events, 0)) PostSessionEventNow(type, index, cause);
  }
  void PostSessionEventNow(EventType type, uint32_t index, TeardownCause cause);
  bool Post(const Event& event);
  void Complete(Request& request);
  Status ServeInstallPolicies(Request& request);
  Status ServeInstallListAuth(Request& request);
  Status ServeDumpSessions(Request& request, uint32_t now_ms);
  Status ServeFindSession(Request& request, uint32_t now_ms);
  Status ServeTransmit(Request& request, uint32_t now_ms);
  // Reconfiguration: a session's second path (pipeline_two_paths.cc).
  Status ServeOpenNewPath(Request& request, uint32_t now);
  Status ServeExpectNewPath(Request& request, uint32_t now);
  Status ServeAbandonNewPath(Request& request, uint32_t now);
  Status ServeRetireSession(Request& request);
  SecondPath* PrepareSecondPath(const NewPathSpec& spec, uint32_t* index, Status* status);
  Verdict AnswerNewPath(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key,
                        const AddressList& list, uint32_t now);
  Verdict HostReconfigured(uint32_t index, TranslationKind kind, PipelinePacket& packet, const PacketLayout& layout,
                           uint32_t now);
  Verdict WireReconfigured(uint32_t index, TranslationKind kind, PipelinePacket& packet, const PacketLayout& layout,
                           uint32_t now);
  Verdict HostTwoPaths(uint32_t index, TranslationKind kind, PipelinePacket& packet, const PacketLayout& layout,
                       uint32_t now);
  Verdict NewPathArrival(uint32_t index, TranslationKind kind, PipelinePacket& packet, const PacketLayout& layout,
                         uint32_t now);
  void SwitchToTwoPaths(uint32_t index, uint32_t now);
  void CheckDrained(uint32_t index, uint32_t now);
  void FoldNewPath(uint32_t index, uint32_t now);
  void AbandonSecondPath(uint32_t index);
  bool SendNewPathSyn(uint32_t index, uint32_t now);
  bool SendNewPathSynAck(uint32_t index, uint32_t now);
  void ResetHalfMadePath(uint32_t index, uint32_t now);
  bool SendAnnouncement(uint32_t index, uint32_t now);
  void ProbeHost(uint32_t index, uint32_t now);
  bool SendOnSecondPath(uint32_t index, uint8_t* frame, uint32_t size, uint32_t now);
  void ExpireSecondPaths(uint32_t now);
  uint32_t NextIsn();

  PipelineConfig config_;
  LcoreCounters* counters_ = nullptr;
  PipelineIo* io_ = nullptr;
  SessionTable table_;
  NeighbourTable neighbours_;
  std::unique_ptr<PolicySet> policies_;
  std::unique_ptr<ListAuthPolicy> list_auth_;
  ListReplayCache replay_cache_;
  PipelineCounters stats_;
  uint8_t host_mac_[6] = {};
  bool host_mac_known_ = false;
  uint32_t expiry_cursor_ = 0;
  uint32_t last_neighbour_expiry_ms_ = 0;
  BurstScratch scratch_;
  ControlPacketPool control_packets_;
  uint16_t ip_id_ = 0;
  uint64_t isn_state_ = 0;
};

}  // namespace dysco
