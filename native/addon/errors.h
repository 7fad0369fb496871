#pragma once
// The only place native status codes become JavaScript exceptions. The thrown Error carries
// `code` (the name from error_codes.def) so TypeScript can map it onto DatapathError.
#include <napi.h>

#include <string>

#include "core/error_codes.h"

namespace dysco::addon {

inline Napi::Error StatusError(Napi::Env env, Status status, const std::string& detail = {}) {
  std::string message = StatusMessage(status);
  if (!detail.empty()) message += ": " + detail;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, StatusName(status)));
  error.Set("status", Napi::Number::New(env, static_cast<int32_t>(status)));
  return error;
}

inline void ThrowStatus(Napi::Env env, Status status, const std::string& detail = {}) {
  StatusError(env, status, detail).ThrowAsJavaScriptException();
}

inline void ThrowType(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

}  // namespace dysco::addon
