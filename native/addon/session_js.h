#pragma once
// JavaScript shapes of the pipeline's sessions and counters, shared by the Datapath class and the
// Buffer-only Pipeline class. Addresses become host-order numbers, ports plain numbers.
#include <napi.h>

#include <cstdint>
#include <string>

#include "core/session_pipeline.h"
#include "core/session_summary.h"

namespace dysco::addon {

// undefined for an unset tuple (protocol 0).
Napi::Value TupleObject(Napi::Env env, const FiveTuple& tuple);
// With both handshakes (ISN, window scale, SACK-permitted, timestamps) under `handshake`.
Napi::Object SessionSummaryObject(Napi::Env env, const SessionSummary& summary);
// Keys from pipeline_counters.def, teardowns by teardown_causes.def, then the table's own figures.
Napi::Object PipelineStatsObject(Napi::Env env, const SessionPipeline& pipeline);
const char* TeardownCauseLabel(uint32_t cause);
// A FindSession query, { sessionId } or { srcIp, dstIp, srcPort, dstPort } (host-order numbers), as
// the request's args[1..3]. False with *error set when it is neither.
bool SessionQueryFromJs(const Napi::Value& value, uint64_t args[3], std::string* error);

}  // namespace dysco::addon
