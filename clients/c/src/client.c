/* The client channel (SPEC.md 3.3, 4): one DEALER socket, requests numbered from 1,
 * replies matched by rid only, so requests may be pipelined (ml_send / ml_recv) and
 * mixed with blocking calls (a reply that arrives while a call waits for another is
 * kept for ml_recv).  The first request of a connection is preceded by a HELLO whose
 * reply is checked for protocol 1; a broker speaking another version makes every later
 * call fail with protocol.bad_version. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define DEFAULT_TIMEOUT_MS 5000
#define BULK_HWM 100000

enum { HELLO_NONE, HELLO_SENT, HELLO_OK, HELLO_MISMATCH };

struct ml_client {
  void *ctx, *sock;
  char clients[512], events[512];
  int timeout_ms;
  uint64_t next_rid, hello_rid;
  int hello, broker_protocol;
  bool curve;
  char pub[41], sec[41], server[41], name[128];
  ml_error err;
  void (*log)(void *, const char *);
  void *log_arg;
  ml_reply *stash; /* FIFO of replies for ml_recv */
  size_t head, count, cap;
  uint64_t *forgotten; /* rids of calls that gave up: their late replies are dropped */
  size_t nforgotten, capforgotten;
  bool pipelined; /* ml_send was used: keep replies a call did not wait for, for ml_recv */
};

int64_t ml_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ml_client_log(ml_client *c, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (c->log) c->log(c->log_arg, line);
  else fprintf(stderr, "medialoom: %s\n", line);
}

ml_error *ml_client_err(ml_client *c) { return &c->err; }
const ml_error *ml_client_error(const ml_client *c) { return &c->err; }
const char *ml_client_endpoint(const ml_client *c) { return c->clients; }
bool ml_client_curve(const ml_client *c) { return c->curve; }
int ml_client_timeout(const ml_client *c) { return c->timeout_ms; }
const char *ml_client_name(const ml_client *c) { return c->name; }

/* given, else the setting (MEDIALOOM_<NAME>, the settings file) copied into buf, else NULL */
static const char *given_or(const char *given, const char *name, char *buf, size_t n) {
  if (given && *given) return given;
  return !ml_setting(name, buf, n) && *buf ? buf : NULL;
}

void *ml_client_socket(ml_client *c, int type, const char *ep) {
  ep = ep ? ep : c->events;
  void *s = zmq_socket(c->ctx, type);
  int zero = 0, hwm = BULK_HWM;
  int64_t max = ML_HARD_MAX_BYTES;
  if (!s) {
    ml_fail(&c->err, "internal", NULL, "zmq_socket: %s", zmq_strerror(errno));
    return NULL;
  }
  int rc = zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) |
           zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max) |
           zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) |
           zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
  if (!rc && c->curve)
    rc = zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->server, 41) |
         zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->pub, 41) |
         zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->sec, 41);
  if (rc || zmq_connect(s, ep)) {
    ml_fail(&c->err, "internal", NULL, "cannot connect to %s: %s", ep, zmq_strerror(errno));
    zmq_close(s);
    return NULL;
  }
  return s;
}

/* CURVE keys (README "Secure sockets"): the key file from the option, MEDIALOOM_KEY or the
 * settings file's `key` (with `curve = "true"` alone: DATA_DIR/keys/issued/local.key_secret);
 * the broker's public key likewise (`broker_key`), by default DATA_DIR/keys/broker.key, where
 * `medialoom keys init` puts it on the broker host (copy it there on the others). */
