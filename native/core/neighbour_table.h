#pragma once
// Next-hop resolution for the agent: a fixed-capacity table from next-hop IPv4 to MAC, driven by ARP the
// caller sends and sees, plus a bounded queue of packets waiting for an answer.
//
// The class never reads a clock: every call takes `now`, a monotonic time in nanoseconds (or any unit,
// as long as the durations in NeighbourConfig use the same one; a TSC value works with durations
// converted to cycles). `now` must not go backwards; if it does, nothing counts as elapsed.
// IPv4 addresses are network order (see core/arp.h). All memory is allocated in Init; nothing after.
// Single-threaded: the datapath lcore owns the table.
//
// Entry life:
//   (absent) --Resolve--> incomplete --Learn--> reachable --lifetime--> stale --Learn--> reachable
//   incomplete/stale --max_requests unanswered--> failed --failed_hold, Expire--> (absent)
//   failed --Resolve after failed_hold--> incomplete (a new attempt);  failed --Learn--> reachable
//
// Learn never creates an entry: the agent sees every ARP on the segment and tracks only the next hops
// it asked about (entries exist from the first Resolve). Any ARP request or reply whose sender we track
// (gratuitous ones included) confirms it and updates its MAC.
//
// Handles: Enqueue takes an opaque handle (an mbuf) for a next hop being resolved. Every accepted handle
// comes back exactly once: to Learn's sink when its next hop resolves (send it), or to Expire's sink when
// resolution failed or it waited queue_timeout (free it, count neighbour_unresolved), or to Clear's sink,
// or to the destroy sink given to Init when the table is destroyed. A handle Enqueue refuses is still
// the caller's (drop it, count neighbour_queue_full). Sinks must not call back into the table.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/arp.h"
#include "core/error_codes.h"

#define DYSCO_NEIGHBOUR_RESOLVE_RESULTS(X)                                                                   \
  X(kReachable, "reachable")                  /* *mac is valid: send */                                     \
  X(kStale, "stale")                          /* *mac is valid: send; a re-request is outstanding */        \
  X(kStaleNeedRequest, "stale_need_request")  /* *mac is valid: send, and send one ARP request now */       \
  X(kNeedRequest, "need_request")             /* no MAC: send an ARP request now, then Enqueue the packet */ \
  X(kPending, "pending")                      /* no MAC: a request is outstanding; Enqueue the packet */    \
  X(kFailed, "failed")                        /* resolution failed recently: drop (neighbour_unresolved) */  \
  X(kTableFull, "table_full")                 /* no entry free or evictable: drop */

#define DYSCO_NEIGHBOUR_ENQUEUE_RESULTS(X)                                                             \
  X(kQueued, "queued")                /* the table owns the handle until it hands it back */          \
  X(kEntryQueueFull, "entry_full")    /* max_queued_per_entry reached: the caller drops */            \
  X(kTotalQueueFull, "total_full")    /* max_queued_total reached: the caller drops */                \
  X(kNotResolving, "not_resolving")   /* no incomplete entry for this address (Resolve first): drop */

#define DYSCO_NEIGHBOUR_LEARN_RESULTS(X)                                                    \
  X(kUntracked, "untracked")      /* not a next hop we track: nothing changed */           \
  X(kResolved, "resolved")        /* was incomplete or failed, now reachable */            \
  X(kRefreshed, "refreshed")      /* was reachable or stale with this MAC, now reachable */ \
  X(kChanged, "changed")          /* was reachable or stale with another MAC: replaced */  \
  X(kInvalidMac, "invalid_mac")   /* zero or group MAC: ignored */

#define DYSCO_NEIGHBOUR_STATES(X) \
  X(kFree, "free")                \
  X(kIncomplete, "incomplete")    \
  X(kReachable, "reachable")      \
  X(kStale, "stale")              \
  X(kFailed, "failed")

