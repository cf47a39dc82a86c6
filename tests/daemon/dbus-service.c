/*
 * failoverd as a systemd service: the sd_notify protocol as systemd sees it
 * (READY=1 after start-up, WATCHDOG=1 from the loop only when asked for,
 * RELOADING=1/READY=1 around Reload() and SIGHUP, STOPPING=1), and the installed unit,
 * bus policy and activation file as `make install` lays them out, checked
 * by systemd-analyze verify.
 */

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cluster.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

static struct {
	TestDir *dir;
	TestHost host;
	TestQemu *dbus;
	char address[400];
	int notify_fd;
	char msgs[256][64];
	int n_msgs;
	pid_t signaller; /* a child sending the daemon signals, 0 if none */
} t;

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char conf[400], sock[400], arg[500];
	const char *argv[] = { "dbus-daemon", "--nofork", "--nopidfile", arg, NULL };
	FILE *f;

	memset(&t, 0, sizeof(t));
	t.notify_fd = -1;
	t.dir = test_dir_new();
	ck_assert_ptr_nonnull(t.dir);
	test_host_init(&t.host, test_dir_path(t.dir), "host");
	test_host_write_conf(&t.host, "emu.pool",
			     "[Pool]\nDriver=emulated\nModel=e1000e\nSize=2\n");

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify.sock", test_dir_path(t.dir));
	t.notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(t.notify_fd, 0);
	ck_assert_int_eq(bind(t.notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* Set after dbus-daemon started: it would announce its own READY=1 there. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("INVOCATION_ID");

	snprintf(conf, sizeof(conf), "%s/bus.conf", test_dir_path(t.dir));
	snprintf(sock, sizeof(sock), "%s/bus.sock", test_dir_path(t.dir));
	snprintf(t.address, sizeof(t.address), "unix:path=%s", sock);
	f = fopen(conf, "we");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"<busconfig><listen>%s</listen><auth>EXTERNAL</auth>"
		"<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
		"<allow send_destination=\"*\"/><allow eavesdrop=\"true\"/></policy></busconfig>\n",
		t.address);
	fclose(f);
	snprintf(arg, sizeof(arg), "--config-file=%s", conf);
	t.dbus = test_qemu_spawn(argv, test_dir_file(t.dir, "dbus-daemon.log"));
	ck_assert_ptr_nonnull(t.dbus);
	ck_assert_int_eq(test_qemu_wait_socket(t.dbus, sock, 10000), 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
}

static void signaller_stop(void)
{
	if (t.signaller <= 0)
		return;
	kill(t.signaller, SIGKILL);
	waitpid(t.signaller, NULL, 0);
	t.signaller = 0;
}

static void teardown(void)
{
	signaller_stop();
	test_host_kill(&t.host);
	t.dbus = test_qemu_free(t.dbus);
	if (t.notify_fd >= 0)
		close(t.notify_fd);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	test_dir_free(t.dir);
}

static void daemon_start(void)
{
	char bus_arg[450], bin[300];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"),
			       "--log-level=debug",
			       "--root",
			       t.host.root,
			       "--state-dir",
			       t.host.state,
			       bus_arg,
			       NULL };

	snprintf(bus_arg, sizeof(bus_arg), "--bus=%s", t.address);
	t.host.daemon = test_qemu_spawn(argv, t.host.log);
	ck_assert_ptr_nonnull(t.host.daemon);
}

/* Collects notifications for @ms; each datagram's lines become messages. */
static void collect(unsigned ms)
{
	int64_t end = test_now_ms() + ms;
	char buf[4096];

	for (int64_t now = test_now_ms(); now < end; now = test_now_ms()) {
		struct pollfd p = { t.notify_fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, (int)(end - now)) <= 0)
			continue;
		n = recv(t.notify_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = 0;
		for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l && t.n_msgs < 256;
		     l = strtok_r(NULL, "\n", &save))
			snprintf(t.msgs[t.n_msgs++], sizeof(t.msgs[0]), "%s", l);
	}
}

