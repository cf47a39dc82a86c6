#pragma once

/*
 * Small "key=value" state files, written atomically (a hidden twin file
 * exchanged with it) with mode 0600, and parsed strictly.
 */

#include <stddef.h>

typedef struct StateEntry {
	const char *key;
	const char *value;
} StateEntry;

typedef enum StateFileFlags {
	/* fsync the file and its directory: the write survives a host crash too */
	STATEFILE_DURABLE = 1 << 0,
	/* leave the file alone when it already holds exactly this content */
	STATEFILE_IF_CHANGED = 1 << 1,
} StateFileFlags;

/* Atomic and durable. */
int statefile_write(const char *path, const StateEntry *entries, size_t n);
/*
 * Without STATEFILE_DURABLE only atomic: a crashed daemon's successor reads
 * the old or the new content, never a mix, but a host crash may lose it.
 */
int statefile_write_full(const char *path, const StateEntry *entries, size_t n,
			 StateFileFlags flags);

/* Removes @path and its twin; a missing file is no error. */
int statefile_remove(const char *path);

/* Called per line; a negative return stops the read and is returned. */
typedef int (*StateFileFn)(const char *key, const char *value, void *userdata);

/* -EBADMSG on a malformed line, whose number goes to *@bad_line. */
int statefile_read(const char *path, StateFileFn fn, void *userdata, unsigned *bad_line);
