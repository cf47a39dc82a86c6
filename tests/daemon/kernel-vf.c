/*
 * The whole VF life against a real igb PF and its 7 VFs (inside the SR-IOV
 * test guest): a pool, every VF reserved, programmed and bound to vfio-pci,
 * exhaustion, a QEMU accepting the VF, exact restoration, recovery after a
 * crash, and sriov_numvfs going to 0 under an allocation.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/vf.h"
#include "tests/lib/kernel.h"
#include "tests/lib/suite.h"

static TestIgb igb;
static char state[64];

static void setup(void)
{
	test_igb_find(&igb);
	/* VFs on their host driver (igbvf), so that "driver back" means something */
	test_igb_set_vfs(&igb, 7, true);
	test_igb_up(&igb);
	snprintf(state, sizeof(state), "/tmp/kernel-vf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
}

static VfPool *pool_new(void)
{
	const char *pfs[] = { igb.ifname };
	SriovPoolConfig c = { .name = "kern",
			      .driver = SRIOV_POOL_VFIO,
			      .pfs = pfs,
			      .n_pfs = 1,
			      .state_dir = state };
	char err[512] = "";
	VfPool *p = NULL;

	ck_assert_msg(vf_pool_new(&p, &c, &test_igb_settings, err, sizeof(err)) == 0, "%s", err);
	return p;
}

/* What a VF looks like from the outside: driver, our read-back, iproute2's view. */
typedef struct Snapshot {
	char driver[64];
	char netdev_mac[18]; /* the MAC the VF's own driver uses, "" if no netdev */
	NlVfConfig config;
	char ip[512];
} Snapshot;

static void snapshot(unsigned vf, Snapshot *s)
{
	SriovError se = { "" };
	NlVfError ne = { .message = "" };
	NlVfSocket *nl = NULL;
	SriovPf pf;
	SriovVf v;

	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(sriov_pf_find(NULL, igb.bdf, &pf, &se), 0);
	ck_assert_msg(sriov_vf_find(NULL, &pf, vf, &v, &se) == 0, "%s", se.message);
	snprintf(s->driver, sizeof(s->driver), "%s", v.driver);
	if (v.ifname[0]) {
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/net/%s/address", v.ifname);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(s->netdev_mac, sizeof(s->netdev_mac), f));
		fclose(f);
	}
	ck_assert_int_eq(nl_vf_socket_new(&nl), 0);
	ck_assert_msg(nl_vf_get(nl, igb.ifname, vf, &s->config, &ne) == 0, "%s", ne.message);
	nl_vf_socket_free(nl);
	test_ip_vf_line(&igb, vf, s->ip, sizeof(s->ip));
}

/* "link/ether XX:..." in an ip line, replaced by the MAC @mac. */
static void ip_set_mac(char *line, const char *mac)
{
	char *p = strstr(line, "link/ether ");

	ck_assert_ptr_nonnull(p);
	memcpy(p + strlen("link/ether "), mac, 17);
}

static void assert_same(unsigned vf, const Snapshot *before)
{
	static const uint8_t zero[6];
	Snapshot now;

	snapshot(vf, &now);
	ck_assert_str_eq(now.driver, before->driver);
	ck_assert_uint_eq(now.config.set, before->config.set);
	/*
	 * No administrative MAC (all zeros) was restored as such; igb then
	 * reports the MAC the re-probed VF driver chose for itself, which is
	 * fine as long as it is really the VF driver's own.
	 */
	if (memcmp(before->config.mac, zero, 6) == 0 && memcmp(now.config.mac, zero, 6) != 0) {
		char mac[18];

		nl_vf_config_format(&now.config, NL_VF_MAC, mac, sizeof(mac));
		ck_assert_msg(now.netdev_mac[0] && strncmp(mac, now.netdev_mac, 17) == 0,
			      "VF %u: MAC %s is neither the saved 00:00:00:00:00:00 nor its "
			      "driver's own (%s)",
			      vf, mac, now.netdev_mac);
		memset(now.config.mac, 0, 6);
		ip_set_mac(now.ip, "00:00:00:00:00:00");
	}
	ck_assert_str_eq(now.ip, before->ip);
	for (int i = 0; i < _NL_VF_SETTING_MAX; i++)
		if (before->config.set & NL_VF_BIT(i))
			ck_assert_msg(nl_vf_config_equal(&now.config, &before->config, i),
				      "VF %u: %s not restored", vf, nl_vf_setting_to_string(i));
}

