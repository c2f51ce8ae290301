/* Frames <-> messages (SPEC.md 2-3, 4.13): the only file that knows the frame layout.
 *
 * Decoding checks, in this order: the number of frames, the version tag, the size of a
 * client request, the whole body (one msgpack map with nothing after it, valid UTF-8 in
 * every str, str keys each once at the top), the command word, then every field of the
 * command in its documented order (type, element types, value rules). */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ml_error_clear(ml_error *err) {
  if (!err) return;
  ml_free(err->details);
  memset(err, 0, sizeof *err);
}

void ml_fail(ml_error *err, const char *code, const char *field, const char *fmt, ...) {
  if (!err) return;
  ml_error_clear(err);
  snprintf(err->code, sizeof err->code, "%s", code);
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  if (field) {
    err->details = ml_map();
    ml_set(err->details, "field", ml_str(field));
  }
}

typedef struct {
  const unsigned char *key, *val;
  uint32_t klen;
} entry;

static int by_key(const void *a, const void *b) {
  const entry *x = a, *y = b;
  if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
  return memcmp(x->key, y->key, x->klen);
}

/* The top-level entries of a body that is exactly one valid msgpack map, sorted by key. */
static entry *body_entries(const unsigned char *body, size_t size, uint32_t *n, ml_error *err) {
  const unsigned char *p = body, *end = body + size;
  mp_head h;
  if (size == 0) {
    ml_fail(err, "protocol.bad_frame", NULL, "the body is empty");
    return NULL;
  }
  if (mp_skip(&p, end, true)) {
    ml_fail(err, "protocol.bad_frame", NULL,
            "the body is not valid msgpack (truncated, or a str that is not UTF-8)");
    return NULL;
  }
  if (p != end) {
    ml_fail(err, "protocol.bad_frame", NULL, "the body has %zu bytes after its map",
            (size_t)(end - p));
    return NULL;
  }
  p = body;
  mp_read_head(&p, end, &h);
  if (h.type != MP_H_MAP) {
    ml_fail(err, "protocol.bad_frame", NULL, "the body must be a msgpack map");
    return NULL;
  }
  entry *es = calloc(h.u ? h.u : 1, sizeof *es);
  if (!es) {
    ml_fail(err, "internal", NULL, "out of memory");
    return NULL;
  }
  for (uint64_t i = 0; i < h.u; i++) {
    mp_head k;
    mp_read_head(&p, end, &k);
    if (k.type != MP_H_STR) {
      ml_fail(err, "protocol.bad_frame", NULL, "the keys of the body map must be msgpack str");
      goto fail;
    }
    es[i] = (entry){k.payload, p, (uint32_t)k.u};
    mp_skip(&p, end, false);
  }
  qsort(es, h.u, sizeof *es, by_key); /* by key: a key twice sits side by side */
  for (uint64_t i = 1; i < h.u; i++) {
    if (!by_key(&es[i - 1], &es[i])) {
      ml_fail(err, "protocol.bad_frame", NULL,
              "the body map holds the key '%.*s' twice (a key must not appear twice)",
              (int)(es[i].klen > 40 ? 40 : es[i].klen), (const char *)es[i].key);
      goto fail;
    }
  }
  *n = (uint32_t)h.u;
  return es;
fail:
  free(es);
  return NULL;
}

static const entry *find_entry(const entry *es, uint32_t n, const char *name) {
  entry want = {(const unsigned char *)name, NULL, (uint32_t)strlen(name)};
  return bsearch(&want, es, n, sizeof *es, by_key);
}

static const char *htype_name(mp_htype t) {
  static const char *names[] = {"nil", "bool", "int", "int", "float", "float", "str",
                                "bin", "array", "map", "extension"};
  return names[t];
}

