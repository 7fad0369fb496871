#pragma once
// Messages between the control plane and the datapath lcore. Requests travel TS → lcore through a
// single-producer ring and come back, completed, as events; the lcore never blocks on either side.
#include <cstdint>

#include "core/error_codes.h"

namespace dysco {

enum class RequestType : uint32_t {
  kPing = 1,         // liveness: the lcore answers with its loop iteration count and TSC
  kSetPollMode = 2,  // args[0]: PollMode, args[1]: longest idle sleep in microseconds
  kInstallPolicies = 3,  // args[0]: PolicySet* to swap in; results[0]: the PolicySet* it replaced
  kDumpSessions = 4,     // args[0]: SessionSummary* out, args[1]: first slot, args[2]: capacity;
                         // results[0]: summaries written, results[1]: next slot (UINT64_MAX at the end)
};

enum class PollMode : uint32_t { kAdaptive = 0, kBusy = 1 };

struct Request {
  RequestType type;
  uint32_t id;  // chosen by the control plane; echoed in the completion
  uint64_t args[4];
  Status status;  // written by the lcore
  uint64_t results[4];
};

enum class EventType : uint32_t {
  kRequestDone = 1,  // request points at the completed Request; the control plane owns it again
};

struct Event {
  EventType type;
  uint32_t reserved;
  Request* request;
};

}  // namespace dysco

namespace dysco {
// Events travel by value through an rte_ring of fixed-size elements (multiple of 4 bytes).
static_assert(sizeof(Event) % 4 == 0, "event ring elements must be a multiple of 4 bytes");
static_assert(sizeof(Event) == 16, "keep events small: they are copied through the ring");
}  // namespace dysco
