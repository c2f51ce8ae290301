/* Command tables of protocol version 1 (SPEC.md sections 4, 6, 7): the word, then every
 * field in its documented order with its type, whether it is required, its default. */
#include "schema.h"

#include <string.h>

#define REQ(n, t) {n, t, true, 0, NULL}
#define OPT(n, t) {n, t, false, 0, NULL}
#define OPTI(n, t, d) {n, t, false, d, NULL}
#define OPTS(n, s) {n, F_STR, false, 0, s}
#define CMD(w, f) {w, f, (int)(sizeof f / sizeof f[0])}

static const ml_field rid_only[] = {REQ("rid", F_UINT)};
static const ml_field rid_job[] = {REQ("rid", F_UINT), REQ("job", F_STR)};
static const ml_field hello[] = {REQ("rid", F_UINT), OPTS("client", ""), OPT("batch", F_BOOL)};
static const ml_field start[] = {
    REQ("rid", F_UINT),           REQ("kind", F_STR),           OPT("paths", F_STRS),
    OPT("params", F_MAP),         OPTS("priority", "normal"),   OPT("dry_run", F_BOOL),
    OPT("allow_conflict", F_BOOL), OPTI("max_attempts", F_UINT, 0), OPTS("retry_of", "")};
static const ml_field list[] = {REQ("rid", F_UINT),         OPT("status", F_STRS),
                                OPT("kind", F_STRS),        OPTI("limit", F_UINT, 50),
                                OPTI("offset", F_UINT, 0),  OPTS("order", "-created")};
static const ml_field page[] = {REQ("rid", F_UINT), REQ("job", F_STR), OPT("status", F_STRS),
                                OPTI("limit", F_UINT, 100), OPTI("offset", F_UINT, 0)};

static const ml_command client_cmds[] = {
    CMD("HELLO", hello), CMD("PING", rid_only),  CMD("START", start),    CMD("STATUS", rid_job),
    CMD("WAIT", rid_job), CMD("CANCEL", rid_job), CMD("CLEAR", rid_job), CMD("LIST", list),
    CMD("STATS", rid_only), CMD("RESULTS", page), CMD("PLAN", page)};

static const ml_field reply[] = {REQ("rid", F_UINT), OPT("data", F_MAP)};
static const ml_field error[] = {REQ("rid", F_UINT), REQ("code", F_STR), REQ("message", F_STR),
                                 OPT("details", F_ANY)};
static const ml_command reply_cmds[] = {CMD("REPLY", reply), CMD("ERROR", error)};

static const ml_field none[1] = {{NULL, F_ANY, false, 0, NULL}};
static const ml_field ready[] = {REQ("kinds", F_STRS),   REQ("slots", F_UINT),
                                 OPTS("host", ""),       OPTI("pid", F_UINT, 0),
                                 OPT("running", F_ARRAYS), OPT("specs", F_MAPS),
                                 OPT("path_map", F_ARRAYS), OPT("batch", F_BOOL)};
static const ml_field job_attempt[] = {REQ("job", F_STR), REQ("attempt", F_UINT)};
static const ml_field items[] = {REQ("job", F_STR), REQ("attempt", F_UINT), REQ("items", F_MAPS),
                                 OPT("progress", F_MAP), OPTI("n", F_UINT, 0)};
static const ml_field done[] = {REQ("job", F_STR), REQ("attempt", F_UINT), OPT("progress", F_MAP),
                                OPT("result", F_MAP), OPTI("n", F_UINT, 0)};
static const ml_field failed[] = {
    REQ("job", F_STR),      REQ("attempt", F_UINT), REQ("code", F_STR),
    REQ("message", F_STR),  OPT("retry", F_BOOL),   OPT("progress", F_MAP),
    OPTI("n", F_UINT, 0),   OPT("retry_after_s", F_FLOAT)};
static const ml_field cancelled[] = {REQ("job", F_STR), REQ("attempt", F_UINT),
                                     OPT("progress", F_MAP), OPTI("n", F_UINT, 0)};
static const ml_field disconnect[] = {OPTS("reason", ""), OPTS("code", "")};
static const ml_field plan_ops[] = {REQ("job", F_STR),     REQ("attempt", F_UINT),
                                    REQ("ops", F_MAPS),    OPT("complete", F_BOOL),
                                    OPTI("n", F_UINT, 0),  OPTI("total", F_UINT, 0)};
