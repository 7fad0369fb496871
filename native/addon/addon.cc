// Entry of the agent's addon `dysco_native`: EAL lifecycle, the Datapath class, the error-code and drop-reason
// lists. The bindings that reach into the core for tests are a separate addon (test_addon.cc).
#include <napi.h>

#include "addon/code_lists.h"
#include "addon/conntrack_js.h"
#include "addon/datapath_wrap.h"
#include "addon/errors.h"
#include "addon/lifecycle.h"
#include "core/counters.h"
#include "dpdk/eal.h"

namespace dysco::addon {
namespace {

Napi::Value EalInitFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    ThrowType(env, "ealInit: an array of EAL arguments is expected");
    return env.Undefined();
  }
  const Napi::Array array = info[0].As<Napi::Array>();
  std::vector<std::string> args;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value arg = array.Get(i);
    if (!arg.IsString()) {
      ThrowType(env, "ealInit: every EAL argument must be a string");
      return env.Undefined();
    }
    args.push_back(arg.As<Napi::String>().Utf8Value());
  }
  std::string detail;
  const Status status = dpdk::EalInit(args, &detail);
  if (status != Status::OK) {
    ThrowStatus(env, status, detail);
    return env.Undefined();
  }
  InstallExitHandler();
  return Napi::String::New(env, dpdk::EalRuntimeDir());
}

Napi::Value EalCleanup(const Napi::CallbackInfo& info) {
  ShutdownNative();
  return info.Env().Undefined();
}

Napi::Value EalStateName(const Napi::CallbackInfo& info) {
  switch (dpdk::CurrentEalState()) {
    case dpdk::EalState::kUninitialised: return Napi::String::New(info.Env(), "uninitialised");
    case dpdk::EalState::kRunning: return Napi::String::New(info.Env(), "running");
    case dpdk::EalState::kCleanedUp: return Napi::String::New(info.Env(), "cleaned-up");
  }
  return info.Env().Undefined();
}

Napi::Object ErrorCodes(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& code : kErrorCodes) out.Set(code.name, code.value);
  return out;
}

Napi::Array DropReasons(Napi::Env env) {
  Napi::Array out = Napi::Array::New(env, kDropReasonCount);
  for (uint32_t i = 0; i < kDropReasonCount; ++i) out.Set(i, kDropReasonLabels[i]);
  return out;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ealInit", Napi::Function::New<EalInitFn>(env, "ealInit"));
  exports.Set("ealCleanup", Napi::Function::New<EalCleanup>(env, "ealCleanup"));
  exports.Set("ealState", Napi::Function::New<EalStateName>(env, "ealState"));
  exports.Set("errorCodes", ErrorCodes(env));
  exports.Set("dropReasons", DropReasons(env));
  RegisterCodeLists(env, exports);
  exports.Set("Datapath", DatapathWrap::Define(env));
  RegisterConntrack(env, exports);
  return exports;
}

}  // namespace dysco::addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return dysco::addon::Init(env, exports); }

NODE_API_MODULE(dysco_native, InitModule)