static int count(const char *msg)
{
	int n = 0;

	for (int k = 0; k < t.n_msgs; k++)
		n += strcmp(t.msgs[k], msg) == 0;
	return n;
}

static int find(const char *msg, int from)
{
	for (int k = from; k < t.n_msgs; k++)
		if (strcmp(t.msgs[k], msg) == 0)
			return k;
	return -1;
}

START_TEST(test_notify_protocol)
{
	char cmd[700], ctl[300];
	int ready, reloading, status;

	setenv("WATCHDOG_USEC", "400000", 1);
	daemon_start();
	ck_assert_int_eq(test_log_wait(t.host.log, "failoverd started", 10000), 0);
	collect(1200);
	ready = find("READY=1", 0);
	ck_assert_msg(ready >= 0, "no READY=1 (%d messages)", t.n_msgs);
	/* Pinged at half the interval from the loop: ~6 in 1.2 s. */
	ck_assert_int_ge(count("WATCHDOG=1"), 3);

	snprintf(cmd, sizeof(cmd), "%s --bus-address=%s reload >/dev/null",
		 test_build_path(ctl, sizeof(ctl), "failoverctl"), t.address);
	ck_assert_int_eq(system(cmd), 0);
	collect(300);
	reloading = find("RELOADING=1", ready + 1);
	ck_assert_int_ge(reloading, 0);
	ready = find("READY=1", reloading + 1);
	ck_assert_int_ge(ready, 0);

	/* `kill -HUP` (or an ExecReload= that signals) goes through the same protocol. */
	kill(test_qemu_pid(t.host.daemon), SIGHUP);
	collect(300);
	reloading = find("RELOADING=1", ready + 1);
	ck_assert_msg(reloading >= 0, "SIGHUP sent no RELOADING=1");
	ck_assert_int_ge(find("READY=1", reloading + 1), 0);

	kill(test_qemu_pid(t.host.daemon), SIGTERM);
	ck_assert_int_eq(test_qemu_wait_exit(t.host.daemon, 5000, &status), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t.host.daemon = test_qemu_free(t.host.daemon);
	collect(100);
	ck_assert_int_ge(find("STOPPING=1", reloading + 1), 0);
}
END_TEST

/*
 * READY=1 means reconciled: a running QEMU has been connected and set up
 * first, while a configured QEMU that is not running does not hold it up.
 */
START_TEST(test_ready_after_reconcile)
{
	char qmp[400], *log;
	TestGuestOptions o = { 0 };
	TestQemu *qemu;
	const char *ready_line, *vm1_line;
	int k;

	snprintf(qmp, sizeof(qmp), "%s/vm1.qmp", test_dir_path(t.dir));
	o.qmp_path = qmp;
	o.name = "vm1";
	o.standby = true;
	o.paused = true;
	qemu = test_guest_spawn(&o, test_dir_path(t.dir));
	ck_assert_ptr_nonnull(qemu);
	ck_assert_int_eq(test_qemu_wait_socket(qemu, qmp, 20000), 0);
	test_host_write_conf(&t.host, "vm1.vm",
			     "[Instance]\nName=vm1\nQMP=%s\n\n[Pair]\nName=p0\nPool=emu\n"
			     "MACAddress=52:54:00:aa:bb:07\nStandby=net0\n",
			     qmp);
	test_host_write_conf(&t.host, "vm2.vm", "[Instance]\nName=vm2\nQMP=%s/absent.qmp\n",
			     test_dir_path(t.dir));
	daemon_start();
	for (k = 0; k < 200 && find("READY=1", 0) < 0; k++)
		collect(100);
	ck_assert_msg(find("READY=1", 0) >= 0, "no READY=1 (see %s)", t.host.log);
	/* The daemon logs before it notifies: the log as of READY=1 says what was done. */
	log = test_log_read(t.host.log);
	ck_assert_ptr_nonnull(log);
	vm1_line = strstr(log, "instance vm1: QEMU ");
	ready_line = strstr(log, "start-up complete");
	ck_assert_msg(vm1_line && ready_line && vm1_line < ready_line,
		      "READY=1 before vm1 was set up:\n%s",
		      log + (strlen(log) > 3000 ? strlen(log) - 3000 : 0));
	free(log);
	test_host_kill(&t.host);
	test_qemu_free(qemu);
}
END_TEST

/* An orchestrator drops a pool into /run/failoverd: reloaded without being asked. */
START_TEST(test_runtime_dir_watched)
{
	char dir[400], tmp[500], path[500], cmd[900], ctl[300], out[4096] = "";
	int ready, reloading;
	size_t n;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/run", t.host.root);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/run/failoverd", t.host.root);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	daemon_start();
	ck_assert_int_eq(test_log_wait(t.host.log, "failoverd started", 10000), 0);
	collect(300);
	ready = find("READY=1", 0);
	ck_assert_int_ge(ready, 0);

	/* Written aside, then renamed into place, as careful writers do. */
	snprintf(tmp, sizeof(tmp), "%s/.emu9.pool.tmp", dir);
	snprintf(path, sizeof(path), "%s/emu9.pool", dir);
	f = fopen(tmp, "we");
	ck_assert_ptr_nonnull(f);
	fputs("[Pool]\nDriver=emulated\nModel=e1000e\nSize=1\n", f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, path), 0);
	collect(1500);
	reloading = find("RELOADING=1", ready + 1);
	ck_assert_msg(reloading >= 0, "no reload after a file appeared in %s", dir);
	ck_assert_int_ge(find("READY=1", reloading + 1), 0);
	ck_assert_int_eq(find("RELOADING=1", reloading + 1), -1); /* one reload, not two */

	snprintf(cmd, sizeof(cmd), "%s --bus-address=%s --no-legend pools",
		 test_build_path(ctl, sizeof(ctl), "failoverctl"), t.address);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	pclose(f);
	ck_assert_msg(strstr(out, "emu9"), "pools after the drop-in: %s", out);
}
END_TEST

