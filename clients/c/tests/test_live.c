/* Live sessions of the C client, started by tests/run_live.py:
 *   test_live broker         a real broker and worker pool ($MLT_CLIENTS, $MLT_EVENTS):
 *                            start -> watch -> cancel -> status, errors, pipelining
 *   test_live curve DIR      the fake CURVE broker of run_live.py: keys from DIR, the
 *                            Clone pattern over scripted events, refused keys */
#define CHECK_MAIN
#include "check.h"
#include "medialoom.h"

#include <string.h>

static ml_client *open_client(const char *key, const char *broker_key, int timeout_ms,
                              ml_error *err) {
  ml_options o = {.clients = getenv("MLT_CLIENTS"), .events = getenv("MLT_EVENTS"),
                  .key_file = key, .broker_key_file = broker_key, .timeout_ms = timeout_ms};
  return ml_client_open(&o, err);
}

static const char *code(ml_client *c) { return ml_client_error(c)->code; }

static ml_value *sleep_params(double seconds, int steps) {
  ml_value *p = ml_map();
  ml_set(p, "seconds", ml_float(seconds));
  ml_set(p, "steps", ml_int(steps));
  return p;
}

/* start -> watch -> cancel -> status on a running job */
static void session(ml_client *c) {
  ml_value *params = sleep_params(60, 600);
  ml_start_args a = {.kind = "sleep", .params = params};
  ml_value *job = ml_start(c, &a);
  CHECK(job, "START: %s", code(c));
  if (!job) return;
  char id[64];
  snprintf(id, sizeof id, "%s", ml_get_str(job, "id", ""));
  CHECK(strlen(id) == 26 && !strcmp(ml_get_str(job, "status", ""), "queued") &&
            ml_get_int(job, "seq", 0) == 1,
        "START reply: the job as created (queued, seq 1)");
  ml_watch *w = ml_watch_open(c, id);
  CHECK(w, "watch: %s", code(c));
  const ml_value *now = NULL;
  int64_t last_seq = 0, processed = 0;
  bool cancel_sent = false, monotonic = true;
  int rc = -1, changes = 0;
  while (w && (rc = ml_watch_next(w, 20000, &now)) == ML_WATCH_CHANGED) {
    changes++;
    int64_t seq = ml_get_int(now, "seq", 0);
    monotonic &= seq > last_seq;
    last_seq = seq;
    processed = ml_get_int(ml_get(now, "progress"), "processed", 0);
    if (!cancel_sent && processed >= 3) { /* running and reporting: cancel it */
      ml_value *cancelled = ml_cancel(c, id);
      CHECK(cancelled && ml_get_bool(cancelled, "cancel_requested", false) &&
                !strcmp(ml_get_str(cancelled, "status", ""), "running"),
            "CANCEL of a running job: running, cancel_requested (%s)", code(c));
      ml_free(cancelled);
      cancel_sent = true;
    }
  }
  CHECK(w && rc == ML_WATCH_ENDED, "watch ended with %d (%s)", rc, code(c));
  CHECK(cancel_sent, "the job never reported 3 items");
  CHECK(monotonic && changes >= 5, "%d changes, seq increasing: %d", changes, monotonic);
  ml_watch_counts n = w ? ml_watch_stats(w) : (ml_watch_counts){0};
  CHECK(n.applied >= 3, "events applied in order: %llu", (unsigned long long)n.applied);
  printf("watch: %d changes; events %llu, applied %llu, stale %llu, gaps %llu, snapshots %llu\n",
         changes, (unsigned long long)n.events, (unsigned long long)n.applied,
         (unsigned long long)n.stale, (unsigned long long)n.gaps,
         (unsigned long long)n.snapshots);
  ml_watch_close(w);
  ml_value *st = ml_status(c, id);
  CHECK(st && !strcmp(ml_get_str(st, "status", ""), "cancelled") &&
            ml_get_bool(st, "cancel_requested", false) &&
            ml_typeof(ml_get(st, "finished")) == ML_FLOAT,
        "STATUS after the watch: cancelled, finished (%s)", code(c));
  CHECK(st && ml_get_int(st, "seq", -1) == last_seq, "STATUS seq %lld, watch ended at %lld",
        (long long)ml_get_int(st, "seq", -1), (long long)last_seq);
  int64_t kept = ml_get_int(ml_get(st, "progress"), "processed", -1);
  ml_page_args all = {.limit = 1000};
  ml_value *items = ml_results(c, id, &all);
  CHECK(items && ml_get_int(items, "total", -1) == kept && kept >= 3,
        "RESULTS keeps the %lld items reported before the cancel", (long long)kept);
  const char *cancelled_only[] = {"cancelled", NULL};
  ml_page_args sel = {.status = cancelled_only, .limit = 1000};
  ml_value *list = ml_list(c, &sel);
  bool listed = false;
  for (size_t i = 0; list && i < ml_len(ml_get(list, "jobs")); i++)
    listed |= !strcmp(ml_get_str(ml_at(ml_get(list, "jobs"), i), "id", ""), id);
  CHECK(listed, "LIST --status cancelled names the job");
  CHECK(!ml_cancel(c, id) && !strcmp(code(c), "job.finished"), "second CANCEL: %s", code(c));
  ml_free(list), ml_free(items), ml_free(st), ml_free(job), ml_free(params);
}

