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

bool ReadRequiredUintOption(const Napi::Object& options, const char* key, uint32_t max, uint32_t* out) {
  return !options.Get(key).IsUndefined() && ReadUintOption(options, key, max, out);
}

// Every option is required. Defaults and limits are the agent config schema's (src/agent/config.ts), which the
// caller has applied; this checks only what the C++ types and the pipeline's invariants need.
std::string ParsePipelineConfig(const Napi::Object& options, PipelineConfig* config) {
  PipelineConfig& p = *config;
  uint32_t host_ip = 0, prefix = 0, gateway = 0, port_lo = 0, port_hi = 0, mtu = 0;
  const auto read = [&options](const char* key, uint32_t max, uint32_t* out) {
    return ReadRequiredUintOption(options, key, max, out);
  };
  if (!read("hostIp", UINT32_MAX, &host_ip) || host_ip == 0) return "hostIp must be a non-zero IPv4 number";
  if (!read("prefixLength", 32, &prefix)) return "prefixLength must be 0..32";
  if (!read("gatewayIp", UINT32_MAX, &gateway)) return "gatewayIp must be an IPv4 number";
  // The tables are sized from these: zero or more than the table's limit would break it.
  if (!read("maxSessions", SessionTable::kMaxSessions, &p.max_sessions) || p.max_sessions == 0)
    return "maxSessions must be an integer from 1 to the session table's limit";
  if (!read("maxSetups", SessionTable::kMaxSetups, &p.max_setups) || p.max_setups == 0)
    return "maxSetups must be an integer from 1 to the set-up pool's limit";
  if (!read("maxReconfigurations", SessionTable::kMaxSecondPaths, &p.max_second_paths) || p.max_second_paths == 0)
    return "maxReconfigurations must be an integer from 1 to the reconfiguration pool's limit";
  if (!read("portLo", 65535, &port_lo) || !read("portHi", 65535, &port_hi) || port_lo >= port_hi)
    return "portLo and portHi must be port numbers with portLo < portHi";
  if (!read("mtu", 65535, &mtu) || mtu == 0) return "mtu must be a 16-bit integer";
  if (!read("setupTimeoutMs", UINT32_MAX, &p.setup_timeout_ms) ||
      !read("establishedTimeoutMs", UINT32_MAX, &p.established_timeout_ms) ||
      !read("closingTimeoutMs", UINT32_MAX, &p.closing_timeout_ms) || !read("lingerMs", UINT32_MAX, &p.linger_ms))
    return "setupTimeoutMs, establishedTimeoutMs, closingTimeoutMs and lingerMs must be integers of milliseconds";
  uint32_t control_port = 0;
  if (!read("controlPort", 65535, &control_port)) return "controlPort must be 0..65535";
  const Napi::Value session_events = options.Get("sessionEvents");
  if (!session_events.IsBoolean()) return "sessionEvents must be a boolean";
  p.session_events = session_events.As<Napi::Boolean>().Value();
  // The one optional option: a pipeline without list authentication needs no say in it.
  if (!ReadUintOption(options, "replayCacheSlots", 1u << 24, &p.replay_cache_slots))
    return "replayCacheSlots must be an integer up to 16777216";
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
