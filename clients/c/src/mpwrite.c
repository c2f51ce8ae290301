/* ml_value -> msgpack with msgpuck's encoders: the shortest form of every integer, str,
 * array and map header (as the test vectors are written), every float as float 64. */
#include "internal.h"

#include <msgpuck.h>

static size_t int_size(int64_t i) {
  return i >= 0 ? mp_sizeof_uint((uint64_t)i) : mp_sizeof_int(i);
}

size_t mp_value_size(const ml_value *v) {
  size_t n = 0;
  switch (v->type) {
  case ML_NIL: return mp_sizeof_nil();
  case ML_BOOL: return mp_sizeof_bool(v->u.b);
  case ML_INT: return int_size(v->u.i);
  case ML_FLOAT: return mp_sizeof_double(v->u.f);
  case ML_STR: return mp_sizeof_str(v->u.str.len);
  case ML_ARRAY:
    n = mp_sizeof_array(v->u.arr.len);
    for (uint32_t i = 0; i < v->u.arr.len; i++) n += mp_value_size(v->u.arr.items[i]);
    return n;
  case ML_MAP:
    n = mp_sizeof_map(v->u.map.len);
    for (uint32_t i = 0; i < v->u.map.len; i++)
      n += mp_sizeof_str(v->u.map.items[i].klen) + mp_value_size(v->u.map.items[i].val);
    return n;
  }
  return 0;
}

unsigned char *mp_write_value(unsigned char *out, const ml_value *v) {
  char *p = (char *)out;
  switch (v->type) {
  case ML_NIL: p = mp_encode_nil(p); break;
  case ML_BOOL: p = mp_encode_bool(p, v->u.b); break;
  case ML_INT:
    p = v->u.i >= 0 ? mp_encode_uint(p, (uint64_t)v->u.i) : mp_encode_int(p, v->u.i);
    break;
  case ML_FLOAT: p = mp_encode_double(p, v->u.f); break;
  case ML_STR: p = mp_encode_str(p, v->u.str.s, v->u.str.len); break;
  case ML_ARRAY:
    p = mp_encode_array(p, v->u.arr.len);
    for (uint32_t i = 0; i < v->u.arr.len; i++)
      p = (char *)mp_write_value((unsigned char *)p, v->u.arr.items[i]);
    break;
  case ML_MAP:
    p = mp_encode_map(p, v->u.map.len);
    for (uint32_t i = 0; i < v->u.map.len; i++) {
      p = mp_encode_str(p, v->u.map.items[i].key, v->u.map.items[i].klen);
      p = (char *)mp_write_value((unsigned char *)p, v->u.map.items[i].val);
    }
    break;
  }
  return (unsigned char *)p;
}

size_t mp_map_header_size(uint32_t n) { return mp_sizeof_map(n); }
size_t mp_str_size(size_t len) { return mp_sizeof_str((uint32_t)len); }

unsigned char *mp_write_map_header(unsigned char *out, uint32_t n) {
  return (unsigned char *)mp_encode_map((char *)out, n);
}

unsigned char *mp_write_str(unsigned char *out, const char *s, size_t len) {
  return (unsigned char *)mp_encode_str((char *)out, s, (uint32_t)len);
}
