/* Bound checks beyond the vectors: sizes and counts that point past the end of the
 * input (the msgpuck 1.0.3 mp_check() int-count hole), every truncation of every valid
 * vector, random corruption, huge and deep bodies, and the encoder refusing bad input. */
#include "check.h"
#include "medialoom.h"

#include <math.h>
#include <msgpuck.h>
#include <string.h>

static ml_frame tag_c = {(unsigned char *)"MLC1", 4};

static ml_value *decode_body(ml_channel ch, const void *body, size_t n, ml_error *err) {
  ml_frame f[2] = {tag_c, {(unsigned char *)body, n}};
  if (ch == ML_CH_WORKER) f[0].data = (unsigned char *)"MLW1";
  return ml_decode(ch, f, 2, err);
}

static void refused(const char *name, const void *body, size_t n, const char *code,
                    uint64_t rid) {
  ml_error err = {0};
  ml_value *m = decode_body(ML_CH_CLIENT, body, n, &err);
  CHECK(!m, "%s: decoded", name);
  CHECK(!strcmp(err.code, code), "%s: %s (%s), want %s", name, err.code, err.message, code);
  CHECK(err.rid == rid, "%s: rid %llu, want %llu", name, (unsigned long long)err.rid,
        (unsigned long long)rid);
  ml_free(m);
  ml_error_clear(&err);
}

