#include "addon/policy_js.h"

namespace dysco::addon {

PolicyJsResult PolicySetFromJs(const Napi::Value& value, std::unique_ptr<PolicySet>* out, std::string* reason) {
  if (!value.IsBuffer()) return PolicyJsResult::kNotBuffer;
  const auto buffer = value.As<Napi::Buffer<uint8_t>>();
  auto parsed = std::make_unique<PolicySet>();
  const PolicyParseStatus status = ParsePolicySet(buffer.Data(), buffer.Length(), parsed.get());
  if (status != PolicyParseStatus::kOk) {
    *reason = PolicyParseStatusName(status);
    return PolicyJsResult::kMalformed;
  }
  *out = std::move(parsed);
  return PolicyJsResult::kOk;
}

}  // namespace dysco::addon
