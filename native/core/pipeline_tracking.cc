// TCP tracking and expiry: what the flags of a session's packets do to its state, and idle timeouts.
//
//   state        event                                   next state
//   pending      the host's SYN back (CompletePending)   syn_sent
//   pending      SYN-ACK from the host (a SYN proxy)     established (the SYN still goes on later)
//   syn_sent     SYN-ACK in the reverse direction        established
//   syn_sent,    FIN in either direction                 closing
//   established
//   closing      both FINs acknowledged                  linger
//   any but      RST in either direction                 linger (the state before is kept: if the RST's
//   linger                                               sender talks again, the session comes back)
//   linger       linger_ms idle                          freed (a FIN was counted when it began to linger,
//                                                        a RST is counted now)
//   closing,     a new SYN on its tuple (from the host,  freed, and the SYN starts a new session
//   linger       or a list SYN from the left neighbour)
//   any          idle past its state's timeout           freed (counted as idle)
//
// A session is fast (every data packet takes the fast path) only while established with no FIN seen and
// every next-hop MAC known.
#include "core/elapsed_ms.h"
#include "core/handshake.h"
#include "core/session_pipeline.h"

namespace dysco {
namespace {

constexpr uint32_t kNeighbourExpiryIntervalMs = 10;

// a ≥ b in sequence space.
bool SeqGeq(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

}  // namespace

void SessionPipeline::RefreshFast(Session& session) {
  // A middlebox session is ready only with both sides: before its right side exists, the host's SYN
  // must still take the slow path to be sent on.
  const bool right_ready = session.has_right() ? session.next_hop[0] != 0 : session.role != SessionRole::kMiddlebox;
  const bool left_ready = !session.has_left() || session.next_hop[1] != 0;
  const bool fast = session.state == SessionState::kEstablished && session.fin_flags == 0 && right_ready && left_ready &&
                    !session.reconfigured();
  session.flags = static_cast<uint8_t>(fast ? session.flags | kFast : session.flags & ~kFast);
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
      PostSessionEvent(EventType::kSessionEstablished, index);
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
  if (cause != TeardownCause::kRst) {
    stats_.teardowns[static_cast<int>(cause)].Add(1);
    PostSessionEvent(EventType::kSessionEnded, index, cause);
  }
  if (cause == TeardownCause::kIdle || cause == TeardownCause::kReclaimed) {
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
  if (table_.at(index).fin_flags & (kRstForward | kRstReverse)) {
    stats_.teardowns[static_cast<int>(TeardownCause::kRst)].Add(1);
    PostSessionEvent(EventType::kSessionEnded, index, TeardownCause::kRst);
  }
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
    if (ElapsedMs(now, session.last_seen_ms) < limit) continue;
    if (session.state == SessionState::kLinger) {
      Retire(index);
    } else {
      EndSession(index, TeardownCause::kIdle);
    }
  }
  // The neighbour table walks every entry; its timers are 200 ms and up, so every 10 ms is plenty. The
  // second paths' timers (announcements every 20 ms) fit the same pace.
  if (ElapsedMs(now, last_neighbour_expiry_ms_) < kNeighbourExpiryIntervalMs) return;
  last_neighbour_expiry_ms_ = now;
  ExpireSecondPaths(now);
  neighbours_.Expire(uint64_t{now} * kNanosPerMilli, [this](void* handle) {
    counters_->Drop(DropReason::NEIGHBOUR_UNRESOLVED);
    io_->ReleaseHeld(handle, nullptr);
  });
}

}  // namespace dysco
