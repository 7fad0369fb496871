#pragma once
// The native .def lists as the compiled addon sees them (request and event types, session states and
// roles, teardown causes, pipeline counters), so a test can check that the generated TypeScript agrees.
#include <napi.h>

namespace dysco::addon {

void RegisterCodeLists(Napi::Env env, Napi::Object exports);

}  // namespace dysco::addon
