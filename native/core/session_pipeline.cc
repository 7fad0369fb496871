// Burst classification, the fast path and dispatch: every burst is parsed and looked up here, data of
// fast sessions is translated here, and everything else goes to the module of its concern (set-up,
// next hops, tracking and expiry, translation; see session_pipeline.h).
#include "core/session_pipeline.h"

#include <array>
#include <cstring>

#include "core/address_list.h"
#include "core/byte_order.h"
#include "core/tag_option.h"
#include "core/translation.h"

namespace dysco {
namespace {

// Addresses and ports sit in the packet in the key's own order and byte order: two loads.
FiveTuple TupleOf(const uint8_t* frame, const PacketLayout& layout) {
  FiveTuple key;
  std::memcpy(&key.src_ip, frame + layout.l3_offset + 12, 8);
  std::memcpy(&key.src_port, frame + layout.l4_offset, 4);
  key.protocol = kIpProtocolTcp;
  return key;
}

TupleWords CommonFrameWords(const uint8_t* frame) {
  TupleWords words;
  std::memcpy(&words.addresses, frame + kCommonL3Offset + 12, 8);
  std::memcpy(&words.ports, frame + kCommonL4Offset, 4);
  return words;
}

// FlowTable::Hash of the TCP key with these words (its second word: ports, protocol, zero padding).
uint32_t HashTcpWords(const TupleWords& words) {
  return HashTupleWords(words.addresses, words.ports | uint64_t{kIpProtocolTcp} << 32);
}

// The probe of a packet that is not a common frame: above FlowTable::kMaxValue, and none of its answers.
constexpr uint32_t kNotLookedUp = 0xfffffffd;
static_assert(kNotLookedUp > FlowTable::kMaxValue && kNotLookedUp != FlowTable::kMissFinal &&
              kNotLookedUp != FlowTable::kLookFurther);

// What Session::flags must hold for a data packet of `kind` to be translated on the fast path: kFast
// (an established session, never a free record, with every next hop known) and the flag of the kind's
// side, which with kFast says the session owns the kind (a middlebox's placeholder is never fast). A
// kind the port does not look up (from the host only out kinds, from the wire only in kinds) needs a
// bit that flags never holds.
template <bool kOutbound>
constexpr uint8_t FastFlagsOf(uint32_t kind) {
  constexpr uint8_t kNever = 0x80;
  static_assert((kHasLeft | kHasRight | kFast | (7 << kStateBeforeRstShift)) < kNever);
  switch (kind) {
    case kOutRight: return kOutbound ? kFast | kHasRight : kNever;
    case kOutLeft: return kOutbound ? kFast | kHasLeft : kNever;
    case kInRight: return kOutbound ? kNever : kFast | kHasRight;
    case kInLeft: return kOutbound ? kNever : kFast | kHasLeft;
    default: return kNever;
  }
}

// FastFlagsOf as a table over every kind a table value can name, so the per-packet path reads one byte.
template <bool kOutbound>
constexpr std::array<uint8_t, 1u << kEntryKindBits> FastFlagsTable() {
  std::array<uint8_t, 1u << kEntryKindBits> table{};
  for (uint32_t kind = 0; kind < table.size(); ++kind) table[kind] = FastFlagsOf<kOutbound>(kind);
  return table;
}
template <bool kOutbound>
constexpr std::array<uint8_t, 1u << kEntryKindBits> kFastFlags = FastFlagsTable<kOutbound>();

// The first pass over a burst: which packets are common frames, and for those the hash and home bucket
// of their keys, the bucket prefetched.
uint64_t HashCommonFrames(const FlowTable& table, const PipelinePacket* packets, uint32_t n, uint32_t* hashes,
                          uint32_t* homes) {
  const FlowTable::Buckets buckets = table.buckets();
  uint64_t common = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* frame = packets[i].data;
    if (!IsCommonTcpFrame(frame, packets[i].length)) continue;
    common |= uint64_t{1} << i;
    const uint32_t hash = HashTcpWords(CommonFrameWords(frame));
    const uint32_t home = buckets.HomeOf(hash);
    hashes[i] = hash;
    homes[i] = home;
    buckets.Prefetch(home);
  }
  return common;
}

}  // namespace

bool SessionPipeline::Init(const PipelineConfig& config, LcoreCounters* counters, PipelineIo* io) {
  config_ = config;
  counters_ = counters;
  io_ = io;
  policies_ = std::make_unique<PolicySet>();
  control_packets_.Init();
  if (config.replay_cache_slots != 0 && !replay_cache_.Init(config.replay_cache_slots)) return false;
  return table_.Init(config.max_sessions, config.max_setups, config.max_second_paths, config.port_lo, config.port_hi,
                     config.host_ip) &&
         neighbours_.Init(NeighbourConfig{}) == Status::OK;
}

std::unique_ptr<PolicySet> SessionPipeline::ReplacePolicies(std::unique_ptr<PolicySet> policies) {
  policies_.swap(policies);
  return policies;
}

