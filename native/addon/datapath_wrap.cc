#include "addon/datapath_wrap.h"

#include "addon/errors.h"
#include "addon/event_js.h"
#include "addon/lifecycle.h"
#include "addon/list_auth_js.h"
#include "addon/new_path_js.h"
#include "addon/pipeline_options.h"
#include "addon/policy_js.h"
#include "addon/session_js.h"

#include <cstring>

#include <algorithm>
#include <memory>
#include <string>

namespace dysco::addon {
namespace {

constexpr unsigned kEventBatch = 64;

bool ReadString(const Napi::Object& options, const char* key, std::string* out) {
  const Napi::Value value = options.Get(key);
  if (!value.IsString()) return false;
  *out = value.As<Napi::String>().Utf8Value();
  return true;
}


Napi::Object PortInfo(Napi::Env env, const dpdk::Port& port) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("portId", port.id);
  out.Set("name", port.name);
  out.Set("driver", port.driver);
  out.Set("mtu", port.mtu);
  return out;
}

Napi::Object PortCountersObject(Napi::Env env, const PortCounters& port) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("rxPackets", static_cast<double>(port.rx_packets.Read()));
  out.Set("rxBytes", static_cast<double>(port.rx_bytes.Read()));
  out.Set("txPackets", static_cast<double>(port.tx_packets.Read()));
  out.Set("txBytes", static_cast<double>(port.tx_bytes.Read()));
  return out;
}

// A bad argument to a method that answers with a Promise: rejected, not thrown, like the lcore's refusals.
Napi::Value RejectedWithTypeError(Napi::Env env, const std::string& message) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(Napi::TypeError::New(env, message).Value());
  return deferred.Promise();
}

}  // namespace

Napi::Function DatapathWrap::Define(Napi::Env env) {
  return DefineClass(env, "Datapath",
                     {
                         InstanceMethod<&DatapathWrap::Open>("open"),
                         InstanceMethod<&DatapathWrap::Start>("start"),
                         InstanceMethod<&DatapathWrap::Stop>("stop"),
                         InstanceMethod<&DatapathWrap::Close>("close"),
                         InstanceMethod<&DatapathWrap::SubmitRequest>("request"),
                         InstanceMethod<&DatapathWrap::Counters>("counters"),
                         InstanceMethod<&DatapathWrap::Info>("info"),
                         InstanceMethod<&DatapathWrap::InstallPolicies>("installPolicies"),
                         InstanceMethod<&DatapathWrap::InstallListAuth>("installListAuth"),
                         InstanceMethod<&DatapathWrap::Sessions>("sessions"),
                         InstanceMethod<&DatapathWrap::FindSession>("findSession"),
                         InstanceMethod<&DatapathWrap::PipelineStats>("pipelineStats"),
                         InstanceMethod<&DatapathWrap::Transmit>("transmit"),
                         InstanceMethod<&DatapathWrap::OpenNewPath>("openNewPath"),
                         InstanceMethod<&DatapathWrap::ExpectNewPath>("expectNewPath"),
                         InstanceMethod<&DatapathWrap::AbandonNewPath>("abandonNewPath"),
                         InstanceMethod<&DatapathWrap::RetireSession>("retireSession"),
                         InstanceMethod<&DatapathWrap::SetEventListener>("setEventListener"),
                     });
}

