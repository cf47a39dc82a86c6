#pragma once

/* Helpers shared by the sriov/ sources; not part of the module's API. */

#include <stdbool.h>
#include <stddef.h>

#include "sriov/sriov.h"

void sriov_error_set(SriovError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* @sysfs ("/sys" when NULL) + the formatted rest. -ENAMETOOLONG. */
int sriov_sysfs_path(char *buf, size_t size, const char *sysfs, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* First line without its newline; -EBADMSG when it does not fit or holds a NUL. */
int sriov_sysfs_read_line(const char *path, char *buf, size_t size);
/* A decimal number and nothing else; -EBADMSG otherwise. */
int sriov_sysfs_read_uint(const char *path, unsigned *ret);
int sriov_sysfs_write(const char *path, const char *value);
/* The last path component a symlink points to; -ENOENT when there is no link. */
int sriov_sysfs_link_name(const char *path, char *buf, size_t size);

/*
 * key=value files, written atomically (temp file, fsync, rename or, when
 * @exclusive, link() which fails with -EEXIST, then fsync of the directory).
 */
typedef struct SriovKv {
	const char *key;
	const char *value;
} SriovKv;

int sriov_kv_write(const char *path, const SriovKv *kv, size_t n, bool exclusive);
/* Strict: every line "key=value\n" with key [a-z0-9_]+; -EBADMSG + *@line otherwise. */
typedef int (*SriovKvFn)(const char *key, const char *value, void *userdata);
int sriov_kv_read(const char *path, SriovKvFn fn, void *userdata, unsigned *line);
