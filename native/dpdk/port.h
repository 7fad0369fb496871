#pragma once
// One ethdev port created from a device string: a vdev (net_af_packet0,iface=X, net_af_xdp0,...,
// net_tap0,..., net_ring0, net_null0, net_pcap0,...) probed at run time, or a PCI address that the
// EAL allow-list already probed.
#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "core/error_codes.h"

namespace dysco::dpdk {

struct PortConfig {
  std::string device;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
};

struct Port {
  uint16_t id = UINT16_MAX;
  std::string name;      // the ethdev name (device string up to the first comma)
  bool probed = false;   // we hot-plugged it and must remove it on close
  bool started = false;
  // The kernel interface's MTU when the PMD sits on one (af_packet, af_xdp, tap); else the ethdev's.
  uint16_t mtu = 1500;
  uint32_t if_index = 0;      // the kernel interface behind the PMD, 0 for none
  bool multi_seg_tx = false;  // the PMD sends chained mbufs
  std::string driver;
};

Status OpenPort(const PortConfig& config, rte_mempool* pool, Port* port, std::string* detail);
void ClosePort(Port* port);

}  // namespace dysco::dpdk
