#include "core/neighbour_table.h"

#include <new>

namespace dysco {
namespace {

constexpr uint32_t kMaxCapacity = 1u << 20;
constexpr uint32_t kMaxQueuedPerEntry = 65535;
constexpr uint32_t kMaxQueuedTotal = 1u << 24;
constexpr uint32_t kMaxRequests = 255;

// True once `duration` has passed since `since`. A clock that went backwards has not elapsed anything.
bool Elapsed(uint64_t now, uint64_t since, uint64_t duration) { return now >= since && now - since >= duration; }

}  // namespace

NeighbourTable::~NeighbourTable() {
  if (initialised()) Clear(on_destroy_);
}

Status NeighbourTable::Init(const NeighbourConfig& config, HandleSink on_destroy) {
  if (initialised()) return Status::INVALID_ARGUMENT;
  if (config.capacity == 0 || config.capacity > kMaxCapacity) return Status::INVALID_ARGUMENT;
  if (config.max_queued_per_entry == 0 || config.max_queued_per_entry > kMaxQueuedPerEntry) {
    return Status::INVALID_ARGUMENT;
  }
  if (config.max_queued_total == 0 || config.max_queued_total > kMaxQueuedTotal) return Status::INVALID_ARGUMENT;
  if (config.max_requests == 0 || config.max_requests > kMaxRequests) return Status::INVALID_ARGUMENT;

  // At most half full, so probes stay short.
  uint32_t slots = 2;
  uint32_t bits = 1;
  while (slots < 2 * config.capacity) {
    slots <<= 1;
    ++bits;
  }
  std::unique_ptr<Entry[]> entries(new (std::nothrow) Entry[config.capacity]);
  std::unique_ptr<uint32_t[]> index(new (std::nothrow) uint32_t[slots]());
  std::unique_ptr<QueueNode[]> nodes(new (std::nothrow) QueueNode[config.max_queued_total]);
  // No dedicated code for memory exhaustion: the config asked for more than the process can have.
  if (!entries || !index || !nodes) return Status::INVALID_ARGUMENT;

  config_ = config;
  on_destroy_ = on_destroy;
  index_mask_ = slots - 1;
  index_shift_ = 32 - bits;
  for (uint32_t i = 0; i < config.capacity; ++i) entries[i].next_free = i + 1 < config.capacity ? i + 1 : kNil;
  for (uint32_t i = 0; i < config.max_queued_total; ++i) nodes[i].next = i + 1 < config.max_queued_total ? i + 1 : kNil;
  free_entry_ = 0;
  free_node_ = 0;
  entries_ = std::move(entries);
  index_ = std::move(index);
  nodes_ = std::move(nodes);
  return Status::OK;
}

uint32_t NeighbourTable::Slot(uint32_t ip_be) const {
  // Fibonacci hashing: the high bits of the product mix every byte of the address.
  return static_cast<uint32_t>(ip_be * 2654435769u) >> index_shift_;
}

uint32_t NeighbourTable::Find(uint32_t ip_be) const {
  for (uint32_t slot = Slot(ip_be);; slot = (slot + 1) & index_mask_) {
    const uint32_t value = index_[slot];
    if (value == 0) return kNil;
    if (entries_[value - 1].ip_be == ip_be) return value - 1;
  }
}

uint32_t NeighbourTable::Allocate(uint32_t ip_be) {
  uint32_t chosen = free_entry_;
  if (chosen != kNil) {
    free_entry_ = entries_[chosen].next_free;
  } else {
    // Full: reuse the entry that costs least to forget. Never one with handles queued or a resolution
    // in progress; failed entries first, then the least recently used.
    for (uint32_t i = 0; i < config_.capacity; ++i) {
      const Entry& candidate = entries_[i];
      if (candidate.queued != 0 || candidate.state == NeighbourState::kIncomplete) continue;
      if (chosen == kNil) {
        chosen = i;
        continue;
      }
      const Entry& best = entries_[chosen];
      const bool candidate_failed = candidate.state == NeighbourState::kFailed;
      const bool best_failed = best.state == NeighbourState::kFailed;
      if (candidate_failed != best_failed) {
        if (candidate_failed) chosen = i;
      } else if (candidate.last_used_at < best.last_used_at) {
        chosen = i;
      }
    }
    if (chosen == kNil) return kNil;
    IndexErase(entries_[chosen].ip_be);
    --used_;
    ++stats_.evictions;
  }

  Entry& entry = entries_[chosen];
  entry = Entry{};
  entry.ip_be = ip_be;
  uint32_t slot = Slot(ip_be);
  while (index_[slot] != 0) slot = (slot + 1) & index_mask_;
  index_[slot] = chosen + 1;
  ++used_;
  return chosen;
}

void NeighbourTable::IndexErase(uint32_t ip_be) {
  uint32_t hole = Slot(ip_be);
  while (entries_[index_[hole] - 1].ip_be != ip_be) hole = (hole + 1) & index_mask_;
  index_[hole] = 0;
  // Backward-shift deletion: pull later members of the probe run into the hole when their home slot
  // does not lie cyclically in (hole, current].
  for (uint32_t current = (hole + 1) & index_mask_; index_[current] != 0; current = (current + 1) & index_mask_) {
    const uint32_t home = Slot(entries_[index_[current] - 1].ip_be);
    const bool home_in_range =
        hole <= current ? (hole < home && home <= current) : (hole < home || home <= current);
    if (home_in_range) continue;
    index_[hole] = index_[current];
    index_[current] = 0;
    hole = current;
  }
}

void NeighbourTable::Release(uint32_t index) {
  Entry& entry = entries_[index];
  IndexErase(entry.ip_be);
  entry = Entry{};
  entry.next_free = free_entry_;
  free_entry_ = index;
  --used_;
}

void NeighbourTable::StartAttempt(Entry& entry, uint64_t now) {
  entry.state = NeighbourState::kIncomplete;
  entry.requests_sent = 1;
  entry.last_request_at = now;
}

void NeighbourTable::Fail(Entry& entry, uint64_t now) {
  entry.state = NeighbourState::kFailed;
  entry.failed_at = now;
  ++stats_.failures;
}

void NeighbourTable::Advance(Entry& entry, uint64_t now) {
  switch (entry.state) {
    case NeighbourState::kReachable:
      if (Elapsed(now, entry.confirmed_at, config_.reachable_lifetime_ns)) {
        entry.state = NeighbourState::kStale;
        entry.requests_sent = 0;
      }
      break;
    case NeighbourState::kIncomplete:
    case NeighbourState::kStale:
      // A stale entry that has not asked yet (requests_sent 0) never fails.
      if (entry.requests_sent >= config_.max_requests &&
          Elapsed(now, entry.last_request_at, config_.retry_interval_ns)) {
        Fail(entry, now);
      }
      break;
    case NeighbourState::kFree:
    case NeighbourState::kFailed:
      break;
  }
}

ResolveResult NeighbourTable::Resolve(uint32_t ip_be, uint64_t now, MacAddress* mac) {
  if (!initialised()) return ResolveResult::kTableFull;
  uint32_t index = Find(ip_be);
  if (index == kNil) {
    index = Allocate(ip_be);
    if (index == kNil) return ResolveResult::kTableFull;
    Entry& fresh = entries_[index];
    fresh.last_used_at = now;
    StartAttempt(fresh, now);
    return ResolveResult::kNeedRequest;
  }

  Entry& entry = entries_[index];
  entry.last_used_at = now;
  Advance(entry, now);
  const bool request_due = entry.requests_sent < config_.max_requests &&
                           (entry.requests_sent == 0 ||
                            Elapsed(now, entry.last_request_at, config_.retry_interval_ns));
  switch (entry.state) {
    case NeighbourState::kReachable:
      *mac = entry.mac;
      return ResolveResult::kReachable;
    case NeighbourState::kStale:
      *mac = entry.mac;
      if (!request_due) return ResolveResult::kStale;
      ++entry.requests_sent;
      entry.last_request_at = now;
      return ResolveResult::kStaleNeedRequest;
    case NeighbourState::kIncomplete:
      if (!request_due) return ResolveResult::kPending;
      ++entry.requests_sent;
      entry.last_request_at = now;
      return ResolveResult::kNeedRequest;
    case NeighbourState::kFailed:
      if (!Elapsed(now, entry.failed_at, config_.failed_hold_ns)) return ResolveResult::kFailed;
      // Handles still queued from the failed attempt stay queued; Expire or Learn hands them back.
      StartAttempt(entry, now);
      return ResolveResult::kNeedRequest;
    case NeighbourState::kFree:
      break;
  }
  return ResolveResult::kFailed;
}

EnqueueResult NeighbourTable::Enqueue(uint32_t ip_be, void* handle, uint64_t now) {
  if (!initialised()) return EnqueueResult::kNotResolving;
  const uint32_t index = Find(ip_be);
  if (index == kNil) return EnqueueResult::kNotResolving;
  Entry& entry = entries_[index];
  Advance(entry, now);
  if (entry.state != NeighbourState::kIncomplete) return EnqueueResult::kNotResolving;
  if (entry.queued >= config_.max_queued_per_entry) return EnqueueResult::kEntryQueueFull;
  const uint32_t node_index = free_node_;
  if (node_index == kNil) return EnqueueResult::kTotalQueueFull;

  QueueNode& node = nodes_[node_index];
  free_node_ = node.next;
  node.handle = handle;
  node.enqueued_at = now;
  node.next = kNil;
  if (entry.queue_tail == kNil) {
    entry.queue_head = node_index;
  } else {
    nodes_[entry.queue_tail].next = node_index;
  }
  entry.queue_tail = node_index;
  ++entry.queued;
  ++queued_total_;
  return EnqueueResult::kQueued;
}

void NeighbourTable::PopFront(Entry& entry) {
  const uint32_t node_index = entry.queue_head;
  QueueNode& node = nodes_[node_index];
  entry.queue_head = node.next;
  if (entry.queue_head == kNil) entry.queue_tail = kNil;
  node = QueueNode{};
  node.next = free_node_;
  free_node_ = node_index;
  --entry.queued;
  --queued_total_;
}

uint32_t NeighbourTable::Drain(Entry& entry, HandleSink sink) {
  uint32_t count = 0;
  while (entry.queue_head != kNil) {
    void* handle = nodes_[entry.queue_head].handle;
    PopFront(entry);
    sink(handle);
    ++count;
  }
  return count;
}

LearnResult NeighbourTable::Learn(uint32_t ip_be, const MacAddress& mac, uint64_t now, HandleSink sendable) {
  if (!mac.is_unicast()) return LearnResult::kInvalidMac;
  if (!initialised()) return LearnResult::kUntracked;
  const uint32_t index = Find(ip_be);
  if (index == kNil) return LearnResult::kUntracked;
  Entry& entry = entries_[index];

  LearnResult result = LearnResult::kResolved;
  if (entry.state == NeighbourState::kReachable || entry.state == NeighbourState::kStale) {
    result = entry.mac == mac ? LearnResult::kRefreshed : LearnResult::kChanged;
  }
  entry.mac = mac;
  entry.state = NeighbourState::kReachable;
  entry.confirmed_at = now;
  entry.requests_sent = 0;
  Drain(entry, sendable);
  return result;
}

uint32_t NeighbourTable::Expire(uint64_t now, HandleSink unresolved) {
  if (!initialised()) return 0;
  uint32_t count = 0;
  for (uint32_t i = 0; i < config_.capacity; ++i) {
    Entry& entry = entries_[i];
    if (entry.state == NeighbourState::kFree) continue;
    Advance(entry, now);
    if (entry.state == NeighbourState::kFailed) {
      count += Drain(entry, unresolved);
      if (Elapsed(now, entry.failed_at, config_.failed_hold_ns)) Release(i);
      continue;
    }
    while (entry.queue_head != kNil && Elapsed(now, nodes_[entry.queue_head].enqueued_at, config_.queue_timeout_ns)) {
      void* handle = nodes_[entry.queue_head].handle;
      PopFront(entry);
      unresolved(handle);
      ++count;
    }
  }
  return count;
}

uint32_t NeighbourTable::Clear(HandleSink unresolved) {
  if (!initialised()) return 0;
  uint32_t count = 0;
  for (uint32_t i = 0; i < config_.capacity; ++i) {
    Entry& entry = entries_[i];
    if (entry.state == NeighbourState::kFree) continue;
    count += Drain(entry, unresolved);
    Release(i);
  }
  return count;
}

bool NeighbourTable::Lookup(uint32_t ip_be, NeighbourInfo* out) const {
  if (!initialised()) return false;
  const uint32_t index = Find(ip_be);
  if (index == kNil) return false;
  const Entry& entry = entries_[index];
  out->state = entry.state;
  out->mac = entry.mac;
  out->requests_sent = entry.requests_sent;
  out->queued = entry.queued;
  return true;
}

}  // namespace dysco
