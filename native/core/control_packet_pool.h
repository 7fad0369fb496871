#pragma once
// Datagrams to this host's control port, copied off the wire by the lcore into fixed slots and read by
// the control thread after their ControlPacket event. A slot belongs to the lcore while its flag is 0
// and to the control thread from the event until Release: one writer per state, no lock. When every
// slot still waits for the control thread the datagram is dropped and counted (control_pool_full).
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace dysco {

// A control message fits one unfragmented datagram on a 1500-byte link (1500 - 20 IPv4 - 8 UDP).
inline constexpr uint32_t kControlPayloadMax = 1472;
// A bulk migration brings hundreds of messages at once while the control thread is busy with them: 1024 slots
// (1.5 MiB) ride out such a burst where 64 dropped hundreds.
inline constexpr uint32_t kControlPacketSlots = 1024;

struct ControlPacket {
  uint32_t src_ip;    // network byte order
  uint32_t dst_ip;    // network byte order
  uint16_t src_port;  // host byte order
  uint16_t dst_port;  // host byte order
  uint32_t length;
  uint8_t payload[kControlPayloadMax];
};

class ControlPacketPool {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  void Init() {
    slots_ = std::make_unique<Slot[]>(kControlPacketSlots);
    cursor_ = 0;
  }

  // Lcore: a free slot to fill, or kNone when all wait for the control thread.
  uint32_t Acquire() {
    for (uint32_t tried = 0; tried < kControlPacketSlots; ++tried) {
      const uint32_t slot = cursor_;
      cursor_ = cursor_ + 1 == kControlPacketSlots ? 0 : cursor_ + 1;
      if (!slots_[slot].taken.load(std::memory_order_acquire)) {
        slots_[slot].taken.store(true, std::memory_order_relaxed);
        return slot;
      }
    }
    return kNone;
  }

  ControlPacket& at(uint32_t slot) { return slots_[slot].packet; }
  const ControlPacket& at(uint32_t slot) const { return slots_[slot].packet; }
  bool valid(uint32_t slot) const { return slots_ != nullptr && slot < kControlPacketSlots; }

  // Control thread after reading the slot (or the lcore when its event could not be queued).
  void Release(uint32_t slot) const { slots_[slot].taken.store(false, std::memory_order_release); }

  uint32_t in_use() const {
    uint32_t n = 0;
    for (uint32_t i = 0; i < kControlPacketSlots; ++i) n += slots_[i].taken.load(std::memory_order_relaxed) ? 1 : 0;
    return n;
  }

 private:
  struct Slot {
    mutable std::atomic<bool> taken{false};
    ControlPacket packet;
  };
  std::unique_ptr<Slot[]> slots_;
  uint32_t cursor_ = 0;
};

}  // namespace dysco
