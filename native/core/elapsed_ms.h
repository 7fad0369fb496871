#pragma once
// Milliseconds since a mark on the pipeline's 32-bit clock, read as serial numbers (it wraps after 49
// days). A mark in the future counts as just now: a caller whose clock steps back by a tick must not
// make a fresh record look ancient and expire it.
#include <cstdint>

namespace dysco {

inline uint32_t ElapsedMs(uint32_t now, uint32_t since) {
  const uint32_t elapsed = now - since;
  return static_cast<int32_t>(elapsed) < 0 ? 0 : elapsed;
}

}  // namespace dysco
