#pragma once
// The address list: the payload an agent appends to a subsession SYN (docs/wire-format.md). Big-endian,
// version 1:
//
//   0  magic u32 = 0x4459534B ("DYSK")     4  version u8 = 1     5  flags u8      6  hop_count u8
//   7  reserved u8 = 0                      8  session src_ip u32                 12 session dst_ip u32
//   16 session src_port u16                 18 session dst_port u16
//   20 hop_count x IPv4 u32: the remaining hops, the first is the agent receiving this SYN, the last
//      the destination host.
//   then, with flag bit 1 (new path): nonce u32, the reconfiguration this SYN opens a new path for.
//
//   then, with flag bit 0 (authenticated): the 14-byte authentication block of core/list_auth.h.
//
// The session tuple is the one the endpoints see; its protocol is TCP implicitly. Bit 1 marks the SYN of a
// live session's new path (docs/reconfiguration.md); any other set bit is refused. The parser only checks
// that an authenticated list has room for its block: verifying it is list_auth.h's.
// The reserved byte is written as zero and ignored when parsing.
//
// Besides the codec, two frame helpers for the datapath put the list on a SYN and take it off again.
// Nothing here allocates.
#include <cstddef>
#include <cstdint>

#include "core/five_tuple.h"
#include "core/packet_view.h"

// Why ParseAddressList refused a payload. Append only; the numeric value is the position in the list.
// src/protocol/address-list.ts holds the same names; a native test asserts they agree.
#define DYSCO_ADDRESS_LIST_STATUSES(X)                                                                      \
  X(kOk, "ok")                                                                                              \
  X(kTruncated, "truncated")             /* shorter than the header, or than its hop count needs */         \
  X(kBadMagic, "bad_magic")              /* the first four bytes are not "DYSK": not an address list */      \
  X(kBadVersion, "bad_version")          /* a version other than 1 */                                       \
  X(kUnsupportedFlags, "unsupported_flags") /* a flag bit we do not implement */                            \
  X(kZeroHops, "zero_hops")              /* hop_count 0 */                                                  \
  X(kTooManyHops, "too_many_hops")       /* hop_count above kMaxAddressListHops */                          \
  X(kLengthMismatch, "length_mismatch")  /* bytes left over after hop_count hops (and the block) */

// How AppendAddressListToSyn / StripSynPayload ended. Any status but kOk leaves the frame untouched.
#define DYSCO_SYN_PAYLOAD_STATUSES(X)                                                             \
  X(kOk, "ok")                                                                                    \
  X(kNotTcp, "not_tcp")             /* the layout is not a parsed TCP over IPv4 packet */         \
  X(kNotSyn, "not_syn")             /* SYN clear, or ACK set (a SYN-ACK) */                       \
  X(kHasPayload, "has_payload")     /* append: the SYN already carries data */                    \
  X(kNoPayload, "no_payload")       /* strip: the SYN carries no data */                          \
  X(kBadHopCount, "bad_hop_count")  /* append: 0 hops or more than kMaxAddressListHops */         \
  X(kNoRoom, "no_room")             /* append: the buffer (or the IPv4 total length) is too small */

