/*
 * State files: atomic writes whose temporary files never collide with
 * another state file (pair "p" and pair "p.tmp" of one instance), and that
 * recycle their two files instead of making new ones.
 */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_ino;
}

/* A shorter record after a longer one: nothing of the old one survives. */
START_TEST(test_shorter_rewrite_is_exact)
{
	TestDir *d = test_dir_new();
	char p[300], buf[32], reason[200];
	const StateEntry a[] = { { "state", "failed" }, { "reason", reason } },
			 b[] = { { "state", "active" } };
	unsigned line = 0;

	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = 0;
	snprintf(p, sizeof(p), "%s/vm@p", test_dir_path(d));
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(statefile_write_full(p, a, 2, 0), 0);
		ck_assert_int_eq(statefile_write_full(p, b, 1, 0), 0);
	}
	read_state(p, buf);
	ck_assert_str_eq(buf, "active");
	ck_assert_int_eq(statefile_read(p, collect, buf, &line), 0);
	{
		struct stat st;

		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_eq(st.st_size, (off_t)strlen("state=active\n"));
		ck_assert_int_eq(st.st_mode & 0777, 0600);
	}
	test_dir_free(d);
}
END_TEST

/*
 * Rewrites alternate between the file and its hidden twin: no inode is made
 * or freed per write (docs/performance.md), and a reader that opened the
 * file before a write still reads the whole old record.
 */
START_TEST(test_rewrites_recycle_two_files)
{
	TestDir *d = test_dir_new();
	char p[300], buf[64];
	const StateEntry a[] = { { "state", "staged" } }, b[] = { { "state", "active" } };
	ino_t first, second;
	FILE *old;

	snprintf(p, sizeof(p), "%s/vm@p", test_dir_path(d));
	ck_assert_int_eq(statefile_write_full(p, a, 1, 0), 0);
	ck_assert_int_eq(statefile_write_full(p, b, 1, 0), 0);
	first = inode_of(p);
	old = fopen(p, "r");
	ck_assert_ptr_nonnull(old);
	ck_assert_int_eq(statefile_write_full(p, a, 1, 0), 0);
	second = inode_of(p);
	ck_assert_int_ne(first, second);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), old));
	ck_assert_str_eq(buf, "state=active\n");
	fclose(old);
	ck_assert_int_eq(statefile_write_full(p, b, 1, STATEFILE_DURABLE), 0);
	ck_assert_int_eq(inode_of(p), first);
	read_state(p, buf);
	ck_assert_str_eq(buf, "active");
	ck_assert_int_eq(count_entries(test_dir_path(d)), 2); /* the file and its twin */
	ck_assert_int_eq(statefile_remove(p), 0);
	ck_assert_int_eq(count_entries(test_dir_path(d)), 0);
	ck_assert_int_eq(statefile_remove(p), 0); /* twice is fine */
	test_dir_free(d);
}
END_TEST

/* A daemon killed mid-write leaves a torn twin: the file and the next write are unharmed. */
START_TEST(test_torn_twin_is_harmless)
{
	TestDir *d = test_dir_new();
	char p[300], twin[300], buf[32];
	const StateEntry a[] = { { "state", "staged" } }, b[] = { { "state", "active" } };
	FILE *f;

	snprintf(p, sizeof(p), "%s/vm@p", test_dir_path(d));
	snprintf(twin, sizeof(twin), "%s/.vm@p~", test_dir_path(d));
	ck_assert_int_eq(statefile_write_full(p, a, 1, 0), 0);
	f = fopen(twin, "w");
	ck_assert_ptr_nonnull(f);
	fputs("state=acti", f); /* no newline: cut off */
	fclose(f);
	read_state(p, buf);
	ck_assert_str_eq(buf, "staged");
	ck_assert_int_eq(statefile_write_full(p, b, 1, 0), 0);
	read_state(p, buf);
	ck_assert_str_eq(buf, "active");
	test_dir_free(d);
}
END_TEST

/* The file's exact bytes, NUL-terminated (at most @size - 1). */
static size_t read_bytes(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	fclose(f);
	return n;
}

/*
 * What goes to disk, byte for byte: a line per entry, a reason's newlines
 * made spaces (a reader sees one line), a record past any small buffer
 * whole, and a bad key refused with the file left as it was.
 */
START_TEST(test_written_bytes)
{
	TestDir *d = test_dir_new();
	static char big[5000], bytes[8192];
	char p[300], expect[6000];
	const StateEntry a[] = { { "state", "failed" },
				 { "reason", "line one\nline two\r" },
				 { "empty", NULL } },
			 b[] = { { "state", "active" }, { "reason", big } },
			 bad[] = { { "state", "x" }, { "Bad-Key", "y" } };

	snprintf(p, sizeof(p), "%s/vm@p", test_dir_path(d));
	ck_assert_int_eq(statefile_write_full(p, a, 3, 0), 0);
	read_bytes(p, bytes, sizeof(bytes));
	ck_assert_str_eq(bytes, "state=failed\nreason=line one line two \nempty=\n");

	memset(big, 'r', sizeof(big) - 1);
	ck_assert_int_eq(statefile_write_full(p, b, 2, STATEFILE_IF_CHANGED), 0);
	snprintf(expect, sizeof(expect), "state=active\nreason=%s\n", big);
	ck_assert_uint_eq(read_bytes(p, bytes, sizeof(bytes)), strlen(expect));
	ck_assert_str_eq(bytes, expect);

	ck_assert_int_eq(statefile_write_full(p, bad, 2, 0), -EINVAL);
	read_bytes(p, bytes, sizeof(bytes));
	ck_assert_str_eq(bytes, expect);
	test_dir_free(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("statefile");
	TCase *tc = tcase_create("write");

	tcase_add_test(tc, test_temporary_names_never_collide);
	tcase_add_test(tc, test_shorter_rewrite_is_exact);
	tcase_add_test(tc, test_rewrites_recycle_two_files);
	tcase_add_test(tc, test_torn_twin_is_harmless);
	tcase_add_test(tc, test_written_bytes);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
