/*
 * The pair engine end to end: two failoverd processes act as two hosts, two
 * QEMUs running the test guest act as migration source and destination,
 * and the pool is the emulated one (an e1000e stand-in for a VF, SPEC §4).
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

#define MAC "52:54:00:aa:bb:01"

typedef struct Vm {
	char name[16];
	char qmp[300];	/* the daemon's monitor */
	char tqmp[300]; /* the test's own monitor */
	char serial[300];
	char migrate[300];
	TestQemu *qemu;
	QmpConn *conn;
	int n_ready;
	char events[64][32];
	QmpTimestamp ts[64];
	char data[64][160];
	int n_events;
} Vm;

static struct {
	struct event_base *base;
	TestDir *dir;
	TestHost a, b;
	Vm src, dst;
	int n_done, r;
	QmpError err;
	char ret[4096];
} t;

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_ready(QmpConn *c, void *ud)
{
	((Vm *)ud)->n_ready++;
}

static void on_disconnected(QmpConn *c, int err, const char *reason, void *ud)
{
}

static void on_event(QmpConn *c, const char *name, json_object *data, const QmpTimestamp *ts,
		     void *ud)
{
	Vm *v = ud;

	if (v->n_events >= 64)
		return;
	snprintf(v->events[v->n_events], sizeof(v->events[0]), "%s", name);
	snprintf(v->data[v->n_events], sizeof(v->data[0]), "%s",
		 data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN) : "");
	v->ts[v->n_events++] = *ts;
}

static const QmpConnOps ops = { on_ready, on_disconnected, on_event };

static void on_reply(QmpConn *c, int r, json_object *ret, const QmpError *err, void *ud)
{
	t.r = r;
	t.ret[0] = 0;
	if (ret)
		snprintf(t.ret, sizeof(t.ret), "%s",
			 json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN));
	if (err)
		t.err = *err;
	t.n_done++;
}

static void spin(unsigned ms)
{
	uint64_t end = ms_now() + ms;

	while (ms_now() < end)
		event_base_loop(t.base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(2000);
}

static int vm_call(Vm *v, const char *command, const char *args_json)
{
	int before = t.n_done;
	uint64_t end = ms_now() + 30000;
	json_object *args = args_json ? json_tokener_parse(args_json) : NULL;

	ck_assert_int_eq(qmp_conn_call(v->conn, command, args, 30000, on_reply, NULL), 0);
	while (t.n_done == before && ms_now() < end)
		event_base_loop(t.base, EVLOOP_ONCE);
	ck_assert_int_gt(t.n_done, before);
	return t.r;
}

/* Index of the first @event (with @data_substr) seen from @v, or -1. */
static int vm_find_event(Vm *v, const char *event, const char *data_substr)
{
	for (int i = 0; i < v->n_events; i++)
		if (strcmp(v->events[i], event) == 0 &&
		    (!data_substr || strstr(v->data[i], data_substr)))
			return i;
	return -1;
}

static int vm_wait_event(Vm *v, const char *event, const char *data_substr, unsigned ms)
{
	uint64_t end = ms_now() + ms;
	int k;

	while ((k = vm_find_event(v, event, data_substr)) < 0 && ms_now() < end)
		spin(20);
	return k;
}

static bool vm_has_device(Vm *v, const char *id)
{
	char needle[100];

	ck_assert_int_eq(vm_call(v, "qom-list", "{\"path\": \"/machine/peripheral\"}"), 0);
	snprintf(needle, sizeof(needle), "\"name\":\"%s\"", id);
	return strstr(t.ret, needle) != NULL;
}

static double ts_ms(const QmpTimestamp *ts)
{
	return (double)ts->seconds * 1000.0 + (double)ts->microseconds / 1000.0;
}

static void vm_start(Vm *v, const char *name, bool incoming, bool nofailover)
{
	char qmp2[400];
	const char *extra[] = { "-qmp", qmp2, NULL };
	TestGuestOptions o = { 0 };
	const char *dir = test_dir_path(t.dir);

	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->qmp, sizeof(v->qmp), "%s/%s.qmp", dir, name);
	snprintf(v->tqmp, sizeof(v->tqmp), "%s/%s-test.qmp", dir, name);
	snprintf(v->serial, sizeof(v->serial), "%s/%s-serial.log", dir, name);
	snprintf(v->migrate, sizeof(v->migrate), "%s/%s-migrate.sock", dir, name);
	snprintf(qmp2, sizeof(qmp2), "unix:%s,server=on,wait=off", v->tqmp);
	o.qmp_path = v->qmp;
	o.serial_log = v->serial;
	o.boot = true;
	o.incoming = incoming;
	o.name = "vm1";
	o.standby = true;
	o.n_root_ports = 3;
	o.nofailover = nofailover;
	o.extra_args = extra;
	v->qemu = test_guest_spawn(&o, dir);
	ck_assert_ptr_nonnull(v->qemu);
	ck_assert_int_eq(test_qemu_wait_socket(v->qemu, v->tqmp, 20000), 0);
	ck_assert_int_eq(qmp_conn_new_connect(&v->conn, t.base, v->tqmp, false, &ops, v), 0);
	while (v->n_ready == 0)
		event_base_loop(t.base, EVLOOP_ONCE);
	/* Events on our own monitor too: migration events need the capability. */
	ck_assert_int_eq(
		vm_call(v, "migrate-set-capabilities",
			"{\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}"),
		0);
}