static void huge_counts(void) {
  /* map 32 claiming 2^31 entries, then cmd PING and rid 5, then nothing */
  static const unsigned char map32[] = {0xdf, 0x80, 0x00, 0x00, 0x00, 0xa3, 'c', 'm', 'd',
                                        0xa4, 'P',  'I',  'N',  'G',  0xa3, 'r', 'i', 'd', 0x05};
  const char *cur = (const char *)map32;
  int msgpuck_ok = mp_check(&cur, cur + sizeof map32) == 0;
  printf("msgpuck mp_check() %s the truncated map 32 (count 2^31)\n",
         msgpuck_ok ? "accepts" : "refuses");
  refused("map32-huge-count", map32, sizeof map32, "protocol.bad_frame", 5);
  static const unsigned char map32max[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa3, 'r', 'i', 'd', 7};
  refused("map32-count-2^32-1", map32max, sizeof map32max, "protocol.bad_frame", 7);
  /* PING rid 3 with a str 32 of length 2^32-16 */
  static const unsigned char str32[] = {0x83, 0xa3, 'c', 'm', 'd', 0xa4, 'P', 'I', 'N', 'G',
                                        0xa3, 'r', 'i', 'd', 0x03, 0xa1, 'x',
                                        0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
  refused("str32-past-end", str32, sizeof str32, "protocol.bad_frame", 3);
  unsigned char buf[sizeof str32];
  memcpy(buf, str32, sizeof buf);
  static const unsigned char heads[][5] = {{0xc6, 0xff, 0xff, 0xff, 0xf0},  /* bin 32 */
                                           {0xc9, 0x7f, 0xff, 0xff, 0xff},  /* ext 32 */
                                           {0xdd, 0xff, 0xff, 0xff, 0xff},  /* array 32 */
                                           {0xdf, 0x7f, 0xff, 0xff, 0xff}}; /* map 32 */
  for (int i = 0; i < 4; i++) {
    memcpy(buf + 17, heads[i], 5);
    refused("container-or-payload-past-end", buf, sizeof buf, "protocol.bad_frame", 3);
  }
  /* a rid after a value whose length points past the end is not read: rid 0 */
  static const unsigned char before[] = {0x83, 0xa1, 'x', 0xda, 0xff, 0xff, 'a', 0xa3, 'r', 'i',
                                         'd', 0x01};
  refused("length-past-end-before-rid", before, sizeof before, "protocol.bad_frame", 0);
  /* a 0xc1 byte (never used) */
  static const unsigned char c1[] = {0x82, 0xa3, 'r', 'i', 'd', 0x02, 0xa1, 'x', 0xc1};
  refused("reserved-byte", c1, sizeof c1, "protocol.bad_frame", 2);
  /* rid as int 8 (a non-shortest positive integer): read as rid 9 */
  static const unsigned char int8rid[] = {0x82, 0xa3, 'c', 'm', 'd', 0xa4, 'P', 'I', 'N', 'G',
                                          0xa3, 'r', 'i', 'd', 0xd0, 0x09};
  ml_error err = {0};
  ml_value *m = decode_body(ML_CH_CLIENT, int8rid, sizeof int8rid, &err);
  CHECK(m && ml_get_int(m, "rid", 0) == 9, "int8 rid: %s", err.message);
  ml_free(m);
}

/* every prefix of every valid body is refused; random corruptions never crash, and what
 * still decodes encodes again (the decoder only hands on what follows the rules) */
void corrupt_all(ml_channel ch, const ml_frame *frames, size_t n, uint32_t *seed) {
  const ml_frame *body = &frames[n - 1];
  ml_frame copy[3];
  memcpy(copy, frames, n * sizeof *frames);
  unsigned char *buf = malloc(body->size ? body->size : 1);
  for (size_t len = 0; len < body->size; len++) {
    ml_error err = {0};
    memcpy(buf, body->data, len);
    copy[n - 1] = (ml_frame){buf, len};
    ml_value *m = ml_decode(ch, copy, n, &err);
    CHECK(!m, "a %zu-byte prefix of a %zu-byte body decoded", len, body->size);
    CHECK(m || !strcmp(err.code, "protocol.bad_frame"), "prefix: %s", err.code);
    ml_free(m);
    ml_error_clear(&err);
  }
  for (int round = 0; round < 300 && body->size; round++) {
    memcpy(buf, body->data, body->size);
    for (int k = 0; k < 1 + round % 4; k++) {
      *seed = *seed * 1103515245u + 12345u;
      buf[(*seed >> 8) % body->size] = (unsigned char)(*seed >> 20);
    }
    copy[n - 1] = (ml_frame){buf, body->size};
    ml_error err = {0};
    ml_value *m = ml_decode(ch, copy, n, &err);
    if (m) {
      ml_frames out;
      CHECK(ml_encode(ch, m, &out, &err) == 0, "a decoded corruption does not encode: %s",
            err.message);
      ml_frames_free(&out);
    }
    ml_free(m);
    ml_error_clear(&err);
  }
  free(buf);
}

static void big_bodies(void) {
  /* a PING with 60,000 distinct unknown keys: accepted; the same with one key twice: not */
  size_t n = 60000, cap = 16 + n * 12;
  unsigned char *b = malloc(cap), *p = b;
  *p++ = 0xdf;
  uint32_t count = (uint32_t)n + 2;
  for (int i = 3; i >= 0; i--) *p++ = (unsigned char)(count >> (8 * i));
  memcpy(p, "\xa3" "cmd" "\xa4" "PING" "\xa3" "rid" "\x04", 14);
  p += 14;
  for (size_t i = 0; i < n; i++) p += sprintf((char *)p, "\xa6k%05zu\xc0", i);
  ml_error err = {0};
  ml_value *m = decode_body(ML_CH_CLIENT, b, (size_t)(p - b), &err);
  CHECK(m && ml_len(m) == 2, "60,000 unknown keys: %s", err.message);
  ml_free(m);
  memcpy(p - 8, "\xa6k00000\xc0", 8); /* the last key repeats the first */
  refused("duplicate-among-60000", b, (size_t)(p - b), "protocol.bad_frame", 4);
  free(b);
  /* an unknown field nested 200,000 levels deep is ignored, a known one is refused */
  size_t depth = 200000;
  b = malloc(depth + 64);
  memcpy(b, "\x83\xa3" "cmd" "\xa4" "PING" "\xa3" "rid" "\x06" "\xa1" "x", 17);
  memset(b + 17, 0x91, depth);
  b[17 + depth] = 0xc0;
  m = decode_body(ML_CH_CLIENT, b, depth + 18, &err);
  CHECK(m != NULL, "deep unknown field: %s", err.message);
  ml_free(m);
  static const unsigned char start_head[] = {0x84, 0xa3, 'c', 'm', 'd', 0xa5, 'S', 'T', 'A',
                                             'R', 'T', 0xa3, 'r', 'i', 'd', 0x06, 0xa4, 'k',
                                             'i', 'n', 'd', 0xa1, 's', 0xa6, 'p', 'a', 'r',
                                             'a', 'm', 's', 0x81, 0xa1, 'a'};
  memcpy(b, start_head, sizeof start_head);
  memset(b + sizeof start_head, 0x91, depth);
  b[sizeof start_head + depth] = 0xc0;
  m = decode_body(ML_CH_CLIENT, b, sizeof start_head + depth + 1, &err);
  CHECK(!m && !strcmp(err.code, "protocol.bad_field") && !strcmp(err.field, "params"),
        "deep params: %s %s", err.code, err.field);
  ml_free(m);
  ml_error_clear(&err);
  free(b);
}

static void encode_refuses(void) {
  struct {
    const char *json, *code, *field;
  } cases[] = {
      {"{\"cmd\": \"PING\", \"rid\": 1, \"extra\": 1}", "protocol.bad_field", "extra"},
      {"{\"cmd\": \"PING\"}", "protocol.bad_field", "rid"},
      {"{\"cmd\": \"PING\", \"rid\": -1}", "protocol.bad_field", "rid"},
      {"{\"cmd\": \"START\", \"rid\": 1, \"kind\": 3}", "protocol.bad_field", "kind"},
      {"{\"cmd\": \"START\", \"rid\": 1, \"kind\": \"s\", \"paths\": [1]}", "protocol.bad_field",
       "paths"},
      {"{\"cmd\": \"NOPE\", \"rid\": 1}", "protocol.unknown_command", ""},
      {"{\"cmd\": \"REPLY\", \"rid\": 1}", "protocol.unknown_command", ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    ml_value *msg = ml_from_json(cases[i].json, strlen(cases[i].json), NULL, 0);
    ml_frames out;
    ml_error err = {0};
    int rc = ml_encode(ML_CH_CLIENT, msg, &out, &err);
    CHECK(rc == -1 && !strcmp(err.code, cases[i].code) && !strcmp(err.field, cases[i].field),
          "encode %s: rc %d %s %s", cases[i].json, rc, err.code, err.field);
    ml_error_clear(&err);
    ml_free(msg);
  }
  /* NaN and 33 levels inside params */
  const char *start = "{\"cmd\": \"START\", \"rid\": 1, \"kind\": \"s\"}";
  ml_value *msg = ml_from_json(start, strlen(start), NULL, 0);
  ml_value *params = ml_map();
  ml_set(params, "x", ml_float(NAN));
  ml_set(msg, "params", params);
  ml_frames out;
  ml_error err = {0};
  CHECK(ml_encode(ML_CH_CLIENT, msg, &out, &err) == -1 && !strcmp(err.field, "params"),
        "NaN in params encoded");
  ml_value *deep = ml_int(1);
  for (int i = 0; i < 31; i++) {
    ml_value *a = ml_array();
    ml_push(a, deep);
    deep = a;
  }
  params = ml_map();
  ml_set(params, "a", deep); /* params (2) + 31 arrays: 33 levels */
  ml_set(msg, "params", params);
  CHECK(ml_encode(ML_CH_CLIENT, msg, &out, &err) == -1, "33 levels encoded");
  ml_error_clear(&err);
  ml_free(msg);
}

int test_bounds(void) {
  huge_counts();
  big_bodies();
  encode_refuses();
  return 0;
}
