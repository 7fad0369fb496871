// Session set-up: a SYN the policies chain starts a session at its initiator (Initiate), a SYN with an
// address list for this host starts one at a middlebox or the responder (Accept), a middlebox's SYN back
// from its host stack completes the pending session (CompletePending), and SendSyn sends a SYN on with
// the rest of its list. See docs/session-setup.md.
#include <cstring>

#include "core/address_list.h"
#include "core/handshake.h"
#include "core/session_pipeline.h"
#include "core/tag_option.h"
#include "core/translation.h"

namespace dysco {
namespace {

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

DropReason DropFor(ListAuthStatus status) {
  switch (status) {
    case ListAuthStatus::kUnknownKey: return DropReason::LIST_UNKNOWN_KEY;
    case ListAuthStatus::kBadTag: return DropReason::LIST_BAD_MAC;
    case ListAuthStatus::kStale: return DropReason::LIST_STALE;
    default: return DropReason::LIST_TRUNCATED;
  }
}

}  // namespace

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
    PacketLayout clean = layout;
    RemoveTagOption(packet.data, &length, &clean);
    packet.length = static_cast<uint32_t>(length);
    const PolicyRule* rule = policies_->Match(key);
    return rule ? Initiate(packet, clean, key, *rule, now) : Verdict::kToWire;
  }
  const PolicyRule* rule = policies_->Match(key);
  if (rule == nullptr) return Verdict::kToWire;
  return Initiate(packet, layout, key, *rule, now);
}

