#include "core/tcp_frame.h"

#include <cstring>

#include "core/byte_order.h"
#include "core/checksum.h"
#include "core/frame_headers.h"
#include "core/packet_view.h"

namespace dysco {

size_t BuildTcpFrame(uint8_t* out, size_t capacity, const TcpFrameSpec& spec) {
  if (spec.options_length % 4 != 0 || spec.options_length > 40) return 0;
  const uint32_t tcp_length = 20 + spec.options_length + spec.payload_length;
  const size_t total = kEthernetHeaderSize + 20 + tcp_length;
  if (total > capacity || tcp_length > 0xffff - 20) return 0;
  uint8_t* ip = WriteOwnFrameHeaders(out, spec.src_mac, spec.dst_mac, spec.src_ip, spec.dst_ip, spec.ip_id,
                                     kIpProtocolTcp, tcp_length);
  uint8_t* tcp = ip + kOwnIpv4HeaderSize;
  std::memcpy(tcp, &spec.src_port, 2);
  std::memcpy(tcp + 2, &spec.dst_port, 2);
  StoreBe32(tcp + 4, spec.seq);
  StoreBe32(tcp + 8, spec.ack);
  tcp[12] = static_cast<uint8_t>(((20 + spec.options_length) / 4) << 4);
  tcp[13] = spec.flags;
  StoreBe16(tcp + 14, spec.window);
  StoreBe16(tcp + 16, 0);
  StoreBe16(tcp + 18, 0);
  if (spec.options_length != 0) std::memcpy(tcp + 20, spec.options, spec.options_length);
  if (spec.payload_length != 0) std::memcpy(tcp + 20 + spec.options_length, spec.payload, spec.payload_length);
  StoreBe16(tcp + 16, TransportChecksumFull(LoadBe32(ip + 12), LoadBe32(ip + 16), kIpProtocolTcp, tcp, tcp_length));
  return total;
}

}  // namespace dysco
