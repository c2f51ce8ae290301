/* Internal declarations shared by the library's source files (not installed). */
#ifndef ML_INTERNAL_H
#define ML_INTERNAL_H

#include "medialoom.h"

#include <stdarg.h>

typedef struct {
  char *key;
  uint32_t klen;
  ml_value *val;
} ml_pair;

struct ml_value {
  ml_type type;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      char *s;
      uint32_t len;
    } str;
    struct {
      ml_value **items;
      uint32_t len, cap;
    } arr;
    struct {
      ml_pair *items;
      uint32_t len, cap;
      uint32_t *index; /* open-addressing hash of item positions + 1, once len > 16 */
      uint32_t icap;
    } map;
  } u;
};

/* value.c */
const ml_value *ml_getn(const ml_value *map, const char *key, size_t klen);
ml_value *ml_take(ml_value *map, const char *key); /* removes the entry; NULL if absent */

/* errors (codec.c) */
void ml_fail(ml_error *err, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* mpread.c: bounded msgpack reading.  A header describes one msgpack object. */
typedef enum {
  MP_H_NIL, MP_H_BOOL, MP_H_UINT, MP_H_INT, MP_H_F32, MP_H_F64, MP_H_STR, MP_H_BIN,
  MP_H_ARRAY, MP_H_MAP, MP_H_EXT
} mp_htype;

typedef struct {
  mp_htype type;
  uint64_t u;    /* UINT value; length of STR, BIN and EXT payloads; ARRAY and MAP counts */
  int64_t i;     /* INT value (negative encodings only); BOOL 0/1 */
  double f;      /* F32, F64 */
  const unsigned char *payload; /* STR, BIN, EXT: the bytes after the header */
} mp_head;

/* Read one header at *p (< end): 0 ok (p advanced past the header and any payload,
 * which is known to lie within end), -1 truncated, -2 the reserved byte 0xc1. */
int mp_read_head(const unsigned char **p, const unsigned char *end, mp_head *h);
bool ml_utf8_valid(const unsigned char *s, size_t len);
/* Skip one whole object at *p, without recursion; checks structure, UTF-8 (if utf8)
 * and that every count fits the bytes left.  0 ok, -1 not valid msgpack. */
int mp_skip(const unsigned char **p, const unsigned char *end, bool utf8);

/* The value rules of SPEC.md 3.2.1, for building a known field's value.  depth is the
 * level of the value if it is a container (a body field: 2).  0 ok, -1 broken rule
 * (why in reason), -2 no memory. */
int mp_build(const unsigned char **p, const unsigned char *end, int depth, ml_value **out,
             char *reason, size_t rlen);

/* mpwrite.c */
size_t mp_value_size(const ml_value *v);
unsigned char *mp_write_value(unsigned char *out, const ml_value *v);
size_t mp_map_header_size(uint32_t n);
size_t mp_str_size(size_t len);
unsigned char *mp_write_map_header(unsigned char *out, uint32_t n);
unsigned char *mp_write_str(unsigned char *out, const char *s, size_t len);

/* client.c, used by calls.c and watch.c */
/* Send request (owned) and wait for its reply: the REPLY's data (owned), or NULL with
 * the client's error set (an ERROR, or broker.unavailable after timeout_ms). */
ml_value *ml_call(ml_client *c, ml_value *request, int timeout_ms);
/* ml_call, then the data's key taken out of it (NULL and an error if it is missing) */
ml_value *ml_call_key(ml_client *c, ml_value *request, const char *key);
/* ml_send without marking the client as pipelining (a blocking call's own request) */
uint64_t ml_send_request(ml_client *c, ml_value *request);
/* the reply to rid within timeout_ms (< 0: for ever), as ml_call; on a timeout, forget
 * drops its late reply (else the request is taken as still held by the broker) */
ml_value *ml_await(ml_client *c, uint64_t rid, int timeout_ms, bool forget);
void ml_forget(ml_client *c, uint64_t rid);
void ml_client_log(ml_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ml_error *ml_client_err(ml_client *c);
int ml_client_timeout(const ml_client *c);
const char *ml_client_name(const ml_client *c); /* HELLO's `client` */
/* a socket of type on the client's context, with its options and CURVE keys, connected
 * to endpoint (NULL: the events-out endpoint); NULL with the client's error set */
void *ml_client_socket(ml_client *c, int type, const char *endpoint);
int64_t ml_now_ms(void);

/* settings.c: option, MEDIALOOM_<NAME>, the settings file, then tcp://<host>:port */
void ml_endpoint(char *out, size_t n, const char *given, const char *name, int port);
/* a setting: $MEDIALOOM_<NAME>, else the top-level key of the settings file; 0 found */
int ml_setting(const char *name, char *out, size_t n);
void ml_data_dir(char *out, size_t n);

/* cert.c: the Z85 keys of a ZeroMQ certificate file; 0 ok, -1 with a message */
int ml_read_cert(const char *path, char public_key[41], char secret_key[41], bool need_secret,
                 char *msg, size_t mlen);

#endif
