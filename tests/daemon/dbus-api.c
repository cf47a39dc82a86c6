/*
 * The D-Bus control plane through a real bus: a private dbus-daemon, the
 * real failoverd on it, a paused QEMU (firmware only) whose pairs the
 * emulated pool serves, and callers of every method — sd-bus from this
 * test, failoverctl, and an unprivileged user (run-dbus-tier.sh creates
 * FOVD_TEST_USER and FOVD_TEST_ADMIN_GROUP) through setpriv.
 */

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cluster.h"
#include "tests/lib/harness.h"
#include "tests/lib/relay.h"
#include "tests/lib/suite.h"

#define NAME	  "org.failoverd1"
#define PATH	  "/org/failoverd1"
#define MANAGER	  "org.failoverd1.Manager"
#define PAIR	  "org.failoverd1.Pair"
#define POOL	  "org.failoverd1.Pool"
#define INSTANCE  "org.failoverd1.Instance"
#define P0_PATH	  "/org/failoverd1/pair/vm1_2fp0"
#define P1_PATH	  "/org/failoverd1/pair/vm1_2fp1"
#define POOL_PATH "/org/failoverd1/pool/emu"
#define MAC0	  "52:54:00:aa:bb:01"
#define MAC1	  "52:54:00:aa:bb:02"

static struct {
	TestDir *dir;
	char address[400];
	char qmp[300];
	TestHost host;
	TestQemu *dbus, *qemu, *monitor;
	sd_bus *bus;
	char user[64], admin_group[64];
	char ctl[300];	  /* failoverctl of the build under test */
	TestRelay relay;  /* the daemon's monitor wire, when cut by the test */
	char listen[300]; /* ListenQMP=, when QEMU dials the daemon */
	bool boot;	  /* boot the test guest instead of a paused QEMU */
	char tqmp[300];	  /* then the test's own monitor */
	/* signals seen */
	char seen[64][200];
	int n_seen;
} t;

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

/* --- the private bus --- */

static const char permissive_policy[] = "  <policy context=\"default\">\n"
					"    <allow user=\"*\"/>\n"
					"    <allow own=\"*\"/>\n"
					"    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
					"    <allow eavesdrop=\"true\"/>\n"
					"  </policy>\n";

/* Debian's system.conf defaults, so the shipped policy is what decides. */
static const char system_policy[] =
	"  <policy context=\"default\">\n"
	"    <allow user=\"*\"/>\n"
	"    <deny own=\"*\"/>\n"
	"    <deny send_type=\"method_call\"/>\n"
	"    <allow send_type=\"signal\"/>\n"
	"    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
	"    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
	"    <allow receive_type=\"method_call\"/>\n"
	"    <allow receive_type=\"method_return\"/>\n"
	"    <allow receive_type=\"error\"/>\n"
	"    <allow receive_type=\"signal\"/>\n"
	"    <allow send_destination=\"org.freedesktop.DBus\"\n"
	"           send_interface=\"org.freedesktop.DBus\"/>\n"
	"    <allow send_destination=\"org.freedesktop.DBus\"\n"
	"           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
	"  </policy>\n";

static void bus_start(bool shipped_policy)
{
	char conf[400], sock[400], policy[PATH_MAX];
	const char *argv[] = { "dbus-daemon", "--nofork", "--nopidfile", NULL, NULL };
	char arg[500];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/bus.conf", test_dir_path(t.dir));
	snprintf(sock, sizeof(sock), "%s/bus.sock", test_dir_path(t.dir));
	snprintf(t.address, sizeof(t.address), "unix:path=%s", sock);
	f = fopen(conf, "we");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
		"1.0//EN\"\n \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		"<busconfig>\n  <listen>%s</listen>\n  <auth>EXTERNAL</auth>\n%s",
		t.address, shipped_policy ? system_policy : permissive_policy);
	if (shipped_policy) {
		ck_assert_ptr_nonnull(realpath("systemd/org.failoverd1.conf", policy));
		fprintf(f, "  <include>%s</include>\n", policy);
	}
	fprintf(f, "</busconfig>\n");
	fclose(f);
	snprintf(arg, sizeof(arg), "--config-file=%s", conf);
	argv[3] = arg;
	t.dbus = test_qemu_spawn(argv, test_dir_file(t.dir, "dbus-daemon.log"));
	ck_assert_ptr_nonnull(t.dbus);
	ck_assert_int_eq(test_qemu_wait_socket(t.dbus, sock, 10000), 0);
	setenv("FAILOVERD_BUS_ADDRESS", t.address, 1);
}

static sd_bus *bus_connect(void)
{
	sd_bus *bus = NULL;

	ck_assert_int_ge(sd_bus_new(&bus), 0);
	ck_assert_int_ge(sd_bus_set_address(bus, t.address), 0);
	ck_assert_int_ge(sd_bus_set_bus_client(bus, 1), 0);
	ck_assert_int_ge(sd_bus_start(bus), 0);
	return bus;
}

/* --- the daemon and its QEMU --- */

static void qemu_start_with(bool incoming, bool relay)
{
	char chardev[400];
	const char *extra[] = {
		"-netdev", "user,id=hn1",
		"-device", "virtio-net-pci,id=net1,netdev=hn1,mac=" MAC1 ",bus=rp3,failover=on",
		NULL,	   NULL,
		NULL,	   NULL,
		NULL
	};
	TestGuestOptions o = { 0 };

	snprintf(t.qmp, sizeof(t.qmp), "%s/vm1.qmp", test_dir_path(t.dir));
	o.qmp_path = t.qmp;
	if (relay) {
		char wire[300];

		/*
		 * failoverd dials the relay, QEMU's own socket behind it; or, with
		 * ListenQMP=, QEMU dials the relay, failoverd's socket behind it.
		 */
		snprintf(wire, sizeof(wire), "%s/vm1-wire.qmp", test_dir_path(t.dir));
		test_relay_init(&t.relay, wire, t.listen[0] ? t.listen : t.qmp);
		o.pre_exec = test_relay_pre_exec;
		o.pre_exec_ud = &t.relay;
		if (t.listen[0]) {
			snprintf(chardev, sizeof(chardev), "socket,id=fm,path=%s,reconnect=1",
				 wire);
			extra[4] = "-chardev";
			extra[5] = chardev;
			extra[6] = "-mon";
			extra[7] = "chardev=fm,mode=control";
		}
	}
	if (t.boot) {
		/* The test's own monitor: the booted guest waits (-S) for its "cont". */
		snprintf(t.tqmp, sizeof(t.tqmp), "%s/vm1-test.qmp", test_dir_path(t.dir));
		snprintf(chardev, sizeof(chardev), "unix:%s,server=on,wait=off", t.tqmp);
		extra[4] = "-qmp";
		extra[5] = chardev;
	}
	o.name = "vm1";
	o.standby = true;
	o.paused = true;
	o.boot = t.boot;
	o.incoming = incoming;
	o.n_root_ports = 4;
	o.extra_args = extra;
	t.qemu = test_guest_spawn(&o, test_dir_path(t.dir));
	ck_assert_ptr_nonnull(t.qemu);
	ck_assert_int_eq(test_qemu_wait_socket(t.qemu, t.qmp, 20000), 0);
	if (relay && !t.listen[0])
		snprintf(t.qmp, sizeof(t.qmp), "%s", t.relay.path);
}

static void qemu_start(bool incoming)
{
	qemu_start_with(incoming, false);
}

static void daemon_start(const char *extra_instance)
{
	char bus_arg[450], group_arg[100], bin[300];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"),
			       "--log-level=debug",
			       "--root",
			       t.host.root,
			       "--state-dir",
			       t.host.state,
			       bus_arg,
			       group_arg,
			       NULL };

	test_host_write_conf(&t.host, "emu.pool",
			     "[Pool]\nDriver=emulated\nModel=e1000e\nSize=4\n");
	if (t.listen[0]) {
		test_host_write_conf(&t.host, "failoverd.conf", "[Daemon]\nListenQMP=%s\n",
				     t.listen);
		test_host_write_conf(&t.host, "vm1.vm",
				     "[Instance]\nName=vm1\n\n"
				     "[Pair]\nName=p0\nPool=emu\nMACAddress=" MAC0
				     "\nStandby=net0\n");
	} else {
		test_host_write_conf(&t.host, "vm1.vm",
				     "[Instance]\nName=vm1\nQMP=%s\n%s\n"
				     "[Pair]\nName=p0\nPool=emu\nMACAddress=" MAC0
				     "\nStandby=net0\n",
				     t.qmp, extra_instance ? extra_instance : "");
	}
	snprintf(bus_arg, sizeof(bus_arg), "--bus=%s", t.address);
	snprintf(group_arg, sizeof(group_arg), "--admin-group=%s", t.admin_group);
	t.host.daemon = test_qemu_spawn(argv, t.host.log);
	ck_assert_ptr_nonnull(t.host.daemon);
	ck_assert_msg(test_log_wait(t.host.log, "failoverd started", 10000) == 0,
		      "daemon did not start (see %s)", t.host.log);
}

