#include "addon/pipeline_bindings.h"

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <algorithm>
#include <vector>

#include "addon/errors.h"
#include "addon/event_js.h"
#include "addon/list_auth_js.h"
#include "addon/new_path_js.h"
#include "addon/pipeline_options.h"
#include "addon/policy_js.h"
#include "addon/session_js.h"
#include "core/counters.h"
#include "core/session_pipeline.h"

namespace dysco::addon {
namespace {

// Headroom a frame gets so that a SYN can grow by its address list and the tag option.
constexpr uint32_t kFrameSlack = 512;
constexpr uint32_t kDefaultEventQueue = 1024;
constexpr uint32_t kSessionPage = 256;

struct HeldFrame {
  std::vector<uint8_t> bytes;
};

// The harness's environment: frames the pipeline sends go to a list, events to a bounded queue
// (completions always fit: the harness takes each one as soon as Serve returns).
class BufferIo : public PipelineIo {
 public:
  bool SendFrame(const uint8_t* frame, uint32_t length) override {
    to_wire.emplace_back(frame, frame + length);
    return true;
  }
  void* CopyForHold(const uint8_t* frame, uint32_t length) override {
    return new HeldFrame{std::vector<uint8_t>(frame, frame + length)};
  }
  bool SendToHost(const uint8_t* frame, uint32_t length) override {
    to_host.emplace_back(frame, frame + length);
    return true;
  }
  bool PostEvent(const Event& event) override {
    if (event.type != EventType::kRequestDone && events.size() >= event_capacity) return false;
    events.push_back(event);
    return true;
  }
  // Removes the completion of `request` from the queue; false if the pipeline posted none.
  bool TakeCompletion(const Request& request) {
    for (auto it = events.begin(); it != events.end(); ++it) {
      if (it->type == EventType::kRequestDone && it->request() == &request) {
        events.erase(it);
        return true;
      }
    }
    return false;
  }
  void ReleaseHeld(void* handle, const uint8_t* mac) override {
    std::unique_ptr<HeldFrame> held(static_cast<HeldFrame*>(handle));
    if (mac == nullptr) return;  // counted as a drop by the pipeline
    std::memcpy(held->bytes.data(), mac, 6);
    to_wire.push_back(std::move(held->bytes));
  }
  uint32_t UnixSeconds() override { return unix_seconds != 0 ? unix_seconds : PipelineIo::UnixSeconds(); }
  std::vector<std::vector<uint8_t>> to_wire;  // frames the pipeline sent by itself
  std::vector<std::vector<uint8_t>> to_host;  // ... toward the host
  std::deque<Event> events;
  uint32_t event_capacity = kDefaultEventQueue;
  uint32_t unix_seconds = 0;  // the wall clock a test sets (setUnixSeconds); 0: the real one
};

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kToWire: return "wire";
    case Verdict::kToHost: return "host";
    case Verdict::kDrop: return "drop";
    case Verdict::kHeld: return "held";
    case Verdict::kConsumed: return "consumed";
  }
  return "unknown";
}


