/* A chained hash table from names to objects (see namemap.h). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/namemap.h"

typedef struct NameEntry NameEntry;
struct NameEntry {
	NameEntry *next;
	void *value;
	uint64_t hash;
	char key[]; /* NUL-terminated copy */
};

struct NameMap {
	NameEntry **buckets;
	size_t n_buckets; /* a power of two */
	size_t n;
};

/* FNV-1a: names are short and not chosen to collide (they are the operator's). */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

int name_map_new(NameMap **out)
{
	NameMap *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->n_buckets = 64;
	m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

NameMap *name_map_free(NameMap *m)
{
	if (!m)
		return NULL;
	for (size_t b = 0; b < m->n_buckets; b++)
		while (m->buckets[b]) {
			NameEntry *e = m->buckets[b];

			m->buckets[b] = e->next;
			free(e);
		}
	free(m->buckets);
	free(m);
	return NULL;
}

static NameEntry **name_map_slot(const NameMap *m, const char *key, uint64_t hash)
{
	NameEntry **at = &m->buckets[hash & (m->n_buckets - 1)];

	while (*at && ((*at)->hash != hash || strcmp((*at)->key, key) != 0))
		at = &(*at)->next;
	return at;
}

/* Twice the buckets once there are more entries than buckets; best effort. */
static void name_map_grow(NameMap *m)
{
	size_t n = m->n_buckets * 2;
	NameEntry **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t k = 0; k < m->n_buckets; k++)
		while (m->buckets[k]) {
			NameEntry *e = m->buckets[k];

			m->buckets[k] = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = n;
}

int name_map_put(NameMap *m, const char *key, void *value)
{
	uint64_t hash = name_hash(key);
	NameEntry **at = name_map_slot(m, key, hash);
	size_t len = strlen(key) + 1;
	NameEntry *e;

	if (*at)
		return -EEXIST;
	e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->value = value;
	e->hash = hash;
	memcpy(e->key, key, len);
	*at = e;
	if (++m->n > m->n_buckets)
		name_map_grow(m);
	return 0;
}

void *name_map_get(const NameMap *m, const char *key)
{
	NameEntry *e = *name_map_slot(m, key, name_hash(key));

	return e ? e->value : NULL;
}

void name_map_remove(NameMap *m, const char *key, const void *value)
{
	NameEntry **at = name_map_slot(m, key, name_hash(key));
	NameEntry *e = *at;

	if (!e || e->value != value)
		return;
	*at = e->next;
	free(e);
	m->n--;
}
