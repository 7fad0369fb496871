// Entry of the test-only addon `dysco_core_test`: native/core on Buffers without EAL (packet views, checksums,
// tables, neighbours, the address list and tag option, the session pipeline, the MACs). Loaded from test/ and bench/ only;
// the agent's addon (addon.cc) does not contain these bindings.
#include <napi.h>

#include "addon/core_bindings.h"
#include "addon/mac_bindings.h"
#include "addon/neighbour_bindings.h"
#include "addon/pipeline_bindings.h"
#include "addon/protocol_bindings.h"
#include "addon/table_bindings.h"

namespace {

Napi::Object InitTestModule(Napi::Env env, Napi::Object exports) {
  dysco::addon::RegisterCoreBindings(env, exports);
  dysco::addon::RegisterTableBindings(env, exports);
  dysco::addon::RegisterNeighbourBindings(env, exports);
  dysco::addon::RegisterProtocolBindings(env, exports);
  dysco::addon::RegisterPipelineBindings(env, exports);
  dysco::addon::RegisterMacBindings(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(dysco_core_test, InitTestModule)
