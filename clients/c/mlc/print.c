/* mlc's output: a job map as a few labelled lines, a change as one line, tables. */
#include "print.h"

#include <stdlib.h>
#include <string.h>

void print_json(FILE *f, const ml_value *v) {
  char *s = ml_to_json(v);
  fprintf(f, "%s\n", s ? s : "null");
  free(s);
}

static const ml_value *progress_of(const ml_value *job) { return ml_get(job, "progress"); }

void print_job(FILE *f, const ml_value *job) {
  const ml_value *p = progress_of(job);
  fprintf(f, "id        %s\n", ml_get_str(job, "id", "?"));
  fprintf(f, "kind      %s\n", ml_get_str(job, "kind", "?"));
  fprintf(f, "status    %s (attempt %lld of %lld)%s\n", ml_get_str(job, "status", "?"),
          (long long)ml_get_int(job, "attempts", 0), (long long)ml_get_int(job, "max_attempts", 0),
          ml_get_bool(job, "cancel_requested", false) ? ", cancel requested" : "");
  fprintf(f, "progress  %lld/%lld (%.1f%%)  ok %lld  skipped %lld  failed %lld",
          (long long)ml_get_int(p, "processed", 0), (long long)ml_get_int(p, "total", 0),
          ml_get_float(p, "percent", 0), (long long)ml_get_int(p, "succeeded", 0),
          (long long)ml_get_int(p, "skipped", 0), (long long)ml_get_int(p, "failed", 0));
  if (ml_typeof(ml_get(p, "eta_seconds")) != ML_NIL)
    fprintf(f, "  %.1f/s  eta %.1f s", ml_get_float(p, "rate", 0),
            ml_get_float(p, "eta_seconds", 0));
  fputc('\n', f);
  const char *current = ml_get_str(p, "current", "");
  if (*current) fprintf(f, "current   %s\n", current);
  const ml_value *paths = ml_get(job, "paths");
  for (size_t i = 0; i < ml_len(paths); i++)
    fprintf(f, "%s %s\n", i ? "         " : "paths    ", ml_as_str(ml_at(paths, i)));
  const ml_value *err = ml_get(job, "error");
  if (ml_typeof(err) == ML_MAP)
    fprintf(f, "error     %s: %s\n", ml_get_str(err, "code", "?"), ml_get_str(err, "message", ""));
  const ml_value *result = ml_get(job, "result");
  if (ml_len(result)) {
    fprintf(f, "result    ");
    print_json(f, result);
  }
  fprintf(f, "seq       %lld\n", (long long)ml_get_int(job, "seq", 0));
}

void print_change(FILE *f, const ml_value *job) {
  const ml_value *p = progress_of(job);
  fprintf(f, "%s  %-9s %6.2f%%  %lld/%lld  seq %lld", ml_get_str(job, "id", "?"),
          ml_get_str(job, "status", "?"), ml_get_float(p, "percent", 0),
          (long long)ml_get_int(p, "processed", 0), (long long)ml_get_int(p, "total", 0),
          (long long)ml_get_int(job, "seq", 0));
  const ml_value *err = ml_get(job, "error");
  if (ml_typeof(err) == ML_MAP) fprintf(f, "  %s", ml_get_str(err, "code", ""));
  const char *current = ml_get_str(p, "current", "");
  if (*current) fprintf(f, "  %s", current);
  fputc('\n', f);
  fflush(f);
}

void print_jobs(FILE *f, const ml_value *list) {
  const ml_value *jobs = ml_get(list, "jobs");
  fprintf(f, "%-26s  %-10s %-9s %7s  %s\n", "ID", "KIND", "STATUS", "DONE", "ITEMS");
  for (size_t i = 0; i < ml_len(jobs); i++) {
    const ml_value *j = ml_at(jobs, i), *p = progress_of(j);
    fprintf(f, "%-26s  %-10s %-9s %6.1f%%  %lld/%lld\n", ml_get_str(j, "id", "?"),
            ml_get_str(j, "kind", "?"), ml_get_str(j, "status", "?"),
            ml_get_float(p, "percent", 0), (long long)ml_get_int(p, "processed", 0),
            (long long)ml_get_int(p, "total", 0));
  }
  fprintf(f, "%zu of %lld jobs\n", ml_len(jobs), (long long)ml_get_int(list, "total", 0));
}

void print_items(FILE *f, const ml_value *page) {
  const ml_value *items = ml_get(page, "items");
  for (size_t i = 0; i < ml_len(items); i++) {
    const ml_value *it = ml_at(items, i);
    const char *msg = ml_get_str(it, "message", "");
    fprintf(f, "%6lld  %-8s %s%s%s\n", (long long)ml_get_int(it, "i", 0),
            ml_get_str(it, "status", "?"), ml_get_str(it, "path", ""), *msg ? "  " : "", msg);
  }
  fprintf(f, "%zu of %lld items\n", ml_len(items), (long long)ml_get_int(page, "total", 0));
}

void print_stats(FILE *f, const ml_value *s) {
  const ml_value *counts = ml_get(s, "counts");
  fprintf(f, "jobs     %lld:", (long long)ml_get_int(s, "total", 0));
  for (size_t i = 0; i < ml_len(counts); i++)
    fprintf(f, " %s %lld", ml_key_at(counts, i, NULL), (long long)ml_as_int(ml_val_at(counts, i)));
  fprintf(f, "\nitems    %lld processed, %lld ok, %lld failed\n",
          (long long)ml_get_int(s, "items_processed", 0),
          (long long)ml_get_int(s, "items_succeeded", 0),
          (long long)ml_get_int(s, "items_failed", 0));
  const ml_value *workers = ml_get(s, "workers");
  fprintf(f, "workers  %zu\n", ml_len(workers));
  for (size_t i = 0; i < ml_len(workers); i++) {
    const ml_value *w = ml_at(workers, i);
    fprintf(f, "  %s/%lld  slots %lld, running %lld\n", ml_get_str(w, "host", "?"),
            (long long)ml_get_int(w, "pid", 0), (long long)ml_get_int(w, "slots", 0),
            (long long)ml_get_int(w, "running", 0));
  }
}