class PipelineWrap : public Napi::ObjectWrap<PipelineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Pipeline",
                       {
                           InstanceMethod<&PipelineWrap::FromHost>("fromHost"),
                           InstanceMethod<&PipelineWrap::FromWire>("fromWire"),
                           InstanceMethod<&PipelineWrap::Expire>("expire"),
                           InstanceMethod<&PipelineWrap::InstallPolicies>("installPolicies"),
                           InstanceMethod<&PipelineWrap::InstallListAuth>("installListAuth"),
                           InstanceMethod<&PipelineWrap::SetUnixSeconds>("setUnixSeconds"),
                           InstanceMethod<&PipelineWrap::Sessions>("sessions"),
                           InstanceMethod<&PipelineWrap::FindSession>("findSession"),
                           InstanceMethod<&PipelineWrap::Stats>("stats"),
                           InstanceMethod<&PipelineWrap::Drops>("drops"),
                           InstanceMethod<&PipelineWrap::TakeSent>("takeSent"),
                           InstanceMethod<&PipelineWrap::TakeSentToHost>("takeSentToHost"),
                           InstanceMethod<&PipelineWrap::Transmit>("transmit"),
                           InstanceMethod<&PipelineWrap::OpenNewPath>("openNewPath"),
                           InstanceMethod<&PipelineWrap::ExpectNewPath>("expectNewPath"),
                           InstanceMethod<&PipelineWrap::AbandonNewPath>("abandonNewPath"),
                           InstanceMethod<&PipelineWrap::RetireSession>("retireSession"),
                           InstanceMethod<&PipelineWrap::TakeEvents>("takeEvents"),
                           InstanceMethod<&PipelineWrap::Counters>("counters"),
                       });
  }

  explicit PipelineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PipelineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      ThrowType(env, "Pipeline: options object expected");
      return;
    }
    PipelineConfig config;
    const Napi::Object options = info[0].As<Napi::Object>();
    const std::string problem = ParsePipelineConfig(options, &config);
    if (!problem.empty()) {
      ThrowType(env, "Pipeline: " + problem);
      return;
    }
    if (!ReadUintOption(options, "eventQueue", 1u << 20, &io_.event_capacity)) {
      ThrowType(env, "Pipeline: eventQueue must be an integer <= 1048576");
      return;
    }
    if (!pipeline_.Init(config, &counters_, &io_)) ThrowStatus(env, Status::PIPELINE_INIT_FAILED);
  }

  ~PipelineWrap() override { pipeline_.ReleaseAllHeld(); }

 private:
  Napi::Value Process(const Napi::CallbackInfo& info, bool from_host) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsNumber()) {
      ThrowType(env, "expected (frames: Buffer[], nowMs: number)");
      return env.Undefined();
    }
    const Napi::Array frames = info[0].As<Napi::Array>();
    const uint32_t now = info[1].As<Napi::Number>().Uint32Value();
    const uint32_t n = frames.Length();
    if (n > SessionPipeline::kMaxBurst) {
      ThrowType(env, "at most 64 frames per burst");
      return env.Undefined();
    }
    std::vector<HeldFrame*> buffers(n);
    std::vector<PipelinePacket> packets(n);
    for (uint32_t i = 0; i < n; ++i) {
      const Napi::Value v = frames.Get(i);
      if (!v.IsBuffer()) {
        for (uint32_t k = 0; k < i; ++k) delete buffers[k];
        ThrowType(env, "every frame must be a Buffer");
        return env.Undefined();
      }
      const auto buffer = v.As<Napi::Buffer<uint8_t>>();
      auto* held = new HeldFrame{std::vector<uint8_t>(buffer.Length() + kFrameSlack)};
      std::memcpy(held->bytes.data(), buffer.Data(), buffer.Length());
      buffers[i] = held;
      packets[i] = PipelinePacket{held->bytes.data(), static_cast<uint32_t>(buffer.Length()),
                                  static_cast<uint32_t>(held->bytes.size()), held};
    }
    std::vector<Verdict> verdicts(n);
    if (from_host) {
      pipeline_.FromHost(packets.data(), n, now, verdicts.data());
    } else {
      pipeline_.FromWire(packets.data(), n, now, verdicts.data());
    }
    Napi::Array out = Napi::Array::New(env, n);
    for (uint32_t i = 0; i < n; ++i) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("verdict", VerdictName(verdicts[i]));
      if (verdicts[i] == Verdict::kToWire || verdicts[i] == Verdict::kToHost) {
        r.Set("frame", Napi::Buffer<uint8_t>::Copy(env, packets[i].data, packets[i].length));
      }
      if (verdicts[i] == Verdict::kHeld) {
        buffers[i]->bytes.resize(packets[i].length);  // held frames belong to the pipeline now
      } else {
        delete buffers[i];
      }
      out.Set(i, r);
    }
    return out;
  }

  Napi::Value FromHost(const Napi::CallbackInfo& info) { return Process(info, true); }
  Napi::Value FromWire(const Napi::CallbackInfo& info) { return Process(info, false); }

  Napi::Value Expire(const Napi::CallbackInfo& info) {
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      ThrowType(info.Env(), "expected (nowMs, budget)");
      return info.Env().Undefined();
    }
    pipeline_.Expire(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  // Serves a request as the lcore would and takes its completion from the event queue. False (with
  // a JavaScript exception pending) when the pipeline answered with an error status.
  bool ServeNow(Napi::Env env, Request& request, uint32_t now) {
    pipeline_.Serve(request, now);
    if (!io_.TakeCompletion(request)) {
      ThrowStatus(env, Status::INVALID_ARGUMENT, "the pipeline posted no completion");
      return false;
    }
    if (request.status != Status::OK) {
      ThrowStatus(env, request.status);
      return false;
    }
    return true;
  }

  Napi::Value InstallPolicies(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::unique_ptr<PolicySet> policies;
    std::string reason;
    switch (PolicySetFromJs(info.Length() > 0 ? info[0] : env.Undefined(), &policies, &reason)) {
      case PolicyJsResult::kNotBuffer: ThrowType(env, "installPolicies: Buffer expected"); return env.Undefined();
      case PolicyJsResult::kMalformed: ThrowStatus(env, Status::BAD_POLICIES, reason); return env.Undefined();
      case PolicyJsResult::kOk: break;
    }
    Request request{};
    request.type = RequestType::kInstallPolicies;
    request.args[0] = reinterpret_cast<uint64_t>(policies.release());
    if (ServeNow(env, request, 0)) delete reinterpret_cast<PolicySet*>(request.results[0]);
    return env.Undefined();
  }

  Napi::Value InstallListAuth(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::unique_ptr<ListAuthPolicy> policy;
    const std::string problem = ListAuthPolicyFromJs(info.Length() > 0 ? info[0] : env.Undefined(), &policy);
    if (!problem.empty()) {
      ThrowType(env, "installListAuth: " + problem);
      return env.Undefined();
    }
    Request request{};
    request.type = RequestType::kInstallListAuth;
    request.args[0] = reinterpret_cast<uint64_t>(policy.release());
    if (ServeNow(env, request, 0)) delete reinterpret_cast<ListAuthPolicy*>(request.results[0]);
    return env.Undefined();
  }

  Napi::Value SetUnixSeconds(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber()) {
      ThrowType(info.Env(), "setUnixSeconds: a number expected (0: the real clock)");
      return info.Env().Undefined();
    }
    io_.unix_seconds = info[0].As<Napi::Number>().Uint32Value();
    return info.Env().Undefined();
  }

  // Every session, page by page through DumpSessions, plus the tag a pending session carries.
  Napi::Value Sessions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t now = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    std::vector<SessionSummary> page(kSessionPage);
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    uint64_t cursor = 0;
    while (cursor != UINT64_MAX) {
      Request request{};
      request.type = RequestType::kDumpSessions;
      request.args[0] = reinterpret_cast<uint64_t>(page.data());
      request.args[1] = cursor;
      request.args[2] = page.size();
      if (!ServeNow(env, request, now)) return env.Undefined();
      for (uint64_t i = 0; i < request.results[0]; ++i) {
        Napi::Object o = SessionSummaryObject(env, page[i]);
        const SetupState* setup = pipeline_.sessions().SetupOf(page[i].id);
        o.Set("tag", static_cast<double>(setup != nullptr ? setup->tag : 0));
        out.Set(n++, o);
      }
      cursor = request.results[1];
    }
    return out;
  }

  // findSession({ sessionId } | tuple, nowMs): the session's summary, or null.
  Napi::Value FindSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t query[3];
    std::string error;
    if (info.Length() < 2 || !info[1].IsNumber() || !SessionQueryFromJs(info[0], query, &error)) {
      ThrowType(env, "findSession(query, nowMs): " + error);
      return env.Undefined();
    }
    SessionSummary summary{};
    Request request{};
    request.type = RequestType::kFindSession;
    request.args[0] = reinterpret_cast<uint64_t>(&summary);
    std::copy(query, query + 3, request.args + 1);
    if (!ServeNow(env, request, info[1].As<Napi::Number>().Uint32Value())) return env.Undefined();
    return request.results[0] == 1 ? SessionSummaryObject(env, summary) : env.Null();
  }

  // transmit({ dstIp, dstPort, srcPort, payload }, nowMs): { sent } (false: waiting for ARP).
  Napi::Value Transmit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsNumber()) {
      ThrowType(env, "expected ({ dstIp, dstPort, srcPort, payload }, nowMs)");
      return env.Undefined();
    }
    const Napi::Object spec = info[0].As<Napi::Object>();
    uint32_t dst_ip = 0, dst_port = 0, src_port = 0;
    const Napi::Value payload = spec.Get("payload");
    if (!ReadUintOption(spec, "dstIp", UINT32_MAX, &dst_ip) || !ReadUintOption(spec, "dstPort", 65535, &dst_port) ||
        !ReadUintOption(spec, "srcPort", 65535, &src_port) || !payload.IsBuffer()) {
      ThrowType(env, "transmit: dstIp, dstPort, srcPort must be integers and payload a Buffer");
      return env.Undefined();
    }
    const auto bytes = payload.As<Napi::Buffer<uint8_t>>();
    Request request{};
    request.type = RequestType::kTransmit;
    request.args[0] = reinterpret_cast<uint64_t>(bytes.Data());
    request.args[1] = bytes.Length();
    request.args[2] = __builtin_bswap32(dst_ip);
    request.args[3] = uint64_t{src_port} << 16 | dst_port;
    if (!ServeNow(env, request, info[1].As<Napi::Number>().Uint32Value())) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    out.Set("sent", request.results[0] == 1);
    return out;
  }

  // openNewPath(spec, nowMs) / expectNewPath(spec, nowMs): throw on a status error.
  Napi::Value OpenNewPath(const Napi::CallbackInfo& info) { return ServeNewPath(info, RequestType::kOpenNewPath); }
  Napi::Value ExpectNewPath(const Napi::CallbackInfo& info) { return ServeNewPath(info, RequestType::kExpectNewPath); }
  Napi::Value ServeNewPath(const Napi::CallbackInfo& info, RequestType type) {
    Napi::Env env = info.Env();
    NewPathSpec spec;
    std::string error;
    if (info.Length() < 2 || !info[1].IsNumber() || !NewPathSpecFromJs(info[0], &spec, &error)) {
      ThrowType(env, error.empty() ? "expected (spec, nowMs)" : error.c_str());
      return env.Undefined();
    }
    Request request{};
    request.type = type;
    request.args[0] = reinterpret_cast<uint64_t>(&spec);
    ServeNow(env, request, info[1].As<Napi::Number>().Uint32Value());
    return env.Undefined();
  }

  // abandonNewPath(sessionId, nonce, nowMs), retireSession(sessionId, nowMs).
  Napi::Value AbandonNewPath(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
      ThrowType(env, "expected (sessionId, nonce, nowMs)");
      return env.Undefined();
    }
    Request request{};
    request.type = RequestType::kAbandonNewPath;
    request.args[0] = info[0].As<Napi::Number>().Uint32Value();
    request.args[1] = info[1].As<Napi::Number>().Uint32Value();
    ServeNow(env, request, info[2].As<Napi::Number>().Uint32Value());
    return env.Undefined();
  }
  Napi::Value RetireSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      ThrowType(env, "expected (sessionId, nowMs)");
      return env.Undefined();
    }
    Request request{};
    request.type = RequestType::kRetireSession;
    request.args[0] = info[0].As<Napi::Number>().Uint32Value();
    ServeNow(env, request, info[1].As<Napi::Number>().Uint32Value());
    return env.Undefined();
  }

  // Events the pipeline posted since the last call (control packets, session events), oldest first.
  Napi::Value TakeEvents(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    while (!io_.events.empty()) {
      const Event event = io_.events.front();
      io_.events.pop_front();
      const Napi::Value object = EventObject(env, event, &pipeline_.control_packets());
      if (!object.IsUndefined()) out.Set(n++, object);
    }
    return out;
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("requestsServed", static_cast<double>(counters_.requests_served.Read()));
    out.Set("eventsPosted", static_cast<double>(counters_.events_posted.Read()));
    out.Set("eventsDropped", static_cast<double>(counters_.events_dropped.Read()));
    out.Set("eventsQueued", static_cast<double>(io_.events.size()));
    return out;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) { return PipelineStatsObject(info.Env(), pipeline_); }

  Napi::Value Drops(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    for (size_t i = 0; i < kDropReasonCount; ++i) o.Set(kDropReasonLabels[i], static_cast<double>(counters_.drops[i].Read()));
    return o;
  }

  Napi::Value TakeSent(const Napi::CallbackInfo& info) { return TakeFrames(info.Env(), io_.to_wire); }
  // Frames the pipeline sent toward the host by itself since the last call (probes).
  Napi::Value TakeSentToHost(const Napi::CallbackInfo& info) { return TakeFrames(info.Env(), io_.to_host); }

  static Napi::Value TakeFrames(Napi::Env env, std::vector<std::vector<uint8_t>>& frames) {
    Napi::Array out = Napi::Array::New(env, frames.size());
    for (uint32_t i = 0; i < frames.size(); ++i) {
      out.Set(i, Napi::Buffer<uint8_t>::Copy(env, frames[i].data(), frames[i].size()));
    }
    frames.clear();
    return out;
  }

  LcoreCounters counters_;
  BufferIo io_;
  SessionPipeline pipeline_;
};

}  // namespace

void RegisterPipelineBindings(Napi::Env env, Napi::Object exports) {
  Napi::Object pipeline = Napi::Object::New(env);
  pipeline.Set("Pipeline", PipelineWrap::Define(env));
  exports.Set("pipeline", pipeline);
}

}  // namespace dysco::addon