/* vm1.vm as daemon_start() writes it, without starting anything. */
static void daemon_start_conf_only(void)
{
	test_host_write_conf(&t.host, "vm1.vm",
			     "[Instance]\nName=vm1\nQMP=%s\n\n"
			     "[Pair]\nName=p0\nPool=emu\nMACAddress=" MAC0 "\nStandby=net0\n",
			     t.qmp);
}

static void setup_common(void)
{
	memset(&t, 0, sizeof(t));
	snprintf(t.user, sizeof(t.user), "%s", env_or("FOVD_TEST_USER", "failoverd-test"));
	snprintf(t.admin_group, sizeof(t.admin_group), "%s",
		 env_or("FOVD_TEST_ADMIN_GROUP", "failoverd-testadm"));
	test_build_path(t.ctl, sizeof(t.ctl), "failoverctl");
	t.dir = test_dir_new();
	ck_assert_ptr_nonnull(t.dir);
	/* The unprivileged caller must reach the bus socket and the binaries. */
	chmod(test_dir_path(t.dir), 0755);
	test_host_init(&t.host, test_dir_path(t.dir), "host");
}

static int pair_state_is(const char *path, const char *state, unsigned timeout_ms);

/* A paused QEMU (behind a cuttable wire with @relay) and its daemon, p0 staged. */
static void setup_with(bool relay)
{
	setup_common();
	bus_start(false);
	qemu_start_with(false, relay);
	daemon_start(NULL);
	t.bus = bus_connect();
	/* Paused guest: the primary is added, hidden until the guest negotiates. */
	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 30000), 0);
}

static void setup(void)
{
	setup_with(false);
}

static void setup_relay(void)
{
	setup_with(true);
}

static void setup_listen(void)
{
	setup_common();
	bus_start(false);
	snprintf(t.listen, sizeof(t.listen), "%s/listen.qmp", test_dir_path(t.dir));
	daemon_start(NULL);
	qemu_start_with(false, true);
	t.bus = bus_connect();
	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 30000), 0);
}

static void setup_boot(void)
{
	setup_common();
	bus_start(false);
	t.boot = true;
	qemu_start_with(false, false);
	daemon_start(NULL);
	t.bus = bus_connect();
	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 30000), 0);
}

/* One line from a QMP monitor (greeting, reply, event). */
static void qmp_line(FILE *f, char *buf, size_t size)
{
	ck_assert_ptr_nonnull(fgets(buf, (int)size, f));
}

/* The booted guest runs: "cont" on the test's own monitor. */
static void guest_run(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[4096];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FILE *f;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t.tqmp);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	f = fdopen(fd, "r+");
	ck_assert_ptr_nonnull(f);
	qmp_line(f, line, sizeof(line));
	fputs("{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"cont\"}\n", f);
	fflush(f);
	do
		qmp_line(f, line, sizeof(line));
	while (!strstr(line, "\"return\"")); /* capabilities */
	do
		qmp_line(f, line, sizeof(line));
	while (!strstr(line, "\"return\"")); /* cont */
	fclose(f);
}

static void setup_incoming(void)
{
	setup_common();
	bus_start(false);
	qemu_start(true);
	daemon_start("PrepareIncoming=no");
	t.bus = bus_connect();
}

static void setup_policy(void)
{
	setup_common();
	bus_start(true);
	qemu_start(false);
	daemon_start(NULL);
	t.bus = bus_connect();
	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 30000), 0);
}

static void teardown(void)
{
	sd_bus_flush_close_unref(t.bus);
	t.monitor = test_qemu_free(t.monitor);
	test_host_stop(&t.host);
	t.qemu = test_qemu_free(t.qemu);
	t.dbus = test_qemu_free(t.dbus);
	test_dir_free(t.dir);
}

/* --- D-Bus helpers --- */

static char *get_string(const char *path, const char *iface, const char *prop)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char *s = NULL;
	int r = sd_bus_get_property_string(t.bus, NAME, path, iface, prop, &e, &s);

	ck_assert_msg(r >= 0, "Get %s.%s on %s: %s", iface, prop, path, e.message);
	sd_bus_error_free(&e);
	return s;
}

static bool get_bool(const char *path, const char *prop)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int v = 0;

	ck_assert_int_ge(sd_bus_get_property(t.bus, NAME, path, PAIR, prop, &e, &reply, "b"), 0);
	ck_assert_int_ge(sd_bus_message_read(reply, "b", &v), 0);
	sd_bus_message_unref(reply);
	return v;
}

static uint32_t get_u32(const char *path, const char *iface, const char *prop)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	uint32_t v = 0;
	int r = sd_bus_get_property_trivial(t.bus, NAME, path, iface, prop, &e, 'u', &v);

	ck_assert_msg(r >= 0, "Get %s.%s on %s: %s", iface, prop, path, e.message);
	return v;
}

static int pair_state_is(const char *path, const char *state, unsigned timeout_ms)
{
	int64_t end = test_now_ms() + timeout_ms;
	char *cur = NULL;

	do {
		sd_bus_error e = SD_BUS_ERROR_NULL;

		free(cur);
		cur = NULL;
		if (sd_bus_get_property_string(t.bus, NAME, path, PAIR, "State", &e, &cur) >= 0 &&
		    strcmp(cur, state) == 0) {
			free(cur);
			return 0;
		}
		sd_bus_error_free(&e);
		usleep(50000);
	} while (test_now_ms() < end);
	fprintf(stderr, "%s: state '%s', wanted '%s'\n", path, cur ? cur : "(none)", state);
	free(cur);
	return -ETIMEDOUT;
}

/* The pair object no longer exists (a released ad-hoc pair is forgotten). */
static int pair_gone(const char *path, unsigned timeout_ms)
{
	int64_t end = test_now_ms() + timeout_ms;

	do {
		sd_bus_error e = SD_BUS_ERROR_NULL;
		char *cur = NULL;
		int r = sd_bus_get_property_string(t.bus, NAME, path, PAIR, "State", &e, &cur);

		free(cur);
		sd_bus_error_free(&e);
		if (r < 0)
			return 0;
		usleep(50000);
	} while (test_now_ms() < end);
	return -ETIMEDOUT;
}

/* ListPairs as one comparable line per pair: "instance/name state vf". */
static void list_pairs(char *buf, size_t size)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *inst, *name, *state, *pool, *vf, *mac, *reason, *path;
	int neg, r;
	uint64_t changed;

	buf[0] = 0;
	r = sd_bus_call_method(t.bus, NAME, PATH, MANAGER, "ListPairs", &e, &reply, NULL);
	ck_assert_msg(r >= 0, "ListPairs: %s", e.message);
	ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "(sssssssbto)"), 0);
	while ((r = sd_bus_message_read(reply, "(sssssssbto)", &inst, &name, &state, &pool, &vf,
					&mac, &reason, &neg, &changed, &path)) > 0)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s/%s %s %s %s %s %s|", inst, name,
			 state, pool, vf, mac, path);
	ck_assert_int_ge(r, 0);
	sd_bus_message_unref(reply);
}

static int on_signal(sd_bus_message *m, void *ud, sd_bus_error *error)
{
	const char *member = sd_bus_message_get_member(m);

	if (t.n_seen >= 64)
		return 0;
	if (strcmp(member, "PairStateChanged") == 0) {
		const char *i, *p, *from, *to, *reason;

		if (sd_bus_message_read(m, "sssss", &i, &p, &from, &to, &reason) >= 0)
			snprintf(t.seen[t.n_seen++], sizeof(t.seen[0]),
				 "PairStateChanged %s/%s %s->%s", i, p, from, to);
	} else if (strcmp(member, "PropertiesChanged") == 0) {
		const char *iface, *prop, *contents;
		char line[200];

		if (sd_bus_message_read(m, "s", &iface) < 0 ||
		    sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
			return 0;
		snprintf(line, sizeof(line), "PropertiesChanged %s %s", sd_bus_message_get_path(m),
			 iface);
		while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
			char type;

			sd_bus_message_read(m, "s", &prop);
			sd_bus_message_peek_type(m, &type, &contents);
			if (strcmp(contents, "s") == 0) {
				const char *v;

				sd_bus_message_read(m, "v", "s", &v);
				snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s=%s",
					 prop, v);
			} else if (strcmp(contents, "b") == 0) {
				int v;

				sd_bus_message_read(m, "v", "b", &v);
				snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s=%s",
					 prop, v ? "true" : "false");
			} else if (strcmp(contents, "u") == 0) {
				uint32_t v;

				sd_bus_message_read(m, "v", "u", &v);
				snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s=%u",
					 prop, v);
			} else {
				sd_bus_message_skip(m, "v");
			}
			sd_bus_message_exit_container(m);
		}
		snprintf(t.seen[t.n_seen++], sizeof(t.seen[0]), "%s", line);
	}
	return 0;
}

