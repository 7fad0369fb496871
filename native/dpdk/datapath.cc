#include "dpdk/datapath.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring_elem.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "core/packet_view.h"
#include "dpdk/eal.h"

namespace dysco::dpdk {
namespace {

constexpr uint16_t kRxBurst = 32;
// Requests are served at least this often while busy (on every empty poll when idle): by time, not by
// iterations, because an iteration can take milliseconds when the lcore shares its core.
constexpr uint64_t kRequestPollIntervalUs = 20;
// Session slots the expiry scan visits per TX drain period (100 µs): 640K slots a second.
constexpr uint32_t kExpiryBudget = 64;
// How often the lcore copies the PMDs' own drop counters (ring overflow, no mbuf).
constexpr uint64_t kPortStatsIntervalUs = 100000;
// Indirect mbufs for IPv4 fragments: two per fragment of a few 64 KiB datagrams in flight.
constexpr uint32_t kIndirectMbufs = 2047;
constexpr const char* kAfPacketDriver = "net_af_packet";

std::atomic<uint32_t> g_instance{0};

std::string UniqueName(const char* base) {
  char name[RTE_MEMZONE_NAMESIZE];
  std::snprintf(name, sizeof(name), "dysco_%s_%u", base, g_instance.load());
  return name;
}

}  // namespace

Status Datapath::Open(const DatapathConfig& config, WakeFn wake, void* wake_context, std::string* detail) {
  if (CurrentEalState() != EalState::kRunning) return Status::EAL_NOT_INITIALISED;
  if (opened_) return Status::ALREADY_RUNNING;
  config_ = config;
  wake_ = wake;
  wake_context_ = wake_context;
  g_instance.fetch_add(1);

  pool_ = rte_pktmbuf_pool_create(UniqueName("mbufs").c_str(), config.mbufs, config.mbuf_cache, 0,
                                  RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    *detail = rte_strerror(rte_errno);
    Close();
    return Status::MEMPOOL_FAILED;
  }
  requests_ = rte_ring_create(UniqueName("requests").c_str(), config.ring_size, SOCKET_ID_ANY,
                              RING_F_SP_ENQ | RING_F_SC_DEQ);
  events_ = rte_ring_create_elem(UniqueName("events").c_str(), sizeof(Event), config.ring_size, SOCKET_ID_ANY,
                                 RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (requests_ == nullptr || events_ == nullptr) {
    *detail = rte_strerror(rte_errno);
    Close();
    return Status::RING_FAILED;
  }
  if (!wakeup_.Open(detail)) {
    Close();
    return Status::RING_FAILED;
  }
  opened_ = true;

  Status status = OpenPort(config.host, pool_, &host_, detail);
  if (status == Status::OK) status = OpenPort(config.wire, pool_, &wire_, detail);
  if (status != Status::OK) {
    Close();
    return status;
  }
  if (config.dysco && !pipeline_.Init(config.pipeline, &counters_, this)) {
    *detail = "session tables could not be allocated";
    Close();
    return Status::PIPELINE_INIT_FAILED;
  }
  if (!fragmenter_.Open(pool_, kIndirectMbufs, UniqueName("indirect"))) {
    *detail = rte_strerror(rte_errno);
    Close();
    return Status::MEMPOOL_FAILED;
  }
  const Port* ports[kPortCount] = {&host_, &wire_};
  for (uint32_t i = 0; i < kPortCount; ++i) {
    if (ports[i]->driver != kAfPacketDriver) continue;
    if (!full_copy_[i].Attach(ports[i]->if_index, detail)) {
      *detail = ports[i]->name + ": " + *detail;
      Close();
      return Status::PORT_SETUP_FAILED;
    }
    wakeup_.WatchSocket(full_copy_[i].fd());
  }
  to_host_.Bind(host_.id, host_.mtu, !host_.multi_seg_tx, &fragmenter_, &counters_.ports[kHostPort], &counters_);
  to_wire_.Bind(wire_.id, wire_.mtu, !wire_.multi_seg_tx, &fragmenter_, &counters_.ports[kWirePort], &counters_);
  backoff_.Configure(config.poll_mode, config.idle_sleep_max_us);
  tsc_hz_ = rte_get_tsc_hz();
  tsc_per_ms_ = tsc_hz_ / 1000 == 0 ? 1 : tsc_hz_ / 1000;
  // Once per datapath: sessions remember times on this clock, so a Stop/Start must not restart it.
  epoch_ = rte_rdtsc();
  return Status::OK;
}

Status Datapath::Start(std::string* detail) {
  if (!opened_) return Status::NOT_RUNNING;
  if (running_) return Status::ALREADY_RUNNING;
  const unsigned lcore = rte_get_next_lcore(-1, 1, 0);
  if (lcore >= RTE_MAX_LCORE) return Status::NO_WORKER_LCORE;
  quit_.store(false);
  const int rc = rte_eal_remote_launch(&Datapath::LoopEntry, this, lcore);
  if (rc != 0) {
    *detail = rte_strerror(-rc);
    return Status::LAUNCH_FAILED;
  }
  lcore_ = lcore;
  running_ = true;
  return Status::OK;
}

void Datapath::Stop() {
  if (!running_) return;
  quit_.store(true, std::memory_order_release);
  wakeup_.Ring();
  rte_eal_wait_lcore(lcore_);
  running_ = false;
}

void Datapath::Close() {
  Stop();
  if (config_.dysco && opened_) pipeline_.ReleaseAllHeld();
  for (auto& copy : full_copy_) copy.Detach();
  wakeup_.Close();
  ClosePort(&host_);
  ClosePort(&wire_);
  fragmenter_.Close();
  if (requests_ != nullptr) {
    // Requests still queued were never served; their owner frees them after Close.
    rte_ring_free(requests_);
    requests_ = nullptr;
  }
  if (events_ != nullptr) {
    rte_ring_free(events_);
    events_ = nullptr;
  }
  if (pool_ != nullptr) {
    rte_mempool_free(pool_);
    pool_ = nullptr;
  }
  opened_ = false;
}

Status Datapath::Submit(Request* request) {
  if (!running_) return Status::NOT_RUNNING;
  if (rte_ring_sp_enqueue(requests_, request) != 0) return Status::REQUEST_RING_FULL;
  wakeup_.Ring();
  return Status::OK;
}

unsigned Datapath::DrainEvents(Event* out, unsigned max) {
  if (events_ == nullptr) return 0;
  // Clear the flag before dequeuing: an event posted after this point wakes us again.
  wake_pending_.store(false, std::memory_order_release);
  return rte_ring_sc_dequeue_burst_elem(events_, out, sizeof(Event), max, nullptr);
}

MempoolStats Datapath::mempool_stats() const {
  if (pool_ == nullptr) return {0, 0};
  return {pool_->size, rte_mempool_avail_count(pool_)};
}

int Datapath::LoopEntry(void* self) { return static_cast<Datapath*>(self)->Loop(); }

int Datapath::Loop() {
  const uint64_t tsc_per_us = (tsc_hz_ + 999999) / 1000000;
  const uint64_t drain_tsc = tsc_per_us * config_.tx_drain_us;
  const uint64_t stats_tsc = tsc_per_us * kPortStatsIntervalUs;
  uint64_t last_drain = rte_rdtsc();
  uint64_t last_stats = last_drain;
  const uint64_t request_poll_tsc = tsc_per_us * kRequestPollIntervalUs;
  uint64_t iteration_start = last_drain;
  uint64_t last_request_poll = last_drain;

  while (!quit_.load(std::memory_order_acquire)) {
    // One clock for the pipeline per iteration: packets, requests and expiry all see the same millisecond,
    // so that no age it computes (now - since) can run backwards and wrap.
    const uint32_t now_ms = NowMs(rte_rdtsc());
    uint32_t work;
    if (config_.dysco) {
      work = DyscoBurst(host_.id, kHostPort, now_ms);
      work += DyscoBurst(wire_.id, kWirePort, now_ms);
    } else {
      work = ForwardBurst(host_.id, kHostPort, to_wire_);
      work += ForwardBurst(wire_.id, kWirePort, to_host_);
    }

    const uint64_t now = rte_rdtsc();
    // Served before the flush below, so that what a request sends (a control datagram, a new path's SYN)
    // leaves in this iteration.
    if (work == 0 || now - last_request_poll >= request_poll_tsc) {
      work += ServeRequests(now_ms);
      last_request_poll = now;
    }
    // A short burst means the ports are not saturated: send now rather than hold packets (a SYN, an
    // ACK) for the drain timer. Under load bursts are full and go out as they fill.
    const bool light = work != 0 && work < kRxBurst;
    if (light || now - last_drain >= drain_tsc) {
      to_wire_.Flush();
      to_host_.Flush();
    }
    if (now - last_drain >= drain_tsc) {
      last_drain = now;
      if (config_.dysco) pipeline_.Expire(now_ms, kExpiryBudget);
      if (now - last_stats >= stats_tsc) {
        ReadPortDrops();
        last_stats = now;
      }
    }

    const uint32_t sleep_us = backoff_.AfterPoll(work);
    if (sleep_us != 0) {
      to_wire_.Flush();
      to_host_.Flush();
      counters_.idle_sleeps.Add(1);
      wakeup_.Sleep(sleep_us, [this] { return !rte_ring_empty(requests_); });
    }
    const uint64_t end = rte_rdtsc();
    (work != 0 ? counters_.busy_cycles : counters_.idle_cycles).Add(end - iteration_start);
    counters_.loop_iterations.Add(1);
    iteration_start = end;
  }
  to_wire_.Flush();
  to_host_.Flush();
  ReadPortDrops();
  ServeRequests(NowMs(rte_rdtsc()));
  return 0;
}

void Datapath::ReadPortDrops() {
  uint64_t missed = 0;
  uint64_t no_mbuf = 0;
  for (uint16_t port : {host_.id, wire_.id}) {
    rte_eth_stats stats;
    if (rte_eth_stats_get(port, &stats) != 0) continue;
    missed += stats.imissed;
    no_mbuf += stats.rx_nombuf;
  }
  // The PMD keeps the running totals; the lcore mirrors them so the control plane never calls the PMD.
  counters_.drops[static_cast<size_t>(DropReason::RX_MISSED)].Set(missed);
  counters_.drops[static_cast<size_t>(DropReason::RX_NO_MBUF)].Set(no_mbuf);
}

uint32_t Datapath::ForwardBurst(uint16_t rx_port, PortIndex rx_index, TxBuffer& tx) {
  rte_mbuf* burst[kRxBurst];
  const uint16_t n = rte_eth_rx_burst(rx_port, 0, burst, kRxBurst);
  if (n == 0) return 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    bytes += rte_pktmbuf_pkt_len(burst[i]);
    CountNotDysco(burst[i], rx_index);
    if (rte_mbuf* m = RestoreCutShort(burst[i], rx_index)) tx.Push(m);
  }
  PortCounters& rx = counters_.ports[rx_index];
  rx.rx_packets.Add(n);
  rx.rx_bytes.Add(bytes);
  return n;
}

// Every frame is a whole TCP segment to the pipeline or it is not Dysco's: the same parse decides.
void Datapath::CountNotDysco(const rte_mbuf* m, PortIndex rx_index) {
  if (!ParsePacket(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m)).is_tcp()) {
    counters_.ports[rx_index].passed_not_dysco.Add(1);
  }
}

