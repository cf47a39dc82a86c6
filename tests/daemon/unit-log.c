/*
 * The log: lines of an event's handling are written after it, in order;
 * warnings and errors never wait (a crash right after them keeps them).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "tests/lib/suite.h"

static FILE *out;
static int saved_stderr = -1;

/* stderr goes to a temporary file the test reads back. */
static void capture(void)
{
	out = tmpfile();
	ck_assert_ptr_nonnull(out);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(fileno(out), STDERR_FILENO), 0);
}

static const char *written(void)
{
	static char buf[8192];
	size_t n;

	fflush(stderr);
	rewind(out);
	n = fread(buf, 1, sizeof(buf) - 1, out);
	buf[n] = 0;
	return buf;
}

static void uncapture(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	fclose(out);
}

START_TEST(test_held_lines_follow_the_release)
{
	const char *fields[] = { "FAILOVERD_PAIR=p0", "MESSAGE_ID=0123", NULL };
	Log log;

	setenv("FAILOVERD_LOG_STDERR", "1", 1);
	log_init(&log, LOG_INFO);
	capture();
	log_hold(&log);
	log_full(&log, LOG_INFO, fields, "pair vm1/p0: active -> unplugging");
	log_info(&log, "second");
	log_debug(&log, "not wanted at info");
	ck_assert_str_eq(written(), "");
	log_release(&log);
	ck_assert_str_eq(written(), "failoverd[info]: pair vm1/p0: active -> unplugging pair=p0\n"
				    "failoverd[info]: second\n");
	/* Not holding any more: at once. */
	log_info(&log, "third");
	ck_assert_ptr_nonnull(strstr(written(), "failoverd[info]: third\n"));
	log_done(&log);
	uncapture();
}
END_TEST

START_TEST(test_warnings_do_not_wait)
{
	Log log;

	setenv("FAILOVERD_LOG_STDERR", "1", 1);
	log_init(&log, LOG_DEBUG);
	capture();
	log_hold(&log);
	log_info(&log, "before");
	log_error(&log, "BUG: something");
	/* The error is out, and what was held before it, in order. */
	ck_assert_str_eq(written(), "failoverd[info]: before\nfailoverd[err]: BUG: something\n");
	log_info(&log, "after");
	ck_assert_ptr_null(strstr(written(), "after"));
	log_done(&log); /* releases too */
	ck_assert_ptr_nonnull(strstr(written(), "failoverd[info]: after\n"));
	uncapture();
}
END_TEST

START_TEST(test_many_lines_keep_their_order)
{
	char expect[4096] = "", line[64];
	Log log;

	setenv("FAILOVERD_LOG_STDERR", "1", 1);
	log_init(&log, LOG_INFO);
	capture();
	log_hold(&log);
	for (int k = 0; k < 30; k++) {
		log_info(&log, "line %d", k);
		snprintf(line, sizeof(line), "failoverd[info]: line %d\n", k);
		strcat(expect, line);
	}
	log_release(&log);
	ck_assert_str_eq(written(), expect);
	log_done(&log);
	log_done(&log); /* twice is fine */
	uncapture();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("hold");

	tcase_add_test(tc, test_held_lines_follow_the_release);
	tcase_add_test(tc, test_warnings_do_not_wait);
	tcase_add_test(tc, test_many_lines_keep_their_order);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