static int load_keys(ml_client *c, const ml_options *o, ml_error *err) {
  char kbuf[4096], bbuf[4096], dir[4000], on[16], dkey[4096], dbroker[4096];
  const char *key = given_or(o->key_file, "key", kbuf, sizeof kbuf);
  const char *broker = given_or(o->broker_key_file, "broker_key", bbuf, sizeof bbuf);
  char msg[512], unused[41];
  bool curve = !ml_setting("curve", on, sizeof on) &&
               (!strcmp(on, "true") || !strcmp(on, "1") || !strcmp(on, "yes") || !strcmp(on, "on"));
  ml_data_dir(dir, sizeof dir);
  if (curve && !key) {
    snprintf(dkey, sizeof dkey, "%s/keys/issued/local.key_secret", dir);
    key = dkey;
  }
  if (key && !broker) {
    snprintf(dbroker, sizeof dbroker, "%s/keys/broker.key", dir);
    broker = dbroker;
  }
  if (!key && !broker) return 0;
  if (!key || !broker) {
    ml_fail(err, "auth.bad_key", NULL, "CURVE needs both this client's key file and the "
            "broker's public key file (got only the %s)", key ? "client's" : "broker's");
    return -1;
  }
  if (!zmq_has("curve")) {
    ml_fail(err, "auth.bad_key", NULL, "this libzmq was built without CURVE");
    return -1;
  }
  if (ml_read_cert(key, c->pub, c->sec, true, msg, sizeof msg) ||
      ml_read_cert(broker, c->server, unused, false, msg, sizeof msg)) {
    ml_fail(err, "auth.bad_key", NULL, "%s", msg);
    return -1;
  }
  c->curve = true;
  return 0;
}

ml_client *ml_client_open(const ml_options *opt, ml_error *err) {
  ml_options none = {0};
  const ml_options *o = opt ? opt : &none;
  ml_error_clear(err);
  ml_client *c = calloc(1, sizeof *c);
  if (!c) return ml_fail(err, "internal", NULL, "out of memory"), NULL;
  ml_endpoint(c->clients, sizeof c->clients, o->clients, "clients", 5570);
  ml_endpoint(c->events, sizeof c->events, o->events, "events_out", 5573);
  c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
  c->next_rid = 1;
  c->log = o->log, c->log_arg = o->log_arg;
  snprintf(c->name, sizeof c->name, "%s", o->name ? o->name : "medialoom-c " ML_VERSION);
  if (load_keys(c, o, err)) {
    free(c);
    return NULL;
  }
  c->ctx = zmq_ctx_new();
  if (c->ctx) c->sock = ml_client_socket(c, ZMQ_DEALER, c->clients);
  else ml_fail(&c->err, "internal", NULL, "zmq_ctx_new: %s", zmq_strerror(errno));
  if (!c->sock) {
    if (err) *err = c->err, memset(&c->err, 0, sizeof c->err);
    ml_client_close(c);
    return NULL;
  }
  return c;
}

void ml_client_close(ml_client *c) {
  if (!c) return;
  if (c->sock) zmq_close(c->sock);
  if (c->ctx) zmq_ctx_term(c->ctx);
  while (c->count) {
    ml_reply_clear(&c->stash[c->head]);
    c->head = (c->head + 1) % c->cap, c->count--;
  }
  free(c->stash);
  free(c->forgotten);
  ml_error_clear(&c->err);
  free(c);
}

void ml_reply_clear(ml_reply *r) {
  if (!r) return;
  ml_free(r->data);
  ml_error_clear(&r->error);
  memset(r, 0, sizeof *r);
}

