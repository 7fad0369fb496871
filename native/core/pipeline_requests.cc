// The pipeline's side of the control channel: the requests it serves, the control packets it takes
// off the wire, and the session events it posts. Everything here runs on the lcore (or in the Buffer
// harness's thread); results go back through PipelineIo::PostEvent.
#include <cstring>
#include <memory>

#include "core/byte_order.h"
#include "core/session_pipeline.h"
#include "core/session_summary.h"
#include "core/udp_frame.h"

namespace dysco {

bool SessionPipeline::Post(const Event& event) {
  if (io_->PostEvent(event)) {
    counters_->events_posted.Add(1);
    return true;
  }
  counters_->events_dropped.Add(1);
  return false;
}

void SessionPipeline::Complete(Request& request) {
  counters_->requests_served.Add(1);
  Post(Event::Completion(&request));
}

void SessionPipeline::Serve(Request& request, uint32_t now_ms) {
  switch (request.type) {
    case RequestType::kInstallPolicies: request.status = ServeInstallPolicies(request); break;
    case RequestType::kInstallListAuth: request.status = ServeInstallListAuth(request); break;
    case RequestType::kDumpSessions: request.status = ServeDumpSessions(request, now_ms); break;
    case RequestType::kFindSession: request.status = ServeFindSession(request, now_ms); break;
    case RequestType::kTransmit: request.status = ServeTransmit(request, now_ms); break;
    case RequestType::kOpenNewPath: request.status = ServeOpenNewPath(request, now_ms); break;
    case RequestType::kExpectNewPath: request.status = ServeExpectNewPath(request, now_ms); break;
    case RequestType::kAbandonNewPath: request.status = ServeAbandonNewPath(request, now_ms); break;
    case RequestType::kRetireSession: request.status = ServeRetireSession(request); break;
    default: request.status = Status::UNKNOWN_REQUEST; break;
  }
  Complete(request);
}

Status SessionPipeline::ServeInstallPolicies(Request& request) {
  auto* incoming = reinterpret_cast<PolicySet*>(request.args[0]);
  if (incoming == nullptr) return Status::INVALID_ARGUMENT;
  request.results[0] = reinterpret_cast<uint64_t>(ReplacePolicies(std::unique_ptr<PolicySet>(incoming)).release());
  return Status::OK;
}

Status SessionPipeline::ServeInstallListAuth(Request& request) {
  auto* incoming = reinterpret_cast<ListAuthPolicy*>(request.args[0]);
  request.results[0] = reinterpret_cast<uint64_t>(ReplaceListAuth(std::unique_ptr<ListAuthPolicy>(incoming)).release());
  return Status::OK;
}

Status SessionPipeline::ServeDumpSessions(Request& request, uint32_t now_ms) {
  auto* out = reinterpret_cast<SessionSummary*>(request.args[0]);
  const uint64_t capacity = request.args[2];
  if (out == nullptr && capacity != 0) return Status::INVALID_ARGUMENT;
  const SessionTable& table = table_;
  uint64_t slot = request.args[1];
  uint64_t written = 0;
  for (; slot < table.capacity() && written < capacity; ++slot) {
    if (table.at(static_cast<uint32_t>(slot)).state == SessionState::kFree) continue;
    out[written++] = Summarize(table, static_cast<uint32_t>(slot), now_ms);
  }
  request.results[0] = written;
  request.results[1] = slot >= table.capacity() ? UINT64_MAX : slot;
  return Status::OK;
}

// One session without a dump: by id, or by a tuple its host sends (either direction), as a control
// message names it. O(1), so that an agent with many sessions answers its first message for one quickly.
Status SessionPipeline::ServeFindSession(Request& request, uint32_t now_ms) {
  auto* out = reinterpret_cast<SessionSummary*>(request.args[0]);
  if (out == nullptr) return Status::INVALID_ARGUMENT;
  const SessionTable& table = table_;
  uint32_t index = UINT32_MAX;
  if (request.args[1] != UINT64_MAX) {
    if (request.args[1] < table.capacity()) index = static_cast<uint32_t>(request.args[1]);
  } else {
    FiveTuple tuple;
    tuple.src_ip = static_cast<uint32_t>(request.args[2] >> 32);
    tuple.dst_ip = static_cast<uint32_t>(request.args[2]);
    tuple.src_port = static_cast<uint16_t>(request.args[3] >> 16);
    tuple.dst_port = static_cast<uint16_t>(request.args[3]);
    tuple.protocol = kIpProtocolTcp;
    uint32_t value;
    if (table.Lookup(true, tuple, &value) || table.Lookup(true, tuple.Reversed(), &value)) index = EntryIndex(value);
  }
  const bool found = index != UINT32_MAX && table.at(index).state != SessionState::kFree;
  if (found) *out = Summarize(table, index, now_ms);
  request.results[0] = found ? 1 : 0;
  return Status::OK;
}

// A datagram from the control plane, sent from this host's address through the same next-hop choice
// and ARP as the subsessions, so control messages follow ordinary routing.
Status SessionPipeline::ServeTransmit(Request& request, uint32_t now_ms) {
  const auto* payload = reinterpret_cast<const uint8_t*>(request.args[0]);
  const uint64_t length = request.args[1];
  const auto dst_ip = static_cast<uint32_t>(request.args[2]);
  const auto src_port = static_cast<uint16_t>(request.args[3] >> 16);
  const auto dst_port = static_cast<uint16_t>(request.args[3]);
  if ((payload == nullptr && length != 0) || length > kControlPayloadMax || length + 28 > config_.mtu || dst_ip == 0 ||
      dst_port == 0) {
    return Status::INVALID_ARGUMENT;
  }
  if (!host_mac_known_) return Status::HOST_MAC_UNKNOWN;
  uint8_t frame[kUdpFrameOverhead + kControlPayloadMax];
  const uint8_t no_mac[6] = {};
  const UdpFrameSpec spec{host_mac_, no_mac, config_.host_ip, dst_ip, src_port, dst_port, ip_id_++, payload,
                          static_cast<uint32_t>(length)};
  const size_t size = BuildUdpFrame(frame, sizeof(frame), spec);
  if (size == 0) return Status::INVALID_ARGUMENT;
  bool sent_now = false;
  const Status status = SendOwnFrame(frame, static_cast<uint32_t>(size), dst_ip, now_ms, &sent_now);
  if (status != Status::OK) return status;
  stats_.control_sent.Add(1);
  request.results[0] = sent_now ? 1 : 0;
  return Status::OK;
}

Verdict SessionPipeline::TakeControlPacket(const PipelinePacket& packet, const PacketLayout& layout) {
  const uint32_t length = layout.payload_length();
  if (length > kControlPayloadMax) return DropWith(DropReason::CONTROL_TOO_LARGE);
  const uint32_t slot = control_packets_.Acquire();
  if (slot == ControlPacketPool::kNone) return DropWith(DropReason::CONTROL_POOL_FULL);
  ControlPacket& copy = control_packets_.at(slot);
  const uint8_t* ip = packet.data + layout.l3_offset;
  const uint8_t* udp = packet.data + layout.l4_offset;
  std::memcpy(&copy.src_ip, ip + 12, 4);
  std::memcpy(&copy.dst_ip, ip + 16, 4);
  copy.src_port = LoadBe16(udp);
  copy.dst_port = LoadBe16(udp + 2);
  copy.length = length;
  std::memcpy(copy.payload, packet.data + layout.payload_offset, length);
  if (!Post(Event{EventType::kControlPacket, slot, length})) {
    control_packets_.Release(slot);  // counted in events_dropped
    return Verdict::kConsumed;
  }
  stats_.control_packets.Add(1);
  return Verdict::kConsumed;
}

void SessionPipeline::PostSessionEventNow(EventType type, uint32_t index, TeardownCause cause) {
  const uint64_t role = static_cast<uint64_t>(table_.at(index).role);
  const uint64_t detail = type == EventType::kSessionEnded ? role | uint64_t{static_cast<uint8_t>(cause)} << 8 : role;
  Post(Event{type, index, detail});
}

}  // namespace dysco
