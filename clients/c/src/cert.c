/* ZeroMQ certificate files (ZPL, ZeroMQ RFC 4), as pyzmq's zmq.auth.create_certificates
 * and czmq's zcert write them:
 *
 *     metadata
 *     curve
 *         public-key = "Z85 text, 40 characters"
 *         secret-key = "..."          (only in NAME.key_secret)
 *
 * Lines starting with '#' are comments; a value may be quoted with " or ' (Z85 has '#'
 * in its alphabet, so nothing after a value is taken as a comment). */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

static const char Z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          ".-:+=^!/*?&<>()[]{}@%$#";

static int z85_ok(const char *key) {
  if (strlen(key) != 40) return 0;
  for (const char *p = key; *p; p++)
    if (!strchr(Z85, *p)) return 0;
  uint8_t raw[32];
  return zmq_z85_decode(raw, key) != NULL;
}

/* "name = value" inside the curve section: copy the value of public-key or secret-key */
static void take(char *line, char pub[41], char sec[41], int *npub, int *nsec) {
  char *eq = strchr(line, '=');
  if (!eq) return;
  char *name = line, *end = eq;
  while (*name == ' ' || *name == '\t') name++;
  while (end > name && (end[-1] == ' ' || end[-1] == '\t')) end--;
  *end = 0;
  char *val = eq + 1;
  while (*val == ' ' || *val == '\t') val++;
  size_t n;
  if (*val == '"' || *val == '\'') {
    char *close = strchr(val + 1, *val);
    val++;
    n = close ? (size_t)(close - val) : strlen(val);
  } else {
    n = strcspn(val, " \t\r\n");
  }
  char *dst = !strcmp(name, "public-key") ? pub : !strcmp(name, "secret-key") ? sec : NULL;
  if (!dst) return;
  int *count = dst == pub ? npub : nsec;
  (*count)++;
  if (n > 40) n = 41; /* too long: fails the length check below */
  memcpy(dst, val, n);
  dst[n] = 0;
}

int ml_read_cert(const char *path, char pub[41], char sec[41], bool need_secret, char *msg,
                 size_t mlen) {
  FILE *f = fopen(path, "r");
  pub[0] = sec[0] = 0;
  if (!f) return snprintf(msg, mlen, "cannot read the key file %s: %m", path), -1;
  char line[1024];
  bool in_curve = false;
  int npub = 0, nsec = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') continue;
    if (p == line) { /* a section name at the top level */
      in_curve = !strncmp(p, "curve", 5) && strspn(p + 5, " \t") == strlen(p + 5);
      continue;
    }
    if (in_curve) take(p, pub, sec, &npub, &nsec);
  }
  fclose(f);
  if (!npub)
    return snprintf(msg, mlen, "the key file %s has no public-key in a curve section (a "
                    "ZeroMQ certificate, as `medialoom keys` or zmq.auth writes, is expected)",
                    path), -1;
  if (npub > 1 || nsec > 1)
    return snprintf(msg, mlen, "the key file %s names a key twice", path), -1;
  if (!z85_ok(pub))
    return snprintf(msg, mlen, "the key file %s: public-key is not 40 characters of Z85",
                    path), -1;
  if (need_secret && !nsec)
    return snprintf(msg, mlen, "the key file %s has no secret-key: give this client's secret "
                    "certificate (NAME.key_secret), not its public one", path), -1;
  if (nsec) {
    char derived[41];
    if (!z85_ok(sec))
      return snprintf(msg, mlen, "the key file %s: secret-key is not 40 characters of Z85",
                      path), -1;
    if (zmq_curve_public(derived, sec) == 0 && strcmp(derived, pub))
      return snprintf(msg, mlen, "the key file %s: public-key does not belong to its "
                      "secret-key", path), -1;
  }
  return 0;
}
