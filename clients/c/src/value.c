/* ml_value: a decoded msgpack tree.  Maps keep insertion order; setting an existing key
 * replaces its value in place (so a decoded map with a key twice keeps the last value
 * at the first position, as SPEC.md 3.1 asks inside field values). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define INDEX_FROM 16 /* maps longer than this get a hash index */

static ml_value *node(ml_type t) {
  ml_value *v = calloc(1, sizeof *v);
  if (v) v->type = t;
  return v;
}

ml_value *ml_nil(void) { return node(ML_NIL); }

ml_value *ml_bool(bool b) {
  ml_value *v = node(ML_BOOL);
  if (v) v->u.b = b;
  return v;
}

ml_value *ml_int(int64_t i) {
  ml_value *v = node(ML_INT);
  if (v) v->u.i = i;
  return v;
}

ml_value *ml_float(double f) {
  ml_value *v = node(ML_FLOAT);
  if (v) v->u.f = f;
  return v;
}

ml_value *ml_strn(const char *s, size_t len) {
  if (len > UINT32_MAX - 1) return NULL;
  ml_value *v = node(ML_STR);
  if (!v) return NULL;
  v->u.str.s = malloc(len + 1);
  if (!v->u.str.s) {
    free(v);
    return NULL;
  }
  if (len) memcpy(v->u.str.s, s, len);
  v->u.str.s[len] = 0;
  v->u.str.len = (uint32_t)len;
  return v;
}

ml_value *ml_str(const char *s) { return ml_strn(s ? s : "", s ? strlen(s) : 0); }
ml_value *ml_array(void) { return node(ML_ARRAY); }
ml_value *ml_map(void) { return node(ML_MAP); }

void ml_free(ml_value *v) {
  if (!v) return;
  switch (v->type) {
  case ML_STR:
    free(v->u.str.s);
    break;
  case ML_ARRAY:
    for (uint32_t i = 0; i < v->u.arr.len; i++) ml_free(v->u.arr.items[i]);
    free(v->u.arr.items);
    break;
  case ML_MAP:
    for (uint32_t i = 0; i < v->u.map.len; i++) {
      free(v->u.map.items[i].key);
      ml_free(v->u.map.items[i].val);
    }
    free(v->u.map.items);
    free(v->u.map.index);
    break;
  default:
    break;
  }
  free(v);
}

static int grow(void **items, uint32_t *cap, uint32_t len, size_t size) {
  if (len < *cap) return 0;
  if (*cap >= UINT32_MAX / 2) return -1;
  uint32_t ncap = *cap ? *cap * 2 : 4;
  void *n = realloc(*items, (size_t)ncap * size);
  if (!n) return -1;
  *items = n;
  *cap = ncap;
  return 0;
}

int ml_push(ml_value *array, ml_value *item) {
  if (!array || array->type != ML_ARRAY || !item ||
      grow((void **)&array->u.arr.items, &array->u.arr.cap, array->u.arr.len,
           sizeof(ml_value *))) {
    ml_free(item);
    return -1;
  }
  array->u.arr.items[array->u.arr.len++] = item;
  return 0;
}

static uint32_t hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static void index_put(ml_value *m, uint32_t pos) {
  uint32_t mask = m->u.map.icap - 1;
  uint32_t h = hash(m->u.map.items[pos].key, m->u.map.items[pos].klen) & mask;
  while (m->u.map.index[h]) h = (h + 1) & mask;
  m->u.map.index[h] = pos + 1;
}

static int index_rebuild(ml_value *m) {
  uint32_t icap = 64;
  while (icap < m->u.map.len * 2u + 2) {
    if (icap > UINT32_MAX / 4) return -1;
    icap *= 2;
  }
  uint32_t *idx = calloc(icap, sizeof *idx);
  if (!idx) return -1;
  free(m->u.map.index);
  m->u.map.index = idx;
  m->u.map.icap = icap;
  for (uint32_t i = 0; i < m->u.map.len; i++) index_put(m, i);
  return 0;
}

