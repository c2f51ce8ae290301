/* The endpoints a client connects to (SPEC.md 10.1): an explicit option, else the
 * MEDIALOOM_<NAME> variable, else the top-level key of the TOML settings file
 * ($MEDIALOOM_CONFIG, else $XDG_CONFIG_HOME/medialoom/config.toml, else
 * ~/.config/medialoom/config.toml), else tcp://<host>:<port>, host read the same way
 * (default 127.0.0.1).  Only top-level `key = "string"` lines are read from the file. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void config_path(char *out, size_t n) {
  const char *file = getenv("MEDIALOOM_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
  const char *home = getenv("HOME");
  if (file && *file) snprintf(out, n, "%s", file);
  else if (xdg && *xdg) snprintf(out, n, "%s/medialoom/config.toml", xdg);
  else snprintf(out, n, "%s/.config/medialoom/config.toml", home ? home : "");
}

/* the string value of a top-level key of the settings file; 0 found, -1 not */
static int from_file(const char *key, char *out, size_t n) {
  char path[4096], line[2048];
  config_path(path, sizeof path);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int found = -1;
  size_t klen = strlen(key);
  while (found && fgets(line, sizeof line, f)) {
    char *p = line + strspn(line, " \t");
    if (*p == '[') break; /* a table: the top level is over */
    if (strncmp(p, key, klen) || !strchr(" \t=", p[klen])) continue;
    p += klen + strspn(p + klen, " \t");
    if (*p++ != '=') continue;
    p += strspn(p, " \t");
    char quote = *p;
    if (quote != '"' && quote != '\'') continue;
    size_t o = 0;
    for (p++; *p && *p != quote && o + 1 < n; p++) {
      if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
      out[o++] = *p;
    }
    out[o] = 0;
    found = *p == quote ? 0 : -1;
  }
  fclose(f);
  return found;
}

int ml_setting(const char *name, char *out, size_t n) {
  char var[64];
  snprintf(var, sizeof var, "MEDIALOOM_%s", name);
  for (char *p = var + 10; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  const char *env = getenv(var);
  if (env && *env) return snprintf(out, n, "%s", env), 0;
  return from_file(name, out, n);
}

void ml_endpoint(char *out, size_t n, const char *given, const char *name, int port) {
  char host[256];
  if (given && *given) snprintf(out, n, "%s", given);
  else if (ml_setting(name, out, n) || !*out) {
    if (ml_setting("host", host, sizeof host) || !*host) snprintf(host, sizeof host, "127.0.0.1");
    snprintf(out, n, "tcp://%s:%d", host, port);
  }
}

/* The data dir (the `data_dir` setting, else $XDG_DATA_HOME/medialoom, else
 * ~/.local/share/medialoom), where a broker host keeps keys/broker.key (README "Secure
 * sockets"). */
void ml_data_dir(char *out, size_t n) {
  const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
  if (!ml_setting("data_dir", out, n) && *out) return;
  if (xdg && *xdg) snprintf(out, n, "%s/medialoom", xdg);
  else snprintf(out, n, "%s/.local/share/medialoom", home ? home : "");
}
