#include "core/flow_table.h"

#include <cstring>

#include "core/table_memory.h"

namespace dysco {

FlowTable::~FlowTable() { Release(); }

void FlowTable::Release() {
  FreeTableMemory(buckets_);
  buckets_ = nullptr;
  bucket_count_ = 0;
  max_entries_ = 0;
  size_ = 0;
}

bool FlowTable::Init(uint32_t max_entries) {
  Release();
  if (max_entries == 0 || max_entries > kMaxEntriesLimit) return false;
  const double slots_needed = static_cast<double>(max_entries) / kMaxLoad;
  uint64_t bucket_count = static_cast<uint64_t>(slots_needed / kSlotsPerBucket) + 1;
  // Always one bucket more than max_entries fill, so a chain of full buckets ends.
  if (bucket_count * kSlotsPerBucket <= max_entries) bucket_count = max_entries / kSlotsPerBucket + 1;
  const size_t bytes = static_cast<size_t>(bucket_count) * sizeof(Bucket);
  // Zeroed: every slot starts empty.
  void* memory = AllocateTableMemory(bytes, alignof(Bucket));
  if (memory == nullptr) return false;
  buckets_ = static_cast<Bucket*>(memory);
  bucket_count_ = static_cast<uint32_t>(bucket_count);
  max_entries_ = max_entries;
  return true;
}

void FlowTable::Clear() {
  if (buckets_ != nullptr) std::memset(static_cast<void*>(buckets_), 0, MemoryBytes());
  size_ = 0;
}

bool FlowTable::Erase(uint32_t hash, uint32_t value) {
  uint32_t target, slot;
  if (!Seek(hash, [value](uint32_t v) { return v == value; }, &target, &slot)) return false;
  buckets_[target].signatures[slot] = 0;
  buckets_[target].set_value(slot, 0);
  for (uint32_t b = HomeOf(hash); b != target; b = NextBucket(b)) {
    if (buckets_[b].overflow != kOverflowSaturated) --buckets_[b].overflow;
  }
  --size_;
  return true;
}

bool FlowTable::Replace(uint32_t hash, uint32_t old_value, uint32_t new_value) {
  uint32_t target, slot;
  if (!Seek(hash, [old_value](uint32_t v) { return v == old_value; }, &target, &slot)) return false;
  buckets_[target].set_value(slot, new_value);
  return true;
}

}  // namespace dysco
