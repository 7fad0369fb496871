#pragma once
// N-API functions over native/core/mac.h on Node Buffers (exports.mac): for the native test tier, which checks
// them against published test vectors and against Node's own crypto.
#include <napi.h>

namespace dysco::addon {

void RegisterMacBindings(Napi::Env env, Napi::Object exports);

}  // namespace dysco::addon