namespace dysco {

#define DYSCO_NEIGHBOUR_ENUM(name, label) name,
#define DYSCO_NEIGHBOUR_LABEL(name, label) label,
enum class ResolveResult : uint8_t { DYSCO_NEIGHBOUR_RESOLVE_RESULTS(DYSCO_NEIGHBOUR_ENUM) };
enum class EnqueueResult : uint8_t { DYSCO_NEIGHBOUR_ENQUEUE_RESULTS(DYSCO_NEIGHBOUR_ENUM) };
enum class LearnResult : uint8_t { DYSCO_NEIGHBOUR_LEARN_RESULTS(DYSCO_NEIGHBOUR_ENUM) };
enum class NeighbourState : uint8_t { DYSCO_NEIGHBOUR_STATES(DYSCO_NEIGHBOUR_ENUM) };
inline constexpr const char* kResolveResultNames[] = {DYSCO_NEIGHBOUR_RESOLVE_RESULTS(DYSCO_NEIGHBOUR_LABEL)};
inline constexpr const char* kEnqueueResultNames[] = {DYSCO_NEIGHBOUR_ENQUEUE_RESULTS(DYSCO_NEIGHBOUR_LABEL)};
inline constexpr const char* kLearnResultNames[] = {DYSCO_NEIGHBOUR_LEARN_RESULTS(DYSCO_NEIGHBOUR_LABEL)};
inline constexpr const char* kNeighbourStateNames[] = {DYSCO_NEIGHBOUR_STATES(DYSCO_NEIGHBOUR_LABEL)};
#undef DYSCO_NEIGHBOUR_ENUM
#undef DYSCO_NEIGHBOUR_LABEL

template <typename E, size_t N>
inline const char* NeighbourName(const char* const (&names)[N], E value) {
  const auto index = static_cast<size_t>(value);
  return index < N ? names[index] : "unknown";
}
inline const char* ResolveResultName(ResolveResult r) { return NeighbourName(kResolveResultNames, r); }
inline const char* EnqueueResultName(EnqueueResult r) { return NeighbourName(kEnqueueResultNames, r); }
inline const char* LearnResultName(LearnResult r) { return NeighbourName(kLearnResultNames, r); }
inline const char* NeighbourStateName(NeighbourState s) { return NeighbourName(kNeighbourStateNames, s); }

// True when Resolve filled *mac (the packet can go now).
inline bool ResolveHasMac(ResolveResult r) {
  return r == ResolveResult::kReachable || r == ResolveResult::kStale || r == ResolveResult::kStaleNeedRequest;
}
// True when the caller must send one ARP request for the address now.
inline bool ResolveNeedsRequest(ResolveResult r) {
  return r == ResolveResult::kNeedRequest || r == ResolveResult::kStaleNeedRequest;
}

inline constexpr uint64_t kNanosPerMilli = 1000000;

struct NeighbourConfig {
  uint32_t capacity = 256;                 // entries (1 .. 1<<20)
  uint32_t max_queued_per_entry = 8;       // handles waiting on one next hop (1 .. 65535)
  uint32_t max_queued_total = 1024;        // handles waiting in the whole table (1 .. 1<<24)
  uint32_t max_requests = 3;               // ARP requests per attempt, the first included (1 .. 255)
  uint64_t retry_interval_ns = 200 * kNanosPerMilli;      // at most one request per entry per interval
  uint64_t reachable_lifetime_ns = 30000 * kNanosPerMilli;  // reachable → stale
  uint64_t queue_timeout_ns = 1000 * kNanosPerMilli;        // longest a handle waits in the queue
  uint64_t failed_hold_ns = 1000 * kNanosPerMilli;          // a failed entry refuses new attempts this long
};

// Where handles come back. A plain function pointer and its context, so no call allocates.
struct HandleSink {
  void (*fn)(void* context, void* handle) = nullptr;
  void* context = nullptr;

  void operator()(void* handle) const {
    if (fn != nullptr) fn(context, handle);
  }
};

// Wraps any callable `void(void* handle)` that outlives the call it is passed to.
template <typename F>
HandleSink MakeHandleSink(F& callable) {
  return HandleSink{[](void* context, void* handle) { (*static_cast<F*>(context))(handle); }, &callable};
}

// A copy of one entry's stored state, for inspection (not advanced to `now`).
struct NeighbourInfo {
  NeighbourState state = NeighbourState::kFree;
  MacAddress mac{};
  uint32_t requests_sent = 0;  // in the current attempt or stale re-check
  uint32_t queued = 0;
};

struct NeighbourStats {
  uint64_t evictions = 0;  // reachable/stale/failed entries reused for a new next hop while full
  uint64_t failures = 0;   // attempts that ended failed
};

class NeighbourTable {
 public:
  NeighbourTable() = default;
  ~NeighbourTable();  // hands any queued handle to the destroy sink
  NeighbourTable(const NeighbourTable&) = delete;
  NeighbourTable& operator=(const NeighbourTable&) = delete;

