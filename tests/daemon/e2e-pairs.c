/*
 * The pair engine end to end: two failoverd processes act as two hosts, two
 * QEMUs running the test guest act as migration source and destination,
 * and the pool is the emulated one (an e1000e stand-in for a VF, docs/qemu-failover.md §emulated).
 * Each scenario asserts what QEMU shows over QMP and, where it matters,
 * what the guest shows on its console.
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "tests/lib/cluster.h"
#include "tests/lib/harness.h"
#include "tests/lib/lab.h"
#include "tests/lib/suite.h"

static TestLab t;

static void vm_start(TestVm *v, const char *name, bool incoming, bool nofailover)
{
	TestVmOptions o = { .boot = true, .incoming = incoming, .nofailover = nofailover };

	test_lab_vm_start(&t, v, name, &o);
}

static void host_config(TestHost *h, TestVm *v, const char *extra_instance)
{
	test_lab_config(h, v, extra_instance);
}

static void setup(void)
{
	test_lab_setup(&t);
}

static void teardown(void)
{
	test_lab_teardown(&t);
}

/* Source guest booted under host A with its pair active and bonded. */
static void bring_up_source(const char *extra_instance)
{
	vm_start(&t.src, "src", false, false);
	host_config(&t.a, &t.src, extra_instance);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 120000), 0);
	ck_assert(test_vm_has_device(&t.src, "fo-p0"));
	ck_assert_msg(test_guest_wait_bonded(t.src.qemu, 60000) == 0,
		      "guest did not bond virtio + e1000e (see %s)", t.src.serial);
}

/*
 * Degraded window, from QEMU's and the daemon's own timestamps: the guest
 * has no primary from the source's UNPLUG_PRIMARY until the destination's
 * primary is in (pre-staged: plugged at load, before RESUME; otherwise when
 * the destination daemon saw it realized).
 */
static void report_window(const char *scenario, bool prestaged)
{
	int k = test_vm_wait_event(&t.src, "UNPLUG_PRIMARY", NULL, 5000);
	int r = test_vm_wait_event(&t.dst, "RESUME", NULL, 5000);
	char changed[32];
	double unplug, resume, active;

	ck_assert_int_ge(k, 0);
	ck_assert_int_ge(r, 0);
	test_host_pair_get(&t.b, "vm1", "p0", "changed_us", changed, sizeof(changed));
	unplug = test_qmp_ts_ms(&t.src.ts[k]);
	resume = test_qmp_ts_ms(&t.dst.ts[r]);
	active = (double)strtoull(changed, NULL, 10) / 1000.0;
	printf("scenario %s: degraded window %.1f ms (source UNPLUG_PRIMARY -> destination %s); "
	       "destination RESUME at +%.1f ms, pair active at +%.1f ms\n",
	       scenario, (prestaged ? resume : active) - unplug,
	       prestaged ? "RESUME, primary plugged at load" : "primary plugged by failoverd",
	       resume - unplug, active - unplug);
}

START_TEST(test_1_attach)
{
	printf("scenario 1: attach -> guest bonds both NICs -> active\n");
	bring_up_source(NULL);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "FAILOVER_NEGOTIATED", "net0", 10000), 0);
	printf("scenario 1: pair active, primary fo-p0 realized, guest bonded\n");
}
END_TEST

