/* JSON <-> ml_value, for printing replies and reading params and the test vectors.
 * Objects keep their key order; a number with '.', 'e' or 'E' is a float, else an int. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 256

typedef struct {
  const char *start, *p, *end;
  char *err;
  size_t errlen;
} reader;

static ml_value *fail(reader *r, const char *what) {
  if (r->err && r->errlen && !r->err[0])
    snprintf(r->err, r->errlen, "%s at byte %zu", what, (size_t)(r->p - r->start));
  return NULL;
}

static void ws(reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
    r->p++;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) return o[0] = (char)cp, 1;
  if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* a string at r->p (after the opening quote): a malloc'd buffer and its length */
static char *string(reader *r, size_t *len) {
  size_t cap = 0;
  for (const char *q = r->p; q < r->end && *q != '"'; q++) cap += *q == '\\' ? 2 : 1;
  char *out = malloc(cap + 8), *o = out;
  if (!out) return fail(r, "out of memory"), NULL;
  while (r->p < r->end && *r->p != '"') {
    unsigned char c = (unsigned char)*r->p++;
    if (c < 0x20) goto bad;
    if (c != '\\') {
      *o++ = (char)c;
      continue;
    }
    if (r->p >= r->end) goto bad;
    char e = *r->p++;
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e && simple) {
      *o++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
      continue;
    }
    unsigned cp, lo;
    if (e != 'u' || r->end - r->p < 4 || hex4(r->p, &cp)) goto bad;
    r->p += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff) goto bad;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &lo) ||
          lo < 0xdc00 || lo > 0xdfff)
        goto bad;
      r->p += 6;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    o += put_utf8(o, cp);
  }
  if (r->p >= r->end) goto bad;
  r->p++;
  *len = (size_t)(o - out);
  return out;
bad:
  free(out);
  return fail(r, "a bad string"), NULL;
}

static ml_value *value(reader *r, int depth);

static ml_value *number(reader *r) {
  const char *s = r->p;
  bool is_float = false;
  if (r->p < r->end && *r->p == '-') r->p++;
  while (r->p < r->end && *r->p && strchr("0123456789.eE+-", *r->p)) {
    if (*r->p == '.' || *r->p == 'e' || *r->p == 'E') is_float = true;
    r->p++;
  }
  char buf[64];
  size_t n = (size_t)(r->p - s);
  if (n == 0 || n >= sizeof buf) return fail(r, "a bad number");
  memcpy(buf, s, n);
  buf[n] = 0;
  char *stop;
  errno = 0;
  if (is_float) {
    double f = strtod(buf, &stop);
    if (*stop || !isfinite(f)) return fail(r, "a bad number");
    return ml_float(f);
  }
  long long i = strtoll(buf, &stop, 10);
  if (*stop || errno) return fail(r, "an integer outside the signed 64-bit range");
  return ml_int(i);
}

static ml_value *container(reader *r, int depth, bool object) {
  ml_value *v = object ? ml_map() : ml_array();
  char close = object ? '}' : ']';
  r->p++;
  ws(r);
  if (r->p < r->end && *r->p == close) return r->p++, v;
  while (v) {
    ws(r);
    char *key = NULL;
    size_t klen = 0;
    if (object) {
      if (r->p >= r->end || *r->p != '"') goto bad;
      r->p++;
      if (!(key = string(r, &klen))) goto bad;
      ws(r);
      if (r->p >= r->end || *r->p != ':') goto bad_key;
      r->p++;
    }
    ml_value *item = value(r, depth + 1);
    if (!item) goto bad_key;
    int rc = object ? ml_setn(v, key, klen, item) : ml_push(v, item);
    free(key);
    if (rc) goto bad;
    ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      continue;
    }
    if (r->p < r->end && *r->p == close) return r->p++, v;
    goto bad;
  bad_key:
    free(key);
    goto bad;
  }
bad:
  ml_free(v);
  return fail(r, object ? "a bad object" : "a bad array");
}

static ml_value *value(reader *r, int depth) {
  ws(r);
  if (r->p >= r->end) return fail(r, "unexpected end");
  if (depth > JSON_MAX_DEPTH) return fail(r, "nested too deep");
  char c = *r->p;
  if (c == '{' || c == '[') return container(r, depth, c == '{');
  if (c == '"') {
    size_t len;
    r->p++;
    char *s = string(r, &len);
    if (!s) return NULL;
    ml_value *v = ml_strn(s, len);
    free(s);
    return v;
  }
  static const char *words[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(words[i]);
    if ((size_t)(r->end - r->p) >= n && !memcmp(r->p, words[i], n)) {
      r->p += n;
      return i == 2 ? ml_nil() : ml_bool(i == 0);
    }
  }
  return number(r);
}

ml_value *ml_from_json(const char *text, size_t len, char *err, size_t errlen) {
  reader r = {text, text, text + len, err, errlen};
  if (err && errlen) err[0] = 0;
  ml_value *v = value(&r, 1);
  ws(&r);
  if (v && r.p != r.end) {
    ml_free(v);
    return fail(&r, "text after the value");
  }
  return v;
}

/* ---- writing ---- */

typedef struct {
  char *s;
  size_t len, cap;
  bool oom;
} buffer;

static void put(buffer *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->cap ? b->cap : 64);
    while (b->len + n + 1 > cap) cap *= 2;
    char *ns = realloc(b->s, cap);
    if (!ns) {
      b->oom = true;
      return;
    }
    b->s = ns, b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

static void put_string(buffer *b, const char *s, size_t n) {
  put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c;
      put(b, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(b, esc, 6);
    } else {
      put(b, (const char *)&s[i], 1);
    }
  }
  put(b, "\"", 1);
}

static void write_value(buffer *b, const ml_value *v) {
  char num[40];
  switch (ml_typeof(v)) {
  case ML_NIL: put(b, "null", 4); break;
  case ML_BOOL: v->u.b ? put(b, "true", 4) : put(b, "false", 5); break;
  case ML_INT: put(b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v->u.i)); break;
  case ML_FLOAT:
    if (!isfinite(v->u.f)) {
      put(b, "null", 4);
      break;
    }
    for (int prec = 15; prec <= 17; prec++) { /* the shortest form that reads back */
      snprintf(num, sizeof num, "%.*g", prec, v->u.f);
      if (strtod(num, NULL) == v->u.f) break;
    }
    if (!strpbrk(num, ".eEn")) strcat(num, ".0");
    put(b, num, strlen(num));
    break;
  case ML_STR: put_string(b, v->u.str.s, v->u.str.len); break;
  case ML_ARRAY:
    put(b, "[", 1);
    for (uint32_t i = 0; i < v->u.arr.len; i++) {
      if (i) put(b, ", ", 2);
      write_value(b, v->u.arr.items[i]);
    }
    put(b, "]", 1);
    break;
  case ML_MAP:
    put(b, "{", 1);
    for (uint32_t i = 0; i < v->u.map.len; i++) {
      if (i) put(b, ", ", 2);
      put_string(b, v->u.map.items[i].key, v->u.map.items[i].klen);
      put(b, ": ", 2);
      write_value(b, v->u.map.items[i].val);
    }
    put(b, "}", 1);
    break;
  }
}

char *ml_to_json(const ml_value *v) {
  buffer b = {0};
  write_value(&b, v);
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s ? b.s : strdup("null");
}
