// exports.protocol: the address list and tag option codecs of native/core on Node Buffers. TypeScript
// (src/native/protocol-binding.ts) describes this surface; here we check only what would otherwise let a
// bad call read or write outside a Buffer or an array. Frames are never changed in place: every frame
// function returns a new Buffer (a copy of the input when the status is not "ok").
#include "addon/protocol_bindings.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/address_list.h"
#include "core/byte_order.h"
#include "core/five_tuple.h"
#include "core/packet_view.h"
#include "core/tag_option.h"

namespace dysco::addon {
namespace {

bool RequireArguments(const Napi::CallbackInfo& info, size_t count) {
  if (info.Length() >= count) return true;
  Napi::TypeError::New(info.Env(), "protocol: missing arguments").ThrowAsJavaScriptException();
  return false;
}

bool IsBufferArgument(const Napi::CallbackInfo& info, size_t index) {
  if (info[index].IsBuffer()) return true;
  Napi::TypeError::New(info.Env(), "protocol: argument must be a Buffer").ThrowAsJavaScriptException();
  return false;
}

Napi::Array NameTable(Napi::Env env, const char* const* names, size_t count) {
  Napi::Array table = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; ++i) table.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return table;
}

// Host-order number <-> the network-order value native/core keeps in FiveTuple and in hop arrays.
uint32_t ToNetwork32(uint32_t host) {
  uint32_t network;
  StoreBe32(reinterpret_cast<uint8_t*>(&network), host);
  return network;
}
uint16_t ToNetwork16(uint16_t host) {
  uint16_t network;
  StoreBe16(reinterpret_cast<uint8_t*>(&network), host);
  return network;
}
uint32_t ToHost32(uint32_t network) { return LoadBe32(reinterpret_cast<const uint8_t*>(&network)); }
uint16_t ToHost16(uint16_t network) { return LoadBe16(reinterpret_cast<const uint8_t*>(&network)); }

bool ReadUint32(Napi::Env env, const Napi::Value& value, const char* what, uint32_t* out) {
  if (!value.IsNumber()) {
    Napi::TypeError::New(env, std::string("protocol: ") + what + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *out = value.As<Napi::Number>().Uint32Value();
  return true;
}

// The session tuple {srcIp, dstIp, srcPort, dstPort} (host-order numbers) as a network-order FiveTuple.
bool ReadSession(Napi::Env env, const Napi::Value& value, FiveTuple* session) {
  if (!value.IsObject()) {
    Napi::TypeError::New(env, "protocol: the session must be an object").ThrowAsJavaScriptException();
    return false;
  }
  const Napi::Object object = value.As<Napi::Object>();
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint32_t src_port = 0;
  uint32_t dst_port = 0;
  if (!ReadUint32(env, object.Get("srcIp"), "session.srcIp", &src_ip) ||
      !ReadUint32(env, object.Get("dstIp"), "session.dstIp", &dst_ip) ||
      !ReadUint32(env, object.Get("srcPort"), "session.srcPort", &src_port) ||
      !ReadUint32(env, object.Get("dstPort"), "session.dstPort", &dst_port)) {
    return false;
  }
  session->src_ip = ToNetwork32(src_ip);
  session->dst_ip = ToNetwork32(dst_ip);
  session->src_port = ToNetwork16(static_cast<uint16_t>(src_port));
  session->dst_port = ToNetwork16(static_cast<uint16_t>(dst_port));
  session->protocol = kIpProtocolTcp;
  return true;
}

// Reads up to kMaxAddressListHops hops (network order) into `hops`. *count is the array's length capped
// at 255: a count above kMaxAddressListHops makes native/core refuse the call before it reads any hop.
bool ReadHops(Napi::Env env, const Napi::Value& value, uint32_t* hops, uint8_t* count) {
  if (!value.IsArray()) {
    Napi::TypeError::New(env, "protocol: the hops must be an array").ThrowAsJavaScriptException();
    return false;
  }
  const Napi::Array array = value.As<Napi::Array>();
  const uint32_t length = array.Length();
  *count = static_cast<uint8_t>(length > 255 ? 255 : length);
  for (uint32_t i = 0; i < length && i < kMaxAddressListHops; ++i) {
    uint32_t hop = 0;
    if (!ReadUint32(env, array.Get(i), "every hop", &hop)) return false;
    hops[i] = ToNetwork32(hop);
  }
  return true;
}

Napi::Object SessionObject(Napi::Env env, const FiveTuple& session) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("srcIp", ToHost32(session.src_ip));
  object.Set("dstIp", ToHost32(session.dst_ip));
  object.Set("srcPort", ToHost16(session.src_port));
  object.Set("dstPort", ToHost16(session.dst_port));
  return object;
}

// A working copy of a frame Buffer with `extra` bytes of spare capacity.
std::vector<uint8_t> FrameCopy(const Napi::Buffer<uint8_t>& buffer, size_t extra) {
  std::vector<uint8_t> copy(buffer.Length() + extra);
  std::memcpy(copy.data(), buffer.Data(), buffer.Length());
  return copy;
}

// The spare capacity a frame function gets: enough by default; a test passes a smaller number (an optional
// last argument) to reach the no_room path.
bool SpareCapacity(const Napi::CallbackInfo& info, size_t index, size_t enough, size_t* spare) {
  *spare = enough;
  if (info.Length() <= index || info[index].IsUndefined()) return true;
  uint32_t value = 0;
  if (!ReadUint32(info.Env(), info[index], "the spare capacity", &value)) return false;
  if (value < enough) *spare = value;
  return true;
}

// Whether the layout an edit handed back is what parsing the edited frame gives.
bool LayoutAgrees(const PacketLayout& edited, const uint8_t* frame, size_t length) {
  const PacketLayout parsed = ParsePacket(frame, length);
  return edited.status == parsed.status && edited.ip_protocol == parsed.ip_protocol &&
         edited.has_vlan == parsed.has_vlan && edited.vlan_tci == parsed.vlan_tci &&
         edited.ether_type == parsed.ether_type && edited.l3_offset == parsed.l3_offset &&
         edited.l4_offset == parsed.l4_offset && edited.payload_offset == parsed.payload_offset &&
         edited.l3_end == parsed.l3_end;
}

// { status, frame }, and after an edit (status "ok") whether the layout it handed back describes the
// edited frame (layoutAgrees).
Napi::Object FrameResult(Napi::Env env, const char* status, const std::vector<uint8_t>& frame, size_t length,
                         const PacketLayout& edited) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", status);
  result.Set("frame", Napi::Buffer<uint8_t>::Copy(env, frame.data(), length));
  if (std::string(status) == "ok") result.Set("layoutAgrees", LayoutAgrees(edited, frame.data(), length));
  return result;
}

Napi::Value ParseAddressListBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 1) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  AddressList list;
  const AddressListStatus status = ParseAddressList(buffer.Data(), buffer.Length(), &list);
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", AddressListStatusName(status));
  if (status != AddressListStatus::kOk) return result;
  result.Set("session", SessionObject(env, list.session));
  Napi::Array hops = Napi::Array::New(env, list.hop_count);
  for (uint32_t i = 0; i < list.hop_count; ++i) hops.Set(i, ToHost32(list.hops[i]));
  result.Set("hops", hops);
  result.Set("authenticated", list.authenticated);
  return result;
}