START_TEST(test_2_migrate_prepared)
{
	char vf[64];

	printf("scenario 2: migrate with PrepareIncoming\n");
	bring_up_source(NULL);
	vm_start(&t.dst, "dst", true, false);
	host_config(&t.b, &t.dst, "PrepareIncoming=yes");
	test_host_start(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "UNPLUG_PRIMARY", "fo-p0", 30000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrated", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	ck_assert(test_vm_has_device(&t.dst, "fo-p0"));
	ck_assert_msg(test_guest_wait_bonded(t.dst.qemu, 60000) == 0,
		      "guest not bonded on destination (see %s)", t.dst.serial);
	report_window("2", true);
	/* DegradedWindowMSec: UNPLUG_PRIMARY -> completed on the source, >= 0 on the destination.
	 */
	{
		char src_ms[32], dst_ms[32];

		test_host_pair_get(&t.a, "vm1", "p0", "degraded_ms", src_ms, sizeof(src_ms));
		test_host_pair_get(&t.b, "vm1", "p0", "degraded_ms", dst_ms, sizeof(dst_ms));
		ck_assert_msg(strtoll(src_ms, NULL, 10) > 0, "source degraded_ms=%s", src_ms);
		ck_assert_msg(dst_ms[0] && strtoll(dst_ms, NULL, 10) >= 0,
			      "destination degraded_ms=%s", dst_ms);
		printf("scenario 2: DegradedWindowMSec source %s, destination %s\n", src_ms,
		       dst_ms);
	}

	/* The source keeps its VF until its QEMU is gone. */
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_str_ne(vf, "");
	ck_assert_int_eq(test_vm_call(&t.src, "quit", NULL), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 5000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_str_eq(vf, "");
	printf("scenario 2: source VF released after the source QEMU quit\n");
}
END_TEST

START_TEST(test_3_migrate_unprepared)
{
	printf("scenario 3: migrate without preparation\n");
	bring_up_source(NULL);
	vm_start(&t.dst, "dst", true, false);
	host_config(&t.b, &t.dst, "PrepareIncoming=no");
	test_host_start(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "waiting", 30000), 0);
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	ck_assert_int_ge(test_vm_wait_event(&t.dst, "FAILOVER_NEGOTIATED", "net0", 10000), 0);
	ck_assert(test_vm_has_device(&t.dst, "fo-p0"));
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrated", 30000), 0);
	ck_assert_msg(test_guest_wait_bonded(t.dst.qemu, 60000) == 0,
		      "guest not bonded on destination (see %s)", t.dst.serial);
	report_window("3", false);
}
END_TEST

START_TEST(test_4_cancel_during_wait_unplug)
{
	char vf[64];

	printf("scenario 4: migrate_cancel during wait-unplug\n");
	bring_up_source(NULL);
	vm_start(&t.dst, "dst", true, false);
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "UNPLUG_PRIMARY", "fo-p0", 30000), 0);
	ck_assert_int_eq(test_vm_call(&t.src, "migrate_cancel", NULL), 0);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "MIGRATION", "cancelled", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 30000), 0);
	ck_assert(test_vm_has_device(&t.src, "fo-p0"));
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_str_ne(vf, "");
	printf("scenario 4: source active again with VF %s, nothing leaked\n", vf);
}
END_TEST

START_TEST(test_5_migration_of_a_paused_guest)
{
	char reason[300];

	printf("scenario 5: migration started with the guest paused -> cancelled at once\n");
	/* Long enough that a cancel before it can only be the paused-guest rule's. */
	bring_up_source("UnplugTimeoutSec=600");
	vm_start(&t.dst, "dst", true, false);
	ck_assert_int_eq(test_vm_call(&t.src, "stop", NULL), 0);
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "UNPLUG_PRIMARY", "fo-p0", 30000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "unplugging", 5000), 0);
	/* The guest cannot release the primary: cancelled at once, said why. */
	ck_assert_int_eq(test_host_wait_log(&t.a, "migration started with the guest paused", 5000),
			 0);
	/* QEMU holds "cancelling" for a hard-coded 30 s with a silent guest. */
	ck_assert_int_ge(test_vm_wait_event(&t.src, "MIGRATION", "cancel", 20000), 0);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "MIGRATION", "cancelled", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 30000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "reason", reason, sizeof(reason));
	ck_assert_msg(strstr(reason, "with the guest paused: it cannot release the primary"),
		      "reason: %s", reason);
	printf("scenario 5: migration cancelled, reason: %s\n", reason);
	/* The guest runs again, finishes the stale eject; the daemon re-plugs. */
	ck_assert_int_eq(test_vm_call(&t.src, "cont", NULL), 0);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "DEVICE_DELETED", "fo-p0", 30000), 0);
	test_vm_spin(t.base, 500);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 30000), 0);
	ck_assert(test_vm_has_device(&t.src, "fo-p0"));
}
END_TEST

