/*
 * Attaching to a real (paused) QEMU: where primaries go, and failures that
 * must name the object and the cause and give the VF back.
 */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/cluster.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

static TestDir *dir;
static TestHost host;
static TestQemu *qemu;

static void setup(void)
{
	dir = test_dir_new();
	ck_assert_ptr_nonnull(dir);
	test_host_init(&host, test_dir_path(dir), "host");
}

static void teardown(void)
{
	char cmd[400];

	/* A failed test_failed_release_is_retried() must not leave an undeletable file. */
	snprintf(cmd, sizeof(cmd), "chattr -i '%s'/alloc/* 2>/dev/null", host.state);
	if (system(cmd) < 0)
		perror("chattr");
	test_host_kill(&host);
	qemu = test_qemu_free(qemu);
	dir = test_dir_free(dir);
}

/* A paused QEMU as vm1, with one standby (net0) and @n_root_ports ports, on vm.qmp. */
static void qemu_up(unsigned n_root_ports, const char *standby_mac)
{
	/* A spare netdev for standbys the daemon hotplugs itself. */
	static const char *const extra[] = { "-netdev", "user,id=hn1,restrict=on", NULL };
	TestGuestOptions o = {
		.extra_args = extra,
		.qmp_path = test_dir_file(dir, "vm.qmp"),
		.paused = true,
		.standby = true,
		.mac = standby_mac,
		.n_root_ports = n_root_ports,
		.name = "vm1",
	};

	qemu = test_guest_spawn(&o, test_dir_path(dir));
	ck_assert_ptr_nonnull(qemu);
	ck_assert_int_eq(test_qemu_wait_socket(qemu, o.qmp_path, 20000), 0);
}

/* qemu_up(), and failoverd with an emulated pool of @model NICs and @pairs for vm1. */
static void start_with(unsigned n_root_ports, const char *standby_mac, const char *model,
		       const char *pairs_fmt, ...) __attribute__((format(printf, 4, 5)));
static void start_with(unsigned n_root_ports, const char *standby_mac, const char *model,
		       const char *pairs_fmt, ...)
{
	char *pairs = NULL;
	va_list ap;
	int r;

	qemu_up(n_root_ports, standby_mac);
	test_host_write_conf(&host, "emu.pool", "[Pool]\nDriver=emulated\nModel=%s\nSize=2\n",
			     model);
	va_start(ap, pairs_fmt);
	r = vasprintf(&pairs, pairs_fmt, ap);
	va_end(ap);
	ck_assert_int_ge(r, 0);
	test_host_write_conf(&host, "vm1.vm", "[Instance]\nName=vm1\nQMP=%s\n%s",
			     test_dir_file(dir, "vm.qmp"), pairs);
	free(pairs);
	test_host_start(&host);
}

static void start(unsigned n_root_ports, const char *standby_mac, const char *model)
{
	start_with(n_root_ports, standby_mac, model,
		   "[Pair]\nName=p0\nPool=emu\nMACAddress=" TEST_GUEST_MAC "\nStandby=net0\n");
}

/* The emulated pool records allocations as STATE/alloc/emu@emuN. */
static int n_allocations(void)
{
	char path[400];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/alloc", host.state);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void assert_failed_and_released(const char *needle)
{
	char reason[300], vf[64];

	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "failed", 20000), 0);
	test_host_pair_get(&host, "vm1", "p0", "reason", reason, sizeof(reason));
	test_host_pair_get(&host, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_msg(strstr(reason, needle) != NULL, "reason: %s", reason);
	ck_assert_str_eq(vf, "");
	ck_assert_int_eq(n_allocations(), 0);
	printf("failed as expected: %s\n", reason);
}

START_TEST(test_staged_on_paused_guest)
{
	char bus[32];

	start(3, TEST_GUEST_MAC, "e1000e");
	/* Not negotiated yet: QEMU hides the primary, the pair is staged. */
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "staged", 20000), 0);
	test_host_pair_get(&host, "vm1", "p0", "primary_bus", bus, sizeof(bus));
	ck_assert_str_eq(bus, "rp2");
	ck_assert_int_eq(n_allocations(), 1);
}
END_TEST

