#include "addon/lifecycle.h"

#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "dpdk/datapath.h"
#include "dpdk/eal.h"

namespace dysco::addon {
namespace {

std::mutex g_mutex;
std::unordered_set<dpdk::Datapath*>* g_datapaths = new std::unordered_set<dpdk::Datapath*>();  // never freed: used at exit
std::once_flag g_exit_handler_once;

}  // namespace

void RegisterDatapath(dpdk::Datapath* datapath) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_datapaths->insert(datapath);
}

void UnregisterDatapath(dpdk::Datapath* datapath) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_datapaths->erase(datapath);
}

void ShutdownNative() {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (dpdk::Datapath* datapath : *g_datapaths) datapath->Close();
    g_datapaths->clear();
  }
  dpdk::EalCleanup();
}

void InstallExitHandler() {
  std::call_once(g_exit_handler_once, [] { std::atexit(ShutdownNative); });
}

}  // namespace dysco::addon