// An af_packet frame that its RX ring cut short is replaced by the kernel's whole copy, in a chain of
// mbufs; without a copy it stays as it is and the transmit side drops it, counted.
rte_mbuf* Datapath::RestoreCutShort(rte_mbuf* m, PortIndex rx_index) {
  AfPacketFullCopy& copy = full_copy_[rx_index];
  const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
  if (!copy.attached() || m->nb_segs != 1 || !IsCutShortIpv4(data, m->data_len)) return m;
  uint32_t length = 0;
  const uint8_t* whole = copy.Take(data, m->data_len, &length);
  if (whole == nullptr) return m;
  rte_mbuf* head = nullptr;
  for (uint32_t offset = 0; offset < length;) {
    rte_mbuf* segment = rte_pktmbuf_alloc(pool_);
    const uint16_t room = segment == nullptr ? 0 : static_cast<uint16_t>(rte_pktmbuf_tailroom(segment));
    const uint32_t take = length - offset < room ? length - offset : room;
    if (segment == nullptr || (head != nullptr && rte_pktmbuf_chain(head, segment) != 0)) {
      if (segment != nullptr) rte_pktmbuf_free(segment);
      if (head != nullptr) rte_pktmbuf_free(head);
      counters_.Drop(DropReason::RX_NO_MBUF);
      rte_pktmbuf_free(m);
      return nullptr;
    }
    if (head == nullptr) head = segment;
    std::memcpy(rte_pktmbuf_append(segment, static_cast<uint16_t>(take)), whole + offset, take);
    head->pkt_len += head == segment ? 0 : take;
    offset += take;
  }
  head->port = m->port;
  rte_pktmbuf_free(m);
  return head;
}

