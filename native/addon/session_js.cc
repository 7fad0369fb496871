#include "addon/session_js.h"

#include "addon/pipeline_options.h"

namespace dysco::addon {
namespace {

Napi::Object HandshakeObject(Napi::Env env, const TcpHandshake& h) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("isn", static_cast<double>(h.isn));
  out.Set("windowScale", h.window_scale == 0xff ? env.Null() : Napi::Number::New(env, h.window_scale));
  out.Set("sackPermitted", h.sack_permitted != 0);
  out.Set("timestamps", h.timestamps != 0);
  out.Set("tsVal", static_cast<double>(h.ts_val));
  return out;
}

constexpr const char* kTeardownLabels[] = {
#define DYSCO_TEARDOWN_CAUSE(name, label, meaning) label,
#include "core/teardown_causes.def"
#undef DYSCO_TEARDOWN_CAUSE
};

}  // namespace

Napi::Value TupleObject(Napi::Env env, const FiveTuple& tuple) {
  if (tuple.protocol == 0) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);
  out.Set("srcIp", static_cast<double>(__builtin_bswap32(tuple.src_ip)));
  out.Set("dstIp", static_cast<double>(__builtin_bswap32(tuple.dst_ip)));
  out.Set("srcPort", __builtin_bswap16(tuple.src_port));
  out.Set("dstPort", __builtin_bswap16(tuple.dst_port));
  return out;
}

Napi::Object SessionSummaryObject(Napi::Env env, const SessionSummary& s) {
  Napi::Object item = Napi::Object::New(env);
  item.Set("id", s.id);
  item.Set("state", s.state);
  item.Set("role", s.role);
  item.Set("leftSession", TupleObject(env, s.left_session));
  item.Set("leftSubsession", TupleObject(env, s.left_subsession));
  item.Set("rightSession", TupleObject(env, s.right_session));
  item.Set("rightSubsession", TupleObject(env, s.right_subsession));
  item.Set("packets", static_cast<double>(s.packets));
  item.Set("bytes", static_cast<double>(s.bytes));
  item.Set("idleMs", s.idle_ms);
  item.Set("ruleId", s.rule_id == UINT32_MAX ? -1.0 : static_cast<double>(s.rule_id));
  Napi::Array handshakes = Napi::Array::New(env, 2);
  handshakes.Set(0u, HandshakeObject(env, s.handshakes[0]));
  handshakes.Set(1u, HandshakeObject(env, s.handshakes[1]));
  item.Set("handshake", handshakes);
  if (s.second_phase != 0xff) {
    static constexpr const char* kPhases[] = {"expecting", "opening", "answered", "two_paths", "folded", "settled"};
    Napi::Object r = Napi::Object::New(env);
    r.Set("phase", s.second_phase < 6 ? kPhases[s.second_phase] : "unknown");
    r.Set("side", s.second_side == 0 ? "right" : "left");
    r.Set("nonce", static_cast<double>(s.second_nonce));
    r.Set("known", s.second_known);
    r.Set("theirFlags", s.second_their_flags);
    r.Set("cutoffOurs", static_cast<double>(s.cutoff_ours));
    r.Set("cutoffTheirs", static_cast<double>(s.cutoff_theirs));
    r.Set("sent", static_cast<double>(s.sent));
    r.Set("theirAck", static_cast<double>(s.their_ack));
    r.Set("hostAck", static_cast<double>(s.host_ack));
    r.Set("oldReceived", static_cast<double>(s.old_received));
    item.Set("reconfig", r);
  }
  return item;
}

const char* TeardownCauseLabel(uint32_t cause) {
  return cause < static_cast<uint32_t>(TeardownCause::kCount) ? kTeardownLabels[cause] : "unknown";
}

Napi::Object PipelineStatsObject(Napi::Env env, const SessionPipeline& pipeline) {
  const PipelineCounters& c = pipeline.counters();
  Napi::Object out = Napi::Object::New(env);
#define DYSCO_PIPELINE_COUNTER(field, key, metric, kind, meaning) out.Set(key, static_cast<double>(c.field.Read()));
#include "core/pipeline_counters.def"
#undef DYSCO_PIPELINE_COUNTER
  Napi::Object teardowns = Napi::Object::New(env);
  for (uint32_t i = 0; i < static_cast<uint32_t>(TeardownCause::kCount); ++i) {
    teardowns.Set(kTeardownLabels[i], static_cast<double>(c.teardowns[i].Read()));
  }
  out.Set("teardowns", teardowns);
  // The lcore mirrors the live count every expiry pass; the Buffer harness has no lcore, so read it directly.
  out.Set("activeSessions", static_cast<double>(pipeline.active_sessions()));
  out.Set("sessionCapacity", static_cast<double>(pipeline.sessions().capacity()));
  out.Set("tableBytes", static_cast<double>(pipeline.MemoryBytes()));
  out.Set("controlSlotsInUse", pipeline.control_packets().in_use());
  return out;
}

bool SessionQueryFromJs(const Napi::Value& value, uint64_t args[3], std::string* error) {
  *error = "a session query is { sessionId } or { srcIp, dstIp, srcPort, dstPort }";
  if (!value.IsObject()) return false;
  const Napi::Object query = value.As<Napi::Object>();
  if (query.Has("sessionId")) {
    uint32_t id;
    if (!ReadRequiredUintOption(query, "sessionId", UINT32_MAX - 1, &id)) return false;
    args[0] = id;
    args[1] = 0;
    args[2] = 0;
    return true;
  }
  uint32_t src_ip, dst_ip, src_port, dst_port;
  if (!ReadRequiredUintOption(query, "srcIp", UINT32_MAX, &src_ip) || !ReadRequiredUintOption(query, "dstIp", UINT32_MAX, &dst_ip) ||
      !ReadRequiredUintOption(query, "srcPort", 65535, &src_port) || !ReadRequiredUintOption(query, "dstPort", 65535, &dst_port)) {
    return false;
  }
  args[0] = UINT64_MAX;
  args[1] = uint64_t{__builtin_bswap32(src_ip)} << 32 | __builtin_bswap32(dst_ip);
  args[2] = uint64_t{__builtin_bswap16(static_cast<uint16_t>(src_port))} << 16 | __builtin_bswap16(static_cast<uint16_t>(dst_port));
  return true;
}

}  // namespace dysco::addon
