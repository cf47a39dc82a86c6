/*
 * Fault injection with real QEMUs and the emulated pool: the daemon stops
 * itself at an exact step (--debug-stop-at), then the test SIGKILLs it or
 * its QEMU there. After a restart (or without one, for a dead QEMU) the pair
 * must converge to what QEMU shows, and the state directory must account
 * for every VF: none leaked, none held twice. Each injected fault prints
 * one "FOVD-FAULT" line with the audited counts; the tier sums them.
 */

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cluster.h"
#include "tests/lib/harness.h"
#include "tests/lib/kernel.h"
#include "tests/lib/lab.h"
#include "tests/lib/suite.h"

static TestLab t;

static void setup(void)
{
	test_lab_setup(&t);
}

static void teardown(void)
{
	test_lab_teardown(&t);
}

/* Starts @h's daemon for @v, stopping itself at @point (NULL: never). */
static void host_up(TestHost *h, TestVm *v, const char *extra_instance, const char *point)
{
	char arg[100];

	test_lab_config(h, v, extra_instance);
	snprintf(arg, sizeof(arg), "--debug-stop-at=%s", point ? point : "none");
	test_host_start_with(h, arg);
}

static void vm_up(TestVm *v, const char *name, bool boot, bool incoming)
{
	TestVmOptions o = { .boot = boot, .incoming = incoming };

	test_lab_vm_start(&t, v, name, &o);
}

/* The daemon crashed at its checkpoint and comes back without one. */
static void crash_and_restart(TestHost *h)
{
	ck_assert_int_eq(test_host_wait_stopped(h, 60000), 0);
	test_host_kill(h);
	test_host_start(h);
}

/* QEMU dies while its daemon is frozen at the checkpoint; then it runs on. */
static void kill_qemu_at_checkpoint(TestHost *h, TestVm *v)
{
	ck_assert_int_eq(test_host_wait_stopped(h, 60000), 0);
	test_vm_stop(v);
	test_host_continue(h);
}

/* Audits @h, reports one injected fault, and fails on any finding. */
static void audit(const char *fault, TestHost *h, unsigned expect_held)
{
	TestAudit a;

	test_host_audit(h, &a);
	printf("FOVD-FAULT %s: %s held=%u leaked=%u double=%u incomplete=0\n", fault, h->name,
	       a.held, a.leaked, a.doubled);
	fflush(stdout);
	ck_assert_msg(a.leaked == 0 && a.doubled == 0 && a.exposed == 0, "%s: %s", fault, a.why);
	ck_assert_uint_eq(a.held, expect_held);
}

/* Audits a second host that saw no fault of its own (not counted). */
static void audit_other(TestHost *h, unsigned expect_held)
{
	TestAudit a;

	test_host_audit(h, &a);
	ck_assert_msg(a.leaked == 0 && a.doubled == 0 && a.exposed == 0, "%s: %s", h->name, a.why);
	ck_assert_uint_eq(a.held, expect_held);
}

/* ---- attach, on a paused QEMU (the primary stays hidden: "staged") ---- */

static const struct {
	const char *point;
	const char *after_qemu_died; /* the pair's state once its QEMU is gone */
} attach_points[] = {
	/* The VF was just reserved: QEMU's exit gives it back like any other. */
	{ "reserved", "released" },
	{ "primary-added", "released" },
	{ "state:staged", "released" },
};

/*
 * QEMU hides a primary until the guest negotiates (docs/qemu-failover.md §hidden): invisible to
 * qom-list, but a second primary for the same standby is refused.
 */
static void assert_hidden_primary(TestVm *v)
{
	ck_assert(!test_vm_has_device(v, "fo-p0"));
	ck_assert_int_ne(test_vm_call(v, "device_add",
				      "{\"driver\": \"e1000e\", \"id\": \"fo-probe\", "
				      "\"bus\": \"rp2\", \"failover_pair_id\": \"net0\"}"),
			 0);
	ck_assert_msg(strstr(v->err.desc, "more than one primary"), "device_add: %s", v->err.desc);
}

