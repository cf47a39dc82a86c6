/* Telling a recorded QEMU from a stranger under its recycled pid. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/process.h"

static int read_proc_line(pid_t pid, const char *file, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	bool ok;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	ok = fgets(buf, (int)size, f) != NULL;
	fclose(f);
	/* A process that exits between open and read leaves an empty file. */
	return ok ? 0 : -ESRCH;
}

int process_get_start(pid_t pid, uint64_t *ret)
{
	char buf[1024], *p;
	unsigned long long start;
	int r = read_proc_line(pid, "stat", buf, sizeof(buf));

	if (r < 0)
		return r;
	/* Field 22; the command name (field 2) may itself hold spaces and ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &start) != 1)
		return -EBADMSG;
	*ret = start;
	return 0;
}

bool process_is_same_qemu(pid_t pid, uint64_t start)
{
	char comm[64];
	uint64_t now;

	if (read_proc_line(pid, "comm", comm, sizeof(comm)) < 0 || strncmp(comm, "qemu", 4) != 0)
		return false;
	if (!start)
		return true;
	return process_get_start(pid, &now) == 0 && now == start;
}

int process_get_exe(pid_t pid, ProcessExe *ret)
{
	char path[64];
	struct stat st;
	int r;

	if (pid <= 0)
		return -ESRCH;
	r = process_get_start(pid, &ret->start);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	/* Follows the link: the binary itself, even when deleted since. */
	if (stat(path, &st) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;
	ret->size = st.st_size;
	ret->mtime = st.st_mtim;
	return 0;
}

bool process_exe_equal(const ProcessExe *a, const ProcessExe *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}
