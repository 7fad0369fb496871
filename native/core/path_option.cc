#include "core/path_option.h"

#include "core/byte_order.h"
#include "core/tcp_options.h"

namespace dysco {

void WritePathOption(uint8_t* out, const PathAnnouncement& announcement) {
  out[0] = kPathOptionKind;
  out[1] = kPathOptionLength;
  StoreBe16(out + 2, kPathOptionExId);
  out[4] = announcement.flags;
  out[5] = 0;
  StoreBe32(out + 6, announcement.nonce);
  StoreBe32(out + 10, announcement.cutoff);
}

bool FindPathOption(const uint8_t* frame, const PacketLayout& layout, PathAnnouncement* out) {
  if (!layout.is_tcp()) return false;
  const TcpView tcp(const_cast<uint8_t*>(frame) + layout.l4_offset);
  const uint8_t* options = tcp.options();
  bool found = false;
  const TcpOptionStatus status = WalkTcpOptions(options, tcp.options_size(), [&](const TcpOption& option) {
    if (found || option.kind != kPathOptionKind || option.length != kPathOptionLength) return;
    const uint8_t* at = options + option.offset;
    if (LoadBe16(at + 2) != kPathOptionExId) return;
    found = true;
    out->flags = at[4];
    out->nonce = LoadBe32(at + 6);
    out->cutoff = LoadBe32(at + 10);
  });
  return status == TcpOptionStatus::kOk && found;
}

}  // namespace dysco
