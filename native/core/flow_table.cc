#include "core/flow_table.h"

#include <cstring>

#include "core/table_memory.h"

namespace dysco {

FlowTable::~FlowTable() { Release(); }

void FlowTable::Release() {
  FreeTableMemory(buckets_);
  buckets_ = nullptr;
  bucket_mask_ = 0;
  slot_count_ = 0;
  max_entries_ = 0;
  size_ = 0;
}

bool FlowTable::Init(uint32_t max_entries) {
  Release();
  if (max_entries == 0 || max_entries > kMaxEntriesLimit) return false;
  // Slots needed for a load factor of 0.75 at max_entries, rounded up to whole buckets.
  const uint64_t slots_needed = (uint64_t{max_entries} * 4 + 2) / 3;
  const uint64_t buckets_needed = (slots_needed + kSlotsPerBucket - 1) / kSlotsPerBucket;
  uint64_t bucket_count = 1;
  while (bucket_count < buckets_needed) bucket_count <<= 1;

  const size_t bytes = static_cast<size_t>(bucket_count) * sizeof(Bucket);
  // Zeroed: every slot starts empty.
  void* memory = AllocateTableMemory(bytes, alignof(Bucket));
  if (memory == nullptr) return false;
  buckets_ = static_cast<Bucket*>(memory);
  bucket_mask_ = static_cast<uint32_t>(bucket_count - 1);
  slot_count_ = static_cast<uint32_t>(bucket_count * kSlotsPerBucket);
  max_entries_ = max_entries;
  return true;
}

void FlowTable::Clear() {
  if (buckets_ != nullptr) std::memset(static_cast<void*>(buckets_), 0, MemoryBytes());
  size_ = 0;
}

bool FlowTable::Find(const FiveTuple& key, uint32_t hash, SlotRef* where) const {
  SlotRef s{hash & bucket_mask_, 0};
  for (;;) {
    const FiveTuple& k = buckets_[s.bucket].keys[s.slot];
    if (k == key) {
      *where = s;
      return true;
    }
    if (k.protocol == 0) {
      *where = s;  // the first empty slot of the cluster: where the key would go
      return false;
    }
    s = Next(s);
  }
}

FlowTable::InsertResult FlowTable::Insert(const FiveTuple& key, uint32_t value) {
  if (key.protocol == 0) return InsertResult::kInvalidKey;
  if (buckets_ == nullptr) return InsertResult::kFull;
  SlotRef s;
  if (Find(key, Hash(key), &s)) return InsertResult::kExists;
  if (size_ == max_entries_) return InsertResult::kFull;
  buckets_[s.bucket].keys[s.slot] = key;
  buckets_[s.bucket].values[s.slot] = value;
  ++size_;
  return InsertResult::kInserted;
}

bool FlowTable::Update(const FiveTuple& key, uint32_t value) {
  if (key.protocol == 0 || buckets_ == nullptr) return false;
  SlotRef s;
  if (!Find(key, Hash(key), &s)) return false;
  buckets_[s.bucket].values[s.slot] = value;
  return true;
}

bool FlowTable::Erase(const FiveTuple& key) {
  if (key.protocol == 0 || buckets_ == nullptr) return false;
  SlotRef hole;
  if (!Find(key, Hash(key), &hole)) return false;
  // Backward shift: walk the rest of the cluster; an entry may fill the hole when its home is not in
  // the cyclic range (hole, entry], i.e. moving it back does not put it before its home.
  SlotRef s = hole;
  for (;;) {
    s = Next(s);
    Bucket& bucket = buckets_[s.bucket];
    const FiveTuple& k = bucket.keys[s.slot];
    if (k.protocol == 0) break;
    const uint32_t home = Hash(k) & bucket_mask_;
    if (Distance(home, 0, s) >= Distance(hole.bucket, hole.slot, s)) {
      buckets_[hole.bucket].keys[hole.slot] = k;
      buckets_[hole.bucket].values[hole.slot] = bucket.values[s.slot];
      hole = s;
    }
  }
  buckets_[hole.bucket].keys[hole.slot] = FiveTuple{};
  buckets_[hole.bucket].values[hole.slot] = 0;
  --size_;
  return true;
}

}  // namespace dysco
