// Reconfiguration in the datapath (docs/reconfiguration.md, "The datapath's part"): an anchor's second
// path, from the new path's TCP handshake through two paths to the fold, on the lcore.
//
//   left anchor   OpenNewPath: SYN ──► SYN-ACK: ACK + path option ──► the right anchor's announcement:
//                 switch (cutoff), announce ──► two paths ──► fold
//   right anchor  ExpectNewPath ──► the SYN with its nonce: SYN-ACK ──► the ACK + path option: switch
//                 (cutoff), announce ──► two paths ──► fold
//
// An anchor switches only once the far anchor's scaled window has crossed the new path, and at a segment of
// its own host's (an idle host is probed for one). Its stream moves to the new path at its cutoff, whose
// first byte there is the handshake's ISN + 1; the far anchor learns the cutoff from the path option on the
// segments the anchor makes itself, and drops (counted) what it cannot map before that. Acknowledgements go
// on the path whose data they cover; what a path cannot express is replaced there by the lowest one it can,
// and the host never gets one below the best it has seen.
#include <cstring>
#include <random>

#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/elapsed_ms.h"
#include "core/path_option.h"
#include "core/session_pipeline.h"
#include "core/tcp_frame.h"
#include "core/tcp_options.h"
#include "core/translation.h"

namespace dysco {
namespace {

constexpr uint32_t kAnnounceIntervalMs = 20;
constexpr uint8_t kMaxAnnouncements = 100;
// Linux limits its answers to out-of-window segments without data to one per 500 ms and socket
// (tcp_invalid_ratelimit), which a session reconfigured twice within that time would wait for, but answers every
// one with data. So a probe carries one byte where that byte is sure to lie behind the host's receive window
// (ProbeHost). The repeats cover a lost probe, and stacks that limit those answers too.
constexpr uint32_t kProbeIntervalMs = 600;
constexpr uint8_t kMaxProbes = 10;
// How far behind the far stream's position a probe lies: a quarter of the sequence space, more than any window.
constexpr uint32_t kProbeDistance = 0x40000000;
constexpr uint16_t kOwnWindow = 0xffff;
// How far from a path's edge a SACK block may lie: a quarter of the sequence space, far beyond any
// window, and well inside what sequence comparisons can order.
constexpr uint32_t kSackReach = 0x40000000;

bool SeqLt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

// The anchors heard each other on the new path, so the far one may switch to it at any instant: the left anchor
// once the SYN-ACK came and the handshake's ACK went (the right switches on that ACK), the right anchor once it
// heard that ACK (the left switches on its announcement). Neither gives such a path up on its own.
bool HandshakeAnswered(const SecondPath& second) {
  return (second.phase == SecondPathPhase::kOpening && (second.known & kHandshakeDone) != 0) ||
         (second.phase == SecondPathPhase::kAnswered && (second.known & kHeardFar) != 0);
}
bool SeqGeq(uint32_t a, uint32_t b) { return !SeqLt(a, b); }
uint32_t SeqMax(uint32_t a, uint32_t b) { return SeqLt(a, b) ? b : a; }
uint32_t SeqMin(uint32_t a, uint32_t b) { return SeqLt(a, b) ? a : b; }

// The host's answer to a probe: a pure ACK whose first SACK block is the D-SACK of the probe's byte (a host
// without SACK answers with a plain ACK, which goes on like any other).
bool IsProbeAnswer(const TcpView& tcp, uint32_t payload_length, uint32_t probe_seq) {
  if (payload_length != 0 || tcp.flags() != kTcpAck) return false;
  bool answer = false;
  bool first_sack = true;
  const TcpOptionStatus status = WalkTcpOptions(tcp.options(), tcp.options_size(), [&](const TcpOption& option) {
    if (option.kind != kTcpOptionSack || !first_sack) return;
    first_sack = false;
    answer = LoadBe32(tcp.options() + option.offset + 2) == probe_seq;
  });
  return status == TcpOptionStatus::kOk && answer;
}

// The far anchor was heard on the new path (kHeardFar), the switch not made yet.
bool ReadyToSwitch(const SecondPath& second) {
  return (second.phase == SecondPathPhase::kOpening || second.phase == SecondPathPhase::kAnswered) &&
         (second.known & kHeardFar);
}

bool IsZero(const SegmentDeltas& d) {
  return d.seq == 0 && d.ack == 0 && d.ts_val == 0 && d.ts_ecr == 0 && d.window_scale_in == d.window_scale_out;
}

// Our stream is the one the host sends out of the doubled side: forward at the left anchor.
int OurDirection(const SecondPath& second) { return second.doubled == AnchorSide::kRight ? 0 : 1; }
TranslationKind OwnInKind(const SecondPath& second) { return second.doubled == AnchorSide::kRight ? kInRight : kInLeft; }
TranslationKind OwnOutKind(const SecondPath& second) {
  return second.doubled == AnchorSide::kRight ? kOutRight : kOutLeft;
}
TranslationKind SecondInKind(const SecondPath& second) {
  return second.doubled == AnchorSide::kRight ? kSecondInRight : kSecondInLeft;
}
int MacSlot(const SecondPath& second) { return second.doubled == AnchorSide::kRight ? 0 : 1; }

uint8_t ScaleOf(uint8_t handshake_options) {
  const uint8_t scale = handshake_options & kHandshakeScaleMask;
  return scale == kHandshakeNoScale ? 0 : scale;
}

// The option area of a segment the anchor makes: the SYN's and SYN-ACK's negotiate what the session's
// own handshake did; the others carry timestamps and the path option.
struct OptionArea {
  uint8_t bytes[40];
  uint32_t length = 0;
  void Put(std::initializer_list<uint8_t> b) {
    for (uint8_t x : b) bytes[length++] = x;
  }
  void Put32(uint32_t v) { Put({uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}); }
  void Timestamps(uint32_t value, uint32_t echo) {
    Put({kTcpOptionNop, kTcpOptionNop, kTcpOptionTimestamps, 10});
    Put32(value);
    Put32(echo);
  }
};

OptionArea HandshakeOptions(uint16_t mss, bool sack, bool timestamps, uint32_t ts_value, uint32_t ts_echo,
                            uint8_t window_scale /* 0xff: none */) {
  OptionArea area;
  area.Put({kTcpOptionMss, 4, uint8_t(mss >> 8), uint8_t(mss)});
  if (sack) area.Put({kTcpOptionNop, kTcpOptionNop, kTcpOptionSackPermitted, 2});
  if (timestamps) area.Timestamps(ts_value, ts_echo);
  if (window_scale != 0xff) area.Put({kTcpOptionNop, kTcpOptionWindowScale, 3, window_scale});
  return area;
}

// Clamps a segment's SACK blocks to [low, high) and moves their edges by `add`; blocks left empty are
// removed (their bytes become NOPs). The caller recomputes the checksum.
void ClampSackBlocks(uint8_t* tcp_header, uint32_t low, uint32_t high, uint32_t add) {
  const TcpView tcp(tcp_header);
  uint8_t* options = tcp.options();
  uint16_t at = 0, length = 0;
  bool found = false;
  if (WalkTcpOptions(options, tcp.options_size(), [&](const TcpOption& option) {
        if (!found && option.kind == kTcpOptionSack) {
          found = true;
          at = option.offset;
          length = option.length;
        }
      }) != TcpOptionStatus::kOk ||
      !found) {
    return;
  }
  uint8_t* sack = options + at;
  uint32_t kept[4][2];
  int count = 0;
  for (uint16_t edge = 2; edge + 8 <= length; edge += 8) {
    uint32_t left = LoadBe32(sack + edge), right = LoadBe32(sack + edge + 4);
    if (SeqLt(left, low)) left = low;
    if (SeqLt(high, right)) right = high;
    if (!SeqLt(left, right)) continue;
    kept[count][0] = left + add;
    kept[count][1] = right + add;
    ++count;
  }
  std::memset(sack, kTcpOptionNop, length);
  if (count == 0) return;
  sack[0] = kTcpOptionSack;
  sack[1] = static_cast<uint8_t>(2 + 8 * count);
  for (int i = 0; i < count; ++i) {
    StoreBe32(sack + 2 + 8 * i, kept[i][0]);
    StoreBe32(sack + 6 + 8 * i, kept[i][1]);
  }
}

void RecomputeTcpChecksum(uint8_t* frame, const PacketLayout& layout) {
  uint8_t* ip = frame + layout.l3_offset;
  uint8_t* tcp = frame + layout.l4_offset;
  StoreBe16(tcp + 16, 0);
  StoreBe16(tcp + 16, TransportChecksumFull(LoadBe32(ip + 12), LoadBe32(ip + 16), kIpProtocolTcp, tcp, layout.l4_length()));
}

// Cuts a segment down to its payload bytes [from, to) (offsets into the payload), fixing the IPv4 total
// length, the sequence number and both checksums. FIN stays only on the part that keeps the end; PSH too.
void TrimSegment(uint8_t* frame, uint32_t* length, PacketLayout* layout, uint32_t from, uint32_t to) {
  const uint32_t payload = layout->payload_length();
  uint8_t* tcp = frame + layout->l4_offset;
  if (to < payload) tcp[13] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
  if (from != 0) {
    std::memmove(frame + layout->payload_offset, frame + layout->payload_offset + from, *length - layout->payload_offset - from);
    StoreBe32(tcp + 4, LoadBe32(tcp + 4) + from);
  }
  const uint32_t removed = from + (payload - to);
  *length -= removed;
  layout->l3_end -= removed;
  uint8_t* ip = frame + layout->l3_offset;
  StoreBe16(ip + 2, static_cast<uint16_t>(layout->l3_end - layout->l3_offset));
  StoreBe16(ip + 10, 0);
  StoreBe16(ip + 10, ChecksumFull(ip, (ip[0] & 0x0f) * 4));
}

}  // namespace

uint32_t SessionPipeline::NextIsn() {
  if (isn_state_ == 0) {
    std::random_device device;
    isn_state_ = (uint64_t{device()} << 32 | device()) | 1;
  }
  // xorshift64*: initial sequence numbers an observer on the old path cannot predict from its own.
  isn_state_ ^= isn_state_ >> 12;
  isn_state_ ^= isn_state_ << 25;
  isn_state_ ^= isn_state_ >> 27;
  return static_cast<uint32_t>((isn_state_ * 0x2545F4914F6CDD1DULL) >> 32);
}

// --- requests -----------------------------------------------------------------------------------------

SecondPath* SessionPipeline::PrepareSecondPath(const NewPathSpec& spec, uint32_t* index_out, Status* status) {
  *status = Status::SESSION_NOT_FOUND;
  const uint32_t index = spec.session_id;
  if (index >= table_.capacity()) return nullptr;
  Session& session = table_.at(index);
  const bool right = spec.side == AnchorSide::kRight;
  if (session.state != SessionState::kEstablished || !(right ? session.has_right() : session.has_left())) {
    return nullptr;
  }
  if (!((right ? session.right : session.left).HostTuple() == spec.host_tuple)) return nullptr;
  *status = Status::RECONFIG_BUSY;
  SecondPath* existing = table_.SecondPathOf(index);
  PathDeltas own{};
  uint32_t their_ack = 0;
  uint8_t known_ack = 0;
  if (existing != nullptr) {
    if (existing->phase != SecondPathPhase::kSettled && existing->phase != SecondPathPhase::kFolded) return nullptr;
    if (existing->doubled != spec.side && !(IsZero(existing->own.out) && IsZero(existing->own.in))) return nullptr;
    own = existing->own;
    their_ack = existing->their_ack;
    known_ack = existing->known & kKnownTheirAck;
    // A new reconfiguration ends the old path's linger at once.
    table_.ReleaseSecondPath(index);
  }
  *status = Status::RECONFIG_POOL_FULL;
  SecondPath* second = table_.AcquireSecondPath(index);
  if (second == nullptr) return nullptr;
  second->own = own;
  second->their_ack = their_ack;  // the best acknowledgement the host has seen stays a floor
  second->known = known_ack;
  second->doubled = spec.side;
  second->nonce = spec.nonce;
  second->delta_ours = right ? spec.delta_forward : spec.delta_reverse;
  second->delta_theirs = right ? spec.delta_reverse : spec.delta_forward;
  second->isn_ours = NextIsn();
  second->side.SetHost(spec.host_tuple);
  session.flags &= static_cast<uint8_t>(~kFast);
  *index_out = index;
  *status = Status::OK;
  return second;
}

Status SessionPipeline::ServeOpenNewPath(Request& request, uint32_t now) {
  const auto* spec = reinterpret_cast<const NewPathSpec*>(request.args[0]);
  if (spec == nullptr || spec->side != AnchorSide::kRight || spec->hop_count == 0 ||
      spec->hop_count > kMaxAddressListHops) {
    return Status::INVALID_ARGUMENT;
  }
  for (uint8_t i = 0; i < spec->hop_count; ++i) {
    if (spec->hops[i] == 0 || spec->hops[i] == config_.host_ip) return Status::INVALID_ARGUMENT;
  }
  // A repeat while the SYN is unanswered sends it again.
  if (spec->session_id < table_.capacity()) {
    const SecondPath* current = table_.SecondPathOf(spec->session_id);
    if (current != nullptr && current->phase == SecondPathPhase::kOpening) {
      if (current->nonce != spec->nonce) return Status::RECONFIG_BUSY;
      if (!(current->known & kHandshakeDone)) SendNewPathSyn(spec->session_id, now);  // else it was answered
      return Status::OK;
    }
  }
  uint32_t index;
  Status status;
  SecondPath* second = PrepareSecondPath(*spec, &index, &status);
  if (second == nullptr) return status;
  SubsessionPorts ports;
  if (!table_.AllocatePorts(spec->hops[0], &ports)) {
    AbandonSecondPath(index);
    counters_->Drop(DropReason::PORTS_EXHAUSTED);
    return Status::NO_BUFFER;
  }
  second->side.neighbour_ip = spec->hops[0];
  second->side.local_port = ports.src_port;
  second->side.neighbour_port = ports.dst_port;
  SetAdjustments(second->side, config_.host_ip);
  second->phase = SecondPathPhase::kOpening;
  second->since_ms = now;
  second->opened_ms = now;
  if (table_.AddKey(index, kSecondInRight) != FlowTable::InsertResult::kInserted) {
    second->phase = SecondPathPhase::kExpecting;  // not keyed: nothing to erase
    AbandonSecondPath(index);
    return Status::RECONFIG_BUSY;
  }
  // The list the SYN carries: the new middleboxes, then the right anchor, and the nonce.
  if (!table_.StoreSetup(index, spec->hops, spec->hop_count, &spec->nonce)) {
    AbandonSecondPath(index);
    counters_->Drop(DropReason::SETUP_POOL_FULL);
    return Status::NO_BUFFER;
  }
  // A SYN that cannot leave now (no buffer, the next hop still resolving) is as good as a lost one: counted,
  // and the agent's SYN timer sends it again.
  SendNewPathSyn(index, now);
  return Status::OK;
}

Status SessionPipeline::ServeExpectNewPath(Request& request, uint32_t now) {
  const auto* spec = reinterpret_cast<const NewPathSpec*>(request.args[0]);
  if (spec == nullptr || spec->side != AnchorSide::kLeft || spec->hop_count != 0) return Status::INVALID_ARGUMENT;
  if (spec->session_id < table_.capacity()) {
    const SecondPath* current = table_.SecondPathOf(spec->session_id);
    if (current != nullptr && current->nonce == spec->nonce &&
        (current->phase == SecondPathPhase::kExpecting || current->phase == SecondPathPhase::kAnswered)) {
      return Status::OK;  // a repeat
    }
  }
  uint32_t index;
  Status status;
  SecondPath* second = PrepareSecondPath(*spec, &index, &status);
  if (second == nullptr) return status;
  second->phase = SecondPathPhase::kExpecting;
  second->since_ms = now;
  second->opened_ms = now;
  return Status::OK;
}

Status SessionPipeline::ServeAbandonNewPath(Request& request, uint32_t now) {
  const uint64_t index = request.args[0];
  if (index >= table_.capacity()) return Status::SESSION_NOT_FOUND;
  const SecondPath* second = table_.SecondPathOf(static_cast<uint32_t>(index));
  if (second == nullptr || second->nonce != static_cast<uint32_t>(request.args[1])) return Status::SESSION_NOT_FOUND;
  if (second->phase == SecondPathPhase::kTwoPaths || second->phase == SecondPathPhase::kFolded ||
      second->phase == SecondPathPhase::kSettled) {
    return Status::NEW_PATH_IN_USE;
  }
  // Committed: the far anchor may switch on what this one sent. At the left anchor only the right anchor's RST (it
  // gives up a path whose ACK it never heard) ends it now, or the switch on the right anchor's announcement.
  if (HandshakeAnswered(*second)) return Status::NEW_PATH_ANSWERED;
  ResetHalfMadePath(static_cast<uint32_t>(index), now);
  AbandonSecondPath(static_cast<uint32_t>(index));
  return Status::OK;
}

Status SessionPipeline::ServeRetireSession(Request& request) {
  const uint64_t index = request.args[0];
  if (index >= table_.capacity() || table_.at(static_cast<uint32_t>(index)).state == SessionState::kFree) {
    return Status::SESSION_NOT_FOUND;
  }
  stats_.sessions_retired.Add(1);
  stats_.teardowns[static_cast<int>(TeardownCause::kReconfigured)].Add(1);
  PostSessionEvent(EventType::kSessionEnded, static_cast<uint32_t>(index), TeardownCause::kReconfigured);
  table_.Free(static_cast<uint32_t>(index));
  return Status::OK;
}

// Back to one path: the session keeps the deltas of an earlier fold, if any.
void SessionPipeline::AbandonSecondPath(uint32_t index) {
  SecondPath* second = table_.SecondPathOf(index);
  if (second == nullptr) return;
  stats_.new_paths_abandoned.Add(1);
  table_.ReleaseSetup(index);
  const PathDeltas own = second->own;
  const AnchorSide doubled = second->doubled;
  table_.ReleaseSecondPath(index);
  if (!(IsZero(own.out) && IsZero(own.in))) {
    SecondPath* settled = table_.AcquireSecondPath(index);  // the slot just freed: never fails
    settled->own = own;
    settled->doubled = doubled;
    settled->phase = SecondPathPhase::kSettled;
  }
  RefreshFast(table_.at(index));
}

// --- the segments an anchor makes -------------------------------------------------------------------------

bool SessionPipeline::SendOnSecondPath(uint32_t index, uint8_t* frame, uint32_t size, uint32_t now) {
  SecondPath& second = *table_.SecondPathOf(index);
  if (second.next_hop != 0) {
    std::memcpy(frame, table_.macs().bytes(second.next_hop), 6);
    if (io_->SendFrame(frame, size)) return true;
    counters_->Drop(DropReason::NEW_PATH_SEND_FAILED);
    return false;
  }
  bool sent_now = false;
  if (SendOwnFrame(frame, size, second.side.neighbour_ip, now, &sent_now) != Status::OK) {
    counters_->Drop(DropReason::NEW_PATH_SEND_FAILED);
    return false;
  }
  if (sent_now) second.next_hop = table_.macs().Acquire(frame);
  return true;
}

bool SessionPipeline::SendNewPathSyn(uint32_t index, uint32_t now) {
  const SecondPath& second = *table_.SecondPathOf(index);
  const SessionCold& cold = table_.cold(index);
  const SetupState* list = table_.SetupOf(index);
  if (list == nullptr || !host_mac_known_) {
    counters_->Drop(DropReason::NEW_PATH_SEND_FAILED);
    return false;
  }
  const int ours = OurDirection(second);
  const uint8_t mine = cold.handshake_options[ours], theirs = cold.handshake_options[1 - ours];
  const bool timestamps = (mine & theirs & kHandshakeTimestamps) != 0;
  const bool sack = (mine & theirs & kHandshakeSack) != 0;
  const bool scaled = (mine & kHandshakeScaleMask) != kHandshakeNoScale && (theirs & kHandshakeScaleMask) != kHandshakeNoScale;
  const OptionArea options = HandshakeOptions(static_cast<uint16_t>(config_.mtu - 40), sack, timestamps,
                                              cold.syn_ts_val[ours], 0, scaled ? ScaleOf(mine) : 0xff);
  uint8_t payload[kMaxSignedAddressListSize];
  size_t payload_size = EncodeAddressList(second.side.HostTuple(), list->hops, list->count, payload,
                                          sizeof payload, &list->nonce);
  const ListKeyRing* signer = Signer();
  if (signer != nullptr && signer->signing_id() != 0 && payload_size != 0) {
    uint8_t carrier[kListCarrierBytes];
    FiveTuple subsession;
    subsession.src_ip = config_.host_ip;
    subsession.dst_ip = second.side.neighbour_ip;
    subsession.src_port = second.side.local_port;
    subsession.dst_port = second.side.neighbour_port;
    ListCarrierOf(subsession, carrier);
    payload_size = SignAddressList(payload, payload_size, sizeof payload, *signer, io_->UnixSeconds(), carrier);
    if (payload_size != 0) stats_.lists_signed.Add(1);
  }
  uint8_t frame[kEthernetHeaderSize + 60 + 40 + kMaxSignedAddressListSize];
  const uint8_t no_mac[6] = {};
  const TcpFrameSpec spec{host_mac_, no_mac, config_.host_ip, second.side.neighbour_ip, second.side.local_port,
                          second.side.neighbour_port, ip_id_++, second.isn_ours, 0, kTcpSyn, kOwnWindow,
                          options.bytes, options.length, payload, static_cast<uint32_t>(payload_size)};
  const size_t size = BuildTcpFrame(frame, sizeof frame, spec);
  if (size == 0 || payload_size == 0) return false;
  stats_.new_paths_opened.Add(1);
  return SendOnSecondPath(index, frame, static_cast<uint32_t>(size), now);
}

// A new path given up while its handshake was under way: a RST along it ends what its middleboxes hold of it
// (their agents' sessions, their hosts' connection tracking) and tells the far anchor at once. Only while the
// far anchor cannot have switched to it: the left anchor before the SYN-ACK, the right one before it heard
// the left (its first announcement lets the left switch). Later, a RST would reach the far anchor in
// TwoPaths, which passes a RST on to its host.
void SessionPipeline::ResetHalfMadePath(uint32_t index, uint32_t now) {
  const SecondPath& second = *table_.SecondPathOf(index);
  const bool left_unanswered = second.phase == SecondPathPhase::kOpening && !(second.known & kHandshakeDone);
  const bool right_unheard = second.phase == SecondPathPhase::kAnswered && !(second.known & kHeardFar);
  if (!left_unanswered && !right_unheard) return;
  if (!host_mac_known_) return;
  uint8_t frame[kEthernetHeaderSize + 60];
  const uint8_t no_mac[6] = {};
  const TcpFrameSpec spec{host_mac_, no_mac, config_.host_ip, second.side.neighbour_ip, second.side.local_port,
                          second.side.neighbour_port, ip_id_++, second.isn_ours + 1, 0, kTcpRst, 0, nullptr, 0,
                          nullptr, 0};
  const size_t size = BuildTcpFrame(frame, sizeof frame, spec);
  if (size != 0 && SendOnSecondPath(index, frame, static_cast<uint32_t>(size), now)) stats_.new_paths_reset.Add(1);
}

bool SessionPipeline::SendNewPathSynAck(uint32_t index, uint32_t now) {
  const SecondPath& second = *table_.SecondPathOf(index);
  const SessionCold& cold = table_.cold(index);
  if (!host_mac_known_) return false;
  const int ours = OurDirection(second);
  const uint8_t mine = cold.handshake_options[ours];
  const bool their_ts = second.ts_theirs != 0 && (mine & kHandshakeTimestamps);
  const bool sack = (mine & kHandshakeSack) && (cold.handshake_options[1 - ours] & kHandshakeSack);
  const bool scaled = second.their_scale != 0xff && (mine & kHandshakeScaleMask) != kHandshakeNoScale;
  const OptionArea options = HandshakeOptions(static_cast<uint16_t>(config_.mtu - 40), sack, their_ts,
                                              cold.syn_ts_val[ours], second.ts_theirs, scaled ? ScaleOf(mine) : 0xff);
  uint8_t frame[kEthernetHeaderSize + 60 + 40];
  const uint8_t no_mac[6] = {};
  const TcpFrameSpec spec{host_mac_, no_mac, config_.host_ip, second.side.neighbour_ip, second.side.local_port,
                          second.side.neighbour_port, ip_id_++, second.isn_ours, second.isn_theirs + 1,
                          kTcpSyn | kTcpAck, kOwnWindow, options.bytes, options.length, nullptr, 0};
  const size_t size = BuildTcpFrame(frame, sizeof frame, spec);
  if (size == 0) return false;
  stats_.new_paths_answered.Add(1);
  return SendOnSecondPath(index, frame, static_cast<uint32_t>(size), now);
}

// A pure ACK on the new path with the path option: where our stream moved, what we know of theirs.
bool SessionPipeline::SendAnnouncement(uint32_t index, uint32_t now) {
  SecondPath& second = *table_.SecondPathOf(index);
  const SessionCold& cold = table_.cold(index);
  if (!host_mac_known_) return false;
  const int ours = OurDirection(second);
  const bool know_theirs = (second.known & kKnownTheirCutoff) != 0;
  const bool switched = second.phase == SecondPathPhase::kTwoPaths || second.phase == SecondPathPhase::kFolded;
  PathAnnouncement announcement;
  announcement.nonce = second.nonce;
  announcement.cutoff = switched ? second.cutoff_ours : 0;
  if (switched) announcement.flags |= kPathSwitched;
  if (know_theirs) announcement.flags |= kPathKnowsYourCutoff;
  if (know_theirs && (second.known & kKnownHostAck) && SeqGeq(second.host_ack, second.cutoff_theirs)) {
    announcement.flags |= kPathReceivedAll;
  }
  if (second.phase == SecondPathPhase::kFolded) announcement.flags |= kPathFolded | kPathReceivedAll | kPathKnowsYourCutoff;
  OptionArea options;
  if ((cold.handshake_options[ours] & cold.handshake_options[1 - ours] & kHandshakeTimestamps) != 0) {
    options.Timestamps(cold.syn_ts_val[ours], second.ts_theirs);
  }
  options.Put({kTcpOptionNop, kTcpOptionNop});
  WritePathOption(options.bytes + options.length, announcement);
  options.length += kPathOptionLength;
  const uint32_t sent =
      switched && (second.known & kKnownSent) && SeqGeq(second.sent, second.cutoff_ours) ? second.sent : second.cutoff_ours;
  const uint32_t seq = switched ? second.isn_ours + 1 + (sent - second.cutoff_ours) : second.isn_ours + 1;
  uint32_t ack = second.isn_theirs + 1;
  if (know_theirs && (second.known & kKnownHostAck) && SeqGeq(second.host_ack, second.cutoff_theirs)) {
    ack += second.host_ack - second.cutoff_theirs;
  }
  // In the folded state the two sides have swapped: `side` is the old path, the new one is the session's.
  const SessionSide& path = second.phase == SecondPathPhase::kFolded
                                ? table_.at(index).side(OwnOutKind(second))
                                : second.side;
  uint8_t frame[kEthernetHeaderSize + 60 + 40];
  const uint8_t no_mac[6] = {};
  const TcpFrameSpec spec{host_mac_, no_mac, config_.host_ip, path.neighbour_ip, path.local_port, path.neighbour_port,
                          ip_id_++, seq, ack, kTcpAck, kOwnWindow, options.bytes, options.length, nullptr, 0};
  const size_t size = BuildTcpFrame(frame, sizeof frame, spec);
  if (size == 0) return false;
  second.since_ms = now;
  if (second.announces < 0xff) ++second.announces;
  stats_.path_announcements.Add(1);
  if (second.phase == SecondPathPhase::kFolded) {
    const uint16_t mac = table_.at(index).next_hop[MacSlot(second)];
    if (mac == 0) return false;
    std::memcpy(frame, table_.macs().bytes(mac), 6);
    return io_->SendFrame(frame, static_cast<uint32_t>(size));
  }
  return SendOnSecondPath(index, frame, static_cast<uint32_t>(size), now);
}

// An anchor ready to switch whose host has sent nothing since the request (an idle session) asks the host:
// a segment far outside its receive window makes a TCP answer at once with an ACK (RFC 793; Linux rate-limits
// these to one per half second), which carries the host's next sequence number: the cutoff.
void SessionPipeline::ProbeHost(uint32_t index, uint32_t now) {
  SecondPath& second = *table_.SecondPathOf(index);
  const SessionCold& cold = table_.cold(index);
  if (!host_mac_known_) return;
  const int ours = OurDirection(second);
  // As the far end's segments reach the host: our stream's reverse.
  const FiveTuple host = second.side.HostTuple();
  const FiveTuple arrives = ours == 0 ? host.Reversed() : host;
  // The byte must lie behind the window, or the host would take it as data. The far stream's position is known
  // within a window from its cutoff or from what came on the old path since the request; without either, its
  // start serves while the session has carried less than the distance in all (the counter counts more than the
  // far stream's bytes); else the probe carries no byte.
  uint32_t near;
  bool with_byte = true;
  if (second.known & kKnownTheirCutoff) {
    near = second.cutoff_theirs;
  } else if (second.known & kKnownOldReceived) {
    near = second.old_received;
  } else {
    near = cold.isn[1 - ours];
    with_byte = table_.at(index).bytes < kProbeDistance;
  }
  second.probe_seq = near - kProbeDistance;
  uint8_t frame[kEthernetHeaderSize + 61];
  static constexpr uint8_t kProbeByte[1] = {0};
  const TcpFrameSpec spec{table_.macs().bytes(table_.at(index).next_hop[MacSlot(second)]), host_mac_, arrives.src_ip,
                          arrives.dst_ip, arrives.src_port, arrives.dst_port, ip_id_++, second.probe_seq,
                          cold.isn[ours] + 1, kTcpAck, kOwnWindow, nullptr, 0, kProbeByte, with_byte ? 1u : 0u};
  const size_t size = BuildTcpFrame(frame, sizeof frame, spec);
  if (size == 0 || !io_->SendToHost(frame, static_cast<uint32_t>(size))) return;
  second.since_ms = now;
  if (second.probes < 0xff) ++second.probes;
  stats_.host_probes.Add(1);
}

// --- the switch, completion and the fold ----------------------------------------------------------------

// Everything the host sent so far stays on the old path: the cutoff is the end of the highest segment
// seen since the reconfiguration began (the caller makes sure there is one).
void SessionPipeline::SwitchToTwoPaths(uint32_t index, uint32_t now) {
  SecondPath& second = *table_.SecondPathOf(index);
  second.cutoff_ours = second.sent;
  second.phase = SecondPathPhase::kTwoPaths;
  second.announces = 0;
  second.since_ms = now;
  stats_.two_paths_entered.Add(1);
  const SessionSide& side = second.side;
  Post(Event{EventType::kTwoPathsEntered, index,
             uint64_t{__builtin_bswap32(side.neighbour_ip)} | uint64_t{__builtin_bswap16(side.local_port)} << 32 |
                 uint64_t{__builtin_bswap16(side.neighbour_port)} << 48});
}

void SessionPipeline::CheckDrained(uint32_t index, uint32_t now) {
  const SecondPath& second = *table_.SecondPathOf(index);
  // The far anchor must map our stream too: until it knows our cutoff it acknowledges it on the old path.
  if (second.phase != SecondPathPhase::kTwoPaths || !(second.known & kKnownTheirCutoff) ||
      !(second.their_flags & kPathKnowsYourCutoff)) {
    return;
  }
  const bool ours_acked = ((second.known & kKnownTheirAck) && SeqGeq(second.their_ack, second.cutoff_ours)) ||
                          (second.their_flags & kPathReceivedAll);
  const bool theirs_acked = (second.known & kKnownHostAck) && SeqGeq(second.host_ack, second.cutoff_theirs);
  if (ours_acked && theirs_acked) FoldNewPath(index, now);
}

// The new path becomes the session's side, with its deltas from now on; the old one stays in the second
// path's place for a linger, so that its stragglers still reach the host.
void SessionPipeline::FoldNewPath(uint32_t index, uint32_t now) {
  Session& session = table_.at(index);
  SecondPath& second = *table_.SecondPathOf(index);
  const TranslationKind own_in = OwnInKind(second), second_in = SecondInKind(second);
  table_.RemoveKey(index, own_in);
  table_.RemoveKey(index, second_in);
  SessionSide& own = session.side(own_in);
  std::swap(own, second.side);
  std::swap(session.next_hop[MacSlot(second)], second.next_hop);
  const int ours = OurDirection(second);
  PathDeltas folded;
  folded.out.seq = second.isn_ours + 1 - second.cutoff_ours;
  folded.out.ack = second.isn_theirs + 1 - second.cutoff_theirs;
  folded.in.seq = 0 - folded.out.ack;
  folded.in.ack = 0 - folded.out.seq;
  folded.in.window_scale_in = second.their_scale == 0xff ? 0 : second.their_scale;
  folded.in.window_scale_out = ScaleOf(table_.cold(index).handshake_options[1 - ours]);
  second.deltas = second.own;
  second.own = folded;
  // The keys are derived from the sides, so re-adding them after the swap files each under its new role.
  table_.AddKey(index, own_in);
  table_.AddKey(index, second_in);
  second.phase = SecondPathPhase::kFolded;
  second.folded_ms = now;
  second.announces = 0;
  table_.ReleaseSetup(index);
  stats_.paths_folded.Add(1);
  Post(Event{EventType::kOldPathDrained, index, static_cast<uint64_t>(second.doubled)});
  SendAnnouncement(index, now);
}

void SessionPipeline::ExpireSecondPaths(uint32_t now) {
  if (table_.second_paths_in_use() == 0) return;
  for (uint32_t slot = 0; slot < table_.second_path_slots(); ++slot) {
    const uint32_t index = table_.SecondPathOwner(slot);
    if (index == UINT32_MAX) continue;
    SecondPath& second = *table_.SecondPathOf(index);
    const uint32_t age = ElapsedMs(now, second.since_ms);
    switch (second.phase) {
      case SecondPathPhase::kExpecting:
      case SecondPathPhase::kOpening:
      case SecondPathPhase::kAnswered:
        if (ElapsedMs(now, second.opened_ms) >= config_.setup_timeout_ms && !HandshakeAnswered(second)) {
          ResetHalfMadePath(index, now);
          AbandonSecondPath(index);
        } else if (second.phase == SecondPathPhase::kOpening && (second.known & kHandshakeDone) &&
                   !(second.known & kHeardFar) && age >= kAnnounceIntervalMs && second.announces < kMaxAnnouncements) {
          SendAnnouncement(index, now);  // the handshake's ACK again: the right anchor has not answered it
        } else if (ReadyToSwitch(second) && !(second.known & kKnownSent) && age >= kProbeIntervalMs &&
                   second.probes < kMaxProbes) {
          ProbeHost(index, now);  // the host has not answered yet (its answers are rate-limited)
        }
        break;
      case SecondPathPhase::kTwoPaths:
        // Until the far anchor shows it maps our stream and has all it needs from us.
        if (age >= kAnnounceIntervalMs && second.announces < kMaxAnnouncements &&
            (!(second.their_flags & kPathKnowsYourCutoff) || !(second.known & kKnownTheirCutoff))) {
          SendAnnouncement(index, now);
        }
        break;
      case SecondPathPhase::kFolded:
        if (age >= kAnnounceIntervalMs && second.announces < kMaxAnnouncements && !(second.their_flags & kPathFolded)) {
          SendAnnouncement(index, now);
        }
        if (ElapsedMs(now, second.folded_ms) >= config_.linger_ms) {
          table_.RemoveKey(index, SecondInKind(second));
          table_.macs().Release(second.next_hop);
          second.next_hop = 0;
          second.phase = SecondPathPhase::kSettled;
        }
        break;
      case SecondPathPhase::kSettled: break;
    }
  }
}

// --- packets ----------------------------------------------------------------------------------------------

Verdict SessionPipeline::AnswerNewPath(PipelinePacket& packet, const PacketLayout& layout, const FiveTuple& key,
                                       const AddressList& list, uint32_t now) {
  const uint32_t index = table_.SessionExpecting(list.nonce);
  if (index == UINT32_MAX) return DropWith(DropReason::NEW_PATH_UNEXPECTED);
  SecondPath& second = *table_.SecondPathOf(index);
  if (second.phase != SecondPathPhase::kExpecting) return DropWith(DropReason::NEW_PATH_UNEXPECTED);
  second.side.SetSubsession(key);
  SetAdjustments(second.side, config_.host_ip);
  second.next_hop = table_.macs().Acquire(packet.data + 6);
  if (second.next_hop == 0) return DropWith(DropReason::MAC_TABLE_FULL);
  const TcpView tcp(packet.data + layout.l4_offset);
  const TcpOptionSummary options = SummarizeTcpOptions(tcp.options(), tcp.options_size());
  second.isn_theirs = tcp.seq();
  second.their_scale = options.status == TcpOptionStatus::kOk && options.has_window_scale ? options.window_scale : 0xff;
  second.ts_theirs = options.status == TcpOptionStatus::kOk && options.has_timestamps ? options.timestamps.value : 0;
  second.phase = SecondPathPhase::kAnswered;
  second.since_ms = now;
  if (table_.AddKey(index, kSecondInLeft) != FlowTable::InsertResult::kInserted) {
    second.phase = SecondPathPhase::kExpecting;
    return DropWith(DropReason::KEY_CONFLICT);
  }
  SendNewPathSynAck(index, now);
  const SessionSide& side = second.side;
  Post(Event{EventType::kNewPathAnswered, index,
             uint64_t{__builtin_bswap32(side.neighbour_ip)} | uint64_t{__builtin_bswap16(side.local_port)} << 32 |
                 uint64_t{__builtin_bswap16(side.neighbour_port)} << 48});
  return Verdict::kConsumed;
}

// A packet from the host of a session with reconfiguration state, on any of its sides.
Verdict SessionPipeline::HostReconfigured(uint32_t index, TranslationKind kind, PipelinePacket& packet,
                                          const PacketLayout& layout, uint32_t now) {
  Session& session = table_.at(index);
  SecondPath& second = *table_.SecondPathOf(index);
  if (kind != OwnOutKind(second)) {
    Translate(session, kind, packet, layout);
    Track(index, kind, packet, layout, now);
    return Verdict::kToWire;
  }
  const TcpView tcp(packet.data + layout.l4_offset);
  const uint8_t flags = tcp.flags();
  const uint32_t end = tcp.seq() + layout.payload_length() + ((flags & (kTcpFin | kTcpSyn)) ? 1 : 0);
  if (ReadyToSwitch(second)) {
    // The handshake is done and the host sends for the first time since: its stream moves here.
    if (!(second.known & kKnownSent)) second.sent = tcp.seq();
    second.known |= kKnownSent;
    SwitchToTwoPaths(index, now);
    SendAnnouncement(index, now);
  }
  if (second.phase != SecondPathPhase::kSettled) {
    // Kept after the fold too: the announcements of the folded state carry where the stream is now.
    second.sent = (second.known & kKnownSent) ? SeqMax(second.sent, end) : end;
    second.known |= kKnownSent;
    if (flags & kTcpAck) {
      const bool had_all = (second.known & kKnownHostAck) && (second.known & kKnownTheirCutoff) &&
                           SeqGeq(second.host_ack, second.cutoff_theirs);
      second.host_ack = (second.known & kKnownHostAck) ? SeqMax(second.host_ack, tcp.ack()) : tcp.ack();
      second.known |= kKnownHostAck;
      // The far anchor may be waiting for exactly this (its old path drained): say so at once.
      if (!had_all && second.phase == SecondPathPhase::kTwoPaths && (second.known & kKnownTheirCutoff) &&
          SeqGeq(second.host_ack, second.cutoff_theirs)) {
        SendAnnouncement(index, now);
      }
    }
  }
  Track(index, kind, packet, layout, now);  // in the host's sequence space
  // It told us where the host is; its D-SACK of a byte the far host never sent there is not passed on.
  if (second.probes != 0 && IsProbeAnswer(tcp, layout.payload_length(), second.probe_seq)) {
    return Verdict::kConsumed;
  }
  if (second.phase == SecondPathPhase::kTwoPaths) {
    const Verdict verdict = HostTwoPaths(index, kind, packet, layout, now);
    if (table_.at(index).reconfigured()) CheckDrained(index, now);
    return verdict;
  }
  Translate(session, kind, packet, layout);
  if (!IsZero(second.own.out)) ApplySegmentDeltas(packet.data, layout, second.own.out);
  return Verdict::kToWire;
}

// Two paths, from the host: data by its sequence number against our cutoff, acknowledgements by what
// they cover; a segment whose parts belong to different paths leaves as two.
Verdict SessionPipeline::HostTwoPaths(uint32_t index, TranslationKind kind, PipelinePacket& packet,
                                      const PacketLayout& layout, uint32_t now) {
  Session& session = table_.at(index);
  SecondPath& second = *table_.SecondPathOf(index);
  uint8_t* frame = packet.data;
  const TcpView tcp(frame + layout.l4_offset);
  const uint8_t flags = tcp.flags();
  const uint32_t seq = tcp.seq(), ack = tcp.ack();
  const uint32_t payload = layout.payload_length();
  const bool know_theirs = (second.known & kKnownTheirCutoff) != 0;
  // What each path can acknowledge: the old one only what came on it, the new one only from their cutoff.
  const uint32_t old_ack = (second.known & kKnownOldReceived) ? SeqMin(ack, second.old_received) : ack;
  // From their cutoff on, acknowledgements take the new path (at the cutoff itself as the new path's lowest):
  // the old path has all it carried acknowledged by then, and may already be gone at the far anchor.
  const bool ack_on_new = know_theirs && SeqGeq(ack, second.cutoff_theirs);
  const uint32_t new_ack = ack_on_new ? second.isn_theirs + 1 + (ack - second.cutoff_theirs) : second.isn_theirs + 1;

  // Writes the old path's version of the frame (tuple already the host's).
  auto to_old = [&](uint8_t* f, uint32_t length, PacketLayout l) {
    PipelinePacket view{f, length, length, nullptr};
    Translate(session, kind, view, l);
    uint8_t* t = f + l.l4_offset;
    if (l.payload_length() == 0 && !(t[13] & kTcpFin) && SeqLt(second.cutoff_ours, LoadBe32(t + 4))) {
      StoreBe32(t + 4, second.cutoff_ours);  // the old path's own next sequence number
    }
    if (flags & kTcpAck) {
      StoreBe32(t + 8, old_ack);
      if (SeqLt(second.old_acked, old_ack)) second.old_acked = old_ack;
    }
    if (second.known & kKnownOldReceived) ClampSackBlocks(t, second.old_received - kSackReach, second.old_received, 0);
    RecomputeTcpChecksum(f, l);
    if (!IsZero(second.own.out)) ApplySegmentDeltas(f, l, second.own.out);
  };
  auto to_new = [&](uint8_t* f, uint32_t length, PacketLayout l) {
    TupleWords arrives, leaves;
    KindWordsOf(second.side, kind, config_.host_ip, &arrives, &leaves);
    RewriteTuple(f + l.l3_offset, f + l.l4_offset, leaves, second.side, true);
    uint8_t* t = f + l.l4_offset;
    if (l.payload_length() == 0 && !(t[13] & kTcpFin) && SeqLt(LoadBe32(t + 4), second.cutoff_ours)) {
      StoreBe32(t + 4, second.cutoff_ours);  // never before the new path's first byte
    }
    StoreBe32(t + 4, LoadBe32(t + 4) + second.isn_ours + 1 - second.cutoff_ours);
    if (flags & kTcpAck) {
      StoreBe32(t + 8, new_ack);
      if (SeqLt(second.new_acked, new_ack)) second.new_acked = new_ack;
    }
    if (know_theirs) {
      ClampSackBlocks(t, second.cutoff_theirs, second.cutoff_theirs + kSackReach, second.isn_theirs + 1 - second.cutoff_theirs);
    } else {
      ClampSackBlocks(t, 1, 1, 0);  // nothing of theirs came on this path yet
    }
    RecomputeTcpChecksum(f, l);
    if (second.next_hop != 0) std::memcpy(f, table_.macs().bytes(second.next_hop), 6);
  };
  auto copy_out = [&](auto&& rewrite, uint32_t from, uint32_t to, bool keep_payload) {
    uint8_t copy[kEthernetHeaderSize + 0xffff];
    if (packet.length > sizeof copy) return;
    std::memcpy(copy, frame, packet.length);
    uint32_t length = packet.length;
    PacketLayout l = layout;
    if (!keep_payload) {
      TrimSegment(copy, &length, &l, payload, payload);
      copy[l.l4_offset + 13] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh | kTcpRst));
    } else if (from != 0 || to != payload) {
      TrimSegment(copy, &length, &l, from, to);
    }
    rewrite(copy, length, l);
    if (!io_->SendFrame(copy, length)) counters_->Drop(DropReason::NEW_PATH_SEND_FAILED);
  };

  if (flags & kTcpRst) {
    // Both paths hear it, so that every middlebox on either lets the connection go.
    copy_out(to_new, 0, payload, true);
    to_old(frame, packet.length, layout);
    return Verdict::kToWire;
  }
  const uint32_t data_end = seq + payload + ((flags & kTcpFin) ? 1 : 0);
  const bool has_data = data_end != seq;
  if (has_data && SeqLt(seq, second.cutoff_ours) && SeqLt(second.cutoff_ours, data_end)) {
    // Straddles the cutoff (a retransmission that TCP coalesced): the part below on the old path.
    const uint32_t split = second.cutoff_ours - seq;
    copy_out(to_old, 0, split, true);
    uint32_t length = packet.length;
    PacketLayout rest = layout;
    TrimSegment(frame, &length, &rest, split, payload);
    packet.length = length;
    to_new(frame, length, rest);
    return Verdict::kToWire;
  }
  const bool data_new = has_data ? SeqGeq(seq, second.cutoff_ours) : ack_on_new;
  if (data_new) {
    // The old path still wants acknowledgements of what it carried.
    if ((flags & kTcpAck) && has_data && SeqLt(second.old_acked, old_ack)) copy_out(to_old, 0, 0, false);
    to_new(frame, packet.length, layout);
  } else {
    if ((flags & kTcpAck) && has_data && ack_on_new && SeqLt(second.new_acked, new_ack)) copy_out(to_new, 0, 0, false);
    to_old(frame, packet.length, layout);
  }
  return Verdict::kToWire;
}