/* Waits for a seen signal containing all of @needle's words in order. */
static int wait_seen(const char *needle, unsigned timeout_ms)
{
	int64_t end = test_now_ms() + timeout_ms;

	for (;;) {
		for (int k = 0; k < t.n_seen; k++)
			if (strstr(t.seen[k], needle))
				return k;
		if (test_now_ms() >= end)
			break;
		if (sd_bus_process(t.bus, NULL) == 0)
			sd_bus_wait(t.bus, 100000);
	}
	for (int k = 0; k < t.n_seen; k++)
		fprintf(stderr, "seen: %s\n", t.seen[k]);
	return -1;
}

/* Calls AttachPair; returns the error name ("" on success) in @err_name. */
static int attach(const char *inst, const char *pair, const char *pool, const char *mac,
		  const char *standby, const char *opt_key, const char *opt_sig,
		  const void *opt_val, char *err_name, size_t size, char *err_msg, size_t msize)
{
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int r;

	ck_assert_int_ge(
		sd_bus_message_new_method_call(t.bus, &m, NAME, PATH, MANAGER, "AttachPair"), 0);
	ck_assert_int_ge(sd_bus_message_append(m, "sssss", inst, pair, pool, mac, standby), 0);
	ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "{sv}"), 0);
	if (opt_key) {
		ck_assert_int_ge(sd_bus_message_open_container(m, 'e', "sv"), 0);
		ck_assert_int_ge(sd_bus_message_append(m, "s", opt_key), 0);
		ck_assert_int_ge(sd_bus_message_open_container(m, 'v', opt_sig), 0);
		if (opt_sig[0] == 's')
			ck_assert_int_ge(sd_bus_message_append(m, "s", (const char *)opt_val), 0);
		else
			ck_assert_int_ge(sd_bus_message_append(m, "u", *(const uint32_t *)opt_val),
					 0);
		ck_assert_int_ge(sd_bus_message_close_container(m), 0);
		ck_assert_int_ge(sd_bus_message_close_container(m), 0);
	}
	ck_assert_int_ge(sd_bus_message_close_container(m), 0);
	r = sd_bus_call(t.bus, m, 0, &e, &reply);
	snprintf(err_name, size, "%s", r < 0 && e.name ? e.name : "");
	if (err_msg)
		snprintf(err_msg, msize, "%s", r < 0 && e.message ? e.message : "");
	sd_bus_error_free(&e);
	sd_bus_message_unref(m);
	sd_bus_message_unref(reply);
	return r;
}

static int call_error(const char *method, char *err_name, size_t size, char *msg, size_t msize,
		      const char *types, ...)
{
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	va_list ap;
	int r;

	ck_assert_int_ge(sd_bus_message_new_method_call(t.bus, &m, NAME, PATH, MANAGER, method), 0);
	if (types) {
		va_start(ap, types);
		ck_assert_int_ge(sd_bus_message_appendv(m, types, ap), 0);
		va_end(ap);
	}
	r = sd_bus_call(t.bus, m, 0, &e, &reply);
	snprintf(err_name, size, "%s", r < 0 && e.name ? e.name : "");
	if (msg)
		snprintf(msg, msize, "%s", r < 0 && e.message ? e.message : "");
	sd_bus_error_free(&e);
	sd_bus_message_unref(m);
	sd_bus_message_unref(reply);
	return r;
}

/* --- running commands --- */

typedef struct Run {
	int status;
	char *out, *err;
} Run;

static void run_free(Run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* Runs a shell command line; its stdout/stderr are captured. */
static Run run(const char *fmt, ...)
{
	char cmd[2048], line[3000];
	const char *out = test_dir_file(t.dir, "cmd.out"), *err = test_dir_file(t.dir, "cmd.err");
	va_list ap;
	Run r;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s >%s 2>%s </dev/null", cmd, out, err);
	st = system(line);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	r.out = test_log_read(out);
	r.err = test_log_read(err);
	ck_assert_ptr_nonnull(r.out);
	ck_assert_ptr_nonnull(r.err);
	return r;
}

static const char *unprivileged(char *buf, size_t size, bool admin)
{
	if (admin)
		snprintf(buf, size, "setpriv --reuid=%s --regid=%s --groups=%s", t.user, t.user,
			 t.admin_group);
	else
		snprintf(buf, size, "setpriv --reuid=%s --regid=%s --clear-groups", t.user, t.user);
	return buf;
}

/* ================= tests ================= */

START_TEST(test_introspect_and_read)
{
	char pairs[2000];
	char *s;
	Run r;

	r = run("busctl --address=%s introspect " NAME " " PATH, t.address);
	ck_assert_msg(r.status == 0, "busctl introspect: %s", r.err);
	for (const char *const *w =
		     (const char *const[]){ ".AttachPair", ".DetachPair", ".ListPairs",
					    ".ListPools", ".ListInstances", ".PrepareIncoming",
					    ".Reload", ".PairStateChanged", "sssssa{sv}", NULL };
	     *w; w++)
		ck_assert_msg(strstr(r.out, *w), "introspection lacks %s:\n%s", *w, r.out);
	run_free(&r);
	r = run("busctl --address=%s introspect " NAME " " P0_PATH " " PAIR, t.address);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, ".State") && strstr(r.out, "emits-change") &&
			      strstr(r.out, ".GuestNegotiated") && strstr(r.out, ".LastError") &&
			      strstr(r.out, ".VF"),
		      "%s", r.out);
	run_free(&r);
	r = run("busctl --address=%s tree " NAME, t.address);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, P0_PATH) && strstr(r.out, POOL_PATH) &&
			      strstr(r.out, "/org/failoverd1/instance/vm1"),
		      "%s", r.out);
	run_free(&r);

	list_pairs(pairs, sizeof(pairs));
	ck_assert_msg(strstr(pairs, "vm1/p0 staged emu emu") && strstr(pairs, MAC0 " " P0_PATH),
		      "%s", pairs);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 3);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Total"), 4);
	s = get_string(POOL_PATH, POOL, "Driver");
	ck_assert_str_eq(s, "e1000e");
	free(s);
	s = get_string(P0_PATH, PAIR, "MACAddress");
	ck_assert_str_eq(s, MAC0);
	free(s);
	s = get_string(P0_PATH, PAIR, "Instance");
	ck_assert_str_eq(s, "vm1");
	free(s);
	s = get_string(P0_PATH, PAIR, "VF");
	ck_assert_str_ne(s, "");
	free(s);
	s = get_string("/org/failoverd1/instance/vm1", INSTANCE, "RunStatus");
	ck_assert_str_eq(s, "prelaunch");
	free(s);
	s = get_string(PATH, MANAGER, "Version");
	ck_assert_str_ne(s, "");
	free(s);
	{
		sd_bus_error e = SD_BUS_ERROR_NULL;
		sd_bus_message *reply = NULL;
		const char *name, *qmp, *run_st, *mig, *path;
		int connected;
		uint32_t n;

		ck_assert_int_ge(sd_bus_call_method(t.bus, NAME, PATH, MANAGER, "ListInstances", &e,
						    &reply, NULL),
				 0);
		ck_assert_int_gt(sd_bus_message_read(reply, "a(ssbssuo)", 1, &name, &qmp,
						     &connected, &run_st, &mig, &n, &path),
				 0);
		ck_assert_str_eq(name, "vm1");
		ck_assert_str_eq(qmp, t.qmp);
		ck_assert(connected);
		ck_assert_uint_eq(n, 1);
		sd_bus_message_unref(reply);
	}
	{
		sd_bus_error e = SD_BUS_ERROR_NULL;
		sd_bus_message *reply = NULL;
		const char *name, *driver, *path;
		int emulated;
		uint32_t total, free_;

		ck_assert_int_ge(sd_bus_call_method(t.bus, NAME, PATH, MANAGER, "ListPools", &e,
						    &reply, NULL),
				 0);
		ck_assert_int_gt(sd_bus_message_read(reply, "a(ssbuuo)", 1, &name, &driver,
						     &emulated, &total, &free_, &path),
				 0);
		ck_assert_str_eq(name, "emu");
		ck_assert(emulated);
		ck_assert_uint_eq(free_, 3);
		ck_assert_str_eq(path, POOL_PATH);
		sd_bus_message_unref(reply);
	}
}
END_TEST