START_TEST(test_mac_mismatch)
{
	char reason[300];

	start(3, "52:54:00:aa:bb:99", "e1000e");
	assert_failed_and_released("MAC mismatch");
	/*
	 * Regression: the operator corrects MACAddress= and reloads; the pair
	 * kept checking (and would have plugged) the MAC it was created with.
	 */
	test_host_write_conf(&host, "vm1.vm",
			     "[Instance]\nName=vm1\nQMP=%s\n[Pair]\nName=p0\nPool=emu\n"
			     "MACAddress=52:54:00:aa:bb:99\nStandby=net0\n",
			     test_dir_file(dir, "vm.qmp"));
	kill(test_qemu_pid(host.daemon), SIGHUP);
	ck_assert_int_eq(test_host_wait_log(&host, "new configuration applied", 10000), 0);
	if (test_host_wait_pair(&host, "vm1", "p0", "staged", 20000) < 0) {
		test_host_pair_get(&host, "vm1", "p0", "reason", reason, sizeof(reason));
		ck_abort_msg("after the MAC was corrected: %s", reason);
	}
	test_host_pair_get(&host, "vm1", "p0", "mac", reason, sizeof(reason));
	ck_assert_str_eq(reason, "52:54:00:aa:bb:99");
}
END_TEST

START_TEST(test_no_free_root_port)
{
	/* rp1 holds the standby: nothing left for the primary. */
	start(1, TEST_GUEST_MAC, "e1000e");
	assert_failed_and_released("no free pcie-root-port");
}
END_TEST

/*
 * PrimaryBus= puts the primary where the admin says (a command-line
 * primary that QEMU hides elsewhere stays out of the way), and the ports
 * searched for other pairs never take it, even before it is plugged; a pair
 * that failed (wrong MAC) keeps its port for a later retry. p1 hotplugs its
 * standby and searches both ports: it must get rp3 and rp4.
 */
static const struct {
	const char *p0_mac, *p0_state, *p0_primary_bus;
} primary_bus_cases[] = {
	{ TEST_GUEST_MAC, "staged", "rp2" },
	{ "52:54:00:aa:bb:99", "failed", NULL },
};

START_TEST(test_primary_bus_is_the_admins)
{
	char bus[32];

	start_with(4, TEST_GUEST_MAC, "e1000e",
		   "[Pair]\nName=p0\nPool=emu\nMACAddress=%s\nStandby=net0\nPrimaryBus=rp2\n"
		   "[Pair]\nName=p1\nPool=emu\nMACAddress=52:54:00:aa:bb:02\n"
		   "StandbyNetdev=hn1\n",
		   primary_bus_cases[_i].p0_mac);
	ck_assert_int_eq(
		test_host_wait_pair(&host, "vm1", "p0", primary_bus_cases[_i].p0_state, 20000), 0);
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p1", "staged", 20000), 0);
	if (primary_bus_cases[_i].p0_primary_bus) {
		test_host_pair_get(&host, "vm1", "p0", "primary_bus", bus, sizeof(bus));
		ck_assert_str_eq(bus, primary_bus_cases[_i].p0_primary_bus);
	}
	test_host_pair_get(&host, "vm1", "p1", "standby_bus", bus, sizeof(bus));
	ck_assert_str_eq(bus, "rp3");
	test_host_pair_get(&host, "vm1", "p1", "primary_bus", bus, sizeof(bus));
	ck_assert_str_eq(bus, "rp4");
}
END_TEST

START_TEST(test_primary_bus_missing)
{
	start_with(3, TEST_GUEST_MAC, "e1000e",
		   "[Pair]\nName=p0\nPool=emu\nMACAddress=" TEST_GUEST_MAC
		   "\nStandby=net0\nPrimaryBus=rp9\n");
	assert_failed_and_released("on rp9 failed");
}
END_TEST

START_TEST(test_qemu_without_the_primary_driver)
{
	char reason[300];

	start(3, TEST_GUEST_MAC, "no-such-nic");
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "failed", 20000), 0);
	test_host_pair_get(&host, "vm1", "p0", "reason", reason, sizeof(reason));
	ck_assert_msg(strstr(reason, "missing primary property 'failover_pair_id'") != NULL,
		      "reason: %s", reason);
	ck_assert_int_eq(n_allocations(), 0);
	ck_assert_int_eq(test_host_wait_log(&host, "refusing QEMU", 1000), 0);
	printf("refused as expected: %s\n", reason);
}
END_TEST

