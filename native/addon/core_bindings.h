#pragma once
// N-API functions that run native/core code on Node Buffers (no EAL): packet views, option walker,
// checksum helpers. Used by the native test tier and by tools.
#include <napi.h>

namespace dysco::addon {

void RegisterCoreBindings(Napi::Env env, Napi::Object exports);

}  // namespace dysco::addon
