#pragma once
// Adaptive polling: spin while packets flow; after a run of empty polls, sleep for a time that
// doubles on every further empty poll up to a ceiling, and snap back to spinning on the first packet.
#include <algorithm>
#include <cstdint>

#include "core/control_messages.h"

namespace dysco {

class IdleBackoff {
 public:
  static constexpr uint32_t kEmptyPollsBeforeSleep = 256;
  static constexpr uint32_t kFirstSleepUs = 1;

  void Configure(PollMode mode, uint32_t max_sleep_us) {
    mode_ = mode;
    max_sleep_us_ = std::max<uint32_t>(max_sleep_us, kFirstSleepUs);
    Reset();
  }

  // Returns how long to sleep after a poll that moved `work` items (0 means keep spinning).
  uint32_t AfterPoll(uint32_t work) {
    if (work != 0 || mode_ == PollMode::kBusy) {
      Reset();
      return 0;
    }
    if (++empty_polls_ < kEmptyPollsBeforeSleep) return 0;
    const uint32_t sleep_us = next_sleep_us_;
    next_sleep_us_ = std::min(next_sleep_us_ * 2, max_sleep_us_);
    return sleep_us;
  }

  PollMode mode() const { return mode_; }
  uint32_t max_sleep_us() const { return max_sleep_us_; }

 private:
  void Reset() {
    empty_polls_ = 0;
    next_sleep_us_ = kFirstSleepUs;
  }

  PollMode mode_ = PollMode::kAdaptive;
  uint32_t max_sleep_us_ = 200;
  uint32_t empty_polls_ = 0;
  uint32_t next_sleep_us_ = kFirstSleepUs;
};

}  // namespace dysco
