/* mlc: a small command-line client of medialoom written on libmedialoom.
 *
 *   mlc start scan /srv/music [--set key=value]... [--watch]
 *   mlc watch ID          mlc status ID     mlc cancel ID     mlc wait ID
 *   mlc list [--status S]  mlc results ID   mlc hello | ping | stats | clear ID
 *
 * ID is a job id, or 6+ characters from its start or end (as the Python CLI takes it).
 * Exit codes: 0 done, 1 the broker refused (its error code is printed), 2 bad usage,
 * 3 the broker did not answer (broker.unavailable) or a key file is unusable. */
#include "medialoom.h"
#include "print.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: mlc [OPTIONS] COMMAND [ARGS]\n"
    "options (before the command):\n"
    "  --clients EP       client endpoint ($MEDIALOOM_CLIENTS, else tcp://$MEDIALOOM_HOST:5570)\n"
    "  --events EP        events-out endpoint ($MEDIALOOM_EVENTS_OUT, else ...:5573)\n"
    "  --key FILE         this client's secret certificate: CURVE ($MEDIALOOM_KEY)\n"
    "  --broker-key FILE  the broker's public certificate ($MEDIALOOM_BROKER_KEY)\n"
    "  --timeout S        seconds to wait for each reply (default 5)\n"
    "  --json             print replies as JSON (watch: one job map per line)\n"
    "commands:\n"
    "  start KIND [PATH...] [--set KEY=VALUE]... [--priority P] [--dry-run]\n"
    "        [--allow-conflict] [--max-attempts N] [--watch]\n"
    "  status ID | wait ID | cancel ID | clear ID | watch [ID]\n"
    "  list [--status S]... [--kind K]... [--limit N] [--offset N] [--order O]\n"
    "  results ID [--status S]... [--limit N] [--offset N]\n"
    "  hello | ping | stats\n";

static bool json;

static int usage(const char *why) {
  fprintf(stderr, "mlc: %s\n%s", why, USAGE);
  return 2;
}

static int refused(ml_client *c) {
  const ml_error *e = ml_client_error(c);
  if (*e->field) fprintf(stderr, "mlc: %s: %s (field %s)\n", e->code, e->message, e->field);
  else fprintf(stderr, "mlc: %s: %s\n", e->code, e->message);
  return strcmp(e->code, "broker.unavailable") ? 1 : 3;
}

static int show(ml_client *c, ml_value *v, void (*text)(FILE *, const ml_value *)) {
  if (!v) return refused(c);
  (json ? print_json : text)(stdout, v);
  ml_free(v);
  return 0;
}

static int watch(ml_client *c, const char *id) {
  ml_watch *w = ml_watch_open(c, id);
  if (!w) return refused(c);
  int rc = 0;
  for (;;) {
    const ml_value *job;
    int got = ml_watch_next(w, -1, &job);
    if (got == ML_WATCH_ENDED) break;
    if (got < 0) {
      rc = refused(c);
      break;
    }
    if (got == ML_WATCH_CHANGED) (json ? print_json : print_change)(stdout, job);
    fflush(stdout);
  }
  ml_watch_close(w);
  return rc;
}

/* a --set value typed by the kind's spec (HELLO), else read as JSON, else as a str */
static ml_value *param_value(const ml_value *spec, const char *name, const char *text) {
  const ml_value *params = ml_get(spec, "params");
  const char *type = "";
  for (size_t i = 0; i < ml_len(params); i++)
    if (!strcmp(ml_get_str(ml_at(params, i), "name", ""), name))
      type = ml_get_str(ml_at(params, i), "type", "");
  if (!strcmp(type, "str")) return ml_str(text);
  if (!strcmp(type, "list") && text[0] != '[') {
    ml_value *a = ml_array();
    for (const char *p = text; *p;) {
      size_t n = strcspn(p, ",");
      if (n) ml_push(a, ml_strn(p, n));
      p += n + (p[n] == ',');
    }
    return a;
  }
  ml_value *v = ml_from_json(text, strlen(text), NULL, 0);
  if (v && !strcmp(type, "float") && ml_typeof(v) == ML_INT) {
    double f = ml_as_float(v);
    ml_free(v);
    return ml_float(f);
  }
  return v ? v : ml_str(text);
}

