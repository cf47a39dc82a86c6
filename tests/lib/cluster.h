#pragma once

/*
 * Test helpers for whole-daemon tests: a "host" is one failoverd process
 * with its own configuration root and state directory, so two hosts on one
 * machine act as migration source and destination.
 */

#include <stdbool.h>

#include "tests/lib/harness.h"

typedef struct TestHost {
	char name[32];
	char root[256];	 /* --root: etc/failoverd/ lives below */
	char state[256]; /* --state-dir */
	char log[256];
	TestQemu *daemon;
} TestHost;

/* mkdir -p with mode 0755, for test trees (failures show up later). */
void test_mkdirs(const char *path);
/* "key=value" lines of @path; @key's value in @buf ("" if absent). */
void test_kv_get(const char *path, const char *key, char *buf, size_t size);

/* Creates the host's directories below @dir; nothing runs yet. */
void test_host_init(TestHost *h, const char *dir, const char *name);
/* Writes etc/failoverd/@file with @content (printf-style). */
void test_host_write_conf(TestHost *h, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Starts failoverd for this host; waits until it logs start-up. */
void test_host_start(TestHost *h);
/* The same with one more daemon argument (e.g. --debug-stop-at=POINT). */
void test_host_start_with(TestHost *h, const char *extra_arg);
/* Waits until the daemon stopped itself at its --debug-stop-at checkpoint. */
int test_host_wait_stopped(TestHost *h, unsigned timeout_ms);
/* SIGCONT after a checkpoint stop. */
void test_host_continue(TestHost *h);
/* SIGKILL, as a crash would. */
void test_host_kill(TestHost *h);
void test_host_stop(TestHost *h);

/* Reads "key" from the persisted state of @instance/@pair ("" if absent). */
void test_host_pair_get(TestHost *h, const char *instance, const char *pair, const char *key,
			char *buf, size_t size);
/* Waits until the pair's persisted state is @state; prints the reason on timeout. */
int test_host_wait_pair(TestHost *h, const char *instance, const char *pair, const char *state,
			unsigned timeout_ms);
/*
 * What the state directory says about VF ownership, checked against QEMU's
 * reality (is the owning QEMU alive?):
 *   leaked: an allocation no live pair holds, one stuck half-way
 *           (reserving/releasing), or a save file without an allocation;
 *   double: a VF claimed by two pairs, or claimed without an allocation;
 *   held:   allocations that are correctly owned;
 *   exposed: anything in the state directory not private to its owner.
 */
typedef struct TestAudit {
	unsigned held, leaked, doubled;
	unsigned exposed; /* state files or directories others may read or write */
	char why[512];	  /* the first problem found, "" if none */
} TestAudit;

void test_host_audit(TestHost *h, TestAudit *a);
/* Waits until the daemon's log contains @needle. */
int test_host_wait_log(TestHost *h, const char *needle, unsigned timeout_ms);