// Returns an empty string when the options are usable, else what is wrong with them. Every option is
// required: defaults and limits are the agent config schema's; this checks only what the C++ types and the
// port and ring set-up need.
std::string DatapathWrap::ParseOptions(const Napi::Object& options) {
  uint32_t poll_mode = 0, rx_desc = 0, tx_desc = 0;
  const auto read = [&options](const char* key, uint32_t max, uint32_t* out) {
    return ReadRequiredUintOption(options, key, max, out);
  };
  if (!ReadString(options, "hostDevice", &config_.host.device)) return "hostDevice must be a string";
  if (!ReadString(options, "wireDevice", &config_.wire.device)) return "wireDevice must be a string";
  if (!read("mbufs", UINT32_MAX, &config_.mbufs) || config_.mbufs == 0) return "mbufs must be a positive integer";
  if (!read("pollMode", 1, &poll_mode)) return "pollMode must be 0 or 1";
  if (!read("idleSleepMaxUs", UINT32_MAX, &config_.idle_sleep_max_us)) return "idleSleepMaxUs must be an integer";
  if (!read("txDrainUs", UINT32_MAX, &config_.tx_drain_us)) return "txDrainUs must be an integer";
  if (!read("rxDescriptors", 65535, &rx_desc) || !read("txDescriptors", 65535, &tx_desc) || rx_desc == 0 || tx_desc == 0)
    return "rxDescriptors and txDescriptors must be 16-bit integers";
  if (!read("ringSize", UINT32_MAX, &config_.ring_size) || config_.ring_size < 2 ||
      (config_.ring_size & (config_.ring_size - 1)) != 0)
    return "ringSize must be a power of two of at least 2";
  const Napi::Value dysco = options.Get("dysco");
  if (!dysco.IsUndefined()) {
    if (!dysco.IsObject()) return "dysco must be an object";
    const std::string problem = ParsePipelineOptions(dysco.As<Napi::Object>());
    if (!problem.empty()) return "dysco." + problem;
    config_.dysco = true;
  }
  config_.poll_mode = static_cast<PollMode>(poll_mode);
  config_.host.rx_descriptors = config_.wire.rx_descriptors = static_cast<uint16_t>(rx_desc);
  config_.host.tx_descriptors = config_.wire.tx_descriptors = static_cast<uint16_t>(tx_desc);
  return {};
}

std::string DatapathWrap::ParsePipelineOptions(const Napi::Object& options) {
  const std::string problem = ParsePipelineConfig(options, &config_.pipeline);
  if (!problem.empty()) return problem;
  const std::string auth_problem = ListAuthPolicyFromJs(options.Get("listAuth"), &initial_list_auth_);
  if (!auth_problem.empty()) return "listAuth: " + auth_problem;
  const Napi::Value policies = options.Get("policies");
  if (policies.IsUndefined()) return {};
  std::string reason;
  switch (PolicySetFromJs(policies, &initial_policies_, &reason)) {
    case PolicyJsResult::kNotBuffer: return "policies must be a Buffer of compiled policies";
    case PolicyJsResult::kMalformed: return "policies: " + reason;
    case PolicyJsResult::kOk: break;
  }
  return {};
}

DatapathWrap::DatapathWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatapathWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowType(env, "Datapath: options object expected");
    return;
  }
  const std::string problem = ParseOptions(info[0].As<Napi::Object>());
  if (!problem.empty()) {
    ThrowType(env, "Datapath: " + problem);
    return;
  }
  // The TSFN only carries wake-ups; its JavaScript function is never called directly.
  Napi::Function unused = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  events_tsfn_ = Napi::ThreadSafeFunction::New(env, unused, "dysco-datapath-events", 0, 1);
  events_tsfn_.Unref(env);
  tsfn_live_ = true;
  // Registered after the TSFN, so it runs before the TSFN's own teardown finalises it.
  cleanup_hook_ = env.AddCleanupHook(std::function<void()>([this] { OnEnvTeardown(); }));
}

void DatapathWrap::OnEnvTeardown() {
  env_torn_down_ = true;
  if (datapath_) {
    UnregisterDatapath(datapath_.get());
    datapath_->Close();
  }
  tsfn_live_ = false;  // finalised by N-API with the environment
}

DatapathWrap::~DatapathWrap() {
  if (!env_torn_down_) cleanup_hook_.Remove(Env());
  if (datapath_) {
    UnregisterDatapath(datapath_.get());
    datapath_->Close();
  }
  ReleaseEventChannel();
  // Requests still in flight are owned by nobody now that the lcore is joined.
  for (auto& entry : pending_) {
    if (entry.second.release) entry.second.release(*entry.first, false);
    delete entry.first;
  }
}

void DatapathWrap::ReleaseEventChannel() {
  if (!tsfn_live_) return;
  tsfn_live_ = false;
  events_tsfn_.Release();
}

Napi::Value DatapathWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (datapath_) {
    ThrowStatus(env, Status::ALREADY_RUNNING, "open() was already called");
    return env.Undefined();
  }
  auto datapath = std::make_unique<dpdk::Datapath>();
  std::string detail;
  const Status status = datapath->Open(config_, &DatapathWrap::WakeFromLcore, this, &detail);
  if (status != Status::OK) {
    ThrowStatus(env, status, detail);
    return env.Undefined();
  }
  datapath_ = std::move(datapath);
  // Policies in place before the first packet: no SYN slips through unchained while the agent starts.
  if (initial_policies_) datapath_->InstallPoliciesBeforeStart(std::move(initial_policies_));
  // The same for list authentication: no unsigned list is taken in while the agent starts.
  if (initial_list_auth_) datapath_->InstallListAuthBeforeStart(std::move(initial_list_auth_));
  RegisterDatapath(datapath_.get());
  InstallExitHandler();
  return env.Undefined();
}

