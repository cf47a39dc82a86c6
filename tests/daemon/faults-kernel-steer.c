/*
 * Fault injection on the data path's steering (daemon/steer.c), against
 * the real igb PF inside the SR-IOV test guest: a "daemon" process
 * SIGKILLed after each step (recorded, VF MAC zeroed, self entry added,
 * master entry added). What its successor does from the record must leave
 * nothing behind: for a pair that is gone, no entry (its VF goes back
 * through the pool, which restores it); for a pair whose guest has its VF
 * back (the migration was cancelled meanwhile), no entry and the VF's MAC
 * restored. Each fault prints one "FOVD-FAULT" line.
 */

#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/steer.h"
#include "tests/lib/steer-lab.h"
#include "tests/lib/suite.h"

static const char *const points[] = {
	"steer-recorded",
	"steer-vf-mac-zeroed",
	"steer-uplink-added",
	"steer-tap-added",
};

static TestSteerLab t;

static void setup(void)
{
	test_steer_lab_setup(&t);
}

static void teardown(void)
{
	test_steer_lab_teardown(&t);
}

static void die_at(const char *point, void *ud)
{
	if (strcmp(point, ud) == 0)
		raise(SIGKILL);
}

/* A "daemon" that dies at @point while steering vm1/p0 for a migration. */
static void crash_while_steering(const char *point)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		SteerPlan p = test_steer_lab_plan(&t);
		char err[320] = "";
		Steer *s = NULL;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (steer_new(&s, t.dir, err, sizeof(err)) < 0)
			_exit(2);
		steer_set_checkpoint(s, die_at, (void *)point);
		steer_apply(s, TEST_STEER_OWNER, &p, err, sizeof(err));
		fprintf(stderr, "child: passed %s without dying: %s\n", point, err);
		_exit(1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "the steering did not reach '%s'", point);
	ck_assert_msg(test_steer_lab_record_exists(&t), "killed at %s with no record", point);
}

static bool gone(const char *owner, void *ud)
{
	return false;
}

static void report(const char *owner, int r, const char *err, void *ud)
{
	ck_assert_msg(r == 0, "undoing %s: %s", owner, err);
}

/* The tier's line: steered= counts what a successor left behind (entries, a record). */
static void print_fault(const char *fault, const char *point, bool mac_restored)
{
	printf("FOVD-FAULT %s-at-%s: igb held=0 leaked=0 double=0 incomplete=%u steered=%u\n",
	       fault, point, !mac_restored,
	       !test_steer_lab_no_entries(&t) + test_steer_lab_record_exists(&t));
}

/* The pair is gone after the restart: its entries go at start-up. */
START_TEST(test_killed_then_pair_gone)
{
	char err[320] = "";
	Steer *s = NULL;

	crash_while_steering(points[_i]);
	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert(steer_has(s, TEST_STEER_OWNER));
	steer_recover(s, gone, NULL, report);
	print_fault("steer-killed-pair-gone", points[_i], true);
	ck_assert_msg(test_steer_lab_no_entries(&t), "entries left after a kill at %s", points[_i]);
	ck_assert(!test_steer_lab_record_exists(&t));
	ck_assert(!steer_has(s, TEST_STEER_OWNER));
	steer_free(s);
}
END_TEST

/* The migration was cancelled while failoverd was down: the guest has its VF again. */
START_TEST(test_killed_then_vf_back_with_its_guest)
{
	char err[320] = "";
	Steer *s = NULL;

	crash_while_steering(points[_i]);
	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_undo(s, TEST_STEER_OWNER, true, err, sizeof(err)) == 0, "%s", err);
	print_fault("steer-killed-vf-back", points[_i],
		    test_steer_lab_vf_mac_is(&t, TEST_STEER_MAC));
	ck_assert_msg(test_steer_lab_no_entries(&t), "entries left after a kill at %s", points[_i]);
	ck_assert_msg(test_steer_lab_vf_mac_is(&t, TEST_STEER_MAC),
		      "the VF's MAC was not restored after a kill at %s", points[_i]);
	ck_assert(!test_steer_lab_record_exists(&t));
	steer_free(s);
}
END_TEST

/* Still migrating after the restart: steering again finishes what was half done. */
START_TEST(test_killed_then_still_migrating)
{
	SteerPlan p = test_steer_lab_plan(&t);
	char err[320] = "";
	Steer *s = NULL;

	crash_while_steering(points[_i]);
	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_apply(s, TEST_STEER_OWNER, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert(test_steer_lab_vf_mac_is(&t, "00:00:00:00:00:00"));
	ck_assert(test_fdb_shows("fovdtap0", TEST_STEER_MAC, "master fovdbr0 static"));
	ck_assert(test_fdb_shows(t.igb.ifname, TEST_STEER_MAC, "self"));
	ck_assert_msg(steer_undo(s, TEST_STEER_OWNER, true, err, sizeof(err)) == 0, "%s", err);
	print_fault("steer-killed-still-migrating", points[_i],
		    test_steer_lab_vf_mac_is(&t, TEST_STEER_MAC));
	ck_assert(test_steer_lab_no_entries(&t));
	steer_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("faults-steer");
	TCase *tc = tcase_create("igb");
	int n = (int)(sizeof(points) / sizeof(points[0]));

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_killed_then_pair_gone, 0, n);
	tcase_add_loop_test(tc, test_killed_then_vf_back_with_its_guest, 0, n);
	tcase_add_loop_test(tc, test_killed_then_still_migrating, 0, n);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
