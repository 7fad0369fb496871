#pragma once
// The agent addon's conntrack functions (conntrack_js.cc).
#include <napi.h>

namespace dysco::addon {

void RegisterConntrack(Napi::Env env, Napi::Object exports);

}  // namespace dysco::addon
