#pragma once
// The idle lcore's sleep, and what ends it early: a request from the control plane (Ring) or a frame
// on one of the af_packet PMD's sockets. Without the sockets, a frame that lands during a sleep waits
// for the rest of it — on this kind of box 100–200 µs per agent a packet or control message crosses.
// The lcore sleeps in ppoll on an eventfd (the bell) and the sockets, with the back-off's timeout.
// Ring() costs a syscall only while the lcore sleeps.
#include <atomic>
#include <cstdint>
#include <string>

namespace dysco::dpdk {

class LcoreWakeup {
 public:
  static constexpr unsigned kMaxSockets = 2;

  LcoreWakeup() = default;
  LcoreWakeup(const LcoreWakeup&) = delete;
  LcoreWakeup& operator=(const LcoreWakeup&) = delete;
  ~LcoreWakeup() { Close(); }

  bool Open(std::string* detail);
  void Close();
  // A PMD socket whose RX ring the lcore polls: a frame there wakes it. The socket stays the PMD's.
  void WatchSocket(int fd);

  // lcore: sleeps up to `us` microseconds unless rung or a watched socket has a frame. `work_waiting`
  // is asked after the sleep is announced, so that a request enqueued just before is seen here or
  // rings the bell.
  template <typename WorkWaiting>
  void Sleep(uint32_t us, WorkWaiting work_waiting) {
    sleeping_.store(true, std::memory_order_seq_cst);
    if (!work_waiting()) Wait(us);
    sleeping_.store(false, std::memory_order_relaxed);
  }

  // Control plane, after enqueueing: wakes the lcore if it sleeps.
  void Ring();

 private:
  void Wait(uint32_t us);

  int bell_ = -1;
  int sockets_[kMaxSockets] = {-1, -1};
  unsigned socket_count_ = 0;
  std::atomic<bool> sleeping_{false};
};

}  // namespace dysco::dpdk
