/*
 * The real failoverd against a hostile, FAKE QMP peer (tests/lib/fake-qmp:
 * a socket served by this test, not QEMU) that answers one command with a
 * reply of the wrong JSON type, or sends a malformed event. For each case
 * the daemon must stay alive, say what was wrong (instance, command,
 * cause), keep serving a second, well-behaved QEMU, and work with the same
 * peer once it reconnects and answers properly.
 */

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/lib/fake-qmp.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

static const struct {
	const char *command, *args, *reply; /* the bad answer, or an event with @event */
	const char *event;
	const char *why; /* in the log or the pair's reason */
} cases[] = {
	{ "device-list-properties", "\"typename\":\"virtio-net-pci\"", "{}", NULL,
	  "refusing QEMU: device-list-properties virtio-net-pci failed: reply is an object, "
	  "expected an array" },
	{ "device-list-properties", "\"typename\":\"e1000e\"", "[{\"type\":\"str\"}]", NULL,
	  "device-list-properties e1000e failed: entry 0 has no string 'name'" },
	{ "query-qmp-schema", NULL, "{}", NULL,
	  "query-qmp-schema failed: reply is an object, expected an array" },
	{ "query-qmp-schema", NULL, "[{\"name\":\"UNPLUG_PRIMARY\"}]", NULL,
	  "query-qmp-schema failed: entry 0 has no string 'meta-type'" },
	{ "query-migrate-capabilities", NULL, "{}", NULL,
	  "instance vm1: query-migrate-capabilities failed: reply is an object, expected an "
	  "array" },
	{ "query-migrate-capabilities", NULL, "[{\"capability\":\"events\",\"state\":\"on\"}]",
	  NULL,
	  "query-migrate-capabilities failed: entry 0 lacks a string 'capability' or a "
	  "boolean 'state'" },
	{ "migrate-set-capabilities", NULL, "[]", NULL,
	  "instance vm1: migrate-set-capabilities failed: reply is an array, expected an object" },
	{ "query-name", NULL, "5", NULL,
	  "instance vm1: query-name failed: reply is an integer, expected an object" },
	{ "query-status", NULL, "5", NULL,
	  "instance vm1: query-status failed: reply is an integer, expected an object" },
	{ "query-migrate", NULL, "\"completed\"", NULL,
	  "instance vm1: query-migrate failed: reply is a string, expected an object" },
	{ "qom-get", "\"property\":\"failover\"", "null", NULL,
	  "standby net0 is not usable: qom-get failover: reply is null, expected a boolean" },
	{ "qom-get", "\"property\":\"mac\"", "null", NULL,
	  "standby net0: qom-get mac: reply is null, expected a string" },
	{ "qom-list", "\"path\":\"/machine/peripheral\"}", "{}", NULL,
	  "listing pcie-root-ports of vm1 failed: qom-list /machine/peripheral: reply is an "
	  "object, expected an array" },
	{ "qom-list", "\"path\":\"/machine/peripheral\"}",
	  "[{\"name\":5,\"type\":\"child<pcie-root-port>\"}]", NULL,
	  "qom-list /machine/peripheral: entry 0 has no string 'name'" },
	{ "qom-list", "/rp2/rp2", "[{\"type\":\"link<x>\"}]", NULL,
	  "qom-list of rp2's bus: entry 0 has no string 'name'" },
	{ "device_add", NULL, "5", NULL,
	  "device_add of primary fo-p0 (e1000e emu0) on rp2 failed: reply is an integer, "
	  "expected an object" },
	{ NULL, NULL, NULL, "{\"event\": \"MIGRATION\", \"data\": 5}",
	  "event MIGRATION: data is an integer, expected an object" },
	{ NULL, NULL, NULL, "{\"event\": \"FAILOVER_NEGOTIATED\", \"data\": [\"net0\"]}",
	  "event FAILOVER_NEGOTIATED: data is an array, expected an object" },
};

static TestDir *dir;
static TestHost host;
static FakeQmp *fakes[2]; /* vm1: the hostile one; vm2: well-behaved */

