#pragma once
// A session's reconfiguration state (docs/reconfiguration.md, "The datapath's part"): while an anchor
// runs two paths, the other path's side; afterwards the sequence-space deltas its folded path needs for
// the rest of the session. Kept in a pool of 16-bit slots that SessionCold::reconfig names.
//
// Sequence numbers here are in the host's space (what this agent's host stack sends and sees) unless
// a name says otherwise. "Ours" is the byte stream the host sends out of the doubled side, "theirs"
// the one it receives there.
#include <cstdint>

#include "core/reconfig_requests.h"
#include "core/segment_deltas.h"
#include "core/session.h"

namespace dysco {

// A subsession's sequence spaces against the host's: what a segment leaving the host through it adds,
// and what one arriving on it adds.
struct PathDeltas {
  SegmentDeltas out;
  SegmentDeltas in;
};

enum class SecondPathPhase : uint8_t {
  kExpecting,  // right anchor: ExpectNewPath served; waiting for the SYN with the nonce
  kOpening,    // left anchor: the SYN went out; waiting for the SYN-ACK
  kAnswered,   // right anchor: the SYN-ACK went out; waiting for the ACK with the left anchor's cutoff
  kTwoPaths,   // switched: new data on the new path, both paths carry acknowledgements
  kFolded,     // the new path is the session's; `side` is the old path, kept for stragglers a linger long
  kSettled,    // only the folded path's deltas remain (`side` unused)
};

// SecondPath::known bits: which tracked values hold something.
// kHandshakeDone: the left anchor's SYN-ACK came. kHeardFar: a segment of the far anchor's with the path
// option came (the left anchor's handshake ACK at the right anchor, the right anchor's first announcement
// at the left): the far anchor's scaled window has passed every box on the new path, so this anchor may
// switch, at once if it has seen its host send, else at the host's next segment.
inline constexpr uint8_t kKnownSent = 1, kKnownTheirAck = 2, kKnownHostAck = 4, kKnownOldReceived = 8,
                         kKnownTheirCutoff = 16, kHandshakeDone = 32, kHeardFar = 64;

struct SecondPath {
  SessionSide side;           // the other path's side (its host tuple is the doubled side's)
  PathDeltas deltas;          // of `side`
  PathDeltas own;             // of the session's own doubled side: zero until a first reconfiguration folds
  uint16_t next_hop = 0;      // MacTable reference toward `side`'s neighbour
  SecondPathPhase phase = SecondPathPhase::kSettled;
  AnchorSide doubled = AnchorSide::kRight;
  uint8_t known = 0;
  uint8_t their_flags = 0;    // the far anchor's last announcement
  uint8_t announces = 0;      // announcements sent since the phase began (bounds the retries)
  uint8_t probes = 0;         // host probes sent while waiting to switch
  uint8_t their_scale = 0;    // the window scale the far anchor's new-path handshake gave (0xff: none)
  uint32_t nonce = 0;
  uint32_t delta_ours = 0;    // the old segment's delta on our stream (host space there = here + delta)
  uint32_t delta_theirs = 0;  // on theirs (host space here = there + delta)
  uint32_t isn_ours = 0;      // the new path's initial sequence numbers, new-path space
  uint32_t isn_theirs = 0;
  uint32_t ts_theirs = 0;     // the far anchor's handshake TSval, echoed in ours
  uint32_t cutoff_ours = 0;   // our stream's first byte on the new path
  uint32_t cutoff_theirs = 0; // theirs, converted to this host's space
  uint32_t sent = 0;          // the end of the highest segment our host sent
  uint32_t their_ack = 0;     // the highest acknowledgement of our stream that reached the host
  uint32_t host_ack = 0;      // the highest acknowledgement of theirs our host sent
  uint32_t old_received = 0;  // the end of the highest segment of theirs that came on the old path
  uint32_t old_acked = 0;     // the highest acknowledgement we put on the old path since the switch
  uint32_t probe_seq = 0;     // where the last host probe's byte lay in the far stream (its answer's D-SACK)
  uint32_t new_acked = 0;     // ... on the new path
  uint32_t since_ms = 0;      // when the phase began, or the last announcement went out
  uint32_t opened_ms = 0;     // when ExpectNewPath or OpenNewPath began it
  uint32_t folded_ms = 0;
};

}  // namespace dysco
