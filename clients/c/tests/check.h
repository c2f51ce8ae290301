/* A few helpers shared by the C tests: counted checks that print what failed. */
#ifndef ML_CHECK_H
#define ML_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#ifdef CHECK_MAIN
int check_failures, check_count;
#else
extern int check_failures, check_count;
#endif

#define CHECK(cond, ...)                                                                    \
  do {                                                                                      \
    check_count++;                                                                          \
    if (!(cond)) {                                                                          \
      check_failures++;                                                                     \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                  \
      fprintf(stderr, __VA_ARGS__);                                                         \
      fputc('\n', stderr);                                                                  \
    }                                                                                       \
  } while (0)

static inline char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  fclose(f);
  if (len) *len = n;
  return buf;
}

static inline int check_summary(const char *name) {
  printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
  return check_failures ? 1 : 0;
}

#endif
