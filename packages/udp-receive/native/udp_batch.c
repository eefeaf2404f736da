// Batched UDP receive for the collector: one recvmmsg(2) call and one JavaScript callback
// for up to `slots` datagrams, where node:dgram makes one syscall, one Buffer and one
// callback per datagram (~10 µs a datagram at flow-export rates).
//
// The socket is watched with a uv_poll_t on the calling thread's own event loop (the main
// thread or a worker), so callbacks run on the thread that opened it, like dgram's. Under load
// a wake-up per datagram would cost more than the datagram (epoll, a callback into JavaScript):
// once a wake-up finds COALESCE_MIN datagrams or more, the socket is read every COALESCE_MS by
// a timer instead (interrupt moderation, as network cards do), back to poll when traffic thins. Datagrams
// land in memory owned by JavaScript (ArrayBuffers kept alive by references): slot i at
// data[i * slotSize], its length in lengths[i], its source in addrs[i * 20] (family, port,
// address bytes). The callback gets the count; the slots are reused by the next batch, so
// JavaScript must copy what it keeps.
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADDR_BYTES 20
// At most this many recvmmsg calls per readiness event, so one busy socket does not starve
// the loop's timers and the other sockets.
#define MAX_ROUNDS 16
#define COALESCE_MIN 8
#define COALESCE_MS 1

struct receiver;
// What JavaScript holds (an external): outlives the receiver, so stop() after the close is safe.
typedef struct handle_box {
  struct receiver *r;
} handle_box;

typedef struct receiver {
  uv_poll_t poll;
  uv_timer_t timer;
  napi_env env;
  int fd;
  int closing;
  int open_handles;
  unsigned slots;
  size_t slot_size;
  uint8_t *data;
  int32_t *lengths;
  uint8_t *addrs;
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_storage *from;
  napi_ref refs[4]; // data, lengths, addrs, callback
  napi_async_context ctx;
  napi_ref close_cb;
  napi_async_cleanup_hook_handle cleanup;
  handle_box *box;
} receiver;

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  const char *code = uv_err_name(-err); // "EADDRINUSE", as node:dgram's errors name it
  char msg[160];
  snprintf(msg, sizeof msg, "%s %s: %s", syscall, code, strerror(err));
  napi_value m, c, e, s, n;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_set_named_property(env, e, "code", c);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, e, "syscall", s);
  napi_create_int32(env, -err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_throw(env, e);
  return NULL;
}

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, NULL, "udp-batch: " #call " failed");                                  \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "udp-batch: missing arguments");
    return 0;
  }
  return 1;
}

// The one argument of info() and close(): a socket's fd.
static int fd_arg(napi_env env, napi_callback_info info, int32_t *fd) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return 0;
  if (napi_get_value_int32(env, argv[0], fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp-batch: fd must be a number");
    return 0;
  }
  return 1;
}

static int fill_addr(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return AF_INET;
  }
  if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return AF_INET6;
  }
  return 0;
}

// open(address, port, reusePort, recvBufferBytes) -> fd: a bound, non-blocking UDP socket.
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  char text[64];
  size_t tl;
  int32_t port, rcvbuf;
  bool reuse;
  CHECK(napi_get_value_string_utf8(env, argv[0], text, sizeof text, &tl));
  CHECK(napi_get_value_int32(env, argv[1], &port));
  CHECK(napi_get_value_bool(env, argv[2], &reuse));
  CHECK(napi_get_value_int32(env, argv[3], &rcvbuf));
  struct sockaddr_storage ss;
  socklen_t sl;
  int family = fill_addr(text, port, &ss, &sl);
  if (!family) {
    napi_throw_type_error(env, "ERR_INVALID_ADDRESS", "udp-batch: not an IP address");
    return NULL;
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  int one = 1;
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "setsockopt");
  }
  // Capped by net.core.rmem_max, as with dgram (the caller reports what it got).
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "bind");
  }
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

// info(fd) -> [localPort, receiveBufferBytes]
static napi_value js_info(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return throw_errno(env, errno, "getsockname");
  int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
  int rcv = 0;
  socklen_t rl = sizeof rcv;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &rl);
  napi_value out, p, r;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_create_int32(env, port, &p));
  CHECK(napi_create_int32(env, rcv, &r));
  napi_set_element(env, out, 0, p);
  napi_set_element(env, out, 1, r);
  return out;
}

// ntop(addrs, offset) -> the address text of one slot, as inet_ntop (and so dgram) writes it.
static napi_value js_ntop(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  void *p;
  size_t len;
  uint32_t off;
  CHECK(napi_get_typedarray_info(env, argv[0], NULL, &len, &p, NULL, NULL));
  CHECK(napi_get_value_uint32(env, argv[1], &off));
  if (off > len || len - off < ADDR_BYTES) {
    napi_throw_range_error(env, NULL, "udp-batch: offset out of range");
    return NULL;
  }
  const uint8_t *a = (const uint8_t *)p + off;
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(a[0] == 6 ? AF_INET6 : AF_INET, a + 4, buf, sizeof buf)) buf[0] = 0;
  napi_value out;
  CHECK(napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &out));
  return out;
}