START_TEST(test_attach_daemon_killed)
{
	const char *point = attach_points[_i].point;
	char fault[100];

	vm_up(&t.src, "src", false, false);
	host_up(&t.a, &t.src, NULL, point);
	crash_and_restart(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "staged", 30000), 0);
	assert_hidden_primary(&t.src);
	snprintf(fault, sizeof(fault), "daemon SIGKILLed at attach step '%s'", point);
	audit(fault, &t.a, 1);
}
END_TEST

START_TEST(test_attach_qemu_killed)
{
	const char *point = attach_points[_i].point;
	char fault[100];

	vm_up(&t.src, "src", false, false);
	host_up(&t.a, &t.src, NULL, point);
	kill_qemu_at_checkpoint(&t.a, &t.src);
	ck_assert_int_eq(
		test_host_wait_pair(&t.a, "vm1", "p0", attach_points[_i].after_qemu_died, 10000),
		0);
	snprintf(fault, sizeof(fault), "QEMU SIGKILLed at attach step '%s'", point);
	audit(fault, &t.a, 0);
}
END_TEST

/* Sets "key=" of @h's vm1/p0 state file to @value, as a predecessor would have written it. */
static void pair_file_set(TestHost *h, const char *key, const char *value)
{
	char path[300], *text, *line, *save = NULL;
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "%s/pairs/vm1@p0", h->state);
	text = test_log_read(path);
	ck_assert_ptr_nonnull(text);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, key, klen) == 0 && line[klen] == '=')
			fprintf(f, "%s=%s\n", key, value);
		else
			fprintf(f, "%s\n", line);
	ck_assert_int_eq(fclose(f), 0);
	free(text);
}

/*
 * Daemon and QEMU both die; when the daemon comes back, the dead QEMU's pid
 * belongs to another QEMU (the kernel recycles pids). The start time in the
 * state file tells them apart: the VF goes back instead of being held for a
 * stranger forever.
 */
START_TEST(test_qemu_pid_recycled_while_daemon_down)
{
	char pid[16], path[600], changed[32];
	struct timespec restart;

	vm_up(&t.src, "src", false, false);
	host_up(&t.a, &t.src, NULL, "state:staged");
	ck_assert_int_eq(test_host_wait_stopped(&t.a, 60000), 0);
	test_host_kill(&t.a);
	test_vm_stop(&t.src);
	/* Another QEMU now runs under the recorded pid. */
	vm_up(&t.dst, "dst", false, false);
	snprintf(pid, sizeof(pid), "%d", (int)test_qemu_pid(t.dst.qemu));
	pair_file_set(&t.a, "qemu_pid", pid);
	clock_gettime(CLOCK_REALTIME, &restart);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 10000), 0);
	ck_assert_int_eq(test_host_wait_log(&t.a, "exited while failoverd was down", 5000), 0);
	/* A transition like any other: logged, signalled, StateChangedUSec new (it was not). */
	ck_assert_int_eq(test_host_wait_log(&t.a, "pair vm1/p0: staged -> released", 5000), 0);
	snprintf(path, sizeof(path), "%s/pairs/vm1@p0", t.a.state);
	test_kv_get(path, "changed_us", changed, sizeof(changed));
	ck_assert_msg(strtoull(changed, NULL, 10) >= (uint64_t)restart.tv_sec * 1000000u,
		      "StateChangedUSec %s is from before the restart", changed);
	audit("daemon and QEMU SIGKILLed, the QEMU's pid recycled for another QEMU", &t.a, 0);
}
END_TEST

/* ---- an active pair (booted guest, bonded) ---- */

START_TEST(test_active_daemon_killed)
{
	vm_up(&t.src, "src", true, false);
	host_up(&t.a, &t.src, NULL, "state:active");
	crash_and_restart(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 60000), 0);
	ck_assert(test_vm_has_device(&t.src, "fo-p0"));
	audit("daemon SIGKILLed in 'active'", &t.a, 1);
}
END_TEST

