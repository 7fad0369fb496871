#include "core/table_memory.h"

#include <cstdlib>
#include <cstring>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace dysco {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

}  // namespace

void* AllocateTableMemory(size_t bytes, size_t alignment) {
  if (bytes >= kHugePage) alignment = kHugePage;
  const size_t rounded = (bytes + alignment - 1) / alignment * alignment;  // aligned_alloc needs a multiple
  void* memory = std::aligned_alloc(alignment, rounded);
  if (memory == nullptr) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (alignment == kHugePage) madvise(memory, rounded, MADV_HUGEPAGE);  // advisory: failure costs only speed
#endif
  std::memset(memory, 0, rounded);
  return memory;
}

void FreeTableMemory(void* memory) { std::free(memory); }

}  // namespace dysco
