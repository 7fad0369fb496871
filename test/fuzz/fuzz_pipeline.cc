// libFuzzer target: the whole session pipeline (core/session_pipeline.h) on frames in both directions, with
// sessions in every state. Each input starts from the same agent (10.0.2.2/24): list authentication on, a policy
// that chains its own sessions through 10.0.3.2, and sessions set up through the real handshake:
//   initiated  I1 established, I2 waiting for its SYN-ACK, I3 established with a new path opening (two paths),
//              I4 closing (the host's FIN sent)
//   accepted   M1 pending (its list SYN in, the host's SYN not back), M2 established through this middlebox
// The input is a list of records; each either mutates one of the frames those sessions carry (a data segment each
// way, a SYN-ACK, the new path's SYN-ACK, a FIN, a list SYN signed and unsigned, a control datagram, an ARP reply)
// and hands it to the pipeline, or hands over raw bytes, or moves the clock and expires, or serves a request.
// Whatever happens: no crash, no sanitizer report, every verdict one of the five, every frame within its buffer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/address_list.h"
#include "core/arp.h"
#include "core/byte_order.h"
#include "core/control_messages.h"
#include "core/list_auth.h"
#include "core/packet_view.h"
#include "core/policy_rules.h"
#include "core/reconfig_requests.h"
#include "core/session_pipeline.h"
#include "core/session_summary.h"
#include "core/tcp_frame.h"
#include "core/udp_frame.h"

namespace {

using dysco::FiveTuple;
using dysco::PipelinePacket;
using dysco::Verdict;

void Require(bool ok) {
  if (!ok) std::abort();
}

constexpr uint32_t Ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return static_cast<uint32_t>(a) | static_cast<uint32_t>(b) << 8 | static_cast<uint32_t>(c) << 16 |
         static_cast<uint32_t>(d) << 24;
}
constexpr uint16_t Port(uint16_t p) { return static_cast<uint16_t>(p << 8 | p >> 8); }

constexpr uint32_t kSelf = Ip(10, 0, 2, 2);
constexpr uint32_t kGateway = Ip(10, 0, 2, 1);
constexpr uint32_t kLeft = Ip(10, 0, 1, 2);
constexpr uint32_t kNext = Ip(10, 0, 3, 2);
constexpr uint32_t kNewHop = Ip(10, 0, 5, 2);
constexpr uint32_t kServer = Ip(10, 0, 4, 2);
constexpr uint32_t kNowS = 1'800'000'000;
constexpr uint16_t kControlPort = 7777;
constexpr uint32_t kCapacity = 256;
const uint8_t kSelfMac[6] = {2, 0, 0, 0, 2, 2};
const uint8_t kGatewayMac[6] = {2, 0, 0, 0, 2, 1};
const uint8_t kKey[dysco::kSipHashKeyBytes] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

// Frames the pipeline sends by itself (ARP, a new path's SYN) are kept, the last ones looked at by the set-up.
class FuzzIo final : public dysco::PipelineIo {
 public:
  bool SendFrame(const uint8_t* frame, uint32_t length) override {
    Require(length <= 2048);
    sent.assign(frame, frame + length);
    ++frames_sent;
    return true;
  }
  // A held frame is the pipeline's until it hands it back here: sent (with its MAC) or dropped, it ends.
  void ReleaseHeld(void* handle, const uint8_t* mac) override {
    std::unique_ptr<std::vector<uint8_t>> held(static_cast<std::vector<uint8_t>*>(handle));
    if (mac != nullptr) std::memcpy(held->data(), mac, 6);
  }
  bool PostEvent(const dysco::Event&) override { return true; }
  uint32_t UnixSeconds() override { return kNowS; }
  std::vector<uint8_t> sent;
  uint64_t frames_sent = 0;
};

struct Tcp {
  FiveTuple t;  // network order
  uint8_t flags;
  uint32_t seq, ack;
  const uint8_t* payload = nullptr;
  uint32_t payload_length = 0;
};

