// exports.neighbours: native/core/arp.h and native/core/neighbour_table.h on Node values. TypeScript
// (src/native/neighbour-binding.ts) describes this surface. Here we check only what would otherwise read
// outside a Buffer or feed the core nonsense: argument kinds, MAC lengths, non-negative times.
// IPv4 addresses cross as unsigned 32-bit host-order numbers and become network order here; MACs cross
// as 6-byte Buffers; handles are non-negative integers carried in the table as pointer-sized values.
#include "addon/neighbour_bindings.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "addon/errors.h"
#include "core/arp.h"
#include "core/neighbour_table.h"

namespace dysco::addon {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

bool RequireArguments(const Napi::CallbackInfo& info, size_t count, const char* what) {
  if (info.Length() >= count) return true;
  ThrowType(info.Env(), std::string("neighbours.") + what + ": missing arguments");
  return false;
}

bool ReadU32(const Napi::CallbackInfo& info, size_t index, const char* what, uint32_t* out) {
  if (!info[index].IsNumber()) {
    ThrowType(info.Env(), std::string("neighbours.") + what + ": a number is expected");
    return false;
  }
  *out = info[index].As<Napi::Number>().Uint32Value();
  return true;
}

bool ReadIp(const Napi::CallbackInfo& info, size_t index, const char* what, uint32_t* ip_be) {
  uint32_t host = 0;
  if (!ReadU32(info, index, what, &host)) return false;
  *ip_be = Ipv4HostToNet(host);
  return true;
}

// A non-negative integer up to 2^53 - 1 (times in ns, handles).
bool ReadCount(Napi::Env env, const Napi::Value& value, const char* what, uint64_t* out) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(number >= 0 && number <= kMaxSafeInteger) || number != static_cast<double>(static_cast<uint64_t>(number))) {
    Napi::RangeError::New(env, std::string("neighbours.") + what + ": a non-negative integer is expected")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint64_t>(number);
  return true;
}

bool ReadMac(Napi::Env env, const Napi::Value& value, const char* what, MacAddress* mac) {
  if (!value.IsBuffer() || value.As<Napi::Buffer<uint8_t>>().Length() != sizeof mac->bytes) {
    ThrowType(env, std::string("neighbours.") + what + ": a MAC must be a 6-byte Buffer");
    return false;
  }
  std::memcpy(mac->bytes, value.As<Napi::Buffer<uint8_t>>().Data(), sizeof mac->bytes);
  return true;
}

Napi::Buffer<uint8_t> MacBuffer(Napi::Env env, const MacAddress& mac) {
  return Napi::Buffer<uint8_t>::Copy(env, mac.bytes, sizeof mac.bytes);
}

template <size_t N>
Napi::Array NameTable(Napi::Env env, const char* const (&names)[N]) {
  Napi::Array table = Napi::Array::New(env, N);
  for (size_t i = 0; i < N; ++i) table.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return table;
}

void* HandleFromInteger(uint64_t value) { return reinterpret_cast<void*>(static_cast<uintptr_t>(value)); }
double HandleToNumber(void* handle) { return static_cast<double>(reinterpret_cast<uintptr_t>(handle)); }

// Collects handles the table hands back into a JS array, in order.
struct HandleCollector {
  Napi::Env env;
  Napi::Array out;
  uint32_t count = 0;

  explicit HandleCollector(Napi::Env e) : env(e), out(Napi::Array::New(e)) {}
  void operator()(void* handle) { out.Set(count++, Napi::Number::New(env, HandleToNumber(handle))); }
};

Napi::Value ParseArpBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 1, "parseArp")) return env.Undefined();
  if (!info[0].IsBuffer()) {
    ThrowType(env, "neighbours.parseArp: a Buffer is expected");
    return env.Undefined();
  }
  auto frame = info[0].As<Napi::Buffer<uint8_t>>();
  ArpMessage message;
  if (!ParseArp(frame.Data(), frame.Length(), &message)) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("op", message.op);
  result.Set("ethDst", MacBuffer(env, message.eth_dst));
  result.Set("ethSrc", MacBuffer(env, message.eth_src));
  result.Set("senderMac", MacBuffer(env, message.sender_mac));
  result.Set("senderIp", Ipv4NetToHost(message.sender_ip_be));
  result.Set("targetMac", MacBuffer(env, message.target_mac));
  result.Set("targetIp", Ipv4NetToHost(message.target_ip_be));
  result.Set("gratuitous", message.is_gratuitous());
  return result;
}

