// Next hops: which neighbour a subsession's packets go to (on-link, or the gateway), its MAC from the
// neighbour table and ARP, packets held until it answers, and the host's own MAC.
#include <cstring>

#include "core/arp.h"
#include "core/session_pipeline.h"

namespace dysco {

uint32_t SessionPipeline::NextHopFor(uint32_t agent) const {
  const bool on_link = config_.gateway_ip == 0 || ((agent ^ config_.host_ip) & config_.prefix_mask) == 0;
  return on_link ? agent : config_.gateway_ip;
}

// A session whose first SYN waited for ARP learns its next-hop MAC on a later packet.
void SessionPipeline::ResolveSessionMac(Session& session, int side, uint32_t now) {
  const uint32_t agent = side == 0 ? session.right.neighbour_ip : session.left.neighbour_ip;
  MacAddress mac;
  const uint32_t next_hop = NextHopFor(agent);
  if (ResolveNextHop(next_hop, now, &mac) == NextHopState::kReady && table_.SetNextHop(session, side, mac.bytes)) {
    RefreshFast(session);
  }
}

SessionPipeline::NextHopState SessionPipeline::ResolveNextHop(uint32_t next_hop, uint32_t now, MacAddress* mac) {
  const ResolveResult resolved = neighbours_.Resolve(next_hop, uint64_t{now} * kNanosPerMilli, mac);
  if (ResolveNeedsRequest(resolved)) SendArpRequest(next_hop);
  if (ResolveHasMac(resolved)) return NextHopState::kReady;
  return resolved == ResolveResult::kNeedRequest || resolved == ResolveResult::kPending ? NextHopState::kWait
                                                                                        : NextHopState::kUnreachable;
}

Verdict SessionPipeline::ForwardToNextHop(Session& session, int side, uint32_t next_agent, PipelinePacket& packet,
                                          uint32_t now) {
  if (session.next_hop[side] != 0) {
    std::memcpy(packet.data, table_.macs().bytes(session.next_hop[side]), 6);
    return Verdict::kToWire;
  }
  const uint32_t next_hop = NextHopFor(next_agent);
  MacAddress mac;
  const NextHopState state = ResolveNextHop(next_hop, now, &mac);
  if (state == NextHopState::kReady) {
    table_.SetNextHop(session, side, mac.bytes);  // a full MAC table only costs the next packet a lookup
    std::memcpy(packet.data, mac.bytes, 6);
    return Verdict::kToWire;
  }
  if (state == NextHopState::kUnreachable) return DropWith(DropReason::NEIGHBOUR_UNRESOLVED);
  if (neighbours_.Enqueue(next_hop, packet.handle, uint64_t{now} * kNanosPerMilli) != EnqueueResult::kQueued) {
    return DropWith(DropReason::NEIGHBOUR_QUEUE_FULL);
  }
  return Verdict::kHeld;
}

void SessionPipeline::SendArpRequest(uint32_t target_be) {
  if (!host_mac_known_) {
    counters_->Drop(DropReason::NO_HOST_MAC);
    return;
  }
  uint8_t request[kEthernetMinFrameSize];
  MacAddress sender;
  std::memcpy(sender.bytes, host_mac_, 6);
  const size_t size = BuildArpRequest(request, sizeof(request), sender, config_.host_ip, target_be);
  if (size != 0 && io_->SendFrame(request, static_cast<uint32_t>(size))) stats_.arp_requests.Add(1);
}

void SessionPipeline::LearnFromArp(const PipelinePacket& packet, bool from_host, uint32_t now) {
  ArpMessage arp;
  if (!ParseArp(packet.data, packet.length, &arp)) return;
  if (from_host) {
    if (arp.sender_ip_be == config_.host_ip && !host_mac_known_) {
      std::memcpy(host_mac_, arp.sender_mac.bytes, 6);
      host_mac_known_ = true;
    }
    return;
  }
  const MacAddress mac = arp.sender_mac;
  neighbours_.Learn(arp.sender_ip_be, mac, uint64_t{now} * kNanosPerMilli,
                    [this, &mac](void* handle) { io_->ReleaseHeld(handle, mac.bytes); });
}

void SessionPipeline::ReleaseAllHeld() {
  neighbours_.Clear([this](void* handle) {
    counters_->Drop(DropReason::NEIGHBOUR_UNRESOLVED);
    io_->ReleaseHeld(handle, nullptr);
  });
}

// A frame the agent made itself (a control datagram, a new path's handshake): its destination MAC is
// written now, or it waits for ARP as a copy. *sent_now says which.
Status SessionPipeline::SendOwnFrame(uint8_t* frame, uint32_t size, uint32_t dst_ip, uint32_t now, bool* sent_now) {
  const uint32_t next_hop = NextHopFor(dst_ip);
  MacAddress mac;
  const NextHopState state = ResolveNextHop(next_hop, now, &mac);
  *sent_now = false;
  if (state == NextHopState::kReady) {
    std::memcpy(frame, mac.bytes, 6);
    if (!io_->SendFrame(frame, size)) return Status::NO_BUFFER;
    *sent_now = true;
    return Status::OK;
  }
  if (state == NextHopState::kUnreachable) {
    counters_->Drop(DropReason::NEIGHBOUR_UNRESOLVED);
    return Status::NEXT_HOP_UNRESOLVED;
  }
  void* held = io_->CopyForHold(frame, size);
  if (held == nullptr) return Status::NO_BUFFER;
  if (neighbours_.Enqueue(next_hop, held, uint64_t{now} * kNanosPerMilli) != EnqueueResult::kQueued) {
    io_->ReleaseHeld(held, nullptr);
    counters_->Drop(DropReason::NEIGHBOUR_QUEUE_FULL);
    return Status::NEXT_HOP_UNRESOLVED;
  }
  return Status::OK;
}

}  // namespace dysco
