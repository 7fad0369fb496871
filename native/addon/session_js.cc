#include "addon/session_js.h"

namespace dysco::addon {

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
  return item;
}

Napi::Object PipelineStatsObject(Napi::Env env, const SessionPipeline& pipeline) {
  const PipelineCounters& c = pipeline.counters();
  Napi::Object out = Napi::Object::New(env);
  out.Set("sessionsInitiated", static_cast<double>(c.sessions_initiated.Read()));
  out.Set("sessionsAccepted", static_cast<double>(c.sessions_accepted.Read()));
  out.Set("sessionsCompleted", static_cast<double>(c.sessions_completed.Read()));
  out.Set("completedByTag", static_cast<double>(c.completed_by_tag.Read()));
  out.Set("established", static_cast<double>(c.established.Read()));
  out.Set("synRetransmits", static_cast<double>(c.syn_retransmits.Read()));
  Napi::Object teardowns = Napi::Object::New(env);
  teardowns.Set("fin", static_cast<double>(c.teardowns[static_cast<int>(TeardownCause::kFin)].Read()));
  teardowns.Set("rst", static_cast<double>(c.teardowns[static_cast<int>(TeardownCause::kRst)].Read()));
  teardowns.Set("idle", static_cast<double>(c.teardowns[static_cast<int>(TeardownCause::kIdle)].Read()));
  out.Set("teardowns", teardowns);
  out.Set("tagNoSpace", static_cast<double>(c.tag_no_space.Read()));
  out.Set("staleTags", static_cast<double>(c.stale_tags.Read()));
  out.Set("rstsIgnored", static_cast<double>(c.rsts_ignored.Read()));
  out.Set("arpRequests", static_cast<double>(c.arp_requests.Read()));
  // The lcore mirrors the live count every expiry pass; the Buffer harness has no lcore, so read it directly.
  out.Set("activeSessions", static_cast<double>(pipeline.active_sessions()));
  out.Set("sessionCapacity", static_cast<double>(pipeline.sessions().capacity()));
  out.Set("tableBytes", static_cast<double>(pipeline.MemoryBytes()));
  return out;
}

}  // namespace dysco::addon
