// Burst classification, the fast path and dispatch: every burst is parsed and looked up here, data of
// fast sessions is translated here, and everything else goes to the module of its concern (set-up,
// next hops, tracking and expiry, translation; see session_pipeline.h).
#include "core/session_pipeline.h"

#include <cstring>

#include "core/address_list.h"
#include "core/byte_order.h"
#include "core/tag_option.h"
#include "core/translation.h"

namespace dysco {
namespace {

// The frame nearly every data packet is: untagged Ethernet, IPv4 without options, not a fragment,
// TCP with a sane data offset. Anything else takes the full defensive parse.
inline bool ParseCommonTcp(const uint8_t* frame, uint32_t length, PacketLayout* layout) {
  constexpr uint32_t kL3 = 14, kL4 = 34;
  if (length < kL4 + kTcpMinHeaderSize) return false;
  uint16_t ether_type, fragment;
  std::memcpy(&ether_type, frame + 12, 2);
  std::memcpy(&fragment, frame + 20, 2);
  if (ether_type != __builtin_bswap16(0x0800) || frame[14] != 0x45 || frame[23] != kIpProtocolTcp ||
      (fragment & __builtin_bswap16(0x3fff)) != 0) {
    return false;
  }
  const uint32_t total = LoadBe16(frame + 16);
  const uint32_t tcp_header = static_cast<uint32_t>(frame[kL4 + 12] >> 4) * 4;
  if (kL3 + total > length || tcp_header < kTcpMinHeaderSize || 20 + tcp_header > total) return false;
  layout->status = ParseStatus::kOk;
  layout->ip_protocol = kIpProtocolTcp;
  layout->has_vlan = false;
  layout->vlan_tci = 0;
  layout->ether_type = 0x0800;
  layout->l3_offset = kL3;
  layout->l4_offset = kL4;
  layout->payload_offset = kL4 + tcp_header;
  layout->l3_end = kL3 + total;
  return true;
}

// Addresses and ports sit in the packet in the key's own order and byte order: two loads.
FiveTuple TupleOf(const uint8_t* frame, const PacketLayout& layout) {
  FiveTuple key;
  std::memcpy(&key.src_ip, frame + layout.l3_offset + 12, 8);
  std::memcpy(&key.src_port, frame + layout.l4_offset, 4);
  key.protocol = kIpProtocolTcp;
  return key;
}

}  // namespace

bool SessionPipeline::Init(const PipelineConfig& config, LcoreCounters* counters, PipelineIo* io) {
  config_ = config;
  counters_ = counters;
  io_ = io;
  policies_ = std::make_unique<PolicySet>();
  control_packets_.Init();
  return table_.Init(config.max_sessions, config.max_setups, config.port_lo, config.port_hi, config.host_ip) &&
         neighbours_.Init(NeighbourConfig{}) == Status::OK;
}

std::unique_ptr<PolicySet> SessionPipeline::ReplacePolicies(std::unique_ptr<PolicySet> policies) {
  policies_.swap(policies);
  return policies;
}

Verdict SessionPipeline::DropWith(DropReason reason) {
  counters_->Drop(reason);
  return Verdict::kDrop;
}

// Parses a burst, builds the TCP keys, prefetches their home buckets, then takes each key's first
// candidate value and prefetches the session record it names, so the per-packet work that follows finds
// both cached. Candidates are confirmed against their records in Resolve.
void SessionPipeline::ClassifyBurst(const PipelinePacket* packets, uint32_t n, bool outbound) {
  BurstScratch& burst = scratch_;
  const FlowTable& table = table_.lookup_table(outbound);
  uint64_t tcp = 0;
  for (uint32_t i = 0; i < n; ++i) {
    PacketLayout& layout = burst.layouts[i];
    if (!ParseCommonTcp(packets[i].data, packets[i].length, &layout)) layout = ParsePacket(packets[i].data, packets[i].length);
    if (!layout.is_tcp()) {
      burst.keys[i] = FiveTuple{};
      continue;
    }
    tcp |= uint64_t{1} << i;
    burst.keys[i] = TupleOf(packets[i].data, layout);
    burst.hashes[i] = FlowTable::Hash(burst.keys[i]);
    burst.homes[i] = table.HomeOf(burst.hashes[i]);
    table.PrefetchBucket(burst.homes[i]);
  }
  uint64_t candidates = 0, complete = ~tcp;
  for (uint64_t left = tcp; left != 0; left &= left - 1) {
    const uint32_t i = __builtin_ctzll(left);
    bool found, settled;
    burst.values[i] = table.FirstCandidate(burst.homes[i], burst.hashes[i], &found, &settled);
    complete |= uint64_t{settled} << i;
    if (!found) continue;
    candidates |= uint64_t{1} << i;
    const uint8_t* record = reinterpret_cast<const uint8_t*>(&table_.at(EntryIndex(burst.values[i])));
    __builtin_prefetch(record, 1);
    __builtin_prefetch(record + sizeof(Session) - 1, 1);
  }
  burst.candidates = candidates;
  burst.complete = complete;
}

// Packet i against its candidate: a data packet of a fast session is translated here, with the
// record's words computed once for the confirmation and the rewrite. Otherwise says whether the
// packet belongs to a session (and which entry), falling back to a full lookup when the candidate was
// wrong and the home bucket did not settle it.
template <bool kOutbound>
inline SessionPipeline::Match SessionPipeline::MatchPacket(uint32_t i, PipelinePacket& packet, uint32_t now,
                                                             uint32_t* value) {
  const BurstScratch& burst = scratch_;
  *value = burst.values[i];
  if ((burst.candidates >> i) & 1) {
    Session& session = table_.at(EntryIndex(*value));
    const TranslationKind kind = EntryKind(*value);
    // From the host only out kinds are looked up, from the wire only in kinds: one test picks the side.
    const bool right = kOutbound ? kind == kOutRight : kind == kInRight;
    const SessionSide& side = right ? session.right : session.left;
    TupleWords arrives, leaves;
    KindWordsFor<kOutbound>(side, kOutbound == right, config_.host_ip, &arrives, &leaves);  // right: out is forward
    const bool owned = right ? session.has_right() || (kOutbound && session.role == SessionRole::kMiddlebox)
                             : session.has_left();
    if (session.state != SessionState::kFree && owned && (kind & ~3u) == 0 && arrives == TupleWords::Of(burst.keys[i])) {
      const PacketLayout& layout = burst.layouts[i];
      if (!session.fast() || (packet.data[layout.l4_offset + 13] & (kTcpSyn | kTcpFin | kTcpRst)) != 0) return Match::kHit;
      RewriteTuple(packet.data + layout.l3_offset, packet.data + layout.l4_offset, leaves, side, kOutbound);
      session.last_seen_ms = now;
      if (kOutbound) {
        std::memcpy(packet.data, table_.macs().bytes(session.next_hop[right ? 0 : 1]), 6);
        if (session.role == SessionRole::kMiddlebox) return Match::kTranslated;
      }
      ++session.packets;
      session.bytes += packet.length;
      return Match::kTranslated;
    }
  }
  if ((burst.complete >> i) & 1) return Match::kMiss;
  return table_.Lookup(kOutbound, burst.keys[i], value) ? Match::kHit : Match::kMiss;
}

void SessionPipeline::FromHost(PipelinePacket* packets, uint32_t n, uint32_t now, Verdict* verdicts) {
  ClassifyBurst(packets, n, true);
  const BurstScratch& burst = scratch_;
  for (uint32_t i = 0; i < n; ++i) {
    const PacketLayout& layout = burst.layouts[i];
    uint32_t value;
    const Match match = MatchPacket<true>(i, packets[i], now, &value);
    const bool hit = match == Match::kHit;
    if (match == Match::kTranslated) {
      verdicts[i] = Verdict::kToWire;
    } else if (!layout.is_tcp()) {
      // Any frame from the host port is the host's own: its MAC lets the control plane send before any TCP.
      if (__builtin_expect(!host_mac_known_, 0) && packets[i].length >= kEthernetHeaderSize) {
        std::memcpy(host_mac_, packets[i].data + 6, 6);
        host_mac_known_ = true;
      }
      if (layout.status == ParseStatus::kNotIpv4) LearnFromArp(packets[i], true, now);
      verdicts[i] = Verdict::kToWire;
    } else {
      verdicts[i] = HostPacket(packets[i], layout, burst.keys[i], hit, value, now);
    }
  }
}

void SessionPipeline::FromWire(PipelinePacket* packets, uint32_t n, uint32_t now, Verdict* verdicts) {
  ClassifyBurst(packets, n, false);
  const BurstScratch& burst = scratch_;
  for (uint32_t i = 0; i < n; ++i) {
    const PacketLayout& layout = burst.layouts[i];
    uint32_t value;
    const Match match = MatchPacket<false>(i, packets[i], now, &value);
    const bool hit = match == Match::kHit;
    if (match == Match::kTranslated) {
      verdicts[i] = Verdict::kToHost;
    } else if (!layout.is_tcp()) {
      if (layout.status == ParseStatus::kNotIpv4) LearnFromArp(packets[i], false, now);
      verdicts[i] = IsControlPacket(packets[i], layout) ? TakeControlPacket(packets[i], layout) : Verdict::kToHost;
    } else {
      verdicts[i] = WirePacket(packets[i], layout, burst.keys[i], hit, value, now);
    }
  }
}

Verdict SessionPipeline::HostPacket(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, bool hit,
                                    uint32_t value, uint32_t now) {
  const uint8_t flags = packet.data[layout.l4_offset + 13];
  const bool bare_syn = (flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
  if (__builtin_expect(!host_mac_known_, 0)) {
    // Everything on the host port comes from the host's own interface (a middlebox forwards with it too).
    std::memcpy(host_mac_, packet.data + 6, 6);
    host_mac_known_ = true;
  }
  if (hit) {
    const uint32_t index = EntryIndex(value);
    const TranslationKind kind = EntryKind(value);
    Session& session = table_.at(index);
    if (kind == kOutRight && !session.has_right()) {
      // The placeholder of a middlebox session whose SYN has not gone on yet.
      if (!bare_syn) return Verdict::kToWire;  // not ours to judge before the SYN has gone on
      if (session.state == SessionState::kLinger) return DropWith(DropReason::SESSION_CLOSED);
      return CompletePending(index, packet, layout, key, false, now);
    }
    if (bare_syn && kind == kOutRight) {
      if (session.state == SessionState::kSynSent) {
        stats_.syn_retransmits.Add(1);
        return SendSyn(index, packet, layout, now);
      }
      if (session.state == SessionState::kLinger || session.state == SessionState::kClosing) {
        // A new connection on the tuple of one that has ended: start afresh.
        Retire(index);
        return HostMiss(packet, layout, key, now);
      }
    }
    const int side = kind == kOutRight ? 0 : 1;
    if (__builtin_expect(session.next_hop[side] == 0, 0)) ResolveSessionMac(session, side, now);
    Translate(session, kind, packet, layout);
    Track(index, kind, packet, layout, now);
    return Verdict::kToWire;
  }
  if (!bare_syn) return Verdict::kToWire;  // a flow no policy chains
  return HostMiss(packet, layout, key, now);
}

Verdict SessionPipeline::WirePacket(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, bool hit,
                                    uint32_t value, uint32_t now) {
  const uint8_t flags = packet.data[layout.l4_offset + 13];
  const bool bare_syn = (flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
  if (hit) {
    const uint32_t index = EntryIndex(value);
    const TranslationKind kind = EntryKind(value);
    Session& session = table_.at(index);
    if (bare_syn && kind == kInLeft && session.state == SessionState::kLinger && layout.payload_length() != 0 &&
        LooksLikeAddressList(packet.data + layout.payload_offset, layout.payload_length())) {
      // The left neighbour starts a new session on the subsession of one that has ended.
      Retire(index);
      return Accept(packet, layout, key, now);
    }
    if (bare_syn && kind == kInLeft) {
      // The left neighbour retransmitted its SYN: deliver it again exactly as the first time.
      stats_.syn_retransmits.Add(1);
      size_t length = packet.length;
      PacketLayout edited = layout;
      if (edited.payload_length() != 0 && StripSynPayload(packet.data, &length, &edited) != SynPayloadStatus::kOk) {
        return DropWith(DropReason::LIST_LENGTH);
      }
      packet.length = static_cast<uint32_t>(length);
      Translate(session, kind, packet, edited);
      // Until the SYN-ACK, every copy of the SYN carries the same tag as the first.
      const SetupState* setup = table_.SetupOf(index);
      if (setup != nullptr && setup->tag != 0 &&
          (session.state == SessionState::kPending || session.state == SessionState::kSynSent)) {
        if (AddTagOption(packet.data, &length, packet.capacity, &edited, setup->tag) == TagStatus::kOk) {
          packet.length = static_cast<uint32_t>(length);
        }
      }
      session.last_seen_ms = now;
      return Verdict::kToHost;
    }
    Translate(session, kind, packet, layout);
    Track(index, kind, packet, layout, now);
    return Verdict::kToHost;
  }
  if (bare_syn && key.dst_ip == config_.host_ip && layout.payload_length() != 0 &&
      LooksLikeAddressList(packet.data + layout.payload_offset, layout.payload_length())) {
    return Accept(packet, layout, key, now);
  }
  return Verdict::kToHost;
}

}  // namespace dysco