// A packet from the wire of a session with reconfiguration state.
Verdict SessionPipeline::WireReconfigured(uint32_t index, TranslationKind kind, PipelinePacket& packet,
                                          const PacketLayout& layout, uint32_t now) {
  Session& session = table_.at(index);
  SecondPath& second = *table_.SecondPathOf(index);
  if (IsSecondPath(kind)) {
    if (second.phase == SecondPathPhase::kFolded) {
      // A straggler of the old path, delivered: the far anchor may not have folded yet, and its host may be
      // sending again what it has not seen acknowledged; only our host's answer tells it.
      stats_.old_path_stragglers.Add(1);
      TupleWords arrives, leaves;
      KindWordsOf(second.side, kind, config_.host_ip, &arrives, &leaves);
      RewriteTuple(packet.data + layout.l3_offset, packet.data + layout.l4_offset, leaves, second.side, false);
      if (!IsZero(second.deltas.in)) ApplySegmentDeltas(packet.data, layout, second.deltas.in);
      const TcpView tcp(packet.data + layout.l4_offset);
      if ((tcp.flags() & kTcpAck) && (second.known & kKnownTheirAck) && SeqLt(tcp.ack(), second.their_ack)) {
        StoreBe32(packet.data + layout.l4_offset + 8, second.their_ack);
        RecomputeTcpChecksum(packet.data, layout);
      }
      Track(index, BaseKind(kind), packet, layout, now);
      return Verdict::kToHost;
    }
    return NewPathArrival(index, kind, packet, layout, now);
  }
  if (kind != OwnInKind(second)) {
    Translate(session, kind, packet, layout);
    Track(index, kind, packet, layout, now);
    return Verdict::kToHost;
  }
  PathAnnouncement announcement;
  if (second.phase == SecondPathPhase::kFolded || second.phase == SecondPathPhase::kSettled) {
    if (FindPathOption(packet.data, layout, &announcement)) {
      // The far anchor's announcement on what is now our only path.
      if (announcement.nonce == second.nonce) second.their_flags = announcement.flags;
      if (second.phase == SecondPathPhase::kFolded && !(announcement.flags & kPathFolded)) SendAnnouncement(index, now);
      return Verdict::kConsumed;
    }
  }
  Translate(session, kind, packet, layout);
  if (!IsZero(second.own.in)) ApplySegmentDeltas(packet.data, layout, second.own.in);
  const TcpView tcp(packet.data + layout.l4_offset);
  const uint8_t flags = tcp.flags();
  if (second.phase != SecondPathPhase::kSettled && second.phase != SecondPathPhase::kFolded) {
    // The old path, in the host's space: how far their stream came on it.
    const uint32_t end = tcp.seq() + layout.payload_length() + ((flags & kTcpFin) ? 1 : 0);
    second.old_received = (second.known & kKnownOldReceived) ? SeqMax(second.old_received, end) : end;
    second.known |= kKnownOldReceived;
  }
  if (flags & kTcpAck) {
    if ((second.known & kKnownTheirAck) && SeqLt(tcp.ack(), second.their_ack)) {
      // During two paths the old path carries acknowledgements only up to what came on it, and just after
      // a fold the far anchor may still send the lowest one the new path can carry: the host has seen
      // more. An acknowledgement too far behind would make its TCP throw the segment's data away.
      StoreBe32(packet.data + layout.l4_offset + 8, second.their_ack);
      RecomputeTcpChecksum(packet.data, layout);
    } else {
      second.their_ack = tcp.ack();
      second.known |= kKnownTheirAck;
    }
  }
  Track(index, kind, packet, layout, now);
  if (table_.at(index).reconfigured()) CheckDrained(index, now);
  return Verdict::kToHost;
}

