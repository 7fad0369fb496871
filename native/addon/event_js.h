#pragma once
// JavaScript shapes of the events the pipeline posts (everything but RequestDone, which settles a
// Promise instead), shared by the Datapath class and the Buffer harness:
//   { type: 'control_packet', srcIp, dstIp, srcPort, dstPort, payload: Buffer }
//   { type: 'session_established', sessionId, role }
//   { type: 'session_ended', sessionId, role, cause }
//   { type: 'new_path_answered' | 'two_paths_entered', sessionId, subsession: { neighbourIp, localPort, neighbourPort } }
//   { type: 'old_path_drained' | 'new_path_refused', sessionId, side: 'right' | 'left' }
#include <napi.h>

#include "core/control_messages.h"
#include "core/control_packet_pool.h"

namespace dysco::addon {

// Copies a control packet out of its slot and releases the slot. undefined for an event it does not know.
Napi::Value EventObject(Napi::Env env, const Event& event, const ControlPacketPool* pool);

}  // namespace dysco::addon
