/* medialoom.h: a C client of the medialoom wire protocol, version 1 (protocol/SPEC.md).
 *
 * Three layers, each usable on its own:
 *   values  ml_value, a decoded msgpack tree (maps keep their key order);
 *   codec   ml_encode / ml_decode: frames <-> messages of every channel, every field
 *           checked by the value rules of SPEC.md 3.2.1, every size bound-checked;
 *   client  ml_client (the client channel: HELLO, PING, START, STATUS, WAIT, CANCEL,
 *           CLEAR, LIST, STATS, RESULTS, PLAN, pipelined by rid) and ml_watch (the event
 *           channel, following the Clone pattern of SPEC.md 7.3), with optional CURVE.
 *
 * Errors are data: every failing call leaves an ml_error whose `code` is a stable wire
 * code (SPEC.md 9), or "broker.unavailable" when the broker did not answer in time.
 * Link: cc app.c libmedialoom.a -lmsgpuck -lzmq -lm.  Not thread-safe: one ml_client per
 * thread; close a client's watches before the client.
 */
#ifndef MEDIALOOM_H
#define MEDIALOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ML_VERSION "0.1.0"
#define ML_MAX_BODY_BYTES (1u << 20)  /* client request bodies (SPEC.md 10) */
#define ML_HARD_MAX_BYTES (64u << 20) /* any frame: ZMQ_MAXMSGSIZE */
#define ML_MAX_DEPTH 32               /* nesting, the body map counting as level 1 */

/* ---- values ------------------------------------------------------------------------- */

typedef enum { ML_NIL, ML_BOOL, ML_INT, ML_FLOAT, ML_STR, ML_ARRAY, ML_MAP } ml_type;
typedef struct ml_value ml_value;

/* Constructors return NULL only when out of memory. */
ml_value *ml_nil(void);
ml_value *ml_bool(bool b);
ml_value *ml_int(int64_t i);
ml_value *ml_float(double f);
ml_value *ml_str(const char *s);              /* copies s */
ml_value *ml_strn(const char *s, size_t len); /* copies len bytes; NUL-terminated copy */
ml_value *ml_array(void);
ml_value *ml_map(void);
/* Take ownership of item/val (freed on failure too); 0 ok, -1 wrong type or no memory.
 * ml_set replaces the value of an existing key in place. */
int ml_push(ml_value *array, ml_value *item);
int ml_set(ml_value *map, const char *key, ml_value *val);
int ml_setn(ml_value *map, const char *key, size_t keylen, ml_value *val);
void ml_free(ml_value *v);
ml_value *ml_clone(const ml_value *v);
/* Same types and values, map keys in the same order (a float is never equal to an int). */
bool ml_equal(const ml_value *a, const ml_value *b);

ml_type ml_typeof(const ml_value *v); /* ML_NIL for NULL */
size_t ml_len(const ml_value *v);     /* array items, map entries, str bytes; else 0 */
const ml_value *ml_at(const ml_value *array, size_t i);
const char *ml_key_at(const ml_value *map, size_t i, size_t *len);
const ml_value *ml_val_at(const ml_value *map, size_t i);
const ml_value *ml_get(const ml_value *map, const char *key); /* NULL if absent */
bool ml_as_bool(const ml_value *v);
int64_t ml_as_int(const ml_value *v);
double ml_as_float(const ml_value *v); /* an int gives its float */
const char *ml_as_str(const ml_value *v); /* NUL-terminated; NULL if not a str */
/* Map look-ups with a default for a missing key or another type. */
const char *ml_get_str(const ml_value *map, const char *key, const char *dflt);
int64_t ml_get_int(const ml_value *map, const char *key, int64_t dflt);
double ml_get_float(const ml_value *map, const char *key, double dflt);
bool ml_get_bool(const ml_value *map, const char *key, bool dflt);

/* JSON, for printing and for params typed on a command line: objects keep key order,
 * a number with '.', 'e' or 'E' is a float, others ints.  ml_to_json returns a malloc'd
 * string (NULL: no memory); ml_from_json NULL with a reason in err (may be NULL). */
