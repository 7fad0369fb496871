#pragma once
// JavaScript shapes of the pipeline's sessions and counters, shared by the Datapath class and the
// Buffer-only Pipeline class. Addresses become host-order numbers, ports plain numbers.
#include <napi.h>

#include "core/session_pipeline.h"
#include "core/session_summary.h"

namespace dysco::addon {

// undefined for an unset tuple (protocol 0).
Napi::Value TupleObject(Napi::Env env, const FiveTuple& tuple);
Napi::Object SessionSummaryObject(Napi::Env env, const SessionSummary& summary);
Napi::Object PipelineStatsObject(Napi::Env env, const SessionPipeline& pipeline);

}  // namespace dysco::addon
