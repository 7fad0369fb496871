#pragma once
// The next-hop MAC addresses that sessions point at: a session keeps a 16-bit reference per side instead
// of six bytes, and a packet reads the address from this small table (it stays in L1). Entries are
// reference-counted; an unused entry is reclaimed only when a new address finds the table full, so a
// next hop that comes and goes keeps its number.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dysco {

class MacTable {
 public:
  static constexpr uint32_t kCapacity = 4095;  // references 1..kCapacity; 0 means "no address"

  MacTable();

  // A reference to `mac` (taking one count), or 0 when every entry is in use.
  uint16_t Acquire(const uint8_t* mac);
  void Release(uint16_t ref);
  const uint8_t* bytes(uint16_t ref) const { return entries_[ref].mac; }
  uint32_t in_use() const { return in_use_; }
  static constexpr size_t MemoryBytes() { return (kCapacity + 1) * sizeof(Entry) + kIndexSlots * sizeof(uint16_t); }

 private:
  struct Entry {
    uint8_t mac[6];
    uint16_t unused;
    uint32_t refs;
  };
  static constexpr uint32_t kIndexSlots = 8192;  // open addressing, load at most one half

  static uint32_t HashOf(const uint8_t* mac);
  void Reclaim();

  std::vector<Entry> entries_;
  std::vector<uint16_t> index_;  // entry reference, 0 = empty
  std::vector<uint16_t> free_;
  uint32_t in_use_ = 0;
};

}  // namespace dysco
