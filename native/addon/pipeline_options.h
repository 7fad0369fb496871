#pragma once
// The session pipeline's options from a JavaScript object (hostIp, prefixLength, gatewayIp, table
// sizes, port range, MTU, timeouts, control port, session events), shared by the Datapath and the Buffer-only Pipeline classes.
#include <napi.h>

#include <string>

#include "core/session_pipeline.h"

namespace dysco::addon {

// Optional unsigned integer option; false when present but not an integer within [0, max].
bool ReadUintOption(const Napi::Object& options, const char* key, uint32_t max, uint32_t* out);
// The same for an option that must be present (its default is the config schema's, never the addon's).
bool ReadRequiredUintOption(const Napi::Object& options, const char* key, uint32_t max, uint32_t* out);

// Fills `config` from options that must all be present (the config schema has applied defaults and limits);
// returns an empty string, or what is wrong with them.
std::string ParsePipelineConfig(const Napi::Object& options, PipelineConfig* config);

}  // namespace dysco::addon
