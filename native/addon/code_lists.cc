#include "addon/code_lists.h"

#include "core/control_messages.h"
#include "core/session_pipeline.h"
#include "core/session_summary.h"

namespace dysco::addon {
namespace {

template <size_t N>
Napi::Array Labels(Napi::Env env, const char* const (&labels)[N]) {
  Napi::Array out = Napi::Array::New(env, N);
  for (uint32_t i = 0; i < N; ++i) out.Set(i, labels[i]);
  return out;
}

constexpr const char* kTeardownCauseLabels[] = {
#define DYSCO_TEARDOWN_CAUSE(name, label, meaning) label,
#include "core/teardown_causes.def"
#undef DYSCO_TEARDOWN_CAUSE
};

constexpr const char* kPipelineCounterKeys[] = {
#define DYSCO_PIPELINE_COUNTER(field, key, metric, kind, meaning) key,
#include "core/pipeline_counters.def"
#undef DYSCO_PIPELINE_COUNTER
};

}  // namespace

void RegisterCodeLists(Napi::Env env, Napi::Object exports) {
  Napi::Object requests = Napi::Object::New(env);
  Napi::Object served_by = Napi::Object::New(env);
  for (const auto& info : kRequestTypes) {
    requests.Set(info.name, info.value);
    served_by.Set(info.name, info.pipeline ? "pipeline" : "loop");
  }
  Napi::Object events = Napi::Object::New(env);
  Napi::Object event_labels = Napi::Object::New(env);
  for (const auto& info : kEventTypes) {
    events.Set(info.name, info.value);
    event_labels.Set(info.name, info.label);
  }
  exports.Set("requestTypes", requests);
  exports.Set("requestServedBy", served_by);
  exports.Set("eventTypes", events);
  exports.Set("eventLabels", event_labels);
  exports.Set("sessionStates", Labels(env, kSessionStateLabels));
  exports.Set("sessionRoles", Labels(env, kSessionRoleLabels));
  exports.Set("teardownCauses", Labels(env, kTeardownCauseLabels));
  exports.Set("pipelineCounters", Labels(env, kPipelineCounterKeys));
}

}  // namespace dysco::addon
