#include "dpdk/port.h"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace dysco::dpdk {
namespace {

std::string DeviceName(const std::string& device) { return device.substr(0, device.find(',')); }

std::string Describe(const char* what, int rc) {
  return std::string(what) + ": " + rte_strerror(rc < 0 ? -rc : rc);
}

// The ethdev MTU of a vdev is DPDK's default (1500), not what the kernel interface under it allows.
bool KernelMtu(uint32_t if_index, uint16_t* mtu) {
  ifreq request;
  std::memset(&request, 0, sizeof(request));
  if (if_indextoname(if_index, request.ifr_name) == nullptr) return false;
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  const bool ok = ioctl(fd, SIOCGIFMTU, &request) == 0 && request.ifr_mtu > 0;
  close(fd);
  if (ok) *mtu = static_cast<uint16_t>(request.ifr_mtu > UINT16_MAX ? UINT16_MAX : request.ifr_mtu);
  return ok;
}

}  // namespace

Status OpenPort(const PortConfig& config, rte_mempool* pool, Port* port, std::string* detail) {
  port->name = DeviceName(config.device);
  uint16_t id;
  if (rte_eth_dev_get_port_by_name(port->name.c_str(), &id) != 0) {
    const int rc = rte_dev_probe(config.device.c_str());
    if (rc != 0) {
      *detail = Describe(("probing " + config.device).c_str(), rc);
      return Status::PORT_NOT_FOUND;
    }
    port->probed = true;
    if (rte_eth_dev_get_port_by_name(port->name.c_str(), &id) != 0) {
      *detail = "device " + config.device + " probed but no ethdev named " + port->name + " appeared";
      return Status::PORT_NOT_FOUND;
    }
  }
  port->id = id;

  rte_eth_dev_info info;
  int rc = rte_eth_dev_info_get(id, &info);
  if (rc != 0) {
    *detail = Describe("rte_eth_dev_info_get", rc);
    return Status::PORT_SETUP_FAILED;
  }
  port->driver = info.driver_name ? info.driver_name : "";
  port->if_index = info.if_index;
  port->multi_seg_tx = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;

  rte_eth_conf conf;
  std::memset(&conf, 0, sizeof(conf));
  if ((rc = rte_eth_dev_configure(id, 1, 1, &conf)) != 0) {
    *detail = Describe("rte_eth_dev_configure", rc);
    return Status::PORT_SETUP_FAILED;
  }
  uint16_t rx_desc = config.rx_descriptors;
  uint16_t tx_desc = config.tx_descriptors;
  if ((rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rx_desc, &tx_desc)) != 0) {
    *detail = Describe("rte_eth_dev_adjust_nb_rx_tx_desc", rc);
    return Status::PORT_SETUP_FAILED;
  }
  const int socket = rte_eth_dev_socket_id(id);
  const unsigned socket_id = socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket);
  if ((rc = rte_eth_rx_queue_setup(id, 0, rx_desc, socket_id, nullptr, pool)) != 0) {
    *detail = Describe("rte_eth_rx_queue_setup", rc);
    return Status::PORT_SETUP_FAILED;
  }
  if ((rc = rte_eth_tx_queue_setup(id, 0, tx_desc, socket_id, nullptr)) != 0) {
    *detail = Describe("rte_eth_tx_queue_setup", rc);
    return Status::PORT_SETUP_FAILED;
  }
  if ((rc = rte_eth_dev_start(id)) != 0) {
    *detail = Describe("rte_eth_dev_start", rc);
    return Status::PORT_SETUP_FAILED;
  }
  port->started = true;
  // A bump in the wire must see every frame, whatever its destination MAC. Some PMDs (ring, null)
  // have no promiscuous mode; that is fine for them.
  rte_eth_promiscuous_enable(id);
  uint16_t mtu = 0;
  if (port->if_index != 0 && KernelMtu(port->if_index, &mtu)) {
    port->mtu = mtu;
  } else if (rte_eth_dev_get_mtu(id, &mtu) == 0 && mtu != 0) {
    port->mtu = mtu;
  }
  return Status::OK;
}

void ClosePort(Port* port) {
  if (port->id == UINT16_MAX) return;
  if (port->started) rte_eth_dev_stop(port->id);
  port->started = false;
  rte_eth_dev_close(port->id);
  // Only vdevs are hot-plugged by us; PCI devices belong to the EAL allow-list.
  if (port->probed) rte_eal_hotplug_remove("vdev", port->name.c_str());
  port->id = UINT16_MAX;
}

}  // namespace dysco::dpdk
