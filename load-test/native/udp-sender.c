// Paced UDP sender for the collector bench. Loops over a recorded export stream (the
// ".stream" file written by load-test/src/corpus.ts), rewriting the export header's sequence
// number so the looped stream stays gap-free (v9: +1 per packet; IPFIX: + data records of the
// previous messages), and sends it to 127.0.0.1:PORT at RATE flow records per second for
// DURATION seconds (RATE 0 = as fast as possible), sendmmsg() in small bursts. Prints one JSON
// line with what it sent, including where it stopped (nextIndex, nextSeq) so a second run can
// continue the same gap-free stream.
//
//   udp-sender STREAM PORT RATE DURATION [MAX_BURST [START_INDEX START_SEQ]]
//
// UDP_SENDER_SOURCES=K (environment, default 1): K exporters, each its own socket bound to
// 127.0.0.(1+j) sending the whole stream (same sequence numbers: each exporter's own sequence is
// gap-free). RATE counts the records of all of them. A collector spreading exporters over
// workers (SO_REUSEPORT hashes the source address and port) needs more than one.
// UDP_SENDER_SOURCE_PORT=P: send from that source port (default: any).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  uint8_t *payload;
  uint32_t len, records, units;
} dgram_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t rd32le(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s STREAM PORT RATE DURATION [MAX_BURST [START_INDEX START_SEQ]]\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  int port = atoi(argv[2]);
  double rate = atof(argv[3]);
  double duration = atof(argv[4]);
  int max_burst = argc > 5 ? atoi(argv[5]) : 32;
  if (max_burst < 1) max_burst = 1;
  if (max_burst > 256) max_burst = 256;

  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return 1; }
  struct stat st;
  fstat(fileno(f), &st);
  uint8_t *buf = malloc(st.st_size);
  if (fread(buf, 1, st.st_size, f) != (size_t)st.st_size) { perror("read"); return 1; }
  fclose(f);
  if (memcmp(buf, "HSTR", 4) != 0 || rd32le(buf + 4) != 1) { fprintf(stderr, "%s: not a stream file\n", path); return 1; }
  uint32_t n = rd32le(buf + 8), version = rd32le(buf + 12), seq_off = rd32le(buf + 20);
  dgram_t *d = calloc(n, sizeof *d);
  size_t p = 32;
  for (uint32_t i = 0; i < n; i++) {
    d[i].len = rd32le(buf + p);
    d[i].records = rd32le(buf + p + 4);
    d[i].units = rd32le(buf + p + 8);
    d[i].payload = buf + p + 12;
    p += 12 + d[i].len;
    if (p > (size_t)st.st_size) { fprintf(stderr, "%s: truncated\n", path); return 1; }
  }
  // A datagram must not appear twice in one burst: its sequence number is rewritten in place.
  if ((uint32_t)max_burst > n) max_burst = n;

  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  const char *src_env = getenv("UDP_SENDER_SOURCES");
  int sources = src_env ? atoi(src_env) : 1;
  if (sources < 1) sources = 1;
  if (sources > 200) sources = 200;
  // UDP_SENDER_SOURCE_PORT: every exporter sends from this port (the warm-up and the measured run
  // are then the same exporters to a collector that hashes source address and port).
  const char *sport_env = getenv("UDP_SENDER_SOURCE_PORT");
  int sport = sport_env ? atoi(sport_env) : 0;
  int socks[200];
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  for (int j = 0; j < sources; j++) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int sndbuf = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (sources > 1 || sport) {
      struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(sport)};
      from.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)j);
      if (bind(s, (struct sockaddr *)&from, sizeof from) != 0) { perror("bind"); return 1; }
    }
    if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) { perror("connect"); return 1; }
    socks[j] = s;
  }

  struct mmsghdr *msgs = calloc(max_burst, sizeof *msgs);
  struct iovec *iov = calloc(max_burst, sizeof *iov);
  for (int i = 0; i < max_burst; i++) {
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  uint64_t sent_records = 0, sent_dgrams = 0, sent_bytes = 0, errors = 0, bursts = 0, loops = 0;
  uint64_t target = rate > 0 ? (uint64_t)(rate * duration) : UINT64_MAX;
  uint32_t seq = argc > 7 ? (uint32_t)strtoul(argv[7], NULL, 10) : 0;
  uint32_t idx = argc > 6 ? (uint32_t)strtoul(argv[6], NULL, 10) % n : 0;
  int last_errno = 0;
  // Pacing: records due by time t are rate * (t - t0). If the sender itself was descheduled
  // for longer than max_catchup (another process took the CPU), it does not send the backlog in
  // one burst (that would measure our scheduler, not the collector): it moves t0 forward and
  // reports the time skipped; recordsPerSecond is what was really offered.
  const double max_catchup = 0.005;
  double t0 = now_s(), start = t0, end = t0 + duration, late_max = 0, skipped = 0;
  for (;;) {
    double t = now_s();
    if (sent_records >= target || (rate <= 0 && t >= end) || t >= end + 5) break;
    if (rate > 0) {
      double lag = t - (t0 + sent_records / rate);
      if (lag > late_max) late_max = lag;
      if (lag > max_catchup) {
        skipped += lag - max_catchup;
        t0 += lag - max_catchup;
      }
    }
    uint64_t due = rate > 0 ? (uint64_t)((t - t0) * rate) : UINT64_MAX;
    if (due > target) due = target;
    if (sent_records >= due) {
      // Sleep until the next datagram is due (timer slack set to 1 µs below); no spinning, so
      // the sender leaves its CPU to others between bursts.
      double wait = (double)(sent_records + (uint64_t)d[idx].records * sources - due) / rate;
      if (wait < 1e-6) wait = 1e-6;
      struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
      nanosleep(&ts, NULL);
      continue;
    }
    int k = 0;
    uint64_t r = sent_records;
    while (k < max_burst && r < due) {
      dgram_t *g = &d[idx];
      uint8_t *h = g->payload + seq_off;
      h[0] = seq >> 24; h[1] = seq >> 16; h[2] = seq >> 8; h[3] = seq;
      seq += g->units;
      iov[k].iov_base = g->payload;
      iov[k].iov_len = g->len;
      r += (uint64_t)g->records * sources;
      k++;
      if (++idx == n) { idx = 0; loops++; }
    }
    for (int j = 0; j < sources; j++) {
      int done = 0;
      while (done < k) {
        int m = sendmmsg(socks[j], msgs + done, k - done, 0);
        if (m < 0) {
          if (errno == EINTR) continue;
          // ENOBUFS/ECONNREFUSED: count and move on (the datagram is lost, as on a real network).
          last_errno = errno;
          errors++;
          done++;
          continue;
        }
        done += m;
      }
    }
    for (int i = 0; i < k; i++) sent_bytes += (uint64_t)iov[i].iov_len * sources;
    sent_records = r;
    sent_dgrams += (uint64_t)k * sources;
    bursts++;
  }
  double secs = now_s() - start;
  printf("{\"datagrams\":%llu,\"records\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"recordsPerSecond\":%.0f,\"datagramsPerSecond\":%.0f,"
         "\"bursts\":%llu,\"loops\":%llu,\"sendErrors\":%llu,\"lastErrno\":%d,\"maxLagMs\":%.3f,\"skippedMs\":%.3f,\"version\":%u,\"nextIndex\":%u,\"nextSeq\":%u}\n",
         (unsigned long long)sent_dgrams, (unsigned long long)sent_records, (unsigned long long)sent_bytes, secs, sent_records / secs,
         sent_dgrams / secs, (unsigned long long)bursts, (unsigned long long)loops, (unsigned long long)errors, last_errno, late_max * 1e3, skipped * 1e3,
         version, idx, seq);
  return 0;
}
