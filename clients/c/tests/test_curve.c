/* CURVE and the Clone pattern against the fake broker of run_live.py (a pyzmq CURVE
 * ROUTER and PUB whose ZAP handler allows only DIR/client.key; it publishes scripted
 * EVENTs when it gets START kind "script-clone" or "script-quiet"). */
#include "check.h"
#include "medialoom.h"

#include <string.h>

#define CLONE_JOB "01JDC3ZPQV7WE2N6VYBN0CG6KF"
#define QUIET_JOB "01JDC3Z05XBS6KRART14C2EDJ5"
#define LOST_JOB "01JDC400W4FGQ1K8XMTQKFE20J"

static ml_client *client(const char *dir, const char *key, const char *broker, int timeout_ms,
                         ml_error *err) {
  char k[4096], b[4096];
  snprintf(k, sizeof k, "%s/%s", dir, key ? key : "");
  snprintf(b, sizeof b, "%s/%s", dir, broker ? broker : "");
  ml_options o = {.clients = getenv("MLT_CLIENTS"), .events = getenv("MLT_EVENTS"),
                  .key_file = key ? k : NULL, .broker_key_file = broker ? b : NULL,
                  .timeout_ms = timeout_ms};
  return ml_client_open(&o, err);
}

static void trigger(ml_client *c, const char *script) {
  ml_start_args a = {.kind = script};
  ml_value *job = ml_start(c, &a);
  CHECK(job, "START %s: %s", script, ml_client_error(c)->code);
  ml_free(job);
}

/* seq 1 (snapshot), 1 again (stale), 2, 2 again (stale), 3, 6 (a gap: STATUS says 6),
 * 5 (stale), 7 completed (terminal: from STATUS, with its result) */
static void clone_pattern(ml_client *c) {
  ml_watch *w = ml_watch_open(c, CLONE_JOB);
  CHECK(w, "watch over CURVE: %s", ml_client_error(c)->code);
  if (!w) return;
  int64_t want[] = {1, 2, 3, 6, 7}, got[8];
  double percent[8], slept = 0;
  int n = 0, rc = -1;
  const ml_value *job;
  while (n < 8 && (rc = ml_watch_next(w, 10000, &job)) == ML_WATCH_CHANGED) {
    if (n == 0) trigger(c, "script-clone");
    percent[n] = ml_get_float(ml_get(job, "progress"), "percent", -1);
    got[n++] = ml_get_int(job, "seq", 0);
    slept = ml_get_float(ml_get(job, "result"), "slept_s", 0);
  }
  CHECK(rc == ML_WATCH_ENDED, "the watch ended (%d, %s)", rc, ml_client_error(c)->code);
  CHECK(n == 5, "%d changes, want 5", n);
  for (int i = 0; i < n && i < 5; i++)
    CHECK(got[i] == want[i], "change %d has seq %lld, want %lld", i, (long long)got[i],
          (long long)want[i]);
  CHECK(n == 5 && percent[3] == 60.0 && percent[4] == 100.0,
        "after the gap the snapshot's progress (60%%), then 100%%");
  CHECK(slept == 1.0, "the terminal map is STATUS's, with the result");
  ml_watch_counts k = ml_watch_stats(w);
  CHECK(k.stale == 3 && k.applied == 3 && k.gaps == 1 && k.snapshots == 3,
        "stale %llu (want 3), applied %llu (3), gaps %llu (1), snapshots %llu (3: first, gap, "
        "terminal)", (unsigned long long)k.stale, (unsigned long long)k.applied,
        (unsigned long long)k.gaps, (unsigned long long)k.snapshots);
  ml_watch_close(w);
}