START_TEST(test_no_watchdog_no_timer)
{
	daemon_start();
	ck_assert_int_eq(test_log_wait(t.host.log, "failoverd started", 10000), 0);
	collect(1000);
	ck_assert_int_ge(find("READY=1", 0), 0);
	ck_assert_int_eq(count("WATCHDOG=1"), 0);
}
END_TEST

/* Whether @pid has a handler for @sig (SigCgt in /proc/PID/status). */
static bool catches(pid_t pid, int sig)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigCgt: %llx", &mask) == 1)
			break;
	fclose(f);
	return mask & (1ull << (sig - 1));
}

/* A child that sends @sig to @pid every @us microseconds until stopped. */
static void signaller_start(pid_t pid, int sig, unsigned us)
{
	pid_t parent = getpid();

	t.signaller = fork();
	ck_assert_int_ge(t.signaller, 0);
	if (t.signaller > 0)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	while (kill(pid, sig) == 0)
		usleep(us);
	_exit(0);
}

/*
 * Signals the daemon handles (SIGUSR1 for metrics, SIGHUP for a reload)
 * may come at any time, also while it waits for the bus daemon: owning
 * the name at start-up and asking who a caller is both wait for a reply.
 * An interrupted wait is not a failure.
 */
START_TEST(test_signals_while_waiting_for_the_bus)
{
	char cmd[700], ctl[300];
	pid_t pid;
	int k, status;

	daemon_start();
	pid = test_qemu_pid(t.host.daemon);
	for (k = 0; k < 10000 && !catches(pid, SIGUSR1); k++)
		usleep(100);
	ck_assert_msg(catches(pid, SIGUSR1), "the daemon never caught SIGUSR1");
	signaller_start(pid, SIGUSR1, 100);
	for (k = 0; k < 100 && find("READY=1", 0) < 0 &&
		    test_qemu_wait_exit(t.host.daemon, 0, &status) != 0;
	     k++)
		collect(100);
	ck_assert_msg(find("READY=1", 0) >= 0, "no READY=1 under signals (see %s)", t.host.log);

	/* Reload is for the admin group: each call asks the bus who the caller is. */
	snprintf(cmd, sizeof(cmd), "%s --bus-address=%s reload",
		 test_build_path(ctl, sizeof(ctl), "failoverctl"), t.address);
	for (k = 0; k < 20; k++) {
		ck_assert_msg(system(cmd) == 0, "reload %d failed under signals (see %s)", k,
			      t.host.log);
		collect(20); /* RELOADING=1, READY=1: read, or the daemon's next notify waits */
	}
	signaller_stop();
	ck_assert_int_eq(test_qemu_wait_exit(t.host.daemon, 0, &status), -ETIMEDOUT);
}
END_TEST

