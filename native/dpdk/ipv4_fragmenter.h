#pragma once
// Splits a frame longer than the port's MTU into IPv4 fragments (DPDK's ip_frag library), the way a
// router would: only IPv4 without DF, and only a whole datagram. Frames that may not be split are
// named by the verdict so the caller counts them under a drop reason.
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "core/counters.h"

namespace dysco::dpdk {

enum class FragmentVerdict : uint8_t {
  kFragmented,      // out[0..n) hold the fragments; the input mbuf is consumed
  kNotIpv4,         // DropReason::TX_TOO_BIG
  kDontFragment,    // DF set: DropReason::TX_TOO_BIG
  kIncomplete,      // IPv4 total length disagrees with the frame: DropReason::TX_INCOMPLETE_DATAGRAM
  kNoMbuf,          // DropReason::TX_FRAGMENT_FAILED
};

class Ipv4Fragmenter {
 public:
  // Enough for a 64 KiB datagram at a 576-byte MTU.
  static constexpr uint16_t kMaxFragments = 128;

  Ipv4Fragmenter() = default;
  Ipv4Fragmenter(const Ipv4Fragmenter&) = delete;
  Ipv4Fragmenter& operator=(const Ipv4Fragmenter&) = delete;
  ~Ipv4Fragmenter() { Close(); }

  // Fragment headers come from `direct`; the payload is shared through indirect mbufs of our own pool.
  bool Open(rte_mempool* direct, uint32_t indirect_mbufs, const std::string& name);
  void Close();

  // `mtu` counts the IPv4 header, not the Ethernet header. `linear` makes every fragment one segment
  // (for PMDs without multi-segment transmit). Takes `frame` in every case: on any verdict but
  // kFragmented it is freed, and the caller counts the drop under DropFor(verdict).
  FragmentVerdict Fragment(rte_mbuf* frame, uint16_t mtu, bool linear, rte_mbuf** out, uint16_t* n);

  DropReason DropFor(FragmentVerdict verdict) const;

 private:
  FragmentVerdict Split(rte_mbuf* frame, uint16_t mtu, bool linear, rte_mbuf** out, uint16_t* n, bool* consumed);

  rte_mempool* direct_ = nullptr;
  rte_mempool* indirect_ = nullptr;
};

// The longest frame a port with this MTU sends: the MTU plus the Ethernet header (and a VLAN tag if
// the frame carries one).
uint32_t MaxFrameLength(const rte_mbuf* frame, uint16_t mtu);

}  // namespace dysco::dpdk