static int send_frames(ml_client *c, ml_value *request, uint64_t rid) {
  ml_frames f;
  int rc = ml_set(request, "rid", ml_int((int64_t)rid)) ? -1 : 0;
  if (rc || ml_encode(ML_CH_CLIENT, request, &f, &c->err)) {
    if (rc) ml_fail(&c->err, "internal", NULL, "out of memory");
    ml_free(request);
    return -1;
  }
  ml_free(request);
  if (f.frame[1].size > ML_MAX_BODY_BYTES) {
    ml_fail(&c->err, "protocol.too_large", NULL, "the request is %zu bytes; the broker takes "
            "at most %u", f.frame[1].size, ML_MAX_BODY_BYTES);
    ml_frames_free(&f);
    return -1;
  }
  if (zmq_send(c->sock, f.frame[0].data, f.frame[0].size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
      zmq_send(c->sock, f.frame[1].data, f.frame[1].size, ZMQ_DONTWAIT) < 0)
    rc = -1, ml_fail(&c->err, "broker.unavailable", NULL, "cannot send to %s: %s", c->clients,
                     zmq_strerror(errno));
  ml_frames_free(&f);
  return rc;
}

uint64_t ml_send(ml_client *c, ml_value *request) {
  c->pipelined = true;
  return ml_send_request(c, request);
}

uint64_t ml_send_request(ml_client *c, ml_value *request) {
  ml_error_clear(&c->err);
  if (c->hello == HELLO_MISMATCH) {
    ml_fail(&c->err, "protocol.bad_version", NULL, "the broker at %s speaks protocol %d; "
            "this client speaks 1", c->clients, c->broker_protocol);
    ml_free(request);
    return 0;
  }
  if (c->hello == HELLO_NONE) {
    ml_value *hello = ml_map();
    ml_set(hello, "cmd", ml_str("HELLO"));
    ml_set(hello, "client", ml_str(c->name));
    c->hello_rid = c->next_rid++;
    c->hello = HELLO_SENT;
    if (send_frames(c, hello, c->hello_rid)) return ml_free(request), 0;
  }
  if (!request) return ml_fail(&c->err, "internal", NULL, "out of memory"), 0;
  uint64_t rid = c->next_rid++;
  return send_frames(c, request, rid) ? 0 : rid;
}

static void check_hello(ml_client *c, ml_reply *r) {
  int64_t protocol = ml_get_int(r->data, "protocol", -1);
  c->hello = HELLO_OK;
  if (!r->ok) {
    ml_client_log(c, "HELLO refused: %s (%s)", r->error.code, r->error.message);
  } else if (protocol != 1) {
    c->hello = HELLO_MISMATCH;
    c->broker_protocol = (int)protocol;
    ml_client_log(c, "the broker at %s speaks protocol %lld, this client 1", c->clients,
                  (long long)protocol);
  }
}

/* 1: a reply in *r; 0: nothing before the timeout; 2: something arrived but was dropped */
static int receive(ml_client *c, int timeout_ms, ml_reply *r) {
  zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
  memset(r, 0, sizeof *r);
  int n = zmq_poll(&item, 1, timeout_ms < 0 ? 0 : timeout_ms);
  if (n <= 0) return 0;
  zmq_msg_t parts[4];
  ml_frame frames[4];
  size_t count = 0;
  int more = 1;
  while (more) {
    zmq_msg_t scratch, *m = count < 4 ? &parts[count] : &scratch;
    zmq_msg_init(m);
    if (zmq_msg_recv(m, c->sock, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(m);
      break;
    }
    more = zmq_msg_more(m);
    if (count < 4) frames[count] = (ml_frame){zmq_msg_data(m), zmq_msg_size(m)};
    else zmq_msg_close(m);
    count++;
  }
  if (!count) return 2;
  ml_error err = {0};
  ml_value *msg = count <= 4 ? ml_decode(ML_CH_REPLY, frames, count, &err) : NULL;
  for (size_t i = 0; i < count && i < 4; i++) zmq_msg_close(&parts[i]);
  if (!msg) {
    ml_client_log(c, "dropped an undecodable reply: %s (%s)", count > 4 ? "protocol.bad_frame"
                  : err.code, count > 4 ? "too many frames" : err.message);
    ml_error_clear(&err);
    return 2;
  }
  r->rid = (uint64_t)ml_get_int(msg, "rid", 0);
  r->ok = !strcmp(ml_get_str(msg, "cmd", ""), "REPLY");
  if (r->ok) {
    r->data = ml_take(msg, "data");
  } else {
    snprintf(r->error.code, sizeof r->error.code, "%s", ml_get_str(msg, "code", ""));
    snprintf(r->error.message, sizeof r->error.message, "%s", ml_get_str(msg, "message", ""));
    r->error.details = ml_take(msg, "details");
    snprintf(r->error.field, sizeof r->error.field, "%s",
             ml_get_str(r->error.details, "field", ""));
    r->error.rid = r->rid;
  }
  ml_free(msg);
  return 1;
}

/* whether a reply goes to ml_recv (false: it was the HELLO's, unasked for, or late) */
static bool deliverable(ml_client *c, ml_reply *r) {
  if (c->hello == HELLO_SENT && r->rid == c->hello_rid) {
    check_hello(c, r);
    return false;
  }
  if (r->rid == 0 || r->rid >= c->next_rid) {
    ml_client_log(c, "%s for rid %llu, which was never sent: %s %s", r->ok ? "a REPLY" :
                  "an ERROR", (unsigned long long)r->rid, r->error.code, r->error.message);
    return false;
  }
  for (size_t i = 0; i < c->nforgotten; i++)
    if (c->forgotten[i] == r->rid) { /* each rid gets one reply: forget it now */
      c->forgotten[i] = c->forgotten[--c->nforgotten];
      return false;
    }
  return r->rid != c->hello_rid;
}

static void stash(ml_client *c, ml_reply *r) {
  if (c->count == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    ml_reply *s = malloc(cap * sizeof *s);
    if (!s) {
      ml_client_log(c, "out of memory: dropped the reply to rid %llu", (unsigned long long)r->rid);
      ml_reply_clear(r);
      return;
    }
    for (size_t i = 0; i < c->count; i++) s[i] = c->stash[(c->head + i) % c->cap];
    free(c->stash);
    c->stash = s, c->cap = cap, c->head = 0;
  }
  c->stash[(c->head + c->count++) % c->cap] = *r;
}

int ml_recv(ml_client *c, int timeout_ms, ml_reply *out) {
  int64_t deadline = ml_now_ms() + timeout_ms;
  ml_error_clear(&c->err);
  while (c->count) {
    *out = c->stash[c->head];
    c->head = (c->head + 1) % c->cap, c->count--;
    if (out->rid) return 1; /* (0: a reply forgotten while it waited here) */
  }
  for (;;) {
    int64_t left = timeout_ms < 0 ? 1000 : deadline - ml_now_ms();
    if (left < 0) return 0;
    ml_reply r;
    if (receive(c, (int)left, &r) != 1) continue;
    if (deliverable(c, &r)) return *out = r, 1;
    ml_reply_clear(&r);
  }
}

void ml_forget(ml_client *c, uint64_t rid) {
  for (size_t i = 0; i < c->count; i++) { /* already here: drop it */
    ml_reply *r = &c->stash[(c->head + i) % c->cap];
    if (r->rid == rid) {
      ml_reply_clear(r); /* an empty reply stays in the queue; ml_recv skips it */
      return;
    }
  }
  if (c->nforgotten == c->capforgotten) {
    size_t cap = c->capforgotten ? c->capforgotten * 2 : 16;
    uint64_t *f = realloc(c->forgotten, cap * sizeof *f);
    if (!f) return; /* its late reply will be dropped as unknown or kept for ml_recv */
    c->forgotten = f, c->capforgotten = cap;
  }
  c->forgotten[c->nforgotten++] = rid;
}

ml_value *ml_await(ml_client *c, uint64_t rid, int timeout_ms, bool forget) {
  int64_t deadline = ml_now_ms() + timeout_ms;
  for (;;) {
    int64_t left = timeout_ms < 0 ? 1000 : deadline - ml_now_ms();
    if (left < 0) {
      if (forget) ml_forget(c, rid);
      ml_fail(&c->err, "broker.unavailable", NULL, "no answer from the broker at %s within "
              "%.1f s; is it running (medialoom up)?", c->clients, timeout_ms / 1000.0);
      return NULL;
    }
    ml_reply r;
    if (receive(c, (int)left, &r) != 1) continue;
    if (r.rid == rid) {
      if (r.ok) return r.data ? r.data : ml_map();
      ml_error_clear(&c->err);
      c->err = r.error;
      return NULL;
    }
    bool keep = deliverable(c, &r); /* checks the HELLO, logs what nobody asked for */
    if (keep && c->pipelined) stash(c, &r);
    else ml_reply_clear(&r);
  }
}

ml_value *ml_call(ml_client *c, ml_value *request, int timeout_ms) {
  uint64_t rid = ml_send_request(c, request);
  return rid ? ml_await(c, rid, timeout_ms ? timeout_ms : c->timeout_ms, true) : NULL;
}

ml_value *ml_call_key(ml_client *c, ml_value *request, const char *key) {
  ml_value *data = ml_call(c, request, 0);
  if (!data) return NULL;
  ml_value *v = ml_take(data, key);
  ml_free(data);
  if (!v) ml_fail(&c->err, "protocol.bad_field", key, "the reply has no '%s'", key);
  return v;
}