uint32_t Datapath::DyscoBurst(uint16_t rx_port, PortIndex rx_index, uint32_t now_ms) {
  rte_mbuf* burst[kRxBurst];
  const uint16_t n = rte_eth_rx_burst(rx_port, 0, burst, kRxBurst);
  if (n == 0) return 0;
  TxBuffer& onward = rx_index == kHostPort ? to_wire_ : to_host_;
  const Verdict pass = rx_index == kHostPort ? Verdict::kToWire : Verdict::kToHost;
  rte_mbuf* handed[kRxBurst];
  PipelinePacket packets[kRxBurst];
  Verdict verdicts[kRxBurst];
  uint16_t count = 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    bytes += rte_pktmbuf_pkt_len(burst[i]);
    rte_mbuf* m = RestoreCutShort(burst[i], rx_index);
    if (m == nullptr) continue;
    // Frames from af_packet, af_xdp and tap are single-segment; a chained mbuf is linearised first.
    // One too long for a single mbuf (a reassembled datagram) is no TCP segment of ours: it passes.
    if (m->nb_segs != 1 && rte_pktmbuf_linearize(m) != 0) {
      counters_.ports[rx_index].passed_not_dysco.Add(1);
      onward.Push(m);
      continue;
    }
    handed[count] = m;
    packets[count++] = PipelinePacket{rte_pktmbuf_mtod(m, uint8_t*), m->data_len,
                                      static_cast<uint32_t>(m->data_len + rte_pktmbuf_tailroom(m)), m};
  }
  PortCounters& rx = counters_.ports[rx_index];
  rx.rx_packets.Add(n);
  rx.rx_bytes.Add(bytes);
  if (count == 0) return n;
  if (rx_index == kHostPort) {
    pipeline_.FromHost(packets, count, now_ms, verdicts);
  } else {
    pipeline_.FromWire(packets, count, now_ms, verdicts);
  }
  for (uint16_t i = 0; i < count; ++i) {
    rte_mbuf* m = handed[i];
    m->data_len = static_cast<uint16_t>(packets[i].length);
    m->pkt_len = packets[i].length;
    if (verdicts[i] == pass) CountNotDysco(m, rx_index);
    switch (verdicts[i]) {
      case Verdict::kToWire: to_wire_.Push(m); break;
      case Verdict::kToHost: to_host_.Push(m); break;
      case Verdict::kHeld: break;
      case Verdict::kDrop:
      case Verdict::kConsumed: rte_pktmbuf_free(m); break;
    }
  }
  return n;
}

