/*
 * The data path's steering (daemon/steer.c, docs/traffic.md) against a real
 * kernel, inside the SR-IOV test guest: VF 2 of the igb PF has the guest's
 * MAC, a bridge has the standby's "tap" (a veth) as a port. Steering zeroes
 * the VF's MAC and adds the self entry on the PF and the master entry on
 * the tap, each seen with iproute2; undoing gives it all back. A step the
 * kernel refuses leaves nothing changed.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/steer.h"
#include "tests/lib/kernel.h"
#include "tests/lib/steer-lab.h"
#include "tests/lib/suite.h"

#define MAC   TEST_STEER_MAC
#define OWNER TEST_STEER_OWNER

static TestSteerLab t;

static void setup(void)
{
	test_steer_lab_setup(&t);
}

static void teardown(void)
{
	test_steer_lab_teardown(&t);
}

static SteerPlan plan_source(void)
{
	return test_steer_lab_plan(&t);
}

static bool vf_mac_is(const char *m)
{
	return test_steer_lab_vf_mac_is(&t, m);
}

static bool record_exists(void)
{
	return test_steer_lab_record_exists(&t);
}

START_TEST(test_source_steering_and_its_undo)
{
	SteerPlan p = plan_source();
	char err[320] = "";
	Steer *s = NULL;

	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vf_mac_is("00:00:00:00:00:00"), "the VF kept its MAC");
	ck_assert_msg(test_fdb_shows(t.igb.ifname, MAC, "self"), "no self entry on the PF");
	ck_assert_msg(test_fdb_shows("fovdtap0", MAC, "master fovdbr0 static"),
		      "no static entry on the tap");
	ck_assert(record_exists());
	/* Asked again (a restart finding the migration still running): the same, no error. */
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);

	/* Cancelled: the guest gets its VF back, with its MAC. */
	ck_assert_msg(steer_undo(s, OWNER, true, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vf_mac_is(MAC), "the VF's MAC was not given back");
	ck_assert_msg(!test_fdb_shows(t.igb.ifname, MAC, "self"), "self entry left on the PF");
	ck_assert_msg(!test_fdb_shows("fovdtap0", MAC, "master"), "entry left on the tap");
	ck_assert(!record_exists());
	ck_assert_int_eq(steer_undo(s, OWNER, true, err, sizeof(err)), 0);
	steer_free(s);
}
END_TEST

START_TEST(test_completed_keeps_the_vf_mac_zeroed)
{
	SteerPlan p = plan_source();
	char err[320] = "";
	Steer *s = NULL;

	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);
	/* The guest runs elsewhere: the entries go, the VF waits zeroed for its release. */
	ck_assert_msg(steer_undo(s, OWNER, false, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vf_mac_is("00:00:00:00:00:00"), "the VF got a MAC back");
	ck_assert_msg(!test_fdb_shows("fovdtap0", MAC, "master"), "entry left on the tap");
	ck_assert(!record_exists());
	steer_free(s);
}
END_TEST

START_TEST(test_a_refused_step_changes_nothing)
{
	SteerPlan p = plan_source();
	char err[320] = "";
	Steer *s = NULL;

	/* fovdw0 is no bridge port: the master entry is refused after the other two steps. */
	snprintf(p.tap, sizeof(p.tap), "fovdw0");
	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_int_eq(steer_apply(s, OWNER, &p, err, sizeof(err)), -EOPNOTSUPP);
	ck_assert_msg(strstr(err, "FDB entry " MAC " on fovdw0 (master)"), "%s", err);
	ck_assert_msg(vf_mac_is(MAC), "the VF's MAC stayed zeroed");
	ck_assert_msg(!test_fdb_shows(t.igb.ifname, MAC, "self"), "self entry left on the PF");
	ck_assert(!record_exists());
	ck_assert(!steer_has(s, OWNER));

	/* No such PF: nothing at all is done. */
	p = plan_source();
	snprintf(p.pf, sizeof(p.pf), "nosuch0");
	ck_assert_int_lt(steer_apply(s, OWNER, &p, err, sizeof(err)), 0);
	ck_assert_msg(!test_fdb_shows("fovdtap0", MAC, "master"), "entry left on the tap");
	ck_assert(!record_exists());
	steer_free(s);
}
END_TEST

START_TEST(test_destination_entries_leave_the_vf_alone)
{
	SteerPlan p = plan_source();
	char err[320] = "";
	Steer *s = NULL;

	p.pf[0] = 0; /* the destination: the VF keeps the MAC its guest will find */
	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vf_mac_is(MAC), "the destination's VF lost its MAC");
	ck_assert_msg(test_fdb_shows("fovdtap0", MAC, "master fovdbr0 static"),
		      "no static entry on the tap");
	ck_assert_msg(steer_undo(s, OWNER, true, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(!test_fdb_shows("fovdtap0", MAC, "master"), "entry left on the tap");
	ck_assert_msg(vf_mac_is(MAC), "the destination's VF lost its MAC");
	steer_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("steer");
	TCase *tc = tcase_create("igb");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_source_steering_and_its_undo);
	tcase_add_test(tc, test_completed_keeps_the_vf_mac_zeroed);
	tcase_add_test(tc, test_a_refused_step_changes_nothing);
	tcase_add_test(tc, test_destination_entries_leave_the_vf_alone);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
