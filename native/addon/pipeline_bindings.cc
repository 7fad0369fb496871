#include "addon/pipeline_bindings.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon/errors.h"
#include "core/counters.h"
#include "core/session_pipeline.h"
#include "addon/pipeline_options.h"
#include "addon/session_js.h"

namespace dysco::addon {
namespace {

// Headroom a frame gets so that a SYN can grow by its address list and the tag option.
constexpr uint32_t kFrameSlack = 512;

struct HeldFrame {
  std::vector<uint8_t> bytes;
};

class BufferIo : public PipelineIo {
 public:
  bool SendFrame(const uint8_t* frame, uint32_t length) override {
    to_wire.emplace_back(frame, frame + length);
    return true;
  }
  void ReleaseHeld(void* handle, const uint8_t* mac) override {
    std::unique_ptr<HeldFrame> held(static_cast<HeldFrame*>(handle));
    if (mac == nullptr) return;  // counted as a drop by the pipeline
    std::memcpy(held->bytes.data(), mac, 6);
    to_wire.push_back(std::move(held->bytes));
  }
  std::vector<std::vector<uint8_t>> to_wire;  // frames the pipeline sent by itself
};

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kToWire: return "wire";
    case Verdict::kToHost: return "host";
    case Verdict::kDrop: return "drop";
    case Verdict::kHeld: return "held";
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
                           InstanceMethod<&PipelineWrap::Sessions>("sessions"),
                           InstanceMethod<&PipelineWrap::Stats>("stats"),
                           InstanceMethod<&PipelineWrap::Drops>("drops"),
                           InstanceMethod<&PipelineWrap::TakeSent>("takeSent"),
                       });
  }

  explicit PipelineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PipelineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      ThrowType(env, "Pipeline: options object expected");
      return;
    }
    PipelineConfig config;
    const std::string problem = ParsePipelineConfig(info[0].As<Napi::Object>(), &config);
    if (!problem.empty()) {
      ThrowType(env, "Pipeline: " + problem);
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

  Napi::Value InstallPolicies(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      ThrowType(env, "installPolicies: Buffer expected");
      return env.Undefined();
    }
    const auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
    auto policies = std::make_unique<PolicySet>();
    const PolicyParseStatus status = ParsePolicySet(buffer.Data(), buffer.Length(), policies.get());
    if (status != PolicyParseStatus::kOk) {
      ThrowStatus(env, Status::BAD_POLICIES, PolicyParseStatusName(status));
      return env.Undefined();
    }
    pipeline_.ReplacePolicies(std::move(policies));
    return env.Undefined();
  }

  Napi::Value Sessions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t now = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    const SessionTable& table = pipeline_.sessions();
    Napi::Array out = Napi::Array::New(env);
    uint32_t n = 0;
    for (uint32_t i = 0; i < table.capacity(); ++i) {
      if (table.at(i).state == SessionState::kFree) continue;
      Napi::Object o = SessionSummaryObject(env, Summarize(table, i, now));
      Napi::Array handshakes = Napi::Array::New(env, 2);
      for (uint32_t d = 0; d < 2; ++d) {
        const TcpHandshake shake = SessionTable::Handshake(table.cold(i), static_cast<int>(d));
        Napi::Object h = Napi::Object::New(env);
        h.Set("isn", static_cast<double>(shake.isn));
        h.Set("windowScale", shake.window_scale == 0xff ? env.Null() : Napi::Number::New(env, shake.window_scale));
        h.Set("sackPermitted", shake.sack_permitted != 0);
        h.Set("timestamps", shake.timestamps != 0);
        h.Set("tsVal", static_cast<double>(shake.ts_val));
        handshakes.Set(d, h);
      }
      o.Set("handshake", handshakes);
      const SetupState* setup = table.SetupOf(i);
      o.Set("tag", static_cast<double>(setup != nullptr ? setup->tag : 0));
      out.Set(n++, o);
    }
    return out;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) { return PipelineStatsObject(info.Env(), pipeline_); }

  Napi::Value Drops(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    for (size_t i = 0; i < kDropReasonCount; ++i) o.Set(kDropReasonLabels[i], static_cast<double>(counters_.drops[i].Read()));
    return o;
  }

  Napi::Value TakeSent(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, io_.to_wire.size());
    for (uint32_t i = 0; i < io_.to_wire.size(); ++i) {
      out.Set(i, Napi::Buffer<uint8_t>::Copy(env, io_.to_wire[i].data(), io_.to_wire[i].size()));
    }
    io_.to_wire.clear();
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
