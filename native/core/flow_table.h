#pragma once
// The datapath's session lookup table: FiveTuple -> uint32_t (an index into the session arrays).
// One lcore owns it and is its only reader and writer; nothing here is thread-safe.
//
// Layout: open addressing with linear probing over cache-line buckets. A 64-byte bucket holds three
// keys (48 B), their three values (12 B) and 4 spare bytes; a key's home is the first slot of bucket
// (hash & bucket_mask) and probing walks slot by slot into the following buckets, wrapping at the end.
// Chosen by measurement against parallel key/value arrays (bench/native/flow_table_bench.cc keeps that
// layout for re-measuring): a hit reads one cache line and compares the bucket's three keys without a
// branch per slot, which halves lookups of a cache-resident table (10K entries: ~10 against ~19 TSC
// cycles, single or bulk) and matches parallel arrays on prefetched lookups at 1M entries (~40 each)
// in 20% less memory (33.6 against 41.9 B per entry). Un-prefetched single lookups at 1M are slower
// (~74 against ~45; most likely the keys spilled past their home bucket, a second dependent miss). The
// datapath looks up bursts, so it takes the first two. Storing the hash did not pay: the key compare
// is in the line loaded anyway, and a hash array is one more line per lookup (measured, no gain).
//
// Deletion shifts later entries of the cluster back (no tombstones), so probe lengths after any amount
// of churn are what a fresh table with the same entries would have. An empty slot has protocol == 0,
// which no valid key carries.
#include <cstddef>
#include <cstdint>

#include "core/five_tuple.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dysco {

class FlowTable {
 public:
  enum class InsertResult : uint8_t {
    kInserted,
    kExists,      // the key was already present; its value is unchanged
    kFull,        // size() == capacity()
    kInvalidKey,  // protocol == 0
  };

  static constexpr uint32_t kSlotsPerBucket = 3;
  // Largest max_entries Init accepts (keeps slot numbers in 32 bits).
  static constexpr uint32_t kMaxEntriesLimit = 1u << 30;
  // The most keys LookupBulk takes at once (one bit each in hit_mask).
  static constexpr uint32_t kMaxBulk = 64;

  FlowTable() = default;
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Allocates room for max_entries keys at a load factor of at most 0.75 (the bucket count is the
  // power of two that gets there) and empties the table. False when max_entries is 0 or above
  // kMaxEntriesLimit, or the allocation fails; the table is then empty with capacity 0.
  bool Init(uint32_t max_entries);

  InsertResult Insert(const FiveTuple& key, uint32_t value);
  // Replaces the value of a present key; false when the key is absent.
  bool Update(const FiveTuple& key, uint32_t value);
  bool Lookup(const FiveTuple& key, uint32_t* value) const { return LookupWithHash(key, Hash(key), value); }
  bool Erase(const FiveTuple& key);
  void Clear();

  uint32_t size() const { return size_; }
  // The most entries the table accepts (max_entries given to Init).
  uint32_t capacity() const { return max_entries_; }
  uint32_t slot_count() const { return slot_count_; }
  size_t MemoryBytes() const { return static_cast<size_t>(bucket_mask_ + (buckets_ ? 1 : 0)) * sizeof(Bucket); }

  // The pipeline's split lookup: hash the packet's key, Prefetch, do other work, then LookupWithHash.
  static uint32_t Hash(const FiveTuple& key) { return HashFiveTuple(key); }
  void Prefetch(uint32_t hash) const { __builtin_prefetch(&buckets_[hash & bucket_mask_], 0, 3); }
  bool LookupWithHash(const FiveTuple& key, uint32_t hash, uint32_t* value) const;

  // Looks up keys[0, n) (n <= kMaxBulk): all hashes and home-bucket prefetches first, then the probes.
  // Bit i of *hit_mask is set when keys[i] is present, and then values[i] holds its value; values of
  // misses are left as they were.
  void LookupBulk(const FiveTuple* keys, uint32_t n, uint32_t* values, uint64_t* hit_mask) const;

 private:
  struct alignas(64) Bucket {
    FiveTuple keys[kSlotsPerBucket];
    uint32_t values[kSlotsPerBucket];
    uint32_t spare;
  };
  static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");

  // A slot position: bucket index and slot within it. Logical slot number = bucket * 3 + slot.
  struct SlotRef {
    uint32_t bucket;
    uint32_t slot;
  };

  void Release();
  bool Find(const FiveTuple& key, uint32_t hash, SlotRef* where) const;
  SlotRef Next(SlotRef s) const {
    if (++s.slot == kSlotsPerBucket) {
      s.slot = 0;
      s.bucket = (s.bucket + 1) & bucket_mask_;
    }
    return s;
  }
  // Slots from `from` forward to `to`, wrapping.
  uint32_t Distance(uint32_t from_bucket, uint32_t from_slot, SlotRef to) const {
    const uint32_t a = from_bucket * kSlotsPerBucket + from_slot;
    const uint32_t b = to.bucket * kSlotsPerBucket + to.slot;
    return b >= a ? b - a : b + slot_count_ - a;
  }

  Bucket* buckets_ = nullptr;
  uint32_t bucket_mask_ = 0;
  uint32_t slot_count_ = 0;
  uint32_t max_entries_ = 0;
  uint32_t size_ = 0;
};

inline bool FlowTable::LookupWithHash(const FiveTuple& key, uint32_t hash, uint32_t* value) const {
  if (key.protocol == 0 || buckets_ == nullptr) return false;
#if defined(__SSE2__)
  const __m128i probe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&key));
#else
  const uint64_t w0 = key.Word0();
  const uint64_t w1 = key.Word1();
#endif
  uint32_t b = hash & bucket_mask_;
  // Ends: the load factor stays at or below 0.75, so there is always an empty slot.
  for (;;) {
    const Bucket& bucket = buckets_[b];
    // All three slots compared without a branch each: which slot holds a key is random, and a
    // mispredicted branch per lookup also stops the core from overlapping the next lookups' misses.
    uint32_t match = 0;
#if defined(__SSE2__)
    for (uint32_t s = 0; s < kSlotsPerBucket; ++s) {
      const __m128i eq = _mm_cmpeq_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(&bucket.keys[s])), probe);
      match |= static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(eq)) == 0xf) << s;
    }
#else
    for (uint32_t s = 0; s < kSlotsPerBucket; ++s) {
      const FiveTuple& k = bucket.keys[s];
      match |= static_cast<uint32_t>(((k.Word0() ^ w0) | (k.Word1() ^ w1)) == 0) << s;
    }
#endif
    if (match != 0) {
      *value = bucket.values[__builtin_ctz(match)];
      return true;
    }
    // Empty slots of a bucket are always its last ones (every home is a bucket's first slot and no
    // probe path crosses an empty slot), so the last slot says whether the bucket ends the cluster.
    if (bucket.keys[kSlotsPerBucket - 1].protocol == 0) return false;
    b = (b + 1) & bucket_mask_;
  }
}

inline void FlowTable::LookupBulk(const FiveTuple* keys, uint32_t n, uint32_t* values, uint64_t* hit_mask) const {
  uint32_t hashes[kMaxBulk];
  if (n > kMaxBulk) n = kMaxBulk;
  for (uint32_t i = 0; i < n; ++i) {
    hashes[i] = Hash(keys[i]);
    Prefetch(hashes[i]);
  }
  uint64_t hits = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (LookupWithHash(keys[i], hashes[i], &values[i])) hits |= uint64_t{1} << i;
  }
  *hit_mask = hits;
}

}  // namespace dysco
