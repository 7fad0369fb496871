#pragma once
// The JavaScript shape of a NewPathSpec (core/reconfig_requests.h), shared by the Datapath class and the
// Buffer harness:
//   { sessionId, hostTuple: { srcIp, dstIp, srcPort, dstPort }, side: 'right' | 'left', nonce,
//     delta: { forward, reverse }, hops: number[] }      (addresses are host-order numbers)
#include <napi.h>

#include <string>

#include "core/reconfig_requests.h"

namespace dysco::addon {

// False with *error set when the object is not such a spec.
bool NewPathSpecFromJs(const Napi::Value& value, NewPathSpec* out, std::string* error);

}  // namespace dysco::addon
