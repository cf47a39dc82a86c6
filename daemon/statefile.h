#pragma once

/*
 * Small "key=value" state files, written atomically (temp file, fsync,
 * rename, fsync of the directory) with mode 0600, and parsed strictly.
 */

#include <stddef.h>

typedef struct StateEntry {
	const char *key;
	const char *value;
} StateEntry;

int statefile_write(const char *path, const StateEntry *entries, size_t n);

/* Called per line; a negative return stops the read and is returned. */
typedef int (*StateFileFn)(const char *key, const char *value, void *userdata);

/* -EBADMSG on a malformed line, whose number goes to *@bad_line. */
int statefile_read(const char *path, StateFileFn fn, void *userdata, unsigned *bad_line);