START_TEST(test_active_qemu_killed)
{
	vm_up(&t.src, "src", true, false);
	host_up(&t.a, &t.src, NULL, "state:active");
	kill_qemu_at_checkpoint(&t.a, &t.src);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 10000), 0);
	audit("QEMU SIGKILLed in 'active'", &t.a, 0);
}
END_TEST

/* ---- migration: both sides ---- */

/*
 * Source under host A (stopping at @src_point), an -incoming destination
 * under host B (stopping at @dst_point); the source pair is active.
 */
static void migration_up(const char *src_point, const char *dst_point, bool prepare)
{
	vm_up(&t.src, "src", true, false);
	host_up(&t.a, &t.src, "UnplugTimeoutSec=30", src_point);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 120000), 0);
	ck_assert_msg(test_guest_wait_bonded(t.src.qemu, 60000) == 0, "guest did not bond (see %s)",
		      t.src.serial);
	vm_up(&t.dst, "dst", true, true);
	host_up(&t.b, &t.dst, prepare ? "PrepareIncoming=yes" : "PrepareIncoming=no", dst_point);
}

/* The end of every migration: source QEMU quits, its VF goes back. */
static void source_quits(void)
{
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrated", 60000), 0);
	ck_assert_int_eq(test_vm_call(&t.src, "quit", NULL), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 5000), 0);
}

START_TEST(test_migration_incoming_and_unplugging)
{
	migration_up("state:unplugging", "state:incoming", true);
	crash_and_restart(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
	audit("destination daemon SIGKILLed in 'incoming'", &t.b, 1);

	test_vm_migrate(&t.src, &t.dst);
	crash_and_restart(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	ck_assert(test_vm_has_device(&t.dst, "fo-p0"));
	source_quits();
	audit("source daemon SIGKILLed in 'unplugging'", &t.a, 0);
	audit_other(&t.b, 1);
}
END_TEST

/* Both daemons SIGKILLed during one migration, each at its own step. */
static const struct {
	const char *src_point, *dst_point;
	bool prepare;		/* else the primary is plugged after the guest negotiates */
	const char *dst_before; /* the destination's state before the stream */
	const char *src_fault, *dst_fault;
} both_killed[] = {
	{ "state:migrating", "state:active", true, "incoming",
	  "source daemon SIGKILLed in 'migrating'",
	  "destination daemon SIGKILLed in 'active' after the switch-over" },
	{ "state:migrated", "primary-added", false, "waiting",
	  "source daemon SIGKILLed in 'migrated'",
	  "destination daemon SIGKILLed after plugging the primary" },
};

START_TEST(test_migration_both_daemons_killed)
{
	migration_up(both_killed[_i].src_point, both_killed[_i].dst_point, both_killed[_i].prepare);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", both_killed[_i].dst_before, 30000),
			 0);
	test_vm_migrate(&t.src, &t.dst);
	crash_and_restart(&t.a);
	crash_and_restart(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	ck_assert(test_vm_has_device(&t.dst, "fo-p0"));
	audit(both_killed[_i].dst_fault, &t.b, 1);
	source_quits();
	audit(both_killed[_i].src_fault, &t.a, 0);
}
END_TEST

START_TEST(test_migration_dest_qemu_killed)
{
	migration_up("state:unplugging", NULL, true);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
	test_vm_migrate(&t.src, &t.dst);
	/* The destination dies while the guest unplugs: the migration fails. */
	ck_assert_int_eq(test_host_wait_stopped(&t.a, 60000), 0);
	test_vm_stop(&t.dst);
	test_host_continue(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "released", 10000), 0);
	audit("destination QEMU SIGKILLed during the unplug", &t.b, 0);
	ck_assert_int_ge(test_vm_wait_event(&t.src, "MIGRATION", "failed", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 60000), 0);
	ck_assert(test_vm_has_device(&t.src, "fo-p0"));
	audit_other(&t.a, 1);
}
END_TEST

START_TEST(test_migration_source_qemu_killed)
{
	bool dst_alive;

	migration_up("state:migrating", NULL, true);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
	/* Slow stream: the source dies with the migration still under way. */
	ck_assert_int_eq(
		test_vm_call(&t.src, "migrate-set-parameters", "{\"max-bandwidth\": 8000000}"), 0);
	test_vm_migrate(&t.src, &t.dst);
	kill_qemu_at_checkpoint(&t.a, &t.src);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 10000), 0);
	audit("source QEMU SIGKILLed in 'migrating'", &t.a, 0);
	/* QEMU is the truth: a destination that got the whole stream runs on. */
	test_vm_spin(t.base, 1000);
	dst_alive = test_qemu_wait_exit(t.dst.qemu, 5000, NULL) != 0;
	ck_assert_int_eq(
		test_host_wait_pair(&t.b, "vm1", "p0", dst_alive ? "active" : "released", 30000),
		0);
	audit_other(&t.b, dst_alive ? 1 : 0);
}
END_TEST

