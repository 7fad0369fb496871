#pragma once
// Whole copies of frames the af_packet PMD's RX ring cut short.
//
// DPDK 22.11's af_packet PMD joins its socket to a fanout group with PACKET_FANOUT_FLAG_DEFRAG, so
// the kernel hands it reassembled IPv4 datagrams instead of the fragments on the wire, and its RX
// ring frames (framesz, default 2048) hold about 1980 bytes of one: `ping -s 3000` arrives cut
// short. The PMD offers no way out of the fanout group and copies each ring frame into one mbuf,
// so ring frames as large as a 64 KiB datagram would need 64 KiB mbufs and gigabytes of ring.
// Instead this finds the PMD's socket and turns on PACKET_COPY_THRESH: the kernel then also queues
// every frame longer than a ring frame, whole, on the socket, where the lcore reads it back. Copies
// arrive in ring order; one may be missing (socket buffer full) but none is extra, so a copy that
// does not match the frame in hand is kept for the next one.
#include <cstdint>
#include <memory>
#include <string>

namespace dysco::dpdk {

class AfPacketFullCopy {
 public:
  // The largest frame: a 64 KiB IPv4 datagram with its Ethernet header and one VLAN tag.
  static constexpr uint32_t kMaxFrame = 65535 + 18;

  AfPacketFullCopy() = default;
  AfPacketFullCopy(const AfPacketFullCopy&) = delete;
  AfPacketFullCopy& operator=(const AfPacketFullCopy&) = delete;

  // Finds the AF_PACKET socket bound to `if_index` that the PMD just opened in this process.
  bool Attach(uint32_t if_index, std::string* detail);
  void Detach();
  bool attached() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // The whole frame whose first `length` bytes are `truncated`, or nullptr if the kernel kept no
  // copy. The bytes stay valid until the next call.
  const uint8_t* Take(const uint8_t* truncated, uint32_t length, uint32_t* full_length);

 private:
  int fd_ = -1;
  std::unique_ptr<uint8_t[]> copy_;
  uint32_t copy_length_ = 0;  // a copy read earlier that did not match its frame
  int kept_for_ = 0;          // cut-short frames that copy has not matched
};

// True when an IPv4 frame's total length reaches past the bytes received: a ring frame cut it short.
bool IsCutShortIpv4(const uint8_t* frame, uint32_t length);

}  // namespace dysco::dpdk