Napi::Value DatapathWrap::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!datapath_) {
    ThrowStatus(env, Status::NOT_RUNNING, "call open() first");
    return env.Undefined();
  }
  std::string detail;
  const Status status = datapath_->Start(&detail);
  if (status != Status::OK) ThrowStatus(env, status, detail);
  return env.Undefined();
}

Napi::Value DatapathWrap::Stop(const Napi::CallbackInfo& info) {
  if (datapath_) {
    datapath_->Stop();
    OnEvents(info.Env());  // completions the lcore posted before quitting
  }
  return info.Env().Undefined();
}

Napi::Value DatapathWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (datapath_) {
    datapath_->Stop();
    OnEvents(env);
    UnregisterDatapath(datapath_.get());
    datapath_->Close();
    datapath_.reset();
  }
  FailPendingRequests(env, Status::NOT_RUNNING);
  ReleaseEventChannel();
  return env.Undefined();
}

Napi::Value DatapathWrap::SubmitRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    return RejectedWithTypeError(env, "request type must be a number");
  }
  auto* request = new dysco::Request{};
  request->type = static_cast<RequestType>(info[0].As<Napi::Number>().Uint32Value());
  if (ServedByPipeline(request->type)) {
    // These carry native pointers; only the typed methods may send them.
    delete request;
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(StatusError(env, Status::INVALID_ARGUMENT, "use installPolicies(), sessions() or transmit()").Value());
    return deferred.Promise();
  }
  if (info.Length() > 1 && info[1].IsArray()) {
    const Napi::Array args = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < args.Length() && i < 4; ++i) {
      const Napi::Value arg = args.Get(i);
      request->args[i] = arg.IsNumber() ? static_cast<uint64_t>(arg.As<Napi::Number>().DoubleValue()) : 0;
    }
  }
  return Submit(env, request, [](Napi::Env env, dysco::Request& done) -> Napi::Value {
    Napi::Object result = Napi::Object::New(env);
    result.Set("id", done.id);
    Napi::Array values = Napi::Array::New(env, 4);
    for (uint32_t k = 0; k < 4; ++k) values.Set(k, static_cast<double>(done.results[k]));
    result.Set("results", values);
    return result;
  }, nullptr);
}

Napi::Value DatapathWrap::Submit(Napi::Env env, dysco::Request* request, Finisher finish, Releaser release) {
  auto deferred = Napi::Promise::Deferred::New(env);
  Status status = Status::OK;
  if (!datapath_ || !datapath_->running()) {
    status = Status::NOT_RUNNING;
  } else if (pending_.size() >= datapath_->max_pending_requests()) {
    // Bounded so that every completion is guaranteed room in the event ring.
    status = Status::REQUEST_RING_FULL;
  } else {
    request->id = next_request_id_++;
    status = datapath_->Submit(request);
  }
  if (status != Status::OK) {
    if (release) release(*request, false);
    delete request;
    deferred.Reject(StatusError(env, status).Value());
    return deferred.Promise();
  }
  // A pending request keeps the event loop alive until its completion arrives.
  if (pending_.empty()) events_tsfn_.Ref(env);
  pending_.emplace(request, PendingRequest{deferred, std::move(finish), std::move(release)});
  return deferred.Promise();
}

Napi::Value DatapathWrap::InstallListAuth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  std::unique_ptr<ListAuthPolicy> policy;
  const std::string problem = ListAuthPolicyFromJs(info.Length() > 0 ? info[0] : env.Undefined(), &policy);
  if (!problem.empty()) {
    deferred.Reject(Napi::TypeError::New(env, "installListAuth: " + problem).Value());
    return deferred.Promise();
  }
  auto* request = new dysco::Request{};
  request->type = RequestType::kInstallListAuth;
  request->args[0] = reinterpret_cast<uint64_t>(policy.release());
  return Submit(
      env, request,
      [](Napi::Env env, dysco::Request& done) -> Napi::Value {
        delete reinterpret_cast<ListAuthPolicy*>(done.results[0]);  // the policy the lcore swapped out
        return env.Undefined();
      },
      [](dysco::Request& request, bool completed) {
        if (!completed) delete reinterpret_cast<ListAuthPolicy*>(request.args[0]);
      });
}

