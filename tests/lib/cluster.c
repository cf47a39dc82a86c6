/* Whole-daemon test hosts: one failoverd with private config and state each. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cluster.h"

void test_mkdirs(const char *path)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		mkdir(buf, 0755);
		*s = '/';
	}
	mkdir(buf, 0755);
}

void test_host_init(TestHost *h, const char *dir, const char *name)
{
	char etc[400];

	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->root, sizeof(h->root), "%s/%s", dir, name);
	snprintf(h->state, sizeof(h->state), "%s/state", h->root);
	snprintf(h->log, sizeof(h->log), "%s/failoverd.log", h->root);
	snprintf(etc, sizeof(etc), "%s/etc/failoverd", h->root);
	test_mkdirs(etc);
}

void test_host_write_conf(TestHost *h, const char *file, const char *fmt, ...)
{
	char path[600];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/etc/failoverd/%s", h->root, file);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

void test_host_start(TestHost *h)
{
	test_host_start_with(h, NULL);
}

void test_host_start_with(TestHost *h, const char *extra_arg)
{
	char bin[300];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"),
			       "--log-level=debug",
			       "--root",
			       h->root,
			       "--state-dir",
			       h->state,
			       extra_arg,
			       NULL };

	ck_assert_ptr_null(h->daemon);
	h->daemon = test_qemu_spawn(argv, h->log);
	ck_assert_ptr_nonnull(h->daemon);
	ck_assert_msg(test_log_wait(h->log, "failoverd started", 10000) == 0,
		      "host %s: daemon did not start (see %s)", h->name, h->log);
}

void test_host_kill(TestHost *h)
{
	if (!h->daemon)
		return;
	test_qemu_kill(h->daemon);
	h->daemon = test_qemu_free(h->daemon);
}

void test_host_stop(TestHost *h)
{
	int status;

	if (!h->daemon)
		return;
	kill(test_qemu_pid(h->daemon), SIGTERM);
	test_qemu_wait_exit(h->daemon, 5000, &status);
	h->daemon = test_qemu_free(h->daemon);
}

void test_kv_get(const char *path, const char *key, char *buf, size_t size)
{
	char line[1024];
	size_t klen = strlen(key);
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, size, "%s", line + klen + 1);
			break;
		}
	fclose(f);
}

void test_host_pair_get(TestHost *h, const char *instance, const char *pair, const char *key,
			char *buf, size_t size)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/pairs/%s@%s", h->state, instance, pair);
	test_kv_get(path, key, buf, size);
}

int test_host_wait_pair(TestHost *h, const char *instance, const char *pair, const char *state,
			unsigned timeout_ms)
{
	int64_t end = test_now_ms() + timeout_ms;
	char cur[64], reason[300];

	do {
		test_host_pair_get(h, instance, pair, "state", cur, sizeof(cur));
		if (strcmp(cur, state) == 0)
			return 0;
		usleep(20000);
	} while (test_now_ms() < end);
	test_host_pair_get(h, instance, pair, "reason", reason, sizeof(reason));
	fprintf(stderr, "host %s: pair %s/%s is '%s' (%s), wanted '%s'\n", h->name, instance, pair,
		cur, reason, state);
	return -ETIMEDOUT;
}

int test_host_wait_log(TestHost *h, const char *needle, unsigned timeout_ms)
{
	return test_log_wait(h->log, needle, timeout_ms);
}

static void audit_problem(TestAudit *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void audit_problem(TestAudit *a, const char *fmt, ...)
{
	va_list ap;

	if (a->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
}

static bool pid_alive(const char *pid)
{
	long v = strtol(pid, NULL, 10);

	return v > 0 && kill((pid_t)v, 0) == 0;
}

/* Pair, allocation and save files say who owns what: nobody else may read them. */
static void audit_modes(const char *dir, TestAudit *a)
{
	static const char *const subdirs[] = { "", "/pairs", "/alloc", "/saved" };
	char path[900];
	struct dirent *de;
	struct stat st;

	for (size_t k = 0; k < sizeof(subdirs) / sizeof(subdirs[0]); k++) {
		DIR *d;

		snprintf(path, sizeof(path), "%s%s", dir, subdirs[k]);
		if (stat(path, &st) < 0)
			continue;
		if (st.st_mode & 077) {
			a->exposed++;
			audit_problem(a, "%s has mode %04o", path, (unsigned)(st.st_mode & 07777));
		}
		if (!subdirs[k][0] || !(d = opendir(path)))
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s%s/%s", dir, subdirs[k], de->d_name);
			if (stat(path, &st) == 0 && (st.st_mode & 077)) {
				a->exposed++;
				audit_problem(a, "%s has mode %04o", path,
					      (unsigned)(st.st_mode & 07777));
			}
		}
		closedir(d);
	}
}