// Room for one more half-open session: when the table or the set-up slots are all taken, the oldest half-open
// session gives way (and ends), so that a SYN flood churns half-open sessions and never touches established ones.
// Slots that established sessions hold for a new path (an anchor's) are passed over.
void SessionPipeline::MakeRoomForSetup() {
  if (!table_.full() && !table_.setups_full()) return;
  constexpr int kOldestLooked = 16;
  uint32_t victim = table_.OldestSetupOwner();
  for (int looked = 0; victim != UINT32_MAX && looked < kOldestLooked; ++looked) {
    const SessionState state = table_.at(victim).state;
    if ((state == SessionState::kPending || state == SessionState::kSynSent) && table_.SecondPathOf(victim) == nullptr) {
      stats_.setups_reclaimed.Add(1);
      EndSession(victim, TeardownCause::kReclaimed);
      return;
    }
    victim = table_.NewerSetupOwner(victim);
  }
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
  MakeRoomForSetup();
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
  uint64_t list_tag = 0;
  DropReason refused;
  if (!ListAdmitted(packet, layout, list, &list_tag, &refused)) return DropWith(refused);
  // The right anchor of a reconfiguration answers its new path's SYN itself (pipeline_two_paths.cc).
  if (list.new_path && list.hop_count == 1) {
    const Verdict verdict = AnswerNewPath(packet, layout, key, list, now);
    if (verdict == Verdict::kConsumed) RememberList(list, list_tag);
    return verdict;
  }
  if (list.new_path) {
    if (!MakeWayForNewPath(list.session)) return DropWith(DropReason::NEW_PATH_THROUGH_OLD_PATH);
  }
  MakeRoomForSetup();
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
  // A responder keeps no hops but holds a slot too: every half-open session counts against max_setups.
  if (!table_.StoreSetup(index, list.hops + 1, static_cast<uint8_t>(list.hop_count - 1),
                         list.new_path && !last_hop ? &list.nonce : nullptr)) {
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
  RememberList(list, list_tag);

  size_t length = packet.length;
  PacketLayout edited = layout;
  if (StripSynPayload(packet.data, &length, &edited) != SynPayloadStatus::kOk) {
    EndSession(index, TeardownCause::kIdle);
    return DropWith(DropReason::LIST_LENGTH);
  }
  packet.length = static_cast<uint32_t>(length);
  Translate(*session, kInLeft, packet, edited);
  if (!last_hop) {
    if (AddTagOption(packet.data, &length, packet.capacity, &edited, table_.NewTag(index)) == TagStatus::kOk) {
      packet.length = static_cast<uint32_t>(length);
    } else {
      stats_.tag_no_space.Add(1);  // still found by its tuple unless the middlebox rewrites it
    }
  }
  return Verdict::kToHost;
}

// Whether a list may set up a session here: a signed one passes its tag, time and replay checks, an unsigned one
// only where the security policy allows it (or with authentication off). Nothing is kept for a refused list.
bool SessionPipeline::ListAdmitted(const PipelinePacket& packet, const PacketLayout& layout, const AddressList& list,
                                   uint64_t* tag, DropReason* refused) {
  if (!list.authenticated) {
    if (list_auth_ == nullptr) return true;
    if (!list_auth_->AcceptsUnsigned(list.session)) {
      *refused = DropReason::LIST_UNSIGNED;
      return false;
    }
    stats_.unsigned_accepted.Add(1);
    return true;
  }
  if (list_auth_ == nullptr) {
    *refused = DropReason::LIST_UNKNOWN_KEY;
    return false;
  }
  uint8_t carrier[kListCarrierBytes];
  ListCarrierOf(packet.data, layout, carrier);
  const uint32_t now_s = io_->UnixSeconds();
  size_t list_size;
  const ListAuthStatus status = VerifyAddressList(packet.data + layout.payload_offset, layout.payload_length(),
                                                  list_auth_->ring, now_s, list_auth_->max_skew_s, carrier, &list_size,
                                                  tag);
  if (status != ListAuthStatus::kOk) {
    *refused = DropFor(status);
    return false;
  }
  // A copy's time still passes within the skew either way: remembered tags are kept that long on both sides.
  if (replay_cache_.Seen(*tag, now_s, 2 * list_auth_->max_skew_s)) {
    *refused = DropReason::LIST_REPLAYED;
    return false;
  }
  stats_.lists_verified.Add(1);
  return true;
}

void SessionPipeline::RememberList(const AddressList& list, uint64_t tag) {
  if (!list.authenticated || list_auth_ == nullptr) return;
  if (replay_cache_.Remember(tag, io_->UnixSeconds(), 2 * list_auth_->max_skew_s)) stats_.replay_evictions.Add(1);
}

// A new path through a middlebox that holds the session established: its host would see the same connection
// twice, and this agent could not tell the two apart. Dropped, not refused: the session held here may be an
// old path's that is being torn down (its teardown still on the way after a remove), and the SYN's repeat then
// passes once it is gone. Counted apart, so that a new path through a box still on the old path shows as such.
// A new path's SYN on a subsession no key knows, for a session this middlebox still holds: an earlier attempt
// at a new path through here that was given up (half made), or one that has ended. Anchors open one new path
// of a session at a time, so that attempt is over; it makes way rather than refuse the new SYN as a conflict.
// A session established here stays, and the SYN does not pass (false): a middlebox cannot be on the old path and
// the new one at once.
bool SessionPipeline::MakeWayForNewPath(const FiveTuple& session_tuple) {
  uint32_t stale[2];
  int count = 0;
  for (const FiveTuple& host_tuple : {session_tuple, session_tuple.Reversed()}) {
    uint32_t value;
    if (!table_.Lookup(true, host_tuple, &value)) continue;
    const uint32_t index = EntryIndex(value);
    const SessionState state = table_.at(index).state;
    if (state == SessionState::kEstablished) return false;
    if (state != SessionState::kFree && (count == 0 || stale[0] != index)) stale[count++] = index;
  }
  for (int i = 0; i < count; ++i) {
    stats_.stale_attempts_retired.Add(1);
    Retire(stale[i]);
  }
  return true;
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
    if (StripSynPayload(packet.data, &length, &current) != SynPayloadStatus::kOk) return DropWith(DropReason::SYN_TOO_LARGE);
    packet.length = static_cast<uint32_t>(length);
  }
  if (RemoveTagOption(packet.data, &length, &current)) packet.length = static_cast<uint32_t>(length);
  Translate(session, kOutRight, packet, current);
  const FiveTuple downstream = table_.KeyOf(session, kOutRight);
  const ListKeyRing* signer = Signer();
  if (AppendAddressListToSyn(packet.data, &length, packet.capacity, &current, downstream, list->hops, list->count,
                             list->new_path ? &list->nonce : nullptr, signer,
                             signer != nullptr ? io_->UnixSeconds() : 0) != SynPayloadStatus::kOk ||
      length - kEthernetHeaderSize > config_.mtu) {
    return DropWith(DropReason::SYN_TOO_LARGE);
  }
  if (signer != nullptr && signer->signing_id() != 0) stats_.lists_signed.Add(1);
  packet.length = static_cast<uint32_t>(length);
  session.last_seen_ms = now;
  return ForwardToNextHop(session, 0, list->hops[0], packet, now);
}

}  // namespace dysco