Napi::Value DatapathWrap::InstallPolicies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    deferred.Reject(Napi::TypeError::New(env, "installPolicies: a Buffer of compiled policies is expected").Value());
    return deferred.Promise();
  }
  std::unique_ptr<PolicySet> policies;
  std::string reason;
  if (PolicySetFromJs(info[0], &policies, &reason) != PolicyJsResult::kOk) {
    deferred.Reject(StatusError(env, Status::BAD_POLICIES, reason).Value());
    return deferred.Promise();
  }
  auto* request = new dysco::Request{};
  request->type = RequestType::kInstallPolicies;
  request->args[0] = reinterpret_cast<uint64_t>(policies.release());
  return Submit(
      env, request,
      [](Napi::Env env, dysco::Request& done) -> Napi::Value {
        delete reinterpret_cast<PolicySet*>(done.results[0]);  // the set the lcore swapped out
        return env.Undefined();
      },
      [](dysco::Request& request, bool completed) {
        if (!completed) delete reinterpret_cast<PolicySet*>(request.args[0]);
      });
}


Napi::Value DatapathWrap::Sessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t cursor = 0, limit = 0;
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    return RejectedWithTypeError(env, "sessions(cursor, limit) expects numbers");
  }
  cursor = info[0].As<Napi::Number>().Uint32Value();
  limit = std::min<uint32_t>(info[1].As<Napi::Number>().Uint32Value(), 4096);
  auto* request = new dysco::Request{};
  request->type = RequestType::kDumpSessions;
  request->args[0] = reinterpret_cast<uint64_t>(new SessionSummary[limit == 0 ? 1 : limit]);
  request->args[1] = cursor;
  request->args[2] = limit;
  return Submit(
      env, request,
      [](Napi::Env env, dysco::Request& done) -> Napi::Value {
        const auto* summaries = reinterpret_cast<const SessionSummary*>(done.args[0]);
        const uint32_t count = static_cast<uint32_t>(done.results[0]);
        Napi::Array list = Napi::Array::New(env, count);
        for (uint32_t i = 0; i < count; ++i) list.Set(i, SessionSummaryObject(env, summaries[i]));
        Napi::Object out = Napi::Object::New(env);
        out.Set("sessions", list);
        out.Set("nextCursor", done.results[1] == UINT64_MAX ? env.Null() : Napi::Number::New(env, static_cast<double>(done.results[1])));
        return out;
      },
      [](dysco::Request& request, bool) { delete[] reinterpret_cast<SessionSummary*>(request.args[0]); });
}

// findSession({ sessionId } | tuple): Promise<summary | null>.
Napi::Value DatapathWrap::FindSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t query[3];
  std::string error;
  if (info.Length() < 1 || !SessionQueryFromJs(info[0], query, &error)) {
    return RejectedWithTypeError(env, "findSession: " + error);
  }
  auto* request = new dysco::Request{};
  request->type = RequestType::kFindSession;
  request->args[0] = reinterpret_cast<uint64_t>(new SessionSummary{});
  std::copy(query, query + 3, request->args + 1);
  return Submit(
      env, request,
      [](Napi::Env env, dysco::Request& done) -> Napi::Value {
        if (done.results[0] != 1) return env.Null();
        return SessionSummaryObject(env, *reinterpret_cast<const SessionSummary*>(done.args[0]));
      },
      [](dysco::Request& request, bool) { delete reinterpret_cast<SessionSummary*>(request.args[0]); });
}

// transmit({ dstIp, dstPort, srcPort, payload }): Promise<{ sent }> (false: waiting for ARP).
Napi::Value DatapathWrap::Transmit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t dst_ip = 0, dst_port = 0, src_port = 0;
  const bool shaped = info.Length() > 0 && info[0].IsObject();
  const Napi::Object spec = shaped ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  const Napi::Value payload = spec.Get("payload");
  if (!shaped || !ReadUintOption(spec, "dstIp", UINT32_MAX, &dst_ip) || !ReadUintOption(spec, "dstPort", 65535, &dst_port) ||
      !ReadUintOption(spec, "srcPort", 65535, &src_port) || !payload.IsBuffer()) {
    return RejectedWithTypeError(env, "transmit: dstIp, dstPort, srcPort must be integers and payload a Buffer");
  }
  // The lcore reads the payload after this call returns: it travels in a copy the request owns.
  const auto bytes = payload.As<Napi::Buffer<uint8_t>>();
  auto* copy = new uint8_t[bytes.Length() == 0 ? 1 : bytes.Length()];
  std::memcpy(copy, bytes.Data(), bytes.Length());
  auto* request = new dysco::Request{};
  request->type = RequestType::kTransmit;
  request->args[0] = reinterpret_cast<uint64_t>(copy);
  request->args[1] = bytes.Length();
  request->args[2] = __builtin_bswap32(dst_ip);
  request->args[3] = uint64_t{src_port} << 16 | dst_port;
  return Submit(
      env, request,
      [](Napi::Env env, dysco::Request& done) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("sent", done.results[0] == 1);
        return out;
      },
      [](dysco::Request& request, bool) { delete[] reinterpret_cast<uint8_t*>(request.args[0]); });
}

