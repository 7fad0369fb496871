// exports.mac: sha256(data), hmacSha256(key, data), sipHash24(key16, data), each returning a new Buffer; and the
// address list's authentication block: signAddressList(keys, signingId, nowS, list, carrier) and
// verifyAddressList(keys, nowS, maxSkewS, payload, carrier), keys as [{ id, key }].
#include "addon/mac_bindings.h"

#include <string>
#include <vector>

#include "addon/list_auth_js.h"
#include "core/list_auth.h"
#include "core/mac.h"

namespace dysco::addon {
namespace {

bool BufferArguments(const Napi::CallbackInfo& info, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (i >= info.Length() || !info[i].IsBuffer()) {
      Napi::TypeError::New(info.Env(), "mac: Buffer arguments expected").ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

Napi::Value Sha256Js(const Napi::CallbackInfo& info) {
  if (!BufferArguments(info, 1)) return info.Env().Undefined();
  const auto data = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), kSha256Bytes);
  Sha256(data.Data(), data.Length(), out.Data());
  return out;
}

Napi::Value HmacSha256Js(const Napi::CallbackInfo& info) {
  if (!BufferArguments(info, 2)) return info.Env().Undefined();
  const auto key = info[0].As<Napi::Buffer<uint8_t>>();
  const auto data = info[1].As<Napi::Buffer<uint8_t>>();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), kSha256Bytes);
  HmacSha256Key(key.Data(), key.Length()).Mac(data.Data(), data.Length(), out.Data());
  return out;
}

Napi::Value SipHash24Js(const Napi::CallbackInfo& info) {
  if (!BufferArguments(info, 2)) return info.Env().Undefined();
  const auto key = info[0].As<Napi::Buffer<uint8_t>>();
  const auto data = info[1].As<Napi::Buffer<uint8_t>>();
  if (key.Length() != kSipHashKeyBytes) {
    Napi::RangeError::New(info.Env(), "mac: a SipHash key is 16 bytes").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), kSipHashBytes);
  SipHashKey(key.Data()).Mac(data.Data(), data.Length(), out.Data());
  return out;
}

// [{ id, key: Buffer(16) }] into a ring; throws (and returns false) on anything else.
bool ReadRing(const Napi::Env& env, const Napi::Value& value, ListKeyRing* ring) {
  const std::string problem = ListKeyRingFromJs(value, ring);
  if (problem.empty()) return true;
  if (value.IsArray()) {
    Napi::RangeError::New(env, "mac: " + problem).ThrowAsJavaScriptException();
  } else {
    Napi::TypeError::New(env, "mac: " + problem).ThrowAsJavaScriptException();
  }
  return false;
}

// (keys, number, number, Buffer, carrier Buffer(12)), the shape of both list functions; throws naming `usage` on
// anything else.
bool ListArguments(const Napi::CallbackInfo& info, const char* usage, ListKeyRing* ring) {
  if (info.Length() < 5 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsBuffer() || !info[4].IsBuffer() ||
      info[4].As<Napi::Buffer<uint8_t>>().Length() != kListCarrierBytes) {
    Napi::TypeError::New(info.Env(), std::string("mac: ") + usage).ThrowAsJavaScriptException();
    return false;
  }
  return ReadRing(info.Env(), info[0], ring);
}

Napi::Value SignAddressListJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ListKeyRing ring;
  if (!ListArguments(info, "signAddressList(keys, signingId, nowS, list, carrier: Buffer(12))", &ring)) return env.Undefined();
  ring.SetSigning(static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value()));
  const auto list = info[3].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> out(list.Data(), list.Data() + list.Length());
  out.resize(list.Length() + kListAuthBlockSize);
  const size_t size = SignAddressList(out.data(), list.Length(), out.size(), ring, info[2].As<Napi::Number>().Uint32Value(),
                                      info[4].As<Napi::Buffer<uint8_t>>().Data());
  if (size == 0) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), size);
}

Napi::Value VerifyAddressListJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ListKeyRing ring;
  if (!ListArguments(info, "verifyAddressList(keys, nowS, maxSkewS, payload, carrier: Buffer(12))", &ring)) return env.Undefined();
  const auto payload = info[3].As<Napi::Buffer<uint8_t>>();
  size_t list_size = 0;
  const ListAuthStatus status = VerifyAddressList(payload.Data(), payload.Length(), ring, info[1].As<Napi::Number>().Uint32Value(),
                                                  info[2].As<Napi::Number>().Uint32Value(),
                                                  info[4].As<Napi::Buffer<uint8_t>>().Data(), &list_size);
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", Napi::String::New(env, kListAuthStatusNames[static_cast<size_t>(status)]));
  if (status == ListAuthStatus::kOk) result.Set("listSize", Napi::Number::New(env, static_cast<double>(list_size)));
  return result;
}

}  // namespace

void RegisterMacBindings(Napi::Env env, Napi::Object exports) {
  Napi::Object mac = Napi::Object::New(env);
  mac.Set("sha256", Napi::Function::New(env, Sha256Js, "sha256"));
  mac.Set("hmacSha256", Napi::Function::New(env, HmacSha256Js, "hmacSha256"));
  mac.Set("sipHash24", Napi::Function::New(env, SipHash24Js, "sipHash24"));
  mac.Set("signAddressList", Napi::Function::New(env, SignAddressListJs, "signAddressList"));
  mac.Set("verifyAddressList", Napi::Function::New(env, VerifyAddressListJs, "verifyAddressList"));
  exports.Set("mac", mac);
}

}  // namespace dysco::addon
