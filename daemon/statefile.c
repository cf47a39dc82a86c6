/* Atomic, strictly parsed key=value files for everything that must survive a crash. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "daemon/statefile.h"

static int pwrite_all(int fd, const char *buf, size_t len)
{
	for (off_t at = 0; len > 0;) {
		ssize_t n = pwrite(fd, buf, len, at);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		at += n;
		len -= (size_t)n;
	}
	return 0;
}

static bool valid_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
			return false;
	return true;
}

/* Reading back is far cheaper than a new inode and a rename. */
static bool same_content(const char *path, const char *buf, size_t len)
{
	char cur[4096];
	ssize_t n;
	int fd;

	if (len >= sizeof(cur))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	n = read(fd, cur, sizeof(cur));
	close(fd);
	return n == (ssize_t)len && memcmp(cur, buf, len) == 0;
}

int statefile_write(const char *path, const StateEntry *entries, size_t n)
{
	return statefile_write_full(path, entries, n, STATEFILE_DURABLE);
}

/*
 * The file's twin: hidden, with a '~' no state file name has (pair names and
 * PCI addresses never hold one), so skipped by every scan of these
 * directories. It holds the previous content after a write.
 */
static int twin_path(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path) + 1 : 0, len = strlen(path);

	if (len + 3 > size)
		return -ENAMETOOLONG;
	memcpy(buf, path, dir);
	buf[dir] = '.';
	memcpy(buf + dir + 1, path + dir, len - dir);
	memcpy(buf + len + 1, "~", 2);
	return 0;
}

/*
 * One "key=value" line per entry into @buf (of @size bytes, or malloc'ed
 * when that is too small: *@out says which). Copied, not printed: this runs
 * on every transition (docs/performance.md, "The decide path").
 */
static int format_entries(const StateEntry *entries, size_t n, char *buf, size_t size, char **out,
			  size_t *len)
{
	size_t total = 0;
	char *w;

	for (size_t i = 0; i < n; i++) {
		if (!valid_key(entries[i].key))
			return -EINVAL;
		total += strlen(entries[i].key) + 2 +
			 (entries[i].value ? strlen(entries[i].value) : 0);
	}
	*out = total <= size ? buf : malloc(total);
	if (!*out)
		return -ENOMEM;
	w = *out;
	for (size_t i = 0; i < n; i++) {
		const char *v = entries[i].value ? entries[i].value : "";
		size_t vlen = strlen(v);

		w = mempcpy(w, entries[i].key, strlen(entries[i].key));
		*w++ = '=';
		/* One line per entry: newlines in values (reasons) become spaces. */
		for (size_t k = 0; k < vlen; k++)
			w[k] = v[k] == '\n' || v[k] == '\r' ? ' ' : v[k];
		w += vlen;
		*w++ = '\n';
	}
	*len = total;
	return 0;
}

/*
 * The new content goes into the twin, then the two names are exchanged in
 * one step: readers of @path see the old or the new content, never a mix.
 * Unlike a fresh temp file renamed over the old one, no inode is created or
 * freed and no block is given back (ext4 scans recently freed inodes on
 * every creation, and a discard-mounted one discards freed blocks at once):
 * docs/performance.md, "State files recycle two inodes".
 */
int statefile_write_full(const char *path, const StateEntry *entries, size_t n,
			 StateFileFlags flags)
{
	char twin[4096], dir[4096], small[2048];
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	r = twin_path(path, twin, sizeof(twin));
	if (r < 0)
		return r;
	r = format_entries(entries, n, small, sizeof(small), &buf, &len);
	if (r < 0)
		return r;
	if ((flags & STATEFILE_IF_CHANGED) && same_content(path, buf, len)) {
		if (buf != small)
			free(buf);
		return 0;
	}

	fd = open(twin, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		if (buf != small)
			free(buf);
		return r;
	}
	/* Overwritten, then cut: truncating to zero first would free its block. */
	r = pwrite_all(fd, buf, len);
	if (buf != small)
		free(buf);
	if (r == 0 && ftruncate(fd, (off_t)len) < 0)
		r = -errno;
	if (r == 0 && (flags & STATEFILE_DURABLE) && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat2(AT_FDCWD, twin, AT_FDCWD, path, RENAME_EXCHANGE) < 0) {
		/* The first write of @path, or a file system that cannot exchange. */
		r = errno == ENOENT || errno == EINVAL ? 0 : -errno;
		if (r == 0 && rename(twin, path) < 0)
			r = -errno;
	}
	if (r < 0)
		return r;
	if (!(flags & STATEFILE_DURABLE))
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int statefile_remove(const char *path)
{
	char twin[4096];

	if (twin_path(path, twin, sizeof(twin)) == 0)
		(void)unlink(twin); /* only ever the previous content */
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int statefile_read(const char *path, StateFileFn fn, void *userdata, unsigned *bad_line)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned no = 0;
	int r = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) >= 0) {
		char *eq, *end;

		no++;
		end = strchr(line, '\n');
		if (!end) {
			r = -EBADMSG; /* truncated: never written by statefile_write */
			break;
		}
		*end = 0;
		eq = strchr(line, '=');
		if (!eq) {
			r = -EBADMSG;
			break;
		}
		*eq = 0;
		if (!valid_key(line)) {
			r = -EBADMSG;
			break;
		}
		r = fn(line, eq + 1, userdata);
		if (r < 0)
			break;
	}
	if (r == -EBADMSG && bad_line)
		*bad_line = no;
	free(line);
	fclose(f);
	return r;
}
