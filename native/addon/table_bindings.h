#pragma once
// exports.flowTable: native/core/flow_table.h behind a thin ObjectWrap, for the native test tier
// (no EAL). TypeScript (src/native/table-binding.ts) describes the surface.
#include <napi.h>

namespace dysco::addon {

void RegisterTableBindings(Napi::Env env, Napi::Object exports);

}  // namespace dysco::addon