Napi::Value EncodeAddressListBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 2)) return env.Undefined();
  FiveTuple session;
  uint32_t hops[kMaxAddressListHops] = {};
  uint8_t count = 0;
  if (!ReadSession(env, info[0], &session) || !ReadHops(env, info[1], hops, &count)) return env.Undefined();
  uint8_t out[kMaxAddressListSize];
  const size_t size = EncodeAddressList(session, hops, count, out, sizeof out);
  if (size == 0) {
    Napi::RangeError::New(env, "protocol.encodeAddressList: 1 to 32 hops are expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(env, out, size);
}

Napi::Value AppendAddressListToSynBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 3) || !IsBufferArgument(info, 0)) return env.Undefined();
  FiveTuple session;
  uint32_t hops[kMaxAddressListHops] = {};
  uint8_t count = 0;
  size_t spare = 0;
  if (!ReadSession(env, info[1], &session) || !ReadHops(env, info[2], hops, &count) ||
      !SpareCapacity(info, 3, kMaxAddressListSize, &spare)) {
    return env.Undefined();
  }
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> frame = FrameCopy(buffer, spare);
  size_t length = buffer.Length();
  PacketLayout layout = ParsePacket(frame.data(), length);
  const SynPayloadStatus status =
      AppendAddressListToSyn(frame.data(), &length, frame.size(), &layout, session, hops, count);
  return FrameResult(env, SynPayloadStatusName(status), frame, length, layout);
}

