/*
 * The whole stack with a real VF (docs/qemu-failover.md §guests): inside the SR-IOV test guest
 * (QEMU's igb PF with 7 VFs behind a vIOMMU), two failoverd processes act
 * as two hosts with a vfio pool each on the same PF (disjoint VF ranges),
 * and two nested QEMUs run the failover test guest, whose initramfs loads
 * igbvf. The source guest bonds virtio + a passed-through igbvf VF, is
 * live-migrated to an -incoming destination whose VF was pre-staged, and
 * each VF comes back to igbvf exactly as it was once its QEMU quits.
 *
 * Run by tests/run-full-tier.sh; prints every pair transition and the
 * duration of each phase.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "tests/lib/cluster.h"
#include "tests/lib/harness.h"
#include "tests/lib/kernel.h"
#include "tests/lib/suite.h"

#define MAC	   "52:54:00:aa:bb:01"
#define VF_SRC	   0 /* first VF of host A's range 0-2 */
#define VF_DST	   3 /* first VF of host B's range 3-5 */
#define VF_SRC_MAC "02:fd:00:00:00:10"
#define N_PHASES   8

typedef struct Vm {
	char qmp[300];	/* the daemon's monitor */
	char tqmp[300]; /* the test's own monitor */
	char serial[300];
	char migrate[300];
	TestQemu *qemu;
	QmpConn *conn;
	int n_ready;
} Vm;

static struct {
	struct event_base *base;
	TestDir *dir;
	TestIgb igb;
	TestVfSnapshot before_src, before_dst;
	TestHost a, b;
	long log_off_a, log_off_b;
	Vm src, dst;
	int n_done, r;
	char ret[4096];
	int64_t t0;
	const char *phase_name[N_PHASES];
	double phase_s[N_PHASES];
	int n_phases;
	uint64_t phase_start;
} t;

static double elapsed_s(void)
{
	return (double)(test_now_ms() - t.t0) / 1000.0;
}

/* Prints the pair transitions @h's daemon logged since the last call, as
 * "pair vm1/p0: FROM -> TO (reason)" without the other structured fields. */
static void print_transitions(TestHost *h, long *off)
{
	char line[1024];
	FILE *f = fopen(h->log, "re");

	if (!f)
		return;
	if (fseek(f, *off, SEEK_SET) == 0) {
		while (fgets(line, sizeof(line), f)) {
			char *p = strstr(line, "pair vm1/p0: "), *fields, *reason;

			if (!strchr(line, '\n'))
				break; /* a line still being written: read it next time */
			*off += (long)strlen(line);
			if (!p || !strstr(p, " -> "))
				continue;
			line[strcspn(line, "\n")] = 0;
			reason = strstr(p, " reason=");
			fields = strstr(p, " instance=");
			if (fields)
				*fields = 0;
			printf("   [+%.1f s] [%s] %s%s%s%s\n", elapsed_s(), h->name, p,
			       reason ? " (" : "", reason ? reason + strlen(" reason=") : "",
			       reason ? ")" : "");
		}
	}
	fclose(f);
}

