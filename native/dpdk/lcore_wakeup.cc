#include "dpdk/lcore_wakeup.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace dysco::dpdk {

bool LcoreWakeup::Open(std::string* detail) {
  Close();
  bell_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (bell_ < 0) {
    *detail = std::string("eventfd: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void LcoreWakeup::Close() {
  if (bell_ >= 0) close(bell_);
  bell_ = -1;
  socket_count_ = 0;
}

void LcoreWakeup::WatchSocket(int fd) {
  if (fd >= 0 && socket_count_ < kMaxSockets) sockets_[socket_count_++] = fd;
}

void LcoreWakeup::Ring() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!sleeping_.load(std::memory_order_relaxed) || bell_ < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(bell_, &one, sizeof(one));
}

void LcoreWakeup::Wait(uint32_t us) {
  pollfd fds[1 + kMaxSockets];
  nfds_t count = 0;
  if (bell_ >= 0) fds[count++] = {bell_, POLLIN, 0};
  for (unsigned i = 0; i < socket_count_; ++i) {
    // A whole copy the kernel queued for a cut-short ring frame (af_packet_full_copy.h) makes the
    // socket read as ready until the lcore takes it: such a socket sits this sleep out.
    int queued = 0;
    if (ioctl(sockets_[i], FIONREAD, &queued) == 0 && queued == 0) fds[count++] = {sockets_[i], POLLIN, 0};
  }
  const timespec timeout{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  if (ppoll(fds, count, &timeout, nullptr) <= 0) return;
  for (nfds_t i = 0; i < count; ++i) {
    if (fds[i].fd == bell_ && (fds[i].revents & POLLIN) != 0) {
      uint64_t rings;
      [[maybe_unused]] const ssize_t n = read(bell_, &rings, sizeof(rings));
    } else if ((fds[i].revents & POLLERR) != 0) {
      // A pending socket error (a refused transmission) would end every sleep at once: take it.
      int error = 0;
      socklen_t size = sizeof(error);
      getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &error, &size);
    }
  }
}

}  // namespace dysco::dpdk