START_TEST(test_attach_detach_signals)
{
	char err[200], path_vf[64];
	char *vf;

	ck_assert_int_ge(sd_bus_match_signal(t.bus, NULL, NAME, PATH, MANAGER, "PairStateChanged",
					     on_signal, NULL),
			 0);
	ck_assert_int_ge(sd_bus_match_signal(t.bus, NULL, NAME, NULL,
					     "org.freedesktop.DBus.Properties", "PropertiesChanged",
					     on_signal, NULL),
			 0);
	ck_assert_int_ge(attach("vm1", "p1", "emu", MAC1, "net1", NULL, NULL, NULL, err,
				sizeof(err), NULL, 0),
			 0);
	ck_assert_int_ge(wait_seen("PairStateChanged vm1/p1 waiting->staged", 20000), 0);
	ck_assert_int_ge(wait_seen("PropertiesChanged " P1_PATH " " PAIR " State=staged", 5000), 0);
	ck_assert_int_ge(wait_seen("PropertiesChanged " POOL_PATH " " POOL " Free=2", 5000), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 2);
	vf = get_string(P1_PATH, PAIR, "VF");
	snprintf(path_vf, sizeof(path_vf), "%s", vf);
	free(vf);
	ck_assert_str_ne(path_vf, "");

	/*
	 * The guest is paused and never negotiates: QEMU keeps the hidden
	 * primary, and plugs it (with the VF) the moment the guest does. The
	 * VF stays held until QEMU lets go of it: here, until QEMU exits.
	 */
	ck_assert_int_ge(call_error("DetachPair", err, sizeof(err), NULL, 0, "ss", "vm1", "p1"), 0);
	ck_assert_int_ge(wait_seen("PairStateChanged vm1/p1 staged->detaching", 20000), 0);
	ck_assert_int_ge(wait_seen("PropertiesChanged " P1_PATH " " PAIR " State=detaching", 5000),
			 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 2);
	vf = get_string(P1_PATH, PAIR, "VF");
	ck_assert_str_eq(vf, path_vf);
	free(vf);
	/* p0 never moved. */
	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 1000), 0);

	test_qemu_kill(t.qemu);
	ck_assert_int_ge(wait_seen("PairStateChanged vm1/p1 detaching->released", 20000), 0);
	ck_assert_int_ge(wait_seen("PropertiesChanged " POOL_PATH " " POOL " Free=4", 5000), 0);
	/* A released ad-hoc pair is forgotten: its name and MAC are free again. */
	ck_assert_int_eq(pair_gone(P1_PATH, 5000), 0);
}
END_TEST

/* An instance announces what changes: its pairs, then QEMU going away. */
START_TEST(test_instance_properties_changed)
{
	char err[200];

	ck_assert_int_ge(sd_bus_match_signal(t.bus, NULL, NAME, "/org/failoverd1/instance/vm1",
					     "org.freedesktop.DBus.Properties", "PropertiesChanged",
					     on_signal, NULL),
			 0);
	ck_assert_int_ge(attach("vm1", "p1", "emu", MAC1, "net1", NULL, NULL, NULL, err,
				sizeof(err), NULL, 0),
			 0);
	ck_assert_int_ge(wait_seen("PropertiesChanged /org/failoverd1/instance/vm1 " INSTANCE
				   " Connected=true RunStatus=prelaunch",
				   5000),
			 0);
	t.qemu = test_qemu_free(t.qemu);
	ck_assert_int_ge(wait_seen("PropertiesChanged /org/failoverd1/instance/vm1 " INSTANCE
				   " Connected=false",
				   5000),
			 0);
}
END_TEST

START_TEST(test_invalid_args_change_nothing)
{
	static const uint32_t one = 1;
	static const struct {
		const char *inst, *pair, *pool, *mac, *standby, *key, *sig;
		const void *val;
		const char *argument;
	} bad[] = {
		{ "vm1", "p1", "emu", "52:54:00:aa:bb", "net1", NULL, NULL, NULL, "mac_address" },
		{ "vm1", "p1", "emu", "01:00:5e:00:00:01", "net1", NULL, NULL, NULL,
		  "mac_address" },
		{ "vm1", "p1", "emu", "00:00:00:00:00:00", "net1", NULL, NULL, NULL,
		  "mac_address" },
		{ "vm1", "p/1", "emu", MAC1, "net1", NULL, NULL, NULL, "pair" },
		{ "vm1", "", "emu", MAC1, "net1", NULL, NULL, NULL, "pair" },
		{ "vm1", "p1", "", MAC1, "net1", NULL, NULL, NULL, "pool" },
		{ "", "p1", "emu", MAC1, "net1", NULL, NULL, NULL, "instance" },
		{ "vm1", "p1", "emu", MAC1, "1net", NULL, NULL, NULL, "standby" },
		{ "vm1", "p1", "emu", MAC1, "", NULL, NULL, NULL, "standby" },
		{ "vm1", "p1", "emu", MAC1, "net1", "StandbyNetdev", "s", "hn1", "standby" },
		{ "vm1", "p1", "emu", MAC1, "net1", "Bogus", "s", "x", "options" },
		{ "vm1", "p1", "emu", MAC1, "", "StandbyNetdev", "u", &one, "options" },
		{ "vm1", "p1", "emu", MAC1, "", "StandbyBus", "s", "rp4", "options" },
		{ "vm1", "p1", "emu", MAC1, "net1", "PrimaryBus", "s", "rp 4", "options" },
	};
	char before[2000], after[2000], name[200], msg[400], want[64], long_name[402], bus[32];

	list_pairs(before, sizeof(before));
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		ck_assert_int_lt(attach(bad[k].inst, bad[k].pair, bad[k].pool, bad[k].mac,
					bad[k].standby, bad[k].key, bad[k].sig, bad[k].val, name,
					sizeof(name), msg, sizeof(msg)),
				 0);
		ck_assert_msg(strcmp(name, SD_BUS_ERROR_INVALID_ARGS) == 0, "case %zu: %s: %s", k,
			      name, msg);
		snprintf(want, sizeof(want), "argument %s", bad[k].argument);
		ck_assert_msg(strstr(msg, want), "case %zu: '%s' does not name %s", k, msg,
			      bad[k].argument);
	}
	ck_assert_int_lt(
		call_error("DetachPair", name, sizeof(name), msg, sizeof(msg), "ss", "", "p0"), 0);
	ck_assert_str_eq(name, SD_BUS_ERROR_INVALID_ARGS);
	ck_assert_ptr_nonnull(strstr(msg, "argument instance"));
	ck_assert_int_lt(
		call_error("DetachPair", name, sizeof(name), msg, sizeof(msg), "ss", "vm1", "p 0"),
		0);
	ck_assert_str_eq(name, SD_BUS_ERROR_INVALID_ARGS);
	ck_assert_ptr_nonnull(strstr(msg, "argument pair"));
	ck_assert_int_lt(
		call_error("PrepareIncoming", name, sizeof(name), msg, sizeof(msg), "s", ""), 0);
	ck_assert_str_eq(name, SD_BUS_ERROR_INVALID_ARGS);
	/*
	 * Too long, and not ASCII: the echoed value used to be cut inside a
	 * character, sd-bus could not send that error, and the call timed out.
	 */
	long_name[0] = 'a';
	for (size_t k = 0; k < 200; k++)
		memcpy(long_name + 1 + 2 * k, "\xc3\xa9", 2);
	long_name[401] = 0;
	ck_assert_int_lt(call_error("DetachPair", name, sizeof(name), msg, sizeof(msg), "ss",
				    long_name, "p0"),
			 0);
	ck_assert_str_eq(name, SD_BUS_ERROR_INVALID_ARGS);
	ck_assert_ptr_nonnull(strstr(msg, "argument instance"));
	/* Wrong signature: sd-bus refuses before the daemon's code runs. */
	ck_assert_int_lt(
		call_error("AttachPair", name, sizeof(name), msg, sizeof(msg), "ss", "vm1", "p1"),
		0);
	ck_assert_str_eq(name, SD_BUS_ERROR_INVALID_ARGS);
	/* Well-formed, but naming nothing: not InvalidArgs. */
	ck_assert_int_lt(attach("vm9", "p1", "emu", MAC1, "net1", NULL, NULL, NULL, name,
				sizeof(name), msg, sizeof(msg)),
			 0);
	ck_assert_str_eq(name, "org.failoverd1.Error.NotFound");
	ck_assert_int_lt(attach("vm1", "p1", "nopool", MAC1, "net1", NULL, NULL, NULL, name,
				sizeof(name), msg, sizeof(msg)),
			 0);
	ck_assert_str_eq(name, "org.failoverd1.Error.NotFound");
	ck_assert_int_lt(attach("vm1", "p1", "emu", MAC0, "net1", NULL, NULL, NULL, name,
				sizeof(name), msg, sizeof(msg)),
			 0);
	ck_assert_str_eq(name, "org.failoverd1.Error.Exists");
	/* The port p0's primary sits on: a second device there would fail to plug. */
	test_host_pair_get(&t.host, "vm1", "p0", "primary_bus", bus, sizeof(bus));
	ck_assert_str_ne(bus, "");
	ck_assert_int_lt(attach("vm1", "p1", "emu", MAC1, "net1", "PrimaryBus", "s", bus, name,
				sizeof(name), msg, sizeof(msg)),
			 0);
	ck_assert_str_eq(name, "org.failoverd1.Error.Exists");
	ck_assert_msg(strstr(msg, "already used by pair vm1/p0"), "%s", msg);
	ck_assert_int_lt(
		call_error("DetachPair", name, sizeof(name), msg, sizeof(msg), "ss", "vm1", "p7"),
		0);
	ck_assert_str_eq(name, "org.failoverd1.Error.NotFound");
	ck_assert_int_lt(
		call_error("PrepareIncoming", name, sizeof(name), msg, sizeof(msg), "s", "vm1"), 0);
	ck_assert_str_eq(name, "org.failoverd1.Error.WrongState");

	usleep(300000);
	list_pairs(after, sizeof(after));
	ck_assert_str_eq(before, after);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 3);
}
END_TEST