START_TEST(test_6_daemon_killed_and_restarted)
{
	char vf_a[64], vf_b[64];

	printf("scenario 6: daemons SIGKILLed during incoming, unplugging, migrating\n");
	bring_up_source("UnplugTimeoutSec=20");
	vm_start(&t.dst, "dst", true, false);
	host_config(&t.b, &t.dst, "PrepareIncoming=yes");
	test_host_start(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
	/* Destination daemon dies in "incoming" and comes back. */
	test_host_kill(&t.b);
	test_host_start(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);

	/*
	 * Source daemon dies in "unplugging" and again in "migrating"; a
	 * bandwidth cap keeps the stream flowing long enough to be caught.
	 */
	ck_assert_int_eq(
		test_vm_call(&t.src, "migrate-set-parameters", "{\"max-bandwidth\": 8000000}"), 0);
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "UNPLUG_PRIMARY", "fo-p0", 30000), 0);
	test_host_kill(&t.a);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrating", 30000), 0);
	test_host_kill(&t.a);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrated", 60000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf_a, sizeof(vf_a));
	test_host_pair_get(&t.b, "vm1", "p0", "vf", vf_b, sizeof(vf_b));
	ck_assert_str_ne(vf_a, "");
	ck_assert_str_ne(vf_b, "");
	ck_assert(test_vm_has_device(&t.dst, "fo-p0"));
	ck_assert_int_eq(test_vm_call(&t.src, "quit", NULL), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 5000), 0);
	printf("scenario 6: converged after restarts: destination active on %s, source released\n",
	       vf_b);
}
END_TEST

START_TEST(test_7_qemu_killed)
{
	int64_t t0;

	printf("scenario 7: QEMU killed -> VF released\n");
	bring_up_source(NULL);
	test_qemu_kill(t.src.qemu);
	t0 = test_now_ms();
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 1000), 0);
	printf("scenario 7: VF released %llu ms after QEMU was killed\n",
	       (unsigned long long)(test_now_ms() - t0));
}
END_TEST

START_TEST(test_8_guest_without_net_failover)
{
	char neg[8], reason[300];

	printf("scenario 8: guest without net_failover\n");
	vm_start(&t.src, "src", false, true);
	host_config(&t.a, &t.src, NULL);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "staged", 30000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "waiting", 90000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "guest_negotiated", neg, sizeof(neg));
	test_host_pair_get(&t.a, "vm1", "p0", "reason", reason, sizeof(reason));
	ck_assert_str_eq(neg, "0");
	ck_assert_msg(strstr(reason, "net_failover") != NULL, "reason: %s", reason);
	ck_assert_int_eq(test_host_wait_log(&t.a, "has not negotiated", 1000), 0);
	ck_assert(!test_vm_has_device(&t.src, "fo-p0"));
	printf("scenario 8: pair waiting, GuestNegotiated=false: %s\n", reason);
}
END_TEST

/* Waits until the persisted @key of host @h's pair p0 is @want. */
static int wait_pair_key(TestHost *h, const char *key, const char *want, unsigned ms)
{
	char v[300];

	for (int64_t end = test_now_ms() + ms; test_now_ms() < end; usleep(50000)) {
		test_host_pair_get(h, "vm1", "p0", key, v, sizeof(v));
		if (strcmp(v, want) == 0)
			return 0;
	}
	fprintf(stderr, "pair p0: %s=%s, wanted %s\n", key, v, want);
	return -ETIMEDOUT;
}

/* Regression: RESET was ignored, GuestNegotiated stayed true during a reboot. */
START_TEST(test_9_guest_reset)
{
	printf("scenario 9: guest reset -> negotiation starts over\n");
	bring_up_source(NULL);
	ck_assert_int_eq(wait_pair_key(&t.a, "guest_negotiated", "1", 5000), 0);
	ck_assert_int_eq(test_vm_call(&t.src, "system_reset", NULL), 0);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "RESET", NULL, 10000), 0);
	ck_assert_int_eq(wait_pair_key(&t.a, "guest_negotiated", "0", 5000), 0);
	/* The rebooted guest negotiates again. */
	ck_assert_int_eq(wait_pair_key(&t.a, "guest_negotiated", "1", 120000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 10000), 0);
	printf("scenario 9: GuestNegotiated false after RESET, true again after the reboot\n");
}
END_TEST

/*
 * Regression: a source daemon restarted while postcopy is paused (the
 * destination died after the switch-over) reported the pair active with
 * "primary found realized": the guest has no primary there and may only
 * live on the destination.
 */
