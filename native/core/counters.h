#pragma once
// Per-lcore datapath counters. One lcore writes them (plain stores through relaxed atomics so the
// reader on the JS thread never sees a torn value); the control plane copies them at scrape time.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace dysco {

enum class DropReason : uint32_t {
#define DYSCO_DROP(name, label, meaning) name,
#include "core/drop_reasons.def"
#undef DYSCO_DROP
  kCount
};

inline constexpr const char* kDropReasonLabels[] = {
#define DYSCO_DROP(name, label, meaning) label,
#include "core/drop_reasons.def"
#undef DYSCO_DROP
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);

enum PortIndex : uint32_t { kHostPort = 0, kWirePort = 1, kPortCount = 2 };

// A counter with exactly one writer: increments are a relaxed load + store (no locked instruction).
class SingleWriterCounter {
 public:
  void Add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Set(uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  uint64_t Read() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct alignas(64) PortCounters {
  SingleWriterCounter rx_packets;
  SingleWriterCounter rx_bytes;
  SingleWriterCounter tx_packets;
  SingleWriterCounter tx_bytes;
  // Received here and passed on unchanged without being a whole IPv4 TCP segment the pipeline could
  // judge: IPv4 fragments, truncated IP/TCP/UDP headers, UDP, ICMP, ARP.
  SingleWriterCounter passed_not_dysco;
  // Frames longer than this port's MTU that left it as IPv4 fragments (tx_packets counts the fragments).
  SingleWriterCounter tx_fragmented;
};

struct alignas(64) LcoreCounters {
  PortCounters ports[kPortCount];
  SingleWriterCounter drops[kDropReasonCount];
  SingleWriterCounter busy_cycles;   // cycles in loop iterations that moved packets or served requests
  SingleWriterCounter idle_cycles;   // cycles in iterations that found nothing (including sleeps)
  SingleWriterCounter loop_iterations;
  SingleWriterCounter idle_sleeps;
  SingleWriterCounter requests_served;
  SingleWriterCounter events_posted;
  SingleWriterCounter events_dropped;  // event ring full: the control plane fell behind

  void Drop(DropReason reason, uint64_t n = 1) { drops[static_cast<size_t>(reason)].Add(n); }
};

}  // namespace dysco
