/* For tests/differential.py: each stdin line is "CHANNEL HEX HEX..." (the frames); each
 * stdout line the C codec's verdict as JSON: {"message": {...}} or
 * {"error": CODE, "field": FIELD, "rid": RID}. */
#include "medialoom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nibble(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0;
}

int main(void) {
  size_t cap = 1 << 20;
  char *line = malloc(cap);
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    line[strcspn(line, "\n")] = 0;
    char *save, *tok = strtok_r(line, " ", &save);
    int ch = ml_channel_from_name(tok);
    ml_frame frames[8];
    size_t n = 0;
    while (n < 8 && (tok = strtok_r(NULL, " ", &save))) {
      size_t k = strlen(tok) / 2;
      if (!strcmp(tok, "-")) k = 0; /* an empty frame */
      frames[n].data = malloc(k + 1);
      frames[n].size = k;
      for (size_t i = 0; i < k; i++)
        frames[n].data[i] = (unsigned char)(nibble(tok[2 * i]) << 4 | nibble(tok[2 * i + 1]));
      n++;
    }
    ml_error err = {0};
    ml_value *msg = ml_decode((ml_channel)ch, frames, n, &err);
    if (msg) {
      char *j = ml_to_json(msg);
      printf("{\"message\": %s}\n", j);
      free(j);
    } else {
      printf("{\"error\": \"%s\", \"field\": \"%s\", \"rid\": %llu}\n", err.code, err.field,
             (unsigned long long)err.rid);
    }
    fflush(stdout);
    ml_free(msg);
    ml_error_clear(&err);
    for (size_t i = 0; i < n; i++) free(frames[i].data);
  }
  free(line);
  return 0;
}
