/* Whole-daemon test hosts: one failoverd with private config and state each. */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cluster.h"

static void mkdirs(const char *path)
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
	mkdirs(etc);
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
	const char *argv[] = { "build/failoverd",
			       "--log-level=debug",
			       "--root",
			       h->root,
			       "--state-dir",
			       h->state,
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

void test_host_pair_get(TestHost *h, const char *instance, const char *pair, const char *key,
			char *buf, size_t size)
{
	char path[600], line[1024];
	size_t klen = strlen(key);
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "%s/pairs/%s@%s", h->state, instance, pair);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, size, "%s", line + klen + 1);
			break;
		}
	}
	fclose(f);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int test_host_wait_pair(TestHost *h, const char *instance, const char *pair, const char *state,
			unsigned timeout_ms)
{
	uint64_t end = ms_now() + timeout_ms;
	char cur[64], reason[300];

	do {
		test_host_pair_get(h, instance, pair, "state", cur, sizeof(cur));
		if (strcmp(cur, state) == 0)
			return 0;
		usleep(20000);
	} while (ms_now() < end);
	test_host_pair_get(h, instance, pair, "reason", reason, sizeof(reason));
	fprintf(stderr, "host %s: pair %s/%s is '%s' (%s), wanted '%s'\n", h->name, instance, pair,
		cur, reason, state);
	return -ETIMEDOUT;
}

int test_host_wait_log(TestHost *h, const char *needle, unsigned timeout_ms)
{
	return test_log_wait(h->log, needle, timeout_ms);
}