char *ml_to_json(const ml_value *v);
ml_value *ml_from_json(const char *text, size_t len, char *err, size_t errlen);

/* ---- errors ------------------------------------------------------------------------- */

typedef struct {
  char code[64];      /* wire code ("job.not_found", ...), "" when there is no error */
  char message[256];  /* for people; never parse it */
  char field[64];     /* details.field when the details name one, else "" */
  uint64_t rid;       /* the rid the error is about (0: none or unreadable) */
  ml_value *details;  /* the whole details value or NULL; freed by ml_error_clear */
} ml_error;

void ml_error_clear(ml_error *err);

/* ---- codec (SPEC.md 2-3) ------------------------------------------------------------ */

typedef enum { ML_CH_CLIENT, ML_CH_REPLY, ML_CH_WORKER, ML_CH_BROKER, ML_CH_EVENT } ml_channel;
int ml_channel_from_name(const char *name); /* "client" ... "event"; -1 if unknown */

typedef struct {
  unsigned char *data;
  size_t size;
} ml_frame;

typedef struct {
  ml_frame frame[3];
  int count; /* 2, or 3 on the event channel (topic, tag, body) */
} ml_frames;

/* msg: a map with "cmd" and the command's fields; missing optional fields take their
 * defaults, every field is written in the documented order.  0 ok, -1 with err set
 * (an unknown command or key, a wrong type: the caller's own mistake). */
int ml_encode(ml_channel ch, const ml_value *msg, ml_frames *out, ml_error *err);
void ml_frames_free(ml_frames *frames);
/* The message as a map: "cmd" first, then every field of the command in order, defaults
 * filled in, a float field sent as an int given as a float.  NULL with err set to the
 * SPEC's code; on the client channel err->rid is the rid rule of SPEC.md 4.13. */
ml_value *ml_decode(ml_channel ch, const ml_frame *frames, size_t count, ml_error *err);
uint64_t ml_request_id(const ml_frame *frames, size_t count); /* SPEC.md 4.13 */

/* ---- client (SPEC.md 4) ------------------------------------------------------------- */

typedef struct {
  /* NULL: $MEDIALOOM_CLIENTS, else `clients` in the settings file ($MEDIALOOM_CONFIG or
   * ~/.config/medialoom/config.toml), else tcp://<host>:5570 with host found the same
   * way (default 127.0.0.1); events likewise (events_out, port 5573). SPEC.md 10.1. */
  const char *clients;
  const char *events;
  int timeout_ms;      /* per request; 0: 5000 */
  /* CURVE: this client's secret certificate and the broker's public certificate, files in
   * the ZeroMQ certificate format `medialoom keys` and pyzmq's zmq.auth.create_certificates
   * write.  NULL: $MEDIALOOM_KEY / $MEDIALOOM_BROKER_KEY (or `key` / `broker_key` in the
   * settings file), else plain TCP.  A key without a broker key uses DATA_DIR/keys/broker.key
   * ($MEDIALOOM_DATA_DIR, else ~/.local/share/medialoom), where `medialoom keys init` puts it;
   * MEDIALOOM_CURVE=true alone uses DATA_DIR/keys/issued/local.key_secret too. */
  const char *key_file;
  const char *broker_key_file;
  const char *name; /* HELLO `client`; NULL: "medialoom-c " ML_VERSION */
  /* undecodable replies and ERRORs nobody asked for (SPEC.md 4.13, 9.3); NULL: stderr */
  void (*log)(void *arg, const char *line);
  void *log_arg;
} ml_options;

typedef struct ml_client ml_client;

ml_client *ml_client_open(const ml_options *opt, ml_error *err);
void ml_client_close(ml_client *c);
/* The error of the last call that failed on c (valid until the next call). */
const ml_error *ml_client_error(const ml_client *c);
const char *ml_client_endpoint(const ml_client *c);
bool ml_client_curve(const ml_client *c);