// A packet on the new path before the fold: the handshake, announcements, then the session's segments.
Verdict SessionPipeline::NewPathArrival(uint32_t index, TranslationKind kind, PipelinePacket& packet,
                                        const PacketLayout& layout, uint32_t now) {
  SecondPath& second = *table_.SecondPathOf(index);
  uint8_t* frame = packet.data;
  const TcpView tcp(frame + layout.l4_offset);
  const uint8_t flags = tcp.flags();
  const bool handshake_phase = second.phase == SecondPathPhase::kOpening || second.phase == SecondPathPhase::kAnswered;
  if ((flags & kTcpRst) && handshake_phase) {
    // A middlebox (or the far stack) refused the new path.
    const AnchorSide doubled = second.doubled;
    AbandonSecondPath(index);
    Post(Event{EventType::kNewPathRefused, index, static_cast<uint64_t>(doubled)});
    return Verdict::kConsumed;
  }
  if (second.phase == SecondPathPhase::kOpening && (flags & kTcpSyn)) {
    if (!(flags & kTcpAck) || tcp.ack() != second.isn_ours + 1) return DropWith(DropReason::NEW_PATH_UNMAPPED);
    const TcpOptionSummary options = SummarizeTcpOptions(tcp.options(), tcp.options_size());
    second.isn_theirs = tcp.seq();
    second.their_scale = options.status == TcpOptionStatus::kOk && options.has_window_scale ? options.window_scale : 0xff;
    second.ts_theirs = options.status == TcpOptionStatus::kOk && options.has_timestamps ? options.timestamps.value : 0;
    if (second.next_hop == 0) second.next_hop = table_.macs().Acquire(frame + 6);
    table_.ReleaseSetup(index);
    second.known |= kHandshakeDone;
    // The handshake's ACK (again, for a repeated SYN-ACK): its window, scaled, opens the way for the
    // right anchor's stream; the switch waits for the right anchor's answer, which opens ours.
    SendAnnouncement(index, now);
    return Verdict::kConsumed;
  }
  if (second.phase == SecondPathPhase::kAnswered && (flags & kTcpSyn) && !(flags & kTcpAck)) {
    SendNewPathSynAck(index, now);  // the SYN again: our SYN-ACK was lost
    return Verdict::kConsumed;
  }
  PathAnnouncement announcement;
  if (FindPathOption(frame, layout, &announcement)) {
    if (announcement.nonce != second.nonce) return DropWith(DropReason::NEW_PATH_UNMAPPED);
    if (second.phase == SecondPathPhase::kOpening && !(second.known & kHandshakeDone)) {
      return DropWith(DropReason::NEW_PATH_UNMAPPED);
    }
    const bool first = !(second.known & kHeardFar);
    const bool learned = (announcement.flags & kPathSwitched) && !(second.known & kKnownTheirCutoff);
    second.known |= kHeardFar;
    if (announcement.flags & kPathSwitched) {
      second.cutoff_theirs = announcement.cutoff + second.delta_theirs;
      second.known |= kKnownTheirCutoff;
    }
    second.their_flags = announcement.flags;
    if (ReadyToSwitch(second) && (second.known & kKnownSent)) {
      SwitchToTwoPaths(index, now);
      SendAnnouncement(index, now);
      CheckDrained(index, now);
      return Verdict::kConsumed;
    }
    if (first && ReadyToSwitch(second)) ProbeHost(index, now);
    if (first || learned || ((announcement.flags & kPathSwitched) && !(announcement.flags & kPathKnowsYourCutoff))) {
      // Answer what the far anchor lacks: that we are here (our window), or our cutoff.
      SendAnnouncement(index, now);
    }
    CheckDrained(index, now);
    return Verdict::kConsumed;
  }
  // The far stream is mapped from the moment its cutoff is known, whether this anchor has switched or not.
  if (!(second.known & kKnownTheirCutoff) || !(second.known & (kHandshakeDone | kHeardFar))) {
    return DropWith(DropReason::NEW_PATH_UNMAPPED);
  }
  // Into the host's space: their stream from their cutoff; an acknowledgement at the new path's start
  // says nothing about our stream, so the host gets the best one it has seen.
  const uint32_t ack = tcp.ack();
  // The new path's lowest acknowledgement says "nothing new": the best one the host has seen, or, once the far
  // anchor has said its host has everything of ours from the old path, exactly our cutoff.
  uint32_t host_ack = (second.their_flags & kPathReceivedAll) && (second.phase == SecondPathPhase::kTwoPaths)
                          ? ((second.known & kKnownTheirAck) ? SeqMax(second.their_ack, second.cutoff_ours) : second.cutoff_ours)
                          : second.their_ack;
  if ((flags & kTcpAck) && SeqLt(second.isn_ours + 1, ack)) {
    const uint32_t mapped = ack - second.isn_ours - 1 + second.cutoff_ours;
    host_ack = (second.known & kKnownTheirAck) ? SeqMax(mapped, second.their_ack) : mapped;
  } else if ((flags & kTcpAck) && !(second.known & kKnownTheirAck) &&
             !((second.their_flags & kPathReceivedAll) && second.phase == SecondPathPhase::kTwoPaths)) {
    return DropWith(DropReason::NEW_PATH_UNMAPPED);
  }
  TupleWords arrives, leaves;
  KindWordsOf(second.side, kind, config_.host_ip, &arrives, &leaves);
  RewriteTuple(frame + layout.l3_offset, frame + layout.l4_offset, leaves, second.side, false);
  uint8_t* t = frame + layout.l4_offset;
  StoreBe32(t + 4, tcp.seq() - second.isn_theirs - 1 + second.cutoff_theirs);
  if (flags & kTcpAck) {
    StoreBe32(t + 8, host_ack);
    second.their_ack = (second.known & kKnownTheirAck) ? SeqMax(second.their_ack, host_ack) : host_ack;
    second.known |= kKnownTheirAck;
  }
  ClampSackBlocks(t, second.isn_ours + 1, second.isn_ours + 1 + kSackReach, second.cutoff_ours - second.isn_ours - 1);
  const uint8_t scale_in = second.their_scale == 0xff ? 0 : second.their_scale;
  const uint8_t scale_out = ScaleOf(table_.cold(index).handshake_options[1 - OurDirection(second)]);
  if (scale_in != scale_out) {
    const uint64_t bytes = uint64_t{tcp.window()} << scale_in;
    const uint64_t field = bytes >> scale_out;
    StoreBe16(t + 14, field > 0xffff ? 0xffff : static_cast<uint16_t>(field));
  }
  RecomputeTcpChecksum(frame, layout);
  Track(index, BaseKind(kind), packet, layout, now);
  if (table_.at(index).reconfigured()) CheckDrained(index, now);
  return Verdict::kToHost;
}

}  // namespace dysco
