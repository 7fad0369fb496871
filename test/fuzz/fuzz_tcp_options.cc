// libFuzzer target: the TCP option walker (core/tcp_options.h) and the tag option (core/tag_option.h) on a frame
// whose TCP options are the fuzzer's bytes. Whatever the bytes: no crash, no read past the option area, the summary
// agrees with the single-option readers, and a tag added is found and removed again (and one present removed).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/packet_view.h"
#include "core/tag_option.h"
#include "core/tcp_frame.h"
#include "core/tcp_options.h"

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The walker alone, on any bytes.
  const dysco::TcpOptionSummary summary = dysco::SummarizeTcpOptions(data, size);
  if (summary.status == dysco::TcpOptionStatus::kOk) {
    const auto mss = dysco::ReadMss(data, size);
    Require(mss.has_value() == summary.has_mss && (!mss || *mss == summary.mss));
    const auto scale = dysco::ReadWindowScale(data, size);
    Require(scale.has_value() == summary.has_window_scale);
  }

  // As the options of a SYN: up to 40 bytes, padded to whole words; the first byte picks the SYN's flags.
  if (size < 1) return 0;
  const uint8_t flags = (data[0] & 1) ? dysco::kTcpSyn : (dysco::kTcpSyn | dysco::kTcpAck);
  uint8_t options[40] = {};
  const size_t option_bytes = size - 1 > 40 ? 40 : size - 1;
  std::memcpy(options, data + 1, option_bytes);
  const uint32_t area = static_cast<uint32_t>((option_bytes + 3) / 4 * 4);
  static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 1}, mac_b[6] = {2, 0, 0, 0, 0, 2};
  const dysco::TcpFrameSpec spec{mac_a, mac_b, 0x0201000a, 0x0202000a, 0x0a1a, 0x5000, 1, 1000, 0, flags,
                                 1024, options, area, nullptr, 0};
  uint8_t frame[256];
  size_t length = dysco::BuildTcpFrame(frame, sizeof frame, spec);
  if (length == 0) return 0;
  dysco::PacketLayout layout = dysco::ParsePacket(frame, length);
  if (!layout.is_tcp()) return 0;
  uint32_t tag;
  const bool had_tag = dysco::FindTagOption(frame, layout, &tag);
  const size_t before_length = length;
  if (!had_tag && dysco::AddTagOption(frame, &length, sizeof frame, &layout, 0x12345678) == dysco::TagStatus::kOk) {
    uint32_t found;
    Require(dysco::FindTagOption(frame, layout, &found) && found == 0x12345678);
    Require(dysco::RemoveTagOption(frame, &length, &layout));
    Require(length == before_length);
    const dysco::PacketLayout again = dysco::ParsePacket(frame, length);
    Require(again.is_tcp() && again.payload_length() == 0);
  } else if (had_tag) {
    Require(dysco::RemoveTagOption(frame, &length, &layout));
    Require(length < before_length && dysco::ParsePacket(frame, length).is_tcp());
  }
  return 0;
}
