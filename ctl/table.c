/* Aligned text tables: cells are copied, widths computed at print time. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/table.h"
#include "ctl/text.h"

struct Table {
	size_t n_cols, n_rows, cap;
	char **cells; /* row-major, the header row first */
};

static int table_append(Table *t, const char *const *cells)
{
	if (t->n_rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		char **v = realloc(t->cells, cap * t->n_cols * sizeof(char *));

		if (!v)
			return -ENOMEM;
		t->cells = v;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->n_cols; c++) {
		const char *s = cells[c] && cells[c][0] ? cells[c] : "-";
		/* Escaped: one line per row, and nothing from QEMU reaches the terminal raw. */
		char *d = text_escape(s);

		if (!d) {
			while (c-- > 0)
				free(t->cells[t->n_rows * t->n_cols + c]);
			return -ENOMEM;
		}
		t->cells[t->n_rows * t->n_cols + c] = d;
	}
	t->n_rows++;
	return 0;
}

Table *table_new(size_t n_cols, const char *const *headers)
{
	Table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->n_cols = n_cols;
	if (table_append(t, headers) < 0)
		return table_free(t);
	return t;
}

Table *table_free(Table *t)
{
	if (!t)
		return NULL;
	for (size_t k = 0; k < t->n_rows * t->n_cols; k++)
		free(t->cells[k]);
	free(t->cells);
	free(t);
	return NULL;
}

int table_add_row(Table *t, const char *const *cells)
{
	return table_append(t, cells);
}

size_t table_get_n_rows(const Table *t)
{
	return t->n_rows - 1;
}

void table_print(const Table *t, FILE *f, bool legend)
{
	size_t width[32] = { 0 };
	size_t n_cols = t->n_cols < 32 ? t->n_cols : 32;

	for (size_t r = legend ? 0 : 1; r < t->n_rows; r++)
		for (size_t c = 0; c < n_cols; c++) {
			size_t w = strlen(t->cells[r * t->n_cols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = legend ? 0 : 1; r < t->n_rows; r++) {
		for (size_t c = 0; c < n_cols; c++) {
			const char *s = t->cells[r * t->n_cols + c];

			if (c + 1 == n_cols)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s  ", (int)width[c], s);
		}
	}
}
