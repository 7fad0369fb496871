#pragma once
// The datapath's lookup tables: FiveTuple -> 24-bit value, storing per entry only the value and an
// 8-bit signature of the key's hash (four bytes an entry). The key itself lives in the record the value names, which the
// packet reads anyway, so a caller confirms a candidate with a `matches(value)` predicate. One lcore
// owns a table and is its only reader and writer; nothing here is thread-safe.
//
// Layout: 64-byte buckets of fifteen slots: fifteen signature bytes (0 = empty), an overflow count, and
// fifteen 3-byte values. A key's home bucket is hash × buckets >> 32 (any bucket count, so the table is sized
// close to its load instead of to a power of two); one SSE2 compare finds the slots of a bucket whose
// signature matches. An entry whose home bucket was full goes to the next bucket with room, and every
// bucket it passed counts it in its overflow: a lookup stops at the first bucket whose overflow is zero,
// so a miss usually reads one line. Erase clears the slot and uncounts the buckets passed (no tombstones,
// no moves), so values never change place under the caller.
//
// Sizing: at most kMaxLoad of the slots are ever used (max_entries given to Init), which keeps probe
// chains short; bench/native/flow_table_bench.cc measures it against the full-key layout and rte_hash.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/five_tuple.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "bucket values are read as little-endian words");

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dysco {

class FlowTable {
  struct Bucket;

 public:
  enum class InsertResult : uint8_t {
    kInserted,
    kExists,  // a value the predicate accepts was already present; nothing changed
    kFull,    // size() == capacity()
  };

  static constexpr uint32_t kSlotsPerBucket = 15;
  static constexpr uint32_t kValueBits = 24;
  static constexpr uint32_t kMaxValue = (1u << kValueBits) - 1;
  static constexpr double kMaxLoad = 0.85;
  // Largest max_entries Init accepts (a KeyedFlowTable's values are entry numbers).
  static constexpr uint32_t kMaxEntriesLimit = 1u << kValueBits;
  // The most keys a burst looks up at once (one bit each in a hit mask).
  static constexpr uint32_t kMaxBulk = 64;

  FlowTable() = default;
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Allocates buckets for max_entries at a load of at most kMaxLoad and empties the table. False when
  // max_entries is 0 or above kMaxEntriesLimit, or the allocation fails; the table then has capacity 0.
  bool Init(uint32_t max_entries);
  void Clear();

  static uint32_t Hash(const FiveTuple& key) { return HashFiveTuple(key); }
  void Prefetch(uint32_t hash) const { __builtin_prefetch(&buckets_[HomeOf(hash)], 0, 3); }
  uint32_t HomeOf(uint32_t hash) const { return static_cast<uint32_t>((uint64_t{hash} * bucket_count_) >> 32); }

  // The bucket array as a burst sees it, copied out: a loop that stores to its own arrays keeps the
  // copy in registers, where the table's fields would be reloaded after every store. A burst computes
  // each key's home once: Prefetch it, then FirstCandidate.
  class Buckets {
   public:
    uint32_t HomeOf(uint32_t hash) const { return static_cast<uint32_t>((uint64_t{hash} * count_) >> 32); }
    void Prefetch(uint32_t home) const { __builtin_prefetch(base_ + home, 0, 3); }

   private:
    friend class FlowTable;
    Buckets(const Bucket* base, uint32_t count) : base_(base), count_(count) {}
    const Bucket* base_;
    uint32_t count_;
  };
  Buckets buckets() const { return Buckets(buckets_, bucket_count_); }

  // The value of the key with this hash that `matches` accepts.
  template <typename Matches>
  bool Find(uint32_t hash, Matches&& matches, uint32_t* value) const;
  // What a key's home bucket says, for the burst path: the first value whose signature matches,
  // unconfirmed (the burst prefetches its record and confirms it later); or, above kMaxValue, no such
  // value: kMissFinal when nothing overflowed from the bucket either, else kLookFurther (and the next
  // bucket, where the walk goes on, is prefetched).
  static constexpr uint32_t kMissFinal = 0xffffffff;
  static constexpr uint32_t kLookFurther = 0xfffffffe;
  uint32_t FirstCandidate(uint32_t home, uint32_t hash) const;

  // Adds (hash, value) unless `matches` accepts a value already present for this hash. value <= kMaxValue.
  template <typename Matches>
  InsertResult Insert(uint32_t hash, uint32_t value, Matches&& matches);
  // Removes the entry (hash, value); false when there is none.
  bool Erase(uint32_t hash, uint32_t value);
  // Changes the value of the entry (hash, old_value); false when there is none.
  bool Replace(uint32_t hash, uint32_t old_value, uint32_t new_value);

  uint32_t size() const { return size_; }
  // The most entries the table accepts (max_entries given to Init).
  uint32_t capacity() const { return max_entries_; }
  uint32_t bucket_count() const { return bucket_count_; }
  size_t MemoryBytes() const { return size_t{bucket_count_} * sizeof(Bucket); }

 private:
  struct alignas(64) Bucket {
    uint8_t signatures[kSlotsPerBucket];  // 8 hash bits, never 0; 0 = empty
    uint8_t unused;
    uint16_t overflow;                    // entries that passed this bucket for a later one (saturates)
    uint8_t values[kSlotsPerBucket * 3];  // little-endian 24-bit values
    uint8_t tail;                         // lets the last value be read with one 4-byte load

    uint32_t value(uint32_t slot) const {
      uint32_t v;
      std::memcpy(&v, values + 3 * slot, 4);
      return v & kMaxValue;
    }
    void set_value(uint32_t slot, uint32_t v) {
      values[3 * slot] = static_cast<uint8_t>(v);
      values[3 * slot + 1] = static_cast<uint8_t>(v >> 8);
      values[3 * slot + 2] = static_cast<uint8_t>(v >> 16);
    }
  };
  static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");
  static constexpr uint16_t kOverflowSaturated = 0xffff;

  // Eight bits that the home bucket (the hash's high bits) does not decide: a multiply mixes every bit in.
  // 0 marks an empty slot, so it becomes 1 (1 is then twice as likely as any other signature).
  static uint8_t SignatureOf(uint32_t hash) {
    const uint32_t bits = (hash * 0x9e3779b1u) >> 24;
    return static_cast<uint8_t>(bits | (bits == 0));
  }
  uint32_t NextBucket(uint32_t b) const { return b + 1 == bucket_count_ ? 0 : b + 1; }
  static uint32_t MatchMask(const Bucket& bucket, uint8_t signature);
  // Bucket and slot of the first value with this hash's signature that `matches` accepts.
  template <typename Matches>
  bool Seek(uint32_t hash, Matches&& matches, uint32_t* bucket, uint32_t* slot) const;
  void Release();

  Bucket* buckets_ = nullptr;
  uint32_t bucket_count_ = 0;
  uint32_t max_entries_ = 0;
  uint32_t size_ = 0;
};

inline uint32_t FlowTable::MatchMask(const Bucket& bucket, uint8_t signature) {
  constexpr uint32_t kSlotMask = (1u << kSlotsPerBucket) - 1;
#if defined(__SSE2__)
  const __m128i line = _mm_load_si128(reinterpret_cast<const __m128i*>(bucket.signatures));
  return static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(line, _mm_set1_epi8(static_cast<char>(signature))))) &
         kSlotMask;
