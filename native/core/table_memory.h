#pragma once
// Zeroed memory for the datapath's large tables. Blocks of 2 MiB or more are aligned to 2 MiB and
// asked for transparent huge pages: at a million sessions a random access otherwise pays a TLB miss
// on top of its cache miss. Zeroing touches every page now rather than on the datapath.
#include <cstddef>

namespace dysco {

// nullptr when the allocation fails.
void* AllocateTableMemory(size_t bytes, size_t alignment);
void FreeTableMemory(void* memory);

}  // namespace dysco
