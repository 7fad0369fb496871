#include "addon/list_auth_js.h"

namespace dysco::addon {
namespace {

constexpr uint32_t kMaxSkewSeconds = 86400;

bool UintIn(const Napi::Value& value, uint32_t lo, uint32_t hi, uint32_t* out) {
  if (!value.IsNumber()) return false;
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= lo && number <= hi) || number != static_cast<double>(static_cast<uint32_t>(number))) return false;
  *out = static_cast<uint32_t>(number);
  return true;
}

std::string UnsignedMatchFromJs(const Napi::Value& value, UnsignedListMatch* match) {
  if (!value.IsObject()) return "acceptUnsigned: each entry is an object";
  const auto entry = value.As<Napi::Object>();
  uint32_t fields[6];
  const char* names[6] = {"srcNet", "srcMask", "dstNet", "dstMask", "dstPortLo", "dstPortHi"};
  for (int i = 0; i < 6; ++i) {
    if (!UintIn(entry.Get(names[i]), 0, i < 4 ? UINT32_MAX : 0xffff, &fields[i])) {
      return std::string("acceptUnsigned: ") + names[i] + (i < 4 ? " must be a u32" : " must be a port");
    }
  }
  if (fields[4] > fields[5]) return "acceptUnsigned: dstPortLo above dstPortHi";
  *match = UnsignedListMatch{fields[0] & fields[1], fields[1], fields[2] & fields[3], fields[3],
                             static_cast<uint16_t>(fields[4]), static_cast<uint16_t>(fields[5])};
  return {};
}

}  // namespace

std::string ListKeyRingFromJs(const Napi::Value& value, ListKeyRing* ring) {
  if (!value.IsArray()) return "keys must be an array of { id, key }";
  const auto keys = value.As<Napi::Array>();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const Napi::Value entry = keys.Get(i);
    if (!entry.IsObject()) return "keys must be an array of { id, key }";
    const Napi::Value key = entry.As<Napi::Object>().Get("key");
    uint32_t id;
    if (!UintIn(entry.As<Napi::Object>().Get("id"), 1, 0xffff, &id) || !key.IsBuffer() ||
        key.As<Napi::Buffer<uint8_t>>().Length() != kSipHashKeyBytes ||
        !ring->Add(static_cast<uint16_t>(id), key.As<Napi::Buffer<uint8_t>>().Data())) {
      return "a key is { id: 1..65535, unique, key: Buffer(16) }, at most 8";
    }
  }
  return {};
}

std::string ListAuthPolicyFromJs(const Napi::Value& value, std::unique_ptr<ListAuthPolicy>* out) {
  if (value.IsNull() || value.IsUndefined()) return {};
  if (!value.IsObject()) return "list authentication: an object or null expected";
  const auto settings = value.As<Napi::Object>();
  auto policy = std::make_unique<ListAuthPolicy>();
  std::string problem = ListKeyRingFromJs(settings.Get("keys"), &policy->ring);
  if (!problem.empty()) return problem;
  uint32_t signing;
  if (!UintIn(settings.Get("signingKeyId"), 0, 0xffff, &signing)) return "signingKeyId must be 0 or a key id";
  if (signing != 0 && !policy->ring.SetSigning(static_cast<uint16_t>(signing))) return "signingKeyId names no key";
  if (!UintIn(settings.Get("maxSkewSeconds"), 1, kMaxSkewSeconds, &policy->max_skew_s)) {
    return "maxSkewSeconds must be an integer in 1..86400";
  }
  const Napi::Value accept = settings.Get("acceptUnsigned");
  if (accept.IsBoolean()) {
    policy->accept_all_unsigned = accept.As<Napi::Boolean>().Value();
  } else if (accept.IsArray()) {
    const auto matches = accept.As<Napi::Array>();
    if (matches.Length() > ListAuthPolicy::kMaxUnsignedMatches) return "acceptUnsigned: at most 64 entries";
    for (uint32_t i = 0; i < matches.Length(); ++i) {
      problem = UnsignedMatchFromJs(matches.Get(i), &policy->unsigned_matches[i]);
      if (!problem.empty()) return problem;
    }
    policy->unsigned_match_count = matches.Length();
  } else {
    return "acceptUnsigned must be a boolean or an array of matches";
  }
  *out = std::move(policy);
  return {};
}

}  // namespace dysco::addon
