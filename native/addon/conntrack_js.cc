// The agent's conntrack functions (native/conntrack): export the entries of given TCP connections from a network
// namespace, import exported entries, delete entries, and read an exported entry. Synchronous: each call is one
// netlink conversation in batches, without the lcore.
#include "addon/conntrack_js.h"

#include <string>
#include <vector>

#include "addon/errors.h"
#include "addon/pipeline_options.h"
#include "conntrack/conntrack_table.h"

namespace dysco::addon {
namespace {

using conntrack::ConntrackTable;
using conntrack::EntrySummary;
using conntrack::Ipv4Tuple;

bool ReadTuple(const Napi::Value& value, Ipv4Tuple* out) {
  if (!value.IsObject()) return false;
  const Napi::Object t = value.As<Napi::Object>();
  uint32_t src_port = 0;
  uint32_t dst_port = 0;
  return ReadUintOption(t, "srcIp", UINT32_MAX, &out->src_ip) && ReadUintOption(t, "dstIp", UINT32_MAX, &out->dst_ip) &&
         ReadUintOption(t, "srcPort", UINT16_MAX, &src_port) && ReadUintOption(t, "dstPort", UINT16_MAX, &dst_port) &&
         (out->src_port = static_cast<uint16_t>(src_port), out->dst_port = static_cast<uint16_t>(dst_port), true);
}

Napi::Object TupleObject(Napi::Env env, const Ipv4Tuple& t) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("srcIp", static_cast<double>(t.src_ip));
  out.Set("dstIp", static_cast<double>(t.dst_ip));
  out.Set("srcPort", t.src_port);
  out.Set("dstPort", t.dst_port);
  return out;
}

Napi::Object SummaryObject(Napi::Env env, const EntrySummary& s) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("original", TupleObject(env, s.original));
  out.Set("reply", TupleObject(env, s.reply));
  out.Set("tcpState", s.tcp_state);
  out.Set("timeoutSeconds", static_cast<double>(s.timeout_s));
  out.Set("mark", static_cast<double>(s.mark));
  out.Set("status", static_cast<double>(s.status));
  return out;
}

// (netnsPath, tuples): the opened table and the tuples, or false with a TypeError or the open's error thrown.
bool OpenWithTuples(const Napi::CallbackInfo& info, const char* what, ConntrackTable* table, std::vector<Ipv4Tuple>* tuples) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    ThrowType(env, std::string(what) + "(netnsPath, tuples): a string and an array of tuples expected");
    return false;
  }
  const Napi::Array array = info[1].As<Napi::Array>();
  tuples->resize(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    if (!ReadTuple(array.Get(i), &(*tuples)[i])) {
      ThrowType(env, std::string(what) + ": tuple " + std::to_string(i) + " needs srcIp, dstIp (uint32) and srcPort, dstPort (uint16)");
      return false;
    }
  }
  std::string detail;
  if (!table->Open(info[0].As<Napi::String>().Utf8Value(), &detail)) {
    ThrowStatus(env, Status::CONNTRACK_FAILED, detail);
    return false;
  }
  return true;
}

Napi::Array Errnos(Napi::Env env, const std::vector<int>& errors) {
  Napi::Array out = Napi::Array::New(env, errors.size());
  for (uint32_t i = 0; i < errors.size(); ++i) out.Set(i, errors[i]);
  return out;
}

// conntrackExport(netnsPath, tuples): [{error: 0, message: Buffer} | {error: errno}], in the tuples' order.
Napi::Value Export(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ConntrackTable table;
  std::vector<Ipv4Tuple> tuples;
  if (!OpenWithTuples(info, "conntrackExport", &table, &tuples)) return env.Undefined();
  std::vector<conntrack::ExportedEntry> entries;
  std::string detail;
  if (!table.Export(tuples, &entries, &detail)) {
    ThrowStatus(env, Status::CONNTRACK_FAILED, detail);
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, entries.size());
  for (uint32_t i = 0; i < entries.size(); ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("error", entries[i].error);
    if (entries[i].error == 0) {
      entry.Set("message", Napi::Buffer<uint8_t>::Copy(env, entries[i].message.data(), entries[i].message.size()));
    }
    out.Set(i, entry);
  }
  return out;
}

// conntrackImport(netnsPath, messages: Buffer[], sessions: tuples): per message 0 (created and read back as sent),
// an errno, or kNotVerified.
Napi::Value Import(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsArray() || !info[2].IsArray() ||
      info[1].As<Napi::Array>().Length() != info[2].As<Napi::Array>().Length()) {
    ThrowType(env, "conntrackImport(netnsPath, messages, sessions): a string, an array of Buffers and as many tuples expected");
    return env.Undefined();
  }
  const Napi::Array array = info[1].As<Napi::Array>();
  const Napi::Array tuple_array = info[2].As<Napi::Array>();
  std::vector<std::vector<uint8_t>> messages(array.Length());
  std::vector<Ipv4Tuple> sessions(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value value = array.Get(i);
    if (!value.IsBuffer() || !ReadTuple(tuple_array.Get(i), &sessions[i])) {
      ThrowType(env, "conntrackImport: message " + std::to_string(i) + " needs a Buffer and a tuple");
      return env.Undefined();
    }
    const auto buffer = value.As<Napi::Buffer<uint8_t>>();
    messages[i].assign(buffer.Data(), buffer.Data() + buffer.Length());
  }
  ConntrackTable table;
  std::string detail;
  std::vector<int> errors;
  if (!table.Open(info[0].As<Napi::String>().Utf8Value(), &detail) || !table.Import(messages, sessions, &errors, &detail)) {
    ThrowStatus(env, Status::CONNTRACK_FAILED, detail);
    return env.Undefined();
  }
  return Errnos(env, errors);
}

// conntrackDelete(netnsPath, tuples): an errno per tuple (0: deleted, ENOENT: there was none).
Napi::Value Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ConntrackTable table;
  std::vector<Ipv4Tuple> tuples;
  if (!OpenWithTuples(info, "conntrackDelete", &table, &tuples)) return env.Undefined();
  std::vector<int> errors;
  std::string detail;
  if (!table.Delete(tuples, &errors, &detail)) {
    ThrowStatus(env, Status::CONNTRACK_FAILED, detail);
    return env.Undefined();
  }
  return Errnos(env, errors);
}

// conntrackSummarize(message: Buffer): the entry's summary, or null when the bytes are not an IPv4 TCP entry.
Napi::Value Summarize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    ThrowType(env, "conntrackSummarize(message): a Buffer expected");
    return env.Undefined();
  }
  const auto buffer = info[0].As<Napi::Buffer<uint8_t>>();
  EntrySummary summary;
  if (!ConntrackTable::Summarize(buffer.Data(), buffer.Length(), &summary)) return env.Null();
  return SummaryObject(env, summary);
}

}  // namespace

void RegisterConntrack(Napi::Env env, Napi::Object exports) {
  exports.Set("conntrackExport", Napi::Function::New<Export>(env, "conntrackExport"));
  exports.Set("conntrackImport", Napi::Function::New<Import>(env, "conntrackImport"));
  exports.Set("conntrackDelete", Napi::Function::New<Delete>(env, "conntrackDelete"));
  exports.Set("conntrackSummarize", Napi::Function::New<Summarize>(env, "conntrackSummarize"));
}

}  // namespace dysco::addon