/*
 * A QEMU SIGKILLed while its daemon is frozen at a migration step, on
 * either side. The frozen side must release its VF; the other side follows
 * its own QEMU: a live one keeps its VF (active, incoming or migrated), a
 * dead one gives it back.
 */
static const struct {
	const char *fault;
	const char *src_point, *dst_point;
	bool kill_source, migrate;
} qemu_kills[] = {
	{ "destination QEMU SIGKILLed in 'incoming'", NULL, "state:incoming", false, false },
	{ "destination QEMU SIGKILLed in 'active' after the switch-over", NULL, "state:active",
	  false, true },
	{ "source QEMU SIGKILLed in 'unplugging'", "state:unplugging", NULL, true, true },
	{ "source QEMU SIGKILLed in 'migrated'", "state:migrated", NULL, true, true },
};

static bool holds_vf(const char *state)
{
	return strcmp(state, "active") == 0 || strcmp(state, "incoming") == 0 ||
	       strcmp(state, "migrated") == 0;
}

START_TEST(test_migration_qemu_killed)
{
	TestHost *frozen = qemu_kills[_i].kill_source ? &t.a : &t.b;
	TestHost *other = qemu_kills[_i].kill_source ? &t.b : &t.a;
	TestVm *victim = qemu_kills[_i].kill_source ? &t.src : &t.dst;
	TestVm *survivor = qemu_kills[_i].kill_source ? &t.dst : &t.src;
	char state[64] = "";
	bool alive = false;

	migration_up(qemu_kills[_i].src_point, qemu_kills[_i].dst_point, true);
	if (qemu_kills[_i].migrate) {
		ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
		test_vm_migrate(&t.src, &t.dst);
	}
	kill_qemu_at_checkpoint(frozen, victim);
	ck_assert_int_eq(test_host_wait_pair(frozen, "vm1", "p0", "released", 10000), 0);
	audit(qemu_kills[_i].fault, frozen, 0);

	/* QEMU is the truth on the other side too, once it has settled. */
	for (int k = 0; k < 300; k++) {
		test_vm_spin(t.base, 100);
		alive = test_qemu_wait_exit(survivor->qemu, 0, NULL) != 0;
		test_host_pair_get(other, "vm1", "p0", "state", state, sizeof(state));
		if (alive ? holds_vf(state) && k >= 20 : strcmp(state, "released") == 0)
			break;
	}
	ck_assert_msg(alive ? holds_vf(state) : strcmp(state, "released") == 0,
		      "%s: pair '%s' with its QEMU %s", other->name, state,
		      alive ? "running" : "gone");
	audit_other(other, alive ? 1 : 0);
}
END_TEST

/* ---- the data path (docs/traffic.md): a daemon killed half-way through steering ---- */

/* The test's own network namespace: a bridge per host, veth ports as standby taps and uplinks. */
static void steer_net_up(void)
{
	char out[1024];
	const char *cmd =
		"ip link set lo up && "
		"for h in A B; do ip link add fobr$h type bridge && ip link set fobr$h up && "
		"for d in tap up; do ip link add fo$d$h type veth peer name fo$d${h}w && "
		"ip link set fo$d$h master fobr$h up; done; done";

	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s: %s", cmd, out);
}

