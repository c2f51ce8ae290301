/* The Clone pattern of SPEC.md 7.3: subscribe first, then take a STATUS snapshot and
 * its seq; drop events with seq <= last, apply seq == last + 1, and on a gap
 * (seq > last + 1) snapshot again.  Events are lossy (a lost last event shows no gap),
 * so every RESYNC_MS a sweep asks STATUS for the unfinished jobs that have been quiet
 * that long (at most SWEEP_MAX per sweep), and a terminal state is always taken from
 * STATUS (the reliable channel), never from the EVENT that announced it. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RESYNC_MS 2000
#define SWEEP_MAX 64
#define SETTLE_MS 50 /* let the subscription reach the broker before the snapshot */

typedef struct {
  char *id;
  uint64_t seq;
  ml_value *job; /* NULL once a terminal state was given (only the seq is kept) */
  int64_t seen_ms; /* when it last changed or was checked */
} tracked;

struct ml_watch {
  ml_client *c;
  void *sub;
  char *only; /* the one job, or NULL for all */
  tracked *t;
  size_t n, cap;
  tracked *release; /* a terminal job given last time: its map is freed on the next call */
  bool first, ended;
  int64_t sweep_at; /* the next sweep of quiet jobs */
  size_t sweep_pos; /* where the sweep goes on in the table */
  int sweep_left;
  ml_watch_counts counts;
};

static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u;
  while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
  return h;
}

static tracked *lookup(ml_watch *w, const char *id, bool add) {
  if (add && (w->n + 1) * 2 > w->cap) { /* grow and rehash */
    size_t cap = w->cap ? w->cap * 2 : 64;
    tracked *t = calloc(cap, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < w->cap; i++) {
      if (!w->t[i].id) continue;
      size_t h = hash(w->t[i].id) & (cap - 1);
      while (t[h].id) h = (h + 1) & (cap - 1);
      t[h] = w->t[i];
    }
    free(w->t);
    w->t = t, w->cap = cap, w->release = NULL;
  }
  if (!w->cap) return NULL;
  size_t h = hash(id) & (w->cap - 1);
  for (; w->t[h].id; h = (h + 1) & (w->cap - 1))
    if (!strcmp(w->t[h].id, id)) return &w->t[h];
  if (!add || !(w->t[h].id = strdup(id))) return NULL;
  w->n++;
  return &w->t[h];
}

/* the job progress map of an EVENT with every key (SPEC.md 7.2: a missing key means 0) */
static ml_value *full_progress(const ml_value *p) {
  static const char *counters[] = {"total", "processed", "succeeded", "skipped", "failed",
                                   "remaining"};
  ml_value *out = ml_map();
  for (int i = 0; i < 6; i++) ml_set(out, counters[i], ml_int(ml_get_int(p, counters[i], 0)));
  ml_set(out, "percent", ml_float(ml_get_float(p, "percent", 0.0)));
  ml_set(out, "rate", ml_float(ml_get_float(p, "rate", 0.0)));
  const ml_value *eta = ml_get(p, "eta_seconds");
  ml_set(out, "eta_seconds", ml_typeof(eta) == ML_NIL ? ml_nil() : ml_clone(eta));
  ml_set(out, "current", ml_str(ml_get_str(p, "current", "")));
  for (size_t i = 0; i < ml_len(p); i++) { /* keys a later version adds */
    size_t klen;
    const char *k = ml_key_at(p, i, &klen);
    if (!ml_getn(out, k, klen)) ml_setn(out, k, klen, ml_clone(ml_val_at(p, i)));
  }
  return out;
}

static void merge(ml_value *job, const ml_value *ev) {
  ml_set(job, "status", ml_clone(ml_get(ev, "status")));
  ml_set(job, "attempts", ml_clone(ml_get(ev, "attempts")));
  ml_set(job, "progress", full_progress(ml_get(ev, "progress")));
  ml_set(job, "error", ml_clone(ml_get(ev, "error")));
  ml_set(job, "seq", ml_clone(ml_get(ev, "seq")));
  if (*ml_get_str(ev, "kind", "")) ml_set(job, "kind", ml_clone(ml_get(ev, "kind")));
}

/* a STATUS snapshot into t; ev (may be NULL) is applied on top when it is newer */
static int snapshot(ml_watch *w, tracked *t, const ml_value *ev) {
  ml_value *job = ml_status(w->c, t->id);
  w->counts.snapshots++;
  if (!job) return -1;
  if (ev && (uint64_t)ml_get_int(job, "seq", 0) < (uint64_t)ml_get_int(ev, "seq", 0))
    merge(job, ev);
  ml_free(t->job);
  t->job = job;
  t->seq = (uint64_t)ml_get_int(job, "seq", 0);
  t->seen_ms = ml_now_ms();
  return 0;
}

ml_watch *ml_watch_open(ml_client *c, const char *job) {
  ml_error_clear(ml_client_err(c));
  ml_watch *w = calloc(1, sizeof *w);
  if (!w || (job && !(w->only = strdup(job)))) goto oom;
  w->c = c;
  w->sub = ml_client_socket(c, ZMQ_SUB, NULL);
  if (!w->sub) goto fail;
  char topic[300];
  int n = snprintf(topic, sizeof topic, "job/%s", job ? job : "");
  zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, topic, (size_t)n);
  zmq_poll(NULL, 0, SETTLE_MS);
  if (job) {
    tracked *t = lookup(w, job, true);
    if (!t) goto oom;
    if (snapshot(w, t, NULL)) goto fail;
    w->first = true;
  }
  w->sweep_at = ml_now_ms() + RESYNC_MS;
  w->sweep_left = SWEEP_MAX;
  return w;
