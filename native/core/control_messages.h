#pragma once
// Messages between the control plane and the datapath lcore. Requests travel TS → lcore through a
// single-producer ring and come back, completed, as RequestDone events; the lcore never blocks on
// either side. The types are lists (requests.def, events.def) that TypeScript is generated from.
#include <cstdint>

#include "core/error_codes.h"

namespace dysco {

enum class RequestType : uint32_t {
#define DYSCO_REQUEST(name, value, served_by, meaning) k##name = value,
#include "core/requests.def"
#undef DYSCO_REQUEST
};

// True for requests SessionPipeline::Serve answers; the others are about the poll loop (native/dpdk).
inline constexpr bool ServedByPipeline(RequestType type) {
  switch (type) {
#define DYSCO_REQUEST(name, value, served_by, meaning) \
  case RequestType::k##name: return #served_by[0] == 'p';
#include "core/requests.def"
#undef DYSCO_REQUEST
  }
  return false;
}

enum class PollMode : uint32_t { kAdaptive = 0, kBusy = 1 };

struct Request {
  RequestType type;
  uint32_t id;  // chosen by the control plane; echoed in the completion
  uint64_t args[4];
  Status status;  // written by the lcore
  uint64_t results[4];
};

enum class EventType : uint32_t {
#define DYSCO_EVENT(name, value, label, meaning) k##name = value,
#include "core/events.def"
#undef DYSCO_EVENT
};

struct EventTypeInfo {
  const char* name;
  uint32_t value;
  const char* label;
};

inline constexpr EventTypeInfo kEventTypes[] = {
#define DYSCO_EVENT(name, value, label, meaning) {#name, value, label},
#include "core/events.def"
#undef DYSCO_EVENT
};

struct RequestTypeInfo {
  const char* name;
  uint32_t value;
  bool pipeline;
};

inline constexpr RequestTypeInfo kRequestTypes[] = {
#define DYSCO_REQUEST(name, value, served_by, meaning) {#name, value, #served_by[0] == 'p'},
#include "core/requests.def"
#undef DYSCO_REQUEST
};

// What events.def says each type carries in `subject` and `value`.
struct Event {
  EventType type;
  uint32_t subject;
  uint64_t value;

  static Event Completion(Request* request) {
    return Event{EventType::kRequestDone, 0, reinterpret_cast<uint64_t>(request)};
  }
  Request* request() const { return reinterpret_cast<Request*>(value); }
};

}  // namespace dysco

namespace dysco {
// Events travel by value through an rte_ring of fixed-size elements (multiple of 4 bytes).
static_assert(sizeof(Event) % 4 == 0, "event ring elements must be a multiple of 4 bytes");
static_assert(sizeof(Event) == 16, "keep events small: they are copied through the ring");
}  // namespace dysco