std::unique_ptr<ListAuthPolicy> SessionPipeline::ReplaceListAuth(std::unique_ptr<ListAuthPolicy> policy) {
  list_auth_.swap(policy);
  return policy;
}

Verdict SessionPipeline::DropWith(DropReason reason) {
  counters_->Drop(reason);
  return Verdict::kDrop;
}

// Recognises the common frames of a burst, hashes their keys straight from the frame and prefetches
// their home buckets, then takes each one's first candidate and prefetches the session record it names,
// so the per-packet work that follows finds both cached. Every other packet gets its full layout.
void SessionPipeline::ClassifyBurst(const PipelinePacket* packets, uint32_t n, bool outbound) {
  BurstScratch& burst = scratch_;
  const FlowTable& table = table_.lookup_table(outbound);
  const uint64_t common = HashCommonFrames(table, packets, n, burst.hashes, burst.homes);
  burst.common = common;
  const uint64_t all = n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
  for (uint64_t other = all & ~common; other != 0; other &= other - 1) {
    const uint32_t i = __builtin_ctzll(other);
    burst.layouts[i] = ParsePacket(packets[i].data, packets[i].length);
    burst.probes[i] = kNotLookedUp;
  }
  for (uint64_t left = common; left != 0; left &= left - 1) {
    const uint32_t i = __builtin_ctzll(left);
    const uint32_t probe = table.FirstCandidate(burst.homes[i], burst.hashes[i]);
    burst.probes[i] = probe;
    if (probe > FlowTable::kMaxValue) continue;
    Session* record = &table_.at(EntryIndex(probe));
    burst.records[i] = record;
    __builtin_prefetch(record, 1);
    __builtin_prefetch(reinterpret_cast<const uint8_t*>(record) + sizeof(Session) - 1, 1);
  }
}

// A data packet of a fast session in a common frame, translated with one read of its record (`record`
// is the one `value` names when value is a candidate): the candidate is confirmed and the rewrite
// computed from the same words. Nothing is written unless the packet is translated.
template <bool kOutbound>
inline SessionPipeline::FastResult SessionPipeline::TranslateIfFast(uint32_t value, Session* record,
                                                                     PipelinePacket& packet, uint32_t now) {
  if (value > FlowTable::kMaxValue) return FastResult::kOtherKey;
  Session& session = *record;
  const TranslationKind kind = EntryKind(value);
  const uint8_t needs = kFastFlags<kOutbound>[kind];
  uint8_t* frame = packet.data;
  if ((needs & ~session.flags) != 0 || (frame[kCommonL4Offset + 13] & (kTcpSyn | kTcpFin | kTcpRst)) != 0) {
    return FastResult::kSlowPath;
  }
  const bool right = kind == (kOutbound ? kOutRight : kInRight);
  const SessionSide& side = right ? session.right : session.left;
  TupleWords arrives, leaves;
  KindWordsFor<kOutbound>(side, kOutbound == right, config_.host_ip, &arrives, &leaves);  // right: out is forward
  if (!(arrives == CommonFrameWords(frame))) return FastResult::kOtherKey;
  // Stored before the rewrite: beside the counters' update the compiler merges the two into a vector store.
  session.last_seen_ms = now;
  RewriteTuple(frame + kCommonL3Offset, frame + kCommonL4Offset, leaves, side, kOutbound);
  if (kOutbound) std::memcpy(frame, table_.macs().bytes(session.next_hop[right ? 0 : 1]), 6);
  // A middlebox counts each packet once, inbound.
  if (!kOutbound || session.role != SessionRole::kMiddlebox) {
    ++session.packets;
    session.bytes += packet.length;
  }
  return FastResult::kTranslated;
}

// SessionTable::Matches for the key of a common frame at one port, without building a FiveTuple.
template <bool kOutbound>
inline bool SessionPipeline::MatchesWords(uint32_t value, const TupleWords& key) const {
  const uint32_t index = EntryIndex(value);
  if (index >= table_.capacity()) return false;
  const Session& session = table_.at(index);
  const TranslationKind kind = EntryKind(value);
  const bool right = kind == (kOutbound ? kOutRight : kInRight);
  if (!right && kind != (kOutbound ? kOutLeft : kInLeft)) {
    // A second path's key (rare: a reconfiguration in progress) is confirmed the long way.
    if (kOutbound || !IsSecondPath(kind)) return false;
    FiveTuple tuple;
    std::memcpy(&tuple.src_ip, &key.addresses, 8);
    std::memcpy(&tuple.src_port, &key.ports, 4);
    tuple.protocol = kIpProtocolTcp;
    return table_.Matches(value, tuple);
  }
  if (session.state == SessionState::kFree || !OwnsKind(session, kind)) return false;
  TupleWords arrives, leaves;
  KindWordsFor<kOutbound>(right ? session.right : session.left, kOutbound == right, config_.host_ip, &arrives, &leaves);
  return arrives == key;
}