rte_mbuf* Datapath::CopyToMbuf(const uint8_t* frame, uint32_t length) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return nullptr;
  uint8_t* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(length)));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(data, frame, length);
  return m;
}

bool Datapath::SendFrame(const uint8_t* frame, uint32_t length) {
  rte_mbuf* m = CopyToMbuf(frame, length);
  if (m == nullptr) return false;
  to_wire_.Push(m);
  return true;
}

bool Datapath::SendToHost(const uint8_t* frame, uint32_t length) {
  rte_mbuf* m = CopyToMbuf(frame, length);
  if (m == nullptr) return false;
  to_host_.Push(m);
  return true;
}

void* Datapath::CopyForHold(const uint8_t* frame, uint32_t length) { return CopyToMbuf(frame, length); }

void Datapath::ReleaseHeld(void* handle, const uint8_t* mac) {
  auto* m = static_cast<rte_mbuf*>(handle);
  if (mac == nullptr) {
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), mac, 6);
  to_wire_.Push(m);
}

uint32_t Datapath::ServeRequests(uint32_t now_ms) {
  void* slots[16];
  const unsigned n = rte_ring_sc_dequeue_burst(requests_, slots, 16, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    auto* request = static_cast<Request*>(slots[i]);
    if (!ServedByPipeline(request->type)) {
      ServeLoopRequest(request);
    } else if (config_.dysco) {
      pipeline_.Serve(*request, now_ms);  // completes it through PostEvent
    } else {
      request->status = Status::NOT_RUNNING;  // pass-through: no pipeline to ask
      Complete(request);
    }
  }
  return n;
}

// Only what is about the loop itself; everything about sessions is the pipeline's (Serve).
void Datapath::ServeLoopRequest(Request* request) {
  request->status = Status::OK;
  switch (request->type) {
    case RequestType::kPing:
      request->results[0] = counters_.loop_iterations.Read();
      request->results[1] = rte_rdtsc();
      break;
    case RequestType::kSetPollMode:
      backoff_.Configure(static_cast<PollMode>(request->args[0]), static_cast<uint32_t>(request->args[1]));
      break;
    default:
      request->status = Status::UNKNOWN_REQUEST;
      break;
  }
  Complete(request);
}

void Datapath::Complete(Request* request) {
  counters_.requests_served.Add(1);
  if (EnqueueEvent(Event::Completion(request))) {
    counters_.events_posted.Add(1);
  } else {
    counters_.events_dropped.Add(1);
  }
}

// PipelineIo: the pipeline counts what it posts (events_posted / events_dropped).
bool Datapath::PostEvent(const Event& event) { return EnqueueEvent(event); }

bool Datapath::EnqueueEvent(const Event& event) {
  // Requests in flight always find room for their completion. Control datagrams come in bursts (a bulk migration)
  // and are retransmitted when dropped; the session events behind them (a switch to two paths, a drained old
  // path) are not, and the control plane cannot follow a session without them: datagrams leave them an eighth.
  const uint32_t reserved = max_pending_requests() + (event.type == EventType::kControlPacket ? config_.ring_size / 8 : 0);
  if (event.type != EventType::kRequestDone && rte_ring_free_count(events_) <= reserved) return false;
  Event copy = event;
  if (rte_ring_sp_enqueue_elem(events_, &copy, sizeof(Event)) != 0) return false;
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel) && wake_ != nullptr) wake_(wake_context_);
  return true;
}

}  // namespace dysco::dpdk
