#include "addon/pipeline_options.h"

#include "core/session_table.h"

namespace dysco::addon {

bool ReadUintOption(const Napi::Object& options, const char* key, uint32_t max, uint32_t* out) {
  const Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return true;
  if (!value.IsNumber()) return false;
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0 && number <= max) || number != static_cast<double>(static_cast<uint64_t>(number))) return false;
  *out = static_cast<uint32_t>(number);
  return true;
}

std::string ParsePipelineConfig(const Napi::Object& options, PipelineConfig* config) {
  PipelineConfig& p = *config;
  uint32_t host_ip = 0, prefix = 24, gateway = 0, port_lo = p.port_lo, port_hi = p.port_hi, mtu = p.mtu;
  if (!ReadUintOption(options, "hostIp", UINT32_MAX, &host_ip) || host_ip == 0) return "hostIp must be a non-zero IPv4 number";
  if (!ReadUintOption(options, "prefixLength", 32, &prefix)) return "prefixLength must be 0..32";
  if (!ReadUintOption(options, "gatewayIp", UINT32_MAX, &gateway)) return "gatewayIp must be an IPv4 number";
  if (!ReadUintOption(options, "maxSessions", SessionTable::kMaxSessions, &p.max_sessions) || p.max_sessions == 0)
    return "maxSessions must be 1..4194304";
  if (!ReadUintOption(options, "maxSetups", SessionTable::kMaxSessions, &p.max_setups) || p.max_setups == 0)
    return "maxSetups must be 1..4194304";
  if (!ReadUintOption(options, "portLo", 65535, &port_lo) || !ReadUintOption(options, "portHi", 65535, &port_hi) ||
      port_lo < 1024 || port_lo >= port_hi)
    return "portLo..portHi must be a range within 1024..65535";
  // 68 is IPv4's minimum; agents are held to 576 by their config schema.
  if (!ReadUintOption(options, "mtu", 9216, &mtu) || mtu < 68) return "mtu must be 68..9216";
  if (!ReadUintOption(options, "setupTimeoutMs", 3600000, &p.setup_timeout_ms) ||
      !ReadUintOption(options, "establishedTimeoutMs", 86400000, &p.established_timeout_ms) ||
      !ReadUintOption(options, "closingTimeoutMs", 3600000, &p.closing_timeout_ms) ||
      !ReadUintOption(options, "lingerMs", 600000, &p.linger_ms))
    return "timeouts must be integers of milliseconds";
  uint32_t control_port = p.control_port;
  if (!ReadUintOption(options, "controlPort", 65535, &control_port)) return "controlPort must be 0..65535";
  const Napi::Value session_events = options.Get("sessionEvents");
  if (!session_events.IsUndefined() && !session_events.IsBoolean()) return "sessionEvents must be a boolean";
  if (session_events.IsBoolean()) p.session_events = session_events.As<Napi::Boolean>().Value();
  p.control_port = static_cast<uint16_t>(control_port);
  p.host_ip = __builtin_bswap32(host_ip);
  p.prefix_mask = __builtin_bswap32(prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix));
  p.gateway_ip = __builtin_bswap32(gateway);
  p.port_lo = static_cast<uint16_t>(port_lo);
  p.port_hi = static_cast<uint16_t>(port_hi);
  p.mtu = static_cast<uint16_t>(mtu);
  return {};
}

}  // namespace dysco::addon
