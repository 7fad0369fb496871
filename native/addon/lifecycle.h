#pragma once
// Native threads must never outlive the process's JavaScript environment: every open datapath is
// registered here and closed (lcore joined, ports closed) before the EAL is cleaned up, whether
// the environment is torn down normally or the process calls exit().
namespace dysco::dpdk {
class Datapath;
}

namespace dysco::addon {

void RegisterDatapath(dpdk::Datapath* datapath);
void UnregisterDatapath(dpdk::Datapath* datapath);
// Closes every registered datapath and cleans up the EAL. Safe to call more than once.
void ShutdownNative();
// Installs the atexit handler once per process.
void InstallExitHandler();

}  // namespace dysco::addon
