#pragma once
// JavaScript class `Datapath`: typed options in, status errors out, requests as Promises completed
// by events from the lcore, and counters copied on demand.
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/list_auth.h"
#include "core/policy_rules.h"
#include "dpdk/datapath.h"

namespace dysco::addon {

class DatapathWrap : public Napi::ObjectWrap<DatapathWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DatapathWrap(const Napi::CallbackInfo& info);
  ~DatapathWrap() override;

 private:
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SubmitRequest(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value InstallPolicies(const Napi::CallbackInfo& info);
  Napi::Value InstallListAuth(const Napi::CallbackInfo& info);
  Napi::Value Sessions(const Napi::CallbackInfo& info);
  Napi::Value FindSession(const Napi::CallbackInfo& info);
  Napi::Value PipelineStats(const Napi::CallbackInfo& info);
  Napi::Value Transmit(const Napi::CallbackInfo& info);
  Napi::Value OpenNewPath(const Napi::CallbackInfo& info);
  Napi::Value ExpectNewPath(const Napi::CallbackInfo& info);
  Napi::Value SubmitNewPath(const Napi::CallbackInfo& info, RequestType type);
  Napi::Value AbandonNewPath(const Napi::CallbackInfo& info);
  Napi::Value RetireSession(const Napi::CallbackInfo& info);
  Napi::Value SetEventListener(const Napi::CallbackInfo& info);
  void DeliverEvent(Napi::Env env, const Event& event);
  std::string ParsePipelineOptions(const Napi::Object& options);

  std::string ParseOptions(const Napi::Object& options);
  static void WakeFromLcore(void* self);
  void OnEvents(Napi::Env env);
  void ReleaseEventChannel();
  void OnEnvTeardown();
  void FailPendingRequests(Napi::Env env, Status status);

  dpdk::DatapathConfig config_;
  std::unique_ptr<PolicySet> initial_policies_;
  std::unique_ptr<ListAuthPolicy> initial_list_auth_;
  std::unique_ptr<dpdk::Datapath> datapath_;
  Napi::ThreadSafeFunction events_tsfn_;
  Napi::FunctionReference event_listener_;
  Napi::Reference<Napi::Value> listener_error_;
  bool tsfn_live_ = false;
  bool env_torn_down_ = false;
  Napi::Env::CleanupHook<std::function<void()>> cleanup_hook_;
  uint32_t next_request_id_ = 1;
  // Builds the Promise's value from a completed request (on the JS thread).
  using Finisher = std::function<Napi::Value(Napi::Env, dysco::Request&)>;
  // Frees what the request carried; `completed` says whether the lcore served it.
  using Releaser = std::function<void(dysco::Request&, bool completed)>;
  struct PendingRequest {
    Napi::Promise::Deferred deferred;
    Finisher finish;
    Releaser release;
  };
  Napi::Value Submit(Napi::Env env, dysco::Request* request, Finisher finish, Releaser release);

  std::unordered_map<dysco::Request*, PendingRequest> pending_;
};

}  // namespace dysco::addon
