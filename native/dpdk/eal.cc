#include "dpdk/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>

#include <atomic>
#include <filesystem>
#include <mutex>

namespace dysco::dpdk {
namespace {

std::mutex g_eal_mutex;
std::atomic<EalState> g_state{EalState::kUninitialised};
std::string g_runtime_dir;

}  // namespace

Status EalInit(const std::vector<std::string>& args, std::string* detail) {
  std::lock_guard<std::mutex> lock(g_eal_mutex);
  switch (g_state.load()) {
    case EalState::kRunning: return Status::EAL_ALREADY_INITIALISED;
    case EalState::kCleanedUp: return Status::EAL_CLEANED_UP;
    case EalState::kUninitialised: break;
  }

  std::vector<std::string> owned;
  owned.reserve(args.size() + 1);
  owned.emplace_back("dysco");
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : owned) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // rte_eal_init pins the calling thread to the main lcore's CPU set; the calling thread is Node's
  // main thread, which must keep floating over every CPU it had.
  cpu_set_t original;
  const bool have_affinity = sched_getaffinity(0, sizeof(original), &original) == 0;

  const int rc = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());

  if (have_affinity) sched_setaffinity(0, sizeof(original), &original);
  if (rc < 0) {
    if (detail) *detail = rte_strerror(rte_errno);
    // A failed rte_eal_init cannot be retried in the same process either.
    g_state = EalState::kCleanedUp;
    return Status::EAL_INIT_FAILED;
  }
  g_runtime_dir = rte_eal_get_runtime_dir();
  g_state = EalState::kRunning;
  return Status::OK;
}

void EalCleanup() {
  std::lock_guard<std::mutex> lock(g_eal_mutex);
  if (g_state.load() != EalState::kRunning) return;
  rte_eal_cleanup();
  g_state = EalState::kCleanedUp;
  if (!g_runtime_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(g_runtime_dir, ignored);
  }
}

EalState CurrentEalState() { return g_state.load(); }

const std::string& EalRuntimeDir() { return g_runtime_dir; }

}  // namespace dysco::dpdk
