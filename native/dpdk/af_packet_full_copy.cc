#include "dpdk/af_packet_full_copy.h"

#include <dirent.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dysco::dpdk {
namespace {

// Room for a few 64 KiB datagrams (their fragments' truesize) waiting for the lcore.
constexpr int kSocketBuffer = 4 << 20;

bool IsPmdSocket(int fd, uint32_t if_index) {
  int domain = 0;
  socklen_t size = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0 || domain != AF_PACKET) return false;
  int version = -1;
  size = sizeof(version);
  if (getsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, &size) != 0 || version != TPACKET_V2) return false;
  sockaddr_ll address;
  size = sizeof(address);
  std::memset(&address, 0, sizeof(address));
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return false;
  return address.sll_ifindex == static_cast<int>(if_index);
}

}  // namespace

bool IsCutShortIpv4(const uint8_t* frame, uint32_t length) {
  if (length < 18) return false;
  uint32_t l3 = 14;
  if (frame[12] == 0x81 && frame[13] == 0x00) l3 = 18;
  if (length < l3 + 4 || frame[l3 - 2] != 0x08 || frame[l3 - 1] != 0x00 || (frame[l3] >> 4) != 4) return false;
  const uint32_t total = static_cast<uint32_t>(frame[l3 + 2]) << 8 | frame[l3 + 3];
  return l3 + total > length;
}

bool AfPacketFullCopy::Attach(uint32_t if_index, std::string* detail) {
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) {
    *detail = std::string("cannot list /proc/self/fd: ") + std::strerror(errno);
    return false;
  }
  const int listing = dirfd(fds);
  int found = -1;
  // The PMD opened its socket last: take the highest-numbered match.
  while (dirent* entry = readdir(fds)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == listing) continue;
    if (fd > found && IsPmdSocket(static_cast<int>(fd), if_index)) found = static_cast<int>(fd);
  }
  closedir(fds);
  if (found < 0) {
    *detail = "no af_packet socket bound to interface index " + std::to_string(if_index);
    return false;
  }
  const int on = 1;
  const int buffer = kSocketBuffer;
  if (setsockopt(found, SOL_PACKET, PACKET_COPY_THRESH, &on, sizeof(on)) != 0 ||
      (setsockopt(found, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer)) != 0 &&
       setsockopt(found, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer)) != 0)) {
    *detail = std::string("PACKET_COPY_THRESH: ") + std::strerror(errno);
    return false;
  }
  fd_ = found;
  copy_ = std::make_unique<uint8_t[]>(kMaxFrame);
  copy_length_ = 0;
  return true;
}

void AfPacketFullCopy::Detach() {
  // The socket is the PMD's: it closes it.
  fd_ = -1;
  copy_.reset();
  copy_length_ = 0;
}

const uint8_t* AfPacketFullCopy::Take(const uint8_t* truncated, uint32_t length, uint32_t* full_length) {
  if (fd_ < 0) return nullptr;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (copy_length_ == 0) {
      const ssize_t n = recv(fd_, copy_.get(), kMaxFrame, MSG_DONTWAIT | MSG_TRUNC);
      if (n <= 0 || static_cast<size_t>(n) > kMaxFrame) return nullptr;
      copy_length_ = static_cast<uint32_t>(n);
      kept_for_ = 0;
    }
    if (copy_length_ > length && std::memcmp(copy_.get(), truncated, length) == 0) {
      *full_length = copy_length_;
      copy_length_ = 0;
      return copy_.get();
    }
    // A missing copy makes the queued one belong to the next cut-short frame; a copy that matches
    // neither is of no frame we will see: read past it.
    if (++kept_for_ < 2) return nullptr;
    copy_length_ = 0;
  }
  return nullptr;
}

}  // namespace dysco::dpdk
