#pragma once
// Status codes returned across the native layers; exceptions exist only at the N-API edge.
#include <cstdint>

namespace dysco {

enum class Status : int32_t {
#define DYSCO_ERROR(name, value, message) name = value,
#include "core/error_codes.def"
#undef DYSCO_ERROR
};

struct ErrorCodeInfo {
  const char* name;
  int32_t value;
  const char* message;
};

inline constexpr ErrorCodeInfo kErrorCodes[] = {
#define DYSCO_ERROR(name, value, message) {#name, value, message},
#include "core/error_codes.def"
#undef DYSCO_ERROR
};

inline const char* StatusMessage(Status status) {
  for (const auto& info : kErrorCodes) {
    if (info.value == static_cast<int32_t>(status)) return info.message;
  }
  return "unknown status";
}

inline const char* StatusName(Status status) {
  for (const auto& info : kErrorCodes) {
    if (info.value == static_cast<int32_t>(status)) return info.name;
  }
  return "UNKNOWN";
}

}  // namespace dysco