Napi::Value StripSynPayloadBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 1) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> frame = FrameCopy(buffer, 0);
  size_t length = buffer.Length();
  PacketLayout layout = ParsePacket(frame.data(), length);
  const SynPayloadStatus status = StripSynPayload(frame.data(), &length, &layout);
  return FrameResult(env, SynPayloadStatusName(status), frame, length, layout);
}

Napi::Value AddTagOptionBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 2) || !IsBufferArgument(info, 0)) return env.Undefined();
  uint32_t tag = 0;
  size_t spare = 0;
  if (!ReadUint32(env, info[1], "the tag", &tag) || !SpareCapacity(info, 2, kTagOptionLength, &spare)) {
    return env.Undefined();
  }
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> frame = FrameCopy(buffer, spare);
  size_t length = buffer.Length();
  PacketLayout layout = ParsePacket(frame.data(), length);
  const TagStatus status = AddTagOption(frame.data(), &length, frame.size(), &layout, tag);
  return FrameResult(env, TagStatusName(status), frame, length, layout);
}

Napi::Value FindTagOptionBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 1) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  const PacketLayout layout = ParsePacket(buffer.Data(), buffer.Length());
  uint32_t tag = 0;
  if (!FindTagOption(buffer.Data(), layout, &tag)) return env.Null();
  return Napi::Number::New(env, tag);
}

Napi::Value RemoveTagOptionBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 1) || !IsBufferArgument(info, 0)) return env.Undefined();
  auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> frame = FrameCopy(buffer, 0);
  size_t length = buffer.Length();
  PacketLayout layout = ParsePacket(frame.data(), length);
  const bool removed = RemoveTagOption(frame.data(), &length, &layout);
  Napi::Object result = Napi::Object::New(env);
  result.Set("removed", removed);
  if (removed) result.Set("layoutAgrees", LayoutAgrees(layout, frame.data(), length));
  result.Set("frame", Napi::Buffer<uint8_t>::Copy(env, frame.data(), length));
  return result;
}

}  // namespace

void RegisterProtocolBindings(Napi::Env env, Napi::Object exports) {
  Napi::Object protocol = Napi::Object::New(env);
  protocol.Set("addressListStatusNames", NameTable(env, kAddressListStatusNames, kAddressListStatusCount));
  protocol.Set("synPayloadStatusNames", NameTable(env, kSynPayloadStatusNames, kSynPayloadStatusCount));
  protocol.Set("tagStatusNames", NameTable(env, kTagStatusNames, kTagStatusCount));
  protocol.Set("parseAddressList", Napi::Function::New(env, ParseAddressListBinding, "parseAddressList"));
  protocol.Set("encodeAddressList", Napi::Function::New(env, EncodeAddressListBinding, "encodeAddressList"));
  protocol.Set("appendAddressListToSyn",
               Napi::Function::New(env, AppendAddressListToSynBinding, "appendAddressListToSyn"));
  protocol.Set("stripSynPayload", Napi::Function::New(env, StripSynPayloadBinding, "stripSynPayload"));
  protocol.Set("addTagOption", Napi::Function::New(env, AddTagOptionBinding, "addTagOption"));
  protocol.Set("findTagOption", Napi::Function::New(env, FindTagOptionBinding, "findTagOption"));
  protocol.Set("removeTagOption", Napi::Function::New(env, RemoveTagOptionBinding, "removeTagOption"));
  exports.Set("protocol", protocol);
}

}  // namespace dysco::addon
