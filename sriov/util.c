/* sysfs access and small atomic key=value files for the sriov module. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sriov/sriov-internal.h"

void sriov_error_set(SriovError *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

int sriov_sysfs_path(char *buf, size_t size, const char *sysfs, const char *fmt, ...)
{
	va_list ap;
	int n, m;

	n = snprintf(buf, size, "%s/", sysfs ? sysfs : SRIOV_SYSFS_DEFAULT);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= size - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

int sriov_sysfs_read_line(const char *path, char *buf, size_t size)
{
	char tmp[4096];
	ssize_t n;
	char *nl;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, tmp, sizeof(tmp) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	tmp[n] = 0;
	if (strlen(tmp) != (size_t)n)
		return -EBADMSG;
	nl = strchr(tmp, '\n');
	if (nl)
		*nl = 0;
	if (strlen(tmp) >= size)
		return -EBADMSG;
	strcpy(buf, tmp);
	return 0;
}

int sriov_sysfs_read_uint(const char *path, unsigned *ret)
{
	char buf[32], *end;
	unsigned long v;
	int r;

	r = sriov_sysfs_read_line(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	if (buf[0] < '0' || buf[0] > '9')
		return -EBADMSG;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || *end || v > 0xffffffffUL)
		return -EBADMSG;
	*ret = (unsigned)v;
	return 0;
}

int sriov_sysfs_write(const char *path, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int sriov_sysfs_link_name(const char *path, char *buf, size_t size)
{
	char target[4096];
	const char *base;
	ssize_t n;

	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return errno == EINVAL ? -EBADMSG : -errno;
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!*base || strlen(base) >= size)
		return -EBADMSG;
	strcpy(buf, base);
	return 0;
}

int sriov_mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static bool valid_key(const char *k, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fsync_parent(const char *path)
{
	char dir[4096];
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int sriov_kv_write(const char *path, const SriovKv *kv, size_t n, bool exclusive)
{
	char tmp[4096], *buf = NULL, *slash;
	size_t len = 0;
	FILE *mem;
	int fd, r;

	/* The temp file is hidden (leading dot) so directory scans skip it. */
	slash = strrchr(path, '/');
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp%d", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;

	mem = open_memstream(&buf, &len);
	if (!mem)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *v = kv[i].value ? kv[i].value : "";

		if (!valid_key(kv[i].key, strlen(kv[i].key)) || strchr(v, '\n')) {
			fclose(mem);
			free(buf);
			return -EINVAL;
		}
		fprintf(mem, "%s=%s\n", kv[i].key, v);
	}
	if (fclose(mem) != 0) {
		free(buf);
		return -ENOMEM;
	}

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	r = write_all(fd, buf, len);
	free(buf);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0) {
		if (exclusive)
			r = link(tmp, path) < 0 ? -errno : 0;
		else
			r = rename(tmp, path) < 0 ? -errno : 0;
	}
	if (exclusive || r < 0)
		unlink(tmp);
	if (r < 0)
		return r;
	fsync_parent(path);
	return 0;
}

int sriov_kv_read(const char *path, SriovKvFn fn, void *userdata, unsigned *bad_line)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *eq;
	size_t cap = 0;
	ssize_t len;
	unsigned no = 0;
	int r = 0;

	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) >= 0) {
		no++;
		/* No NUL bytes, a final newline (a torn write lacks it), a valid key. */
		if ((size_t)len != strlen(line) || len == 0 || line[len - 1] != '\n') {
			r = -EBADMSG;
			break;
		}
		line[len - 1] = 0;
		eq = strchr(line, '=');
		if (!eq || !valid_key(line, (size_t)(eq - line))) {
			r = -EBADMSG;
			break;
		}
		*eq = 0;
		r = fn(line, eq + 1, userdata);
		if (r < 0)
			break;
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	if (r == -EBADMSG && bad_line)
		*bad_line = no;
	free(line);
	fclose(f);
	return r;
}
