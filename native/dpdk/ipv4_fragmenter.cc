#include "dpdk/ipv4_fragmenter.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>

#include <cstring>

#include "core/packet_view.h"

namespace dysco::dpdk {
namespace {

constexpr uint32_t kEthernetHeader = kEthernetHeaderSize;
constexpr uint32_t kVlanTag = kVlanTagSize;

// Ethernet header length (with one VLAN tag) and the EtherType after it; 0 if the frame is too short.
uint32_t L2Length(const rte_mbuf* frame, uint16_t* ether_type) {
  if (rte_pktmbuf_data_len(frame) < kEthernetHeader + kVlanTag) return 0;
  const uint8_t* data = rte_pktmbuf_mtod(frame, const uint8_t*);
  uint16_t type = static_cast<uint16_t>(data[12] << 8 | data[13]);
  uint32_t length = kEthernetHeader;
  if (type == kEtherTypeVlan) {
    type = static_cast<uint16_t>(data[16] << 8 | data[17]);
    length += kVlanTag;
  }
  *ether_type = type;
  return length;
}

}  // namespace

uint32_t MaxFrameLength(const rte_mbuf* frame, uint16_t mtu) {
  uint16_t type = 0;
  return mtu + (L2Length(frame, &type) == kEthernetHeader + kVlanTag ? kEthernetHeader + kVlanTag : kEthernetHeader);
}

bool Ipv4Fragmenter::Open(rte_mempool* direct, uint32_t indirect_mbufs, const std::string& name) {
  direct_ = direct;
  // Indirect mbufs only point into another mbuf's data: no data room of their own.
  indirect_ = rte_pktmbuf_pool_create(name.c_str(), indirect_mbufs, 0, 0, 0, static_cast<int>(rte_socket_id()));
  return indirect_ != nullptr;
}

void Ipv4Fragmenter::Close() {
  if (indirect_ != nullptr) rte_mempool_free(indirect_);
  indirect_ = nullptr;
}

DropReason Ipv4Fragmenter::DropFor(FragmentVerdict verdict) const {
  switch (verdict) {
    case FragmentVerdict::kIncomplete: return DropReason::TX_INCOMPLETE_DATAGRAM;
    case FragmentVerdict::kNoMbuf: return DropReason::TX_FRAGMENT_FAILED;
    default: return DropReason::TX_TOO_BIG;
  }
}

FragmentVerdict Ipv4Fragmenter::Fragment(rte_mbuf* frame, uint16_t mtu, bool linear, rte_mbuf** out, uint16_t* n) {
  bool consumed = false;
  const FragmentVerdict verdict = Split(frame, mtu, linear, out, n, &consumed);
  if (!consumed) rte_pktmbuf_free(frame);
  return verdict;
}

FragmentVerdict Ipv4Fragmenter::Split(rte_mbuf* frame, uint16_t mtu, bool linear, rte_mbuf** out, uint16_t* n,
                                      bool* consumed) {
  uint16_t ether_type = 0;
  const uint32_t l2 = L2Length(frame, &ether_type);
  if (l2 == 0 || ether_type != kEtherTypeIpv4) return FragmentVerdict::kNotIpv4;
  if (rte_pktmbuf_data_len(frame) < l2 + sizeof(rte_ipv4_hdr)) return FragmentVerdict::kIncomplete;
  const auto* ip = rte_pktmbuf_mtod_offset(frame, const rte_ipv4_hdr*, l2);
  const uint32_t header = static_cast<uint32_t>(ip->version_ihl & 0x0f) * 4;
  if ((ip->version_ihl >> 4) != 4 || header < sizeof(rte_ipv4_hdr) || rte_pktmbuf_data_len(frame) < l2 + header) {
    return FragmentVerdict::kIncomplete;
  }
  if (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_DF_FLAG) return FragmentVerdict::kDontFragment;
  // A datagram cut short (an RX frame too small for what the kernel reassembled) must not go out
  // as the fragments of a shorter datagram.
  if (rte_be_to_cpu_16(ip->total_length) != rte_pktmbuf_pkt_len(frame) - l2) return FragmentVerdict::kIncomplete;
  if (mtu < header + 8) return FragmentVerdict::kNoMbuf;
  const uint32_t per_fragment = (mtu - header) & ~7u;
  if ((rte_pktmbuf_pkt_len(frame) - l2 - header + per_fragment - 1) / per_fragment > kMaxFragments) {
    return FragmentVerdict::kNoMbuf;
  }

  uint8_t l2_header[kEthernetHeader + kVlanTag];
  std::memcpy(l2_header, rte_pktmbuf_mtod(frame, const uint8_t*), l2);
  rte_pktmbuf_adj(frame, static_cast<uint16_t>(l2));
  const int32_t count = rte_ipv4_fragment_packet(frame, out, kMaxFragments, mtu, direct_, indirect_);
  if (count <= 0) return FragmentVerdict::kNoMbuf;
  // The fragments hold references to the frame's data; our own reference goes.
  rte_pktmbuf_free(frame);
  *consumed = true;
  bool complete = true;
  for (int32_t i = 0; i < count; ++i) {
    rte_mbuf* fragment = out[i];
    auto* fragment_ip = rte_pktmbuf_mtod(fragment, rte_ipv4_hdr*);
    fragment_ip->hdr_checksum = 0;
    fragment_ip->hdr_checksum = rte_ipv4_cksum(fragment_ip);
    auto* prefix = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(fragment, static_cast<uint16_t>(l2)));
    if (prefix == nullptr || (linear && rte_pktmbuf_linearize(fragment) != 0)) {
      complete = false;
      continue;
    }
    std::memcpy(prefix, l2_header, l2);
  }
  if (!complete) {
    // A datagram with a fragment missing is lost at the receiver anyway: send none of it.
    for (int32_t i = 0; i < count; ++i) rte_pktmbuf_free(out[i]);
    return FragmentVerdict::kNoMbuf;
  }
  *n = static_cast<uint16_t>(count);
  return FragmentVerdict::kFragmented;
}

}  // namespace dysco::dpdk