static int64_t find(const ml_value *m, const char *key, size_t klen) {
  if (m->u.map.index) {
    uint32_t mask = m->u.map.icap - 1;
    for (uint32_t h = hash(key, klen) & mask; m->u.map.index[h]; h = (h + 1) & mask) {
      const ml_pair *p = &m->u.map.items[m->u.map.index[h] - 1];
      if (p->klen == klen && memcmp(p->key, key, klen) == 0) return m->u.map.index[h] - 1;
    }
    return -1;
  }
  for (uint32_t i = 0; i < m->u.map.len; i++) {
    const ml_pair *p = &m->u.map.items[i];
    if (p->klen == klen && memcmp(p->key, key, klen) == 0) return i;
  }
  return -1;
}

int ml_setn(ml_value *map, const char *key, size_t klen, ml_value *val) {
  if (!map || map->type != ML_MAP || !val || klen > UINT32_MAX - 1) goto fail;
  int64_t at = find(map, key, klen);
  if (at >= 0) {
    ml_free(map->u.map.items[at].val);
    map->u.map.items[at].val = val;
    return 0;
  }
  if (grow((void **)&map->u.map.items, &map->u.map.cap, map->u.map.len, sizeof(ml_pair)))
    goto fail;
  char *k = malloc(klen + 1);
  if (!k) goto fail;
  if (klen) memcpy(k, key, klen);
  k[klen] = 0;
  uint32_t pos = map->u.map.len++;
  map->u.map.items[pos] = (ml_pair){k, (uint32_t)klen, val};
  if (map->u.map.len > INDEX_FROM) {
    if (!map->u.map.index || map->u.map.len * 2u > map->u.map.icap) {
      if (index_rebuild(map)) {
        free(map->u.map.index); /* fall back to linear search */
        map->u.map.index = NULL;
      }
    } else {
      index_put(map, pos);
    }
  }
  return 0;
fail:
  ml_free(val);
  return -1;
}

int ml_set(ml_value *map, const char *key, ml_value *val) {
  return ml_setn(map, key, strlen(key), val);
}

const ml_value *ml_getn(const ml_value *map, const char *key, size_t klen) {
  if (!map || map->type != ML_MAP) return NULL;
  int64_t at = find(map, key, klen);
  return at < 0 ? NULL : map->u.map.items[at].val;
}

const ml_value *ml_get(const ml_value *map, const char *key) {
  return ml_getn(map, key, strlen(key));
}

ml_type ml_typeof(const ml_value *v) { return v ? v->type : ML_NIL; }

size_t ml_len(const ml_value *v) {
  if (!v) return 0;
  switch (v->type) {
  case ML_STR: return v->u.str.len;
  case ML_ARRAY: return v->u.arr.len;
  case ML_MAP: return v->u.map.len;
  default: return 0;
  }
}

const ml_value *ml_at(const ml_value *a, size_t i) {
  return a && a->type == ML_ARRAY && i < a->u.arr.len ? a->u.arr.items[i] : NULL;
}

const char *ml_key_at(const ml_value *m, size_t i, size_t *len) {
  if (!m || m->type != ML_MAP || i >= m->u.map.len) return NULL;
  if (len) *len = m->u.map.items[i].klen;
  return m->u.map.items[i].key;
}

const ml_value *ml_val_at(const ml_value *m, size_t i) {
  return m && m->type == ML_MAP && i < m->u.map.len ? m->u.map.items[i].val : NULL;
}

bool ml_as_bool(const ml_value *v) { return v && v->type == ML_BOOL && v->u.b; }

int64_t ml_as_int(const ml_value *v) {
  if (!v) return 0;
  if (v->type == ML_INT) return v->u.i;
  if (v->type == ML_FLOAT && v->u.f > -9.2e18 && v->u.f < 9.2e18) return (int64_t)v->u.f;
  return 0;
}

double ml_as_float(const ml_value *v) {
  if (!v) return 0.0;
  if (v->type == ML_FLOAT) return v->u.f;
  if (v->type == ML_INT) return (double)v->u.i;
  return 0.0;
}