static void refusals(ml_client *c) {
  CHECK(!ml_status(c, "01JDC3ZPQV7WE2N6VYBN0CG6KF") && !strcmp(code(c), "job.not_found"),
        "STATUS of an unknown id: %s", code(c));
  ml_start_args a = {.kind = "no-such-kind"};
  CHECK(!ml_start(c, &a) && !strcmp(code(c), "job.unknown_kind") &&
            !strcmp(ml_client_error(c)->field, "kind"),
        "unknown kind: %s", code(c));
  ml_value *p = ml_map();
  ml_set(p, "seconds", ml_str("long"));
  ml_start_args b = {.kind = "sleep", .params = p};
  CHECK(!ml_start(c, &b) && !strcmp(code(c), "job.bad_params") &&
            !strcmp(ml_client_error(c)->field, "params.seconds"),
        "bad params: %s %s", code(c), ml_client_error(c)->field);
  const char *paths[] = {"/etc/passwd"};
  ml_start_args d = {.kind = "scan", .paths = paths, .npaths = 1};
  CHECK(!ml_start(c, &d) && !strcmp(code(c), "path.forbidden"), "outside roots: %s", code(c));
  ml_free(p);
}

/* 300 no-op jobs pipelined, a blocking STATUS in the middle, every reply matched by rid */
static void pipelined(ml_client *c) {
  enum { N = 300 };
  static uint64_t rids[N];
  ml_value *params = sleep_params(0, 0);
  for (int i = 0; i < N; i++) {
    ml_value *r = ml_map();
    ml_set(r, "cmd", ml_str("START"));
    ml_set(r, "kind", ml_str("sleep"));
    ml_set(r, "params", ml_clone(params));
    rids[i] = ml_send(c, r);
    CHECK(rids[i], "send %d: %s", i, code(c));
  }
  double clock = 0;
  CHECK(ml_ping(c, &clock) == 0 && clock > 1e9, "a blocking PING among pipelined STARTs");
  int got = 0, ok = 0;
  char first[64] = "";
  ml_reply r;
  while (got < N && ml_recv(c, 10000, &r) == 1) {
    bool mine = false;
    for (int i = 0; i < N; i++) mine |= rids[i] == r.rid;
    got += mine;
    ok += mine && r.ok;
    if (!*first && r.ok) snprintf(first, sizeof first, "%s", ml_get_str(ml_get(r.data, "job"), "id", ""));
    ml_reply_clear(&r);
  }
  CHECK(got == N && ok == N, "pipelined: %d replies, %d ok, of %d", got, ok, N);
  ml_value *done = *first ? ml_wait(c, first, 30000) : NULL;
  CHECK(done && !strcmp(ml_get_str(done, "status", ""), "completed"), "WAIT: %s", code(c));
  ml_free(done), ml_free(params);
}

/* a watch of every job sees a new job through to its end (from STATUS) */
static void watch_all(ml_client *c) {
  ml_watch *w = ml_watch_open(c, NULL);
  ml_value *params = sleep_params(0.5, 5);
  ml_start_args a = {.kind = "sleep", .params = params};
  ml_value *job = ml_start(c, &a);
  const char *id = ml_get_str(job, "id", "");
  const ml_value *now;
  bool ended = false;
  while (w && !ended && ml_watch_next(w, 20000, &now) == ML_WATCH_CHANGED)
    if (!strcmp(ml_get_str(now, "id", ""), id) && ml_is_terminal(ml_get_str(now, "status", "")))
      ended = !strcmp(ml_get_str(now, "status", ""), "completed") &&
              ml_get_float(ml_get(now, "result"), "slept_s", 0) == 0.5;
  CHECK(ended, "an all-jobs watch saw %s complete with its result", id);
  ml_watch_close(w), ml_free(job), ml_free(params);
}

static int broker_mode(void) {
  ml_error err = {0};
  ml_client *c = open_client(getenv("MLT_KEY"), getenv("MLT_BROKER_KEY"), 10000, &err);
  CHECK(c, "open: %s %s", err.code, err.message);
  if (!c) return check_summary("test_live broker");
  ml_value *hello = ml_hello(c);
  CHECK(hello && ml_get_int(hello, "protocol", 0) == 1, "HELLO protocol 1: %s", code(c));
  ml_free(hello);
  session(c);
  refusals(c);
  pipelined(c);
  watch_all(c);
  ml_client_close(c);
  return check_summary("test_live broker");
}

int curve_mode(const char *dir); /* test_curve.c */

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "broker")) return broker_mode();
  if (argc > 2 && !strcmp(argv[1], "curve")) return curve_mode(argv[2]);
  fprintf(stderr, "usage: test_live broker | test_live curve DIR\n");
  return 2;
}
