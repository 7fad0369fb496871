#include "core/mac_table.h"

#include <cstring>

namespace dysco {

MacTable::MacTable() : entries_(kCapacity + 1), index_(kIndexSlots, 0) {
  free_.reserve(kCapacity);
  for (uint32_t ref = kCapacity; ref >= 1; --ref) free_.push_back(static_cast<uint16_t>(ref));
}

uint32_t MacTable::HashOf(const uint8_t* mac) {
  uint64_t v = 0;
  std::memcpy(&v, mac, 6);
  v *= 0x9e3779b97f4a7c15ull;
  return static_cast<uint32_t>(v >> 40);
}

uint16_t MacTable::Acquire(const uint8_t* mac) {
  uint32_t slot = HashOf(mac) & (kIndexSlots - 1);
  for (;; slot = (slot + 1) & (kIndexSlots - 1)) {
    const uint16_t ref = index_[slot];
    if (ref == 0) break;
    if (std::memcmp(entries_[ref].mac, mac, 6) == 0) {
      if (entries_[ref].refs++ == 0) ++in_use_;
      return ref;
    }
  }
  if (free_.empty()) {
    Reclaim();
    if (free_.empty()) return 0;
    return Acquire(mac);  // the index was rebuilt: find the empty slot again
  }
  const uint16_t ref = free_.back();
  free_.pop_back();
  std::memcpy(entries_[ref].mac, mac, 6);
  entries_[ref].refs = 1;
  ++in_use_;
  index_[slot] = ref;
  return ref;
}

void MacTable::Release(uint16_t ref) {
  if (ref == 0 || entries_[ref].refs == 0) return;
  if (--entries_[ref].refs == 0) --in_use_;
}

// Drops every entry nobody references and rebuilds the index from the rest.
void MacTable::Reclaim() {
  std::fill(index_.begin(), index_.end(), 0);
  free_.clear();
  for (uint32_t ref = kCapacity; ref >= 1; --ref) {
    if (entries_[ref].refs == 0) {
      free_.push_back(static_cast<uint16_t>(ref));
      continue;
    }
    uint32_t slot = HashOf(entries_[ref].mac) & (kIndexSlots - 1);
    while (index_[slot] != 0) slot = (slot + 1) & (kIndexSlots - 1);
    index_[slot] = static_cast<uint16_t>(ref);
  }
}

}  // namespace dysco