void test_host_audit(TestHost *h, TestAudit *a)
{
	char dir[600], path[900], owner[300], state[64], id[64], vf[64], pid[32];
	char claimed[64][64];
	unsigned n_claimed = 0;
	struct dirent *de;
	DIR *d;

	memset(a, 0, sizeof(*a));
	/* Pairs: who claims which VF, and is its QEMU still there to hold it? */
	snprintf(dir, sizeof(dir), "%s/pairs", h->state);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		test_kv_get(path, "vf", vf, sizeof(vf));
		if (!vf[0])
			continue;
		test_kv_get(path, "qemu_pid", pid, sizeof(pid));
		test_kv_get(path, "state", state, sizeof(state));
		if (!pid_alive(pid)) {
			a->leaked++;
			audit_problem(a, "pair %s (%s) holds %s but its QEMU (pid %s) is gone",
				      de->d_name, state, vf, pid);
		}
		for (unsigned k = 0; k < n_claimed; k++)
			if (strcmp(claimed[k], vf) == 0) {
				a->doubled++;
				audit_problem(a, "VF %s claimed by two pairs (one is %s)", vf,
					      de->d_name);
			}
		if (n_claimed < 64)
			snprintf(claimed[n_claimed++], sizeof(claimed[0]), "%s", vf);
	}
	if (d)
		closedir(d);

	/* Allocations: each must be complete and held by the pair it names. */
	snprintf(dir, sizeof(dir), "%s/alloc", h->state);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char *slash, pair_vf[64];

		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		test_kv_get(path, "owner", owner, sizeof(owner));
		test_kv_get(path, "state", state, sizeof(state));
		test_kv_get(path, "id", id, sizeof(id));
		if (strcmp(state, "reserved") != 0) {
			a->leaked++;
			audit_problem(a, "allocation %s stuck in '%s'", de->d_name, state);
			continue;
		}
		slash = strchr(owner, '/');
		if (slash)
			*slash = '@';
		snprintf(path, sizeof(path), "%s/pairs/%s", h->state, owner);
		test_kv_get(path, "vf", pair_vf, sizeof(pair_vf));
		if (strcmp(pair_vf, id) != 0) {
			a->leaked++;
			audit_problem(a, "VF %s allocated to %s, which does not hold it ('%s')", id,
				      owner, pair_vf);
			continue;
		}
		a->held++;
		for (unsigned k = 0; k < n_claimed; k++)
			if (strcmp(claimed[k], id) == 0)
				claimed[k][0] = 0; /* matched */
	}
	if (d)
		closedir(d);
	for (unsigned k = 0; k < n_claimed; k++)
		if (claimed[k][0]) {
			a->doubled++;
			audit_problem(a, "VF %s claimed by a pair without an allocation",
				      claimed[k]);
		}

	/* Save files outlive their allocation only while a release is unfinished. */
	snprintf(dir, sizeof(dir), "%s/saved", h->state);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/alloc/%s", h->state, de->d_name);
		if (access(path, F_OK) != 0) {
			a->leaked++;
			audit_problem(a, "save file of %s without an allocation", de->d_name);
		}
	}
	if (d)
		closedir(d);
	audit_modes(h->state, a);
}

int test_host_wait_stopped(TestHost *h, unsigned timeout_ms)
{
	int64_t end = test_now_ms() + timeout_ms;
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)test_qemu_pid(h->daemon));
	do {
		FILE *f = fopen(path, "re");
		char *p = NULL;

		if (f) {
			p = fgets(buf, sizeof(buf), f);
			fclose(f);
		}
		/* "pid (comm) S ...": the state follows the last ')'. */
		if (p && (p = strrchr(buf, ')')) && p[1] == ' ' && p[2] == 'T')
			return 0;
		usleep(10000);
	} while (test_now_ms() < end);
	fprintf(stderr, "host %s: daemon did not stop at its checkpoint (see %s)\n", h->name,
		h->log);
	return -ETIMEDOUT;
}

void test_host_continue(TestHost *h)
{
	kill(test_qemu_pid(h->daemon), SIGCONT);
}
