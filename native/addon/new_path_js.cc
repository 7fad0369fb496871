#include "addon/new_path_js.h"

#include "addon/pipeline_options.h"

namespace dysco::addon {

bool NewPathSpecFromJs(const Napi::Value& value, NewPathSpec* out, std::string* error) {
  *error = "a new path spec must be { sessionId, hostTuple, side, nonce, delta: { forward, reverse }, hops }";
  if (!value.IsObject()) return false;
  const Napi::Object spec = value.As<Napi::Object>();
  const Napi::Value tuple = spec.Get("hostTuple"), delta = spec.Get("delta"), hops = spec.Get("hops"),
                    side = spec.Get("side");
  if (!tuple.IsObject() || !delta.IsObject() || !hops.IsArray() || !side.IsString()) return false;
  uint32_t session_id, nonce, src_ip, dst_ip, src_port, dst_port, forward, reverse;
  const Napi::Object t = tuple.As<Napi::Object>(), d = delta.As<Napi::Object>();
  if (!ReadUintOption(spec, "sessionId", UINT32_MAX, &session_id) || !ReadUintOption(spec, "nonce", UINT32_MAX, &nonce) ||
      !ReadUintOption(t, "srcIp", UINT32_MAX, &src_ip) || !ReadUintOption(t, "dstIp", UINT32_MAX, &dst_ip) ||
      !ReadUintOption(t, "srcPort", 65535, &src_port) || !ReadUintOption(t, "dstPort", 65535, &dst_port) ||
      !ReadUintOption(d, "forward", UINT32_MAX, &forward) || !ReadUintOption(d, "reverse", UINT32_MAX, &reverse)) {
    return false;
  }
  const std::string side_name = side.As<Napi::String>().Utf8Value();
  if (side_name != "right" && side_name != "left") {
    *error = "side must be 'right' (the left anchor's) or 'left' (the right anchor's)";
    return false;
  }
  const Napi::Array list = hops.As<Napi::Array>();
  if (list.Length() > kMaxAddressListHops) {
    *error = "a new path has at most 32 hops";
    return false;
  }
  out->session_id = session_id;
  out->host_tuple.src_ip = __builtin_bswap32(src_ip);
  out->host_tuple.dst_ip = __builtin_bswap32(dst_ip);
  out->host_tuple.src_port = __builtin_bswap16(static_cast<uint16_t>(src_port));
  out->host_tuple.dst_port = __builtin_bswap16(static_cast<uint16_t>(dst_port));
  out->host_tuple.protocol = 6;
  out->side = side_name == "right" ? AnchorSide::kRight : AnchorSide::kLeft;
  out->nonce = nonce;
  out->delta_forward = forward;
  out->delta_reverse = reverse;
  out->hop_count = static_cast<uint8_t>(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const Napi::Value hop = list.Get(i);
    const double number = hop.IsNumber() ? hop.As<Napi::Number>().DoubleValue() : -1;
    if (!(number >= 0 && number <= 4294967295.0) || number != static_cast<double>(static_cast<uint32_t>(number))) {
      *error = "hops must be IPv4 addresses as host-order numbers";
      return false;
    }
    out->hops[i] = __builtin_bswap32(static_cast<uint32_t>(number));
  }
  return true;
}

}  // namespace dysco::addon
