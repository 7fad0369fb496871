// exports.core: native/core run on Node Buffers, for the native test tier and tools. TypeScript
// (src/native/core-binding.ts) describes this surface and validates arguments; here we check only what
// would otherwise let a bad call read outside a Buffer.
#include "addon/core_bindings.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "core/checksum.h"
#include "core/endpoint_rewrite.h"
#include "core/packet_view.h"
#include "core/parse_status.h"
#include "core/segment_deltas.h"
#include "core/tcp_options.h"

namespace dysco::addon {
namespace {

// The JS name of a walk that found no TCP header to walk (the frame is not a parsable TCP packet).
constexpr const char* kNotTcp = "not_tcp";

bool RequireArguments(const Napi::CallbackInfo& info, size_t count) {
  if (info.Length() >= count) return true;
  Napi::TypeError::New(info.Env(), "core: missing arguments").ThrowAsJavaScriptException();
  return false;
}

bool IsBufferArgument(const Napi::CallbackInfo& info, size_t index) {
  if (info[index].IsBuffer()) return true;
  Napi::TypeError::New(info.Env(), "core: argument must be a Buffer").ThrowAsJavaScriptException();
  return false;
}

Napi::Array NameTable(Napi::Env env, const char* const* names, size_t count) {
  Napi::Array table = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; ++i) table.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return table;
}

Napi::Value ParsePacketBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 1) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  const PacketView packet(buffer.Data(), buffer.Length());
  const PacketLayout& layout = packet.layout();

  Napi::Object result = Napi::Object::New(env);
  result.Set("status", ParseStatusName(layout.status));
  result.Set("etherType", layout.ether_type);
  result.Set("hasVlan", layout.has_vlan);
  result.Set("vlanTci", layout.vlan_tci);
  result.Set("l3Offset", layout.l3_offset);
  result.Set("l4Offset", layout.l4_offset);
  result.Set("payloadOffset", layout.payload_offset);
  result.Set("l3End", layout.l3_end);
  result.Set("protocol", layout.ip_protocol);
  result.Set("payloadLength", layout.ok() ? layout.payload_length() : 0);
  const bool has_ip = layout.has_ipv4_header();
  result.Set("srcIp", has_ip ? packet.ipv4().src() : 0);
  result.Set("dstIp", has_ip ? packet.ipv4().dst() : 0);
  // TCP and UDP both keep their ports in the first four bytes.
  result.Set("srcPort", layout.ok() ? packet.tcp().src_port() : 0);
  result.Set("dstPort", layout.ok() ? packet.tcp().dst_port() : 0);
  return result;
}

Napi::Value WalkTcpOptionsBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 1) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  const PacketView packet(buffer.Data(), buffer.Length());
  const PacketLayout& layout = packet.layout();

  Napi::Object result = Napi::Object::New(env);
  Napi::Array options = Napi::Array::New(env);
  result.Set("parseStatus", ParseStatusName(layout.status));
  result.Set("options", options);
  if (!layout.is_tcp()) {
    result.Set("status", kNotTcp);
    return result;
  }

  const TcpView tcp = packet.tcp();
  const uint32_t area_offset = layout.l4_offset + static_cast<uint32_t>(kTcpMinHeaderSize);
  uint32_t count = 0;
  const TcpOptionStatus status = WalkTcpOptions(tcp.options(), tcp.options_size(), [&](const TcpOption& option) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("kind", option.kind);
    entry.Set("offset", area_offset + option.offset);
    entry.Set("length", option.length);
    options.Set(count++, entry);
  });
  result.Set("status", TcpOptionStatusName(status));

  const TcpOptionSummary summary = SummarizeTcpOptions(tcp.options(), tcp.options_size());
  if (summary.has_mss) result.Set("mss", summary.mss);
  if (summary.has_window_scale) result.Set("wscale", summary.window_scale);
  result.Set("sackPermitted", summary.sack_permitted);
  if (summary.has_timestamps) {
    result.Set("tsval", summary.timestamps.value);
    result.Set("tsecr", summary.timestamps.echo);
  }
  return result;
}

Napi::Value ClampMssBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 2) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  const auto max_mss = static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value());
  const PacketView packet(buffer.Data(), buffer.Length());

  Napi::Object result = Napi::Object::New(env);
  result.Set("parseStatus", ParseStatusName(packet.status()));
  if (!packet.layout().is_tcp()) {
    result.Set("status", kNotTcp);
    result.Set("clamped", false);
    return result;
  }
  const MssClampResult clamp = ClampMss(packet.tcp(), max_mss);
  result.Set("status", TcpOptionStatusName(clamp.status));
  result.Set("clamped", clamp.clamped);
  return result;
}

// applySegmentDeltas(frame, { seq, ack, tsVal, tsEcr, windowScaleIn, windowScaleOut }) -> { status, frame }:
// a copy of the frame moved into another sequence space (the input is not changed).
Napi::Value ApplySegmentDeltasBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 2) || !IsBufferArgument(info, 0) || !info[1].IsObject()) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  const Napi::Object spec = info[1].As<Napi::Object>();
  const auto field = [&spec](const char* key) {
    const Napi::Value value = spec.Get(key);
    return value.IsNumber() ? static_cast<uint32_t>(value.As<Napi::Number>().Int64Value()) : 0u;
  };
  SegmentDeltas deltas;
  deltas.seq = field("seq");
  deltas.ack = field("ack");
  deltas.ts_val = field("tsVal");
  deltas.ts_ecr = field("tsEcr");
  deltas.window_scale_in = static_cast<uint8_t>(field("windowScaleIn") & 0x0f);
  deltas.window_scale_out = static_cast<uint8_t>(field("windowScaleOut") & 0x0f);
  std::vector<uint8_t> frame(buffer.Data(), buffer.Data() + buffer.Length());
  const PacketLayout layout = ParsePacket(frame.data(), frame.size());
  const SegmentDeltaStatus status = ApplySegmentDeltas(frame.data(), layout, deltas);
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", status == SegmentDeltaStatus::kOk ? "ok" : status == SegmentDeltaStatus::kNotTcp ? "not_tcp" : "bad_options");
  result.Set("frame", Napi::Buffer<uint8_t>::Copy(env, frame.data(), frame.size()));
  return result;
}

