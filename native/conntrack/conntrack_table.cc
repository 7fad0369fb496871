#include "conntrack/conntrack_table.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace dysco::conntrack {

struct ConntrackTable::Request {
  std::vector<uint8_t> message;
  bool expects_entry = false;  // a GET: answered with the entry, or an error
  int error = -1;              // -1 until answered, or until the batch closed without an answer (success)
  std::vector<uint8_t> reply;
};

namespace {

constexpr size_t kBatchRequests = 256;  // their answers (about 250 bytes each) fit one receive
constexpr int kReceiveBuffer = 4 << 20;
constexpr uint16_t kCtNew = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
constexpr uint16_t kCtGet = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
constexpr uint16_t kCtDelete = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
// What an imported entry cannot carry over: the kernel sets these bits itself, and refuses a create that names them.
constexpr uint32_t kStatusNotImported = IPS_UNCHANGEABLE_MASK | IPS_HELPER;
// What another namespace's entry holds that is that namespace's own: its id, reference count, counters, timestamps.
constexpr nf_conntrack_attr kAttrsNotImported[] = {ATTR_ID, ATTR_USE, ATTR_ORIG_COUNTER_PACKETS, ATTR_ORIG_COUNTER_BYTES,
                                                   ATTR_REPL_COUNTER_PACKETS, ATTR_REPL_COUNTER_BYTES, ATTR_TIMESTAMP_START,
                                                   ATTR_TIMESTAMP_STOP, ATTR_SECMARK, ATTR_HELPER_NAME};

struct CtDeleter {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};
using Ct = std::unique_ptr<nf_conntrack, CtDeleter>;

std::vector<uint8_t> BuildMessage(uint16_t type, uint16_t flags, const nf_conntrack& ct) {
  alignas(nlmsghdr) uint8_t buffer[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_INET;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  if (nfct_nlmsg_build(nlh, &ct) != 0) return {};
  return std::vector<uint8_t>(buffer, buffer + nlh->nlmsg_len);
}

Ct TupleOnly(const Ipv4Tuple& tuple) {
  Ct ct(nfct_new());
  if (!ct) return ct;
  nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u8(ct.get(), ATTR_L4PROTO, IPPROTO_TCP);
  nfct_set_attr_u32(ct.get(), ATTR_IPV4_SRC, htonl(tuple.src_ip));
  nfct_set_attr_u32(ct.get(), ATTR_IPV4_DST, htonl(tuple.dst_ip));
  nfct_set_attr_u16(ct.get(), ATTR_PORT_SRC, htons(tuple.src_port));
  nfct_set_attr_u16(ct.get(), ATTR_PORT_DST, htons(tuple.dst_port));
  return ct;
}

// Parses a whole CT_NEW message of an IPv4 TCP entry with both tuples; null for anything else.
Ct ParseEntry(const uint8_t* data, size_t size) {
  if (size < MNL_NLMSG_HDRLEN + sizeof(nfgenmsg) || size > static_cast<size_t>(MNL_SOCKET_BUFFER_SIZE)) return nullptr;
  std::vector<uint8_t> aligned(data, data + size);  // netlink headers are read as structs
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(aligned.data());
  if (nlh->nlmsg_len != size || nlh->nlmsg_type != kCtNew) return nullptr;
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  if (nfg->nfgen_family != AF_INET) return nullptr;
  Ct ct(nfct_new());
  if (!ct || nfct_nlmsg_parse(nlh, ct.get()) != 0) return nullptr;
  for (nf_conntrack_attr attr : {ATTR_ORIG_L3PROTO, ATTR_ORIG_L4PROTO, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV4_DST, ATTR_ORIG_PORT_SRC,
                                 ATTR_ORIG_PORT_DST, ATTR_REPL_L3PROTO, ATTR_REPL_L4PROTO, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV4_DST,
                                 ATTR_REPL_PORT_SRC, ATTR_REPL_PORT_DST, ATTR_TIMEOUT}) {
    if (!nfct_attr_is_set(ct.get(), attr)) return nullptr;
  }
  if (nfct_get_attr_u8(ct.get(), ATTR_ORIG_L3PROTO) != AF_INET || nfct_get_attr_u8(ct.get(), ATTR_REPL_L3PROTO) != AF_INET ||
      nfct_get_attr_u8(ct.get(), ATTR_ORIG_L4PROTO) != IPPROTO_TCP || nfct_get_attr_u8(ct.get(), ATTR_REPL_L4PROTO) != IPPROTO_TCP) {
    return nullptr;
  }
  return ct;
}

bool SameTuple(const Ipv4Tuple& a, const Ipv4Tuple& b) {
  return a.src_ip == b.src_ip && a.dst_ip == b.dst_ip && a.src_port == b.src_port && a.dst_port == b.dst_port;
}

// What must read back as it was exported: the connection's state, not its age.
bool SameState(const EntrySummary& exported, const EntrySummary& found) {
  constexpr uint32_t kKeptStatus = IPS_SEEN_REPLY | IPS_ASSURED | IPS_FIXED_TIMEOUT | IPS_NAT_MASK;
  return SameTuple(exported.original, found.original) && SameTuple(exported.reply, found.reply) &&
         exported.tcp_state == found.tcp_state && exported.mark == found.mark &&
         (exported.status & kKeptStatus) == (found.status & kKeptStatus) && found.timeout_s <= exported.timeout_s &&
         found.timeout_s > 0;
}

EntrySummary SummaryOf(const nf_conntrack& ct) {
  const nf_conntrack* c = &ct;
  EntrySummary s;
  s.original = {ntohl(nfct_get_attr_u32(c, ATTR_ORIG_IPV4_SRC)), ntohl(nfct_get_attr_u32(c, ATTR_ORIG_IPV4_DST)),
                ntohs(nfct_get_attr_u16(c, ATTR_ORIG_PORT_SRC)), ntohs(nfct_get_attr_u16(c, ATTR_ORIG_PORT_DST))};
  s.reply = {ntohl(nfct_get_attr_u32(c, ATTR_REPL_IPV4_SRC)), ntohl(nfct_get_attr_u32(c, ATTR_REPL_IPV4_DST)),
             ntohs(nfct_get_attr_u16(c, ATTR_REPL_PORT_SRC)), ntohs(nfct_get_attr_u16(c, ATTR_REPL_PORT_DST))};
  s.tcp_state = nfct_attr_is_set(c, ATTR_TCP_STATE) ? nfct_get_attr_u8(c, ATTR_TCP_STATE) : 0;
  s.timeout_s = nfct_get_attr_u32(c, ATTR_TIMEOUT);
  s.mark = nfct_attr_is_set(c, ATTR_MARK) ? nfct_get_attr_u32(c, ATTR_MARK) : 0;
  s.status = nfct_attr_is_set(c, ATTR_STATUS) ? nfct_get_attr_u32(c, ATTR_STATUS) : 0;
  return s;
}

// Opens the socket in another namespace: the calling thread enters it for the socket's creation only.
mnl_socket* OpenIn(const std::string& netns_path, std::string* detail) {
  int own = -1;
  int target = -1;
  if (!netns_path.empty()) {
    own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    target = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (own < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
      *detail = "cannot enter the network namespace " + netns_path + ": " + std::strerror(errno);
      if (own >= 0) close(own);
      if (target >= 0) close(target);
      return nullptr;
    }
  }
  mnl_socket* socket = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (socket == nullptr) *detail = std::string("cannot open a netfilter netlink socket: ") + std::strerror(errno);
  if (!netns_path.empty()) {
    const bool back = setns(own, CLONE_NEWNET) == 0;
    close(own);
    close(target);
    if (!back) {
      // The thread would stay in the other namespace: nothing may go on from here.
      *detail = std::string("cannot return to the agent's own network namespace: ") + std::strerror(errno);
      if (socket != nullptr) mnl_socket_close(socket);
      return nullptr;
    }
  }
  return socket;
}

}  // namespace

ConntrackTable::~ConntrackTable() {
  if (socket_ != nullptr) mnl_socket_close(socket_);
}

bool ConntrackTable::Open(const std::string& netns_path, std::string* detail) {
  if (socket_ != nullptr) {
    *detail = "already open";
    return false;
  }
  mnl_socket* socket = OpenIn(netns_path, detail);
  if (socket == nullptr) return false;
  int size = kReceiveBuffer;
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN, which ctnetlink writes need anyway; the plain option is the fallback.
  if (setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) != 0) {
    *detail = std::string("cannot bind the netfilter netlink socket: ") + std::strerror(errno);
    mnl_socket_close(socket);
    return false;
  }
  socket_ = socket;
  port_id_ = mnl_socket_get_portid(socket);
  return true;
}