static const FakeQmpRule vm2_rules[] = {
	{ "qom-get", "\"property\":\"mac\"", "\"52:54:00:aa:bb:02\"" },
	{ NULL, NULL, NULL },
};

static void setup(void)
{
	dir = test_dir_new();
	ck_assert_ptr_nonnull(dir);
	test_host_init(&host, test_dir_path(dir), "host");
	test_host_write_conf(&host, "emu.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=4\n");
	for (int k = 0; k < 2; k++) {
		char name[8], sock[16];

		snprintf(name, sizeof(name), "vm%d", k + 1);
		snprintf(sock, sizeof(sock), "vm%d.qmp", k + 1);
		fakes[k] = fake_qmp_new_listen(test_dir_file(dir, sock));
		test_host_write_conf(&host, k ? "vm2.vm" : "vm1.vm",
				     "[Instance]\nName=%s\nQMP=%s\n\n[Pair]\nName=p0\nPool=emu\n"
				     "MACAddress=52:54:00:aa:bb:0%d\nStandby=net0\n",
				     name, test_dir_file(dir, sock), k + 1);
	}
	fake_qmp_set_rules(fakes[1], vm2_rules);
}

static void teardown(void)
{
	test_host_kill(&host);
	for (int k = 0; k < 2; k++)
		fakes[k] = fake_qmp_free(fakes[k]);
	dir = test_dir_free(dir);
}

typedef bool (*Pred)(const void *arg);

/* Serves the first @n fakes until @pred holds; false after @ms. */
static bool serve_until(int n, Pred pred, const void *arg, int ms)
{
	int64_t end = test_now_ms() + ms;

	while (test_now_ms() < end) {
		if (pred(arg))
			return true;
		ck_assert_msg(test_qemu_running(host.daemon), "failoverd died (see %s)", host.log);
		fake_qmp_step_all(fakes, n, 10);
	}
	return pred(arg);
}

static bool log_has(const void *needle)
{
	char *text = test_log_read(host.log);
	bool found = text && strstr(text, needle);

	free(text);
	return found;
}

/* Said in the log, or recorded as vm1/p0's reason. */
static bool told(const void *needle)
{
	char reason[512];

	test_host_pair_get(&host, "vm1", "p0", "reason", reason, sizeof(reason));
	return strstr(reason, needle) || log_has(needle);
}

static bool staged(const void *instance)
{
	char state[32];

	test_host_pair_get(&host, instance, "p0", "state", state, sizeof(state));
	return strcmp(state, "staged") == 0;
}

START_TEST(test_bad_reply)
{
	FakeQmpRule bad[] = { { cases[_i].command, cases[_i].args, cases[_i].reply },
			      { NULL, NULL, NULL } };

	if (cases[_i].command)
		fake_qmp_set_rules(fakes[0], bad);
	test_host_start(&host);
	/* vm1 alone first: the probe it answers badly is not vm2's cached one. */
	if (cases[_i].event) {
		ck_assert(serve_until(1, log_has, "instance vm1: QEMU 10.0.2 ready", 10000));
		fake_qmp_send(fakes[0], cases[_i].event);
	}
	ck_assert_msg(serve_until(1, told, cases[_i].why, 10000), "never said: %s (see %s)",
		      cases[_i].why, host.log);
	/* Still serving: the other QEMU gets its pair. */
	ck_assert_msg(serve_until(2, staged, "vm2", 10000), "vm2/p0 not staged (see %s)", host.log);
	/* The same peer, reconnecting and answering properly, works. */
	fake_qmp_set_rules(fakes[0], NULL);
	fake_qmp_hangup(fakes[0]);
	ck_assert_msg(serve_until(2, staged, "vm1", 15000), "vm1/p0 not staged (see %s)", host.log);
	ck_assert(test_qemu_running(host.daemon));
	test_host_stop(&host);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-replies");
	TCase *tc = tcase_create("hostile-peer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_bad_reply, 0, sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
