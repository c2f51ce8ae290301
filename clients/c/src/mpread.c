/* Bounded msgpack reading (SPEC.md 3.1, 3.2.1).
 *
 * Every length and count is checked against the bytes that are left before it is used:
 * msgpuck 1.0.3's mp_check() keeps its element count in an int, so a map 32 header with
 * a huge count lets truncated input through; here a count is a uint64_t and each element
 * takes at least one byte, so a count larger than the bytes left is refused at once.
 * msgpuck's loaders read the big-endian numbers once the bytes are known to be there.
 */
#include "internal.h"

#include <math.h>
#include <msgpuck.h>
#include <stdio.h>

static uint64_t load(const unsigned char *p, int n) {
  const char *q = (const char *)p;
  switch (n) {
  case 1: return mp_load_u8(&q);
  case 2: return mp_load_u16(&q);
  case 4: return mp_load_u32(&q);
  default: return mp_load_u64(&q);
  }
}

/* the payload of n bytes after a header must lie within end */
static int take(const unsigned char **p, const unsigned char *end, uint64_t n, mp_head *h) {
  if (n > (uint64_t)(end - *p)) return -1;
  h->u = n;
  h->payload = *p;
  *p += n;
  return 0;
}

int mp_read_head(const unsigned char **pp, const unsigned char *end, mp_head *h) {
  const unsigned char *p = *pp;
  if (p >= end) return -1;
  unsigned c = *p++;
  size_t left = (size_t)(end - p);
  static const int width[] = {1, 2, 4, 8};
  h->payload = NULL;
  h->u = 0;
  h->i = 0;
  h->f = 0;
  if (c <= 0x7f) {
    h->type = MP_H_UINT, h->u = c;
  } else if (c <= 0x8f) {
    h->type = MP_H_MAP, h->u = c & 0x0f;
  } else if (c <= 0x9f) {
    h->type = MP_H_ARRAY, h->u = c & 0x0f;
  } else if (c <= 0xbf) {
    h->type = MP_H_STR;
    if (take(&p, end, c & 0x1f, h)) return -1;
  } else if (c >= 0xe0) {
    h->type = MP_H_INT, h->i = (int8_t)c;
  } else if (c == 0xc0) {
    h->type = MP_H_NIL;
  } else if (c == 0xc1) {
    return -2;
  } else if (c == 0xc2 || c == 0xc3) {
    h->type = MP_H_BOOL, h->i = c == 0xc3;
  } else if (c >= 0xc4 && c <= 0xc6) { /* bin 8/16/32 */
    int w = width[c - 0xc4];
    if (left < (size_t)w) return -1;
    uint64_t n = load(p, w);
    p += w;
    h->type = MP_H_BIN;
    if (take(&p, end, n, h)) return -1;
  } else if (c >= 0xc7 && c <= 0xc9) { /* ext 8/16/32: length, type byte, data */
    int w = width[c - 0xc7];
    if (left < (size_t)w + 1) return -1;
    uint64_t n = load(p, w);
    p += w + 1;
    h->type = MP_H_EXT;
    if (take(&p, end, n, h)) return -1;
  } else if (c == 0xca || c == 0xcb) {
    int w = c == 0xca ? 4 : 8;
    if (left < (size_t)w) return -1;
    const char *q = (const char *)p;
    h->type = c == 0xca ? MP_H_F32 : MP_H_F64;
    h->f = c == 0xca ? (double)mp_load_float(&q) : mp_load_double(&q);
    p += w;
  } else if (c >= 0xcc && c <= 0xcf) { /* uint 8..64 */
    int w = width[c - 0xcc];
    if (left < (size_t)w) return -1;
    h->type = MP_H_UINT, h->u = load(p, w);
    p += w;
  } else if (c >= 0xd0 && c <= 0xd3) { /* int 8..64: read as signed */
    int w = width[c - 0xd0];
    if (left < (size_t)w) return -1;
    uint64_t raw = load(p, w);
    h->type = MP_H_INT;
    h->i = w == 1 ? (int8_t)raw : w == 2 ? (int16_t)raw : w == 4 ? (int32_t)raw : (int64_t)raw;
    p += w;
  } else if (c >= 0xd4 && c <= 0xd8) { /* fixext 1..16: type byte, data */
    if (left < 1) return -1;
    p += 1;
    h->type = MP_H_EXT;
    if (take(&p, end, 1u << (c - 0xd4), h)) return -1;
  } else if (c >= 0xd9 && c <= 0xdb) { /* str 8/16/32 */
    int w = width[c - 0xd9];
    if (left < (size_t)w) return -1;
    uint64_t n = load(p, w);
    p += w;
    h->type = MP_H_STR;
    if (take(&p, end, n, h)) return -1;
  } else { /* 0xdc..0xdf: array 16/32, map 16/32 */
    int w = (c == 0xdc || c == 0xde) ? 2 : 4;
    if (left < (size_t)w) return -1;
    h->type = c <= 0xdd ? MP_H_ARRAY : MP_H_MAP;
    h->u = load(p, w);
    p += w;
  }
  *pp = p;
  return 0;
}

