// exports.mac: sha256(data), hmacSha256(key, data), sipHash24(key16, data), each returning a new Buffer.
#include "addon/mac_bindings.h"

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

}  // namespace

void RegisterMacBindings(Napi::Env env, Napi::Object exports) {
  Napi::Object mac = Napi::Object::New(env);
  mac.Set("sha256", Napi::Function::New(env, Sha256Js, "sha256"));
  mac.Set("hmacSha256", Napi::Function::New(env, HmacSha256Js, "hmacSha256"));
  mac.Set("sipHash24", Napi::Function::New(env, SipHash24Js, "sipHash24"));
  exports.Set("mac", mac);
}

}  // namespace dysco::addon
