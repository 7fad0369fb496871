#include "core/udp_frame.h"

#include <cstring>

#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/packet_view.h"

namespace dysco {

size_t BuildUdpFrame(uint8_t* out, size_t capacity, const UdpFrameSpec& spec) {
  const size_t total = kUdpFrameOverhead + spec.length;
  if (total > capacity || spec.length > 0xffff - 28) return 0;
  std::memcpy(out, spec.dst_mac, 6);
  std::memcpy(out + 6, spec.src_mac, 6);
  StoreBe16(out + 12, kEtherTypeIpv4);
  uint8_t* ip = out + 14;
  ip[0] = 0x45;
  ip[1] = 0;
  StoreBe16(ip + 2, static_cast<uint16_t>(20 + 8 + spec.length));
  StoreBe16(ip + 4, spec.ip_id);
  StoreBe16(ip + 6, 0x4000);  // DF: control messages are sized for the link, never fragmented
  ip[8] = 64;
  ip[9] = kIpProtocolUdp;
  StoreBe16(ip + 10, 0);
  std::memcpy(ip + 12, &spec.src_ip, 4);
  std::memcpy(ip + 16, &spec.dst_ip, 4);
  StoreBe16(ip + 10, ChecksumFull(ip, 20));
  uint8_t* udp = ip + 20;
  StoreBe16(udp, spec.src_port);
  StoreBe16(udp + 2, spec.dst_port);
  StoreBe16(udp + 4, static_cast<uint16_t>(8 + spec.length));
  StoreBe16(udp + 6, 0);
  if (spec.length != 0) std::memcpy(udp + 8, spec.payload, spec.length);
  const uint16_t checksum = TransportChecksumFull(LoadBe32(ip + 12), LoadBe32(ip + 16), kIpProtocolUdp, udp, 8 + spec.length);
  StoreBe16(udp + 6, UdpChecksumForWire(checksum));
  return total;
}

}  // namespace dysco