typedef struct {
  const char *kind;
  const char *const *paths;
  size_t npaths;
  const ml_value *params; /* a map or NULL; borrowed */
  const char *priority;   /* NULL: "normal" */
  bool dry_run;
  bool allow_conflict;
  unsigned max_attempts;  /* 0: the broker's default */
  const char *retry_of;   /* NULL: "" */
} ml_start_args;

typedef struct {
  const char *const *status; /* NULL-terminated lists or NULL */
  const char *const *kind;
  unsigned limit;            /* 0: the default (50 for LIST, 100 for RESULTS and PLAN) */
  unsigned offset;
  const char *order;         /* LIST only; NULL: "-created" */
} ml_page_args;

/* Each returns an owned value (ml_free it) or NULL with ml_client_error(c) set. */
ml_value *ml_hello(ml_client *c);                             /* REPLY data */
int ml_ping(ml_client *c, double *now);                       /* 0 ok, -1 error */
ml_value *ml_start(ml_client *c, const ml_start_args *args);  /* job map, seq 1 */
ml_value *ml_status(ml_client *c, const char *job);           /* job map */
ml_value *ml_cancel(ml_client *c, const char *job);           /* job map */
ml_value *ml_clear(ml_client *c, const char *job);            /* {cleared} */
/* WAIT, re-sent every few seconds (STATUS in between), so a restarted broker is fine;
 * timeout_ms < 0 waits for ever. */
ml_value *ml_wait(ml_client *c, const char *job, int timeout_ms);
ml_value *ml_list(ml_client *c, const ml_page_args *args);                    /* {jobs, total} */
ml_value *ml_stats(ml_client *c);
ml_value *ml_results(ml_client *c, const char *job, const ml_page_args *args); /* {items, total} */
ml_value *ml_plan(ml_client *c, const char *job, const ml_page_args *args);  /* {ops, total, complete} */

/* Pipelining: ml_send takes a request map ("cmd" and fields, no "rid"; ownership passes)
 * and returns its rid (0: error); ml_recv gives the next reply of any rid. */
typedef struct {
  uint64_t rid;
  bool ok;        /* REPLY; else ERROR, see error */
  ml_value *data; /* REPLY data (owned) */
  ml_error error;
} ml_reply;

uint64_t ml_send(ml_client *c, ml_value *request);
int ml_recv(ml_client *c, int timeout_ms, ml_reply *out); /* 1 a reply, 0 timeout, -1 error */
void ml_reply_clear(ml_reply *r);

/* ---- watch: the Clone pattern (SPEC.md 7.3) ------------------------------------------ */

typedef struct ml_watch ml_watch;

enum { ML_WATCH_TIMEOUT = 0, ML_WATCH_CHANGED = 1, ML_WATCH_ENDED = 2 };

/* Subscribe (to one job, or to every job when job is NULL), then snapshot with STATUS.
 * ml_watch_next gives the next state of a job (*job owned by the watch, valid until the
 * next call): the snapshot first, then one per applied EVENT; an EVENT after a gap in
 * `seq` takes a new snapshot; a terminal status is always the STATUS map.  A one-job
 * watch returns ML_WATCH_ENDED once the job's final map was given. -1: error. */
ml_watch *ml_watch_open(ml_client *c, const char *job);
int ml_watch_next(ml_watch *w, int timeout_ms, const ml_value **job);
void ml_watch_close(ml_watch *w);

typedef struct {
  uint64_t events;     /* EVENTs received */
  uint64_t applied;    /* applied in order (seq = last + 1) */
  uint64_t stale;      /* dropped: seq <= last */
  uint64_t snapshots;  /* STATUS taken (first sight, gaps, quiet periods, terminal) */
  uint64_t gaps;       /* seq > last + 1 */
  uint64_t undecodable;
} ml_watch_counts;

ml_watch_counts ml_watch_stats(const ml_watch *w);

bool ml_is_terminal(const char *status); /* completed, failed, cancelled */

#ifdef __cplusplus
}
#endif
#endif