static void release(receiver *r) {
  for (int i = 0; i < 4; i++)
    if (r->refs[i]) napi_delete_reference(r->env, r->refs[i]);
  if (r->ctx) napi_async_destroy(r->env, r->ctx);
  free(r->msgs);
  free(r->iov);
  free(r->from);
  free(r);
}

static void on_closed(uv_handle_t *h) {
  receiver *r = (receiver *)h->data;
  if (--r->open_handles > 0) return;
  if (r->fd >= 0) close(r->fd);
  if (r->box) r->box->r = NULL;
  if (r->cleanup) napi_remove_async_cleanup_hook(r->cleanup);
  napi_ref cb = r->close_cb;
  napi_env env = r->env;
  r->close_cb = NULL;
  napi_async_context ctx = r->ctx;
  r->ctx = NULL;
  if (cb) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value fn, global, res;
    if (napi_get_reference_value(env, cb, &fn) == napi_ok && fn) {
      napi_get_global(env, &global);
      napi_make_callback(env, ctx, global, fn, 0, NULL, &res);
    }
    napi_delete_reference(env, cb);
    napi_close_handle_scope(env, scope);
  }
  if (ctx) napi_async_destroy(env, ctx);
  release(r);
}

static void finalize_box(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  handle_box *box = data;
  if (box->r) box->r->box = NULL;
  free(box);
}

static void begin_close(receiver *r) {
  if (r->closing) return;
  r->closing = 1;
  uv_poll_stop(&r->poll);
  uv_timer_stop(&r->timer);
  uv_close((uv_handle_t *)&r->poll, on_closed);
  uv_close((uv_handle_t *)&r->timer, on_closed);
}

// Worker or process teardown: close the handle; the hook is removed once it is closed.
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  receiver *r = (receiver *)arg;
  (void)handle;
  if (r->close_cb) {
    napi_delete_reference(r->env, r->close_cb);
    r->close_cb = NULL;
  }
  if (r->closing) return;
  begin_close(r);
}

// Reads until the socket is empty (or MAX_ROUNDS batches), a callback per batch; returns the count.
static int drain(receiver *r, int status) {
  napi_env env = r->env;
  int total = 0;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, global, arg, res;
  napi_get_reference_value(env, r->refs[3], &fn);
  napi_get_global(env, &global);
  napi_value data;
  bool detached = false;
  napi_get_reference_value(env, r->refs[0], &data);
  napi_is_detached_arraybuffer(env, data, &detached);
  if (detached) {
    // JavaScript gave the slots' memory away (transferred it): the kernel must not write there.
    // Said once (EFAULT), and the socket is closed.
    napi_value fn, global, arg, res;
    napi_get_reference_value(env, r->refs[3], &fn);
    napi_get_global(env, &global);
    napi_create_int32(env, -EFAULT, &arg);
    begin_close(r);
    if (napi_make_callback(env, r->ctx, global, fn, 1, &arg, &res) != napi_ok) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, scope);
    return 0;
  }
  for (int round = 0; round < MAX_ROUNDS && !r->closing; round++) {
    int n;
    if (status < 0) {
      n = status; // libuv's own error (negative errno): reported, then reading goes on
      status = 0;
    } else {
      for (unsigned i = 0; i < r->slots; i++) {
        r->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
        r->msgs[i].msg_hdr.msg_flags = 0;
      }
      do n = recvmmsg(r->fd, r->msgs, r->slots, MSG_DONTWAIT, NULL);
      while (n < 0 && errno == EINTR);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        n = -errno;
      }
      for (int i = 0; i < n; i++) {
        r->lengths[i] = (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)r->msgs[i].msg_len;
        uint8_t *a = r->addrs + (size_t)i * ADDR_BYTES;
        memset(a, 0, ADDR_BYTES);
        if (r->from[i].ss_family == AF_INET6) {
          struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&r->from[i];
          a[0] = 6;
          memcpy(a + 2, &s6->sin6_port, 2);
          memcpy(a + 4, &s6->sin6_addr, 16);
        } else {
          struct sockaddr_in *s4 = (struct sockaddr_in *)&r->from[i];
          a[0] = 4;
          memcpy(a + 2, &s4->sin_port, 2);
          memcpy(a + 4, &s4->sin_addr, 4);
        }
      }
      total += n;
    }
    napi_create_int32(env, n, &arg);
    if (napi_make_callback(env, r->ctx, global, fn, 1, &arg, &res) != napi_ok) {
      // The callback threw: surface it as an uncaught exception, as an event handler's would be.
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
      break;
    }
    if (n < 0 || (unsigned)n < r->slots) break; // drained, or an error reported once per wake-up
  }
  napi_close_handle_scope(env, scope);
  return total;
}

static void on_readable(uv_poll_t *h, int status, int events);