Napi::Value DatapathWrap::OpenNewPath(const Napi::CallbackInfo& info) {
  return SubmitNewPath(info, RequestType::kOpenNewPath);
}

Napi::Value DatapathWrap::ExpectNewPath(const Napi::CallbackInfo& info) {
  return SubmitNewPath(info, RequestType::kExpectNewPath);
}

// openNewPath(spec) / expectNewPath(spec): Promise<undefined>. The spec travels in a copy the request owns.
Napi::Value DatapathWrap::SubmitNewPath(const Napi::CallbackInfo& info, RequestType type) {
  Napi::Env env = info.Env();
  auto spec = std::make_unique<NewPathSpec>();
  std::string error;
  if (!NewPathSpecFromJs(info.Length() > 0 ? info[0] : env.Undefined(), spec.get(), &error)) {
    return RejectedWithTypeError(env, error);
  }
  auto* request = new dysco::Request{};
  request->type = type;
  request->args[0] = reinterpret_cast<uint64_t>(spec.release());
  return Submit(
      env, request, [](Napi::Env env, dysco::Request&) -> Napi::Value { return env.Undefined(); },
      [](dysco::Request& request, bool) { delete reinterpret_cast<NewPathSpec*>(request.args[0]); });
}

// abandonNewPath(sessionId, nonce): Promise<undefined>.
Napi::Value DatapathWrap::AbandonNewPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    return RejectedWithTypeError(env, "abandonNewPath(sessionId, nonce): integers expected");
  }
  auto* request = new dysco::Request{};
  request->type = RequestType::kAbandonNewPath;
  request->args[0] = info[0].As<Napi::Number>().Uint32Value();
  request->args[1] = info[1].As<Napi::Number>().Uint32Value();
  return Submit(
      env, request, [](Napi::Env env, dysco::Request&) -> Napi::Value { return env.Undefined(); },
      [](dysco::Request&, bool) {});
}

// retireSession(sessionId): Promise<undefined>.
Napi::Value DatapathWrap::RetireSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    return RejectedWithTypeError(env, "retireSession(sessionId): an integer expected");
  }
  auto* request = new dysco::Request{};
  request->type = RequestType::kRetireSession;
  request->args[0] = info[0].As<Napi::Number>().Uint32Value();
  return Submit(
      env, request, [](Napi::Env env, dysco::Request&) -> Napi::Value { return env.Undefined(); },
      [](dysco::Request&, bool) {});
}

Napi::Value DatapathWrap::SetEventListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsFunction()) {
    event_listener_ = Napi::Persistent(info[0].As<Napi::Function>());
  } else {
    event_listener_.Reset();
  }
  return env.Undefined();
}

Napi::Value DatapathWrap::PipelineStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!datapath_ || datapath_->pipeline() == nullptr) return env.Null();
  return PipelineStatsObject(env, *datapath_->pipeline());
}

void DatapathWrap::WakeFromLcore(void* self) {
  auto* wrap = static_cast<DatapathWrap*>(self);
  // Coalesced by the datapath: at most one call is outstanding until OnEvents drains the ring.
  wrap->events_tsfn_.NonBlockingCall([wrap](Napi::Env env, Napi::Function) {
    if (env != nullptr && !wrap->env_torn_down_) wrap->OnEvents(env);
  });
}

