#pragma once
// The one conversion of a compiled policy set (a Buffer from src/policy/compile.ts) into a PolicySet,
// for the Datapath's options, its installPolicies() and the Buffer harness.
#include <napi.h>

#include <memory>
#include <string>

#include "core/policy_rules.h"

namespace dysco::addon {

enum class PolicyJsResult { kOk, kNotBuffer, kMalformed };

// On kMalformed, *reason names what is wrong (PolicyParseStatusName).
PolicyJsResult PolicySetFromJs(const Napi::Value& value, std::unique_ptr<PolicySet>* out, std::string* reason);

}  // namespace dysco::addon
