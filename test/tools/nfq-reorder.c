// Reorders packets for the tests, on kernels without sch_netem: iptables hands packets to an NFQUEUE,
// and this program holds a random share of them back until a number of later packets have passed (or a
// time limit runs out), then lets them go. Verdicts out of order are what NFQUEUE allows; nothing is
// dropped or changed. On SIGTERM or SIGINT it prints one JSON line with what it did and exits.
//
//   nfq-reorder --queue N [--hold-percent 25] [--release-after 3] [--max-hold-us 2000] [--seed 1]
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HELD 256

struct held_packet {
  uint32_t id;
  uint64_t passed_at_hold;  // packets passed when it was held
  uint64_t held_at_us;
};

static struct {
  struct nfq_q_handle* queue;
  unsigned hold_percent, release_after, max_hold_us;
  uint64_t rng;
  uint64_t packets, passed, reordered, released_by_time;
  struct held_packet held[MAX_HELD];
  unsigned held_count;
} state = {.hold_percent = 25, .release_after = 3, .max_hold_us = 2000, .rng = 1};

static volatile sig_atomic_t stop;

static void on_signal(int signal_number) {
  (void)signal_number;
  stop = 1;
}

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static uint32_t next_random(void) {  // xorshift64*
  state.rng ^= state.rng >> 12;
  state.rng ^= state.rng << 25;
  state.rng ^= state.rng >> 27;
  return (uint32_t)((state.rng * 2685821657736338717ull) >> 32);
}

static void accept_packet(uint32_t id) {
  nfq_set_verdict(state.queue, id, NF_ACCEPT, 0, NULL);
  ++state.passed;
}

// Lets go, oldest first, what has waited long enough: `release_after` later packets, or `max_hold_us`.
// `everything` empties the hold (on exit).
static void release_due(int everything) {
  const uint64_t now = now_us();
  unsigned kept = 0;
  for (unsigned i = 0; i < state.held_count; ++i) {
    struct held_packet* p = &state.held[i];
    const int by_count = state.passed - p->passed_at_hold >= state.release_after;
    const int by_time = now - p->held_at_us >= state.max_hold_us;
    if (everything || by_count || by_time) {
      accept_packet(p->id);
      ++state.reordered;
      if (by_time && !by_count) ++state.released_by_time;
    } else {
      state.held[kept++] = *p;
    }
  }
  state.held_count = kept;
}

static int on_packet(struct nfq_q_handle* queue, struct nfgenmsg* message, struct nfq_data* data, void* context) {
  (void)queue;
  (void)message;
  (void)context;
  const struct nfqnl_msg_packet_hdr* header = nfq_get_msg_packet_hdr(data);
  if (header == NULL) return 0;
  const uint32_t id = ntohl(header->packet_id);
  ++state.packets;
  if (state.held_count < MAX_HELD && next_random() % 100 < state.hold_percent) {
    state.held[state.held_count++] = (struct held_packet){id, state.passed, now_us()};
  } else {
    accept_packet(id);
  }
  release_due(0);
  return 0;
}

static int parse_unsigned(const char* text, unsigned max, unsigned* out) {
  char* end = NULL;
  errno = 0;
  const unsigned long value = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value > max) return 0;
  *out = (unsigned)value;
  return 1;
}

int main(int argc, char** argv) {
  unsigned queue_number = 0, seed = 1;
  int have_queue = 0;
  for (int i = 1; i < argc; i += 2) {
    const char* name = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : NULL;
    int ok = value != NULL;
    if (ok && strcmp(name, "--queue") == 0) {
      ok = parse_unsigned(value, 65535, &queue_number);
      have_queue = ok;
    } else if (ok && strcmp(name, "--hold-percent") == 0) {
      ok = parse_unsigned(value, 100, &state.hold_percent);
    } else if (ok && strcmp(name, "--release-after") == 0) {
      ok = parse_unsigned(value, 1000, &state.release_after) && state.release_after > 0;
    } else if (ok && strcmp(name, "--max-hold-us") == 0) {
      ok = parse_unsigned(value, 10000000, &state.max_hold_us);
    } else if (ok && strcmp(name, "--seed") == 0) {
      ok = parse_unsigned(value, 0xffffffffu, &seed);
    } else {
      ok = 0;
    }
    if (!ok) {
      fprintf(stderr, "nfq-reorder: bad option %s %s\n", name, value ? value : "");
      return 2;
    }
  }
  if (!have_queue) {
    fprintf(stderr, "nfq-reorder: --queue is required\n");
    return 2;
  }
  state.rng = 0x9e3779b97f4a7c15ull ^ seed;

  struct nfq_handle* handle = nfq_open();
  if (handle == NULL) {
    perror("nfq-reorder: nfq_open");
    return 1;
  }
  state.queue = nfq_create_queue(handle, (uint16_t)queue_number, on_packet, NULL);
  if (state.queue == NULL || nfq_set_mode(state.queue, NFQNL_COPY_META, 0) < 0) {
    perror("nfq-reorder: queue");
    nfq_close(handle);
    return 1;
  }
  nfq_set_queue_maxlen(state.queue, 4096);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("{\"event\":\"ready\",\"queue\":%u}\n", queue_number);
  fflush(stdout);

  const int fd = nfq_fd(handle);
  char buffer[65536] __attribute__((aligned));
  while (!stop) {
    struct pollfd readable = {fd, POLLIN, 0};
    // Wake at least once a millisecond while packets are held, so that the time limit holds.
    const int ready = poll(&readable, 1, state.held_count ? 1 : 100);
    if (ready > 0) {
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) nfq_handle_packet(handle, buffer, (int)n);
    }
    release_due(0);
  }
  release_due(1);
  printf("{\"event\":\"report\",\"packets\":%llu,\"reordered\":%llu,\"releasedByTime\":%llu}\n",
         (unsigned long long)state.packets, (unsigned long long)state.reordered,
         (unsigned long long)state.released_by_time);
  fflush(stdout);
  nfq_destroy_queue(state.queue);
  nfq_close(handle);
  return 0;
}