/* UTF-8 as Python's strict decoder reads it: shortest forms only, no surrogates,
 * nothing above U+10FFFF. */
bool ml_utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) k = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else return false;
    if (n - i <= k) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t j = 2; j <= k; j++)
      if ((s[i + j] & 0xc0) != 0x80) return false;
    i += k + 1;
  }
  return true;
}

int mp_skip(const unsigned char **pp, const unsigned char *end, bool utf8) {
  const unsigned char *p = *pp;
  uint64_t pending = 1; /* objects still to read; each takes at least one byte */
  while (pending) {
    mp_head h;
    if (pending > (uint64_t)(end - p) || mp_read_head(&p, end, &h)) return -1;
    pending--;
    if (h.type == MP_H_STR && utf8 && !ml_utf8_valid(h.payload, h.u)) return -1;
    if (h.type == MP_H_ARRAY || h.type == MP_H_MAP) {
      uint64_t more = h.type == MP_H_MAP ? h.u * 2 : h.u; /* h.u < 2^32: no overflow */
      if (more > (uint64_t)(end - p)) return -1;
      pending += more;
    }
  }
  *pp = p;
  return 0;
}

#define REASON(...) (snprintf(reason, rlen, __VA_ARGS__), -1)

int mp_build(const unsigned char **p, const unsigned char *end, int depth, ml_value **out,
             char *reason, size_t rlen) {
  mp_head h;
  *out = NULL;
  if (mp_read_head(p, end, &h)) return REASON("truncated");
  ml_value *v = NULL;
  switch (h.type) {
  case MP_H_NIL: v = ml_nil(); break;
  case MP_H_BOOL: v = ml_bool(h.i); break;
  case MP_H_UINT:
    if (h.u > INT64_MAX) return REASON("an integer outside the signed 64-bit range");
    v = ml_int((int64_t)h.u);
    break;
  case MP_H_INT: v = ml_int(h.i); break;
  case MP_H_F32:
  case MP_H_F64:
    if (!isfinite(h.f)) return REASON("%g is not allowed (floats must be finite)", h.f);
    v = ml_float(h.f);
    break;
  case MP_H_STR: v = ml_strn((const char *)h.payload, h.u); break;
  case MP_H_BIN: return REASON("a bin value (job data must not hold bin)");
  case MP_H_EXT: return REASON("an extension value (extension types are not allowed)");
  case MP_H_ARRAY:
  case MP_H_MAP: {
    if (depth > ML_MAX_DEPTH)
      return REASON("containers nested deeper than %d levels", ML_MAX_DEPTH);
    bool map = h.type == MP_H_MAP;
    if (h.u > (uint64_t)(end - *p)) return REASON("truncated");
    v = map ? ml_map() : ml_array();
    for (uint64_t n = 0; v && n < h.u; n++) {
      ml_value *item;
      mp_head k;
      if (map) {
        if (mp_read_head(p, end, &k)) return ml_free(v), REASON("truncated");
        if (k.type != MP_H_STR) return ml_free(v), REASON("a map key that is not a str");
      }
      int rc = mp_build(p, end, depth + 1, &item, reason, rlen);
      if (rc) return ml_free(v), rc;
      if (map ? ml_setn(v, (const char *)k.payload, k.u, item) : ml_push(v, item))
        return ml_free(v), -2;
    }
    break;
  }
  }
  if (!v) return -2;
  *out = v;
  return 0;
}