bool ConntrackTable::ByTuple(const std::vector<Ipv4Tuple>& tuples, uint16_t type, std::vector<Request>* out, std::string* detail) {
  out->assign(tuples.size(), Request{});
  for (size_t i = 0; i < tuples.size(); ++i) {
    Ct ct = TupleOnly(tuples[i]);
    if (ct) (*out)[i].message = BuildMessage(type, NLM_F_REQUEST, *ct);
    (*out)[i].expects_entry = type == kCtGet;
    if ((*out)[i].message.empty()) {
      *detail = "cannot build a conntrack request";
      return false;
    }
  }
  return true;
}

bool ConntrackTable::Run(std::vector<Request>& requests, std::string* detail) {
  if (socket_ == nullptr) {
    *detail = "not open";
    return false;
  }
  // No request asks for an acknowledgement: a failure always answers, a GET answers with its entry, and a NOOP
  // that does ask closes each batch. Netlink answers in order, so once the NOOP's acknowledgement is in, every
  // request before it that got no answer succeeded.
  nlmsghdr barrier{};
  barrier.nlmsg_len = MNL_NLMSG_HDRLEN;
  barrier.nlmsg_type = NLMSG_NOOP;
  barrier.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  std::vector<uint8_t> batch;
  std::vector<uint8_t> answers(1 << 18);
  for (size_t first = 0; first < requests.size(); first += kBatchRequests) {
    const size_t end = std::min(requests.size(), first + kBatchRequests);
    const uint32_t count = static_cast<uint32_t>(end - first);
    const uint32_t base = next_seq_;
    next_seq_ += count + 1;
    batch.clear();
    for (size_t i = first; i < end; ++i) {
      auto* nlh = reinterpret_cast<nlmsghdr*>(requests[i].message.data());
      nlh->nlmsg_seq = base + static_cast<uint32_t>(i - first);
      nlh->nlmsg_pid = 0;
      batch.insert(batch.end(), requests[i].message.begin(), requests[i].message.end());
    }
    barrier.nlmsg_seq = base + count;
    const auto* barrier_bytes = reinterpret_cast<const uint8_t*>(&barrier);
    batch.insert(batch.end(), barrier_bytes, barrier_bytes + sizeof barrier);
    if (mnl_socket_sendto(socket_, batch.data(), batch.size()) < 0) {
      *detail = std::string("netlink send: ") + std::strerror(errno);
      return false;
    }
    for (bool closed = false; !closed;) {
      ssize_t n = mnl_socket_recvfrom(socket_, answers.data(), answers.size());
      if (n < 0) {
        *detail = std::string("netlink receive: ") + std::strerror(errno);
        return false;
      }
      int left = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<nlmsghdr*>(answers.data()); mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
        if (nlh->nlmsg_pid != 0 && nlh->nlmsg_pid != port_id_) continue;
        const uint32_t index = nlh->nlmsg_seq - base;
        if (index == count) {
          closed = closed || nlh->nlmsg_type == NLMSG_ERROR;
          continue;
        }
        if (index > count) continue;  // not this batch's
        Request& request = requests[first + index];
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) continue;
          request.error = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        } else if (nlh->nlmsg_type == kCtNew) {
          const auto* bytes = reinterpret_cast<const uint8_t*>(nlh);
          request.reply.assign(bytes, bytes + nlh->nlmsg_len);
          request.error = 0;
        }
      }
    }
    for (size_t i = first; i < end; ++i) {
      if (requests[i].error < 0) requests[i].error = requests[i].expects_entry ? EPROTO : 0;
    }
  }
  return true;
}

