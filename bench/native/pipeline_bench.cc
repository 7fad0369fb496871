// SessionPipeline cost on synthetic packets, in one process, no I/O (bench/pipeline.ts drives it):
//
//   steady state  a middlebox agent (10.0.2.2/24, gateway 10.0.2.1) holding N established sessions, each
//                 set up by walking the real handshake through the pipeline (subsession SYN with an address
//                 list from the left neighbour, the SYN back down from the host, the SYN-ACKs both ways);
//                 then bursts of 32 data packets (ACK|PSH, 64 bytes of payload) over sessions picked
//                 uniformly at random, bursts alternately from the wire (in_left / in_right) and from the
//                 host (out_right / out_left): TSC cycles per packet at N = 10K and N = 1M.
//   baseline      a minimal forwarder (ParsePacket + swap the Ethernet addresses) on the same bursts, timed
//                 batch by batch alternately with the pipeline.
//   setup         SYNs from the host at an initiator agent, matched by a policy and sent on as subsession
//                 SYNs with the address list appended (next hop already resolved): setups per second.
//                 Rounds alternate without and with list authentication (the list signed: SipHash-2-4).
//   mb setup      at a middlebox: the subsession SYN with its list from the left neighbour (verified when
//                 signed), and the SYN back down from the host sent on with the rest of the list (signed
//                 again): middlebox set-ups per second, plain and authenticated, side by side.
//   data + auth   the steady state at 10K sessions measured again after authentication is installed: data
//                 packets do not look at it, so the two should agree within noise.
//   flood         the same again while a SYN flood churns the set-up pool: a burst of 32 SYNs before every 16
//                 data bursts (one SYN per 16 data packets) from another neighbour, with validly signed lists (a
//                 compromised peer), each set up and each reclaiming the oldest half-open session once the pool
//                 is full. Data cycles per packet are timed apart from the flood's cycles per SYN.
//   memory        SessionPipeline::MemoryBytes() against capacity and live sessions.
//
// Packets are prepared outside the timed region: each batch of 16 bursts is built once ("pristine") and
// copied into the working buffers before each timed pass, so neither building nor copying is counted.
// Every figure is the median over rounds. Output: human-readable progress on stderr, and on stdout one
// `RESULT <name> <value>` or `SAMPLES <name> <v>...` line per figure for the harness to parse.
//
//   bench/native/build.sh && bench/native/build/pipeline_bench [--quick]
//   valgrind --tool=callgrind --toggle-collect=DyscoBenchTimedPipeline
//       bench/native/build/pipeline_bench_callgrind --callgrind pipeline --packets 200000
#include <x86intrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/address_list.h"
#include "core/arp.h"
#include "core/counters.h"
#include "core/list_auth.h"
#include "core/packet_view.h"
#include "core/policy_rules.h"
#include "core/session_pipeline.h"

using dysco::FiveTuple;
using dysco::PipelinePacket;
using dysco::SessionPipeline;
using dysco::Verdict;

namespace {

constexpr uint32_t kBurst = 32;
constexpr uint32_t kBurstsPerBatch = 16;  // a batch: 512 packets, 64 KiB of frames, prepared then timed
constexpr uint32_t kBatchPackets = kBurst * kBurstsPerBatch;
constexpr uint32_t kFrameStride = 128;    // a data frame is 118 bytes
constexpr uint32_t kSynCapacity = 256;    // a SYN grows by its address list
constexpr uint32_t kPayloadBytes = 64;
constexpr uint32_t kNowMs = 1000;
// Data bursts per flood burst (even: as many from the wire as from the host): 32 SYNs per 512 data packets.
constexpr uint32_t kFloodEvery = 16;
constexpr uint8_t kTcpAckPsh = dysco::kTcpAck | dysco::kTcpPsh;

constexpr uint32_t kSteadySizes[] = {10000, 1000000};

struct RunPlan {
  uint32_t steady_rounds;
  uint32_t steady_packets;  // per round
  uint32_t setup_rounds;
  uint32_t setup_sessions;  // per round
};
constexpr RunPlan kFullPlan = {31, 1u << 18, 5, 1000000};
constexpr RunPlan kQuickPlan = {15, 1u << 16, 3, 200000};

// --- addresses ----------------------------------------------------------------------------------------

constexpr uint32_t Ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t{a} | uint32_t{b} << 8 | uint32_t{c} << 16 | uint32_t{d} << 24;  // network order on x86
}
constexpr uint16_t Port(uint32_t host_order) { return __builtin_bswap16(static_cast<uint16_t>(host_order)); }

// The middlebox agent and its neighbours.
constexpr uint32_t kMask24 = Ip(255, 255, 255, 0);
constexpr uint32_t kLeftAgent = Ip(10, 0, 1, 2);  // initiator host and its agent
constexpr uint32_t kMiddlebox = Ip(10, 0, 2, 2);
constexpr uint32_t kMiddleboxGateway = Ip(10, 0, 2, 1);
constexpr uint32_t kServer = Ip(10, 0, 4, 2);
// The initiator agent of the setup measurement.
constexpr uint32_t kInitiator = Ip(10, 0, 1, 2);
constexpr uint32_t kInitiatorGateway = Ip(10, 0, 1, 1);

constexpr uint8_t kMiddleboxMac[6] = {0x02, 0x00, 0x0a, 0x00, 0x02, 0x02};
constexpr uint8_t kMiddleboxGatewayMac[6] = {0x02, 0x00, 0x0a, 0x00, 0x02, 0x01};
constexpr uint8_t kInitiatorMac[6] = {0x02, 0x00, 0x0a, 0x00, 0x01, 0x02};
constexpr uint8_t kInitiatorGatewayMac[6] = {0x02, 0x00, 0x0a, 0x00, 0x01, 0x01};

// The key every agent of the benchmark shares (made up here; a deployment's come from its key files).
constexpr uint8_t kBenchKey[dysco::kSipHashKeyBytes] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
constexpr uint16_t kBenchKeyId = 1;

std::unique_ptr<dysco::ListAuthPolicy> BenchListAuth() {
  auto policy = std::make_unique<dysco::ListAuthPolicy>();
  policy->ring.Add(kBenchKeyId, kBenchKey);
  policy->ring.SetSigning(kBenchKeyId);
  return policy;
}

FiveTuple Tuple(uint32_t src, uint16_t src_port, uint32_t dst, uint16_t dst_port) {
  FiveTuple t;
  t.src_ip = src;
  t.dst_ip = dst;
  t.src_port = src_port;
  t.dst_port = dst_port;
  t.protocol = dysco::kIpProtocolTcp;
  return t;
}