Napi::Value BuildArpRequestBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireArguments(info, 3, "buildArpRequest")) return env.Undefined();
  MacAddress sender_mac;
  uint32_t sender_ip = 0;
  uint32_t target_ip = 0;
  if (!ReadMac(env, info[0], "buildArpRequest", &sender_mac) || !ReadIp(info, 1, "buildArpRequest", &sender_ip) ||
      !ReadIp(info, 2, "buildArpRequest", &target_ip)) {
    return env.Undefined();
  }
  uint8_t frame[kEthernetMinFrameSize];
  const size_t length = BuildArpRequest(frame, sizeof frame, sender_mac, sender_ip, target_ip);
  return Napi::Buffer<uint8_t>::Copy(env, frame, length);
}

class NeighbourTableWrap : public Napi::ObjectWrap<NeighbourTableWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NeighbourTable",
                       {
                           InstanceMethod<&NeighbourTableWrap::Resolve>("resolve"),
                           InstanceMethod<&NeighbourTableWrap::Enqueue>("enqueue"),
                           InstanceMethod<&NeighbourTableWrap::Learn>("learn"),
                           InstanceMethod<&NeighbourTableWrap::Expire>("expire"),
                           InstanceMethod<&NeighbourTableWrap::Clear>("clear"),
                           InstanceMethod<&NeighbourTableWrap::Lookup>("lookup"),
                           InstanceMethod<&NeighbourTableWrap::Stats>("stats"),
                       });
  }

  // The table's handles are plain numbers that own nothing, so destruction needs no sink.
  explicit NeighbourTableWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NeighbourTableWrap>(info) {
    Napi::Env env = info.Env();
    NeighbourConfig config;
    if (info.Length() >= 1 && info[0].IsObject()) {
      const Napi::Object options = info[0].As<Napi::Object>();
      if (!ReadU32Option(options, "capacity", &config.capacity) ||
          !ReadU32Option(options, "maxQueuedPerEntry", &config.max_queued_per_entry) ||
          !ReadU32Option(options, "maxQueuedTotal", &config.max_queued_total) ||
          !ReadU32Option(options, "maxRequests", &config.max_requests) ||
          !ReadTimeOption(options, "retryIntervalNs", &config.retry_interval_ns) ||
          !ReadTimeOption(options, "reachableLifetimeNs", &config.reachable_lifetime_ns) ||
          !ReadTimeOption(options, "queueTimeoutNs", &config.queue_timeout_ns) ||
          !ReadTimeOption(options, "failedHoldNs", &config.failed_hold_ns)) {
        return;
      }
    }
    const Status status = table_.Init(config);
    if (status != Status::OK) ThrowStatus(env, status, "NeighbourTable options out of range");
  }

 private:
  bool ReadU32Option(const Napi::Object& options, const char* name, uint32_t* out) {
    const Napi::Value value = options.Get(name);
    if (value.IsUndefined()) return true;
    uint64_t number = 0;
    if (!ReadCount(options.Env(), value, name, &number)) return false;
    if (number > UINT32_MAX) {
      Napi::RangeError::New(options.Env(), std::string("neighbours.NeighbourTable: ") + name + " too large")
          .ThrowAsJavaScriptException();
      return false;
    }
    *out = static_cast<uint32_t>(number);
    return true;
  }

  bool ReadTimeOption(const Napi::Object& options, const char* name, uint64_t* out) {
    const Napi::Value value = options.Get(name);
    if (value.IsUndefined()) return true;
    return ReadCount(options.Env(), value, name, out);
  }

  bool Ready(Napi::Env env) {
    if (table_.initialised()) return true;
    ThrowStatus(env, Status::INVALID_ARGUMENT, "NeighbourTable was not initialised");
    return false;
  }

  // resolve(ip, now) → { status, mac? }
  Napi::Value Resolve(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t ip = 0;
    uint64_t now = 0;
    if (!Ready(env) || !RequireArguments(info, 2, "resolve") || !ReadIp(info, 0, "resolve", &ip) ||
        !ReadCount(env, info[1], "resolve", &now)) {
      return env.Undefined();
    }
    MacAddress mac{};
    const ResolveResult result = table_.Resolve(ip, now, &mac);
    Napi::Object out = Napi::Object::New(env);
    out.Set("status", ResolveResultName(result));
    if (ResolveHasMac(result)) out.Set("mac", MacBuffer(env, mac));
    return out;
  }

  // enqueue(ip, handle, now) → status
  Napi::Value Enqueue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t ip = 0;
    uint64_t handle = 0;
    uint64_t now = 0;
    if (!Ready(env) || !RequireArguments(info, 3, "enqueue") || !ReadIp(info, 0, "enqueue", &ip) ||
        !ReadCount(env, info[1], "enqueue", &handle) || !ReadCount(env, info[2], "enqueue", &now)) {
      return env.Undefined();
    }
    return Napi::String::New(env, EnqueueResultName(table_.Enqueue(ip, HandleFromInteger(handle), now)));
  }

  // learn(ip, mac, now) → { status, sendable: handles }
  Napi::Value Learn(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t ip = 0;
    MacAddress mac{};
    uint64_t now = 0;
    if (!Ready(env) || !RequireArguments(info, 3, "learn") || !ReadIp(info, 0, "learn", &ip) ||
        !ReadMac(env, info[1], "learn", &mac) || !ReadCount(env, info[2], "learn", &now)) {
      return env.Undefined();
    }
    HandleCollector sendable(env);
    const LearnResult result = table_.Learn(ip, mac, now, sendable);
    Napi::Object out = Napi::Object::New(env);
    out.Set("status", LearnResultName(result));
    out.Set("sendable", sendable.out);
    return out;
  }

  // expire(now) → unresolved handles
  Napi::Value Expire(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t now = 0;
    if (!Ready(env) || !RequireArguments(info, 1, "expire") || !ReadCount(env, info[0], "expire", &now)) {
      return env.Undefined();
    }
    HandleCollector unresolved(env);
    table_.Expire(now, unresolved);
    return unresolved.out;
  }

  // clear() → unresolved handles
  Napi::Value Clear(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Ready(env)) return env.Undefined();
    HandleCollector unresolved(env);
    table_.Clear(unresolved);
    return unresolved.out;
  }

  // lookup(ip) → { state, mac, requestsSent, queued } | undefined
  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t ip = 0;
    if (!Ready(env) || !RequireArguments(info, 1, "lookup") || !ReadIp(info, 0, "lookup", &ip)) {
      return env.Undefined();
    }
    NeighbourInfo entry;
    if (!table_.Lookup(ip, &entry)) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    out.Set("state", NeighbourStateName(entry.state));
    out.Set("mac", MacBuffer(env, entry.mac));
    out.Set("requestsSent", entry.requests_sent);
    out.Set("queued", entry.queued);
    return out;
  }

  // stats() → { size, queued, capacity, evictions, failures }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Ready(env)) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    out.Set("size", table_.size());
    out.Set("queued", table_.queued());
    out.Set("capacity", table_.capacity());
    out.Set("evictions", static_cast<double>(table_.stats().evictions));
    out.Set("failures", static_cast<double>(table_.stats().failures));
    return out;
  }

  NeighbourTable table_;
};

}  // namespace

void RegisterNeighbourBindings(Napi::Env env, Napi::Object exports) {
  Napi::Object neighbours = Napi::Object::New(env);
  neighbours.Set("resolveResultNames", NameTable(env, kResolveResultNames));
  neighbours.Set("enqueueResultNames", NameTable(env, kEnqueueResultNames));
  neighbours.Set("learnResultNames", NameTable(env, kLearnResultNames));
  neighbours.Set("stateNames", NameTable(env, kNeighbourStateNames));
  neighbours.Set("parseArp", Napi::Function::New(env, ParseArpBinding, "parseArp"));
  neighbours.Set("buildArpRequest", Napi::Function::New(env, BuildArpRequestBinding, "buildArpRequest"));
  neighbours.Set("NeighbourTable", NeighbourTableWrap::Define(env));
  exports.Set("neighbours", neighbours);
}

}  // namespace dysco::addon
