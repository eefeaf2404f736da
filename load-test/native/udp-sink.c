// A collector that does nothing: recvmmsg() and count. Measures what this machine's loopback
// and one core can deliver to a socket, the ceiling for any collector, and checks the sender.
// Binds 127.0.0.1:PORT (0 = any), prints {"port":N,"receiveBuffer":B} once bound, then on
// SIGTERM/SIGINT a JSON line with the datagrams and bytes received.
//
//   udp-sink PORT RCVBUF
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

#define BATCH 64
#define MAXLEN 65536

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int rcvbuf = argc > 2 ? atoi(argv[2]) : 32 << 20;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); return 1; }
  socklen_t al = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &al);
  int got = 0;
  socklen_t gl = sizeof got;
  getsockopt(s, SOL_SOCKET, SO_RCVBUF, &got, &gl);
  struct timeval tv = {0, 100000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  printf("{\"port\":%d,\"receiveBuffer\":%d}\n", ntohs(a.sin_port), got);
  fflush(stdout);

  static uint8_t bufs[BATCH][MAXLEN];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = MAXLEN;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  uint64_t dgrams = 0, bytes = 0;
  while (!stop) {
    int m = recvmmsg(s, msgs, BATCH, 0, NULL);
    if (m < 0) continue; // timeout or EINTR: check stop
    for (int i = 0; i < m; i++) bytes += msgs[i].msg_len;
    dgrams += m;
  }
  printf("{\"datagrams\":%llu,\"bytes\":%llu}\n", (unsigned long long)dgrams, (unsigned long long)bytes);
  return 0;
}