static void spin(unsigned ms)
{
	int64_t end = test_now_ms() + ms;

	do {
		event_base_loop(t.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		print_transitions(&t.a, &t.log_off_a);
		print_transitions(&t.b, &t.log_off_b);
		usleep(20000);
	} while (test_now_ms() < end);
}

static void phase_begin(const char *name)
{
	printf("-- [+%.1f s] phase: %s\n", elapsed_s(), name);
	t.phase_name[t.n_phases] = name;
	t.phase_start = test_now_ms();
}

static void phase_end(void)
{
	double s = (double)(test_now_ms() - t.phase_start) / 1000.0;

	/* the daemons write the state file first, then the log line */
	spin(300);
	printf("-- [+%.1f s] phase done: %s in %.1f s\n", elapsed_s(), t.phase_name[t.n_phases], s);
	t.phase_s[t.n_phases++] = s;
}

/* Waits until @serial shows the guest's net_failover master with the virtio
 * standby and an igbvf primary, printing transitions meanwhile; then prints
 * the guest's view. */
static void wait_bonded_igbvf(const char *who, const char *serial, unsigned timeout_ms)
{
	int64_t end = test_now_ms() + timeout_ms;
	TestGuestNet net;
	bool ok;

	for (;;) {
		char *text = test_log_read(serial);

		test_guest_net_parse(text, &net);
		free(text);
		ok = test_guest_net_failover(&net, "igbvf");
		if (ok || test_now_ms() >= end)
			break;
		spin(200);
	}
	if (!ok)
		test_log_dump(serial, 3000);
	ck_assert_msg(ok, "the %s guest did not bond virtio + igbvf (see %s)", who, serial);
	for (size_t i = 0; i < net.n_nics; i++)
		printf("   [%s guest] FOVD-NET %s drv=%s master=%s slaves=%s mac=%s state=%s\n",
		       who, net.nics[i].name, net.nics[i].driver,
		       net.nics[i].master[0] ? net.nics[i].master : "-",
		       net.nics[i].slaves[0] ? net.nics[i].slaves : "-", net.nics[i].mac,
		       net.nics[i].state);
}

/* The last @lines lines of @path, indented, for a failure's context. */
static void print_tail(const char *what, const char *path, int lines)
{
	char cmd[600], out[8192];

	snprintf(cmd, sizeof(cmd), "/usr/bin/tail -n %d %s", lines, path);
	if (test_run(cmd, out, sizeof(out)) < 0)
		return;
	printf("   -- %s (%s), last %d lines:\n%s\n", what, path, lines, out);
}

static int wait_pair(TestHost *h, const char *state, unsigned timeout_ms)
{
	int64_t start = test_now_ms(), end = start + timeout_ms, next = start + 60000;
	char cur[64], reason[300];

	for (;;) {
		spin(0);
		test_host_pair_get(h, "vm1", "p0", "state", cur, sizeof(cur));
		if (strcmp(cur, state) == 0) {
			spin(100);
			return 0;
		}
		if (test_now_ms() >= end)
			break;
		if (test_now_ms() >= next) {
			/* a nested guest is slow: say what is awaited, so a stall is visible */
			test_host_pair_get(h, "vm1", "p0", "reason", reason, sizeof(reason));
			printf("   [+%.1f s] [%s] waiting for %s, pair is '%s' (%s)\n", elapsed_s(),
			       h->name, state, cur[0] ? cur : "unknown", reason);
			next += 60000;
		}
		usleep(100000);
	}
	print_tail(h->name, h->log, 30);
	print_tail("source guest console", t.src.serial, 30);
	if (t.dst.serial[0])
		print_tail("destination guest console", t.dst.serial, 30);
	return test_host_wait_pair(h, "vm1", "p0", state, 0);
}

static void on_ready(QmpConn *c, void *ud)
{
	((Vm *)ud)->n_ready++;
}

static void on_disconnected(QmpConn *c, int err, const char *reason, void *ud)
{
}

static void on_event(QmpConn *c, const char *name, const QmpValue *data, const QmpTimestamp *ts,
		     void *ud)
{
}

static const QmpConnOps ops = { on_ready, on_disconnected, on_event };

static void on_reply(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	t.r = r;
	t.ret[0] = 0;
	if (ret)
		qmp_value_format(*ret, t.ret, sizeof(t.ret));
	else if (err)
		snprintf(t.ret, sizeof(t.ret), "%s: %s", err->klass, err->desc);
	t.n_done++;
}

static int vm_call(Vm *v, const char *command, const char *args_json)
{
	int before = t.n_done;
	int64_t end = test_now_ms() + 60000;
	json_object *args = args_json ? json_tokener_parse(args_json) : NULL;

	ck_assert_int_eq(
		qmp_conn_call(v->conn, command, args, QMP_RETURN_ANY, 60000, on_reply, NULL), 0);
	while (t.n_done == before && test_now_ms() < end)
		event_base_loop(t.base, EVLOOP_ONCE);
	ck_assert_int_gt(t.n_done, before);
	return t.r;
}

/* The primary fo-p0 exists in @v and passes through the VF @bdf. */
static void assert_primary(Vm *v, const char *bdf)
{
	ck_assert_int_eq(vm_call(v, "qom-list", "{\"path\": \"/machine/peripheral\"}"), 0);
	ck_assert_msg(strstr(t.ret, "\"name\":\"fo-p0\""), "no fo-p0 in %s", t.ret);
	ck_assert_int_eq(
		vm_call(v, "qom-get",
			"{\"path\": \"/machine/peripheral/fo-p0\", \"property\": \"host\"}"),
		0);
	/* QEMU prints the host address with or without the 0000: domain */
	ck_assert_msg(strstr(t.ret, bdf + 5), "fo-p0 passes through %s, expected %s", t.ret, bdf);
}

static void vm_start(Vm *v, const char *name, bool incoming)
{
	char qmp2[400];
	const char *extra[] = { "-qmp", qmp2, NULL };
	TestGuestOptions o = { 0 };
	const char *dir = test_dir_path(t.dir);

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
	o.extra_args = extra;
	v->qemu = test_guest_spawn(&o, dir);
	ck_assert_ptr_nonnull(v->qemu);
	/* QEMU itself starts slowly under TCG inside TCG */
	ck_assert_int_eq(test_qemu_wait_socket(v->qemu, v->tqmp, 180000), 0);
	/* Reconnecting: a cold nested QEMU can miss the first greeting timeout (10 s); without
	 * it the test waited for a greeting forever (CI on a fresh machine). */
	ck_assert_int_eq(qmp_conn_new_connect(&v->conn, t.base, v->tqmp, true, &ops, v), 0);
	for (int64_t end = test_now_ms() + 180000; v->n_ready == 0;) {
		if (test_now_ms() >= end) {
			print_tail(name, v->serial, 30);
			ck_abort_msg("QEMU %s: no QMP greeting on %s in 180 s", name, v->tqmp);
		}
		spin(0);
	}
	printf("   [+%.1f s] QEMU %s: monitor up (pid %d)\n", elapsed_s(), name,
	       (int)test_qemu_pid(v->qemu));
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

static void host_config(TestHost *h, const char *vm_qmp, const char *vfs)
{
	/* generous: the nested guest needs minutes to reach net_failover */
	test_host_write_conf(h, "failoverd.conf", "[Daemon]\nNegotiateTimeoutSec=1200\n");
	test_host_write_conf(h, "vf.pool",
			     "[Pool]\nPhysicalFunction=%s\nVirtualFunctions=%s\n\n"
			     "[SR-IOV]\nVLANId=10\nMACSpoofCheck=no\nTrust=yes\n",
			     t.igb.ifname, vfs);
	test_host_write_conf(h, "vm1.vm",
			     "[Instance]\nName=vm1\nQMP=%s\nUnplugTimeoutSec=300\n\n"
			     "[Pair]\nName=p0\nPool=vf\nMACAddress=" MAC "\nStandby=net0\n",
			     vm_qmp);
}

/* "driver igbvf, mac 00:.., vlan 0 .., spoofchk on, trust off", from netlink. */
static void describe(const TestVfSnapshot *s, char *buf, size_t size)
{
	size_t len = (size_t)snprintf(buf, size, "driver %s", s->driver[0] ? s->driver : "none");

	for (int i = 0; i < _NL_VF_SETTING_MAX && len < size; i++) {
		char v[64];

		if (!(s->config.set & NL_VF_BIT(i)) ||
		    nl_vf_config_format(&s->config, i, v, sizeof(v)) < 0)
			continue;
		len += (size_t)snprintf(buf + len, size - len, ", %s %s",
					nl_vf_setting_to_string(i), v);
	}
}

static void print_vf(const char *who, unsigned vf, const TestVfSnapshot *s)
{
	char d[400];

	describe(s, d, sizeof(d));
	printf("   [%s] VF %u (%s) netlink: %s\n   [%s] VF %u ip -d link: %s\n", who, vf, s->bdf, d,
	       who, vf, s->ip);
}

/* VF @vf is bound to vfio-pci and programmed as the pool says, for pair p0. */
static void assert_programmed(unsigned vf, TestHost *h)
{
	TestVfSnapshot s;
	char held[64];

	test_vf_snapshot(&t.igb, vf, &s);
	test_host_pair_get(h, "vm1", "p0", "vf", held, sizeof(held));
	ck_assert_str_eq(held, s.bdf);
	ck_assert_str_eq(s.driver, "vfio-pci");
	ck_assert_msg(strstr(s.ip, "link/ether " MAC) && strstr(s.ip, "vlan 10") &&
			      strstr(s.ip, "spoof checking off") && strstr(s.ip, "trust on"),
		      "VF %u: %s", vf, s.ip);
	ck_assert(s.config.vlan == 10 && !s.config.spoofchk && s.config.trust);
	print_vf(h->name, vf, &s);
}

static void assert_restored(unsigned vf, const TestVfSnapshot *before, TestHost *h)
{
	TestVfSnapshot now;
	char held[64];

	test_host_pair_get(h, "vm1", "p0", "vf", held, sizeof(held));
	ck_assert_str_eq(held, "");
	test_vf_assert_restored(&t.igb, vf, before);
	test_vf_snapshot(&t.igb, vf, &now);
	printf("   [%s] VF %u restored: netlink read-back and ip -d link equal to before%s\n",
	       h->name, vf,
	       memcmp(before->config.mac, now.config.mac, 6) == 0
		       ? ""
		       : " (no admin MAC before: igb now reports the one igbvf picked)");
	print_vf(h->name, vf, &now);
}

static void setup(void)
{
	FILE *f;
	double up = 0;

	memset(&t, 0, sizeof(t));
	t.t0 = test_now_ms();
	f = fopen("/proc/uptime", "re");
	if (f) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	printf("-- L1 (the igb guest, -m 2048 -smp 2) uptime when the test starts: %.1f s\n", up);
	t.base = event_base_new();
	t.dir = test_dir_new();
	test_host_init(&t.a, test_dir_path(t.dir), "host-a");
	test_host_init(&t.b, test_dir_path(t.dir), "host-b");
	test_igb_find(&t.igb);
	/* VFs on their host driver, so that "igbvf back" means something */
	test_igb_set_vfs(&t.igb, 7, true);
	test_igb_up(&t.igb);
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

START_TEST(test_real_vf_attach_migrate_release)
{
	char uri[400];

	char out[512];

	/* VF 0 with an administrative MAC of its own, VF 3 without one */
	snprintf(uri, sizeof(uri), "/sbin/ip link set dev %s vf %u mac " VF_SRC_MAC, t.igb.ifname,
		 VF_SRC);
	ck_assert_msg(test_run(uri, out, sizeof(out)) == 0, "%s: %s", uri, out);
	test_vf_snapshot(&t.igb, VF_SRC, &t.before_src);
	test_vf_snapshot(&t.igb, VF_DST, &t.before_dst);
	ck_assert_str_eq(t.before_src.driver, "igbvf");
	ck_assert_str_eq(t.before_dst.driver, "igbvf");
	ck_assert_msg(strstr(t.before_src.ip, "link/ether " VF_SRC_MAC), "%s", t.before_src.ip);
	printf("-- PF %s (%s); host-a's pool: VFs 0-2, host-b's pool: VFs 3-5; before:\n",
	       t.igb.ifname, t.igb.bdf);
	print_vf("before", VF_SRC, &t.before_src);
	print_vf("before", VF_DST, &t.before_dst);

	phase_begin("attach: source QEMU, failoverd host-a, VF 0 programmed + vfio, pair active");
	vm_start(&t.src, "src", false);
	host_config(&t.a, t.src.qmp, "0-2");
	test_host_start(&t.a);
	ck_assert_int_eq(wait_pair(&t.a, "staged", 120000), 0);
	assert_programmed(VF_SRC, &t.a);
	ck_assert_int_eq(wait_pair(&t.a, "active", 1200000), 0);
	assert_primary(&t.src, t.before_src.bdf);
	phase_end();

	phase_begin("source guest bonds virtio + igbvf (its own console)");
	wait_bonded_igbvf("src", t.src.serial, 600000);
	phase_end();

	phase_begin("prepare: -incoming destination, failoverd host-b pre-stages VF 3");
	vm_start(&t.dst, "dst", true);
	host_config(&t.b, t.dst.qmp, "3-5");
	test_host_start(&t.b);
	ck_assert_int_eq(wait_pair(&t.b, "incoming", 120000), 0);
	assert_programmed(VF_DST, &t.b);
	phase_end();

	phase_begin("live migration host-a -> host-b (unix socket)");
	snprintf(uri, sizeof(uri), "{\"uri\": \"unix:%s\"}", t.dst.migrate);
	ck_assert_int_eq(vm_call(&t.dst, "migrate-incoming", uri), 0);
	ck_assert_int_eq(vm_call(&t.src, "migrate", uri), 0);
	ck_assert_int_eq(wait_pair(&t.a, "migrated", 900000), 0);
	ck_assert_int_eq(wait_pair(&t.b, "active", 300000), 0);
	ck_assert_int_eq(test_host_wait_log(&t.a, "active -> unplugging", 1000), 0);
	ck_assert_int_eq(test_host_wait_log(&t.a, "unplugging -> migrating", 1000), 0);
	ck_assert_int_eq(test_host_wait_log(&t.a, "migrating -> migrated", 1000), 0);
	ck_assert_int_eq(test_host_wait_log(&t.b, "incoming -> active", 1000), 0);
	assert_primary(&t.dst, t.before_dst.bdf);
	phase_end();

	phase_begin("destination guest bonds virtio + igbvf on VF 3 (its own console)");
	wait_bonded_igbvf("dst", t.dst.serial, 600000);
	phase_end();

	phase_begin("release: source QEMU quits, host-a gives VF 0 back to igbvf");
	ck_assert_int_eq(vm_call(&t.src, "quit", NULL), 0);
	ck_assert_int_eq(wait_pair(&t.a, "released", 120000), 0);
	assert_restored(VF_SRC, &t.before_src, &t.a);
	phase_end();

	phase_begin("release: destination QEMU quits, host-b gives VF 3 back to igbvf");
	ck_assert_int_eq(vm_call(&t.dst, "quit", NULL), 0);
	ck_assert_int_eq(wait_pair(&t.b, "released", 120000), 0);
	assert_restored(VF_DST, &t.before_dst, &t.b);
	phase_end();

	printf("-- phase timings\n");
	for (int i = 0; i < t.n_phases; i++)
		printf("   %7.1f s  %s\n", t.phase_s[i], t.phase_name[i]);
	printf("-- total %.1f s after L1 boot\n", elapsed_s());
}
END_TEST

int main(void)
{
	Suite *s = suite_create("full-vf");
	TCase *tc = tcase_create("real-vf");

	setvbuf(stdout, NULL, _IOLBF, 0);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 1500);
	tcase_add_test(tc, test_real_vf_attach_migrate_release);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