/* One known field's value, at *p. 0 ok, -1 bad field (reason set), -2 no memory. */
static int build_field(const ml_field *f, const unsigned char *p, const unsigned char *end,
                       ml_value **out, char *reason, size_t rlen) {
  mp_head h;
  const unsigned char *q = p;
  mp_read_head(&q, end, &h);
  bool is_uint = (h.type == MP_H_UINT && h.u <= INT64_MAX) || (h.type == MP_H_INT && h.i >= 0);
  *out = NULL;
  switch (f->type) {
  case F_UINT:
    if (is_uint) return (*out = ml_int(h.type == MP_H_UINT ? (int64_t)h.u : h.i)) ? 0 : -2;
    if (h.type == MP_H_UINT || h.type == MP_H_INT)
      return snprintf(reason, rlen, "must be 0..2^63-1"), -1;
    break;
  case F_FLOAT:
    if (h.type == MP_H_F32 || h.type == MP_H_F64) {
      if (!isfinite(h.f)) return snprintf(reason, rlen, "%g is not allowed", h.f), -1;
      return (*out = ml_float(h.f)) ? 0 : -2;
    }
    if (h.type == MP_H_INT) return (*out = ml_float((double)h.i)) ? 0 : -2;
    if (is_uint) return (*out = ml_float((double)h.u)) ? 0 : -2;
    if (h.type == MP_H_UINT) return snprintf(reason, rlen, "an integer out of range"), -1;
    break;
  case F_BOOL:
    if (h.type == MP_H_BOOL) return (*out = ml_bool(h.i)) ? 0 : -2;
    break;
  case F_STR:
    if (h.type == MP_H_STR) return (*out = ml_strn((const char *)h.payload, h.u)) ? 0 : -2;
    break;
  case F_MAP:
    if (h.type == MP_H_MAP) return mp_build(&p, end, 2, out, reason, rlen);
    break;
  case F_ANY:
    return mp_build(&p, end, 2, out, reason, rlen);
  case F_STRS:
  case F_MAPS:
  case F_ARRAYS: {
    if (h.type != MP_H_ARRAY) break;
    mp_htype want = f->type == F_STRS ? MP_H_STR : f->type == F_MAPS ? MP_H_MAP : MP_H_ARRAY;
    ml_value *a = ml_array();
    for (uint64_t i = 0; a && i < h.u; i++) {
      mp_head e;
      const unsigned char *at = q;
      mp_read_head(&at, end, &e);
      if (e.type != want) {
        snprintf(reason, rlen, "element %llu must be %s, not %s", (unsigned long long)i,
                 htype_name(want), htype_name(e.type));
        return ml_free(a), -1;
      }
      ml_value *item;
      int rc = mp_build(&q, end, 3, &item, reason, rlen);
      if (rc) return ml_free(a), rc;
      if (ml_push(a, item)) return ml_free(a), -2;
    }
    return (*out = a) ? 0 : -2;
  }
  }
  snprintf(reason, rlen, "must be %s, not %s", ml_ftype_name(f->type), htype_name(h.type));
  return -1;
}

ml_value *ml_default_of(const ml_field *f) {
  switch (f->type) {
  case F_UINT: return ml_int(f->dint);
  case F_FLOAT: return ml_float(0.0);
  case F_BOOL: return ml_bool(f->dint);
  case F_STR: return ml_str(f->dstr);
  case F_MAP: return ml_map();
  case F_ANY: return ml_nil();
  default: return ml_array();
  }
}

