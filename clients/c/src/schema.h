/* The commands of protocol version 1 per channel, with their fields in wire order. */
#ifndef ML_SCHEMA_H
#define ML_SCHEMA_H

#include "internal.h"

typedef enum {
  F_UINT,   /* int 0..2^63-1 */
  F_FLOAT,  /* float 64 (an int is taken as its float) */
  F_BOOL,
  F_STR,
  F_MAP,    /* map of any values, str keys */
  F_ANY,    /* any value under the value rules */
  F_STRS,   /* [str] */
  F_MAPS,   /* [map] */
  F_ARRAYS  /* [[any]]: READY running and path_map, ACK acks */
} ml_ftype;

typedef struct {
  const char *name;
  ml_ftype type;
  bool required;
  int64_t dint;     /* default of a uint or bool */
  const char *dstr; /* default of a str */
} ml_field;

typedef struct {
  const char *word;
  const ml_field *fields;
  int nfields;
} ml_command;

const ml_command *ml_command_of(ml_channel ch, const char *word, size_t len);
const char *ml_channel_tag(ml_channel ch);
const char *ml_ftype_name(ml_ftype t);
ml_value *ml_default_of(const ml_field *f); /* codec.c */

#endif
