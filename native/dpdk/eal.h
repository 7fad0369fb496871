#pragma once
// Process-wide DPDK EAL lifecycle. The EAL can be initialised exactly once per process and, after
// rte_eal_cleanup, never again; both are reported as distinct errors rather than crashes.
#include <string>
#include <vector>

#include "core/error_codes.h"

namespace dysco::dpdk {

enum class EalState { kUninitialised, kRunning, kCleanedUp };

// args excludes argv[0]. On failure, *detail gets DPDK's reason (rte_strerror of rte_errno).
Status EalInit(const std::vector<std::string>& args, std::string* detail);
// Idempotent; a no-op unless the EAL is running. Removes the runtime directory EAL created.
void EalCleanup();
EalState CurrentEalState();
const std::string& EalRuntimeDir();

}  // namespace dysco::dpdk