static ml_value *decode_body(ml_channel ch, const unsigned char *body, size_t size,
                             ml_error *err) {
  uint32_t n = 0;
  entry *es = body_entries(body, size, &n, err);
  if (!es) return NULL;
  ml_value *msg = NULL;
  const entry *cmd = find_entry(es, n, "cmd");
  mp_head w = {0};
  const unsigned char *p = cmd ? cmd->val : NULL;
  const ml_command *c = NULL;
  if (cmd && !mp_read_head(&p, body + size, &w) && w.type == MP_H_STR)
    c = ml_command_of(ch, (const char *)w.payload, w.u);
  if (!c) {
    if (w.type == MP_H_STR)
      ml_fail(err, "protocol.unknown_command", NULL, "unknown command '%.*s'",
              (int)(w.u > 40 ? 40 : w.u), (const char *)w.payload);
    else
      ml_fail(err, "protocol.unknown_command", NULL, "the body has no str 'cmd'");
    goto done;
  }
  msg = ml_map();
  if (!msg || ml_set(msg, "cmd", ml_str(c->word))) goto oom;
  for (int i = 0; i < c->nfields; i++) {
    const ml_field *f = &c->fields[i];
    const entry *e = find_entry(es, n, f->name);
    ml_value *v = NULL;
    if (!e) {
      if (f->required) {
        ml_fail(err, "protocol.bad_field", f->name, "%s needs field '%s'", c->word, f->name);
        goto bad;
      }
      v = ml_default_of(f);
    } else {
      char reason[160] = "";
      int rc = build_field(f, e->val, body + size, &v, reason, sizeof reason);
      if (rc == -2) goto oom;
      if (rc) {
        ml_fail(err, "protocol.bad_field", f->name, "%s field %s: %s", c->word, f->name, reason);
        goto bad;
      }
    }
    if (!v || ml_set(msg, f->name, v)) goto oom;
  }
  goto done;
oom:
  ml_fail(err, "internal", NULL, "out of memory");
bad:
  ml_free(msg);
  msg = NULL;
done:
  free(es);
  return msg;
}

ml_value *ml_decode(ml_channel ch, const ml_frame *frames, size_t count, ml_error *err) {
  ml_error_clear(err);
  const ml_frame *fr = frames;
  size_t nf = count;
  ml_value *msg = NULL;
  if (ch == ML_CH_EVENT) {
    if (count != 3) {
      ml_fail(err, "protocol.bad_frame", NULL, "an event is three frames: topic, tag, body");
      goto out;
    }
    fr++, nf--;
  }
  if ((unsigned)ch > ML_CH_EVENT) {
    ml_fail(err, "internal", NULL, "unknown channel %d", (int)ch);
  } else if (nf != 2) {
    ml_fail(err, "protocol.bad_frame", NULL, "a message is two frames (version tag and body), "
            "not %zu", nf);
  } else if (fr[0].size != 4 || memcmp(fr[0].data, ml_channel_tag(ch), 4)) {
    ml_fail(err, "protocol.bad_version", NULL, "the version tag is not %s", ml_channel_tag(ch));
  } else if (ch == ML_CH_CLIENT && fr[1].size > ML_MAX_BODY_BYTES) {
    ml_fail(err, "protocol.too_large", NULL, "message of %zu bytes exceeds the limit of %u",
            fr[1].size, ML_MAX_BODY_BYTES);
  } else {
    msg = decode_body(ch, fr[1].data, fr[1].size, err);
  }
out:
  if (!msg && err && ch == ML_CH_CLIENT) err->rid = ml_request_id(frames, count);
  return msg;
}

uint64_t ml_request_id(const ml_frame *frames, size_t count) {
  if (!count) return 0;
  const unsigned char *p = frames[count - 1].data;
  size_t size = frames[count - 1].size;
  const unsigned char *end = p + (size > ML_MAX_BODY_BYTES ? ML_MAX_BODY_BYTES : size);
  mp_head h;
  if (!p || mp_read_head(&p, end, &h) || h.type != MP_H_MAP) return 0;
  for (uint64_t i = 0; i < h.u; i++) {
    const unsigned char *at = p;
    mp_head k, v;
    if (mp_read_head(&p, end, &k)) return 0;
    if (k.type == MP_H_STR && k.u == 3 && !memcmp(k.payload, "rid", 3)) {
      if (mp_read_head(&p, end, &v)) return 0;
      if (v.type == MP_H_UINT && v.u <= INT64_MAX) return v.u;
      if (v.type == MP_H_INT && v.i >= 0) return (uint64_t)v.i;
      return 0;
    }
    p = at;
    if (mp_skip(&p, end, false) || mp_skip(&p, end, false)) return 0; /* the key, the value */
  }
  return 0;
}
