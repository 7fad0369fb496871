#include "core/session_pipeline.h"

#include <array>
#include <cstring>

#include "core/address_list.h"
#include "core/arp.h"
#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/tag_option.h"
#include "core/tcp_options.h"

namespace dysco {
namespace {

constexpr uint32_t kEthernetHeader = 14;
constexpr uint64_t kNsPerMs = 1000000;
constexpr uint32_t kNeighbourExpiryIntervalMs = 10;

// RFC 1624 eqn 3 with a precomputed adjustment: HC' = ~(~HC + adjust). One's-complement sums do not
// depend on byte order, so checksum and adjustment stay in network order (no swaps), and one fold
// suffices: ~HC + adjust is at most 0x1fffe, so adding its carry back (a 16-bit add with carry) cannot
// carry again.
inline void AdjustChecksumAt(uint8_t* field, uint16_t adjust) {
  uint16_t checksum;
  std::memcpy(&checksum, field, 2);
  uint16_t sum;
  const bool carry = __builtin_add_overflow(static_cast<uint16_t>(~checksum), adjust, &sum);
  checksum = static_cast<uint16_t>(~(sum + carry));
  std::memcpy(field, &checksum, 2);
}

// Writes the tuple a packet leaves with over its addresses and ports, and adjusts both checksums. The
// side's adjustments are for the subsession → host direction; the other direction adds their
// complements (the same change undone).
inline void RewriteTuple(uint8_t* ip, uint8_t* tcp, const TupleWords& to, const SessionSide& side, bool outbound) {
  std::memcpy(ip + 12, &to.addresses, 8);
  std::memcpy(tcp, &to.ports, 4);
  const uint16_t flip = outbound ? 0xffff : 0;
  AdjustChecksumAt(ip + 10, side.ip_adjust ^ flip);
  AdjustChecksumAt(tcp + 16, side.l4_adjust ^ flip);
}

// The checksum adjustments of a side whose tuples are set: from the subsession as it arrives to the
// host's tuple (the order of fields within a header does not change a one's-complement sum).
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

// a ≥ b in sequence space.
bool SeqGeq(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

DropReason DropFor(AddressListStatus status) {
  switch (status) {
    case AddressListStatus::kBadMagic: return DropReason::LIST_BAD_MAGIC;
    case AddressListStatus::kBadVersion: return DropReason::LIST_BAD_VERSION;
    case AddressListStatus::kUnsupportedFlags: return DropReason::LIST_BAD_FLAGS;
    case AddressListStatus::kZeroHops: return DropReason::LIST_ZERO_HOPS;
    case AddressListStatus::kTooManyHops: return DropReason::LIST_TOO_MANY_HOPS;
    case AddressListStatus::kLengthMismatch: return DropReason::LIST_LENGTH;
    default: return DropReason::LIST_TRUNCATED;
  }
}

// A SYN payload is ours (or a damaged copy of ours) when it starts with the first three magic bytes.
// Anything else (TCP Fast Open data) is not a Dysco SYN and passes untouched.
bool LooksLikeAddressList(const uint8_t* payload, uint32_t length) {
  return length >= 3 && payload[0] == 'D' && payload[1] == 'Y' && payload[2] == 'S';
}

void RecordHandshake(SessionCold& cold, int direction, const uint8_t* frame, const PacketLayout& layout) {
  const TcpView tcp(const_cast<uint8_t*>(frame) + layout.l4_offset);
  TcpHandshake handshake;
  handshake.isn = tcp.seq();
  const TcpOptionSummary options = SummarizeTcpOptions(tcp.options(), tcp.options_size());
  if (options.status == TcpOptionStatus::kOk) {
    handshake.window_scale = options.has_window_scale ? options.window_scale : 0xff;
    handshake.sack_permitted = options.sack_permitted ? 1 : 0;
    handshake.timestamps = options.has_timestamps ? 1 : 0;
    handshake.ts_val = options.has_timestamps ? options.timestamps.value : 0;
  }
  SessionTable::SetHandshake(cold, direction, handshake);
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
  if (!right && kind != (kOutbound ? kOutLeft : kInLeft)) return false;
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
    return Verdict::kToHost;
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
    Translate(session, kind, packet, layout);
    Track(index, kind, packet, layout, now);
    return Verdict::kToWire;
  }
  if (!bare_syn) return Verdict::kToWire;  // a flow no policy chains
  return HostMiss(packet, layout, key, now);
}

// A bare SYN from the host that no key knows: a tagged SYN the middlebox software rewrote, or a new
// session under this host's policies, or a flow nobody chains.
Verdict SessionPipeline::HostMiss(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, uint32_t now) {
  uint32_t value;
  if (table_.Lookup(true, key, &value)) {
    // An earlier packet of this burst created it (the burst was looked up before any was handled).
    return HostPacket(packet, layout, key, true, value, now);
  }
  uint32_t tag;
  if (FindTagOption(packet.data, layout, &tag)) {
    uint32_t index;
    if (table_.ByTag(tag, &index) != nullptr) return CompletePending(index, packet, layout, key, true, now);
    stats_.stale_tags.Add(1);
    size_t length = packet.length;
    RemoveTagOption(packet.data, &length, layout);
    packet.length = static_cast<uint32_t>(length);
    const PacketLayout clean = ParsePacket(packet.data, packet.length);
    const PolicyRule* rule = policies_->Match(key);
    return rule ? Initiate(packet, clean, key, *rule, now) : Verdict::kToWire;
  }
  const PolicyRule* rule = policies_->Match(key);
  if (rule == nullptr) return Verdict::kToWire;
  return Initiate(packet, layout, key, *rule, now);
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
      if (layout.payload_length() != 0 && StripSynPayload(packet.data, &length, layout) != SynPayloadStatus::kOk) {
        return DropWith(DropReason::LIST_LENGTH);
      }
      packet.length = static_cast<uint32_t>(length);
      const PacketLayout stripped = ParsePacket(packet.data, packet.length);
      Translate(session, kind, packet, stripped);
      // Until the SYN-ACK, every copy of the SYN carries the same tag as the first.
      const SetupState* setup = table_.SetupOf(index);
      if (setup != nullptr && setup->tag != 0 &&
          (session.state == SessionState::kPending || session.state == SessionState::kSynSent)) {
        const PacketLayout translated = ParsePacket(packet.data, packet.length);
        if (AddTagOption(packet.data, &length, packet.capacity, translated, setup->tag) == TagStatus::kOk) {
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

bool SessionPipeline::SetUpSide(uint32_t index, TranslationKind out_kind, const FiveTuple& session_tuple,
                                const FiveTuple& subsession) {
  // Right: `subsession` leaves toward the right neighbour. Left: it arrived from the left neighbour.
  Session& session = table_.at(index);
  const bool right = out_kind == kOutRight;
  SessionSide& side = right ? session.right : session.left;
  const TranslationKind in_kind = right ? kInRight : kInLeft;
  side.SetHost(session_tuple);
  side.SetSubsession(right ? subsession.Reversed() : subsession);
  SetAdjustments(side, config_.host_ip);
  if (table_.AddKey(index, in_kind) != FlowTable::InsertResult::kInserted) return false;
  if (table_.AddKey(index, out_kind) != FlowTable::InsertResult::kInserted) {
    table_.RemoveKey(index, in_kind);
    return false;
  }
  session.flags |= right ? kHasRight : kHasLeft;
  return true;
}

Verdict SessionPipeline::Initiate(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key,
                                  const PolicyRule& rule, uint32_t now) {
  uint32_t hops[kMaxChainHops + 1];
  const uint8_t count = AddressListFor(rule, key.dst_ip, hops);
  uint32_t index;
  Session* session = table_.Allocate(&index);
  if (session == nullptr) return DropWith(DropReason::TABLE_FULL);
  session->role = SessionRole::kInitiator;
  table_.cold(index).rule_id = rule.rule_id < kNoRule ? static_cast<uint16_t>(rule.rule_id) : kNoRule;
  session->last_seen_ms = now;
  session->state = SessionState::kSynSent;
  SubsessionPorts ports;
  if (!table_.AllocatePorts(hops[0], &ports)) {
    table_.Free(index);
    return DropWith(DropReason::PORTS_EXHAUSTED);
  }
  FiveTuple subsession;
  subsession.src_ip = config_.host_ip;
  subsession.dst_ip = hops[0];
  subsession.src_port = ports.src_port;
  subsession.dst_port = ports.dst_port;
  subsession.protocol = kIpProtocolTcp;
  if (!table_.StoreSetup(index, hops, count)) {
    table_.Free(index);
    return DropWith(DropReason::SETUP_POOL_FULL);
  }
  if (!SetUpSide(index, kOutRight, key, subsession)) {
    table_.Free(index);
    return DropWith(DropReason::KEY_CONFLICT);
  }
  RecordHandshake(table_.cold(index), 0, packet.data, layout);
  const Verdict verdict = SendSyn(index, packet, layout, now);
  if (verdict == Verdict::kDrop) {
    table_.Free(index);  // the SYN cannot leave (counted): no session to keep
    return verdict;
  }
  stats_.sessions_initiated.Add(1);
  return verdict;
}

Verdict SessionPipeline::Accept(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key, uint32_t now) {
  uint32_t value;
  if (table_.Lookup(false, key, &value)) {
    // An earlier packet of this burst created it: this one is a retransmission.
    return WirePacket(packet, layout, key, true, value, now);
  }
  AddressList list;
  const AddressListStatus status = ParseAddressList(packet.data + layout.payload_offset, layout.payload_length(), &list);
  if (status != AddressListStatus::kOk) return DropWith(DropFor(status));
  if (list.hops[0] != config_.host_ip) return DropWith(DropReason::LIST_NOT_FOR_ME);
  uint32_t index;
  Session* session = table_.Allocate(&index);
  if (session == nullptr) return DropWith(DropReason::TABLE_FULL);
  session->last_seen_ms = now;
  const bool last_hop = list.hop_count == 1;
  session->role = last_hop ? SessionRole::kResponder : SessionRole::kMiddlebox;
  session->state = last_hop ? SessionState::kSynSent : SessionState::kPending;
  // Replies to the left neighbour go back to the MAC this SYN came from.
  if (!table_.SetNextHop(*session, 1, packet.data + 6)) {
    table_.Free(index);
    return DropWith(DropReason::MAC_TABLE_FULL);
  }
  if (!last_hop && !table_.StoreSetup(index, list.hops + 1, static_cast<uint8_t>(list.hop_count - 1))) {
    table_.Free(index);
    return DropWith(DropReason::SETUP_POOL_FULL);
  }
  if (!SetUpSide(index, kOutLeft, list.session, key)) {
    table_.Free(index);
    return DropWith(DropReason::KEY_CONFLICT);
  }
  if (!last_hop) {
    // Recognise the SYN when the middlebox software sends it on unchanged: the right side starts as
    // the left side's tuple.
    session->right.SetHost(list.session);
    if (table_.AddKey(index, kOutRight) != FlowTable::InsertResult::kInserted) {
      table_.Free(index);
      return DropWith(DropReason::KEY_CONFLICT);
    }
  }
  RecordHandshake(table_.cold(index), 0, packet.data, layout);
  stats_.sessions_accepted.Add(1);

  size_t length = packet.length;
  if (StripSynPayload(packet.data, &length, layout) != SynPayloadStatus::kOk) {
    EndSession(index, TeardownCause::kIdle);
    return DropWith(DropReason::LIST_LENGTH);
  }
  packet.length = static_cast<uint32_t>(length);
  const PacketLayout stripped = ParsePacket(packet.data, packet.length);
  Translate(*session, kInLeft, packet, stripped);
  if (!last_hop) {
    const PacketLayout translated = ParsePacket(packet.data, packet.length);
    if (AddTagOption(packet.data, &length, packet.capacity, translated, table_.NewTag(index)) == TagStatus::kOk) {
      packet.length = static_cast<uint32_t>(length);
    } else {
      stats_.tag_no_space.Add(1);  // still found by its tuple unless the middlebox rewrites it
    }
  }
  return Verdict::kToHost;
}

Verdict SessionPipeline::CompletePending(uint32_t index, PipelinePacket& packet, const PacketLayout& layout,
                                         const FiveTuple& key, bool by_tag, uint32_t now) {
  Session& session = table_.at(index);
  const SetupState* rest = table_.SetupOf(index);
  if (rest == nullptr || rest->count == 0) return DropWith(DropReason::LIST_ZERO_HOPS);
  if (!(session.right.HostTuple() == key)) table_.RemoveKey(index, kOutRight);  // the middlebox rewrote the tuple
  SubsessionPorts ports;
  if (!table_.AllocatePorts(rest->hops[0], &ports)) {
    EndSession(index, TeardownCause::kIdle);
    return DropWith(DropReason::PORTS_EXHAUSTED);
  }
  FiveTuple subsession;
  subsession.src_ip = config_.host_ip;
  subsession.dst_ip = rest->hops[0];
  subsession.src_port = ports.src_port;
  subsession.dst_port = ports.dst_port;
  subsession.protocol = kIpProtocolTcp;
  session.state = SessionState::kSynSent;
  if (!SetUpSide(index, kOutRight, key, subsession)) {
    EndSession(index, TeardownCause::kIdle);
    return DropWith(DropReason::KEY_CONFLICT);
  }
  stats_.sessions_completed.Add(1);
  if (by_tag) stats_.completed_by_tag.Add(1);
  return SendSyn(index, packet, layout, now);
}

Verdict SessionPipeline::SendSyn(uint32_t index, PipelinePacket& packet, const PacketLayout& layout, uint32_t now) {
  Session& session = table_.at(index);
  const SetupState* list = table_.SetupOf(index);
  if (list == nullptr) return DropWith(DropReason::LIST_ZERO_HOPS);
  size_t length = packet.length;
  PacketLayout current = layout;
  if (current.payload_length() != 0) {
    // TCP Fast Open data: the list takes the payload. The peer does not acknowledge the data and the
    // host sends it again after the handshake, as with any server that refuses TFO.
    if (StripSynPayload(packet.data, &length, current) != SynPayloadStatus::kOk) return DropWith(DropReason::SYN_TOO_LARGE);
    packet.length = static_cast<uint32_t>(length);
    current = ParsePacket(packet.data, packet.length);
  }
  if (RemoveTagOption(packet.data, &length, current)) {
    packet.length = static_cast<uint32_t>(length);
    current = ParsePacket(packet.data, packet.length);
  }
  Translate(session, kOutRight, packet, current);
  const FiveTuple downstream = table_.KeyOf(session, kOutRight);
  if (AppendAddressListToSyn(packet.data, &length, packet.capacity, current, downstream, list->hops, list->count) !=
          SynPayloadStatus::kOk ||
      length - kEthernetHeader > config_.mtu) {
    return DropWith(DropReason::SYN_TOO_LARGE);
  }
  packet.length = static_cast<uint32_t>(length);
  session.last_seen_ms = now;
  return ForwardToNextHop(session, 0, list->hops[0], packet, now);
}

void SessionPipeline::RefreshFast(Session& session) {
  // A middlebox session is ready only with both sides: before its right side exists, the host's SYN
  // must still take the slow path to be sent on.
  const bool right_ready = session.has_right() ? session.next_hop[0] != 0 : session.role != SessionRole::kMiddlebox;
  const bool left_ready = !session.has_left() || session.next_hop[1] != 0;
  const bool fast = session.state == SessionState::kEstablished && session.fin_flags == 0 && right_ready && left_ready;
  session.flags = static_cast<uint8_t>(fast ? session.flags | kFast : session.flags & ~kFast);
}

uint32_t SessionPipeline::NextHopFor(uint32_t agent) const {
  const bool on_link = config_.gateway_ip == 0 || ((agent ^ config_.host_ip) & config_.prefix_mask) == 0;
  return on_link ? agent : config_.gateway_ip;
}

// A session whose first SYN waited for ARP learns its next-hop MAC on a later packet.
void SessionPipeline::ResolveSessionMac(Session& session, int side, uint32_t now) {
  const uint32_t agent = side == 0 ? session.right.neighbour_ip : session.left.neighbour_ip;
  MacAddress mac;
  const uint32_t next_hop = NextHopFor(agent);
  const ResolveResult resolved = neighbours_.Resolve(next_hop, uint64_t{now} * kNsPerMs, &mac);
  if (ResolveNeedsRequest(resolved)) SendArpRequest(next_hop);
  if (ResolveHasMac(resolved) && table_.SetNextHop(session, side, mac.bytes)) RefreshFast(session);
}

Verdict SessionPipeline::ForwardToNextHop(Session& session, int side, uint32_t next_agent, PipelinePacket& packet,
                                          uint32_t now) {
  if (session.next_hop[side] != 0) {
    std::memcpy(packet.data, table_.macs().bytes(session.next_hop[side]), 6);
    return Verdict::kToWire;
  }
  const uint32_t next_hop = NextHopFor(next_agent);
  const uint64_t now_ns = uint64_t{now} * kNsPerMs;
  MacAddress mac;
  const ResolveResult resolved = neighbours_.Resolve(next_hop, now_ns, &mac);
  if (ResolveNeedsRequest(resolved)) SendArpRequest(next_hop);
  if (ResolveHasMac(resolved)) {
    table_.SetNextHop(session, side, mac.bytes);  // a full MAC table only costs the next packet a lookup
    std::memcpy(packet.data, mac.bytes, 6);
    return Verdict::kToWire;
  }
  if (resolved != ResolveResult::kNeedRequest && resolved != ResolveResult::kPending) {
    return DropWith(DropReason::NEIGHBOUR_UNRESOLVED);
  }
  if (neighbours_.Enqueue(next_hop, packet.handle, now_ns) != EnqueueResult::kQueued) {
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

inline void SessionPipeline::Translate(const Session& session, TranslationKind kind, PipelinePacket& packet,
                                       const PacketLayout& layout) const {
  TupleWords arrives, leaves;
  KindWords(session, kind, config_.host_ip, &arrives, &leaves);
  RewriteTuple(packet.data + layout.l3_offset, packet.data + layout.l4_offset, leaves, session.side(kind),
               IsOutbound(kind));
  SetNextHopMac(session, kind, packet);
}

// Set before the session goes fast; until then an unknown MAC leaves the host's own choice in place.
inline void SessionPipeline::SetNextHopMac(const Session& session, TranslationKind kind, PipelinePacket& packet) const {
  if (!IsOutbound(kind)) return;
  const uint16_t mac = session.next_hop[kind == kOutRight ? 0 : 1];
  if (mac != 0) std::memcpy(packet.data, table_.macs().bytes(mac), 6);
}

void SessionPipeline::Track(uint32_t index, TranslationKind kind, const PipelinePacket& packet,
                            const PacketLayout& layout, uint32_t now) {
  Session& session = table_.at(index);
  const TcpView tcp(packet.data + layout.l4_offset);
  const uint8_t flags = tcp.flags();
  const int dir = IsForward(kind) ? 0 : 1;
  session.last_seen_ms = now;
  if (!IsOutbound(kind) || session.role != SessionRole::kMiddlebox) {
    ++session.packets;
    session.bytes += packet.length;
  }
  if (__builtin_expect((flags & (kTcpSyn | kTcpFin | kTcpRst)) == 0 && session.fin_flags == 0, 1)) return;

  const uint8_t rst_bit = dir == 0 ? kRstForward : kRstReverse;
  if (flags & kTcpRst) {
    if (session.state != SessionState::kLinger) {
      session.set_state_before_rst(session.state);
      session.fin_flags |= rst_bit;
      EndSession(index, TeardownCause::kRst);
    }
    return;
  }
  if (session.fin_flags & rst_bit) {
    // The RST's sender still talks: its endpoint did not take the RST (out of window). Carry on.
    session.fin_flags &= static_cast<uint8_t>(~(kRstForward | kRstReverse));
    session.state = session.state_before_rst();
    stats_.rsts_ignored.Add(1);
    RefreshFast(session);
  }
  if ((flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck) && dir == 1) {
    // kPending: the middlebox host answered the SYN itself (a SYN proxy) before sending it on.
    if (session.state == SessionState::kSynSent || session.state == SessionState::kPending) {
      RecordHandshake(table_.cold(index), 1, packet.data, layout);
      session.state = SessionState::kEstablished;
      RefreshFast(session);
      // A middlebox that answered the SYN itself still has to send it on: keep its list.
      if (session.role != SessionRole::kMiddlebox || session.has_right()) table_.ReleaseSetup(index);
      stats_.established.Add(1);
    }
    return;
  }
  if (flags & kTcpFin) {
    session.fin_flags |= dir == 0 ? kFinSeenForward : kFinSeenReverse;
    table_.cold(index).fin_end[dir] = tcp.seq() + layout.payload_length() + 1;
    if (session.state == SessionState::kEstablished || session.state == SessionState::kSynSent) {
      session.state = SessionState::kClosing;
    }
    session.flags &= static_cast<uint8_t>(~kFast);
  }
  if (flags & kTcpAck) {
    const int other = 1 - dir;
    const uint8_t seen = other == 0 ? kFinSeenForward : kFinSeenReverse;
    const uint8_t acked = other == 0 ? kFinAckedForward : kFinAckedReverse;
    if ((session.fin_flags & seen) && SeqGeq(tcp.ack(), table_.cold(index).fin_end[other])) session.fin_flags |= acked;
  }
  if ((session.fin_flags & (kFinAckedForward | kFinAckedReverse)) == (kFinAckedForward | kFinAckedReverse) &&
      session.state != SessionState::kLinger) {
    EndSession(index, TeardownCause::kFin);
  }
}

void SessionPipeline::EndSession(uint32_t index, TeardownCause cause) {
  Session& session = table_.at(index);
  // A RST is counted when its linger ends: until then the session may carry on (see Track).
  if (cause != TeardownCause::kRst) stats_.teardowns[static_cast<int>(cause)].Add(1);
  if (cause == TeardownCause::kIdle) {
    table_.Free(index);
    return;
  }
  // Keep translating stragglers (the last ACK, retransmitted FINs) for a short linger.
  session.state = SessionState::kLinger;
  session.flags &= static_cast<uint8_t>(~kFast);
}

// Frees a session that has ended; a RST is counted now that nobody took it back (a FIN was counted
// when the session began to linger).
void SessionPipeline::Retire(uint32_t index) {
  if (table_.at(index).fin_flags & (kRstForward | kRstReverse)) stats_.teardowns[static_cast<int>(TeardownCause::kRst)].Add(1);
  table_.Free(index);
}

void SessionPipeline::Expire(uint32_t now, uint32_t budget) {
  stats_.active_sessions.Set(table_.active());
  const uint32_t capacity = table_.capacity();
  for (uint32_t visited = 0; visited < budget && visited < capacity; ++visited) {
    const uint32_t index = expiry_cursor_;
    expiry_cursor_ = expiry_cursor_ + 1 == capacity ? 0 : expiry_cursor_ + 1;
    Session& session = table_.at(index);
    uint32_t limit;
    switch (session.state) {
      case SessionState::kFree: continue;
      case SessionState::kPending:
      case SessionState::kSynSent: limit = config_.setup_timeout_ms; break;
      case SessionState::kEstablished: limit = config_.established_timeout_ms; break;
      case SessionState::kClosing: limit = config_.closing_timeout_ms; break;
      case SessionState::kLinger: limit = config_.linger_ms; break;
      default: continue;
    }
    if (now - session.last_seen_ms < limit) continue;
    if (session.state == SessionState::kLinger) {
      Retire(index);
    } else {
      EndSession(index, TeardownCause::kIdle);
    }
  }
  // The neighbour table walks every entry; its timers are 200 ms and up, so every 10 ms is plenty.
  if (now - last_neighbour_expiry_ms_ < kNeighbourExpiryIntervalMs) return;
  last_neighbour_expiry_ms_ = now;
  neighbours_.Expire(uint64_t{now} * kNsPerMs, [this](void* handle) {
    counters_->Drop(DropReason::NEIGHBOUR_UNRESOLVED);
    io_->ReleaseHeld(handle, nullptr);
  });
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
  neighbours_.Learn(arp.sender_ip_be, mac, uint64_t{now} * kNsPerMs,
                    [this, &mac](void* handle) { io_->ReleaseHeld(handle, mac.bytes); });
}

void SessionPipeline::ReleaseAllHeld() {
  neighbours_.Clear([this](void* handle) {
    counters_->Drop(DropReason::NEIGHBOUR_UNRESOLVED);
    io_->ReleaseHeld(handle, nullptr);
  });
}

}  // namespace dysco