namespace dysco {

enum class AddressListStatus : uint8_t {
#define DYSCO_ADDRESS_LIST_STATUS_ENUM(name, label) name,
  DYSCO_ADDRESS_LIST_STATUSES(DYSCO_ADDRESS_LIST_STATUS_ENUM)
#undef DYSCO_ADDRESS_LIST_STATUS_ENUM
};

inline constexpr const char* kAddressListStatusNames[] = {
#define DYSCO_ADDRESS_LIST_STATUS_NAME(name, label) label,
    DYSCO_ADDRESS_LIST_STATUSES(DYSCO_ADDRESS_LIST_STATUS_NAME)
#undef DYSCO_ADDRESS_LIST_STATUS_NAME
};

inline constexpr size_t kAddressListStatusCount =
    sizeof(kAddressListStatusNames) / sizeof(kAddressListStatusNames[0]);

inline const char* AddressListStatusName(AddressListStatus status) {
  auto index = static_cast<size_t>(status);
  return index < kAddressListStatusCount ? kAddressListStatusNames[index] : "unknown";
}

enum class SynPayloadStatus : uint8_t {
#define DYSCO_SYN_PAYLOAD_STATUS_ENUM(name, label) name,
  DYSCO_SYN_PAYLOAD_STATUSES(DYSCO_SYN_PAYLOAD_STATUS_ENUM)
#undef DYSCO_SYN_PAYLOAD_STATUS_ENUM
};

inline constexpr const char* kSynPayloadStatusNames[] = {
#define DYSCO_SYN_PAYLOAD_STATUS_NAME(name, label) label,
    DYSCO_SYN_PAYLOAD_STATUSES(DYSCO_SYN_PAYLOAD_STATUS_NAME)
#undef DYSCO_SYN_PAYLOAD_STATUS_NAME
};

inline constexpr size_t kSynPayloadStatusCount = sizeof(kSynPayloadStatusNames) / sizeof(kSynPayloadStatusNames[0]);

inline const char* SynPayloadStatusName(SynPayloadStatus status) {
  auto index = static_cast<size_t>(status);
  return index < kSynPayloadStatusCount ? kSynPayloadStatusNames[index] : "unknown";
}

inline constexpr uint32_t kAddressListMagic = 0x4459534B;  // "DYSK"
inline constexpr uint8_t kAddressListVersion = 1;
inline constexpr size_t kAddressListFlagsOffset = 5;
inline constexpr uint8_t kAddressListFlagAuthenticated = 0x01;  // an authentication block follows
inline constexpr uint8_t kAddressListFlagNewPath = 0x02;
inline constexpr size_t kAddressListNonceSize = 4;
inline constexpr size_t kAddressListAuthBlockSize = 14;  // key id, time, tag: list_auth.h
inline constexpr size_t kAddressListHeaderSize = 20;
inline constexpr size_t kAddressListHopSize = 4;
inline constexpr uint8_t kMaxAddressListHops = 32;

inline constexpr size_t AddressListSize(uint8_t count, bool new_path = false) {
  return kAddressListHeaderSize + kAddressListHopSize * static_cast<size_t>(count) +
         (new_path ? kAddressListNonceSize : 0);
}

// The largest list: 152 bytes, and 166 with its authentication block.
inline constexpr size_t kMaxAddressListSize = AddressListSize(kMaxAddressListHops, true);
inline constexpr size_t kMaxSignedAddressListSize = kMaxAddressListSize + kAddressListAuthBlockSize;

class ListKeyRing;  // list_auth.h

struct AddressList {
  FiveTuple session;   // network byte order, protocol = kIpProtocolTcp
  uint8_t hop_count = 0;
  uint32_t hops[kMaxAddressListHops] = {};  // network byte order; hops[0] receives the SYN
  bool new_path = false;  // flag bit 1: the SYN opens a new path of a live session
  uint32_t nonce = 0;     // with new_path: the reconfiguration's nonce
  bool authenticated = false;  // flag bit 0: the payload ends in an authentication block (not yet verified)
};

// Parses `length` bytes (exactly one list: the whole TCP payload of a SYN). `out` is written only on kOk.
AddressListStatus ParseAddressList(const uint8_t* payload, size_t length, AddressList* out);

// Writes the list for `count` hops (network byte order, hops[0] first) into out[0, capacity). Returns the
// bytes written, AddressListSize(count), or 0 when count is 0 or above kMaxAddressListHops or the list
// does not fit; nothing is written then. The session's protocol field is not encoded (TCP implied).
// `new_path_nonce`: non-null for a new path's SYN (flag bit 1, the nonce after the hops).
size_t EncodeAddressList(const FiveTuple& session, const uint32_t* hops_network_order, uint8_t count, uint8_t* out,
                         size_t capacity, const uint32_t* new_path_nonce = nullptr);

// Appends the encoded list as the TCP payload of a SYN that carries none. `layout` is ParsePacket's view
// of frame[0, *length); bytes after layout.l3_end (Ethernet padding) are kept and move behind the list.
// Fixes the IPv4 total length and both checksums incrementally (the list enters the TCP checksum as its
// own one's-complement sum plus the pseudo-header's length change), so a wrong checksum stays wrong.
// On kOk *length grows by the list's size and *layout describes the edited frame (no re-parse).
// `signer`: non-null with a signing key to append the authentication block, signed at `now_s` over the SYN
// as it is now (its addresses and ports: rewrite them before).
SynPayloadStatus AppendAddressListToSyn(uint8_t* frame, size_t* length, size_t capacity, PacketLayout* layout,
                                        const FiveTuple& session, const uint32_t* hops_network_order, uint8_t count,
                                        const uint32_t* new_path_nonce = nullptr, const ListKeyRing* signer = nullptr,
                                        uint32_t now_s = 0);

// Removes the whole TCP payload of a SYN (whatever it is: the caller has parsed it), fixing the IPv4 total
// length and both checksums incrementally. Bytes after layout.l3_end move down with the end of the packet.
// On kOk *length shrinks by the payload length and *layout describes the edited frame.
SynPayloadStatus StripSynPayload(uint8_t* frame, size_t* length, PacketLayout* layout);

// A SYN payload is ours (or a damaged copy of ours) when it starts with the first three magic bytes.
// Anything else (TCP Fast Open data) is not a Dysco SYN and passes untouched.
inline bool LooksLikeAddressList(const uint8_t* payload, uint32_t length) {
  return length >= 3 && payload[0] == 'D' && payload[1] == 'Y' && payload[2] == 'S';
}


}  // namespace dysco
