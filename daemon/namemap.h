#pragma once

/*
 * Names to objects in O(1): the manager's index of its instances, so that a
 * host of 10,000 QEMUs does not look each one up by walking all the others
 * (docs/performance.md, "Ten thousand instances"). Keys are copied; values
 * are not owned.
 */

typedef struct NameMap NameMap;

int name_map_new(NameMap **out);
NameMap *name_map_free(NameMap *m);
/* -EEXIST if @key is there already, -ENOMEM. */
int name_map_put(NameMap *m, const char *key, void *value);
void *name_map_get(const NameMap *m, const char *key);
/* Removes @key if it maps to @value; anything else is left alone. */
void name_map_remove(NameMap *m, const char *key, const void *value);