// Common frame i through the fast path. When its first candidate is another key's (signatures are
// eight bits) or its key overflowed the home bucket, the full lookup runs here, once: its answer
// replaces the probe for the slow path.
template <bool kOutbound>
inline bool SessionPipeline::TranslateFast(uint32_t i, PipelinePacket& packet, uint32_t now) {
  uint32_t& probe = scratch_.probes[i];
  FastResult result = TranslateIfFast<kOutbound>(probe, scratch_.records[i], packet, now);
  if (result == FastResult::kOtherKey && (probe <= FlowTable::kMaxValue || probe == FlowTable::kLookFurther)) {
    const TupleWords key = CommonFrameWords(packet.data);
    uint32_t value;
    if (!table_.lookup_table(kOutbound).Find(
            scratch_.hashes[i], [this, &key](uint32_t v) { return MatchesWords<kOutbound>(v, key); }, &value)) {
      probe = FlowTable::kMissFinal;
      return false;
    }
    probe = value;
    result = TranslateIfFast<kOutbound>(value, &table_.at(EntryIndex(value)), packet, now);
  }
  return result == FastResult::kTranslated;
}

PacketLayout SessionPipeline::LayoutOf(uint32_t i, const PipelinePacket& packet) const {
  return (scratch_.common >> i) & 1 ? CommonTcpLayout(packet.data) : scratch_.layouts[i];
}

// The session entry of packet i's key: its candidate when that is confirmed, else whatever the table
// holds beyond it.
bool SessionPipeline::FindSession(uint32_t i, bool outbound, const FiveTuple& key, uint32_t* value) const {
  if ((scratch_.common >> i) & 1) {
    const uint32_t probe = scratch_.probes[i];
    if (probe == FlowTable::kMissFinal) return false;
    if (probe <= FlowTable::kMaxValue && table_.Matches(probe, key)) {
      *value = probe;
      return true;
    }
  }
  return table_.Lookup(outbound, key, value);
}

Verdict SessionPipeline::HostSlowPath(uint32_t i, PipelinePacket& packet, uint32_t now) {
  const PacketLayout layout = LayoutOf(i, packet);
  if (!layout.is_tcp()) {
    // Any frame from the host port is the host's own: its MAC lets the control plane send before any TCP.
    if (__builtin_expect(!host_mac_known_, 0) && packet.length >= kEthernetHeaderSize) {
      std::memcpy(host_mac_, packet.data + 6, 6);
      host_mac_known_ = true;
    }
    if (layout.status == ParseStatus::kNotIpv4) LearnFromArp(packet, true, now);
    return Verdict::kToWire;
  }
  const FiveTuple key = TupleOf(packet.data, layout);
  uint32_t value = 0;
  const bool hit = FindSession(i, true, key, &value);
  return HostPacket(packet, layout, key, hit, value, now);
}

Verdict SessionPipeline::WireSlowPath(uint32_t i, PipelinePacket& packet, uint32_t now) {
  const PacketLayout layout = LayoutOf(i, packet);
  if (!layout.is_tcp()) {
    if (layout.status == ParseStatus::kNotIpv4) LearnFromArp(packet, false, now);
    return IsControlPacket(packet, layout) ? TakeControlPacket(packet, layout) : Verdict::kToHost;
  }
  const FiveTuple key = TupleOf(packet.data, layout);
  uint32_t value = 0;
  const bool hit = FindSession(i, false, key, &value);
  return WirePacket(packet, layout, key, hit, value, now);
}

void SessionPipeline::FromHost(PipelinePacket* packets, uint32_t n, uint32_t now, Verdict* verdicts) {
  ClassifyBurst(packets, n, true);
  for (uint32_t i = 0; i < n; ++i) {
    if (TranslateFast<true>(i, packets[i], now)) {
      verdicts[i] = Verdict::kToWire;
    } else {
      verdicts[i] = HostSlowPath(i, packets[i], now);
    }
  }
}

void SessionPipeline::FromWire(PipelinePacket* packets, uint32_t n, uint32_t now, Verdict* verdicts) {
  ClassifyBurst(packets, n, false);
  for (uint32_t i = 0; i < n; ++i) {
    if (TranslateFast<false>(i, packets[i], now)) {
      verdicts[i] = Verdict::kToHost;
    } else {
      verdicts[i] = WireSlowPath(i, packets[i], now);
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
    if (session.reconfigured()) return HostReconfigured(index, kind, packet, layout, now);
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
    if (session.reconfigured()) return WireReconfigured(index, kind, packet, layout, now);
    Translate(session, kind, packet, layout);
    Track(index, kind, packet, layout, now);
    return Verdict::kToHost;
  }
  if (bare_syn && key.dst_ip == config_.host_ip && layout.payload_length() != 0 &&
      LooksLikeAddressList(packet.data + layout.payload_offset, layout.payload_length())) {
    return Accept(packet, layout, key, now);
  }
  if (key.dst_ip == config_.host_ip && InSubsessionPorts(key.dst_port)) {
    // Left over from a subsession torn down here while its far end still sent on it. The host has no socket
    // for it and would answer with a RST, which that far end could take for the session's own.
    return DropWith(DropReason::STALE_SUBSESSION);
  }
  return Verdict::kToHost;
}

}  // namespace dysco