static void vm_stop(Vm *v)
{
	v->conn = qmp_conn_free(v->conn);
	v->qemu = test_qemu_free(v->qemu);
}

static void host_config(TestHost *h, const char *vm_qmp, const char *extra_instance)
{
	test_host_write_conf(h, "failoverd.conf", "[Daemon]\nNegotiateTimeoutSec=25\n");
	test_host_write_conf(h, "emu.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=4\n");
	test_host_write_conf(h, "vm1.vm",
			     "[Instance]\nName=vm1\nQMP=%s\n%s\n"
			     "[Pair]\nName=p0\nPool=emu\nMACAddress=" MAC "\nStandby=net0\n",
			     vm_qmp, extra_instance ? extra_instance : "");
}

static void setup(void)
{
	memset(&t, 0, sizeof(t));
	t.base = event_base_new();
	t.dir = test_dir_new();
	test_host_init(&t.a, test_dir_path(t.dir), "host-a");
	test_host_init(&t.b, test_dir_path(t.dir), "host-b");
}

static void teardown(void)
{
	test_host_kill(&t.a);
	test_host_kill(&t.b);
	vm_stop(&t.src);
	vm_stop(&t.dst);
	test_dir_free(t.dir);
	event_base_free(t.base);
}

/* Source guest booted under host A with its pair active and bonded. */
static void bring_up_source(const char *extra_instance)
{
	vm_start(&t.src, "src", false, false);
	host_config(&t.a, t.src.qmp, extra_instance);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 120000), 0);
	ck_assert(vm_has_device(&t.src, "fo-p0"));
	ck_assert_msg(test_guest_wait_bonded(t.src.qemu, 60000) == 0,
		      "guest did not bond virtio + e1000e (see %s)", t.src.serial);
}

/* Starts the migration from the test's own monitors, as an orchestrator would. */
static void migrate(void)
{
	char uri[400];

	snprintf(uri, sizeof(uri), "{\"uri\": \"unix:%s\"}", t.dst.migrate);
	ck_assert_int_eq(vm_call(&t.dst, "migrate-incoming", uri), 0);
	ck_assert_int_eq(vm_call(&t.src, "migrate", uri), 0);
}

/*
 * Degraded window, from QEMU's and the daemon's own timestamps: the guest
 * has no primary from the source's UNPLUG_PRIMARY until the destination's
 * primary is in (pre-staged: plugged at load, before RESUME; otherwise when
 * the destination daemon saw it realized).
 */
static void report_window(const char *scenario, bool prestaged)
{
	int k = vm_wait_event(&t.src, "UNPLUG_PRIMARY", NULL, 5000);
	int r = vm_wait_event(&t.dst, "RESUME", NULL, 5000);
	char changed[32];
	double unplug, resume, active;

	ck_assert_int_ge(k, 0);
	ck_assert_int_ge(r, 0);
	test_host_pair_get(&t.b, "vm1", "p0", "changed_us", changed, sizeof(changed));
	unplug = ts_ms(&t.src.ts[k]);
	resume = ts_ms(&t.dst.ts[r]);
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
	ck_assert_int_ge(vm_wait_event(&t.src, "FAILOVER_NEGOTIATED", "net0", 10000), 0);
	printf("scenario 1: pair active, primary fo-p0 realized, guest bonded\n");
}
END_TEST

START_TEST(test_2_migrate_prepared)
{
	char vf[64];

	printf("scenario 2: migrate with PrepareIncoming\n");
	bring_up_source(NULL);
	vm_start(&t.dst, "dst", true, false);
	host_config(&t.b, t.dst.qmp, "PrepareIncoming=yes");
	test_host_start(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "incoming", 30000), 0);
	migrate();
	ck_assert_int_ge(vm_wait_event(&t.src, "UNPLUG_PRIMARY", "fo-p0", 30000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "migrated", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	ck_assert(vm_has_device(&t.dst, "fo-p0"));
	ck_assert_msg(test_guest_wait_bonded(t.dst.qemu, 60000) == 0,
		      "guest not bonded on destination (see %s)", t.dst.serial);
	report_window("2", true);

	/* The source keeps its VF until its QEMU is gone. */
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_str_ne(vf, "");
	ck_assert_int_eq(vm_call(&t.src, "quit", NULL), 0);
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
	host_config(&t.b, t.dst.qmp, "PrepareIncoming=no");
	test_host_start(&t.b);
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "waiting", 30000), 0);
	migrate();
	ck_assert_int_eq(test_host_wait_pair(&t.b, "vm1", "p0", "active", 60000), 0);
	ck_assert_int_ge(vm_wait_event(&t.dst, "FAILOVER_NEGOTIATED", "net0", 10000), 0);
	ck_assert(vm_has_device(&t.dst, "fo-p0"));
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
	migrate();
	ck_assert_int_ge(vm_wait_event(&t.src, "UNPLUG_PRIMARY", "fo-p0", 30000), 0);
	ck_assert_int_eq(vm_call(&t.src, "migrate_cancel", NULL), 0);
	ck_assert_int_ge(vm_wait_event(&t.src, "MIGRATION", "cancelled", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 30000), 0);
	ck_assert(vm_has_device(&t.src, "fo-p0"));
	test_host_pair_get(&t.a, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_str_ne(vf, "");
	printf("scenario 4: source active again with VF %s, nothing leaked\n", vf);
}
END_TEST

