/*
 * The QMP layer against real qemu-system-x86_64 (TCG): capability probe,
 * hidden primaries, a booted guest negotiating failover, QEMU dying
 * mid-command, and the daemon surviving a garbage-speaking peer.
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

typedef struct Ctx {
	struct event_base *base;
	QmpConn *conn;
	TestDir *dir;
	TestQemu *qemu;
	char qmp_path[256];
	int n_ready, n_disconnected, n_done;
	char reason[512];
	/* last reply */
	int r;
	QmpError err;
	json_object *ret;
	/* events */
	char events[32][64];
	char event_data[32][256];
	QmpTimestamp event_ts[32];
	int n_events;
	/* probe */
	QmpProbe probe;
	char probe_reason[512];
} Ctx;

static Ctx ctx;

static int spin_until(int *counter, int want, unsigned ms)
{
	int64_t end = test_now_ms() + ms;

	while (*counter < want && test_now_ms() < end)
		event_base_loop(ctx.base, EVLOOP_ONCE);
	return *counter >= want ? 0 : -ETIMEDOUT;
}

static void on_ready(QmpConn *c, void *ud)
{
	ctx.n_ready++;
}

static void on_disconnected(QmpConn *c, int err, const char *reason, void *ud)
{
	ctx.n_disconnected++;
	snprintf(ctx.reason, sizeof(ctx.reason), "%s", reason);
}

static void on_event(QmpConn *c, const char *name, const QmpValue *data, const QmpTimestamp *ts,
		     void *ud)
{
	if (ctx.n_events >= 32)
		return;
	snprintf(ctx.events[ctx.n_events], sizeof(ctx.events[0]), "%s", name);
	if (data)
		qmp_value_format(*data, ctx.event_data[ctx.n_events], sizeof(ctx.event_data[0]));
	else
		ctx.event_data[ctx.n_events][0] = 0;
	ctx.event_ts[ctx.n_events] = *ts;
	ctx.n_events++;
}

static const QmpConnOps ops = { on_ready, on_disconnected, on_event };

static void on_reply(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	ctx.r = r;
	if (ctx.ret)
		json_object_put(ctx.ret);
	ctx.ret = NULL;
	/* Kept for the checks after the call: the view is only valid in here. */
	if (ret)
		ck_assert_int_eq(qmp_value_to_json(*ret, &ctx.ret), 0);
	memset(&ctx.err, 0, sizeof(ctx.err));
	if (err)
		ctx.err = *err;
	ctx.n_done++;
}

/* Synchronous wrapper for test readability: send, spin, return r. */
static int call(const char *command, json_object *args)
{
	int before = ctx.n_done;

	ck_assert_int_eq(
		qmp_conn_call(ctx.conn, command, args, QMP_RETURN_ANY, 20000, on_reply, NULL), 0);
	ck_assert_int_eq(spin_until(&ctx.n_done, before + 1, 25000), 0);
	return ctx.r;
}

static json_object *args_of(const char *json)
{
	json_object *o = json_tokener_parse(json);

	ck_assert_ptr_nonnull(o);
	return o;
}

static bool peripheral_has(const char *id)
{
	bool found = false;

	ck_assert_int_eq(call("qom-list", args_of("{\"path\": \"/machine/peripheral\"}")), 0);
	for (size_t i = 0; i < json_object_array_length(ctx.ret); i++) {
		json_object *v;

		if (json_object_object_get_ex(json_object_array_get_idx(ctx.ret, i), "name", &v) &&
		    strcmp(json_object_get_string(v), id) == 0)
			found = true;
	}
	return found;
}

static bool pci_has(const char *id)
{
	ck_assert_int_eq(call("query-pci", NULL), 0);
	char needle[128];

	snprintf(needle, sizeof(needle), "\"qdev_id\":\"%s\"", id);
	return strstr(json_object_to_json_string_ext(ctx.ret, JSON_C_TO_STRING_PLAIN), needle);
}

static void setup(void)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.base = event_base_new();
	ctx.dir = test_dir_new();
	snprintf(ctx.qmp_path, sizeof(ctx.qmp_path), "%s/vm.qmp", test_dir_path(ctx.dir));
}

static void teardown(void)
{
	qmp_conn_free(ctx.conn);
	if (ctx.ret)
		json_object_put(ctx.ret);
	test_qemu_free(ctx.qemu);
	test_dir_free(ctx.dir);
	event_base_free(ctx.base);
}