void DatapathWrap::OnEvents(Napi::Env env) {
  if (!datapath_) return;
  Napi::HandleScope scope(env);
  Event batch[kEventBatch];
  unsigned n;
  while ((n = datapath_->DrainEvents(batch, kEventBatch)) != 0) {
    for (unsigned i = 0; i < n; ++i) {
      if (batch[i].type != EventType::kRequestDone) {
        DeliverEvent(env, batch[i]);
        continue;
      }
      dysco::Request* request = batch[i].request();
      auto found = pending_.find(request);
      if (found == pending_.end()) continue;
      PendingRequest pending = std::move(found->second);
      pending_.erase(found);
      const bool ok = request->status == Status::OK;
      if (ok) {
        pending.deferred.Resolve(pending.finish(env, *request));
      } else {
        pending.deferred.Reject(StatusError(env, request->status).Value());
      }
      if (pending.release) pending.release(*request, ok);
      delete request;
      if (pending_.empty() && tsfn_live_) events_tsfn_.Unref(env);
    }
  }
  if (!listener_error_.IsEmpty()) {
    const Napi::Value error = listener_error_.Value();
    listener_error_.Reset();
    Napi::Error(env, error).ThrowAsJavaScriptException();
  }
}

// A pipeline event to the listener; a control packet's slot is released whether or not one listens.
void DatapathWrap::DeliverEvent(Napi::Env env, const Event& event) {
  const Napi::Value object = EventObject(env, event, datapath_->control_packets());
  if (object.IsUndefined() || event_listener_.IsEmpty()) return;
  event_listener_.Call({object});
  // A throwing listener must not stop the completions still in this batch: its first error is
  // thrown again once the batch is done (OnEvents).
  if (env.IsExceptionPending()) {
    Napi::Error error = env.GetAndClearPendingException();
    if (listener_error_.IsEmpty()) listener_error_ = Napi::Reference<Napi::Value>::New(error.Value(), 1);
  }
}

void DatapathWrap::FailPendingRequests(Napi::Env env, Status status) {
  if (pending_.empty()) return;
  for (auto& entry : pending_) {
    entry.second.deferred.Reject(StatusError(env, status, "the datapath closed before answering").Value());
    if (entry.second.release) entry.second.release(*entry.first, false);
    delete entry.first;
  }
  pending_.clear();
  if (tsfn_live_) events_tsfn_.Unref(env);
}

Napi::Value DatapathWrap::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (!datapath_) return out;
  const LcoreCounters& c = datapath_->counters();
  Napi::Object ports = Napi::Object::New(env);
  ports.Set("host", PortCountersObject(env, c.ports[kHostPort]));
  ports.Set("wire", PortCountersObject(env, c.ports[kWirePort]));
  out.Set("ports", ports);
  Napi::Object passed = Napi::Object::New(env);
  passed.Set("host", static_cast<double>(c.ports[kHostPort].passed_not_dysco.Read()));
  passed.Set("wire", static_cast<double>(c.ports[kWirePort].passed_not_dysco.Read()));
  out.Set("passedNotDysco", passed);
  Napi::Object fragmented = Napi::Object::New(env);
  fragmented.Set("host", static_cast<double>(c.ports[kHostPort].tx_fragmented.Read()));
  fragmented.Set("wire", static_cast<double>(c.ports[kWirePort].tx_fragmented.Read()));
  out.Set("txFragmented", fragmented);
  Napi::Object drops = Napi::Object::New(env);
  for (size_t i = 0; i < kDropReasonCount; ++i) drops.Set(kDropReasonLabels[i], static_cast<double>(c.drops[i].Read()));
  out.Set("drops", drops);
  const double hz = static_cast<double>(datapath_->tsc_hz());
  out.Set("busySeconds", static_cast<double>(c.busy_cycles.Read()) / hz);
  out.Set("idleSeconds", static_cast<double>(c.idle_cycles.Read()) / hz);
  out.Set("loopIterations", static_cast<double>(c.loop_iterations.Read()));
  out.Set("idleSleeps", static_cast<double>(c.idle_sleeps.Read()));
  out.Set("requestsServed", static_cast<double>(c.requests_served.Read()));
  out.Set("eventsPosted", static_cast<double>(c.events_posted.Read()));
  out.Set("eventsDropped", static_cast<double>(c.events_dropped.Read()));
  const dpdk::MempoolStats pool = datapath_->mempool_stats();
  out.Set("mempoolSize", pool.size);
  out.Set("mempoolAvailable", pool.available);
  return out;
}

Napi::Value DatapathWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("open", datapath_ != nullptr);
  if (!datapath_) return out;
  out.Set("running", datapath_->running());
  out.Set("lcore", datapath_->lcore());
  out.Set("tscHz", static_cast<double>(datapath_->tsc_hz()));
  out.Set("host", PortInfo(env, datapath_->host_port()));
  out.Set("wire", PortInfo(env, datapath_->wire_port()));
  return out;
}

}  // namespace dysco::addon