static bool exists(const char *fmt, const char *arg)
{
	char path[256];

	snprintf(path, sizeof(path), fmt, state, arg);
	return access(path, F_OK) == 0;
}

static void assert_bound_vfio(const SriovAlloc *a)
{
	char drv[64], path[64];
	int group = -1;
	SriovError se = { "" };

	ck_assert_int_eq(sriov_device_get_driver(NULL, a->id, drv, sizeof(drv)), 0);
	ck_assert_str_eq(drv, "vfio-pci");
	ck_assert_msg(sriov_iommu_group_check(NULL, a->id, &group, &se) == 0, "%s", se.message);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	ck_assert_msg(access(path, F_OK) == 0, "%s missing", path);
}

START_TEST(test_pool_all_vfs)
{
	Snapshot before[7];
	SriovAlloc *a[7], *x;
	char err[512] = "", line[512];
	VfPool *p = pool_new();

	for (unsigned i = 0; i < 7; i++) {
		snapshot(i, &before[i]);
		ck_assert_str_eq(before[i].driver, "igbvf");
	}
	for (unsigned i = 0; i < 7; i++) {
		uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, (uint8_t)(0x10 + i) };

		ck_assert_msg(vf_pool_reserve(p, "vm/net0", mac, &a[i], err, sizeof(err)) == 0,
			      "VF %u: %s", i, err);
		ck_assert_int_eq(a[i]->state, SRIOV_ALLOC_RESERVED);
		ck_assert_uint_eq(a[i]->vf_index, i);
		ck_assert_str_eq(a[i]->qemu_driver, "vfio-pci");
		ck_assert_str_eq(a[i]->props[0].name, "host");
		ck_assert_str_eq(a[i]->props[0].value, a[i]->id);
		assert_bound_vfio(a[i]);
		ck_assert(exists("%s/saved/%s", a[i]->id));
		test_ip_vf_line(&igb, i, line, sizeof(line));
		ck_assert_msg(
			strstr(line, "vlan 10, qos 3") && strstr(line, "max_tx_rate 100Mbps") &&
				strstr(line, "spoof checking off") && strstr(line, "trust on"),
			"%s", line);
		snprintf(err, sizeof(err), "link/ether 52:54:00:aa:bb:%02x", 0x10 + i);
		ck_assert_msg(strstr(line, err), "%s", line);
	}
	ck_assert_int_eq(vf_pool_reserve(p, "vm/net1", NULL, &x, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err, "pool kern exhausted: all 7 VFs are allocated");

	for (unsigned i = 0; i < 7; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%s", a[i]->id);
		ck_assert_msg(vf_pool_release(p, a[i], err, sizeof(err)) == 0, "%s", err);
		assert_same(i, &before[i]);
		ck_assert(!exists("%s/saved/%s", id));
		ck_assert(!exists("%s/alloc/%s", id));
	}
	vf_pool_free(p);
}
END_TEST

/* ---- a QEMU inside the guest takes the VF ---- */

static int qmp_fd = -1;

static void qmp_send(const char *json)
{
	size_t len = strlen(json);

	ck_assert_int_eq(write(qmp_fd, json, len), (ssize_t)len);
}

/* The next reply line (events skipped), within 60 s. */
static void qmp_reply(char *buf, size_t size)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = qmp_fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = 0;
			if (!strstr(buf, "\"event\"") && !strstr(buf, "\"QMP\""))
				return;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			continue;
		}
		ck_assert_msg(len + 1 < size, "QMP reply too long");
		ck_assert_msg(poll(&pfd, 1, 60000) == 1, "QMP: no reply within 60 s");
		n = read(qmp_fd, buf + len, size - 1 - len);
		ck_assert_msg(n > 0, "QMP: connection closed");
		len += (size_t)n;
		buf[len] = 0;
	}
}

