#pragma once

/* Aligned text tables for failoverctl's human output. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct Table Table;

/* @headers has @n_cols entries; NULL on allocation failure. */
Table *table_new(size_t n_cols, const char *const *headers);
Table *table_free(Table *t);
/* Copies @n_cols cells, escaped (text_escape()); NULL or "" cells print as "-". 0 or -ENOMEM. */
int table_add_row(Table *t, const char *const *cells);
size_t table_get_n_rows(const Table *t);
/* Columns padded to their widest cell; the header line unless !@legend. */
void table_print(const Table *t, FILE *f, bool legend);

static inline void table_freep(Table **t)
{
	table_free(*t);
}