std::vector<uint8_t> Frame(const uint8_t* src_mac, const uint8_t* dst_mac, const Tcp& tcp) {
  std::vector<uint8_t> out(1600);
  static const uint8_t options[20] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  const bool syn = (tcp.flags & dysco::kTcpSyn) != 0;
  const dysco::TcpFrameSpec spec{src_mac, dst_mac, tcp.t.src_ip, tcp.t.dst_ip, tcp.t.src_port, tcp.t.dst_port, 1,
                                 tcp.seq, tcp.ack, tcp.flags, 1024, syn ? options : nullptr, syn ? 20u : 0u,
                                 tcp.payload, tcp.payload_length};
  out.resize(dysco::BuildTcpFrame(out.data(), out.size(), spec));
  Require(!out.empty());
  return out;
}

FiveTuple Tuple(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) {
  FiveTuple t;
  t.src_ip = src;
  t.dst_ip = dst;
  t.src_port = sport;
  t.dst_port = dport;
  t.protocol = dysco::kIpProtocolTcp;
  return t;
}

FiveTuple TupleOf(const std::vector<uint8_t>& f) {
  const dysco::PacketLayout l = dysco::ParsePacket(f.data(), f.size());
  Require(l.is_tcp());
  FiveTuple t;
  std::memcpy(&t.src_ip, f.data() + l.l3_offset + 12, 4);
  std::memcpy(&t.dst_ip, f.data() + l.l3_offset + 16, 4);
  std::memcpy(&t.src_port, f.data() + l.l4_offset, 2);
  std::memcpy(&t.dst_port, f.data() + l.l4_offset + 2, 2);
  t.protocol = dysco::kIpProtocolTcp;
  return t;
}

// A list SYN from the left neighbour for `session`, hops [self, server], signed or not.
std::vector<uint8_t> ListSyn(const FiveTuple& session, uint16_t sub_port, bool sign, bool new_path = false) {
  const uint32_t hops[2] = {kSelf, kServer};
  uint8_t list[dysco::kMaxSignedAddressListSize];
  const uint32_t nonce = 77;
  size_t size = dysco::EncodeAddressList(session, hops, 2, list, sizeof list, new_path ? &nonce : nullptr);
  const FiveTuple sub = Tuple(kLeft, Port(sub_port), kSelf, Port(static_cast<uint16_t>(sub_port + 1)));
  if (sign) {
    dysco::ListKeyRing ring;
    ring.Add(1, kKey);
    ring.SetSigning(1);
    uint8_t carrier[dysco::kListCarrierBytes];
    dysco::ListCarrierOf(sub, carrier);
    size = dysco::SignAddressList(list, size, sizeof list, ring, kNowS, carrier);
  }
  return Frame(kGatewayMac, kSelfMac, Tcp{sub, dysco::kTcpSyn, 5000, 0, list, static_cast<uint32_t>(size)});
}

struct Agent {
  dysco::LcoreCounters counters;
  FuzzIo io;
  dysco::SessionPipeline pipeline;
  uint32_t now = 1000;
  std::vector<std::vector<uint8_t>> templates;
  std::vector<bool> from_wire;
  uint32_t i3_index = 0;
  uint32_t m2_index = 0;

  // Hands one frame over and checks the verdict; returns it and leaves the frame as the pipeline left it.
  Verdict Run(std::vector<uint8_t>& frame, bool wire) {
    const uint32_t length = static_cast<uint32_t>(frame.size());
    auto* buffer = new std::vector<uint8_t>(frame);
    buffer->resize(length + 512);
    PipelinePacket packet{buffer->data(), length, static_cast<uint32_t>(buffer->size()), buffer};
    Verdict verdict;
    if (wire) {
      pipeline.FromWire(&packet, 1, now, &verdict);
    } else {
      pipeline.FromHost(&packet, 1, now, &verdict);
    }
    Require(static_cast<uint8_t>(verdict) <= static_cast<uint8_t>(Verdict::kConsumed));
    Require(packet.length <= packet.capacity && packet.data == buffer->data());
    frame.assign(buffer->begin(), buffer->begin() + packet.length);
    if (verdict != Verdict::kHeld) delete buffer;  // else the pipeline hands it back through ReleaseHeld
    return verdict;
  }

  void AddTemplate(std::vector<uint8_t> frame, bool wire) {
    templates.push_back(std::move(frame));
    from_wire.push_back(wire);
  }

