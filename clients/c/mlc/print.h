/* How mlc prints job maps, pages and events (plain text, or JSON with --json). */
#ifndef MLC_PRINT_H
#define MLC_PRINT_H

#include "medialoom.h"

#include <stdio.h>

void print_json(FILE *f, const ml_value *v);
void print_job(FILE *f, const ml_value *job);
void print_change(FILE *f, const ml_value *job); /* one line per watched change */
void print_jobs(FILE *f, const ml_value *list);  /* LIST data: a table */
void print_items(FILE *f, const ml_value *page); /* RESULTS data */
void print_stats(FILE *f, const ml_value *stats);

/* ids.c: the full id a command-line id names: 0 (in out), 2 none/several/bad (said on
 * stderr), -1 the LIST failed (ml_client_error) */
int resolve_id(ml_client *c, const char *text, char out[27]);

#endif