static pid_t qemu_start(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char qmp[160];
	pid_t pid;

	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", sock);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		execl("/usr/bin/qemu-system-x86_64", "qemu-system-x86_64", "-accel", "tcg", "-M",
		      "q35", "-S", "-nodefaults", "-display", "none", "-m", "128", "-qmp", qmp,
		      "-device", "pcie-root-port,id=rp1,chassis=1,slot=1", (char *)NULL);
		_exit(127);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	for (int i = 0; i < 1200; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		qmp_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(qmp_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return pid;
		close(qmp_fd);
		qmp_fd = -1;
		ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "QEMU exited at start");
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	ck_abort_msg("QEMU's QMP socket did not appear within 120 s");
	return -1;
}

START_TEST(test_qemu_accepts_vf)
{
	char err[512] = "", sock[128], cmd[256], reply[8192];
	Snapshot before;
	SriovAlloc *a;
	VfPool *p = pool_new();
	pid_t pid;
	int st;

	snapshot(0, &before);
	ck_assert_msg(vf_pool_reserve(p, "vm/net0", NULL, &a, err, sizeof(err)) == 0, "%s", err);
	assert_bound_vfio(a);

	snprintf(sock, sizeof(sock), "%s/qmp.sock", state);
	pid = qemu_start(sock);
	qmp_send("{\"execute\": \"qmp_capabilities\"}\n");
	qmp_reply(reply, sizeof(reply));
	ck_assert_msg(strstr(reply, "\"return\""), "%s", reply);
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"%s\", "
		 "\"%s\": \"%s\", \"id\": \"hostdev0\", \"bus\": \"rp1\"}}\n",
		 a->qemu_driver, a->props[0].name, a->props[0].value);
	qmp_send(cmd);
	qmp_reply(reply, sizeof(reply));
	ck_assert_msg(strstr(reply, "{\"return\": {}}"), "device_add: %s", reply);
	qmp_send("{\"execute\": \"qom-list\", \"arguments\": {\"path\": "
		 "\"/machine/peripheral\"}}\n");
	qmp_reply(reply, sizeof(reply));
	ck_assert_msg(strstr(reply, "\"hostdev0\""), "%s", reply);
	qmp_send("{\"execute\": \"quit\"}\n");
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(qmp_fd);

	ck_assert_msg(vf_pool_release(p, a, err, sizeof(err)) == 0, "%s", err);
	assert_same(0, &before);
	vf_pool_free(p);
}
END_TEST

/* ---- a crash between save and release ---- */

static bool not_dead(const char *owner, void *userdata)
{
	return strcmp(owner, "vm-dead/net0") != 0;
}

START_TEST(test_crash_then_recover)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xcc, 0xdd, 0x01 };
	char err[512] = "", c;
	Snapshot before[2];
	SriovError se = { "" };
	SriovAlloc *a;
	int pipefd[2];
	VfPool *p;
	pid_t pid;

	snapshot(0, &before[0]);
	snapshot(1, &before[1]);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		SriovAlloc *x;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		p = pool_new();
		if (vf_pool_reserve(p, "vm-dead/net0", mac, &x, err, sizeof(err)) < 0 ||
		    vf_pool_reserve(p, "vm-live/net0", NULL, &x, err, sizeof(err)) < 0) {
			fprintf(stderr, "child: %s\n", err);
			_exit(1);
		}
		if (write(pipefd[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);

	/* the "restarted daemon" finds both VFs held and changed */
	p = pool_new();
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 2);
	a = sriov_pool_find_owner(vf_pool_get_sriov(p), "vm-dead/net0");
	ck_assert_ptr_nonnull(a);
	assert_bound_vfio(a);
	ck_assert(exists("%s/saved/%s", a->id));

	/* vm-dead is gone: its VF is released and restored exactly */
	ck_assert_msg(vf_pool_recover(p, not_dead, NULL, err, sizeof(err)) == 1, "%s", err);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 1);
	assert_same(0, &before[0]);
	a = sriov_pool_find_owner(vf_pool_get_sriov(p), "vm-live/net0");
	ck_assert_ptr_nonnull(a);
	assert_bound_vfio(a);

	/* a crash in the middle of vm-live's release: its record says "releasing" */
	ck_assert_int_eq(
		sriov_pool_set_state(vf_pool_get_sriov(p), a, SRIOV_ALLOC_RELEASING, NULL, &se), 0);
	vf_pool_free(p);
	p = pool_new();
	ck_assert_msg(vf_pool_recover(p, NULL, NULL, err, sizeof(err)) == 1, "%s", err);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 0);
	assert_same(1, &before[1]);
	ck_assert(!exists("%s/saved/%s", "0000:01:10.2"));
	vf_pool_free(p);
}
END_TEST