/* the job ends without an event reaching us: the quiet-period STATUS finds it */
static void quiet_resync(ml_client *c) {
  ml_watch *w = ml_watch_open(c, QUIET_JOB);
  const ml_value *job;
  CHECK(w && ml_watch_next(w, 1000, &job) == ML_WATCH_CHANGED && ml_get_int(job, "seq", 0) == 1,
        "quiet job snapshot");
  trigger(c, "script-quiet");
  int rc = w ? ml_watch_next(w, 10000, &job) : -1;
  CHECK(rc == ML_WATCH_CHANGED && !strcmp(ml_get_str(job, "status", ""), "completed") &&
            ml_get_int(job, "seq", 0) == 4,
        "a job finished without events is seen by the quiet-period STATUS (rc %d)", rc);
  CHECK(w && ml_watch_next(w, 100, &job) == ML_WATCH_ENDED, "then the watch ends");
  ml_watch_close(w);
}

/* an all-jobs watch: a job seen once whose last EVENT is lost is found by the sweep */
static void lost_end(ml_client *c) {
  ml_watch *w = ml_watch_open(c, NULL);
  const ml_value *job = NULL;
  trigger(c, "script-lost-end");
  int rc = w ? ml_watch_next(w, 5000, &job) : -1;
  CHECK(rc == ML_WATCH_CHANGED && !strcmp(ml_get_str(job, "id", ""), LOST_JOB) &&
            ml_get_int(job, "seq", 0) == 2,
        "all-jobs watch: a new job's first event takes a snapshot (rc %d)", rc);
  rc = w ? ml_watch_next(w, 8000, &job) : -1;
  CHECK(rc == ML_WATCH_CHANGED && !strcmp(ml_get_str(job, "status", ""), "completed") &&
            ml_get_int(job, "seq", 0) == 5,
        "all-jobs watch: the sweep finds the end whose EVENT was lost (rc %d)", rc);
  ml_watch_close(w);
}

static void refused_open(const char *dir, const char *key, const char *broker, const char *text) {
  ml_error err = {0};
  ml_client *c = client(dir, key, broker, 1000, &err);
  CHECK(!c && !strcmp(err.code, "auth.bad_key") && strstr(err.message, text),
        "key %s / broker key %s: %s (%s), want a message with '%s'", key ? key : "-",
        broker ? broker : "-", err.code, err.message, text);
  ml_client_close(c);
  ml_error_clear(&err);
}

static void no_answer(const char *dir, const char *key, const char *what) {
  ml_error err = {0};
  ml_client *c = client(dir, key, key ? "server.key" : NULL, 2000, &err);
  double now;
  CHECK(c && ml_ping(c, &now) == -1 && !strcmp(ml_client_error(c)->code, "broker.unavailable"),
        "%s: got an answer (or %s)", what, c ? ml_client_error(c)->code : err.code);
  ml_client_close(c);
}

int curve_mode(const char *dir) {
  ml_error err = {0};
  ml_client *c = client(dir, "client.key_secret", "server.key", 5000, &err);
  CHECK(c && ml_client_curve(c), "open with keys: %s %s", err.code, err.message);
  if (!c) return check_summary("test_live curve");
  double now = 0;
  CHECK(ml_ping(c, &now) == 0 && now == 1732352400.5, "PING over CURVE: %s",
        ml_client_error(c)->code);
  clone_pattern(c);
  quiet_resync(c);
  lost_end(c);
  ml_client_close(c);
  no_answer(dir, "stranger.key_secret", "a key the broker does not allow");
  no_answer(dir, NULL, "a client without keys");
  refused_open(dir, "bad.key", "server.key", "bad.key");
  refused_open(dir, "client.key", "server.key", "no secret-key");
  refused_open(dir, "mismatch.key_secret", "server.key", "does not belong");
  refused_open(dir, "client.key_secret", "missing.key", "missing.key");
  /* no broker key: the default, DATA_DIR/keys/broker.key (run_live.py points
   * MEDIALOOM_DATA_DIR at a folder without one); a broker key alone is half a pair */
  refused_open(dir, "client.key_secret", NULL, "keys/broker.key");
  refused_open(dir, NULL, "server.key", "both");
  return check_summary("test_live curve");
}
