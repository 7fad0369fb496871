#include "core/udp_frame.h"

#include <cstring>

#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/frame_headers.h"
#include "core/packet_view.h"

namespace dysco {

size_t BuildUdpFrame(uint8_t* out, size_t capacity, const UdpFrameSpec& spec) {
  const size_t total = kUdpFrameOverhead + spec.length;
  if (total > capacity || spec.length > 0xffff - 28) return 0;
  uint8_t* ip = WriteOwnFrameHeaders(out, spec.src_mac, spec.dst_mac, spec.src_ip, spec.dst_ip, spec.ip_id,
                                     kIpProtocolUdp, 8 + spec.length);
  uint8_t* udp = ip + kOwnIpv4HeaderSize;
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