/* Anything steering left on host @h's bridge: the FDB lines for the pair's MAC. */
static bool steer_left(char h, char *why, size_t size)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "bridge fdb show | grep -i '^" TEST_LAB_MAC " ' | grep fo.*%c",
		 h);
	return test_run(cmd, why, size) == 0;
}

static void steer_host_up(TestHost *h, TestVm *v, char name, const char *point)
{
	char pair[200], arg[100];

	snprintf(pair, sizeof(pair),
		 "TrafficHandling=yes\nStandbyTap=fotap%c\nUplink=foup%c\nStandbyLinkDown=yes",
		 name, name);
	test_lab_config_pair(h, v, "UnplugTimeoutSec=30", pair);
	snprintf(arg, sizeof(arg), "--debug-stop-at=%s", point ? point : "none");
	test_host_start_with(h, arg);
}

static const char *const steer_points[] = { "steer-recorded", "steer-uplink-added" };

/*
 * Even _i: the successor starts at once and finds the migration still
 * running; odd: it starts only after the migration completed.
 */
START_TEST(test_migration_steering_daemon_killed)
{
	const char *point = steer_points[_i / 2];
	bool late = _i % 2;
	char why[1024] = "";

	steer_net_up();
	vm_up(&t.src, "src", true, false);
	steer_host_up(&t.a, &t.src, 'A', point);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 120000), 0);
	ck_assert_msg(test_guest_wait_bonded(t.src.qemu, 60000) == 0, "guest did not bond (see %s)",
		      t.src.serial);
	vm_up(&t.dst, "dst", true, true);
	steer_host_up(&t.b, &t.dst, 'B', NULL);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
	/* The destination's entries are in place before the stream. */
	ck_assert_msg(steer_left('B', why, sizeof(why)) && strstr(why, "fotapB"),
		      "no entry on the destination's tap: %s", why);

	/* The source daemon dies half-way through steering; its successor finishes the job. */
	test_vm_migrate(&t.src, &t.dst);
	ck_assert_int_eq(test_host_wait_stopped(&t.a, 60000), 0);
	test_host_kill(&t.a);
	if (late)
		ck_assert_int_ge(test_vm_wait_event(&t.src, "MIGRATION", "completed", 60000), 0);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	source_quits();
	ck_assert_msg(!steer_left('A', why, sizeof(why)), "source: left behind: %s", why);
	ck_assert_msg(!steer_left('B', why, sizeof(why)), "destination: left behind: %s", why);
	printf("FOVD-FAULT source daemon SIGKILLed at '%s' during a migration, back %s: %s "
	       "held=0 leaked=0 double=0 incomplete=0 steered=0\n",
	       point, late ? "after it completed" : "while it runs", t.a.name);
	audit_other(&t.a, 0);
	audit_other(&t.b, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("faults-pairs");
	TCase *tc = tcase_create("faults");
	int n = (int)(sizeof(attach_points) / sizeof(attach_points[0]));

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_attach_daemon_killed, 0, n);
	tcase_add_loop_test(tc, test_attach_qemu_killed, 0, n);
	tcase_add_test(tc, test_qemu_pid_recycled_while_daemon_down);
	tcase_add_test(tc, test_active_daemon_killed);
	tcase_add_test(tc, test_active_qemu_killed);
	tcase_add_test(tc, test_migration_incoming_and_unplugging);
	tcase_add_loop_test(tc, test_migration_both_daemons_killed, 0,
			    (int)(sizeof(both_killed) / sizeof(both_killed[0])));
	tcase_add_test(tc, test_migration_dest_qemu_killed);
	tcase_add_test(tc, test_migration_source_qemu_killed);
	tcase_add_loop_test(tc, test_migration_qemu_killed, 0,
			    (int)(sizeof(qemu_kills) / sizeof(qemu_kills[0])));
	suite_add_tcase(s, tc);
	/* Each in a network namespace of its own (unshared in the forked test). */
	tc = tcase_create("steer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_migration_steering_daemon_killed, 0,
			    2 * (int)(sizeof(steer_points) / sizeof(steer_points[0])));
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