START_TEST(test_10_restart_in_postcopy_paused)
{
	static const char caps[] =
		"{\"capabilities\": [{\"capability\": \"postcopy-ram\", \"state\": true}]}";
	char reason[300];

	printf("scenario 10: source daemon restarted during postcopy-paused\n");
	bring_up_source(NULL);
	vm_start(&t.dst, "dst", true, false);
	ck_assert_int_eq(test_vm_call(&t.src, "migrate-set-capabilities", caps), 0);
	ck_assert_int_eq(test_vm_call(&t.dst, "migrate-set-capabilities", caps), 0);
	ck_assert_int_eq(
		test_vm_call(&t.src, "migrate-set-parameters", "{\"max-bandwidth\": 4000000}"), 0);
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrating", 60000), 0);
	ck_assert_int_eq(test_vm_call(&t.src, "migrate-start-postcopy", NULL), 0);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "MIGRATION", "postcopy-active", 30000), 0);
	test_qemu_kill(t.dst.qemu);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "MIGRATION", "postcopy-paused", 30000), 0);
	test_host_kill(&t.a);
	test_host_start(&t.a);
	ck_assert_int_eq(
		test_host_wait_log(&t.a, "found migrating (postcopy-paused) after restart", 30000),
		0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrating", 1000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "reason", reason, sizeof(reason));
	printf("scenario 10: source pair migrating (%s), not active\n", reason);
}
END_TEST

/*
 * Regression: a detach whose device_del QEMU accepted but whose
 * DEVICE_DELETED never came (a paused guest) released the VF at the unplug
 * timeout, while QEMU still held the primary.
 */
START_TEST(test_11_detach_unconfirmed_keeps_vf)
{
	char vf[64], reason[300];

	printf("scenario 11: detach while the guest is paused -> VF held until it ejects\n");
	bring_up_source("UnplugTimeoutSec=2");
	ck_assert_int_eq(test_vm_call(&t.src, "stop", NULL), 0);
	/* The pair leaves the configuration: failoverd detaches it. */
	test_host_write_conf(&t.a, "vm1.vm", "[Instance]\nName=vm1\nQMP=%s\nUnplugTimeoutSec=2\n",
			     t.src.qmp);
	kill(test_qemu_pid(t.a.daemon), SIGHUP);
	ck_assert_int_eq(test_host_wait_log(&t.a, "within UnplugTimeoutSec=2", 20000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "detaching", 1000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf, sizeof(vf));
	test_host_pair_get(&t.a, "vm1", "p0", "reason", reason, sizeof(reason));
	ck_assert_str_ne(vf, "");
	ck_assert(test_vm_has_device(&t.src, "fo-p0"));
	printf("scenario 11: %s\n", reason);
	/* The guest runs again, ejects the primary: now the VF goes back. */
	ck_assert_int_eq(test_vm_call(&t.src, "cont", NULL), 0);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "DEVICE_DELETED", "fo-p0", 30000), 0);
	ck_assert_int_eq(test_host_wait_log(&t.a, "pair vm1/p0: detaching -> released", 10000), 0);
	/* Gone from the configuration and its VF back: forgotten. */
	ck_assert_int_eq(wait_pair_key(&t.a, "state", "", 5000), 0);
	{
		TestAudit a;

		test_host_audit(&t.a, &a);
		ck_assert_msg(a.held == 0 && a.leaked == 0, "%s", a.why);
	}
}
END_TEST

/*
 * Found by the model tier (I4:negotiated-after-reset@qemu-start): a QEMU
 * that crashed and was started again kept GuestNegotiated=true though its
 * new guest never negotiated; and (…@daemon-restart) a daemon restarted
 * after a guest reset reported the guest negotiated again.
 */
START_TEST(test_12_negotiation_belongs_to_one_guest)
{
	printf("scenario 12: GuestNegotiated across a reset + restart and a QEMU crash\n");
	bring_up_source(NULL);
	ck_assert_int_eq(wait_pair_key(&t.a, "guest_negotiated", "1", 5000), 0);
	/* Reset, then hold the guest before it negotiates again; restart the daemon. */
	ck_assert_int_eq(test_vm_call(&t.src, "stop", NULL), 0);
	ck_assert_int_eq(test_vm_call(&t.src, "system_reset", NULL), 0);
	ck_assert_int_eq(wait_pair_key(&t.a, "guest_negotiated", "0", 5000), 0);
	test_host_kill(&t.a);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_log(&t.a, "start-up complete", 30000), 0);
	test_vm_spin(t.base, 1000);
	ck_assert_int_eq(wait_pair_key(&t.a, "guest_negotiated", "0", 100), 0);

	/* A crash, and a new QEMU whose guest never negotiates. */
	test_qemu_kill(t.src.qemu);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 10000), 0);
	test_vm_stop(&t.src);
	memset(&t.src, 0, sizeof(t.src));
	vm_start(&t.src, "src", false, true);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "staged", 30000), 0);
	ck_assert_int_eq(wait_pair_key(&t.a, "guest_negotiated", "0", 100), 0);
}
END_TEST