bool ConntrackTable::Export(const std::vector<Ipv4Tuple>& tuples, std::vector<ExportedEntry>* out, std::string* detail) {
  std::vector<Request> requests;
  if (!ByTuple(tuples, kCtGet, &requests, detail)) return false;
  if (!Run(requests, detail)) return false;
  out->assign(tuples.size(), ExportedEntry{});
  for (size_t i = 0; i < requests.size(); ++i) {
    ExportedEntry& entry = (*out)[i];
    entry.error = requests[i].error;
    if (entry.error != 0) continue;
    // The kernel's answer, made neutral: no sequence number, sender or flags of this conversation. It is read as
    // untrusted bytes where it is imported.
    entry.message = std::move(requests[i].reply);
    auto* nlh = reinterpret_cast<nlmsghdr*>(entry.message.data());
    nlh->nlmsg_flags = 0;
    nlh->nlmsg_seq = 0;
    nlh->nlmsg_pid = 0;
  }
  return true;
}

bool ConntrackTable::Import(const std::vector<std::vector<uint8_t>>& messages, const std::vector<Ipv4Tuple>& sessions,
                            std::vector<int>* errors, std::string* detail) {
  errors->assign(messages.size(), 0);
  std::vector<Request> requests;
  std::vector<size_t> of_message;
  std::vector<EntrySummary> exported;
  for (size_t i = 0; i < messages.size(); ++i) {
    Ct ct = ParseEntry(messages[i].data(), messages[i].size());
    const EntrySummary summary = ct ? SummaryOf(*ct) : EntrySummary{};
    // The bytes must be the state of the session they were sent for, and of no other.
    if (!ct || i >= sessions.size() || !SameTuple(summary.original, sessions[i])) {
      (*errors)[i] = EINVAL;
      continue;
    }
    for (nf_conntrack_attr attr : kAttrsNotImported) nfct_attr_unset(ct.get(), attr);
    const uint32_t status = nfct_attr_is_set(ct.get(), ATTR_STATUS) ? nfct_get_attr_u32(ct.get(), ATTR_STATUS) : 0;
    nfct_set_attr_u32(ct.get(), ATTR_STATUS, status & ~kStatusNotImported);
    // A NAT's mapping shows in the reply tuple, but the kernel translates packets only for a mapping it bound
    // itself: ask for it as NAT, with the reply tuple it starts from (the original's inverse) in that part.
    if (status & IPS_SRC_NAT) {
      nfct_set_attr_u32(ct.get(), ATTR_SNAT_IPV4, htonl(summary.reply.dst_ip));
      nfct_set_attr_u16(ct.get(), ATTR_SNAT_PORT, htons(summary.reply.dst_port));
      nfct_set_attr_u32(ct.get(), ATTR_REPL_IPV4_DST, htonl(summary.original.src_ip));
      nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_DST, htons(summary.original.src_port));
    }
    if (status & IPS_DST_NAT) {
      nfct_set_attr_u32(ct.get(), ATTR_DNAT_IPV4, htonl(summary.reply.src_ip));
      nfct_set_attr_u16(ct.get(), ATTR_DNAT_PORT, htons(summary.reply.src_port));
      nfct_set_attr_u32(ct.get(), ATTR_REPL_IPV4_SRC, htonl(summary.original.dst_ip));
      nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_SRC, htons(summary.original.dst_port));
    }
    Request request;
    request.message = BuildMessage(kCtNew, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, *ct);
    if (request.message.empty()) {
      (*errors)[i] = EINVAL;
      continue;
    }
    requests.push_back(std::move(request));
    of_message.push_back(i);
    exported.push_back(summary);
  }
  if (!Run(requests, detail)) return false;
  // Read back what was created, and compare it with what was exported.
  std::vector<Ipv4Tuple> created;
  std::vector<size_t> of_request;
  for (size_t k = 0; k < requests.size(); ++k) {
    (*errors)[of_message[k]] = requests[k].error;
    if (requests[k].error != 0) continue;
    created.push_back(exported[k].original);
    of_request.push_back(k);
  }
  std::vector<Request> reads;
  if (!ByTuple(created, kCtGet, &reads, detail) || !Run(reads, detail)) return false;
  for (size_t r = 0; r < reads.size(); ++r) {
    const size_t k = of_request[r];
    Ct found = reads[r].error == 0 ? ParseEntry(reads[r].reply.data(), reads[r].reply.size()) : nullptr;
    if (!found || !SameState(exported[k], SummaryOf(*found))) (*errors)[of_message[k]] = kNotVerified;
  }
  return true;
}

bool ConntrackTable::Delete(const std::vector<Ipv4Tuple>& tuples, std::vector<int>* errors, std::string* detail) {
  std::vector<Request> requests;
  if (!ByTuple(tuples, kCtDelete, &requests, detail)) return false;
  if (!Run(requests, detail)) return false;
  errors->resize(tuples.size());
  for (size_t i = 0; i < requests.size(); ++i) (*errors)[i] = requests[i].error;
  return true;
}

bool ConntrackTable::Summarize(const uint8_t* data, size_t size, EntrySummary* out) {
  Ct ct = ParseEntry(data, size);
  if (!ct) return false;
  *out = SummaryOf(*ct);
  return true;
}

}  // namespace dysco::conntrack
