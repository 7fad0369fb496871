#pragma once
// exports.neighbours: ARP parse/build and the next-hop NeighbourTable (native/core) on Node values,
// for the native test tier and tools. No EAL.
#include <napi.h>

namespace dysco::addon {

void RegisterNeighbourBindings(Napi::Env env, Napi::Object exports);

}  // namespace dysco::addon
