// Translation (see translation.h): the slow path's rewrite of a packet by its session's side, and the
// checksum adjustments each side computes once at set-up.
#include <cstring>

#include "core/checksum.h"
#include "core/session_pipeline.h"
#include "core/translation.h"

namespace dysco {

void SetAdjustments(SessionSide& side, uint32_t own_ip) {
  ChecksumDelta ip;
  ip.Replace32(__builtin_bswap32(side.neighbour_ip), __builtin_bswap32(side.host_src_ip));
  ip.Replace32(__builtin_bswap32(own_ip), __builtin_bswap32(side.host_dst_ip));
  ChecksumDelta l4;  // the pseudo-header's addresses, then the ports
  l4.Add(ip);
  l4.Replace16(__builtin_bswap16(side.neighbour_port), __builtin_bswap16(side.host_src_port));
  l4.Replace16(__builtin_bswap16(side.local_port), __builtin_bswap16(side.host_dst_port));
  // Kept in network order: AdjustChecksumAt works on checksums as they sit in the packet.
  side.ip_adjust = __builtin_bswap16(ip.Folded());
  side.l4_adjust = __builtin_bswap16(l4.Folded());
}

void SessionPipeline::Translate(const Session& session, TranslationKind kind, PipelinePacket& packet,
                                       const PacketLayout& layout) const {
  TupleWords arrives, leaves;
  KindWords(session, kind, config_.host_ip, &arrives, &leaves);
  RewriteTuple(packet.data + layout.l3_offset, packet.data + layout.l4_offset, leaves, session.side(kind),
               IsOutbound(kind));
  SetNextHopMac(session, kind, packet);
}

// Set before the session goes fast; until then an unknown MAC leaves the host's own choice in place.
void SessionPipeline::SetNextHopMac(const Session& session, TranslationKind kind, PipelinePacket& packet) const {
  if (!IsOutbound(kind)) return;
  const uint16_t mac = session.next_hop[kind == kOutRight ? 0 : 1];
  if (mac != 0) std::memcpy(packet.data, table_.macs().bytes(mac), 6);
}

}  // namespace dysco