START_TEST(test_unprivileged_denied_but_reads)
{
	static const char *const mutating[] = {
		"attach vm1 p1 --pool=emu --mac=" MAC1 " --standby=net1",
		"attach vm1 p1 --pool=emu --mac=bogus --standby=net1", /* denied before parsed */
		"detach vm1 p0",
		"remove vm1 p0",
		"prepare-incoming vm1",
		"reload",
	};
	static const char *const reads[] = { "status", "pools", "instances", "pairs" };
	char before[2000], after[2000], who[300];
	Run r;

	list_pairs(before, sizeof(before));
	unprivileged(who, sizeof(who), false);
	for (size_t k = 0; k < sizeof(mutating) / sizeof(mutating[0]); k++) {
		r = run("%s %s --json %s", who, t.ctl, mutating[k]);
		ck_assert_msg(r.status == 4, "'%s' exited %d: %s", mutating[k], r.status, r.err);
		ck_assert_msg(
			strstr(r.err, "\"error\":\"org.freedesktop.DBus.Error.AccessDenied\""),
			"'%s': %s", mutating[k], r.err);
		run_free(&r);
	}
	/* Straight through the bus too, not only through failoverctl. */
	r = run("%s busctl --address=%s call " NAME " " PATH " " MANAGER " DetachPair ss vm1 p0",
		who, t.address);
	ck_assert_int_ne(r.status, 0);
	run_free(&r);
	ck_assert_int_eq(test_log_wait(t.host.log, "DetachPair() denied to uid", 2000), 0);

	for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++) {
		r = run("%s %s %s", who, t.ctl, reads[k]);
		ck_assert_msg(r.status == 0, "'%s' exited %d: %s", reads[k], r.status, r.err);
		run_free(&r);
	}
	r = run("%s %s pairs", who, t.ctl);
	ck_assert_msg(strstr(r.out, "p0") && strstr(r.out, "staged"), "%s", r.out);
	run_free(&r);
	r = run("%s busctl --address=%s get-property " NAME " " P0_PATH " " PAIR " State", who,
		t.address);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "s \"staged\"\n");
	run_free(&r);

	list_pairs(after, sizeof(after));
	ck_assert_str_eq(before, after);
}
END_TEST

START_TEST(test_admin_group_may_mutate)
{
	char who[300];
	Run r;

	unprivileged(who, sizeof(who), true);
	r = run("%s %s detach vm1 p0", who, t.ctl);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	/* Hidden by the paused guest's QEMU: held until QEMU lets go. */
	ck_assert_int_eq(pair_state_is(P0_PATH, "detaching", 20000), 0);
	r = run("%s %s reload", who, t.ctl);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
}
END_TEST

/* Column @col of @line starts at the same offset as in @header. */
static void assert_aligned(const char *header, const char *line, const char *col, const char *cell)
{
	const char *h = strstr(header, col), *c = strstr(line, cell);

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h - header, c - line);
}

START_TEST(test_failoverctl)
{
	const char *mon_argv[] = { t.ctl, "--json", "monitor", NULL };
	const char *mon_out = test_dir_file(t.dir, "monitor.out");
	json_object *o, *e;
	char *nl;
	Run r;

	/* Tables for people. */
	r = run("%s pools", t.ctl);
	ck_assert_int_eq(r.status, 0);
	nl = strchr(r.out, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = 0;
	ck_assert_str_eq(r.out, "POOL  DRIVER  KIND      FREE  TOTAL");
	ck_assert_str_eq(nl + 1, "emu   e1000e  emulated  3     4\n");
	run_free(&r);
	r = run("%s pairs", t.ctl);
	ck_assert_int_eq(r.status, 0);
	nl = strchr(r.out, '\n');
	*nl = 0;
	assert_aligned(r.out, nl + 1, "STATE", "staged");
	assert_aligned(r.out, nl + 1, "MAC", MAC0);
	assert_aligned(r.out, nl + 1, "REASON", "primary hidden");
	run_free(&r);
	r = run("%s --no-legend instances", t.ctl);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_eq(strstr(r.out, "vm1"), r.out);
	run_free(&r);

	/* JSON for programs. */
	r = run("%s --json pairs vm1", t.ctl);
	ck_assert_int_eq(r.status, 0);
	o = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_array_length(o), 1);
	e = json_object_array_get_idx(o, 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(e, "state")), "staged");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(e, "mac_address")), MAC0);
	json_object_put(o);
	run_free(&r);
	r = run("%s --json status", t.ctl);
	ck_assert_int_eq(r.status, 0);
	o = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "vfs_free")), 3);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(
				 json_object_object_get(o, "pairs_by_state"), "staged")),
			 1);
	json_object_put(o);
	run_free(&r);

	/* monitor streams what attach and detach do. */
	t.monitor = test_qemu_spawn(mon_argv, mon_out);
	ck_assert_ptr_nonnull(t.monitor);
	ck_assert_int_eq(test_log_wait(mon_out, "Monitoring pair state changes", 5000), 0);
	r = run("%s attach vm1 p1 --pool=emu --mac=" MAC1 " --standby=net1", t.ctl);
	ck_assert_msg(r.status == 0, "attach: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "vm1/p1"));
	run_free(&r);
	ck_assert_int_eq(test_log_wait(mon_out,
				       "\"instance\":\"vm1\",\"pair\":\"p1\",\"from\":\"waiting\","
				       "\"to\":\"staged\"",
				       20000),
			 0);
	r = run("%s detach vm1 p1", t.ctl);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);
	ck_assert_int_eq(test_log_wait(mon_out, "\"from\":\"staged\",\"to\":\"detaching\"", 20000),
			 0);

	/* Errors: one line, meaningful exit codes. */
	r = run("%s attach vm1 p2 --pool=emu --mac=zz --standby=net1", t.ctl);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "failoverctl attach: argument mac_address: 'zz' is not a MAC "
				"address like 52:54:00:aa:bb:01\n");
	run_free(&r);
	r = run("%s detach vm1 nope", t.ctl);
	ck_assert_int_eq(r.status, 5);
	ck_assert_str_eq(r.err, "failoverctl detach: instance vm1 has no pair named 'nope'\n");
	run_free(&r);
	r = run("%s prepare-incoming vm1", t.ctl);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "not waiting for an incoming migration"));
	run_free(&r);
	r = run("%s attach vm1 p2", t.ctl);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	r = run("%s frobnicate", t.ctl);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	/* An option of attach given to another command names itself, not another one. */
	r = run("%s detach --no-block vm1 p1", t.ctl);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--no-block is an option of attach"));
	run_free(&r);
	r = run("%s detach --pool=emu vm1 p1", t.ctl);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--pool, --mac and --standby* are options of attach"));
	run_free(&r);
	r = run("%s --bus-address=unix:path=%s/nothing.sock status", t.ctl, test_dir_path(t.dir));
	ck_assert_int_eq(r.status, 3);
	ck_assert_msg(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "not one line: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot connect to unix:path="));
	run_free(&r);
	r = run("%s attach --help", t.ctl);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "--standby-netdev"));
	run_free(&r);
	r = run("%s reload", t.ctl);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);
}
END_TEST

START_TEST(test_reload)
{
	char name[200], msg[300];
	Run r;

	test_host_write_conf(&t.host, "emu2.pool",
			     "[Pool]\nDriver=emulated\nModel=e1000e\nSize=2\n");
	ck_assert_int_ge(call_error("Reload", name, sizeof(name), msg, sizeof(msg), NULL), 0);
	r = run("%s --no-legend pools", t.ctl);
	ck_assert_msg(strstr(r.out, "emu2 "), "%s", r.out);
	run_free(&r);
	/* A broken configuration is refused; the last good one stays. */
	test_host_write_conf(&t.host, "emu3.pool", "[Pool]\nDriver=warp\n");
	ck_assert_int_lt(call_error("Reload", name, sizeof(name), msg, sizeof(msg), NULL), 0);
	ck_assert_str_eq(name, "org.failoverd1.Error.InvalidConfiguration");
	/* The caller learns why, file and line, not only "see the log". */
	ck_assert_msg(strstr(msg, "emu3.pool:2: error:") && strstr(msg, "warp"), "%s", msg);
	r = run("%s --no-legend pools", t.ctl);
	ck_assert_msg(strstr(r.out, "emu2 ") && !strstr(r.out, "emu3"), "%s", r.out);
	run_free(&r);
	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 1000), 0);
}
END_TEST

