/* Messages -> frames (SPEC.md 2, 3.2): "cmd" first, then every field of the command in
 * its documented order, defaults included.  The caller's message is checked by the same
 * value rules a decoder applies, so nothing this library sends can be refused for them. */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SPEC.md 3.2.1 on a value at nesting level depth */
static bool rules_ok(const ml_value *v, int depth, char *why, size_t wl) {
  switch (v->type) {
  case ML_FLOAT:
    if (!isfinite(v->u.f)) return snprintf(why, wl, "a float that is not finite"), false;
    return true;
  case ML_STR:
    if (!ml_utf8_valid((const unsigned char *)v->u.str.s, v->u.str.len))
      return snprintf(why, wl, "a str that is not UTF-8"), false;
    return true;
  case ML_ARRAY:
  case ML_MAP:
    if (depth > ML_MAX_DEPTH)
      return snprintf(why, wl, "containers nested deeper than %d levels", ML_MAX_DEPTH), false;
    for (size_t i = 0; i < ml_len(v); i++) {
      if (v->type == ML_MAP) {
        const ml_pair *p = &v->u.map.items[i];
        if (!ml_utf8_valid((const unsigned char *)p->key, p->klen))
          return snprintf(why, wl, "a map key that is not UTF-8"), false;
        if (!rules_ok(p->val, depth + 1, why, wl)) return false;
      } else if (!rules_ok(v->u.arr.items[i], depth + 1, why, wl)) {
        return false;
      }
    }
    return true;
  default:
    return true;
  }
}

static bool field_ok(const ml_field *f, const ml_value *v, char *why, size_t wl) {
  ml_type want[] = {[F_UINT] = ML_INT, [F_FLOAT] = ML_FLOAT, [F_BOOL] = ML_BOOL,
                    [F_STR] = ML_STR,  [F_MAP] = ML_MAP,     [F_ANY] = ML_NIL,
                    [F_STRS] = ML_ARRAY, [F_MAPS] = ML_ARRAY, [F_ARRAYS] = ML_ARRAY};
  if (f->type == F_FLOAT && v->type == ML_INT) return true;
  if (f->type != F_ANY && v->type != want[f->type])
    return snprintf(why, wl, "must be %s", ml_ftype_name(f->type)), false;
  if (f->type == F_UINT && v->u.i < 0) return snprintf(why, wl, "must be 0..2^63-1"), false;
  if (f->type == F_STRS || f->type == F_MAPS || f->type == F_ARRAYS) {
    ml_type elem = f->type == F_STRS ? ML_STR : f->type == F_MAPS ? ML_MAP : ML_ARRAY;
    for (size_t i = 0; i < ml_len(v); i++)
      if (ml_at(v, i)->type != elem)
        return snprintf(why, wl, "element %zu must be %s", i, ml_ftype_name(f->type)), false;
  }
  return rules_ok(v, 2, why, wl);
}

int ml_encode(ml_channel ch, const ml_value *msg, ml_frames *out, ml_error *err) {
  memset(out, 0, sizeof *out);
  ml_error_clear(err);
  const char *word = ml_get_str(msg, "cmd", NULL);
  const ml_command *c = word ? ml_command_of(ch, word, strlen(word)) : NULL;
  if (!c) {
    ml_fail(err, "protocol.unknown_command", NULL, "no command '%s' on this channel",
            word ? word : "(no cmd)");
    return -1;
  }
  for (size_t i = 0; i < ml_len(msg); i++) { /* every key must be a field */
    const char *key = ml_key_at(msg, i, NULL);
    bool known = !strcmp(key, "cmd");
    for (int j = 0; j < c->nfields && !known; j++) known = !strcmp(key, c->fields[j].name);
    if (!known) {
      ml_fail(err, "protocol.bad_field", key, "%s has no field '%s'", word, key);
      return -1;
    }
  }
  const ml_value *vals[16];
  ml_value *owned[16] = {0};
  size_t size = mp_map_header_size((uint32_t)c->nfields + 1) + mp_str_size(3) +
                mp_str_size(strlen(c->word));
  int rc = -1;
  for (int i = 0; i < c->nfields; i++) {
    const ml_field *f = &c->fields[i];
    const ml_value *v = ml_get(msg, f->name);
    char why[128];
    if (!v && f->required) {
      ml_fail(err, "protocol.bad_field", f->name, "%s needs field '%s'", word, f->name);
      goto done;
    }
    if (v && !field_ok(f, v, why, sizeof why)) {
      ml_fail(err, "protocol.bad_field", f->name, "%s field %s: %s", word, f->name, why);
      goto done;
    }
    if (!v || (f->type == F_FLOAT && v->type == ML_INT))
      v = owned[i] = v ? ml_float((double)v->u.i) : ml_default_of(f);
    if (!v) goto oom;
    vals[i] = v;
    size += mp_str_size(strlen(f->name)) + mp_value_size(v);
  }
  unsigned char *body = malloc(size), *p = body;
  if (!body) goto oom;
  p = mp_write_map_header(p, (uint32_t)c->nfields + 1);
  p = mp_write_str(p, "cmd", 3);
  p = mp_write_str(p, c->word, strlen(c->word));
  for (int i = 0; i < c->nfields; i++) {
    p = mp_write_str(p, c->fields[i].name, strlen(c->fields[i].name));
    p = mp_write_value(p, vals[i]);
  }
  int k = 0;
  if (ch == ML_CH_EVENT) {
    const char *job = ml_as_str(vals[0]); /* PROGRESS and EVENT: job comes first */
    size_t jl = strlen(job);
    out->frame[k].data = malloc(jl + 4);
    if (!out->frame[k].data) goto oom_body;
    memcpy(out->frame[k].data, "job/", 4);
    memcpy(out->frame[k].data + 4, job, jl);
    out->frame[k++].size = jl + 4;
  }
  out->frame[k].data = malloc(4);
  if (!out->frame[k].data) goto oom_body;
  memcpy(out->frame[k].data, ml_channel_tag(ch), 4);
  out->frame[k++].size = 4;
  out->frame[k].data = body;
  out->frame[k++].size = (size_t)(p - body);
  out->count = k;
  rc = 0;
  goto done;
oom_body:
  free(body);
  ml_frames_free(out);
oom:
  ml_fail(err, "internal", NULL, "out of memory");
done:
  for (int i = 0; i < c->nfields; i++) ml_free(owned[i]);
  return rc;
}

void ml_frames_free(ml_frames *frames) {
  if (!frames) return;
  for (int i = 0; i < 3; i++) free(frames->frame[i].data);
  memset(frames, 0, sizeof *frames);
}
