/*
 * The steering records a restarted daemon finds (daemon/steer.c,
 * docs/traffic.md §Crash safety): a record of a pair that is gone is undone
 * and deleted, one of a pair still configured is left for the pair to
 * decide, and one that cannot be read is reported, naming the file, and
 * kept. The steps themselves are tested against a real kernel
 * (tests/daemon/kernel-steer.c).
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/steer.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

static TestDir *dir;
static char steer_dir[512], reports[1024];

static void setup(void)
{
	dir = test_dir_new();
	snprintf(steer_dir, sizeof(steer_dir), "%s/steer", test_dir_path(dir));
	ck_assert_int_eq(mkdir(steer_dir, 0700), 0);
	reports[0] = 0;
}

static void teardown(void)
{
	dir = test_dir_free(dir);
}

static void put(const char *name, const char *content)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", steer_dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static bool exists(const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", steer_dir, name);
	return stat(path, &st) == 0;
}

static bool only_vm1_alive(const char *owner, void *ud)
{
	return strncmp(owner, "vm1/", 4) == 0;
}

static void report(const char *owner, int r, const char *err, void *ud)
{
	size_t len = strlen(reports);

	snprintf(reports + len, sizeof(reports) - len, "%s %d %s\n", owner, r, err);
}

START_TEST(test_records_at_start_up)
{
	char err[320] = "";
	Steer *s = NULL;

	/* Plans with nothing on the host to undo: no device is touched. */
	put("vm1@p0", "owner=vm1/p0\nmac=52:54:00:00:00:01\ntap=\nuplink=\npf=\nvf_index=0\n");
	put("vm2@p0", "owner=vm2/p0\nmac=52:54:00:00:00:02\ntap=\nuplink=\npf=\nvf_index=0\n");
	put("vm3@p0", "owner=vm3/p0\nmac=not-a-mac\n");
	ck_assert_int_eq(steer_new(&s, steer_dir, err, sizeof(err)), 0);
	ck_assert(steer_has(s, "vm1/p0"));
	ck_assert(steer_has(s, "vm2/p0"));
	ck_assert(!steer_has(s, "vm3/p0"));
	steer_recover(s, only_vm1_alive, NULL, report);
	ck_assert(exists("vm1@p0")); /* its pair decides once QEMU is reconciled */
	ck_assert(!exists("vm2@p0"));
	ck_assert(!steer_has(s, "vm2/p0"));
	ck_assert(exists("vm3@p0"));
	ck_assert_msg(strstr(reports, "vm2/p0 0 \n"), "%s", reports);
	ck_assert_msg(strstr(reports, "vm3@p0 -74 ") &&
			      strstr(reports, "/steer/vm3@p0: unreadable (line 2)"),
		      "%s", reports);
	/* The pair's own undo, once it is known to be over: the record goes. */
	ck_assert_int_eq(steer_undo(s, "vm1/p0", true, err, sizeof(err)), 0);
	ck_assert(!exists("vm1@p0"));
	ck_assert_int_eq(steer_undo(s, "vm1/p0", true, err, sizeof(err)), 0);
	steer_free(s);
	steer_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("steer");
	TCase *tc = tcase_create("records");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_records_at_start_up);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
