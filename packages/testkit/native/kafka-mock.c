/*
 * kafka-mock: runs librdkafka's mock cluster (rdkafka_mock.h) as a process so tests
 * in any language can talk the real Kafka wire protocol on loopback.
 *
 *   kafka-mock <brokers> [topic:partitions ...]
 *
 * Prints the bootstrap servers (comma separated) as one line on stdout, then runs until
 * stdin reaches EOF (so the cluster dies with its parent even after a crash) or
 * SIGTERM/SIGINT arrives, and destroys the cluster before exiting 0.
 * Topics must be created here: the mock rejects the CreateTopics admin API.
 *
 * Fault injection, one command per stdin line, answered by one stdout line
 * ("ok" or "error: ..."):
 *   errors <apiKey> <err>[,<err>...]   next requests of that type fail with these codes
 *                                      (-195 = disconnect the client)
 *   down <brokerId|-1>                 broker drops connections and refuses new ones
 *   up <brokerId|-1>                   broker accepts connections again
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(void) {
  fprintf(stderr, "usage: kafka-mock <brokers 1..64> [topic:partitions ...]\n");
}

/* Strict decimal parse: rejects empty strings, signs, trailing junk and overflow. */
static int parse_int(const char *s, long min, long max, long *out) {
  char *end = NULL;
  long v;
  if (*s < '0' || *s > '9') return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_any(const char *s, long min, long max, long *out) {
  if (*s == '-') {
    long v;
    if (parse_int(s + 1, 0, -min, &v) != 0) return -1;
    *out = -v;
    return *out >= min && *out <= max ? 0 : -1;
  }
  return parse_int(s, min, max, out);
}

#define MAX_ERRS 64

/* Runs one fault-injection command line; writes the answer line. */
static void command(rd_kafka_mock_cluster_t *mc, char *line) {
  char *save = NULL;
  char *verb = strtok_r(line, " \t\r", &save);
  char *a1 = verb ? strtok_r(NULL, " \t\r", &save) : NULL;
  char *a2 = a1 ? strtok_r(NULL, " \t\r", &save) : NULL;
  long v;
  rd_kafka_resp_err_t err;

  if (verb == NULL) return; /* blank line */
  if ((strcmp(verb, "down") == 0 || strcmp(verb, "up") == 0) && a1 && !a2 &&
      parse_any(a1, -1, INT_MAX, &v) == 0) {
    err = verb[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)v)
                         : rd_kafka_mock_broker_set_up(mc, (int32_t)v);
    if (err) printf("error: %s\n", rd_kafka_err2str(err));
    else printf("ok\n");
  } else if (strcmp(verb, "errors") == 0 && a1 && a2 && parse_any(a1, 0, 32767, &v) == 0) {
    rd_kafka_resp_err_t errs[MAX_ERRS];
    size_t n = 0;
    char *s2 = NULL;
    char *tok;
    for (tok = strtok_r(a2, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2)) {
      long e;
      if (n == MAX_ERRS || parse_any(tok, -1000, 1000, &e) != 0) {
        printf("error: bad error code list\n");
        fflush(stdout);
        return;
      }
      errs[n++] = (rd_kafka_resp_err_t)e;
    }
    rd_kafka_mock_push_request_errors_array(mc, (int16_t)v, n, errs);
    printf("ok\n");
  } else {
    printf("error: unknown command (expected: errors <apiKey> <err,...> | down <id> | up <id>)\n");
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  long brokers = 0;
  char errstr[512];
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_mock_cluster_t *mc;
  struct sigaction sa;
  int i;
  char cmd[1024];
  size_t cmd_len = 0;
  int cmd_overflow = 0;

  if (argc < 2 || parse_int(argv[1], 1, 64, &brokers) != 0) {
    usage();
    return 2;
  }
  /* Validate every topic before starting anything, so bad input fails fast and clearly. */
  for (i = 2; i < argc; i++) {
    const char *colon = strrchr(argv[i], ':');
    long parts;
    if (colon == NULL || colon == argv[i] || parse_int(colon + 1, 1, 100000, &parts) != 0) {
      fprintf(stderr, "kafka-mock: bad topic spec '%s' (expected name:partitions, partitions 1..100000)\n",
              argv[i]);
      return 2;
    }
  }

  /* No SA_RESTART: a signal must interrupt poll() below. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  /* A closed stdout/stdin pipe must not kill us before the cluster is destroyed. */
  signal(SIGPIPE, SIG_IGN);

  conf = rd_kafka_conf_new();
  /* The handle only hosts the mock cluster; it never connects anywhere itself. */
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "kafka-mock: %s\n", errstr);
    return 1;
  }
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == NULL) {
    fprintf(stderr, "kafka-mock: rd_kafka_new failed: %s\n", errstr);
    return 1;
  }
  mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
  if (mc == NULL) {
    fprintf(stderr, "kafka-mock: rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }

  for (i = 2; i < argc; i++) {
    char *spec = argv[i];
    char *colon = strrchr(spec, ':');
    long parts = 0;
    int rf = brokers < 3 ? (int)brokers : 3;
    rd_kafka_resp_err_t err;
    *colon = '\0';
    parse_int(colon + 1, 1, 100000, &parts);
    err = rd_kafka_mock_topic_create(mc, spec, (int)parts, rf);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fprintf(stderr, "kafka-mock: cannot create topic '%s': %s\n", spec, rd_kafka_err2str(err));
      rd_kafka_mock_cluster_destroy(mc);
      rd_kafka_destroy(rk);
      return 1;
    }
  }

  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  while (!stop_requested) {
    struct pollfd pfd;
    int n;
    pfd.fd = STDIN_FILENO;
    pfd.events = POLLIN;
    pfd.revents = 0;
    n = poll(&pfd, 1, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) continue;
    if (pfd.revents & POLLIN) {
      char buf[256];
      ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
      ssize_t k;
      if (r == 0) break; /* EOF: the parent closed stdin or died */
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        break;
      }
      for (k = 0; k < r; k++) {
        if (buf[k] == '\n') {
          cmd[cmd_len] = '\0';
          if (cmd_overflow) {
            printf("error: command too long\n");
            fflush(stdout);
          } else {
            command(mc, cmd);
          }
          cmd_len = 0;
          cmd_overflow = 0;
        } else if (cmd_len < sizeof(cmd) - 1) {
          cmd[cmd_len++] = buf[k];
        } else {
          cmd_overflow = 1;
        }
      }
      continue;
    }
    if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) break;
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
