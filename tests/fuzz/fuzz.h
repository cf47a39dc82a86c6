#pragma once

/*
 * Helpers for the libFuzzer targets in tests/fuzz/: a private temporary
 * directory removed at exit, files written into it, and the input split
 * into parts. Header-only: each target is one program.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A violated invariant is a finding: abort so libFuzzer saves the input. */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__,     \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static char fuzz_dir_path[256];

static inline int fuzz_remove_entry(const char *path, const struct stat *st, int flag,
				    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static inline void fuzz_dir_remove(void)
{
	if (fuzz_dir_path[0])
		nftw(fuzz_dir_path, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The target's own directory under $TMPDIR or /tmp, created once, gone at exit. */
static inline const char *fuzz_dir(void)
{
	const char *tmp;

	if (fuzz_dir_path[0])
		return fuzz_dir_path;
	tmp = getenv("TMPDIR");
	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/failoverd-fuzz-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fuzz_dir_path)) {
		perror("mkdtemp");
		abort();
	}
	atexit(fuzz_dir_remove);
	return fuzz_dir_path;
}

/* mkdir -p of DIR/@rel's parent directories. */
static inline void fuzz_mkdirs(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), rel);
	for (char *s = path + strlen(fuzz_dir()) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			abort();
		*s = '/';
	}
}

/* Writes DIR/@rel with @len bytes of @data; returns the full path (static buffer). */
static inline const char *fuzz_write(const char *rel, const void *data, size_t len)
{
	static char path[512];
	int fd;

	fuzz_mkdirs(rel);
	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	for (const char *p = data; len > 0;) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			abort();
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return path;
}

static inline void fuzz_unlink(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), rel);
	unlink(path);
}

/*
 * The next part of @data up to the byte @sep (excluded), or all that is
 * left; advances *@pos past it. Returns false when nothing is left.
 */
static inline bool fuzz_next_part(const uint8_t *data, size_t size, size_t *pos, uint8_t sep,
				  const uint8_t **part, size_t *len)
{
	const uint8_t *end;

	if (*pos > size)
		return false;
	*part = data + *pos;
	end = memchr(*part, sep, size - *pos);
	*len = end ? (size_t)(end - *part) : size - *pos;
	*pos += *len + 1;
	return true;
}
