#include "core/handshake.h"

#include "core/session_table.h"
#include "core/tcp_options.h"

namespace dysco {

void RecordHandshake(SessionCold& cold, int direction, const uint8_t* frame, const PacketLayout& layout) {
  const TcpView tcp(const_cast<uint8_t*>(frame) + layout.l4_offset);
  TcpHandshake handshake;
  handshake.isn = tcp.seq();
  const TcpOptionSummary options = SummarizeTcpOptions(tcp.options(), tcp.options_size());
  if (options.status == TcpOptionStatus::kOk) {
    handshake.window_scale = options.has_window_scale ? options.window_scale : 0xff;
    handshake.sack_permitted = options.sack_permitted ? 1 : 0;
    handshake.timestamps = options.has_timestamps ? 1 : 0;
    handshake.ts_val = options.has_timestamps ? options.timestamps.value : 0;
  }
  SessionTable::SetHandshake(cold, direction, handshake);
}

}  // namespace dysco
