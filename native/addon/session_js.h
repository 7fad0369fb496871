#pragma once
// JavaScript shapes of the pipeline's sessions and counters, shared by the Datapath class and the
// Buffer-only Pipeline class. Addresses become host-order numbers, ports plain numbers.
#include <napi.h>

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

}  // namespace dysco::addon