START_TEST(test_prepare_incoming)
{
	char name[200], msg[300];

	int r = -1;

	/* PrepareIncoming=no: the pair waits for the stream until asked. */
	ck_assert_int_eq(pair_state_is(P0_PATH, "waiting", 30000), 0);
	/* "waiting" is also the state before QEMU is connected: retry until it is. */
	for (int i = 0; i < 200 && r < 0; i++) {
		r = call_error("PrepareIncoming", name, sizeof(name), msg, sizeof(msg), "s", "vm1");
		if (r < 0 && strcmp(name, "org.failoverd1.Error.NotConnected") != 0)
			break;
		if (r < 0)
			usleep(100000);
	}
	ck_assert_msg(r >= 0, "PrepareIncoming: %s: %s", name, msg);
	ck_assert_int_eq(pair_state_is(P0_PATH, "incoming", 20000), 0);
}
END_TEST

START_TEST(test_shipped_policy)
{
	char who[300], before[2000], after[2000];
	Run r;

	/* root: everything (the daemon owns the name under the shipped policy). */
	list_pairs(before, sizeof(before));
	r = run("%s reload", t.ctl);
	ck_assert_msg(r.status == 0, "%s", r.err);
	run_free(&r);
	unprivileged(who, sizeof(who), false);
	for (const char *const *c =
		     (const char *const[]){ "pairs", "pools", "instances", "status", NULL };
	     *c; c++) {
		r = run("%s %s %s", who, t.ctl, *c);
		ck_assert_msg(r.status == 0, "%s: %s", *c, r.err);
		run_free(&r);
	}
	r = run("%s busctl --address=%s introspect " NAME " " P0_PATH, who, t.address);
	ck_assert_msg(r.status == 0, "%s", r.err);
	run_free(&r);
	for (const char *const *c = (const char *const[]){ "detach vm1 p0", "reload",
							   "prepare-incoming vm1", NULL };
	     *c; c++) {
		r = run("%s %s --json %s", who, t.ctl, *c);
		ck_assert_msg(r.status == 4, "%s: %d %s", *c, r.status, r.err);
		ck_assert_ptr_nonnull(strstr(r.err, "org.freedesktop.DBus.Error.AccessDenied"));
		run_free(&r);
	}
	/* The bus refused them: the daemon never saw the calls. */
	r = run("grep -c 'denied to uid' %s", t.host.log);
	ck_assert_str_eq(r.out, "0\n");
	run_free(&r);
	list_pairs(after, sizeof(after));
	ck_assert_str_eq(before, after);
}
END_TEST

/* Restarts the daemon, killed with @sig; its log starts afresh. */
static void daemon_restart(int sig)
{
	pid_t pid = test_qemu_pid(t.host.daemon);

	ck_assert_int_eq(kill(pid, sig), 0);
	ck_assert_int_eq(test_qemu_wait_exit(t.host.daemon, 10000, NULL), 0);
	t.host.daemon = test_qemu_free(t.host.daemon);
	ck_assert_int_eq(truncate(t.host.log, 0), 0);
	daemon_start(NULL);
}

/*
 * Regression: a pair made with AttachPair lived in memory only; a restart
 * released its VF while QEMU held it ("left over by a previous run") and
 * handed it to the next pair.
 */
START_TEST(test_attach_pair_survives_restart)
{
	static const int sigs[] = { SIGTERM, SIGKILL };
	char err[200], vf[64];
	TestAudit a;
	char *s;

	ck_assert_int_ge(attach("vm1", "p1", "emu", MAC1, "net1", NULL, NULL, NULL, err,
				sizeof(err), NULL, 0),
			 0);
	ck_assert_int_eq(pair_state_is(P1_PATH, "staged", 20000), 0);
	s = get_string(P1_PATH, PAIR, "VF");
	snprintf(vf, sizeof(vf), "%s", s);
	free(s);
	for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++) {
		daemon_restart(sigs[k]);
		ck_assert_int_eq(pair_state_is(P1_PATH, "staged", 20000), 0);
		s = get_string(P1_PATH, PAIR, "VF");
		ck_assert_str_eq(s, vf);
		free(s);
		ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 2);
		ck_assert_int_ne(test_log_wait(t.host.log, "left over by a previous run", 200), 0);
		test_host_audit(&t.host, &a);
		ck_assert_msg(a.leaked == 0 && a.doubled == 0 && a.held == 2, "%s", a.why);
	}
	/* Detached, it is forgotten for good: a restart does not bring it back. */
	ck_assert_int_ge(call_error("DetachPair", err, sizeof(err), NULL, 0, "ss", "vm1", "p1"), 0);
	ck_assert_int_eq(pair_state_is(P1_PATH, "detaching", 20000), 0);
	daemon_restart(SIGKILL);
	ck_assert_int_eq(pair_state_is(P1_PATH, "detaching", 20000), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 2);
	test_qemu_kill(t.qemu);
	ck_assert_int_eq(pair_gone(P1_PATH, 20000), 0);
	daemon_restart(SIGTERM);
	ck_assert_int_eq(pair_gone(P1_PATH, 2000), 0);
}
END_TEST

/*
 * RemovePair forgets an ad-hoc pair that holds nothing; never one that
 * holds a VF, nor one of the configuration (it would come back).
 */
/* failoverctl status INSTANCE[/PAIR]: one object in detail, with a pair's recent history. */
START_TEST(test_status_of_one_object)
{
	json_object *o, *v, *h, *e;
	Run r;

	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 20000), 0);
	r = run("%s status vm1/p0", t.ctl);
	ck_assert_msg(r.status == 0 && strstr(r.out, "State: staged") &&
			      strstr(r.out, "MACAddress: " MAC0) && strstr(r.out, "History:\n") &&
			      strstr(r.out, "waiting -> staged  primary hidden by QEMU"),
		      "%d: %s %s", r.status, r.out, r.err);
	run_free(&r);
	r = run("%s --json status vm1/p0", t.ctl);
	ck_assert_msg(r.status == 0, "%d: %s %s", r.status, r.out, r.err);
	o = json_tokener_parse(r.out);
	ck_assert_msg(o && json_object_object_get_ex(o, "State", &v) &&
			      strcmp(json_object_get_string(v), "staged") == 0 &&
			      json_object_object_get_ex(o, "History", &h) &&
			      json_object_array_length(h) >= 1,
		      "%s", r.out);
	/* The newest transition last. */
	v = json_object_array_get_idx(h, json_object_array_length(h) - 1);
	ck_assert_msg(json_object_object_get_ex(v, "to", &e) &&
			      strcmp(json_object_get_string(e), "staged") == 0,
		      "%s", r.out);
	json_object_put(o);
	run_free(&r);
	r = run("%s status vm1", t.ctl);
	ck_assert_msg(r.status == 0 && strstr(r.out, "Connected: yes") &&
			      strstr(r.out, "Pairs: p0"),
		      "%d: %s %s", r.status, r.out, r.err);
	run_free(&r);
	r = run("%s status vm1/nope", t.ctl);
	ck_assert_msg(r.status == 5, "%d: %s %s", r.status, r.out, r.err);
	run_free(&r);
}
END_TEST

/* @method(@inst, @pair) fails with the error @want naming @why. */
static void pair_call_fails(const char *method, const char *inst, const char *pair,
			    const char *want, const char *why)
{
	char name[200], msg[300];

	ck_assert_int_lt(call_error(method, name, sizeof(name), msg, sizeof(msg), "ss", inst, pair),
			 0);
	ck_assert_str_eq(name, want);
	ck_assert_msg(strstr(msg, why), "%s(%s, %s): %s", method, inst, pair, msg);
}

START_TEST(test_remove_pair)
{
	char name[200], file[600];
	Run r;

	ck_assert_int_ge(attach("vm1", "p1", "emu", MAC1, "net1", NULL, NULL, NULL, name,
				sizeof(name), NULL, 0),
			 0);
	ck_assert_int_eq(pair_state_is(P1_PATH, "staged", 20000), 0);
	/* QEMU holds its hidden primary: refused, nothing changes. */
	pair_call_fails("RemovePair", "vm1", "p1", "org.failoverd1.Error.Busy",
			"pair vm1/p1 is staged and holds VF ");
	ck_assert_int_eq(pair_state_is(P1_PATH, "staged", 1000), 0);
	pair_call_fails("RemovePair", "vm1", "p0", "org.failoverd1.Error.WrongState",
			"pair vm1/p0 comes from vm1.vm: remove its [Pair] there and reload");
	pair_call_fails("RemovePair", "vm1", "p9", "org.failoverd1.Error.NotFound",
			"instance vm1 has no pair named 'p9'");
	/* Its QEMU gone, the pair is released and kept for that QEMU's return ... */
	test_qemu_kill(t.qemu);
	ck_assert_int_eq(pair_state_is(P1_PATH, "released", 20000), 0);
	/* ... until the operator forgets it, for good. */
	r = run("%s remove vm1 p1", t.ctl);
	ck_assert_msg(r.status == 0 && strstr(r.out, "Removed vm1/p1"), "%d: %s %s", r.status,
		      r.out, r.err);
	run_free(&r);
	ck_assert_int_eq(pair_gone(P1_PATH, 2000), 0);
	snprintf(file, sizeof(file), "%s/pairs/vm1@p1", t.host.state);
	ck_assert_int_ne(access(file, F_OK), 0);
	daemon_restart(SIGTERM);
	ck_assert_int_eq(pair_gone(P1_PATH, 2000), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), get_u32(POOL_PATH, POOL, "Total"));
}
END_TEST

