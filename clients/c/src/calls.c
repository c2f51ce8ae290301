/* The blocking calls of the client channel (SPEC.md 4.1-4.11, reply data 4.14). */
#include "internal.h"

#include <string.h>

static ml_value *request(const char *cmd) {
  ml_value *r = ml_map();
  if (r && ml_set(r, "cmd", ml_str(cmd))) {
    ml_free(r);
    return NULL;
  }
  return r;
}

static ml_value *with_job(const char *cmd, const char *job) {
  ml_value *r = request(cmd);
  if (r && ml_set(r, "job", ml_str(job ? job : ""))) {
    ml_free(r);
    return NULL;
  }
  return r;
}

static ml_value *strings(const char *const *list) {
  ml_value *a = ml_array();
  for (size_t i = 0; a && list && list[i]; i++)
    if (ml_push(a, ml_str(list[i]))) {
      ml_free(a);
      return NULL;
    }
  return a;
}

ml_value *ml_hello(ml_client *c) {
  ml_value *r = request("HELLO");
  if (r) ml_set(r, "client", ml_str(ml_client_name(c)));
  return ml_call(c, r, 0);
}

int ml_ping(ml_client *c, double *now) {
  ml_value *data = ml_call(c, request("PING"), 0);
  if (!data) return -1;
  if (now) *now = ml_get_float(data, "now", 0.0);
  ml_free(data);
  return 0;
}

ml_value *ml_start(ml_client *c, const ml_start_args *a) {
  ml_value *r = request("START");
  ml_value *paths = ml_array();
  for (size_t i = 0; paths && i < a->npaths; i++)
    if (ml_push(paths, ml_str(a->paths[i]))) {
      ml_free(paths);
      paths = NULL;
    }
  int bad = !r || !paths;
  bad |= ml_set(r, "kind", ml_str(a->kind ? a->kind : ""));
  bad |= ml_set(r, "paths", paths);
  bad |= ml_set(r, "params", a->params ? ml_clone(a->params) : ml_map());
  bad |= ml_set(r, "priority", ml_str(a->priority ? a->priority : "normal"));
  bad |= ml_set(r, "dry_run", ml_bool(a->dry_run));
  bad |= ml_set(r, "allow_conflict", ml_bool(a->allow_conflict));
  bad |= ml_set(r, "max_attempts", ml_int(a->max_attempts));
  bad |= ml_set(r, "retry_of", ml_str(a->retry_of ? a->retry_of : ""));
  if (bad) {
    ml_free(r);
    r = NULL;
  }
  return ml_call_key(c, r, "job");
}

ml_value *ml_status(ml_client *c, const char *job) {
  return ml_call_key(c, with_job("STATUS", job), "job");
}

ml_value *ml_cancel(ml_client *c, const char *job) {
  return ml_call_key(c, with_job("CANCEL", job), "job");
}

ml_value *ml_clear(ml_client *c, const char *job) { return ml_call(c, with_job("CLEAR", job), 0); }

ml_value *ml_stats(ml_client *c) { return ml_call(c, request("STATS"), 0); }

/* LIST, RESULTS and PLAN: the page fields */
static ml_value *page(const char *cmd, const char *job, const ml_page_args *p, unsigned limit) {
  ml_page_args none = {0};
  p = p ? p : &none;
  ml_value *r = job ? with_job(cmd, job) : request(cmd);
  int bad = !r || ml_set(r, "status", strings(p->status));
  if (!job) bad |= ml_set(r, "kind", strings(p->kind));
  bad |= ml_set(r, "limit", ml_int(p->limit ? p->limit : limit));
  bad |= ml_set(r, "offset", ml_int(p->offset));
  if (!job) bad |= ml_set(r, "order", ml_str(p->order ? p->order : "-created"));
  if (bad) {
    ml_free(r);
    return NULL;
  }
  return r;
}

ml_value *ml_list(ml_client *c, const ml_page_args *a) {
  return ml_call(c, page("LIST", NULL, a, 50), 0);
}

ml_value *ml_results(ml_client *c, const char *job, const ml_page_args *a) {
  return ml_call(c, page("RESULTS", job, a, 100), 0);
}

ml_value *ml_plan(ml_client *c, const char *job, const ml_page_args *a) {
  return ml_call(c, page("PLAN", job, a, 100), 0);
}

/* WAIT, sent again every poll_ms after a STATUS (a restarted broker has forgotten the
 * WAIT it held); the replies to the earlier WAITs are dropped when the job ends. */
ml_value *ml_wait(ml_client *c, const char *job, int timeout_ms) {
  const int poll_ms = 5000;
  int64_t deadline = ml_now_ms() + timeout_ms;
  for (;;) {
    uint64_t rid = ml_send_request(c, with_job("WAIT", job));
    if (!rid) return NULL;
    int64_t left = deadline - ml_now_ms();
    int wait = timeout_ms < 0 || left > poll_ms ? poll_ms : left > 0 ? (int)left : 0;
    ml_value *done = ml_await(c, rid, wait, true);
    if (done || strcmp(ml_client_err(c)->code, "broker.unavailable")) {
      ml_value *j = done ? ml_take(done, "job") : NULL;
      if (done && !j) ml_fail(ml_client_err(c), "protocol.bad_field", "job", "no job in WAIT");
      ml_free(done);
      return j;
    }
    if (timeout_ms >= 0 && ml_now_ms() >= deadline) return NULL;
    ml_value *now = ml_status(c, job);
    if (!now && strcmp(ml_client_err(c)->code, "broker.unavailable")) return NULL;
    if (now && ml_is_terminal(ml_get_str(now, "status", ""))) return now;
    ml_free(now);
  }
}
