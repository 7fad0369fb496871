#include "addon/event_js.h"

#include "addon/session_js.h"
#include "core/session_summary.h"

namespace dysco::addon {
namespace {

const char* EventLabel(EventType type) {
  for (const auto& info : kEventTypes) {
    if (info.value == static_cast<uint32_t>(type)) return info.label;
  }
  return nullptr;
}

const char* RoleLabel(uint64_t role) {
  constexpr uint64_t kRoles = sizeof(kSessionRoleLabels) / sizeof(kSessionRoleLabels[0]);
  return role < kRoles ? kSessionRoleLabels[role] : "unknown";
}

}  // namespace

Napi::Value EventObject(Napi::Env env, const Event& event, const ControlPacketPool* pool) {
  const char* label = EventLabel(event.type);
  if (label == nullptr || event.type == EventType::kRequestDone) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);
  out.Set("type", label);
  switch (event.type) {
    case EventType::kControlPacket: {
      if (pool == nullptr || !pool->valid(event.subject)) return env.Undefined();
      const ControlPacket& packet = pool->at(event.subject);
      out.Set("srcIp", static_cast<double>(__builtin_bswap32(packet.src_ip)));
      out.Set("dstIp", static_cast<double>(__builtin_bswap32(packet.dst_ip)));
      out.Set("srcPort", packet.src_port);
      out.Set("dstPort", packet.dst_port);
      out.Set("payload", Napi::Buffer<uint8_t>::Copy(env, packet.payload, packet.length));
      pool->Release(event.subject);
      break;
    }
    case EventType::kSessionEstablished:
      out.Set("sessionId", event.subject);
      out.Set("role", RoleLabel(event.value & 0xff));
      break;
    case EventType::kSessionEnded:
      out.Set("sessionId", event.subject);
      out.Set("role", RoleLabel(event.value & 0xff));
      out.Set("cause", TeardownCauseLabel(static_cast<uint32_t>((event.value >> 8) & 0xff)));
      break;
    case EventType::kNewPathAnswered:
    case EventType::kTwoPathsEntered: {
      out.Set("sessionId", event.subject);
      Napi::Object subsession = Napi::Object::New(env);
      subsession.Set("neighbourIp", static_cast<double>(event.value & 0xffffffffu));
      subsession.Set("localPort", static_cast<double>((event.value >> 32) & 0xffff));
      subsession.Set("neighbourPort", static_cast<double>(event.value >> 48));
      out.Set("subsession", subsession);
      break;
    }
    case EventType::kOldPathDrained:
    case EventType::kNewPathRefused:
      out.Set("sessionId", event.subject);
      out.Set("side", event.value == 0 ? "right" : "left");
      break;
    default:
      break;
  }
  return out;
}

}  // namespace dysco::addon