  // Validates the config and allocates everything. Once per table; INVALID_ARGUMENT for a config out
  // of range, a second Init, or memory that could not be had.
  Status Init(const NeighbourConfig& config, HandleSink on_destroy = {});
  bool initialised() const { return entries_ != nullptr; }

  // Looks up (creating if absent) the entry for a next hop and says what to do with a packet for it.
  // When the table is full, the least recently used entry with nothing queued and no resolution in
  // progress (failed ones first) is reused; if there is none, kTableFull.
  ResolveResult Resolve(uint32_t ip_be, uint64_t now, MacAddress* mac);

  // Queues a handle behind an incomplete entry (after kNeedRequest or kPending).
  EnqueueResult Enqueue(uint32_t ip_be, void* handle, uint64_t now);

  // An ARP request or reply from ip_be with hardware address mac was seen. If the entry is tracked it
  // becomes reachable with that MAC and its queued handles go to `sendable`, oldest first.
  LearnResult Learn(uint32_t ip_be, const MacAddress& mac, uint64_t now, HandleSink sendable);
  template <typename F>
  LearnResult Learn(uint32_t ip_be, const MacAddress& mac, uint64_t now, F&& sendable) {
    return Learn(ip_be, mac, now, MakeHandleSink(sendable));
  }

  // Advances every entry to `now`: entries whose requests went unanswered fail; handles of failed
  // entries, and handles that waited queue_timeout, go to `unresolved`; failed entries past
  // failed_hold are removed. O(capacity): call it every few milliseconds. Returns the handles returned.
  uint32_t Expire(uint64_t now, HandleSink unresolved);
  template <typename F>
  uint32_t Expire(uint64_t now, F&& unresolved) {
    return Expire(now, MakeHandleSink(unresolved));
  }

  // Empties the table; every queued handle goes to `unresolved`. Returns the handles returned.
  uint32_t Clear(HandleSink unresolved);
  template <typename F>
  uint32_t Clear(F&& unresolved) {
    return Clear(MakeHandleSink(unresolved));
  }

  bool Lookup(uint32_t ip_be, NeighbourInfo* out) const;

  uint32_t size() const { return used_; }
  uint32_t queued() const { return queued_total_; }
  uint32_t capacity() const { return config_.capacity; }
  const NeighbourConfig& config() const { return config_; }
  const NeighbourStats& stats() const { return stats_; }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;

  struct Entry {
    uint32_t ip_be = 0;
    MacAddress mac{};
    NeighbourState state = NeighbourState::kFree;
    uint8_t requests_sent = 0;
    uint16_t queued = 0;
    uint32_t queue_head = kNil;
    uint32_t queue_tail = kNil;
    uint32_t next_free = kNil;
    uint64_t confirmed_at = 0;     // last Learn
    uint64_t last_request_at = 0;  // last ARP request we told the caller to send
    uint64_t failed_at = 0;
    uint64_t last_used_at = 0;     // last Resolve, for eviction
  };

  struct QueueNode {
    void* handle = nullptr;
    uint64_t enqueued_at = 0;
    uint32_t next = kNil;
  };

  uint32_t Slot(uint32_t ip_be) const;
  uint32_t Find(uint32_t ip_be) const;  // entry index or kNil
  uint32_t Allocate(uint32_t ip_be);    // entry index or kNil; the entry is in the index, state unset
  void Release(uint32_t index);         // removes from the index and frees; the queue must be empty
  void IndexErase(uint32_t ip_be);
  void Advance(Entry& entry, uint64_t now);
  void Fail(Entry& entry, uint64_t now);
  void StartAttempt(Entry& entry, uint64_t now);
  uint32_t Drain(Entry& entry, HandleSink sink);  // hands back the whole queue, oldest first
  void PopFront(Entry& entry);

  NeighbourConfig config_{};
  HandleSink on_destroy_{};
  std::unique_ptr<Entry[]> entries_;
  std::unique_ptr<uint32_t[]> index_;  // open addressing, linear probing: entry index + 1, 0 = empty
  std::unique_ptr<QueueNode[]> nodes_;
  uint32_t index_mask_ = 0;
  uint32_t index_shift_ = 0;
  uint32_t free_entry_ = kNil;
  uint32_t free_node_ = kNil;
  uint32_t used_ = 0;
  uint32_t queued_total_ = 0;
  NeighbourStats stats_{};
};

}  // namespace dysco