/* Starts a failover-guest QEMU (paused unless @boot) and connects to it. */
static void start_qemu(bool boot)
{
	TestGuestOptions o = {
		.qmp_path = ctx.qmp_path,
		.paused = !boot,
		.boot = boot,
		.standby = true,
		.n_root_ports = 3,
	};
	char log[300];

	snprintf(log, sizeof(log), "%s/guest.log", test_dir_path(ctx.dir));
	o.serial_log = log;
	ctx.qemu = test_guest_spawn(&o, test_dir_path(ctx.dir));
	ck_assert_ptr_nonnull(ctx.qemu);
	ck_assert_int_eq(test_qemu_wait_socket(ctx.qemu, ctx.qmp_path, 20000), 0);
	ck_assert_int_eq(qmp_conn_new_connect(&ctx.conn, ctx.base, ctx.qmp_path, false, &ops, NULL),
			 0);
	ck_assert_int_eq(spin_until(&ctx.n_ready, 1, 20000), 0);
}

static void on_probe(QmpConn *c, int r, const QmpProbe *probe, const char *reason, void *ud)
{
	ctx.r = r;
	ctx.probe = *probe;
	snprintf(ctx.probe_reason, sizeof(ctx.probe_reason), "%s", reason ? reason : "");
	ctx.n_done++;
}

START_TEST(test_probe_installed_qemu)
{
	start_qemu(false);
	ck_assert_int_eq(qmp_probe_start(ctx.conn, "vfio-pci", on_probe, NULL), 0);
	ck_assert_int_eq(spin_until(&ctx.n_done, 1, 20000), 0);
	ck_assert_msg(ctx.r == 0, "probe refused the installed QEMU: %s", ctx.probe_reason);
	ck_assert_int_ge(ctx.probe.version.major, 7);
	ck_assert(ctx.probe.standby_failover);
	ck_assert(ctx.probe.primary_pair_id);
	ck_assert(ctx.probe.event_unplug_primary);
	ck_assert(ctx.probe.event_failover_negotiated);
	printf("probe: QEMU %d.%d.%d (%s) supports failover\n", ctx.probe.version.major,
	       ctx.probe.version.minor, ctx.probe.version.micro, ctx.probe.version.package);

	/* A primary driver QEMU does not have: refused, saying what is missing. */
	ck_assert_int_eq(qmp_probe_start(ctx.conn, "no-such-nic", on_probe, NULL), 0);
	ck_assert_int_eq(spin_until(&ctx.n_done, 2, 20000), 0);
	ck_assert_int_eq(ctx.r, -EOPNOTSUPP);
	ck_assert_msg(strstr(ctx.probe_reason, "failover_pair_id") != NULL, "reason: %s",
		      ctx.probe_reason);
}
END_TEST

START_TEST(test_primary_hidden_on_paused_guest)
{
	start_qemu(false);
	ck_assert_int_eq(
		call("device_add", args_of("{\"driver\": \"e1000e\", \"id\": \"hostdev0\", "
					   "\"mac\": \"52:54:00:aa:bb:01\", \"bus\": "
					   "\"rp2\", \"failover_pair_id\": \"net0\", "
					   "\"romfile\": \"\"}")),
		0);
	/* Accepted, yet neither in the QOM tree nor on the PCI bus (docs/qemu-failover.md). */
	ck_assert(peripheral_has("net0"));
	ck_assert(!peripheral_has("hostdev0"));
	ck_assert(!pci_has("hostdev0"));
	ck_assert_int_eq(call("device_del", args_of("{\"id\": \"hostdev0\"}")), -EREMOTEIO);
	ck_assert_str_eq(ctx.err.klass, "DeviceNotFound");
	ck_assert_int_eq(
		call("device_add", args_of("{\"driver\": \"e1000e\", \"id\": \"hostdev1\", "
					   "\"bus\": \"rp3\", \"failover_pair_id\": "
					   "\"net0\", \"romfile\": \"\"}")),
		-EREMOTEIO);
	ck_assert_msg(strstr(ctx.err.desc, "more than one primary") != NULL, "desc: %s",
		      ctx.err.desc);
	printf("hidden primary: device_add ok, not in qom-list/query-pci, device_del -> %s\n",
	       "DeviceNotFound");
}
END_TEST

