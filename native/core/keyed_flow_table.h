#pragma once
// A FlowTable that keeps its own keys, for values that do not name a record holding the key (the test
// addon and the flow-table benchmark use it; the session table confirms keys against its records).
// The table's values are indexes into a parallel array of (key, value) entries.
#include <cstdint>
#include <vector>

#include "core/flow_table.h"

namespace dysco {

class KeyedFlowTable {
 public:
  enum class InsertResult : uint8_t { kInserted, kExists, kFull, kInvalidKey };

  bool Init(uint32_t max_entries) {
    if (!table_.Init(max_entries)) return false;
    entries_.assign(max_entries, Entry{});
    free_.resize(max_entries);
    for (uint32_t i = 0; i < max_entries; ++i) free_[i] = max_entries - 1 - i;
    return true;
  }

  InsertResult Insert(const FiveTuple& key, uint32_t value) {
    if (key.protocol == 0) return InsertResult::kInvalidKey;
    uint32_t slot;
    if (Find(key, FlowTable::Hash(key), &slot)) return InsertResult::kExists;
    if (free_.empty()) return InsertResult::kFull;
    slot = free_.back();
    const auto placed = table_.Insert(FlowTable::Hash(key), slot, [](uint32_t) { return false; });
    if (placed != FlowTable::InsertResult::kInserted) return InsertResult::kFull;
    free_.pop_back();
    entries_[slot] = Entry{key, value};
    return InsertResult::kInserted;
  }
  bool Lookup(const FiveTuple& key, uint32_t* value) const { return LookupWithHash(key, FlowTable::Hash(key), value); }
  bool LookupWithHash(const FiveTuple& key, uint32_t hash, uint32_t* value) const {
    uint32_t slot;
    if (key.protocol == 0 || !Find(key, hash, &slot)) return false;
    *value = entries_[slot].value;
    return true;
  }
  bool Update(const FiveTuple& key, uint32_t value) {
    uint32_t slot;
    if (key.protocol == 0 || !Find(key, FlowTable::Hash(key), &slot)) return false;
    entries_[slot].value = value;
    return true;
  }
  bool Erase(const FiveTuple& key) {
    uint32_t slot;
    const uint32_t hash = FlowTable::Hash(key);
    if (key.protocol == 0 || !Find(key, hash, &slot)) return false;
    table_.Erase(hash, slot);
    entries_[slot] = Entry{};
    free_.push_back(slot);
    return true;
  }
  // Looks up keys[0, n) (n <= FlowTable::kMaxBulk) as the pipeline does: every home bucket prefetched,
  // then each key's first candidate taken and its entry prefetched, then the candidates confirmed (a
  // wrong one, or a key beyond its home bucket, takes a full lookup).
  void LookupBulk(const FiveTuple* keys, uint32_t n, uint32_t* values, uint64_t* hit_mask) const {
    uint32_t hashes[FlowTable::kMaxBulk], homes[FlowTable::kMaxBulk], probes[FlowTable::kMaxBulk];
    if (n > FlowTable::kMaxBulk) n = FlowTable::kMaxBulk;
    const FlowTable::Buckets buckets = table_.buckets();
    for (uint32_t i = 0; i < n; ++i) {
      hashes[i] = FlowTable::Hash(keys[i]);
      homes[i] = buckets.HomeOf(hashes[i]);
      buckets.Prefetch(homes[i]);
    }
    for (uint32_t i = 0; i < n; ++i) {
      probes[i] = table_.FirstCandidate(homes[i], hashes[i]);
      if (probes[i] <= FlowTable::kMaxValue) __builtin_prefetch(&entries_[probes[i]]);
    }
    uint64_t hits = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (keys[i].protocol == 0 || probes[i] == FlowTable::kMissFinal) continue;
      uint32_t slot = probes[i];
      if (slot > FlowTable::kMaxValue || !(entries_[slot].key == keys[i])) {
        if (!Find(keys[i], hashes[i], &slot)) continue;
      }
      values[i] = entries_[slot].value;
      hits |= uint64_t{1} << i;
    }
    *hit_mask = hits;
  }

  void Prefetch(uint32_t hash) const { table_.Prefetch(hash); }
  uint32_t size() const { return table_.size(); }
  uint32_t capacity() const { return table_.capacity(); }
  const FlowTable& table() const { return table_; }
  // The lookup table alone: what a caller whose values name records pays.
  size_t TableBytes() const { return table_.MemoryBytes(); }
  size_t MemoryBytes() const { return table_.MemoryBytes() + entries_.capacity() * sizeof(Entry); }

 private:
  struct Entry {
    FiveTuple key;
    uint32_t value = 0;
  };
  bool Find(const FiveTuple& key, uint32_t hash, uint32_t* slot) const {
    return table_.Find(hash, [this, &key](uint32_t s) { return entries_[s].key == key; }, slot);
  }

  FlowTable table_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
};

}  // namespace dysco
