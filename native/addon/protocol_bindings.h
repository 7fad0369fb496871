#pragma once
// N-API functions that run the Dysco wire formats of native/core (address list, tag option) on Node
// Buffers: for the native test tier and for tools.
#include <napi.h>

namespace dysco::addon {

void RegisterProtocolBindings(Napi::Env env, Napi::Object exports);

}  // namespace dysco::addon