START_TEST(test_5_unplug_timeout)
{
	char reason[300];

	printf("scenario 5: paused source guest -> unplug timeout\n");
	bring_up_source("UnplugTimeoutSec=3");
	vm_start(&t.dst, "dst", true, false);
	ck_assert_int_eq(vm_call(&t.src, "stop", NULL), 0);
	migrate();
	ck_assert_int_ge(vm_wait_event(&t.src, "UNPLUG_PRIMARY", "fo-p0", 30000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "unplugging", 5000), 0);
	/* QEMU holds "cancelling" for a hard-coded 30 s with a silent guest. */
	ck_assert_int_ge(vm_wait_event(&t.src, "MIGRATION", "cancel", 20000), 0);
	ck_assert_int_ge(vm_wait_event(&t.src, "MIGRATION", "cancelled", 60000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 30000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "reason", reason, sizeof(reason));
	ck_assert_msg(strstr(reason, "UnplugTimeoutSec") != NULL, "reason: %s", reason);
	printf("scenario 5: migration cancelled, reason: %s\n", reason);
	/* The guest runs again, finishes the stale eject; the daemon re-plugs. */
	ck_assert_int_eq(vm_call(&t.src, "cont", NULL), 0);
	ck_assert_int_ge(vm_wait_event(&t.src, "DEVICE_DELETED", "fo-p0", 30000), 0);
	spin(500);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "active", 30000), 0);
	ck_assert(vm_has_device(&t.src, "fo-p0"));
}
END_TEST

START_TEST(test_6_daemon_killed_and_restarted)
{
	char vf_a[64], vf_b[64];

	printf("scenario 6: daemons SIGKILLed during incoming, unplugging, migrating\n");
	bring_up_source("UnplugTimeoutSec=20");
	vm_start(&t.dst, "dst", true, false);
	host_config(&t.b, t.dst.qmp, "PrepareIncoming=yes");
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
	ck_assert_int_eq(vm_call(&t.src, "migrate-set-parameters", "{\"max-bandwidth\": 8000000}"),
			 0);
	migrate();
	ck_assert_int_ge(vm_wait_event(&t.src, "UNPLUG_PRIMARY", "fo-p0", 30000), 0);
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
	ck_assert(vm_has_device(&t.dst, "fo-p0"));
	ck_assert_int_eq(vm_call(&t.src, "quit", NULL), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 5000), 0);
	printf("scenario 6: converged after restarts: destination active on %s, source released\n",
	       vf_b);
}
END_TEST

START_TEST(test_7_qemu_killed)
{
	uint64_t t0;

	printf("scenario 7: QEMU killed -> VF released\n");
	bring_up_source(NULL);
	test_qemu_kill(t.src.qemu);
	t0 = ms_now();
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "released", 1000), 0);
	printf("scenario 7: VF released %llu ms after QEMU was killed\n",
	       (unsigned long long)(ms_now() - t0));
}
END_TEST

START_TEST(test_8_guest_without_net_failover)
{
	char neg[8], reason[300];

	printf("scenario 8: guest without net_failover\n");
	vm_start(&t.src, "src", false, true);
	host_config(&t.a, t.src.qmp, NULL);
	test_host_start(&t.a);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "staged", 30000), 0);
	ck_assert_int_eq(test_host_wait_pair(&t.a, "vm1", "p0", "waiting", 90000), 0);
	test_host_pair_get(&t.a, "vm1", "p0", "guest_negotiated", neg, sizeof(neg));
	test_host_pair_get(&t.a, "vm1", "p0", "reason", reason, sizeof(reason));
	ck_assert_str_eq(neg, "0");
	ck_assert_msg(strstr(reason, "net_failover") != NULL, "reason: %s", reason);
	ck_assert_int_eq(test_host_wait_log(&t.a, "has not negotiated", 1000), 0);
	ck_assert(!vm_has_device(&t.src, "fo-p0"));
	printf("scenario 8: pair waiting, GuestNegotiated=false: %s\n", reason);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("e2e-pairs");
	TCase *tc = tcase_create("two-hosts");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_1_attach);
	tcase_add_test(tc, test_2_migrate_prepared);
	tcase_add_test(tc, test_3_migrate_unprepared);
	tcase_add_test(tc, test_4_cancel_during_wait_unplug);
	tcase_add_test(tc, test_5_unplug_timeout);
	tcase_add_test(tc, test_6_daemon_killed_and_restarted);
	tcase_add_test(tc, test_7_qemu_killed);
	tcase_add_test(tc, test_8_guest_without_net_failover);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_VERBOSE);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
