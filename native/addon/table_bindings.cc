// exports.flowTable = { create(maxEntries) } returning a FlowTable handle. Keys arrive as
// {srcIp, dstIp, srcPort, dstPort, protocol} numbers in host order and are stored in network order,
// as the datapath builds them from packet bytes. Callers validate ranges; here we check only types.
#include "addon/table_bindings.h"

#include <cstdint>
#include <string>

#include "core/keyed_flow_table.h"

namespace dysco::addon {
namespace {

const char* InsertStatusName(KeyedFlowTable::InsertResult status) {
  switch (status) {
    case KeyedFlowTable::InsertResult::kInserted: return "inserted";
    case KeyedFlowTable::InsertResult::kExists: return "exists";
    case KeyedFlowTable::InsertResult::kFull: return "full";
    case KeyedFlowTable::InsertResult::kInvalidKey: return "invalid_key";
  }
  return "unknown";
}

// False (with a TypeError pending) when value is not a key object with five numeric fields.
bool ToKey(Napi::Env env, const Napi::Value& value, FiveTuple* key) {
  if (!value.IsObject()) {
    Napi::TypeError::New(env, "flowTable: a key must be an object").ThrowAsJavaScriptException();
    return false;
  }
  const Napi::Object object = value.As<Napi::Object>();
  uint32_t fields[5];
  const char* names[5] = {"srcIp", "dstIp", "srcPort", "dstPort", "protocol"};
  for (int i = 0; i < 5; ++i) {
    const Napi::Value field = object.Get(names[i]);
    if (!field.IsNumber()) {
      Napi::TypeError::New(env, std::string("flowTable: key.") + names[i] + " must be a number")
          .ThrowAsJavaScriptException();
      return false;
    }
    fields[i] = field.As<Napi::Number>().Uint32Value();
  }
  *key = FiveTuple{};
  key->src_ip = __builtin_bswap32(fields[0]);
  key->dst_ip = __builtin_bswap32(fields[1]);
  key->src_port = __builtin_bswap16(static_cast<uint16_t>(fields[2]));
  key->dst_port = __builtin_bswap16(static_cast<uint16_t>(fields[3]));
  key->protocol = static_cast<uint8_t>(fields[4]);
  return true;
}

class FlowTableWrap : public Napi::ObjectWrap<FlowTableWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FlowTable",
                       {
                           InstanceMethod<&FlowTableWrap::Insert>("insert"),
                           InstanceMethod<&FlowTableWrap::Lookup>("lookup"),
                           InstanceMethod<&FlowTableWrap::Update>("update"),
                           InstanceMethod<&FlowTableWrap::Erase>("erase"),
                           InstanceMethod<&FlowTableWrap::Size>("size"),
                           InstanceMethod<&FlowTableWrap::Capacity>("capacity"),
                           InstanceMethod<&FlowTableWrap::MemoryBytes>("memoryBytes"),
                           InstanceMethod<&FlowTableWrap::LookupBulk>("lookupBulk"),
                       });
  }

  explicit FlowTableWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FlowTableWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "flowTable.create: maxEntries must be a number").ThrowAsJavaScriptException();
      return;
    }
    const int64_t max_entries = info[0].As<Napi::Number>().Int64Value();
    if (max_entries < 1 || max_entries > FlowTable::kMaxEntriesLimit ||
        !table_.Init(static_cast<uint32_t>(max_entries))) {
      Napi::RangeError::New(env, "flowTable.create: maxEntries out of range or allocation failed")
          .ThrowAsJavaScriptException();
    }
  }

 private:
  Napi::Value Insert(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    FiveTuple key;
    if (info.Length() < 2 || !ToKey(env, info[0], &key)) return env.Undefined();
    if (!info[1].IsNumber()) {
      Napi::TypeError::New(env, "flowTable.insert: value must be a number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::String::New(env, InsertStatusName(table_.Insert(key, info[1].As<Napi::Number>().Uint32Value())));
  }

  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    FiveTuple key;
    if (info.Length() < 1 || !ToKey(env, info[0], &key)) return env.Undefined();
    uint32_t value = 0;
    if (!table_.Lookup(key, &value)) return env.Undefined();
    return Napi::Number::New(env, value);
  }

  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    FiveTuple key;
    if (info.Length() < 2 || !ToKey(env, info[0], &key)) return env.Undefined();
    if (!info[1].IsNumber()) {
      Napi::TypeError::New(env, "flowTable.update: value must be a number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Boolean::New(env, table_.Update(key, info[1].As<Napi::Number>().Uint32Value()));
  }

  Napi::Value Erase(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    FiveTuple key;
    if (info.Length() < 1 || !ToKey(env, info[0], &key)) return env.Undefined();
    return Napi::Boolean::New(env, table_.Erase(key));
  }

  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), table_.size()); }
  Napi::Value Capacity(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), table_.capacity()); }
  Napi::Value MemoryBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(table_.TableBytes()));
  }

  // lookupBulk(keys[]) -> { hitMask: bigint, values: (number | undefined)[] }, at most 64 keys.
  Napi::Value LookupBulk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) {
      Napi::TypeError::New(env, "flowTable.lookupBulk: an array of keys is expected").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const Napi::Array array = info[0].As<Napi::Array>();
    const uint32_t n = array.Length();
    if (n > FlowTable::kMaxBulk) {
      Napi::RangeError::New(env, "flowTable.lookupBulk: at most 64 keys").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    FiveTuple keys[FlowTable::kMaxBulk];
    uint32_t values[FlowTable::kMaxBulk] = {};
    for (uint32_t i = 0; i < n; ++i) {
      if (!ToKey(env, array.Get(i), &keys[i])) return env.Undefined();
    }
    uint64_t hit_mask = 0;
    table_.LookupBulk(keys, n, values, &hit_mask);
    Napi::Array out_values = Napi::Array::New(env, n);
    for (uint32_t i = 0; i < n; ++i) {
      out_values.Set(i, (hit_mask >> i & 1) != 0 ? Napi::Value(Napi::Number::New(env, values[i])) : env.Undefined());
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("hitMask", Napi::BigInt::New(env, hit_mask));
    result.Set("values", out_values);
    return result;
  }

  KeyedFlowTable table_;
};

// create(maxEntries): constructs a FlowTableWrap through the class kept alive for this environment.
Napi::Value Create(const Napi::CallbackInfo& info) {
  auto* constructor = static_cast<Napi::FunctionReference*>(info.Data());
  if (info.Length() < 1) return constructor->New({});
  return constructor->New({info[0]});
}

}  // namespace

void RegisterTableBindings(Napi::Env env, Napi::Object exports) {
  auto* constructor = new Napi::FunctionReference(Napi::Persistent(FlowTableWrap::Define(env)));
  env.AddCleanupHook([constructor] { delete constructor; });
  Napi::Object flow_table = Napi::Object::New(env);
  flow_table.Set("create", Napi::Function::New(env, Create, "create", constructor));
  exports.Set("flowTable", flow_table);
}

}  // namespace dysco::addon
