/* Benchmarks of the C client against a running broker (bench/run.py starts one):
 *   mlc_bench ack N           START -> ack one at a time: p50 and p99 in ms
 *   mlc_bench jobs N WINDOW   no-op jobs (sleep, steps 0) started pipelined, each awaited
 *                             with WAIT, at most WINDOW in flight: jobs/s end to end
 * Endpoints from $MEDIALOOM_CLIENTS.  Prints one JSON object. */
#include "medialoom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) { /* this process's user + system time */
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* the q-th percentile as Python's statistics.quantiles(n=100) computes it (exclusive) */
static double percentile(double *v, int n, int q) {
  qsort(v, (size_t)n, sizeof *v, by_value);
  double pos = (n + 1) * q / 100.0;
  int lo = (int)pos;
  if (lo < 1) return v[0];
  if (lo >= n) return v[n - 1];
  return v[lo - 1] + (pos - lo) * (v[lo] - v[lo - 1]);
}

static ml_value *noop(void) {
  ml_value *p = ml_map();
  ml_set(p, "steps", ml_int(0));
  return p;
}

static int ack(ml_client *c, int n) {
  double *lat = malloc((size_t)n * sizeof *lat);
  ml_value *params = noop();
  ml_start_args a = {.kind = "sleep", .params = params};
  ml_value *warm = ml_start(c, &a); /* the connection's HELLO goes with the first request */
  ml_free(warm);
  for (int i = 0; i < n; i++) {
    double t = now_s();
    ml_value *job = ml_start(c, &a);
    lat[i] = (now_s() - t) * 1000;
    if (!job) {
      fprintf(stderr, "START: %s %s\n", ml_client_error(c)->code, ml_client_error(c)->message);
      return 1;
    }
    ml_free(job);
  }
  printf("{\"ack_p50_ms\": %.3f, \"ack_p99_ms\": %.3f, \"n\": %d}\n", percentile(lat, n, 50),
         percentile(lat, n, 99), n);
  free(lat);
  ml_free(params);
  return 0;
}

static uint64_t start_one(ml_client *c, const ml_value *params) {
  ml_value *r = ml_map();
  ml_set(r, "cmd", ml_str("START"));
  ml_set(r, "kind", ml_str("sleep"));
  ml_set(r, "params", ml_clone(params));
  return ml_send(c, r);
}

static int jobs(ml_client *c, int n, int window) {
  ml_value *params = noop();
  int started = 0, done = 0, completed = 0, in_flight = 0;
  double t0 = now_s(), cpu0 = cpu_s();
  while (done < n) {
    while (in_flight < window && started < n) {
      if (!start_one(c, params)) return fprintf(stderr, "send failed\n"), 1;
      started++, in_flight++;
    }
    ml_reply r;
    if (ml_recv(c, 60000, &r) != 1) return fprintf(stderr, "no reply within 60 s\n"), 1;
    if (!r.ok) {
      fprintf(stderr, "refused: %s %s\n", r.error.code, r.error.message);
      return 1;
    }
    const ml_value *job = ml_get(r.data, "job");
    const char *status = ml_get_str(job, "status", "");
    if (ml_is_terminal(status)) { /* WAIT answered */
      done++, in_flight--;
      completed += !strcmp(status, "completed");
    } else { /* START acknowledged: wait for it */
      ml_value *w = ml_map();
      ml_set(w, "cmd", ml_str("WAIT"));
      ml_set(w, "job", ml_str(ml_get_str(job, "id", "")));
      if (!ml_send(c, w)) return fprintf(stderr, "send failed\n"), 1;
    }
    ml_reply_clear(&r);
  }
  double elapsed = now_s() - t0, cpu = cpu_s() - cpu0;
  printf("{\"jobs_per_s\": %.1f, \"client_cpu_us_per_job\": %.1f, \"n\": %d, \"completed\": %d, "
         "\"window\": %d}\n", n / elapsed, cpu * 1e6 / n, n, completed, window);
  ml_free(params);
  return completed == n ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 3) return fprintf(stderr, "usage: mlc_bench ack N | jobs N WINDOW\n"), 2;
  ml_error err = {0};
  ml_options o = {.timeout_ms = 30000};
  ml_client *c = ml_client_open(&o, &err);
  if (!c) return fprintf(stderr, "%s: %s\n", err.code, err.message), 1;
  int n = atoi(argv[2]), rc = 2;
  if (!strcmp(argv[1], "ack")) rc = ack(c, n);
  else if (!strcmp(argv[1], "jobs")) rc = jobs(c, n, argc > 3 ? atoi(argv[3]) : 2000);
  ml_client_close(c);
  return rc;
}