START_TEST(test_install_and_verify_unit)
{
	static const char *const files[] = {
		"usr/sbin/failoverd",
		"usr/bin/failoverctl",
		"usr/lib/systemd/system/failoverd.service",
		"usr/lib/systemd/system/failoverd-qmp.socket",
		"usr/share/dbus-1/system.d/org.failoverd1.conf",
		"usr/share/dbus-1/system-services/org.failoverd1.service",
		"usr/lib/sysusers.d/failoverd.conf",
		"usr/share/man/man8/failoverd.8",
		"usr/share/man/man1/failoverctl.1",
		"usr/share/bash-completion/completions/failoverctl",
		"usr/share/doc/failoverd/examples/failoverd.conf",
	};
	const char *dir = test_dir_path(t.dir);
	char cmd[1500], path[600];
	char *unit, *err;
	struct stat st;

	/*
	 * Installed with PREFIX inside the test directory: the unit then names
	 * real binaries. B= is the build under test, so nothing is rebuilt.
	 */
	snprintf(cmd, sizeof(cmd),
		 "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install B=%s DESTDIR= "
		 "PREFIX=%s/usr "
		 ">%s/install.log 2>&1",
		 test_build_dir(), dir, dir);
	ck_assert_msg(system(cmd) == 0, "make install failed (see %s/install.log)", dir);
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
		ck_assert_msg(stat(path, &st) == 0, "%s was not installed", files[k]);
	}
	snprintf(path, sizeof(path), "%s/usr/lib/systemd/system/failoverd.service", dir);
	unit = test_log_read(path);
	ck_assert_ptr_nonnull(unit);
	snprintf(cmd, sizeof(cmd), "ExecStart=%s/usr/sbin/failoverd --bus=system", dir);
	ck_assert_msg(strstr(unit, cmd), "%s", unit);
	for (const char *const *w =
		     (const char *const[]){
			     "Type=notify", "WatchdogSec=", "ExecReload=", "StateDirectory=",
			     "RuntimeDirectory=", "ProtectSystem=strict", "ProtectHome=yes",
			     "PrivateTmp=yes", "NoNewPrivileges=yes",
			     "CapabilityBoundingSet=CAP_NET_ADMIN", "SystemCallFilter=", NULL };
	     *w; w++)
		ck_assert_msg(strstr(unit, *w), "unit lacks %s", *w);
	free(unit);

	snprintf(cmd, sizeof(cmd),
		 "MANPATH=%s/usr/share/man systemd-analyze verify %s "
		 "%s/usr/lib/systemd/system/failoverd-qmp.socket >%s/verify.log 2>&1",
		 dir, path, dir, dir);
	snprintf(path, sizeof(path), "%s/verify.log", dir);
	if (system(cmd) != 0) {
		test_log_dump(path, 4000);
		ck_abort_msg("systemd-analyze verify failed");
	}
	err = test_log_read(path);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(err[0] == 0, "systemd-analyze verify complained: %s", err);
	free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dbus-service");
	TCase *tc = tcase_create("service");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_notify_protocol);
	tcase_add_test(tc, test_no_watchdog_no_timer);
	tcase_add_test(tc, test_runtime_dir_watched);
	tcase_add_test(tc, test_ready_after_reconcile);
	tcase_add_test(tc, test_signals_while_waiting_for_the_bus);
	tcase_add_test(tc, test_install_and_verify_unit);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
