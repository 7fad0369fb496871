#pragma once
// Cuts the lcore's idle sleep short when the control plane submits a request. The lcore sleeps on a
// futex with the back-off's timeout instead of a blind nanosleep, and Ring() wakes it, so a request
// to an idle datapath waits for a wake-up rather than for the rest of a sleep. Ring() costs a
// syscall only while the lcore sleeps.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace dysco::dpdk {

class RequestDoorbell {
 public:
  // lcore: sleeps up to `us` microseconds unless rung. `work_waiting` is asked after the sleep is
  // announced, so that a request enqueued just before is seen here or rings the bell.
  template <typename WorkWaiting>
  void Sleep(uint32_t us, WorkWaiting work_waiting) {
    const uint32_t seen = bell_.load(std::memory_order_acquire);
    sleeping_.store(true, std::memory_order_seq_cst);
    if (!work_waiting()) {
      timespec timeout{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
      syscall(SYS_futex, Word(), FUTEX_WAIT_PRIVATE, seen, &timeout, nullptr, 0);
    }
    sleeping_.store(false, std::memory_order_relaxed);
  }

  // Control plane, after enqueueing: wakes the lcore if it sleeps.
  void Ring() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!sleeping_.load(std::memory_order_relaxed)) return;
    bell_.fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, Word(), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

 private:
  uint32_t* Word() { return reinterpret_cast<uint32_t*>(&bell_); }

  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) && std::atomic<uint32_t>::is_always_lock_free);
  std::atomic<uint32_t> bell_{0};
  std::atomic<bool> sleeping_{false};
};

}  // namespace dysco::dpdk