/*
 * Regression: a deferred reload change (the pool was in use) was dropped,
 * and an instance removed from the configuration could not be added back.
 */
START_TEST(test_reload_retries_and_readds)
{
	char name[200], msg[300];

	test_host_write_conf(&t.host, "emu.pool",
			     "[Pool]\nDriver=emulated\nModel=e1000e\nSize=6\n");
	ck_assert_int_ge(call_error("Reload", name, sizeof(name), msg, sizeof(msg), NULL), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Total"), 4); /* in use: deferred */
	test_qemu_kill(t.qemu);
	ck_assert_int_eq(pair_state_is(P0_PATH, "released", 20000), 0);
	/* Nothing changed on disk since: the deferred change still applies. */
	ck_assert_int_ge(call_error("Reload", name, sizeof(name), msg, sizeof(msg), NULL), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Total"), 6);

	ck_assert_int_eq(unlink(test_dir_file(t.dir, "host/etc/failoverd/vm1.vm")), 0);
	ck_assert_int_ge(call_error("Reload", name, sizeof(name), msg, sizeof(msg), NULL), 0);
	daemon_start_conf_only();
	ck_assert_int_ge(call_error("Reload", name, sizeof(name), msg, sizeof(msg), NULL), 0);
	/* Back, and waiting for its QEMU like any configured pair. */
	ck_assert_int_eq(pair_state_is(P0_PATH, "waiting", 20000), 0);
	ck_assert_int_eq(test_log_wait(t.host.log, "instance vm1 added back", 2000), 0);
}
END_TEST

/* Regression: `failoverctl attach` exited 0 for a pair that ended failed. */
START_TEST(test_failoverctl_attach_failure_exits_1)
{
	Run r = run("%s attach vm1 p1 --pool=emu --mac=" MAC1 " --standby=nonet", t.ctl);

	ck_assert_msg(r.status == 1, "exit %d: %s%s", r.status, r.out, r.err);
	ck_assert_msg(strstr(r.err, "Pair vm1/p1 failed: standby nonet is not usable"), "%s",
		      r.err);
	run_free(&r);
	r = run("%s attach --no-block vm1 p2 --pool=emu --mac=52:54:00:aa:bb:03 --standby=nonet2",
		t.ctl);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
}
END_TEST

/* The data path's options (docs/traffic.md): what the pair shows, and what is refused. */
START_TEST(test_attach_with_traffic_handling)
{
	Run r = run("%s attach vm1 p3 --pool=emu --mac=52:54:00:aa:bb:04 --standby=net0 "
		    "--traffic-handling --standby-tap=vnet/3 --no-block",
		    t.ctl);
	ck_assert_msg(r.status != 0 && strstr(r.err, "StandbyTap='vnet/3' is not a network "
						     "interface name"),
		      "exit %d: %s%s", r.status, r.out, r.err);
	run_free(&r);
	r = run("%s status vm1/p3", t.ctl);
	ck_assert_msg(r.status == 5, "a refused attach left pair vm1/p3: %s", r.out);
	run_free(&r);
	r = run("%s attach vm1 p3 --pool=emu --mac=52:54:00:aa:bb:04 --standby=net0 "
		"--traffic-handling --standby-tap=vnet3 --standby-link-down --no-block",
		t.ctl);
	ck_assert_msg(r.status == 0, "exit %d: %s%s", r.status, r.out, r.err);
	run_free(&r);
	r = run("%s status vm1/p3", t.ctl);
	ck_assert_msg(r.status == 0 && strstr(r.out, "TrafficHandling: yes") &&
			      strstr(r.out, "Steering: none"),
		      "%d: %s %s", r.status, r.out, r.err);
	run_free(&r);
}
END_TEST

/*
 * Regression: a second daemon on the same state directory, or on the same
 * ListenQMP socket, ran anyway (and removed the first one's socket).
 */
START_TEST(test_second_daemon_refused)
{
	char bin[300], sock[300], state2[300];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"),
			       "--no-bus",
			       "--root",
			       t.host.root,
			       "--state-dir",
			       t.host.state,
			       NULL,
			       NULL };
	TestQemu *d;
	int st;

	d = test_qemu_spawn(argv, test_dir_file(t.dir, "second.log"));
	ck_assert_int_eq(test_qemu_wait_exit(d, 10000, &st), 0);
	ck_assert_int_ne(WEXITSTATUS(st), 0);
	ck_assert_int_eq(test_log_wait(test_dir_file(t.dir, "second.log"),
				       "another failoverd is running on this state directory", 100),
			 0);
	test_qemu_free(d);
	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 1000), 0);

	snprintf(sock, sizeof(sock), "--listen-qmp=%s/listen.sock", test_dir_path(t.dir));
	snprintf(state2, sizeof(state2), "%s/state2", test_dir_path(t.dir));
	argv[5] = state2;
	argv[6] = sock;
	d = test_qemu_spawn(argv, test_dir_file(t.dir, "third.log"));
	ck_assert_int_eq(
		test_log_wait(test_dir_file(t.dir, "third.log"), "failoverd started", 10000), 0);
	snprintf(state2, sizeof(state2), "%s/state3", test_dir_path(t.dir));
	{
		TestQemu *d2 = test_qemu_spawn(argv, test_dir_file(t.dir, "fourth.log"));

		ck_assert_int_eq(test_qemu_wait_exit(d2, 10000, &st), 0);
		ck_assert_int_ne(WEXITSTATUS(st), 0);
		ck_assert_int_eq(test_log_wait(test_dir_file(t.dir, "fourth.log"),
					       "another process is listening there", 100),
				 0);
		test_qemu_free(d2);
	}
	/* The first one's socket is still there and still its own. */
	ck_assert_int_eq(test_qemu_wait_socket(d, sock + strlen("--listen-qmp="), 1000), 0);
	test_qemu_free(d);
}
END_TEST

/* How often the log has a line containing @needle. */
static int log_count(const char *needle)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(t.host.log, "re");
	int n = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(getdelim(&text, &len, 0, f), 0);
	fclose(f);
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
	return n;
}

/*
 * Regression: DetachPair while the monitor was away released the VF though
 * the QEMU process lived (and held the primary); and every loss of the
 * monitor armed one more exit watch, so a QEMU exiting after N reconnects
 * ran the exit path N+1 times.
 */
START_TEST(test_monitor_away_keeps_vf)
{
	char err[200], exited[64];
	char *vf;

	test_relay_cut(&t.relay);
	ck_assert_int_eq(test_log_wait(t.host.log, "monitor connection closed", 10000), 0);
	ck_assert_int_ge(call_error("DetachPair", err, sizeof(err), NULL, 0, "ss", "vm1", "p0"), 0);
	ck_assert_int_eq(pair_state_is(P0_PATH, "detaching", 5000), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 3);
	vf = get_string(P0_PATH, PAIR, "VF");
	ck_assert_str_ne(vf, "");
	free(vf);

	/* Back: the hidden primary cannot be deleted, the VF stays held. */
	test_relay_restore(&t.relay);
	ck_assert_int_eq(test_log_wait(t.host.log, "is hidden by QEMU", 20000), 0);
	ck_assert_int_eq(pair_state_is(P0_PATH, "detaching", 1000), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 3);
	for (int k = 0; k < 3; k++) {
		int closed = log_count("monitor connection closed");

		test_relay_cut(&t.relay);
		for (int64_t end = test_now_ms() + 10000;
		     log_count("monitor connection closed") == closed && test_now_ms() < end;)
			usleep(50000);
		test_relay_restore(&t.relay);
		ck_assert_int_eq(test_log_wait(t.host.log, "ready", 10000), 0);
	}
	snprintf(exited, sizeof(exited), "QEMU (pid %d) exited", (int)test_qemu_pid(t.qemu));
	test_qemu_kill(t.qemu);
	ck_assert_int_eq(pair_state_is(P0_PATH, "released", 20000), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 4);
	usleep(300000);
	ck_assert_int_eq(log_count(exited), 1);
}
END_TEST

/*
 * Regression: with ListenQMP=, a configured instance whose QEMU dropped its
 * connection was refused when that same QEMU reconnected ("a second QEMU
 * named vm1").
 */