START_TEST(test_guest_negotiates_and_primary_realized)
{
	uint64_t t0;
	int k = -1;

	start_qemu(true);
	t0 = test_now_ms();
	/* Added before the guest negotiates: hidden until FAILOVER_NEGOTIATED. */
	ck_assert_int_eq(
		call("device_add", args_of("{\"driver\": \"e1000e\", \"id\": \"hostdev0\", "
					   "\"mac\": \"52:54:00:aa:bb:01\", \"bus\": "
					   "\"rp2\", \"failover_pair_id\": \"net0\", "
					   "\"romfile\": \"\"}")),
		0);
	while (test_now_ms() - t0 < 120000 && k < 0) {
		event_base_loop(ctx.base, EVLOOP_ONCE);
		for (int i = 0; i < ctx.n_events; i++)
			if (strcmp(ctx.events[i], "FAILOVER_NEGOTIATED") == 0)
				k = i;
	}
	ck_assert_msg(k >= 0, "guest never negotiated failover (see guest.log)");
	ck_assert_ptr_nonnull(strstr(ctx.event_data[k], "\"device-id\":\"net0\""));
	ck_assert(peripheral_has("hostdev0"));
	printf("negotiation observed: FAILOVER_NEGOTIATED %s at %lld.%06lld, %.1f s after boot; "
	       "primary hostdev0 realized (qom-list)\n",
	       ctx.event_data[k], (long long)ctx.event_ts[k].seconds,
	       (long long)ctx.event_ts[k].microseconds, (double)(test_now_ms() - t0) / 1000.0);
	ck_assert_int_eq(test_guest_wait_bonded(ctx.qemu, 60000), 0);
	printf("guest console: net_failover master bonds the virtio and e1000e NICs\n");
}
END_TEST

START_TEST(test_qemu_killed_during_command)
{
	start_qemu(false);
	/* A stopped QEMU cannot answer: the command is surely in flight. */
	kill(test_qemu_pid(ctx.qemu), SIGSTOP);
	ck_assert_int_eq(qmp_conn_call(ctx.conn, "query-status", NULL, json_type_object, 30000,
				       on_reply, NULL),
			 0);
	ck_assert_int_eq(qmp_conn_call(ctx.conn, "query-name", NULL, json_type_object, 30000,
				       on_reply, NULL),
			 0);
	test_qemu_kill(ctx.qemu);
	ck_assert_int_eq(spin_until(&ctx.n_disconnected, 1, 10000), 0);
	spin_until(&ctx.n_done, 3, 300);
	ck_assert_int_eq(ctx.n_done, 2);
	ck_assert_int_eq(ctx.r, -ECONNRESET);
	ck_assert_int_eq(ctx.n_disconnected, 1);
	ck_assert_int_eq(qmp_conn_get_n_pending(ctx.conn), 0);
	printf("QEMU killed mid-command: both pending calls failed once: %s\n", ctx.err.desc);
}
END_TEST

/* --- the daemon vs. a FAKE peer speaking garbage, then a real QEMU --- */

START_TEST(test_daemon_survives_garbage_peer)
{
	char sock[300], log[300], qmp[300];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char bin[300];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"),
			       "--log-level=debug",
			       "--listen-qmp",
			       sock,
			       "--state-dir",
			       NULL,
			       NULL };
	TestQemu *daemon;
	int fd;

	snprintf(sock, sizeof(sock), "%s/failoverd.sock", test_dir_path(ctx.dir));
	snprintf(log, sizeof(log), "%s/daemon.log", test_dir_path(ctx.dir));
	snprintf(qmp, sizeof(qmp), "%s/state", test_dir_path(ctx.dir));
	argv[5] = qmp;
	daemon = test_qemu_spawn(argv, log);
	ck_assert_ptr_nonnull(daemon);
	ck_assert_int_eq(test_qemu_wait_socket(daemon, sock, 10000), 0);

	/* The fake peer: greets like QEMU, then sends garbage. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	dprintf(fd,
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": "
		"10}, \"package\": \"\"}, \"capabilities\": []}}\r\n{\"return\": }}}garbage\r\n");
	ck_assert_int_eq(test_log_wait(log, "invalid JSON", 10000), 0);
	close(fd);

	/* The daemon is still there and takes a real QEMU. */
	ck_assert_int_eq(kill(test_qemu_pid(daemon), 0), 0);
	{
		char chardev[400];
		const char *qargv[] = { "qemu-system-x86_64",
					"-accel",
					"tcg",
					"-M",
					"q35",
					"-S",
					"-nodefaults",
					"-display",
					"none",
					"-chardev",
					chardev,
					"-mon",
					"chardev=fo,mode=control",
					NULL };

		snprintf(chardev, sizeof(chardev), "socket,id=fo,path=%s", sock);
		snprintf(qmp, sizeof(qmp), "%s/qemu.log", test_dir_path(ctx.dir));
		ctx.qemu = test_qemu_spawn(qargv, qmp);
		ck_assert_ptr_nonnull(ctx.qemu);
	}
	ck_assert_int_eq(test_log_wait(log, "ready (prelaunch", 20000), 0);
	printf("daemon closed the garbage peer and then accepted a real QEMU\n");
	test_qemu_free(daemon);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qmp-qemu");
	TCase *tc = tcase_create("real-qemu");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_probe_installed_qemu);
	tcase_add_test(tc, test_primary_hidden_on_paused_guest);
	tcase_add_test(tc, test_guest_negotiates_and_primary_realized);
	tcase_add_test(tc, test_qemu_killed_during_command);
	tcase_add_test(tc, test_daemon_survives_garbage_peer);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
