/*
 * Process identity (daemon/process.c): after a restart failoverd trusts a
 * recorded QEMU pid only while the same process holds it. A QEMU that died
 * while the daemon was down, its pid since recycled for another QEMU, must
 * read as gone, or its VF would stay held forever.
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/process.h"
#include "tests/lib/suite.h"

static pid_t child = -1;

/* A live process named @name (pause()s until killed; dies with the test). */
static pid_t spawn_named(const char *name)
{
	int ready[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, name);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	child = pid;
	return pid;
}

static void teardown(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	child = -1;
}

START_TEST(test_same_qemu_is_recognised)
{
	pid_t pid = spawn_named("qemu-system-x86");
	uint64_t start = 0;

	ck_assert_int_eq(process_get_start(pid, &start), 0);
	ck_assert_uint_gt(start, 0);
	ck_assert(process_is_same_qemu(pid, start));
	/* A state file from before start times were recorded: the name decides. */
	ck_assert(process_is_same_qemu(pid, 0));
}
END_TEST

START_TEST(test_recycled_pid_is_not_the_recorded_qemu)
{
	pid_t pid = spawn_named("qemu-system-x86");
	uint64_t start = 0;

	ck_assert_int_eq(process_get_start(pid, &start), 0);
	/* Another QEMU under the dead one's pid: same name, other start time. */
	ck_assert(!process_is_same_qemu(pid, start + 1));
	ck_assert(!process_is_same_qemu(pid, start - 1));
}
END_TEST

START_TEST(test_other_programs_are_not_qemu)
{
	pid_t pid = spawn_named("sleep");
	uint64_t start = 0;

	ck_assert_int_eq(process_get_start(pid, &start), 0);
	ck_assert(!process_is_same_qemu(pid, start));
	ck_assert(!process_is_same_qemu(pid, 0));
}
END_TEST

START_TEST(test_exited_process_is_gone)
{
	pid_t pid = spawn_named("qemu-system-x86");
	uint64_t start = 0, after = 7;

	ck_assert_int_eq(process_get_start(pid, &start), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	child = -1;
	ck_assert(!process_is_same_qemu(pid, start));
	ck_assert_int_eq(process_get_start(pid, &after), -ESRCH);
	ck_assert_uint_eq(after, 7); /* untouched on failure */
	ck_assert(!process_is_same_qemu(0, 0));
	ck_assert(!process_is_same_qemu(-1, start));
}
END_TEST

/* Field 22 of /proc/PID/stat, split on spaces after the last ')'. */
static unsigned long long stat_start_field(pid_t pid)
{
	char path[64], buf[1024], *p, *save = NULL;
	unsigned long long start = 0;
	int field = 2;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (++field == 22) {
			start = strtoull(tok, NULL, 10);
			break;
		}
	return start;
}

/* comm may hold ") " and digits: the start time must not shift with it. */
START_TEST(test_start_time_survives_odd_names)
{
	pid_t pid = spawn_named("qemu) R 1 2 3");
	uint64_t start = 0;

	ck_assert_int_eq(process_get_start(pid, &start), 0);
	ck_assert_uint_eq(start, stat_start_field(pid));
	ck_assert(process_is_same_qemu(pid, start));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-process");
	TCase *tc = tcase_create("process");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_same_qemu_is_recognised);
	tcase_add_test(tc, test_recycled_pid_is_not_the_recorded_qemu);
	tcase_add_test(tc, test_other_programs_are_not_qemu);
	tcase_add_test(tc, test_exited_process_is_gone);
	tcase_add_test(tc, test_start_time_survives_odd_names);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