const char *ml_as_str(const ml_value *v) { return v && v->type == ML_STR ? v->u.str.s : NULL; }

const char *ml_get_str(const ml_value *m, const char *key, const char *dflt) {
  const char *s = ml_as_str(ml_get(m, key));
  return s ? s : dflt;
}

int64_t ml_get_int(const ml_value *m, const char *key, int64_t dflt) {
  const ml_value *v = ml_get(m, key);
  return v && v->type == ML_INT ? v->u.i : dflt;
}

double ml_get_float(const ml_value *m, const char *key, double dflt) {
  const ml_value *v = ml_get(m, key);
  return v && (v->type == ML_FLOAT || v->type == ML_INT) ? ml_as_float(v) : dflt;
}

bool ml_get_bool(const ml_value *m, const char *key, bool dflt) {
  const ml_value *v = ml_get(m, key);
  return v && v->type == ML_BOOL ? v->u.b : dflt;
}

ml_value *ml_clone(const ml_value *v) {
  if (!v) return NULL;
  switch (v->type) {
  case ML_NIL: return ml_nil();
  case ML_BOOL: return ml_bool(v->u.b);
  case ML_INT: return ml_int(v->u.i);
  case ML_FLOAT: return ml_float(v->u.f);
  case ML_STR: return ml_strn(v->u.str.s, v->u.str.len);
  case ML_ARRAY: {
    ml_value *a = ml_array();
    for (uint32_t i = 0; a && i < v->u.arr.len; i++) {
      ml_value *item = ml_clone(v->u.arr.items[i]);
      if (!item || ml_push(a, item)) {
        ml_free(a);
        return NULL;
      }
    }
    return a;
  }
  case ML_MAP: {
    ml_value *m = ml_map();
    for (uint32_t i = 0; m && i < v->u.map.len; i++) {
      const ml_pair *p = &v->u.map.items[i];
      ml_value *val = ml_clone(p->val);
      if (!val || ml_setn(m, p->key, p->klen, val)) {
        ml_free(m);
        return NULL;
      }
    }
    return m;
  }
  }
  return NULL;
}

bool ml_equal(const ml_value *a, const ml_value *b) {
  if (!a || !b) return a == b;
  if (a->type != b->type) return false;
  switch (a->type) {
  case ML_NIL: return true;
  case ML_BOOL: return a->u.b == b->u.b;
  case ML_INT: return a->u.i == b->u.i;
  case ML_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0 || a->u.f == b->u.f;
  case ML_STR:
    return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
  case ML_ARRAY:
    if (a->u.arr.len != b->u.arr.len) return false;
    for (uint32_t i = 0; i < a->u.arr.len; i++)
      if (!ml_equal(a->u.arr.items[i], b->u.arr.items[i])) return false;
    return true;
  case ML_MAP:
    if (a->u.map.len != b->u.map.len) return false;
    for (uint32_t i = 0; i < a->u.map.len; i++) {
      const ml_pair *p = &a->u.map.items[i], *q = &b->u.map.items[i];
      if (p->klen != q->klen || memcmp(p->key, q->key, p->klen) || !ml_equal(p->val, q->val))
        return false;
    }
    return true;
  }
  return false;
}

bool ml_is_terminal(const char *s) {
  return s && (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

ml_value *ml_take(ml_value *map, const char *key) {
  if (!map || map->type != ML_MAP) return NULL;
  int64_t at = find(map, key, strlen(key));
  if (at < 0) return NULL;
  ml_value *v = map->u.map.items[at].val;
  free(map->u.map.items[at].key);
  memmove(&map->u.map.items[at], &map->u.map.items[at + 1],
          (map->u.map.len - (uint32_t)at - 1) * sizeof(ml_pair));
  map->u.map.len--;
  if (map->u.map.index && index_rebuild(map)) {
    free(map->u.map.index);
    map->u.map.index = NULL;
  }
  return v;
}