/* ---- sriov_numvfs to 0 under an allocation ---- */

typedef struct UeventCtx {
	VfPool *pool;
	int gone;
	int events;
} UeventCtx;

static void on_gone(SriovPool *p, SriovAlloc *a, void *userdata)
{
	UeventCtx *ctx = userdata;

	ctx->gone++;
}

static void on_uevent(SriovMonitor *m, const SriovUevent *ev, void *userdata)
{
	UeventCtx *ctx = userdata;

	ctx->events++;
	vf_pool_handle_uevent(ctx->pool, ev, on_gone, ctx);
}

START_TEST(test_numvfs_zero)
{
	SriovPoolConfig ec = {
		.name = "demo", .driver = SRIOV_POOL_EMULATED, .size = 2, .state_dir = state
	};
	char err[512] = "", reason[256];
	SriovMonitor *mon = NULL;
	UeventCtx ctx = {};
	SriovError se = { "" };
	SriovAlloc *a, *e;
	VfPool *emu = NULL;
	SriovPf pf;
	char id[16];

	ctx.pool = pool_new();
	ck_assert_int_eq(vf_pool_new(&emu, &ec, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(vf_pool_reserve(emu, "vm-emu/net0", NULL, &e, err, sizeof(err)), 0);
	ck_assert_msg(vf_pool_reserve(ctx.pool, "vm/net0", NULL, &a, err, sizeof(err)) == 0, "%s",
		      err);
	snprintf(id, sizeof(id), "%s", a->id);
	ck_assert_int_eq(sriov_monitor_new(&mon, "kernel", on_uevent, &ctx), 0);
	ck_assert_int_eq(sriov_monitor_process(mon), 0);

	ck_assert_int_eq(sriov_pf_find(NULL, igb.bdf, &pf, &se), 0);
	ck_assert_msg(sriov_pf_set_num_vfs(NULL, &pf, 0, true, &se) == 0, "%s", se.message);
	for (int i = 0; i < 100 && ctx.gone == 0; i++) {
		struct pollfd pfd = { .fd = sriov_monitor_get_fd(mon), .events = POLLIN };

		if (poll(&pfd, 1, 200) == 1)
			ck_assert_int_ge(sriov_monitor_process(mon), 0);
	}
	ck_assert_msg(ctx.gone == 1, "allocation not marked gone after %d events", ctx.events);
	ck_assert_int_eq(a->state, SRIOV_ALLOC_GONE);
	snprintf(reason, sizeof(reason),
		 "VF %s (PF %s VF 0) was removed: sriov_numvfs of %s is now 0", id, igb.ifname,
		 igb.ifname);
	ck_assert_str_eq(a->reason, reason);
	/* nothing else disturbed */
	ck_assert_int_eq(e->state, SRIOV_ALLOC_RESERVED);
	ck_assert(exists("%s/alloc/%s", "demo@emu0"));

	/* the owner gives it back: nothing to restore, everything forgotten */
	ck_assert_msg(vf_pool_release(ctx.pool, a, err, sizeof(err)) == 0, "%s", err);
	ck_assert(!exists("%s/saved/%s", id));
	ck_assert(!exists("%s/alloc/%s", id));
	ck_assert_int_eq(vf_pool_release(emu, e, err, sizeof(err)), 0);
	sriov_monitor_free(mon);
	vf_pool_free(ctx.pool);
	vf_pool_free(emu);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-vf-igb");
	TCase *tc = tcase_create("igb");

	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_pool_all_vfs);
	tcase_add_test(tc, test_qemu_accepts_vf);
	tcase_add_test(tc, test_crash_then_recover);
	tcase_add_test(tc, test_numvfs_zero);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