  void Init() {
    dysco::PipelineConfig config;
    config.host_ip = kSelf;
    config.prefix_mask = Ip(255, 255, 255, 0);
    config.gateway_ip = kGateway;
    config.max_sessions = kCapacity;
    config.max_setups = 64;
    config.max_second_paths = 16;
    config.replay_cache_slots = 64;
    config.control_port = kControlPort;
    config.session_events = true;
    Require(pipeline.Init(config, &counters, &io));
    auto policies = std::make_unique<dysco::PolicySet>();
    dysco::PolicyRule rule{};
    rule.dst_net = 0x0a000400;
    rule.dst_mask = 0xffffff00;
    rule.src_port_hi = 65535;
    rule.dst_port_lo = rule.dst_port_hi = 80;
    rule.chain_len = 1;
    rule.append_destination = true;
    rule.hops[0] = kNext;
    policies->rules.push_back(rule);
    pipeline.ReplacePolicies(std::move(policies));
    auto auth = std::make_unique<dysco::ListAuthPolicy>();
    auth->ring.Add(1, kKey);
    auth->ring.SetSigning(1);
    auth->unsigned_matches[0] = dysco::UnsignedListMatch{0, 0, 0x0a000400, 0xffffff00, 443, 443};
    auth->unsigned_match_count = 1;
    pipeline.ReplaceListAuth(std::move(auth));

    // The gateway's MAC, learned by answering the ARP request the first SYN sends.
    Initiate(1000, false);
    Require(!io.sent.empty());
    uint8_t reply[60] = {};
    dysco::ArpMessage request;
    Require(dysco::ParseArp(io.sent.data(), io.sent.size(), &request));
    std::memcpy(reply, kSelfMac, 6);
    std::memcpy(reply + 6, kGatewayMac, 6);
    const uint8_t body[] = {0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2};
    std::memcpy(reply + 12, body, sizeof body);
    std::memcpy(reply + 22, kGatewayMac, 6);
    std::memcpy(reply + 28, &kGateway, 4);
    std::memcpy(reply + 32, kSelfMac, 6);
    std::memcpy(reply + 38, &kSelf, 4);
    std::vector<uint8_t> arp(reply, reply + 60);
    AddTemplate(arp, true);
    Run(arp, true);

    const std::vector<uint8_t> i1 = Establish(1001);
    Initiate(1002, true);                         // I2: SYN sent, no answer
    const std::vector<uint8_t> i3 = Establish(1003);
    const std::vector<uint8_t> i4 = Establish(1004);
    // I4: the host's FIN.
    {
      std::vector<uint8_t> fin = Frame(kSelfMac, kGatewayMac,
                                       Tcp{Tuple(kSelf, Port(1004), kServer, Port(80)), dysco::kTcpFin | dysco::kTcpAck, 2, 2});
      Run(fin, false);
      const FiveTuple sub = TupleOf(fin);
      AddTemplate(Frame(kGatewayMac, kSelfMac, Tcp{sub.Reversed(), dysco::kTcpFin | dysco::kTcpAck, 2, 3}), true);
    }
    // I1's data both ways.
    {
      static const uint8_t data[64] = {1};
      AddTemplate(Frame(kSelfMac, kGatewayMac, Tcp{Tuple(kSelf, Port(1001), kServer, Port(80)), dysco::kTcpAck | dysco::kTcpPsh, 2, 2, data, 64}), false);
      AddTemplate(Frame(kGatewayMac, kSelfMac, Tcp{TupleOf(i1).Reversed(), dysco::kTcpAck | dysco::kTcpPsh, 2, 2, data, 64}), true);
    }
    // I3: a new path through kNewHop to the server opens; its SYN-ACK is a template, and I3's data from the host.
    {
      dysco::NewPathSpec spec;
      spec.session_id = i3_index;
      spec.host_tuple = Tuple(kSelf, Port(1003), kServer, Port(80));
      spec.side = dysco::AnchorSide::kRight;
      spec.hop_count = 2;
      spec.nonce = 91;
      spec.hops[0] = kNewHop;
      spec.hops[1] = kServer;
      dysco::Request request{};
      request.type = dysco::RequestType::kOpenNewPath;
      request.args[0] = reinterpret_cast<uint64_t>(&spec);
      pipeline.Serve(request, now);
      if (request.status == dysco::Status::OK && !io.sent.empty() && dysco::ParsePacket(io.sent.data(), io.sent.size()).is_tcp()) {
        const FiveTuple sub = TupleOf(io.sent);
        AddTemplate(Frame(kGatewayMac, kSelfMac, Tcp{sub.Reversed(), dysco::kTcpSyn | dysco::kTcpAck, 9000, 2}), true);
      }
      static const uint8_t data[32] = {3};
      AddTemplate(Frame(kSelfMac, kGatewayMac, Tcp{Tuple(kSelf, Port(1003), kServer, Port(80)), dysco::kTcpAck | dysco::kTcpPsh, 2, 2, data, 32}), false);
      AddTemplate(Frame(kGatewayMac, kSelfMac, Tcp{TupleOf(i3).Reversed(), dysco::kTcpAck, 2, 2}), true);
    }
    (void)i4;
    // M1: a list SYN in, the host's SYN not back yet; its SYN from the host is a template.
    {
      const FiveTuple session = Tuple(kLeft, Port(2001), kServer, Port(80));
      std::vector<uint8_t> syn = ListSyn(session, 62000, true);
      Require(Run(syn, true) == Verdict::kToHost);
      std::vector<uint8_t> host = Frame(kSelfMac, kGatewayMac, Tcp{session, dysco::kTcpSyn, 5000, 0});
      AddTemplate(host, false);
    }
    // M2: set up through this middlebox, its data both ways.
    {
      const FiveTuple session = Tuple(kLeft, Port(2002), kServer, Port(80));
      std::vector<uint8_t> syn = ListSyn(session, 62010, true);
      const FiveTuple left = TupleOf(syn);
      Require(Run(syn, true) == Verdict::kToHost);
      std::vector<uint8_t> host = Frame(kSelfMac, kGatewayMac, Tcp{session, dysco::kTcpSyn, 5000, 0});
      Require(Run(host, false) == Verdict::kToWire);
      const FiveTuple right = TupleOf(host);
      std::vector<uint8_t> syn_ack = Frame(kGatewayMac, kSelfMac, Tcp{right.Reversed(), dysco::kTcpSyn | dysco::kTcpAck, 7000, 5001});
      Require(Run(syn_ack, true) == Verdict::kToHost);
      std::vector<uint8_t> back = Frame(kSelfMac, kGatewayMac, Tcp{session.Reversed(), dysco::kTcpSyn | dysco::kTcpAck, 7000, 5001});
      Require(Run(back, false) == Verdict::kToWire);
      static const uint8_t data[48] = {2};
      AddTemplate(Frame(kGatewayMac, kSelfMac, Tcp{left, dysco::kTcpAck | dysco::kTcpPsh, 5001, 7001, data, 48}), true);
      AddTemplate(Frame(kSelfMac, kGatewayMac, Tcp{session.Reversed(), dysco::kTcpAck | dysco::kTcpPsh, 7001, 5001, data, 48}), false);
      AddTemplate(Frame(kGatewayMac, kSelfMac, Tcp{right.Reversed(), dysco::kTcpFin | dysco::kTcpAck, 7001, 5001}), true);
    }
    // New sessions: list SYNs signed, unsigned (refused, and accepted on port 443), a new path's, and a control datagram.
    AddTemplate(ListSyn(Tuple(kLeft, Port(2100), kServer, Port(80)), 62100, true), true);
    AddTemplate(ListSyn(Tuple(kLeft, Port(2101), kServer, Port(80)), 62102, false), true);
    AddTemplate(ListSyn(Tuple(kLeft, Port(2102), kServer, Port(443)), 62104, false), true);
    AddTemplate(ListSyn(Tuple(kLeft, Port(2103), kServer, Port(80)), 62106, true, true), true);
    {
      static const uint8_t message[40] = {'D', 'Y', 'S', 'C', 1, 7, 0, 24};
      std::vector<uint8_t> udp(1600);
      const dysco::UdpFrameSpec spec{kGatewayMac, kSelfMac, kLeft, kSelf, kControlPort, kControlPort, 3, message, sizeof message};
      udp.resize(dysco::BuildUdpFrame(udp.data(), udp.size(), spec));
      AddTemplate(udp, true);
    }
    AddTemplate(Frame(kSelfMac, kGatewayMac, Tcp{Tuple(kSelf, Port(1100), kServer, Port(80)), dysco::kTcpSyn, 1, 0}), false);
  }