oom:
  ml_fail(ml_client_err(c), "internal", NULL, "out of memory");
fail:
  ml_watch_close(w);
  return NULL;
}

void ml_watch_close(ml_watch *w) {
  if (!w) return;
  if (w->sub) zmq_close(w->sub);
  for (size_t i = 0; i < w->cap; i++) {
    free(w->t[i].id);
    ml_free(w->t[i].job);
  }
  free(w->t);
  free(w->only);
  free(w);
}

ml_watch_counts ml_watch_stats(const ml_watch *w) { return w->counts; }

/* give t's state; a terminal one first comes from STATUS, then only its seq is kept */
static int give(ml_watch *w, tracked *t, bool from_status, const ml_value **job) {
  if (ml_is_terminal(ml_get_str(t->job, "status", "")) && !from_status &&
      snapshot(w, t, NULL))
    return -1;
  *job = t->job;
  if (ml_is_terminal(ml_get_str(t->job, "status", ""))) {
    w->release = t;
    if (w->only) w->ended = true;
  }
  t->seen_ms = ml_now_ms();
  return ML_WATCH_CHANGED;
}

/* one event: 1 a change to give, 0 nothing to give, -1 error */
static int on_event(ml_watch *w, const ml_value *ev, tracked **out, bool *from_status) {
  const char *id = ml_get_str(ev, "job", "");
  uint64_t seq = (uint64_t)ml_get_int(ev, "seq", 0);
  if (strcmp(ml_get_str(ev, "cmd", ""), "EVENT") || (w->only && strcmp(id, w->only))) return 0;
  w->counts.events++;
  tracked *t = lookup(w, id, false);
  if (t && seq <= t->seq) {
    w->counts.stale++;
    return 0;
  }
  if (!t || !t->job || seq > t->seq + 1) {
    if (t) w->counts.gaps++;
    if (!t && !(t = lookup(w, id, true))) return -1;
    if (snapshot(w, t, ev)) /* a job cleared meanwhile is skipped */
      return strcmp(ml_client_err(w->c)->code, "job.not_found") ? -1 : 0;
    *from_status = true;
  } else {
    w->counts.applied++;
    merge(t->job, ev);
    t->seq = seq;
    *from_status = false;
  }
  *out = t;
  return 1;
}

static ml_value *receive_event(ml_watch *w) {
  zmq_msg_t parts[3], scratch;
  ml_frame frames[3];
  size_t count = 0;
  for (int more = 1; more;) {
    zmq_msg_t *m = count < 3 ? &parts[count] : &scratch;
    zmq_msg_init(m);
    if (zmq_msg_recv(m, w->sub, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(m);
      break;
    }
    more = zmq_msg_more(m);
    if (count < 3) frames[count] = (ml_frame){zmq_msg_data(m), zmq_msg_size(m)};
    else zmq_msg_close(m);
    count++;
  }
  ml_error err = {0};
  ml_value *ev = count <= 3 ? ml_decode(ML_CH_EVENT, frames, count, &err) : NULL;
  for (size_t i = 0; i < count && i < 3; i++) zmq_msg_close(&parts[i]);
  if (!ev) w->counts.undecodable++;
  ml_error_clear(&err);
  return ev;
}

/* STATUS for the next quiet unfinished job: 1 it changed (*out), 0 none, -1 error */
static int sweep(ml_watch *w, int64_t now, tracked **out) {
  while (w->sweep_pos < w->cap && w->sweep_left > 0) {
    tracked *t = &w->t[w->sweep_pos++];
    if (!t->id || !t->job || now - t->seen_ms < RESYNC_MS ||
        ml_is_terminal(ml_get_str(t->job, "status", "")))
      continue;
    uint64_t before = t->seq;
    w->sweep_left--;
    if (snapshot(w, t, NULL)) {
      if (w->only || strcmp(ml_client_err(w->c)->code, "job.not_found")) return -1;
      ml_free(t->job); /* cleared meanwhile: forget it */
      t->job = NULL;
      continue;
    }
    if (t->seq > before) return *out = t, 1;
  }
  w->sweep_pos = 0;
  w->sweep_left = SWEEP_MAX;
  w->sweep_at = now + RESYNC_MS;
  return 0;
}

int ml_watch_next(ml_watch *w, int timeout_ms, const ml_value **job) {
  int64_t deadline = ml_now_ms() + timeout_ms;
  ml_error_clear(ml_client_err(w->c));
  *job = NULL;
  if (w->release) {
    ml_free(w->release->job);
    w->release->job = NULL;
    w->release = NULL;
  }
  if (w->ended) return ML_WATCH_ENDED;
  if (w->first) {
    w->first = false;
    return give(w, lookup(w, w->only, false), true, job);
  }
  for (;;) {
    int64_t now = ml_now_ms();
    int64_t left = timeout_ms < 0 ? RESYNC_MS : deadline - now;
    if (left < 0) return ML_WATCH_TIMEOUT;
    tracked *got = NULL;
    if (now >= w->sweep_at) { /* quiet jobs: check on the reliable channel */
      int rc = sweep(w, now, &got);
      if (rc) return rc < 0 ? -1 : give(w, got, true, job);
      continue;
    }
    zmq_pollitem_t item = {w->sub, 0, ZMQ_POLLIN, 0};
    int64_t until_sweep = w->sweep_at - now;
    if (zmq_poll(&item, 1, (long)(until_sweep < left ? until_sweep : left)) <= 0) continue;
    ml_value *ev = receive_event(w);
    if (!ev) continue;
    bool from_status = false;
    int rc = on_event(w, ev, &got, &from_status);
    ml_free(ev);
    if (rc < 0) return -1;
    if (rc > 0) return give(w, got, from_status, job);
  }
}