START_TEST(test_reload_applies_only_changes)
{
	char before[32], after[32], reason[300];
	const char *vm = "[Instance]\nName=vm1\nQMP=%s\n"
			 "[Pair]\nName=p0\nPool=emu\nMACAddress=" TEST_GUEST_MAC "\nStandby=net0\n";

	start(4, TEST_GUEST_MAC, "e1000e");
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "staged", 20000), 0);
	test_host_pair_get(&host, "vm1", "p0", "changed_us", before, sizeof(before));

	/* A second pair (a standby hotplugged by the daemon) through a drop-in. */
	test_host_write_conf(&host, "vm1.vm", vm, test_dir_file(dir, "vm.qmp"));
	{
		char d[400];

		snprintf(d, sizeof(d), "%s/etc/failoverd/vm1.vm.d", host.root);
		mkdir(d, 0755);
	}
	test_host_write_conf(&host, "vm1.vm.d/50-p1.conf",
			     "[Pair]\nName=p1\nPool=emu\nMACAddress=52:54:00:aa:bb:02\n"
			     "StandbyNetdev=hn1\n");
	kill(test_qemu_pid(host.daemon), SIGHUP);
	ck_assert_int_eq(test_host_wait_log(&host, "pair vm1/p1 added", 10000), 0);

	/* An invalid file: the last good configuration stays. */
	test_host_write_conf(&host, "emu.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=0\n");
	kill(test_qemu_pid(host.daemon), SIGHUP);
	ck_assert_int_eq(test_host_wait_log(&host, "keeping the last good one", 10000), 0);
	ck_assert_int_eq(test_host_wait_log(&host, "emu.pool:4: error: invalid Size=0", 1000), 0);

	/* Remove p1 again: it is detached; p0 was never disturbed. */
	test_host_write_conf(&host, "emu.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=2\n");
	test_host_write_conf(&host, "vm1.vm.d/50-p1.conf", "# nothing\n");
	kill(test_qemu_pid(host.daemon), SIGHUP);
	ck_assert_int_eq(test_host_wait_log(&host, "pair vm1/p1 removed", 10000), 0);
	/* The paused guest's QEMU keeps p1's hidden primary: its VF stays held. */
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p1", "detaching", 10000), 0);
	test_host_pair_get(&host, "vm1", "p1", "reason", reason, sizeof(reason));
	test_host_pair_get(&host, "vm1", "p0", "changed_us", after, sizeof(after));
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(n_allocations(), 2);
	printf("reload: p1 added then removed (%s); p0 untouched\n", reason);
}
END_TEST

/* Regression: [Daemon] CommandTimeoutSec= was parsed and never applied. */
START_TEST(test_command_timeout_applies)
{
	char reason[300];

	test_host_write_conf(&host, "failoverd.conf", "[Daemon]\nCommandTimeoutSec=2\n");
	start(4, TEST_GUEST_MAC, "e1000e");
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "staged", 20000), 0);
	/* QEMU stops answering; a new pair's first command must give up at 2 s. */
	kill(test_qemu_pid(qemu), SIGSTOP);
	test_host_write_conf(&host, "vm1.vm",
			     "[Instance]\nName=vm1\nQMP=%s\n"
			     "[Pair]\nName=p0\nPool=emu\nMACAddress=" TEST_GUEST_MAC
			     "\nStandby=net0\n"
			     "[Pair]\nName=p1\nPool=emu\nMACAddress=52:54:00:aa:bb:02\n"
			     "StandbyNetdev=hn1\n",
			     test_dir_file(dir, "vm.qmp"));
	kill(test_qemu_pid(host.daemon), SIGHUP);
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p1", "failed", 30000), 0);
	kill(test_qemu_pid(qemu), SIGCONT);
	test_host_pair_get(&host, "vm1", "p1", "reason", reason, sizeof(reason));
	ck_assert_msg(strstr(reason, "within 2000 ms"), "reason: %s", reason);
	/* Nothing reached QEMU: p1's VF went back, p0's stays. */
	ck_assert_int_eq(n_allocations(), 1);
}
END_TEST

static void pair_file_set(const char *key, const char *value)
{
	char path[400], cmd[900];

	snprintf(path, sizeof(path), "%s/pairs/vm1@p0", host.state);
	snprintf(cmd, sizeof(cmd), "sed -i 's/^%s=.*/%s=%s/' '%s'", key, key, value, path);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * Regression: a restored pair trusted vf= in its state file without the
 * pool's allocation record, and could claim a VF that is not its own.
 */
START_TEST(test_restored_vf_needs_its_record)
{
	char vf[64];

	start(3, TEST_GUEST_MAC, "e1000e");
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "staged", 20000), 0);
	test_host_pair_get(&host, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_str_eq(vf, "emu0");
	test_host_kill(&host);
	pair_file_set("vf", "emu1");
	test_host_start(&host);
	ck_assert_int_eq(test_host_wait_log(&host, "does not record it as this pair's", 10000), 0);
	/* It takes back the VF the pool records as its own, and no other. */
	for (int64_t end = test_now_ms() + 20000; test_now_ms() < end; usleep(50000)) {
		test_host_pair_get(&host, "vm1", "p0", "vf", vf, sizeof(vf));
		if (strcmp(vf, "emu1") != 0)
			break;
	}
	ck_assert_str_eq(vf, "emu0");
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "staged", 20000), 0);
	ck_assert_int_eq(n_allocations(), 1);
}
END_TEST

static void alloc_immutable(const char *vf, bool on)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "chattr %si '%s/alloc/emu@%s'", on ? "+" : "-", host.state, vf);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * Regression: a release that failed (a state directory that refuses the
 * write) cleared the pair's hold on its VF with no retry: the VF was lost
 * to the pool for good.
 */