  // A SYN from the host for session (self:port → server:80), sent on with its list.
  std::vector<uint8_t> Initiate(uint16_t port, bool expect_wire) {
    std::vector<uint8_t> syn = Frame(kSelfMac, kGatewayMac, Tcp{Tuple(kSelf, Port(port), kServer, Port(80)), dysco::kTcpSyn, 1, 0});
    const Verdict verdict = Run(syn, false);
    if (expect_wire) Require(verdict == Verdict::kToWire);
    return syn;
  }

  // An initiated session through its SYN-ACK and the host's ACK; returns the subsession SYN it sent.
  std::vector<uint8_t> Establish(uint16_t port) {
    std::vector<uint8_t> syn = Initiate(port, true);
    const FiveTuple sub = TupleOf(syn);
    std::vector<uint8_t> syn_ack = Frame(kGatewayMac, kSelfMac, Tcp{sub.Reversed(), dysco::kTcpSyn | dysco::kTcpAck, 1, 2});
    Require(Run(syn_ack, true) == Verdict::kToHost);
    std::vector<uint8_t> ack = Frame(kSelfMac, kGatewayMac, Tcp{Tuple(kSelf, Port(port), kServer, Port(80)), dysco::kTcpAck, 2, 2});
    Require(Run(ack, false) == Verdict::kToWire);
    if (port == 1003) i3_index = FindIndex(Tuple(kSelf, Port(port), kServer, Port(80)));
    return syn;
  }

