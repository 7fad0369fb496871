#pragma once
// The one conversion of the agent's list-authentication settings (src/security/list-auth.ts compiles them) into a
// ListAuthPolicy, for the Datapath's options and installListAuth(), the Buffer harness and the mac test bindings:
//
//   null | { keys: [{ id: 1..65535, key: Buffer(16) }] (at most 8), signingKeyId: 0 (none) | an id of keys,
//            maxSkewSeconds: 1..86400, acceptUnsigned: boolean | [{ srcNet, srcMask, dstNet, dstMask,
//            dstPortLo, dstPortHi }] (host-order numbers, at most 64) }
#include <napi.h>

#include <memory>
#include <string>

#include "core/list_auth.h"

namespace dysco::addon {

// Keys as [{ id, key }] into `ring`; an empty string, or what is wrong.
std::string ListKeyRingFromJs(const Napi::Value& value, ListKeyRing* ring);

// null or undefined: *out stays empty (no authentication). Returns an empty string, or what is wrong.
std::string ListAuthPolicyFromJs(const Napi::Value& value, std::unique_ptr<ListAuthPolicy>* out);

}  // namespace dysco::addon