static const ml_field fetch[] = {REQ("rid", F_UINT),       REQ("job", F_STR),
                                 REQ("attempt", F_UINT),   REQ("what", F_STR),
                                 REQ("source", F_STR),     OPTI("offset", F_UINT, 0),
                                 OPTI("limit", F_UINT, 1000), OPT("status", F_STRS)};
static const ml_field token[] = {REQ("rid", F_UINT), REQ("key", F_STR), REQ("rate", F_FLOAT)};
static const ml_command worker_cmds[] = {
    CMD("READY", ready),         {"HEARTBEAT", none, 0},   CMD("ACCEPT", job_attempt),
    CMD("ITEMS", items),         CMD("DONE", done),        CMD("FAILED", failed),
    CMD("CANCELLED", cancelled), CMD("DISCONNECT", disconnect), CMD("PLAN", plan_ops),
    CMD("FETCH", fetch),         CMD("TOKEN", token)};

static const ml_field dispatch[] = {REQ("job", F_STR),      REQ("attempt", F_UINT),
                                    REQ("kind", F_STR),     OPT("paths", F_STRS),
                                    OPT("params", F_MAP),   OPT("dry_run", F_BOOL),
                                    OPT("roots", F_STRS),   OPT("has_plan", F_BOOL)};
static const ml_field page_msg[] = {REQ("rid", F_UINT), OPT("rows", F_MAPS),
                                    OPTI("total", F_UINT, 0), OPT("error", F_ANY)};
static const ml_field ack[] = {REQ("acks", F_ARRAYS)};
static const ml_field grant[] = {REQ("rid", F_UINT), OPT("wait_s", F_FLOAT), OPT("error", F_ANY)};
static const ml_command broker_cmds[] = {
    CMD("DISPATCH", dispatch),     CMD("CANCEL", job_attempt), {"HEARTBEAT", none, 0},
    CMD("DISCONNECT", disconnect), CMD("PAGE", page_msg),      CMD("ACK", ack),
    CMD("GRANT", grant)};

static const ml_field progress[] = {REQ("job", F_STR), REQ("attempt", F_UINT),
                                    REQ("progress", F_MAP)};
static const ml_field event[] = {REQ("job", F_STR),        REQ("seq", F_UINT),
                                 REQ("status", F_STR),     OPTS("kind", ""),
                                 OPTI("attempts", F_UINT, 0), OPT("progress", F_MAP),
                                 OPT("error", F_ANY),      OPT("ts", F_FLOAT)};
static const ml_command event_cmds[] = {CMD("PROGRESS", progress), CMD("EVENT", event)};

static const struct {
  const ml_command *cmds;
  int n;
  const char *tag;
} channels[] = {
    [ML_CH_CLIENT] = {client_cmds, sizeof client_cmds / sizeof *client_cmds, "MLC1"},
    [ML_CH_REPLY] = {reply_cmds, sizeof reply_cmds / sizeof *reply_cmds, "MLC1"},
    [ML_CH_WORKER] = {worker_cmds, sizeof worker_cmds / sizeof *worker_cmds, "MLW1"},
    [ML_CH_BROKER] = {broker_cmds, sizeof broker_cmds / sizeof *broker_cmds, "MLW1"},
    [ML_CH_EVENT] = {event_cmds, sizeof event_cmds / sizeof *event_cmds, "MLE1"},
};

const ml_command *ml_command_of(ml_channel ch, const char *word, size_t len) {
  if ((unsigned)ch > ML_CH_EVENT) return NULL;
  for (int i = 0; i < channels[ch].n; i++) {
    const ml_command *c = &channels[ch].cmds[i];
    if (strlen(c->word) == len && memcmp(c->word, word, len) == 0) return c;
  }
  return NULL;
}

const char *ml_channel_tag(ml_channel ch) {
  return (unsigned)ch > ML_CH_EVENT ? "" : channels[ch].tag;
}

int ml_channel_from_name(const char *name) {
  static const char *names[] = {"client", "reply", "worker", "broker", "event"};
  for (int i = 0; i < 5; i++)
    if (name && !strcmp(name, names[i])) return i;
  return -1;
}

const char *ml_ftype_name(ml_ftype t) {
  static const char *names[] = {"uint", "float", "bool", "str", "map", "any",
                                "[str]", "[map]", "[array]"};
  return (unsigned)t <= F_ARRAYS ? names[t] : "?";
}
