/*
 * State files: atomic writes whose temporary files never collide with
 * another state file (pair "p" and pair "p.tmp" of one instance).
 */

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/statefile.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

static int collect(const char *key, const char *value, void *ud)
{
	if (strcmp(key, "state") == 0)
		snprintf(ud, 32, "%s", value);
	return 0;
}

static void read_state(const char *path, char buf[32])
{
	unsigned line = 0;

	buf[0] = 0;
	ck_assert_int_eq(statefile_read(path, collect, buf, &line), 0);
}

/* Regression: "vm@p"'s temporary file was "vm@p.tmp", pair p.tmp's own file. */
START_TEST(test_temporary_names_never_collide)
{
	TestDir *d = test_dir_new();
	char p[300], ptmp[300], buf[32];
	const StateEntry a[] = { { "state", "staged" } }, b[] = { { "state", "active" } };
	struct dirent *de;
	DIR *dir;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	snprintf(p, sizeof(p), "%s/vm@p", test_dir_path(d));
	snprintf(ptmp, sizeof(ptmp), "%s/vm@p.tmp", test_dir_path(d));
	ck_assert_int_eq(statefile_write(ptmp, a, 1), 0);
	ck_assert_int_eq(statefile_write(p, b, 1), 0);
	ck_assert_int_eq(statefile_write_full(p, a, 1, 0), 0);
	read_state(ptmp, buf);
	ck_assert_str_eq(buf, "staged");
	read_state(p, buf);
	ck_assert_str_eq(buf, "staged");
	/* Nothing else is left behind. */
	dir = opendir(test_dir_path(d));
	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	ck_assert_int_eq(n, 2);
	test_dir_free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("statefile");
	TCase *tc = tcase_create("write");

	tcase_add_test(tc, test_temporary_names_never_collide);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
