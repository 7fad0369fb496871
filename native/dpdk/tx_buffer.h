#pragma once
// Buffered transmit for one port queue: packets collect until a burst is full or the drain timer
// fires. A full TX queue is retried a few times, then the unsent tail is freed and counted. A frame
// longer than the port's MTU leaves as IPv4 fragments or is counted under a drop reason: the kernel
// behind af_packet refuses such a frame after tx_burst has already accepted it.
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "core/counters.h"
#include "dpdk/ipv4_fragmenter.h"

namespace dysco::dpdk {

class TxBuffer {
 public:
  static constexpr uint16_t kBurst = 32;
  static constexpr int kFullQueueRetries = 4;

  // `linear`: the PMD cannot send multi-segment mbufs, so fragments are made single-segment.
  void Bind(uint16_t port_id, uint16_t mtu, bool linear, Ipv4Fragmenter* fragmenter, PortCounters* port_counters,
            LcoreCounters* lcore_counters) {
    port_id_ = port_id;
    mtu_ = mtu;
    linear_ = linear;
    fragmenter_ = fragmenter;
    port_counters_ = port_counters;
    lcore_counters_ = lcore_counters;
  }

  void Push(rte_mbuf* m) {
    if (__builtin_expect(rte_pktmbuf_pkt_len(m) > mtu_ + kEthernetHeader, 0) &&
        rte_pktmbuf_pkt_len(m) > MaxFrameLength(m, mtu_)) {
      PushFragments(m);
      return;
    }
    pending_[count_++] = m;
    if (count_ == kBurst) Flush();
  }

  uint16_t Flush() {
    if (count_ == 0) return 0;
    uint16_t sent = 0;
    for (int attempt = 0; attempt <= kFullQueueRetries && sent < count_; ++attempt) {
      sent += rte_eth_tx_burst(port_id_, 0, pending_ + sent, count_ - sent);
    }
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < sent; ++i) bytes += rte_pktmbuf_pkt_len(pending_[i]);
    port_counters_->tx_packets.Add(sent);
    port_counters_->tx_bytes.Add(bytes);
    if (sent < count_) {
      lcore_counters_->Drop(DropReason::TX_FULL, count_ - sent);
      rte_pktmbuf_free_bulk(pending_ + sent, count_ - sent);
    }
    const uint16_t flushed = count_;
    count_ = 0;
    return flushed;
  }

  uint16_t pending() const { return count_; }

 private:
  static constexpr uint32_t kEthernetHeader = 14;

  void PushFragments(rte_mbuf* m) {
    rte_mbuf* fragments[Ipv4Fragmenter::kMaxFragments];
    uint16_t n = 0;
    const FragmentVerdict verdict = fragmenter_->Fragment(m, mtu_, linear_, fragments, &n);
    if (verdict != FragmentVerdict::kFragmented) {
      lcore_counters_->Drop(fragmenter_->DropFor(verdict));
      return;
    }
    port_counters_->tx_fragmented.Add(1);
    for (uint16_t i = 0; i < n; ++i) {
      pending_[count_++] = fragments[i];
      if (count_ == kBurst) Flush();
    }
  }

  uint16_t port_id_ = 0;
  uint16_t count_ = 0;
  uint16_t mtu_ = 1500;
  bool linear_ = false;
  Ipv4Fragmenter* fragmenter_ = nullptr;
  PortCounters* port_counters_ = nullptr;
  LcoreCounters* lcore_counters_ = nullptr;
  rte_mbuf* pending_[kBurst];
};

}  // namespace dysco::dpdk