// Session i at the middlebox: the endpoints' tuple, and the left subsession the initiator's agent chose
// (even ports: 10.0.1.2 is the lower address of the pair). Both unique for i < 2000 * 2268.
FiveTuple SessionTuple(uint32_t i) { return Tuple(kLeftAgent, Port(1024 + i % 60000), kServer, Port(80 + i / 60000)); }
FiveTuple LeftSubsession(uint32_t i) {
  return Tuple(kLeftAgent, Port(61000 + 2 * (i % 2000)), kMiddlebox, Port(61000 + 2 * (i / 2000)));
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "pipeline_bench: check failed: %s\n", what);
  std::exit(2);
}
void Check(bool ok, const char* what) {
  if (!ok) Fail(what);
}

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline uint64_t Tsc() {
  _mm_lfence();
  const uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

double NowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double TscHz() {
  const double w0 = NowSeconds();
  const uint64_t t0 = Tsc();
  while (NowSeconds() - w0 < 0.1) {
  }
  const uint64_t t1 = Tsc();
  return static_cast<double>(t1 - t0) / (NowSeconds() - w0);
}

// Core clock against the TSC: a chain of dependent adds runs at one per core cycle. Context only (every
// figure is in TSC cycles); turbo makes the core faster than the TSC on most machines.
double CoreCyclesPerTscCycle() {
  constexpr uint64_t kAdds = 40000000;
  uint64_t x = 0;
  const uint64_t t0 = Tsc();
  for (uint64_t i = 0; i < kAdds / 4; ++i) {
    asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
  }
  const uint64_t t1 = Tsc();
  return static_cast<double>(kAdds) / static_cast<double>(t1 - t0);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// --- frames (own builder and checksum, independent of native/core/checksum.h) ---------------------------

uint32_t SumWords(const uint8_t* p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t{p[i]} << 8 | p[i + 1];
  if (n & 1) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}
uint16_t FoldComplement(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint32_t TcpPseudoSum(const uint8_t* ip, uint32_t tcp_length) {
  uint32_t sum = SumWords(ip + 12, 8, 0);
  return sum + dysco::kIpProtocolTcp + tcp_length;
}

void WriteChecksums(uint8_t* frame) {
  uint8_t* ip = frame + 14;
  const uint32_t ihl = (ip[0] & 0x0f) * 4u;
  const uint32_t total = uint32_t{ip[2]} << 8 | ip[3];
  ip[10] = ip[11] = 0;
  const uint16_t ip_sum = FoldComplement(SumWords(ip, ihl, 0));
  ip[10] = static_cast<uint8_t>(ip_sum >> 8);
  ip[11] = static_cast<uint8_t>(ip_sum);
  uint8_t* tcp = ip + ihl;
  tcp[16] = tcp[17] = 0;
  const uint16_t tcp_sum = FoldComplement(SumWords(tcp, total - ihl, TcpPseudoSum(ip, total - ihl)));
  tcp[16] = static_cast<uint8_t>(tcp_sum >> 8);
  tcp[17] = static_cast<uint8_t>(tcp_sum);
}

bool ChecksumsValid(const uint8_t* frame) {
  const uint8_t* ip = frame + 14;
  const uint32_t ihl = (ip[0] & 0x0f) * 4u;
  const uint32_t total = uint32_t{ip[2]} << 8 | ip[3];
  if (FoldComplement(SumWords(ip, ihl, 0)) != 0) return false;
  return FoldComplement(SumWords(ip + ihl, total - ihl, TcpPseudoSum(ip, total - ihl))) == 0;
}

// MSS 1460, SACK permitted, timestamps, NOP, window scale 7: 20 bytes.
constexpr uint8_t kSynOptions[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 3, 3, 7};

uint32_t BuildTcp(uint8_t* f, const uint8_t* dst_mac, const uint8_t* src_mac, const FiveTuple& t, uint8_t flags,
                  const uint8_t* options, uint32_t options_length, const uint8_t* payload, uint32_t payload_length) {
  std::memcpy(f, dst_mac, 6);
  std::memcpy(f + 6, src_mac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t* ip = f + 14;
  const uint32_t tcp_header = 20 + options_length;
  const uint32_t total = 20 + tcp_header + payload_length;
  ip[0] = 0x45;
  ip[1] = 0;
  ip[2] = static_cast<uint8_t>(total >> 8);
  ip[3] = static_cast<uint8_t>(total);
  ip[4] = 0x12;
  ip[5] = 0x34;
  ip[6] = 0x40;  // DF
  ip[7] = 0;
  ip[8] = 64;
  ip[9] = dysco::kIpProtocolTcp;
  std::memcpy(ip + 12, &t.src_ip, 4);
  std::memcpy(ip + 16, &t.dst_ip, 4);
  uint8_t* tcp = ip + 20;
  std::memcpy(tcp, &t.src_port, 2);
  std::memcpy(tcp + 2, &t.dst_port, 2);
  const uint32_t seq = 0x01000000u + t.src_port;
  const uint32_t ack = (flags & dysco::kTcpAck) ? 0x02000000u + t.dst_port : 0;
  for (int b = 0; b < 4; ++b) {
    tcp[4 + b] = static_cast<uint8_t>(seq >> (24 - 8 * b));
    tcp[8 + b] = static_cast<uint8_t>(ack >> (24 - 8 * b));
  }
  tcp[12] = static_cast<uint8_t>((tcp_header / 4) << 4);
  tcp[13] = flags;
  tcp[14] = 0xff;
  tcp[15] = 0xff;
  tcp[18] = tcp[19] = 0;
  if (options_length) std::memcpy(tcp + 20, options, options_length);
  if (payload_length) std::memcpy(tcp + tcp_header, payload, payload_length);
  WriteChecksums(f);
  return 14 + total;
}

FiveTuple FrameTuple(const uint8_t* f) {
  FiveTuple t;
  std::memcpy(&t.src_ip, f + 26, 4);
  std::memcpy(&t.dst_ip, f + 30, 4);
  const uint32_t l4 = 14 + (f[14] & 0x0f) * 4u;
  std::memcpy(&t.src_port, f + l4, 2);
  std::memcpy(&t.dst_port, f + l4 + 2, 2);
  t.protocol = f[23];
  return t;
}

uint32_t BuildArpReply(uint8_t* f, const uint8_t* dst_mac, const uint8_t* sender_mac, uint32_t sender_ip,
                       uint32_t target_ip) {
  std::memset(f, 0, dysco::kEthernetMinFrameSize);
  std::memcpy(f, dst_mac, 6);
  std::memcpy(f + 6, sender_mac, 6);
  f[12] = 0x08;
  f[13] = 0x06;
  uint8_t* a = f + 14;
  a[1] = 1;     // Ethernet
  a[2] = 0x08;  // IPv4
  a[4] = 6;
  a[5] = 4;
  a[7] = static_cast<uint8_t>(dysco::kArpOpReply);
  std::memcpy(a + 8, sender_mac, 6);
  std::memcpy(a + 14, &sender_ip, 4);
  std::memcpy(a + 18, dst_mac, 6);
  std::memcpy(a + 24, &target_ip, 4);
  return dysco::kEthernetMinFrameSize;
}

// --- the pipeline's environment --------------------------------------------------------------------------

class CountingIo final : public dysco::PipelineIo {
 public:
  bool SendFrame(const uint8_t* frame, uint32_t length) override {
    ++frames_sent;
    last_frame.assign(frame, frame + length);
    return true;
  }
  void ReleaseHeld(void* handle, const uint8_t* mac) override {
    ++released;
    if (mac == nullptr) {
      ++release_failed;
      return;
    }
    std::memcpy(static_cast<PipelinePacket*>(handle)->data, mac, 6);
  }

  uint64_t frames_sent = 0;
  uint64_t released = 0;
  uint64_t release_failed = 0;
  std::vector<uint8_t> last_frame;
};

struct Agent {
  std::unique_ptr<dysco::LcoreCounters> counters = std::make_unique<dysco::LcoreCounters>();
  CountingIo io;
  SessionPipeline pipeline;
};

uint64_t TotalDrops(const dysco::LcoreCounters& c) {
  uint64_t n = 0;
  for (const auto& d : c.drops) n += d.Read();
  return n;
}

// Answers the ARP request the pipeline just sent for `gateway` and checks the held packet came back.
void AnswerArp(Agent& agent, uint32_t host, const uint8_t* host_mac, uint32_t gateway, const uint8_t* gateway_mac) {
  Check(agent.io.frames_sent == 1, "one ARP request sent");
  dysco::ArpMessage request;
  Check(dysco::ParseArp(agent.io.last_frame.data(), agent.io.last_frame.size(), &request), "ARP request parses");
  Check(request.op == dysco::kArpOpRequest && request.target_ip_be == gateway && request.sender_ip_be == host,
        "ARP request asks for the gateway");
  uint8_t reply[dysco::kEthernetMinFrameSize];
  PipelinePacket packet{reply, BuildArpReply(reply, host_mac, gateway_mac, gateway, host), sizeof reply, nullptr};
  Verdict verdict;
  agent.pipeline.FromWire(&packet, 1, kNowMs, &verdict);
  Check(agent.io.released == 1 && agent.io.release_failed == 0, "the held SYN was released with a MAC");
}

// --- steady state at a middlebox -------------------------------------------------------------------------

struct Middlebox {
  Agent agent;
  uint32_t sessions = 0;
  std::vector<uint32_t> right_ports;  // per session: the right subsession's src and dst ports (network order)

  FiveTuple RightSubsession(uint32_t i) const {
    const uint32_t p = right_ports[i];
    return Tuple(kMiddlebox, static_cast<uint16_t>(p >> 16), kServer, static_cast<uint16_t>(p));
  }
};

void ProcessSingle(SessionPipeline& p, bool from_wire, PipelinePacket* packets, uint32_t n, Verdict* verdicts) {
  if (from_wire) {
    p.FromWire(packets, n, kNowMs, verdicts);
  } else {
    p.FromHost(packets, n, kNowMs, verdicts);
  }
}

// Sets up sessions [0, n) with the real handshake, 32 at a time (the first alone: it resolves the gateway).
// `left_signer`: the left neighbour signs its lists (the middlebox has authentication installed). `setup_cycles`:
// adds the TSC cycles of steps 1 and 2, the middlebox's set-up work, for every burst but the first.
void Populate(Middlebox& mb, uint32_t n, const dysco::ListKeyRing* left_signer = nullptr, uint64_t* setup_cycles = nullptr) {
  SessionPipeline& p = mb.agent.pipeline;
  mb.right_ports.assign(n, 0);
  std::vector<uint8_t> storage(kBurst * kSynCapacity);
  PipelinePacket packets[kBurst];
  Verdict verdicts[kBurst];
  uint8_t list[dysco::kMaxSignedAddressListSize];
  const uint32_t hops[2] = {kMiddlebox, kServer};
  const uint32_t now_s = static_cast<uint32_t>(std::time(nullptr));
  for (uint32_t done = 0; done < n;) {
    const bool first = done == 0;
    const uint32_t count = first ? 1 : std::min(kBurst, n - done);
    // 1. The subsession SYN from the left neighbour, with the address list [10.0.2.2, 10.0.4.2].
    for (uint32_t j = 0; j < count; ++j) {
      uint8_t* f = &storage[j * kSynCapacity];
      size_t list_size = dysco::EncodeAddressList(SessionTuple(done + j), hops, 2, list, sizeof list);
      if (left_signer != nullptr) {
        const FiveTuple sub = LeftSubsession(done + j);
        uint8_t carrier[dysco::kListCarrierBytes];
        dysco::ListCarrierOf(sub, carrier);
        list_size = dysco::SignAddressList(list, list_size, sizeof list, *left_signer, now_s, carrier);
      }
      const uint32_t length = BuildTcp(f, kMiddleboxMac, kMiddleboxGatewayMac, LeftSubsession(done + j), dysco::kTcpSyn,
                                       kSynOptions, sizeof kSynOptions, list, static_cast<uint32_t>(list_size));
      packets[j] = PipelinePacket{f, length, kSynCapacity, &packets[j]};
    }
    const uint64_t t0 = Tsc();
    p.FromWire(packets, count, kNowMs, verdicts);
    const uint64_t t1 = Tsc();
    for (uint32_t j = 0; j < count; ++j) {
      Check(verdicts[j] == Verdict::kToHost, "accepted SYN goes to the host");
      Check(FrameTuple(packets[j].data) == SessionTuple(done + j), "accepted SYN carries the session tuple");
    }
    // 2. The middlebox's stack sends each SYN on unchanged, toward its gateway.
    for (uint32_t j = 0; j < count; ++j) {
      std::memcpy(packets[j].data, kMiddleboxGatewayMac, 6);
      std::memcpy(packets[j].data + 6, kMiddleboxMac, 6);
    }
    const uint64_t t2 = Tsc();
    p.FromHost(packets, count, kNowMs, verdicts);
    const uint64_t t3 = Tsc();
    if (setup_cycles != nullptr && !first) *setup_cycles += (t1 - t0) + (t3 - t2);
    if (first) {
      Check(verdicts[0] == Verdict::kHeld, "the first SYN waits for ARP");
      AnswerArp(mb.agent, kMiddlebox, kMiddleboxMac, kMiddleboxGateway, kMiddleboxGatewayMac);
      verdicts[0] = Verdict::kToWire;
    }
    for (uint32_t j = 0; j < count; ++j) {
      const uint8_t* f = packets[j].data;
      Check(verdicts[j] == Verdict::kToWire, "completed SYN goes to the wire");
      Check(std::memcmp(f, kMiddleboxGatewayMac, 6) == 0, "completed SYN goes to the gateway's MAC");
      const FiveTuple right = FrameTuple(f);
      Check(right.src_ip == kMiddlebox && right.dst_ip == kServer, "right subsession is 10.0.2.2 -> 10.0.4.2");
      Check(ChecksumsValid(f), "completed SYN checksums");
      if (left_signer != nullptr) {
        const dysco::PacketLayout layout = dysco::ParsePacket(f, packets[j].length);
        Check(layout.payload_length() == dysco::AddressListSize(1) + dysco::kListAuthBlockSize &&
                  (f[layout.payload_offset + dysco::kAddressListFlagsOffset] & dysco::kAddressListFlagAuthenticated) != 0,
              "completed SYN carries its list signed");
      }
      mb.right_ports[done + j] = uint32_t{right.src_port} << 16 | right.dst_port;
    }
    // 3. The SYN-ACK from the right neighbour.
    for (uint32_t j = 0; j < count; ++j) {
      uint8_t* f = &storage[j * kSynCapacity];
      const uint32_t length = BuildTcp(f, kMiddleboxMac, kMiddleboxGatewayMac, mb.RightSubsession(done + j).Reversed(),
                                       dysco::kTcpSyn | dysco::kTcpAck, kSynOptions, sizeof kSynOptions, nullptr, 0);
      packets[j] = PipelinePacket{f, length, kSynCapacity, &packets[j]};
    }
    p.FromWire(packets, count, kNowMs, verdicts);
    for (uint32_t j = 0; j < count; ++j) {
      Check(verdicts[j] == Verdict::kToHost, "SYN-ACK goes to the host");
      Check(FrameTuple(packets[j].data) == SessionTuple(done + j).Reversed(), "SYN-ACK carries the session tuple");
    }
    // 4. The middlebox's stack sends the SYN-ACK on toward the left neighbour.
    for (uint32_t j = 0; j < count; ++j) {
      std::memcpy(packets[j].data, kMiddleboxGatewayMac, 6);
      std::memcpy(packets[j].data + 6, kMiddleboxMac, 6);
    }
    p.FromHost(packets, count, kNowMs, verdicts);
    for (uint32_t j = 0; j < count; ++j) {
      Check(verdicts[j] == Verdict::kToWire, "SYN-ACK goes to the wire");
      Check(FrameTuple(packets[j].data) == LeftSubsession(done + j).Reversed(), "SYN-ACK carries the left subsession");
      Check(ChecksumsValid(packets[j].data), "SYN-ACK checksums");
    }
    done += count;
  }
  mb.sessions = n;
  Check(p.active_sessions() == n, "every session is live");
  Check(p.counters().established.Read() == n, "every session is established");
  Check(TotalDrops(*mb.agent.counters) == 0, "no drops while populating");
  if (left_signer != nullptr) Check(p.counters().lists_verified.Read() == n, "every list verified");
}

// A data packet of session i in translation direction `kind`, as it arrives at the pipeline.
uint32_t BuildData(const Middlebox& mb, uint8_t* f, uint32_t i, dysco::TranslationKind kind) {
  static const uint8_t payload[kPayloadBytes] = {};
  FiveTuple t;
  switch (kind) {
    case dysco::kInLeft: t = LeftSubsession(i); break;
    case dysco::kInRight: t = mb.RightSubsession(i).Reversed(); break;
    case dysco::kOutRight: t = SessionTuple(i); break;
    default: t = SessionTuple(i).Reversed(); break;
  }
  const bool from_wire = kind == dysco::kInLeft || kind == dysco::kInRight;
  return BuildTcp(f, from_wire ? kMiddleboxMac : kMiddleboxGatewayMac, from_wire ? kMiddleboxGatewayMac : kMiddleboxMac,
                  t, kTcpAckPsh, nullptr, 0, payload, kPayloadBytes);
}

FiveTuple Expected(const Middlebox& mb, uint32_t i, dysco::TranslationKind kind) {
  switch (kind) {
    case dysco::kInLeft: return SessionTuple(i);
    case dysco::kInRight: return SessionTuple(i).Reversed();
    case dysco::kOutRight: return mb.RightSubsession(i);
    default: return LeftSubsession(i).Reversed();
  }
}

// Every direction of a sample of sessions, one packet at a time: tuple, MAC and checksums after translation.
void CheckTranslations(Middlebox& mb, uint64_t* rng) {
  alignas(64) uint8_t frame[kFrameStride];
  for (int s = 0; s < 64; ++s) {
    const uint32_t i = static_cast<uint32_t>(SplitMix(rng) % mb.sessions);
    for (int k = 0; k < dysco::kTranslationKinds; ++k) {
      const auto kind = static_cast<dysco::TranslationKind>(k);
      const bool from_wire = kind == dysco::kInLeft || kind == dysco::kInRight;
      PipelinePacket packet{frame, BuildData(mb, frame, i, kind), kFrameStride, nullptr};
      Verdict verdict;
      ProcessSingle(mb.agent.pipeline, from_wire, &packet, 1, &verdict);
      Check(verdict == (from_wire ? Verdict::kToHost : Verdict::kToWire), "data verdict");
      Check(FrameTuple(frame) == Expected(mb, i, kind), "data translated to the expected tuple");
      Check(ChecksumsValid(frame), "data checksums after translation");
      if (!from_wire) Check(std::memcmp(frame, kMiddleboxGatewayMac, 6) == 0, "data to the wire goes to the gateway");
    }
  }
}

// A batch: 16 bursts of 32, even bursts from the wire (in_left / in_right), odd from the host
// (out_right / out_left), each packet of a uniformly random session and a random direction of its port.
struct Batch {
  alignas(64) uint8_t pristine[kBatchPackets * kFrameStride];
  alignas(64) uint8_t work[kBatchPackets * kFrameStride];
  uint32_t lengths[kBatchPackets];
  PipelinePacket packets[kBatchPackets];
  Verdict verdicts[kBatchPackets];

  void Build(const Middlebox& mb, uint64_t* rng) {
    for (uint32_t b = 0; b < kBurstsPerBatch; ++b) {
      const bool from_wire = (b & 1) == 0;
      for (uint32_t j = 0; j < kBurst; ++j) {
        const uint64_t r = SplitMix(rng);
        const uint32_t i = static_cast<uint32_t>((r >> 1) % mb.sessions);
        const dysco::TranslationKind kind =
            from_wire ? ((r & 1) ? dysco::kInLeft : dysco::kInRight) : ((r & 1) ? dysco::kOutRight : dysco::kOutLeft);
        const uint32_t x = b * kBurst + j;
        lengths[x] = BuildData(mb, pristine + x * kFrameStride, i, kind);
      }
    }
  }
  // Restores the pristine bytes (outside the timed region).
  void Reset() {
    std::memcpy(work, pristine, sizeof work);
    for (uint32_t x = 0; x < kBatchPackets; ++x) packets[x] = PipelinePacket{work + x * kFrameStride, lengths[x], kFrameStride, nullptr};
  }
  bool VerdictsAsExpected() const {
    for (uint32_t x = 0; x < kBatchPackets; ++x) {
      const bool from_wire = ((x / kBurst) & 1) == 0;
      if (verdicts[x] != (from_wire ? Verdict::kToHost : Verdict::kToWire)) return false;
    }
    return true;
  }
};

}  // namespace

// The timed regions, kept out of line under fixed names for callgrind's --toggle-collect.
extern "C" __attribute__((noinline, noclone)) void DyscoBenchTimedPipeline(SessionPipeline* pipeline, PipelinePacket* packets,
                                                                  Verdict* verdicts, uint32_t bursts) {
  for (uint32_t b = 0; b < bursts; ++b) {
    PipelinePacket* burst = packets + b * kBurst;
    Verdict* out = verdicts + b * kBurst;
    if ((b & 1) == 0) {
      pipeline->FromWire(burst, kBurst, kNowMs, out);
    } else {
      pipeline->FromHost(burst, kBurst, kNowMs, out);
    }
  }
}

// The baseline: a minimal forwarder, parse + swap the Ethernet addresses, same verdicts.
extern "C" __attribute__((noinline, noclone)) void DyscoBenchTimedForwarder(PipelinePacket* packets, Verdict* verdicts,
                                                                   uint32_t bursts) {
  for (uint32_t b = 0; b < bursts; ++b) {
    const Verdict pass = (b & 1) == 0 ? Verdict::kToHost : Verdict::kToWire;
    for (uint32_t j = 0; j < kBurst; ++j) {
      PipelinePacket& packet = packets[b * kBurst + j];
      const dysco::PacketLayout layout = dysco::ParsePacket(packet.data, packet.length);
      if (!layout.ok()) {
        verdicts[b * kBurst + j] = Verdict::kDrop;
        continue;
      }
      uint8_t mac[6];
      std::memcpy(mac, packet.data, 6);
      std::memcpy(packet.data, packet.data + 6, 6);
      std::memcpy(packet.data + 6, mac, 6);
      verdicts[b * kBurst + j] = pass;
    }
  }
}

namespace {

// `capacity`: sessions the table holds (default: exactly `sessions`).
bool InitMiddlebox(Middlebox& mb, uint32_t sessions, uint32_t capacity = 0) {
  dysco::PipelineConfig config;
  config.host_ip = kMiddlebox;
  config.prefix_mask = kMask24;
  config.gateway_ip = kMiddleboxGateway;
  config.max_sessions = capacity != 0 ? capacity : sessions;
  return mb.agent.pipeline.Init(config, mb.agent.counters.get(), &mb.agent.io);
}

struct SteadyResult {
  std::vector<double> pipeline_cycles;  // per packet, one per round
  std::vector<double> forwarder_cycles;
  std::vector<double> flood_cycles;  // per flood SYN, one per round (a flood run only)
};

// SYNs of a flood from another neighbour (10.0.1.3), each with a list for this middlebox signed with the bench's
// key and a tuple no earlier one had.
struct FloodBurst {
  alignas(64) uint8_t frames[kBurst * kSynCapacity];
  PipelinePacket packets[kBurst];
  Verdict verdicts[kBurst];
  uint32_t next = 0;
  dysco::ListKeyRing ring;

  FloodBurst() {
    ring.Add(kBenchKeyId, kBenchKey);
    ring.SetSigning(kBenchKeyId);
  }

  void Build() {
    const uint32_t flooder = Ip(10, 0, 1, 3);
    const uint32_t hops[2] = {kMiddlebox, kServer};
    const uint32_t now_s = static_cast<uint32_t>(std::time(nullptr));
    for (uint32_t j = 0; j < kBurst; ++j, ++next) {
      const FiveTuple session = Tuple(flooder, Port(1024 + next % 60000), kServer, Port(1000 + next / 60000 % 4000));
      const FiveTuple sub = Tuple(flooder, Port(61000 + next % 4000), kMiddlebox, Port(61000 + next / 4000 % 4000));
      uint8_t list[dysco::kMaxSignedAddressListSize];
      size_t size = dysco::EncodeAddressList(session, hops, 2, list, sizeof list);
      uint8_t carrier[dysco::kListCarrierBytes];
      dysco::ListCarrierOf(sub, carrier);
      size = dysco::SignAddressList(list, size, sizeof list, ring, now_s, carrier);
      uint8_t* f = frames + j * kSynCapacity;
      const uint32_t length = BuildTcp(f, kMiddleboxMac, kMiddleboxGatewayMac, sub, dysco::kTcpSyn, kSynOptions,
                                       sizeof kSynOptions, list, static_cast<uint32_t>(size));
      packets[j] = PipelinePacket{f, length, kSynCapacity, &packets[j]};
    }
  }
};

// `syns`: the flood to interleave with the data (nullptr: none).
SteadyResult MeasureSteady(Middlebox& mb, const RunPlan& plan, uint64_t* rng, FloodBurst* syns = nullptr) {
  auto batch = std::make_unique<Batch>();
  const bool flood = syns != nullptr;
  const uint32_t batches = plan.steady_packets / kBatchPackets;
  SteadyResult result;
  for (uint32_t round = 0; round <= plan.steady_rounds; ++round) {  // round 0 warms up
    uint64_t pipeline_cycles = 0;
    uint64_t forwarder_cycles = 0;
    uint64_t flood_cycles = 0;
    for (uint32_t k = 0; k < batches; ++k) {
      batch->Build(mb, rng);
      batch->Reset();
      uint64_t t0, t1;
      if (flood) {
        // A flood burst before every kFloodEvery data bursts, the data timed with the flood's work in the caches
        // between.
        for (uint32_t b = 0; b < kBurstsPerBatch; b += kFloodEvery) {
          syns->Build();
          t0 = Tsc();
          mb.agent.pipeline.FromWire(syns->packets, kBurst, kNowMs, syns->verdicts);
          t1 = Tsc();
          flood_cycles += t1 - t0;
          for (uint32_t j = 0; j < kBurst; ++j) Check(syns->verdicts[j] == Verdict::kToHost, "a flood SYN is set up");
          t0 = Tsc();
          DyscoBenchTimedPipeline(&mb.agent.pipeline, batch->packets + b * kBurst, batch->verdicts + b * kBurst, kFloodEvery);
          t1 = Tsc();
          pipeline_cycles += t1 - t0;
        }
      } else {
        t0 = Tsc();
        DyscoBenchTimedPipeline(&mb.agent.pipeline, batch->packets, batch->verdicts, kBurstsPerBatch);
        t1 = Tsc();
        pipeline_cycles += t1 - t0;
      }
      Check(batch->VerdictsAsExpected(), "steady-state verdicts");
      batch->Reset();
      t0 = Tsc();
      DyscoBenchTimedForwarder(batch->packets, batch->verdicts, kBurstsPerBatch);
      t1 = Tsc();
      forwarder_cycles += t1 - t0;
      Check(batch->VerdictsAsExpected(), "forwarder verdicts");
    }
    if (round == 0) continue;
    const double packets = static_cast<double>(batches) * kBatchPackets;
    result.pipeline_cycles.push_back(static_cast<double>(pipeline_cycles) / packets);
    result.forwarder_cycles.push_back(static_cast<double>(forwarder_cycles) / packets);
    if (flood) result.flood_cycles.push_back(static_cast<double>(flood_cycles) / (packets / kFloodEvery));
  }
  Check(TotalDrops(*mb.agent.counters) == 0, "no drops in steady state");
  return result;
}

void PrintSamples(const char* name, const std::vector<double>& v) {
  std::printf("SAMPLES %s", name);
  for (double x : v) std::printf(" %.3f", x);
  std::printf("\n");
}

// A figure's samples, then its median as `RESULT <result> <median>` (`format`: the median's printf conversion).
void PrintFigure(const char* samples, const char* result, const std::vector<double>& v, const char* format = "%.2f") {
  PrintSamples(samples, v);
  std::printf("RESULT %s ", result);
  std::printf(format, Median(v));
  std::printf("\n");
}

// --- SYN setup at an initiator ---------------------------------------------------------------------------

std::unique_ptr<Agent> MakeInitiator(uint32_t sessions, bool auth) {
  auto agent = std::make_unique<Agent>();
  dysco::PipelineConfig config;
  config.host_ip = kInitiator;
  config.prefix_mask = kMask24;
  config.gateway_ip = kInitiatorGateway;
  config.max_sessions = sessions;
  config.max_setups = dysco::SessionTable::kMaxSetups;
  config.max_second_paths = 4096;
  if (!agent->pipeline.Init(config, agent->counters.get(), &agent->io)) Fail("initiator Init");
  auto policies = std::make_unique<dysco::PolicySet>();
  dysco::PolicyRule rule{};
  rule.src_net = 0;
  rule.src_mask = 0;
  rule.dst_net = 0x0a000400;  // 10.0.4.0/24, host order
  rule.dst_mask = 0xffffff00;
  rule.src_port_lo = 0;
  rule.src_port_hi = 65535;
  rule.dst_port_lo = 80;
  rule.dst_port_hi = 80;
  rule.rule_id = 7;
  rule.chain_len = 1;
  rule.append_destination = true;
  rule.hops[0] = kMiddlebox;
  policies->rules.push_back(rule);
  agent->pipeline.ReplacePolicies(std::move(policies));
  if (auth) agent->pipeline.ReplaceListAuth(BenchListAuth());
  return agent;
}

// Session i at the initiator: 10.0.1.2:(1024 + i % 60000) -> 10.0.4.(2 + i / 60000):80.
FiveTuple InitiatorSession(uint32_t i) {
  return Tuple(kInitiator, Port(1024 + i % 60000), Ip(10, 0, 4, static_cast<uint8_t>(2 + i / 60000)), Port(80));
}

// Answers the SYNs of `subsessions` with SYN-ACKs from the wire (untimed), so that their set-up slots
// return to the pool: a pool holds at most SessionTable::kMaxSetups sessions waiting for a SYN-ACK.
void EstablishAll(Agent& agent, std::vector<FiveTuple>* subsessions) {
  std::vector<uint8_t> storage(kBurst * kSynCapacity);
  PipelinePacket packets[kBurst];
  Verdict verdicts[kBurst];
  for (size_t done = 0; done < subsessions->size();) {
    const uint32_t count = static_cast<uint32_t>(std::min<size_t>(kBurst, subsessions->size() - done));
    for (uint32_t j = 0; j < count; ++j) {
      uint8_t* f = &storage[j * kSynCapacity];
      const uint32_t length = BuildTcp(f, kInitiatorMac, kInitiatorGatewayMac, (*subsessions)[done + j].Reversed(),
                                       dysco::kTcpSyn | dysco::kTcpAck, kSynOptions, sizeof kSynOptions, nullptr, 0);
      packets[j] = PipelinePacket{f, length, kSynCapacity, &packets[j]};
    }
    agent.pipeline.FromWire(packets, count, kNowMs, verdicts);
    for (uint32_t j = 0; j < count; ++j) Check(verdicts[j] == Verdict::kToHost, "SYN-ACK delivered to the host");
    done += count;
  }
  subsessions->clear();
}

// Seconds of TSC spent setting up `sessions` sessions (the first, which resolves the gateway, not counted);
// `auth`: the initiator signs its lists.
double MeasureSetup(uint32_t sessions, double tsc_hz, bool auth) {
  std::unique_ptr<Agent> agent = MakeInitiator(sessions + 1, auth);
  const size_t list_size = dysco::AddressListSize(2) + (auth ? dysco::kListAuthBlockSize : 0);
  std::vector<uint8_t> storage(kBurst * kSynCapacity);
  PipelinePacket packets[kBurst];
  Verdict verdicts[kBurst];
  auto build = [&](uint32_t j, uint32_t i) {
    uint8_t* f = &storage[j * kSynCapacity];
    const uint32_t length = BuildTcp(f, kInitiatorGatewayMac, kInitiatorMac, InitiatorSession(i), dysco::kTcpSyn,
                                     kSynOptions, sizeof kSynOptions, nullptr, 0);
    packets[j] = PipelinePacket{f, length, kSynCapacity, &packets[j]};
  };
  // Session 0 resolves the gateway and is checked byte by byte.
  build(0, 0);
  const uint32_t syn_length = packets[0].length;
  agent->pipeline.FromHost(packets, 1, kNowMs, verdicts);
  Check(verdicts[0] == Verdict::kHeld, "the initiator's first SYN waits for ARP");
  AnswerArp(*agent, kInitiator, kInitiatorMac, kInitiatorGateway, kInitiatorGatewayMac);
  {
    const uint8_t* f = packets[0].data;
    const FiveTuple sub = FrameTuple(f);
    Check(sub.src_ip == kInitiator && sub.dst_ip == kMiddlebox, "subsession SYN goes to the first hop");
    Check(std::memcmp(f, kInitiatorGatewayMac, 6) == 0, "subsession SYN to the gateway's MAC");
    Check(ChecksumsValid(f), "subsession SYN checksums");
    const dysco::PacketLayout layout = dysco::ParsePacket(f, packets[0].length);
    dysco::AddressList list;
    Check(layout.is_tcp() && dysco::ParseAddressList(f + layout.payload_offset, layout.payload_length(), &list) ==
                                 dysco::AddressListStatus::kOk,
          "subsession SYN carries an address list");
    Check(list.hop_count == 2 && list.hops[0] == kMiddlebox && list.hops[1] == InitiatorSession(0).dst_ip &&
              list.session == InitiatorSession(0) && list.authenticated == auth,
          "address list is [middlebox, destination] for the session, signed with authentication");
  }
  uint64_t cycles = 0;
  std::vector<FiveTuple> waiting{FrameTuple(packets[0].data)};
  for (uint32_t done = 1; done <= sessions;) {
    if (waiting.size() + kBurst > dysco::SessionTable::kMaxSetups) EstablishAll(*agent, &waiting);
    const uint32_t count = std::min(kBurst, sessions + 1 - done);
    for (uint32_t j = 0; j < count; ++j) build(j, done + j);
    const uint64_t t0 = Tsc();
    agent->pipeline.FromHost(packets, count, kNowMs, verdicts);
    const uint64_t t1 = Tsc();
    cycles += t1 - t0;
    for (uint32_t j = 0; j < count; ++j) {
      if (verdicts[j] != Verdict::kToWire || packets[j].length != syn_length + list_size) {
        Fail("subsession SYN sent with its list");
      }
      waiting.push_back(FrameTuple(packets[j].data));
    }
    done += count;
  }
  Check(agent->pipeline.counters().sessions_initiated.Read() == sessions + 1, "every SYN initiated a session");
  Check(TotalDrops(*agent->counters) == 0, "no drops while setting up");
  Check(agent->pipeline.counters().lists_signed.Read() == (auth ? sessions + 1 : 0), "signed lists with authentication");
  return static_cast<double>(cycles) / tsc_hz;
}

// Middlebox set-ups per second over `sessions` sessions, with or without list authentication.
double MeasureMiddleboxSetup(uint32_t sessions, double tsc_hz, bool auth) {
  auto mb = std::make_unique<Middlebox>();
  if (!InitMiddlebox(*mb, sessions + 1)) Fail("middlebox Init");
  std::unique_ptr<dysco::ListAuthPolicy> left = BenchListAuth();
  if (auth) mb->agent.pipeline.ReplaceListAuth(BenchListAuth());
  uint64_t cycles = 0;
  Populate(*mb, sessions + 1, auth ? &left->ring : nullptr, &cycles);
  return sessions / (static_cast<double>(cycles) / tsc_hz);
}

int RunCallgrind(const std::string& which, uint32_t packets) {
  Middlebox mb;
  if (!InitMiddlebox(mb, kSteadySizes[0])) Fail("middlebox Init");
  Populate(mb, kSteadySizes[0]);
  uint64_t rng = 0x5eed;
  auto batch = std::make_unique<Batch>();
  const uint32_t batches = (packets + kBatchPackets - 1) / kBatchPackets;
  for (uint32_t k = 0; k < batches; ++k) {
    batch->Build(mb, &rng);
    batch->Reset();
    if (which == "pipeline") {
      DyscoBenchTimedPipeline(&mb.agent.pipeline, batch->packets, batch->verdicts, kBurstsPerBatch);
    } else {
      DyscoBenchTimedForwarder(batch->packets, batch->verdicts, kBurstsPerBatch);
    }
    Check(batch->VerdictsAsExpected(), "callgrind verdicts");
  }
  std::printf("RESULT callgrind_function %s\n", which == "pipeline" ? "DyscoBenchTimedPipeline" : "DyscoBenchTimedForwarder");
  std::printf("RESULT callgrind_packets %u\n", batches * kBatchPackets);
  std::printf("RESULT callgrind_sessions %u\n", mb.sessions);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string callgrind;
  uint32_t callgrind_packets = 200000;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--callgrind" && a + 1 < argc) {
      callgrind = argv[++a];
    } else if (arg == "--packets" && a + 1 < argc) {
      callgrind_packets = static_cast<uint32_t>(std::strtoul(argv[++a], nullptr, 10));
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--callgrind pipeline|forwarder [--packets N]]\n", argv[0]);
      return 64;
    }
  }
  if (!callgrind.empty()) {
    if (callgrind != "pipeline" && callgrind != "forwarder") Fail("--callgrind takes pipeline or forwarder");
    return RunCallgrind(callgrind, callgrind_packets);
  }

  const RunPlan& plan = quick ? kQuickPlan : kFullPlan;
  const double tsc_hz = TscHz();
  std::printf("RESULT tsc_hz %.0f\n", tsc_hz);
  std::vector<double> clock_ratios;
  for (int r = 0; r < 5; ++r) clock_ratios.push_back(CoreCyclesPerTscCycle());
  std::printf("RESULT core_cycles_per_tsc_cycle %.3f\n", Median(clock_ratios));
  std::printf("RESULT burst %u\n", kBurst);
  std::printf("RESULT steady_rounds %u\n", plan.steady_rounds);
  std::printf("RESULT steady_packets_per_round %u\n", plan.steady_packets);
  uint64_t rng = 0x5eed;

  for (uint32_t n : kSteadySizes) {
    const char* tag = n == 10000 ? "10k" : "1m";
    auto mb = std::make_unique<Middlebox>();
    if (!InitMiddlebox(*mb, n)) Fail("middlebox Init");
    const double t0 = NowSeconds();
    Populate(*mb, n);
    const double populate_s = NowSeconds() - t0;
    std::fprintf(stderr, "pipeline_bench: %u sessions set up through the pipeline in %.2f s\n", n, populate_s);
    CheckTranslations(*mb, &rng);
    const size_t bytes = mb->agent.pipeline.MemoryBytes();
    const uint32_t capacity = mb->agent.pipeline.sessions().capacity();
    const uint32_t live = mb->agent.pipeline.active_sessions();
    std::printf("RESULT sessions_%s %u\n", tag, live);
    std::printf("RESULT capacity_%s %u\n", tag, capacity);
    std::printf("RESULT memory_bytes_%s %zu\n", tag, bytes);
    std::printf("RESULT bytes_per_capacity_%s %.2f\n", tag, static_cast<double>(bytes) / capacity);
    std::printf("RESULT bytes_per_live_session_%s %.2f\n", tag, static_cast<double>(bytes) / live);
    std::printf("RESULT populate_seconds_%s %.3f\n", tag, populate_s);
    std::fflush(stdout);

    const SteadyResult steady = MeasureSteady(*mb, plan, &rng);
    PrintSamples((std::string("pipeline_cycles_") + tag).c_str(), steady.pipeline_cycles);
    PrintSamples((std::string("forwarder_cycles_") + tag).c_str(), steady.forwarder_cycles);
    std::printf("RESULT cycles_per_packet_%s %.2f\n", tag, Median(steady.pipeline_cycles));
    std::printf("RESULT forwarder_cycles_per_packet_%s %.2f\n", tag, Median(steady.forwarder_cycles));
    std::fflush(stdout);
    std::fprintf(stderr, "pipeline_bench: %s: pipeline %.1f, forwarder %.1f cycles/packet\n", tag,
                 Median(steady.pipeline_cycles), Median(steady.forwarder_cycles));
    if (n == 10000) {
      // Side by side, a round each in turn: the same sessions without and with authentication installed (data
      // packets must not pay for it), and a second middlebox of 10K sessions under a SYN flood (its table has room
      // for the set-up pool's 16K half-open sessions beside them). The clock of this machine moves between rounds:
      // only figures of the same rounds are compared.
      auto flooded = std::make_unique<Middlebox>();
      const dysco::PipelineConfig defaults;
      if (!InitMiddlebox(*flooded, n, n + defaults.max_setups)) Fail("flooded middlebox Init");
      Populate(*flooded, n);
      flooded->agent.pipeline.ReplaceListAuth(BenchListAuth());
      auto syns = std::make_unique<FloodBurst>();
      RunPlan one = plan;
      one.steady_rounds = 1;
      std::vector<double> plain, with_auth, under_flood, flood_syn;
      for (uint32_t r = 0; r < plan.steady_rounds; ++r) {
        plain.push_back(MeasureSteady(*mb, one, &rng).pipeline_cycles[0]);
        mb->agent.pipeline.ReplaceListAuth(BenchListAuth());
        with_auth.push_back(MeasureSteady(*mb, one, &rng).pipeline_cycles[0]);
        mb->agent.pipeline.ReplaceListAuth(nullptr);
        const SteadyResult flood = MeasureSteady(*flooded, one, &rng, syns.get());
        under_flood.push_back(flood.pipeline_cycles[0]);
        flood_syn.push_back(flood.flood_cycles[0]);
      }
      Check(flooded->agent.pipeline.counters().established.Read() == n && flooded->agent.pipeline.active_sessions() ==
                n + defaults.max_setups, "the flood filled the set-up pool and pushed out no established session");
      Check(flooded->agent.pipeline.counters().setups_reclaimed.Read() > 0, "the flood's SYNs reclaimed half-open sessions");
      PrintFigure("pipeline_cycles_10k_side", "cycles_per_packet_10k_side", plain);
      PrintFigure("pipeline_cycles_10k_auth", "cycles_per_packet_10k_auth", with_auth);
      PrintFigure("pipeline_cycles_10k_flood", "cycles_per_packet_10k_flood", under_flood);
      PrintFigure("flood_cycles_per_syn", "flood_cycles_per_syn", flood_syn);
      std::fflush(stdout);
      std::fprintf(stderr,
                   "pipeline_bench: 10k side by side: %.1f plain, %.1f with authentication, %.1f under a SYN flood "
                   "(%.0f cycles a flood SYN)\n",
                   Median(plain), Median(with_auth), Median(under_flood), Median(flood_syn));
    }
  }

  // Plain and authenticated rounds alternate, so that both see the same machine.
  std::vector<double> rates, rates_auth, mb_rates, mb_rates_auth;
  for (uint32_t r = 0; r < plan.setup_rounds; ++r) {
    rates.push_back(plan.setup_sessions / MeasureSetup(plan.setup_sessions, tsc_hz, false));
    rates_auth.push_back(plan.setup_sessions / MeasureSetup(plan.setup_sessions, tsc_hz, true));
    mb_rates.push_back(MeasureMiddleboxSetup(plan.setup_sessions, tsc_hz, false));
    mb_rates_auth.push_back(MeasureMiddleboxSetup(plan.setup_sessions, tsc_hz, true));
    std::fprintf(stderr,
                 "pipeline_bench: setup round %u: initiator %.0f / %.0f, middlebox %.0f / %.0f setups/s (plain / auth)\n",
                 r + 1, rates.back(), rates_auth.back(), mb_rates.back(), mb_rates_auth.back());
  }
  std::printf("RESULT setup_sessions_per_round %u\n", plan.setup_sessions);
  PrintFigure("setups_per_second", "setups_per_second", rates, "%.0f");
  PrintFigure("setups_per_second_auth", "setups_per_second_auth", rates_auth, "%.0f");
  PrintFigure("middlebox_setups_per_second", "middlebox_setups_per_second", mb_rates, "%.0f");
  PrintFigure("middlebox_setups_per_second_auth", "middlebox_setups_per_second_auth", mb_rates_auth, "%.0f");
  return 0;
}
