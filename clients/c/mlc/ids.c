/* Job ids on mlc's command line, as the Python CLI takes them: a 26-character id as is,
 * else any 6+ characters from the start or the end of one id (any case), found by paging
 * through LIST.  None is job.not_found, several job.ambiguous; both exit 2. */
#include "print.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define ID_LEN 26
#define MIN_ID_CHARS 6

static bool matches(const char *id, const char *frag, size_t n) {
  size_t len = strlen(id);
  return len >= n && (!strncmp(id, frag, n) || !strcmp(id + len - n, frag));
}

int resolve_id(ml_client *c, const char *text, char out[ID_LEN + 1]) {
  size_t n = strlen(text);
  if (n >= ID_LEN) return snprintf(out, ID_LEN + 1, "%s", text), 0;
  char frag[ID_LEN];
  for (size_t i = 0; i < n; i++) frag[i] = (char)toupper((unsigned char)text[i]);
  frag[n] = 0;
  if (n < MIN_ID_CHARS || strspn(frag, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") != n) {
    fprintf(stderr, "mlc: '%s' is not a job id: give the 26-character id or at least %d "
            "characters from its start or end\n", text, MIN_ID_CHARS);
    return 2;
  }
  int found = 0;
  char shown[512] = "";
  for (unsigned offset = 0;;) {
    ml_page_args p = {.limit = 1000, .offset = offset, .order = "created"};
    ml_value *page = ml_list(c, &p);
    if (!page) return -1;
    const ml_value *jobs = ml_get(page, "jobs");
    for (size_t i = 0; i < ml_len(jobs); i++) {
      const char *id = ml_get_str(ml_at(jobs, i), "id", "");
      if (!matches(id, frag, n)) continue;
      if (!found++) snprintf(out, ID_LEN + 1, "%s", id);
      if (found <= 5) snprintf(shown + strlen(shown), sizeof shown - strlen(shown), "%s%s",
                               found > 1 ? ", " : "", id);
    }
    offset += (unsigned)ml_len(jobs);
    bool last = !ml_len(jobs) || offset >= (unsigned)ml_get_int(page, "total", 0);
    ml_free(page);
    if (last) break;
  }
  if (found == 1) return 0;
  if (!found) fprintf(stderr, "mlc: job.not_found: no job id starts or ends with '%s'\n", text);
  else fprintf(stderr, "mlc: job.ambiguous: '%s' matches %d jobs: %s%s; give more characters\n",
               text, found, shown, found > 5 ? ", ..." : "");
  return 2;
}