#else
  uint32_t mask = 0;
  for (uint32_t s = 0; s < kSlotsPerBucket; ++s) mask |= static_cast<uint32_t>(bucket.signatures[s] == signature) << s;
  return mask;
#endif
}

template <typename Matches>
bool FlowTable::Seek(uint32_t hash, Matches&& matches, uint32_t* bucket_out, uint32_t* slot_out) const {
  if (buckets_ == nullptr) return false;
  const uint8_t signature = SignatureOf(hash);
  uint32_t b = HomeOf(hash);
  // The count chain from the home bucket to an entry's bucket is unbroken; after churn every bucket may
  // count some overflow, so one lap bounds the walk.
  for (uint32_t step = 0; step < bucket_count_; ++step, b = NextBucket(b)) {
    const Bucket& bucket = buckets_[b];
    for (uint32_t mask = MatchMask(bucket, signature); mask != 0; mask &= mask - 1) {
      const uint32_t slot = __builtin_ctz(mask);
      if (matches(bucket.value(slot))) {
        *bucket_out = b;
        *slot_out = slot;
        return true;
      }
    }
    if (bucket.overflow == 0) return false;
  }
  return false;
}

template <typename Matches>
bool FlowTable::Find(uint32_t hash, Matches&& matches, uint32_t* value) const {
  uint32_t bucket, slot;
  if (!Seek(hash, matches, &bucket, &slot)) return false;
  *value = buckets_[bucket].value(slot);
  return true;
}

inline uint32_t FlowTable::FirstCandidate(uint32_t home, uint32_t hash) const {
  const Bucket& bucket = buckets_[home];
  const uint32_t mask = MatchMask(bucket, SignatureOf(hash));
  if (mask != 0) return bucket.value(__builtin_ctz(mask));
  if (bucket.overflow == 0) return kMissFinal;
  // The line after the bucket (for the last bucket, one past the array: the walk wraps, unprefetched).
  __builtin_prefetch(&bucket + 1, 0, 3);
  return kLookFurther;
}

template <typename Matches>
FlowTable::InsertResult FlowTable::Insert(uint32_t hash, uint32_t value, Matches&& matches) {
  uint32_t existing;
  if (Find(hash, matches, &existing)) return InsertResult::kExists;
  if (size_ == max_entries_) return InsertResult::kFull;
  const uint8_t signature = SignatureOf(hash);
  uint32_t b = HomeOf(hash);
  // Ends: size < max_entries <= slots, so some bucket has an empty slot.
  for (;;) {
    Bucket& bucket = buckets_[b];
    const uint32_t empty = MatchMask(bucket, 0);
    if (empty != 0) {
      const uint32_t slot = __builtin_ctz(empty);
      bucket.signatures[slot] = signature;
      bucket.set_value(slot, value);
      ++size_;
      return InsertResult::kInserted;
    }
    if (bucket.overflow != kOverflowSaturated) ++bucket.overflow;
    b = NextBucket(b);
  }
}

}  // namespace dysco
