#pragma once
// The session pipeline on Node Buffers, without EAL: whole conversations can be walked through
// several agents in one process (the native test tier and the pipeline benchmark's correctness runs).
#include <napi.h>

namespace dysco::addon {

void RegisterPipelineBindings(Napi::Env env, Napi::Object exports);

}  // namespace dysco::addon