START_TEST(test_listen_qmp_reconnect_accepted)
{
	const char *hello = "QEMU connected to the listening socket";

	ck_assert_int_eq(log_count(hello), 1);
	test_relay_cut(&t.relay);
	ck_assert_int_eq(test_log_wait(t.host.log, "monitor connection closed", 10000), 0);
	test_relay_restore(&t.relay);
	for (int64_t end = test_now_ms() + 20000; log_count(hello) < 2 && test_now_ms() < end;)
		usleep(50000);
	ck_assert_int_eq(log_count(hello), 2);
	ck_assert_int_eq(log_count("a second QEMU"), 0);
	ck_assert_int_eq(pair_state_is(P0_PATH, "staged", 10000), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 3);
	/* Set up again, as the same QEMU: its hidden primary is still ours. */
	for (int64_t end = test_now_ms() + 10000; log_count(" ready (") < 2 && test_now_ms() < end;)
		usleep(50000);
	ck_assert_int_eq(log_count(" ready ("), 2);
}
END_TEST

/*
 * Found by the model tier (I5:negotiated-unsignalled@qemu-crash): a QEMU
 * that died took its guest's negotiation along, but a detached pair's
 * GuestNegotiated went false without a PropertiesChanged.
 */
START_TEST(test_lost_negotiation_is_signalled)
{
	char err[200];

	ck_assert_int_ge(sd_bus_match_signal(t.bus, NULL, NAME, NULL,
					     "org.freedesktop.DBus.Properties", "PropertiesChanged",
					     on_signal, NULL),
			 0);
	guest_run();
	ck_assert_int_eq(pair_state_is(P0_PATH, "active", 120000), 0);
	for (int64_t end = test_now_ms() + 20000; !get_bool(P0_PATH, "GuestNegotiated");) {
		ck_assert_int_lt(test_now_ms(), end);
		usleep(50000);
	}
	ck_assert_int_ge(call_error("DetachPair", err, sizeof(err), NULL, 0, "ss", "vm1", "p0"), 0);
	ck_assert_int_eq(pair_state_is(P0_PATH, "released", 30000), 0);
	ck_assert(get_bool(P0_PATH, "GuestNegotiated"));
	t.n_seen = 0;
	test_qemu_kill(t.qemu);
	ck_assert_int_ge(wait_seen("PropertiesChanged " P0_PATH " " PAIR " ", 10000), 0);
	ck_assert_int_ge(wait_seen("GuestNegotiated=false", 1000), 0);
	ck_assert(!get_bool(P0_PATH, "GuestNegotiated"));
}
END_TEST

/*
 * Found by the model tier (I3:leaked-after-qemu-exit): a daemon restarted
 * while the monitor was away kept the VF of the running QEMU but watched
 * its exit only through a monitor it never reached: the VF leaked.
 */
START_TEST(test_restart_while_monitor_away)
{
	test_relay_cut(&t.relay);
	ck_assert_int_eq(test_log_wait(t.host.log, "monitor connection closed", 10000), 0);
	daemon_restart(SIGTERM);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 3);
	test_qemu_kill(t.qemu);
	ck_assert_int_eq(pair_state_is(P0_PATH, "released", 20000), 0);
	ck_assert_uint_eq(get_u32(POOL_PATH, POOL, "Free"), 4);
}
END_TEST

/*
 * Found by the model tier (I4:configured-pair-missing): a .vm file written
 * for a zero-config QEMU already connected to ListenQMP was ignored on
 * Reload ("File exists"), its pairs never appeared.
 */
START_TEST(test_vm_file_for_connected_zero_config_qemu)
{
	const char *extra[] = { "-chardev", NULL, "-mon", "chardev=zc,mode=control", NULL };
	char chardev[400], name[200], msg[300];
	TestGuestOptions o = { 0 };
	TestQemu *q;

	snprintf(chardev, sizeof(chardev), "socket,id=zc,path=%s,reconnect=1", t.listen);
	extra[1] = chardev;
	o.qmp_path = test_dir_file(t.dir, "vm2.qmp");
	o.serial_log = test_dir_file(t.dir, "vm2.log");
	o.name = "vm2";
	o.mac = "52:54:00:aa:bb:22";
	o.standby = true;
	o.paused = true;
	o.extra_args = extra;
	q = test_guest_spawn(&o, test_dir_path(t.dir));
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(test_log_wait(t.host.log, "instance vm2: QEMU", 20000), 0);
	test_host_write_conf(&t.host, "vm2.vm",
			     "[Instance]\nName=vm2\n\n[Pair]\nName=p0\nPool=emu\n"
			     "MACAddress=52:54:00:aa:bb:22\nStandby=net0\n");
	ck_assert_int_ge(call_error("Reload", name, sizeof(name), msg, sizeof(msg), NULL), 0);
	ck_assert_int_eq(pair_state_is("/org/failoverd1/pair/vm2_2fp0", "staged", 20000), 0);
	test_qemu_free(q);
}
END_TEST

/*
 * Found by the model tier (I5:negotiated-unsignalled@negotiate): a guest
 * negotiating for a pair that is failed (or released, or active already)
 * changed GuestNegotiated without a PropertiesChanged.
 */
START_TEST(test_negotiation_of_a_failed_pair_is_signalled)
{
	char err[200];

	/* The standby net1 has MAC1: a pair with another MAC fails. */
	ck_assert_int_ge(attach("vm1", "p1", "emu", "52:54:00:aa:bb:09", "net1", NULL, NULL, NULL,
				err, sizeof(err), NULL, 0),
			 0);
	ck_assert_int_eq(pair_state_is(P1_PATH, "failed", 20000), 0);
	ck_assert(!get_bool(P1_PATH, "GuestNegotiated"));
	ck_assert_int_ge(sd_bus_match_signal(t.bus, NULL, NAME, P1_PATH,
					     "org.freedesktop.DBus.Properties", "PropertiesChanged",
					     on_signal, NULL),
			 0);
	guest_run();
	ck_assert_int_eq(pair_state_is(P0_PATH, "active", 120000), 0);
	ck_assert_int_ge(wait_seen("GuestNegotiated=true", 20000), 0);
	ck_assert(get_bool(P1_PATH, "GuestNegotiated"));
	ck_assert_int_eq(pair_state_is(P1_PATH, "failed", 100), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dbus-api");
	TCase *tc = tcase_create("api");
	TCase *ti = tcase_create("incoming");
	TCase *tp = tcase_create("policy");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_introspect_and_read);
	tcase_add_test(tc, test_attach_detach_signals);
	tcase_add_test(tc, test_invalid_args_change_nothing);
	tcase_add_test(tc, test_unprivileged_denied_but_reads);
	tcase_add_test(tc, test_admin_group_may_mutate);
	tcase_add_test(tc, test_failoverctl);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_instance_properties_changed);
	tcase_add_test(tc, test_attach_pair_survives_restart);
	tcase_add_test(tc, test_remove_pair);
	tcase_add_test(tc, test_status_of_one_object);
	tcase_add_test(tc, test_reload_retries_and_readds);
	tcase_add_test(tc, test_failoverctl_attach_failure_exits_1);
	tcase_add_test(tc, test_attach_with_traffic_handling);
	tcase_add_test(tc, test_second_daemon_refused);
	suite_add_tcase(s, tc);
	{
		TCase *tm = tcase_create("monitor");

		tcase_add_checked_fixture(tm, setup_relay, teardown);
		tcase_set_timeout(tm, 120);
		tcase_add_test(tm, test_monitor_away_keeps_vf);
		tcase_add_test(tm, test_restart_while_monitor_away);
		suite_add_tcase(s, tm);
	}
	{
		TCase *tb = tcase_create("booted");

		tcase_add_checked_fixture(tb, setup_boot, teardown);
		tcase_set_timeout(tb, 240);
		tcase_add_test(tb, test_lost_negotiation_is_signalled);
		tcase_add_test(tb, test_negotiation_of_a_failed_pair_is_signalled);
		suite_add_tcase(s, tb);
	}
	{
		TCase *tl = tcase_create("listen");

		tcase_add_checked_fixture(tl, setup_listen, teardown);
		tcase_set_timeout(tl, 120);
		tcase_add_test(tl, test_listen_qmp_reconnect_accepted);
		tcase_add_test(tl, test_vm_file_for_connected_zero_config_qemu);
		suite_add_tcase(s, tl);
	}
	tcase_add_checked_fixture(ti, setup_incoming, teardown);
	tcase_set_timeout(ti, 120);
	tcase_add_test(ti, test_prepare_incoming);
	suite_add_tcase(s, ti);
	tcase_add_checked_fixture(tp, setup_policy, teardown);
	tcase_set_timeout(tp, 120);
	tcase_add_test(tp, test_shipped_policy);
	suite_add_tcase(s, tp);
	return test_suite_run(s, CK_NORMAL);
}