Napi::Value ChecksumFullBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 3) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  const double start = info[1].As<Napi::Number>().DoubleValue();
  const double length = info[2].As<Napi::Number>().DoubleValue();
  if (!(start >= 0 && length >= 0 && start + length <= static_cast<double>(buffer.Length()))) {
    Napi::RangeError::New(env, "core.checksumFull: range outside the Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(
      env, ChecksumFull(buffer.Data() + static_cast<size_t>(start), static_cast<size_t>(length)));
}

Napi::Value ChecksumIncremental16Binding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 3)) return env.Undefined();
  const auto checksum = static_cast<uint16_t>(info[0].As<Napi::Number>().Uint32Value());
  const auto old_word = static_cast<uint16_t>(info[1].As<Napi::Number>().Uint32Value());
  const auto new_word = static_cast<uint16_t>(info[2].As<Napi::Number>().Uint32Value());
  return Napi::Number::New(env, ChecksumUpdate16(checksum, old_word, new_word));
}

Napi::Value ChecksumIncremental32Binding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 3)) return env.Undefined();
  const auto checksum = static_cast<uint16_t>(info[0].As<Napi::Number>().Uint32Value());
  const uint32_t old_value = info[1].As<Napi::Number>().Uint32Value();
  const uint32_t new_value = info[2].As<Napi::Number>().Uint32Value();
  return Napi::Number::New(env, ChecksumUpdate32(checksum, old_value, new_value));
}

template <typename T>
std::optional<T> OptionalField(const Napi::Object& object, const char* name) {
  Napi::Value value = object.Get(name);
  if (!value.IsNumber()) return std::nullopt;
  return static_cast<T>(value.As<Napi::Number>().Uint32Value());
}

Napi::Value RewriteIpv4TcpBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 2) || !IsBufferArgument(info, 0)) return env.Undefined();
  if (!info[1].IsObject()) {
    Napi::TypeError::New(env, "core.rewriteIpv4Tcp: the rewrite must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  const Napi::Object fields = info[1].As<Napi::Object>();
  EndpointRewrite rewrite;
  rewrite.src_ip = OptionalField<uint32_t>(fields, "srcIp");
  rewrite.dst_ip = OptionalField<uint32_t>(fields, "dstIp");
  rewrite.src_port = OptionalField<uint16_t>(fields, "srcPort");
  rewrite.dst_port = OptionalField<uint16_t>(fields, "dstPort");
  const PacketView packet(buffer.Data(), buffer.Length());
  return Napi::String::New(env, ParseStatusName(RewriteEndpoints(packet, rewrite)));
}

Napi::Value VerifyChecksumsBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 1) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  const PacketView packet(buffer.Data(), buffer.Length());
  const PacketLayout& layout = packet.layout();

  bool ip_ok = false;
  bool l4_ok = false;
  if (layout.ok()) {
    const Ipv4View ip = packet.ipv4();
    ip_ok = ChecksumVerifies(ip.data(), ip.header_size());
    const bool udp_without_checksum = layout.is_udp() && packet.udp().checksum() == 0;
    l4_ok = udp_without_checksum || TransportChecksumVerifies(ip.src(), ip.dst(), layout.ip_protocol,
                                                              packet.frame() + layout.l4_offset, layout.l4_length());
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", ParseStatusName(layout.status));
  result.Set("ip", ip_ok);
  result.Set("l4", l4_ok);
  return result;
}

}  // namespace

void RegisterCoreBindings(Napi::Env env, Napi::Object exports) {
  Napi::Object core = Napi::Object::New(env);
  core.Set("parseStatusNames", NameTable(env, kParseStatusNames, kParseStatusCount));
  core.Set("tcpOptionStatusNames", NameTable(env, kTcpOptionStatusNames, kTcpOptionStatusCount));
  core.Set("parsePacket", Napi::Function::New(env, ParsePacketBinding, "parsePacket"));
  core.Set("walkTcpOptions", Napi::Function::New(env, WalkTcpOptionsBinding, "walkTcpOptions"));
  core.Set("clampMss", Napi::Function::New(env, ClampMssBinding, "clampMss"));
  core.Set("applySegmentDeltas", Napi::Function::New(env, ApplySegmentDeltasBinding, "applySegmentDeltas"));
  core.Set("checksumFull", Napi::Function::New(env, ChecksumFullBinding, "checksumFull"));
  core.Set("checksumIncremental16", Napi::Function::New(env, ChecksumIncremental16Binding, "checksumIncremental16"));
  core.Set("checksumIncremental32", Napi::Function::New(env, ChecksumIncremental32Binding, "checksumIncremental32"));
  core.Set("rewriteIpv4Tcp", Napi::Function::New(env, RewriteIpv4TcpBinding, "rewriteIpv4Tcp"));
  core.Set("verifyChecksums", Napi::Function::New(env, VerifyChecksumsBinding, "verifyChecksums"));
  exports.Set("core", core);
}

}  // namespace dysco::addon