  uint32_t FindIndex(const FiveTuple& host_tuple) {
    dysco::SessionSummary summary{};
    dysco::Request request{};
    request.type = dysco::RequestType::kFindSession;
    request.args[0] = reinterpret_cast<uint64_t>(&summary);
    request.args[1] = UINT64_MAX;
    request.args[2] = uint64_t{host_tuple.src_ip} << 32 | host_tuple.dst_ip;
    request.args[3] = uint64_t{host_tuple.src_port} << 16 | host_tuple.dst_port;
    pipeline.Serve(request, now);
    Require(request.status == dysco::Status::OK && request.results[0] == 1);
    return summary.id;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto agent = std::make_unique<Agent>();
  agent->Init();
  size_t at = 0;
  int steps = 0;
  while (at + 2 <= size && steps++ < 64) {
    const uint8_t op = data[at];
    const size_t length = data[at + 1];
    at += 2;
    const size_t take = length < size - at ? length : size - at;
    const uint8_t* bytes = data + at;
    at += take;
    if (op >= 0xf0) {
      switch (op & 3) {
        case 0:  // time passes; what is due expires
          agent->now += 1u + (take > 0 ? bytes[0] : 0) * 250u;
          agent->pipeline.Expire(agent->now, kCapacity);
          break;
        case 1: {  // the control plane gives the new path up, or retires a session
          dysco::Request request{};
          request.type = (take > 0 && (bytes[0] & 1)) ? dysco::RequestType::kRetireSession : dysco::RequestType::kAbandonNewPath;
          request.args[0] = take > 1 ? bytes[1] % kCapacity : agent->i3_index;
          request.args[1] = 91;
          agent->pipeline.Serve(request, agent->now);
          break;
        }
        default: {  // raw bytes, from the wire (2) or the host (3)
          std::vector<uint8_t> frame(bytes, bytes + take);
          agent->Run(frame, (op & 3) == 2);
          break;
        }
      }
      continue;
    }
    // A template, edited: byte pairs (offset, xor), and a last odd byte cuts the frame to that length.
    const size_t which = op % agent->templates.size();
    std::vector<uint8_t> frame = agent->templates[which];
    for (size_t i = 0; i + 1 < take; i += 2) frame[bytes[i] % frame.size()] ^= bytes[i + 1];
    if (take % 2 == 1 && bytes[take - 1] < frame.size()) frame.resize(bytes[take - 1]);
    agent->Run(frame, agent->from_wire[which]);
  }
  agent->pipeline.Expire(agent->now + 600'000, kCapacity);
  agent->pipeline.ReleaseAllHeld();
  return 0;
}