static void on_tick(uv_timer_t *t) {
  receiver *r = (receiver *)t->data;
  if (r->closing) return;
  int got = drain(r, 0);
  if (r->closing) return;
  if (got >= COALESCE_MIN) uv_timer_start(&r->timer, on_tick, COALESCE_MS, 0);
  else uv_poll_start(&r->poll, UV_READABLE, on_readable);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  receiver *r = (receiver *)h->data;
  (void)events;
  if (r->closing) return;
  int got = drain(r, status);
  if (r->closing) return;
  if (got >= COALESCE_MIN) {
    uv_poll_stop(&r->poll);
    uv_timer_start(&r->timer, on_tick, COALESCE_MS, 0);
  } else if (status < 0) {
    uv_poll_start(&r->poll, UV_READABLE, on_readable); // libuv stops a poll handle on POLLERR
  }
}

// start(fd, data, slotSize, lengths, addrs, onBatch) -> handle
static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;
  int32_t fd;
  uint32_t slot_size;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_uint32(env, argv[2], &slot_size));
  void *data, *lengths, *addrs;
  size_t data_len, lengths_len, addrs_len;
  napi_typedarray_type lt;
  CHECK(napi_get_arraybuffer_info(env, argv[1], &data, &data_len));
  CHECK(napi_get_typedarray_info(env, argv[3], &lt, &lengths_len, &lengths, NULL, NULL));
  CHECK(napi_get_typedarray_info(env, argv[4], NULL, &addrs_len, &addrs, NULL, NULL));
  if (lt != napi_int32_array || slot_size == 0 || lengths_len == 0 || data_len < (size_t)slot_size * lengths_len ||
      addrs_len < lengths_len * ADDR_BYTES) {
    napi_throw_range_error(env, NULL, "udp-batch: buffers do not match the slots");
    return NULL;
  }
  receiver *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, ENOMEM, "start");
  r->env = env;
  r->fd = fd;
  r->slots = (unsigned)lengths_len;
  r->slot_size = slot_size;
  r->data = data;
  r->lengths = lengths;
  r->addrs = addrs;
  r->msgs = calloc(r->slots, sizeof *r->msgs);
  r->iov = calloc(r->slots, sizeof *r->iov);
  r->from = calloc(r->slots, sizeof *r->from);
  if (!r->msgs || !r->iov || !r->from) {
    release(r);
    return throw_errno(env, ENOMEM, "start");
  }
  for (unsigned i = 0; i < r->slots; i++) {
    r->iov[i].iov_base = r->data + (size_t)i * slot_size;
    r->iov[i].iov_len = slot_size;
    r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
    r->msgs[i].msg_hdr.msg_iovlen = 1;
    r->msgs[i].msg_hdr.msg_name = &r->from[i];
  }
  napi_value name;
  CHECK(napi_create_reference(env, argv[1], 1, &r->refs[0]));
  CHECK(napi_create_reference(env, argv[3], 1, &r->refs[1]));
  CHECK(napi_create_reference(env, argv[4], 1, &r->refs[2]));
  CHECK(napi_create_reference(env, argv[5], 1, &r->refs[3]));
  CHECK(napi_create_string_utf8(env, "UDPBATCH", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &r->ctx));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc != 0) {
    release(r);
    return throw_errno(env, -rc, "uv_poll_init");
  }
  uv_timer_init(loop, &r->timer);
  r->poll.data = r;
  r->timer.data = r;
  r->open_handles = 2;
  rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    r->fd = -1; // the caller closes it (it throws)
    begin_close(r);
    return throw_errno(env, -rc, "uv_poll_start");
  }
  napi_add_async_cleanup_hook(env, on_env_cleanup, r, &r->cleanup);
  handle_box *box = malloc(sizeof *box);
  if (!box) {
    begin_close(r);
    return throw_errno(env, ENOMEM, "start");
  }
  box->r = r;
  r->box = box;
  napi_value handle;
  if (napi_create_external(env, box, finalize_box, NULL, &handle) != napi_ok) {
    r->box = NULL;
    free(box);
    begin_close(r);
    napi_throw_error(env, NULL, "udp-batch: napi_create_external failed");
    return NULL;
  }
  return handle;
}

// stop(handle, onClosed) -> false when already closed (onClosed is then not called), else true:
// stop watching, close the socket, then call onClosed.
static napi_value js_stop(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  void *p;
  CHECK(napi_get_value_external(env, argv[0], &p));
  receiver *r = ((handle_box *)p)->r;
  napi_value out;
  CHECK(napi_get_boolean(env, r != NULL, &out));
  if (!r) return out;
  if (!r->close_cb) CHECK(napi_create_reference(env, argv[1], 1, &r->close_cb));
  begin_close(r); // or already closing (it gave up on its own): onClosed comes when it is closed
  return out;
}

// close(fd): a socket opened but never started.
static napi_value js_close(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  close(fd);
  return NULL;
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } fns[] = {
      {"open", js_open}, {"info", js_info}, {"ntop", js_ntop}, {"start", js_start}, {"stop", js_stop}, {"close", js_close}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}
