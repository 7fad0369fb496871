#pragma once
// The datapath of one agent: a mempool, the host and wire ports, the request/event rings, and the
// poll-mode loop on one worker lcore. The lcore is the only writer of the counters; the control
// plane talks to it only through the rings.
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "core/control_messages.h"
#include "core/counters.h"
#include "core/error_codes.h"
#include "core/idle_backoff.h"
#include "core/session_pipeline.h"
#include "dpdk/af_packet_full_copy.h"
#include "dpdk/ipv4_fragmenter.h"
#include "dpdk/lcore_wakeup.h"
#include "dpdk/port.h"
#include "dpdk/tx_buffer.h"

namespace dysco::dpdk {

struct DatapathConfig {
  PortConfig host;
  PortConfig wire;
  uint32_t mbufs = 8191;
  uint32_t mbuf_cache = 256;
  PollMode poll_mode = PollMode::kAdaptive;
  uint32_t idle_sleep_max_us = 200;
  uint32_t tx_drain_us = 100;
  uint32_t ring_size = 4096;
  // Without a pipeline the datapath bridges every frame unchanged (pass-through).
  bool dysco = false;
  PipelineConfig pipeline;
};

// Called from the lcore when events are waiting and no wake-up is outstanding. Must not block.
using WakeFn = void (*)(void* context);

struct MempoolStats {
  uint32_t size;
  uint32_t available;
};

class Datapath : private PipelineIo {
 public:
  Datapath() = default;
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;
  ~Datapath() { Close(); }

  Status Open(const DatapathConfig& config, WakeFn wake, void* wake_context, std::string* detail);
  Status Start(std::string* detail);
  // Asks the loop to quit, joins the lcore, flushes what is buffered. Idempotent.
  void Stop();
  // Stops, closes both ports, frees rings and the mempool. Idempotent.
  void Close();

  // Only while the lcore is not running (between Open and Start).
  void InstallPoliciesBeforeStart(std::unique_ptr<PolicySet> policies) {
    if (!running_ && config_.dysco) pipeline_.ReplacePolicies(std::move(policies));
  }
  void InstallListAuthBeforeStart(std::unique_ptr<ListAuthPolicy> policy) {
    if (!running_ && config_.dysco) pipeline_.ReplaceListAuth(std::move(policy));
  }

  // Control plane side (one thread). A request is owned by the lcore until it comes back in an event.
  Status Submit(Request* request);
  // Re-arms the wake-up, then dequeues up to `max` events. Call until it returns 0.
  unsigned DrainEvents(Event* out, unsigned max);
  // Requests the control plane may have in flight: half the event ring stays free for their
  // completions, so pipeline events (control packets, session events) never crowd one out.
  uint32_t max_pending_requests() const { return config_.ring_size / 2; }
  // Where ControlPacket events point; the control thread releases each slot it read.
  const ControlPacketPool* control_packets() const { return config_.dysco ? &pipeline_.control_packets() : nullptr; }

  const LcoreCounters& counters() const { return counters_; }
  const SessionPipeline* pipeline() const { return config_.dysco ? &pipeline_ : nullptr; }
  MempoolStats mempool_stats() const;
  const Port& host_port() const { return host_; }
  const Port& wire_port() const { return wire_; }
  uint64_t tsc_hz() const { return tsc_hz_; }
  bool running() const { return running_; }
  unsigned lcore() const { return lcore_; }

 private:
  static int LoopEntry(void* self);
  int Loop();
  uint32_t ForwardBurst(uint16_t rx_port, PortIndex rx_index, TxBuffer& tx);
  uint32_t DyscoBurst(uint16_t rx_port, PortIndex rx_index, uint32_t now_ms);
  rte_mbuf* RestoreCutShort(rte_mbuf* m, PortIndex rx_index);
  void CountNotDysco(const rte_mbuf* m, PortIndex rx_index);
  bool SendFrame(const uint8_t* frame, uint32_t length) override;
  bool SendToHost(const uint8_t* frame, uint32_t length) override;
  void ReleaseHeld(void* handle, const uint8_t* mac) override;
  bool PostEvent(const Event& event) override;
  void* CopyForHold(const uint8_t* frame, uint32_t length) override;
  rte_mbuf* CopyToMbuf(const uint8_t* frame, uint32_t length);
  uint32_t ServeRequests(uint32_t now_ms);
  void ServeLoopRequest(Request* request);
  void ReadPortDrops();
  void Complete(Request* request);
  bool EnqueueEvent(const Event& event);
  // The one millisecond clock of this datapath: sessions remember times on it.
  uint32_t NowMs(uint64_t tsc) const { return static_cast<uint32_t>((tsc - epoch_) / tsc_per_ms_); }

  DatapathConfig config_;
  rte_mempool* pool_ = nullptr;
  rte_ring* requests_ = nullptr;
  rte_ring* events_ = nullptr;
  Port host_;
  Port wire_;
  TxBuffer to_host_;
  TxBuffer to_wire_;
  Ipv4Fragmenter fragmenter_;
  AfPacketFullCopy full_copy_[kPortCount];
  IdleBackoff backoff_;
  SessionPipeline pipeline_;
  LcoreCounters counters_;
  uint64_t tsc_hz_ = 0;
  uint64_t epoch_ = 0;  // TSC at Open: the pipeline's millisecond clock counts from here
  uint64_t tsc_per_ms_ = 1;
  unsigned lcore_ = 0;
  bool opened_ = false;
  bool running_ = false;
  std::atomic<bool> quit_{false};
  std::atomic<bool> wake_pending_{false};
  LcoreWakeup wakeup_;
  WakeFn wake_ = nullptr;
  void* wake_context_ = nullptr;
};

}  // namespace dysco::dpdk