/* Pair p0 staged on emu0, whose release then fails when its QEMU quits: failed, VF kept. */
static void release_fails_after_quit(void)
{
	char reason[300], vf[64];

	start(3, TEST_GUEST_MAC, "e1000e");
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "staged", 20000), 0);
	alloc_immutable("emu0", true);
	qemu = test_qemu_free(qemu);
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "failed", 20000), 0);
	test_host_pair_get(&host, "vm1", "p0", "reason", reason, sizeof(reason));
	test_host_pair_get(&host, "vm1", "p0", "vf", vf, sizeof(vf));
	ck_assert_msg(strstr(reason, "giving VF emu0 back failed (retrying)"), "reason: %s",
		      reason);
	ck_assert_str_eq(vf, "emu0");
}

START_TEST(test_failed_release_is_retried)
{
	release_fails_after_quit();
	alloc_immutable("emu0", false);
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "released", 20000), 0);
	ck_assert_int_eq(n_allocations(), 0);
}
END_TEST

/* A QEMU of vm1 was set up: "instance vm1: QEMU 10.0.2 ready (...)". */
static bool is_ready_line(const char *line, void *ud)
{
	return strstr(line, "instance vm1: QEMU") && strstr(line, " ready (");
}

/*
 * Regression: a new QEMU under the instance's socket while a release is
 * still being retried got the half-released VF plugged (for a vfio VF: one
 * no longer bound to vfio-pci). The release finishes first; then the pair
 * attaches with a VF reserved afresh.
 */
START_TEST(test_failed_release_finishes_before_reattach)
{
	char reason[300], vf[64];

	release_fails_after_quit();
	qemu_up(3, TEST_GUEST_MAC);
	ck_assert_int_eq(test_log_wait_lines(host.log, is_ready_line, NULL, 2, 20000), 0);
	usleep(500000); /* the instance's set-up runs its pairs */
	test_host_pair_get(&host, "vm1", "p0", "state", vf, sizeof(vf));
	ck_assert_str_eq(vf, "failed");
	test_host_pair_get(&host, "vm1", "p0", "reason", reason, sizeof(reason));
	ck_assert_msg(strstr(reason, "giving VF emu0 back failed (retrying)"), "reason: %s",
		      reason);
	alloc_immutable("emu0", false);
	ck_assert_int_eq(test_host_wait_log(&host, "failed -> released", 20000), 0);
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "staged", 20000), 0);
	ck_assert_int_eq(n_allocations(), 1);
}
END_TEST

/*
 * Regression: one timer served three deadlines, told apart by the state at
 * expiry; the negotiation deadline of a staged pair, still pending after
 * its removal from the configuration, fired in 'detaching' and replaced the
 * true reason (a hidden primary QEMU will not delete) with "the guest has
 * not released primary fo-p0 within UnplugTimeoutSec".
 */
START_TEST(test_stale_deadline_keeps_detach_reason)
{
	char reason[300];

	test_host_write_conf(&host, "failoverd.conf", "[Daemon]\nNegotiateTimeoutSec=1\n");
	start(3, TEST_GUEST_MAC, "e1000e");
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "staged", 20000), 0);
	test_host_write_conf(&host, "vm1.vm", "[Instance]\nName=vm1\nQMP=%s\n",
			     test_dir_file(dir, "vm.qmp"));
	kill(test_qemu_pid(host.daemon), SIGHUP);
	ck_assert_int_eq(test_host_wait_pair(&host, "vm1", "p0", "detaching", 10000), 0);
	usleep(1500000); /* past the staged pair's NegotiateTimeoutSec=1 */
	test_host_pair_get(&host, "vm1", "p0", "reason", reason, sizeof(reason));
	ck_assert_msg(strstr(reason, "is hidden by QEMU"), "reason: %s", reason);
	ck_assert_int_eq(n_allocations(), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-attach");
	TCase *tc = tcase_create("paused-qemu");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_staged_on_paused_guest);
	tcase_add_test(tc, test_mac_mismatch);
	tcase_add_test(tc, test_no_free_root_port);
	tcase_add_loop_test(tc, test_primary_bus_is_the_admins, 0,
			    (int)(sizeof(primary_bus_cases) / sizeof(primary_bus_cases[0])));
	tcase_add_test(tc, test_primary_bus_missing);
	tcase_add_test(tc, test_qemu_without_the_primary_driver);
	tcase_add_test(tc, test_reload_applies_only_changes);
	tcase_add_test(tc, test_command_timeout_applies);
	tcase_add_test(tc, test_restored_vf_needs_its_record);
	tcase_add_test(tc, test_failed_release_is_retried);
	tcase_add_test(tc, test_failed_release_finishes_before_reattach);
	tcase_add_test(tc, test_stale_deadline_keeps_detach_reason);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
