#pragma once
// The conntrack entries of one network namespace, over ctnetlink (libmnl, with libnetfilter_conntrack to build and
// parse the messages): the entries of given TCP connections exported as ctnetlink messages, and such messages
// imported, in batches of many requests per sendmsg rather than a process or a round trip per entry. An exported
// entry is the kernel's own CT_NEW message (docs/wire-format.md, "State blobs"); it is read as untrusted bytes on
// import. No DPDK, no N-API: the addon wraps this for the agent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct mnl_socket;

namespace dysco::conntrack {

// IPv4 addresses and ports in host byte order.
struct Ipv4Tuple {
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
};

// What an entry says, for matching and reading back.
struct EntrySummary {
  Ipv4Tuple original;
  Ipv4Tuple reply;
  uint8_t tcp_state = 0;  // enum tcp_conntrack: 3 is ESTABLISHED
  uint32_t timeout_s = 0;
  uint32_t mark = 0;
  uint32_t status = 0;  // IPS_* bits
};

// Import's answer for an entry that was created but does not read back as it was exported.
inline constexpr int kNotVerified = -2;

struct ExportedEntry {
  int error = 0;  // 0, or the errno of the lookup (ENOENT: the namespace tracks no such connection)
  std::vector<uint8_t> message;
};

class ConntrackTable {
 public:
  ConntrackTable() = default;
  ConntrackTable(const ConntrackTable&) = delete;
  ConntrackTable& operator=(const ConntrackTable&) = delete;
  ~ConntrackTable();

  // A ctnetlink socket in the namespace at `netns_path` (empty: the caller's own). False with *detail.
  bool Open(const std::string& netns_path, std::string* detail);

  // The entries of the TCP connections whose original direction is each of `tuples`, in that order. False (with
  // *detail) when the netlink conversation itself failed; a connection the namespace does not track is an entry
  // with error ENOENT.
  bool Export(const std::vector<Ipv4Tuple>& tuples, std::vector<ExportedEntry>* out, std::string* detail);

  // Creates one entry from each message (as Export made them) for the session of the same index, and reads every
  // created entry back: per message 0, EINVAL for one that is not an IPv4 TCP entry of that session, kNotVerified
  // when what reads back differs from the message, or the kernel's errno (EEXIST: the namespace tracks that
  // connection already).
  bool Import(const std::vector<std::vector<uint8_t>>& messages, const std::vector<Ipv4Tuple>& sessions, std::vector<int>* errors,
              std::string* detail);

  // Deletes the entries of these connections (original direction): per tuple 0 or an errno.
  bool Delete(const std::vector<Ipv4Tuple>& tuples, std::vector<int>* errors, std::string* detail);

  // Reads an exported message as untrusted bytes: false unless it is exactly one ctnetlink CT_NEW message of an
  // IPv4 TCP entry with both tuples.
  static bool Summarize(const uint8_t* data, size_t size, EntrySummary* out);

 private:
  struct Request;
  // One request of `type` (a ctnetlink message type) naming each tuple.
  static bool ByTuple(const std::vector<Ipv4Tuple>& tuples, uint16_t type, std::vector<Request>* out, std::string* detail);
  // Sends the requests in batches and collects, for each, the error of its acknowledgement and any entry message
  // the kernel answered with.
  bool Run(std::vector<Request>& requests, std::string* detail);

  mnl_socket* socket_ = nullptr;
  uint32_t port_id_ = 0;
  uint32_t next_seq_ = 1;
};

}  // namespace dysco::conntrack