/*
 * Found by the model tier (I2:released-while-held@daemon-restart): a .vm
 * file removed during a migration, then a daemon restart: the successor
 * took the pair's VF for a leftover and gave it back while the source
 * QEMU still held the partly unplugged primary.
 */
START_TEST(test_13_instance_removed_mid_migration_then_restart)
{
	char path[400], vf[64];
	TestAudit a;

	printf("scenario 13: .vm removed during a migration, daemon restarted\n");
	bring_up_source(NULL);
	vm_start(&t.dst, "dst", true, false);
	ck_assert_int_eq(
		test_vm_call(&t.src, "migrate-set-parameters", "{\"max-bandwidth\": 4000000}"), 0);
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrating", 60000), 0);
	snprintf(path, sizeof(path), "%s/etc/failoverd/vm1.vm", t.a.root);
	ck_assert_int_eq(unlink(path), 0);
	kill(test_qemu_pid(t.a.daemon), SIGHUP);
	ck_assert_int_eq(test_host_wait_log(&t.a, "instance vm1 removed", 10000), 0);
	test_host_stop(&t.a);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_log(&t.a, "no longer configured; detaching it", 10000), 0);
	test_vm_spin(t.base, 1000);
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_str_ne(vf, "");
	test_host_audit(&t.a, &a);
	ck_assert_msg(a.held == 1 && a.leaked == 0 && a.doubled == 0, "%s", a.why);
	/* The source QEMU goes: now the VF is back, and the pair forgotten. */
	ck_assert_int_eq(test_vm_call(&t.src, "migrate_cancel", NULL), 0);
	test_qemu_kill(t.src.qemu);
	/* Until the daemon has seen the exit, the audit calls its VF leaked: wait. */
	for (int64_t end = test_now_ms() + 10000; test_now_ms() < end; usleep(50000)) {
		test_host_audit(&t.a, &a);
		if (a.held == 0 && a.leaked == 0)
			break;
	}
	ck_assert_msg(a.held == 0 && a.leaked == 0, "%s", a.why);
}
END_TEST

/*
 * Found by the model tier (I4:active-but-not-plugged): a pair that missed
 * UNPLUG_PRIMARY (its daemon was down when the migration started) was
 * reconciled to "active" while QEMU had the primary partly unplugged.
 */
START_TEST(test_14_restart_after_missed_unplug)
{
	char reason[300];

	printf("scenario 14: the source daemon is down when the migration starts\n");
	bring_up_source(NULL);
	vm_start(&t.dst, "dst", true, false);
	ck_assert_int_eq(
		test_vm_call(&t.src, "migrate-set-parameters", "{\"max-bandwidth\": 4000000}"), 0);
	test_host_kill(&t.a);
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "MIGRATION", "\"active\"", 60000), 0);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_log(&t.a, "found migrating (active) after restart", 30000),
			 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrating", 1000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "reason", reason, sizeof(reason));
	printf("scenario 14: %s\n", reason);
}
END_TEST

/*
 * A host evacuation in small: two guests under the same two daemons migrate
 * at once; each destination pair goes active with its own slot, and each
 * source slot stays held until its own QEMU quits.
 */