static int start(ml_client *c, int argc, char **argv) {
  if (argc < 1) return usage("start needs a KIND");
  ml_start_args a = {.kind = argv[0]};
  const char **paths = calloc((size_t)argc, sizeof *paths);
  char **owned = calloc((size_t)argc, sizeof *owned);
  ml_value *params = ml_map(), *spec = NULL, *hello = NULL;
  bool follow = false;
  int rc = 0;
  for (int i = 1; i < argc && !rc; i++) {
    const char *arg = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(arg, "--watch")) follow = true;
    else if (!strcmp(arg, "--dry-run")) a.dry_run = true;
    else if (!strcmp(arg, "--allow-conflict")) a.allow_conflict = true;
    else if (!strcmp(arg, "--priority") && next) a.priority = argv[++i];
    else if (!strcmp(arg, "--max-attempts") && next) a.max_attempts = (unsigned)atoi(argv[++i]);
    else if (!strcmp(arg, "--set") && next) {
      const char *kv = argv[++i], *eq = strchr(kv, '=');
      if (!eq) rc = usage("--set takes KEY=VALUE");
      else {
        if (!hello) { /* the kind's spec types the value */
          hello = ml_hello(c);
          spec = (ml_value *)ml_get(ml_get(hello, "specs"), a.kind);
        }
        char *key = strndup(kv, (size_t)(eq - kv));
        ml_set(params, key, param_value(spec, key, eq + 1));
        free(key);
      }
    } else if (arg[0] == '-' && arg[1] == '-') {
      rc = usage("unknown start option");
    } else { /* START takes absolute paths */
      char *real = realpath(arg, NULL);
      if (!real && arg[0] != '/') {
        char cwd[PATH_MAX];
        real = malloc(PATH_MAX * 2);
        snprintf(real, PATH_MAX * 2, "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : "", arg);
      }
      owned[a.npaths] = real;
      paths[a.npaths++] = real ? real : arg;
    }
  }
  a.paths = paths;
  a.params = params;
  ml_value *job = rc ? NULL : ml_start(c, &a);
  if (!rc && !job) rc = refused(c);
  if (job && !follow) rc = show(c, ml_clone(job), print_job);
  if (job && follow) {
    if (!json) printf("started %s\n", ml_get_str(job, "id", "?"));
    rc = watch(c, ml_get_str(job, "id", ""));
  }
  for (int i = 0; i < argc; i++) free(owned[i]);
  free(owned), free(paths);
  ml_free(job), ml_free(params), ml_free(hello);
  return rc;
}

/* LIST and RESULTS options */
static int page_args(int argc, char **argv, ml_page_args *p, const char **st, const char **kd) {
  size_t ns = 0, nk = 0;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (i + 1 >= argc) return usage("an option needs a value");
    const char *val = argv[++i];
    if (!strcmp(arg, "--status")) st[ns++] = val;
    else if (!strcmp(arg, "--kind")) kd[nk++] = val;
    else if (!strcmp(arg, "--limit")) p->limit = (unsigned)atoi(val);
    else if (!strcmp(arg, "--offset")) p->offset = (unsigned)atoi(val);
    else if (!strcmp(arg, "--order")) p->order = val;
    else return usage("unknown option");
  }
  p->status = st, p->kind = kd;
  return 0;
}

static int command(ml_client *c, const char *cmd, int argc, char **argv) {
  const char *id = argc > 0 ? argv[0] : NULL;
  const char *lists[2][64] = {{0}};
  ml_page_args p = {0};
  if (!strcmp(cmd, "start")) return start(c, argc, argv);
  if (!strcmp(cmd, "watch")) {
    char full[27];
    int found = id ? resolve_id(c, id, full) : 0;
    if (found) return found < 0 ? refused(c) : 2;
    return watch(c, id ? full : NULL);
  }
  if (!strcmp(cmd, "hello")) return show(c, ml_hello(c), print_json);
  if (!strcmp(cmd, "stats")) return show(c, ml_stats(c), print_stats);
  if (!strcmp(cmd, "ping")) {
    double now;
    if (ml_ping(c, &now)) return refused(c);
    printf("broker clock %.3f\n", now);
    return 0;
  }
  if (!strcmp(cmd, "list")) {
    if (argc > 60 || page_args(argc, argv, &p, lists[0], lists[1])) return 2;
    return show(c, ml_list(c, &p), print_jobs);
  }
  static const char *with_id[] = {"status", "cancel", "wait", "clear", "results", NULL};
  bool known = false;
  for (int k = 0; with_id[k]; k++) known |= !strcmp(cmd, with_id[k]);
  if (!known) return usage("unknown command");
  if (!id) return usage("this command needs a job ID");
  char full[27];
  int found = resolve_id(c, id, full);
  if (found) return found < 0 ? refused(c) : 2;
  id = full;
  if (!strcmp(cmd, "status")) return show(c, ml_status(c, id), print_job);
  if (!strcmp(cmd, "cancel")) return show(c, ml_cancel(c, id), print_job);
  if (!strcmp(cmd, "wait")) return show(c, ml_wait(c, id, -1), print_job);
  if (!strcmp(cmd, "clear")) return show(c, ml_clear(c, id), print_json);
  if (!strcmp(cmd, "results")) {
    if (argc > 60 || page_args(argc - 1, argv + 1, &p, lists[0], lists[1])) return 2;
    return show(c, ml_results(c, id, &p), print_items);
  }
  return usage("unknown command");
}

static void log_line(void *arg, const char *line) {
  (void)arg;
  fprintf(stderr, "mlc: %s\n", line);
}

int main(int argc, char **argv) {
  ml_options o = {.log = log_line, .name = "mlc " ML_VERSION};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(arg, "--json")) json = true;
    else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return fputs(USAGE, stdout), 0;
    else if (!val) return usage("an option needs a value");
    else if (!strcmp(arg, "--clients")) o.clients = val, i++;
    else if (!strcmp(arg, "--events")) o.events = val, i++;
    else if (!strcmp(arg, "--key")) o.key_file = val, i++;
    else if (!strcmp(arg, "--broker-key")) o.broker_key_file = val, i++;
    else if (!strcmp(arg, "--timeout")) o.timeout_ms = (int)(atof(val) * 1000), i++;
    else return usage("unknown option");
  }
  if (i >= argc) return usage("no command");
  ml_error err = {0};
  ml_client *c = ml_client_open(&o, &err);
  if (!c) {
    fprintf(stderr, "mlc: %s: %s\n", err.code, err.message);
    ml_error_clear(&err);
    return 3;
  }
  int rc = command(c, argv[i], argc - i - 1, argv + i + 1);
  ml_client_close(c);
  return rc;
}