START_TEST(test_15_two_guests_migrate_at_once)
{
	static const char mac2[] = "52:54:00:aa:bb:02";
	TestVmOptions boot2 = { .boot = true, .instance = "vm2", .mac = mac2 };
	TestVmOptions in2 = { .boot = true, .incoming = true, .instance = "vm2", .mac = mac2 };
	char vf1[64], vf2[64], dvf1[64], dvf2[64];

	printf("scenario 15: two guests under one daemon migrate at once\n");
	vm_start(&t.src, "src", false, false);
	test_lab_vm_start(&t, &t.src2, "src2", &boot2);
	host_config(&t.a, &t.src, NULL);
	test_lab_config_vm2(&t.a, &t.src2, mac2, NULL);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 120000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm2", "p0", "active", 120000), 0);
	ck_assert_msg(test_guest_wait_bonded(t.src.qemu, 60000) == 0, "vm1 not bonded (see %s)",
		      t.src.serial);
	ck_assert_msg(test_guest_wait_bonded(t.src2.qemu, 60000) == 0, "vm2 not bonded (see %s)",
		      t.src2.serial);

	vm_start(&t.dst, "dst", true, false);
	test_lab_vm_start(&t, &t.dst2, "dst2", &in2);
	host_config(&t.b, &t.dst, "PrepareIncoming=yes");
	test_lab_config_vm2(&t.b, &t.dst2, mac2, "PrepareIncoming=yes");
	test_host_start(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm2", "p0", "incoming", 30000), 0);
	test_vm_migrate(&t.src, &t.dst);
	test_vm_migrate(&t.src2, &t.dst2);

	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm2", "p0", "active", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrated", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm2", "p0", "migrated", 60000), 0);
	ck_assert(test_vm_has_device(&t.dst, "fo-p0"));
	ck_assert(test_vm_has_device(&t.dst2, "fo-p0"));
	ck_assert_msg(test_guest_wait_bonded(t.dst.qemu, 60000) == 0,
		      "vm1 not bonded on the destination (see %s)", t.dst.serial);
	ck_assert_msg(test_guest_wait_bonded(t.dst2.qemu, 60000) == 0,
		      "vm2 not bonded on the destination (see %s)", t.dst2.serial);
	test_host_pair_get(&t.b, "vm1", "p0", "vf", dvf1, sizeof(dvf1));
	test_host_pair_get(&t.b, "vm2", "p0", "vf", dvf2, sizeof(dvf2));
	ck_assert_str_ne(dvf1, "");
	ck_assert_str_ne(dvf2, "");
	ck_assert_str_ne(dvf1, dvf2);

	/* Each source slot is its own QEMU's until that QEMU is gone. */
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf1, sizeof(vf1));
	test_host_pair_get(&t.a, "vm2", "p0", "vf", vf2, sizeof(vf2));
	ck_assert_str_ne(vf1, "");
	ck_assert_str_ne(vf2, "");
	ck_assert_str_ne(vf1, vf2);
	ck_assert_int_eq(test_vm_call(&t.src, "quit", NULL), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 5000), 0);
	test_host_pair_get(&t.a, "vm2", "p0", "vf", vf2, sizeof(vf2));
	ck_assert_msg(vf2[0], "vm2's source slot went with vm1's QEMU");
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm2", "p0", "migrated", 1000), 0);
	ck_assert_int_eq(test_vm_call(&t.src2, "quit", NULL), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm2", "p0", "released", 5000), 0);
	printf("scenario 15: destination slots %s and %s, source slots %s and %s released "
	       "each with its QEMU\n",
	       dvf1, dvf2, vf1, vf2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-pairs");
	TCase *tc = tcase_create("two-hosts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_1_attach);
	tcase_add_test(tc, test_2_migrate_prepared);
	tcase_add_test(tc, test_3_migrate_unprepared);
	tcase_add_test(tc, test_4_cancel_during_wait_unplug);
	tcase_add_test(tc, test_5_migration_of_a_paused_guest);
	tcase_add_test(tc, test_6_daemon_killed_and_restarted);
	tcase_add_test(tc, test_7_qemu_killed);
	tcase_add_test(tc, test_8_guest_without_net_failover);
	{
		TCase *tr = tcase_create("regressions");

		tcase_add_checked_fixture(tr, setup, teardown);
		tcase_set_timeout(tr, 300);
		tcase_add_test(tr, test_9_guest_reset);
		tcase_add_test(tr, test_10_restart_in_postcopy_paused);
		tcase_add_test(tr, test_11_detach_unconfirmed_keeps_vf);
		tcase_add_test(tr, test_12_negotiation_belongs_to_one_guest);
		tcase_add_test(tr, test_13_instance_removed_mid_migration_then_restart);
		tcase_add_test(tr, test_14_restart_after_missed_unplug);
		suite_add_tcase(s, tr);
	}
	{
		TCase *te = tcase_create("evacuation");

		tcase_add_checked_fixture(te, setup, teardown);
		tcase_set_timeout(te, 300);
		tcase_add_test(te, test_15_two_guests_migrate_at_once);
		suite_add_tcase(s, te);
	}
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
