/*
 * Fault injection on the VF path, against the real igb PF and its 7 VFs
 * (inside the SR-IOV test guest): a "daemon" process SIGKILLed at every
 * step of a reservation (reserved, saved, programmed, bound), a setting the
 * driver refuses, a VF yanked through sriov_numvfs in the middle of a
 * reservation, and an unwritable sysfs attribute. After each, what a
 * restarted daemon does (recover, re-reserve, release) must leave every VF
 * exactly as it was. Each fault prints one "FOVD-FAULT" line with counts
 * audited from the pool's records and every VF's real settings.
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/vf.h"
#include "tests/lib/fake-sysfs.h"
#include "tests/lib/kernel.h"
#include "tests/lib/suite.h"

#define N_VFS 7

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xfa, 0x01, 0x01 };

static struct {
	TestIgb igb;
	char state[64];
	TestVfSnapshot before[N_VFS];
} t;

static void setup(void)
{
	memset(&t, 0, sizeof(t));
	test_igb_find(&t.igb);
	test_igb_set_vfs(&t.igb, N_VFS, true);
	test_igb_up(&t.igb);
	snprintf(t.state, sizeof(t.state), "/tmp/faults-vf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t.state));
	for (unsigned i = 0; i < N_VFS; i++)
		test_vf_snapshot(&t.igb, i, &t.before[i]);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t.state);
	ck_assert_int_eq(system(cmd), 0);
}

static VfPool *pool_new_with(const NlVfConfig *s, const char *sysfs)
{
	const char *pfs[] = { t.igb.ifname };
	SriovPoolConfig c = { .name = "kern",
			      .driver = SRIOV_POOL_VFIO,
			      .pfs = pfs,
			      .n_pfs = 1,
			      .state_dir = t.state,
			      .sysfs = sysfs };
	char err[512] = "";
	VfPool *p = NULL;

	ck_assert_msg(vf_pool_new(&p, &c, s, err, sizeof(err)) == 0, "%s", err);
	return p;
}

static VfPool *pool_new(void)
{
	return pool_new_with(&test_igb_settings, NULL);
}

/*
 * The audit: allocations and save files left in the state directory
 * (leaked), VFs held twice, and VFs whose driver or settings differ from
 * before the test (restores incomplete) — except @held, which is in use.
 */
static void audit(const char *fault, int held)
{
	unsigned leaked = 0, doubled = 0, incomplete = 0;
	char why[1200] = "", first[1200] = "", path[128];
	VfPool *p = pool_new();
	SriovPool *sp = vf_pool_get_sriov(p);
	size_t n = sriov_pool_get_n_allocs(sp);

	for (size_t i = 0; i < n; i++) {
		const SriovAlloc *a = sriov_pool_get_alloc(sp, i);

		for (size_t j = i + 1; j < n; j++)
			doubled += strcmp(a->id, sriov_pool_get_alloc(sp, j)->id) == 0;
		if (held < 0 || strcmp(a->id, t.before[held].bdf) != 0) {
			leaked++;
			snprintf(first, sizeof(first), "allocation of %s left behind", a->id);
		}
	}
	for (unsigned i = 0; i < N_VFS; i++) {
		if ((int)i == held)
			continue;
		snprintf(path, sizeof(path), "%s/saved/%s", t.state, t.before[i].bdf);
		if (access(path, F_OK) == 0) {
			leaked++;
			snprintf(first, sizeof(first), "save file of %s left behind",
				 t.before[i].bdf);
		}
		if (!test_vf_restored(&t.igb, i, &t.before[i], why, sizeof(why))) {
			incomplete++;
			snprintf(first, sizeof(first), "%s", why);
		}
	}
	vf_pool_free(p);
	printf("FOVD-FAULT %s: igb leaked=%u double=%u incomplete=%u\n", fault, leaked, doubled,
	       incomplete);
	fflush(stdout);
	ck_assert_msg(leaked == 0 && doubled == 0 && incomplete == 0, "%s: %s", fault, first);
}

static int vf_index_of(const char *bdf)
{
	for (int i = 0; i < N_VFS; i++)
		if (strcmp(t.before[i].bdf, bdf) == 0)
			return i;
	ck_abort_msg("%s is no VF of %s", bdf, t.igb.ifname);
	return -1;
}

/* ---- the daemon killed at every step of a reservation ---- */

static const char *const points[] = { "reserved", "saved", "programmed", "bound" };

static void die_at(const char *point, void *userdata)
{
	if (strcmp(point, userdata) == 0)
		raise(SIGKILL);
}

/* A "daemon" that dies at @point while reserving a VF for vm-a/p0. */
static void crash_during_reserve(const char *point)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[512] = "";
		SriovAlloc *a;
		VfPool *p;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		p = pool_new();
		vf_pool_set_checkpoint(p, die_at, (void *)point);
		vf_pool_reserve(p, "vm-a/p0", mac, &a, err, sizeof(err));
		fprintf(stderr, "child: passed %s without dying: %s\n", point, err);
		_exit(1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "the reservation did not reach '%s'", point);
}

static bool alive(const char *owner, void *userdata)
{
	return *(bool *)userdata;
}

/* Restarted while vm-a still runs: recovery, then the pair reserves again. */
START_TEST(test_daemon_killed_owner_alive)
{
	const char *point = points[_i];
	char err[512] = "", fault[128];
	NlVfConfig now;
	NlVfError ne = { .message = "" };
	NlVfSocket *nl = NULL;
	bool yes = true;
	SriovAlloc *a;
	VfPool *p;
	int vf;

	crash_during_reserve(point);
	p = pool_new();
	ck_assert_int_ge(vf_pool_recover(p, alive, &yes, err, sizeof(err)), 0);
	ck_assert_msg(vf_pool_reserve(p, "vm-a/p0", mac, &a, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 1);
	vf = vf_index_of(a->id);
	/* The VF really is ready for QEMU: on vfio-pci, programmed with the MAC. */
	ck_assert_int_eq(nl_vf_socket_new(&nl), 0);
	ck_assert_msg(nl_vf_get(nl, t.igb.ifname, (unsigned)vf, &now, &ne) == 0, "%s", ne.message);
	nl_vf_socket_free(nl);
	ck_assert_int_eq(memcmp(now.mac, mac, 6), 0);
	ck_assert_uint_eq(now.vlan, 10);
	vf_pool_free(p);
	snprintf(fault, sizeof(fault), "daemon SIGKILLed at VF step '%s', owner alive", point);
	audit(fault, vf);

	p = pool_new();
	a = sriov_pool_find_owner(vf_pool_get_sriov(p), "vm-a/p0");
	ck_assert_ptr_nonnull(a);
	ck_assert_msg(vf_pool_release(p, a, err, sizeof(err)) == 0, "%s", err);
	vf_pool_free(p);
	ck_assert_msg(test_vf_restored(&t.igb, (unsigned)vf, &t.before[vf], err, sizeof(err)), "%s",
		      err);
}
END_TEST

/* Restarted after vm-a's QEMU died too: everything goes back. */
START_TEST(test_daemon_killed_owner_gone)
{
	const char *point = points[_i];
	char err[512] = "", fault[128];
	bool no = false;
	VfPool *p;

	crash_during_reserve(point);
	p = pool_new();
	ck_assert_int_ge(vf_pool_recover(p, alive, &no, err, sizeof(err)), 0);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 0);
	vf_pool_free(p);
	snprintf(fault, sizeof(fault), "daemon SIGKILLed at VF step '%s', owner gone", point);
	audit(fault, -1);
}
END_TEST

/* ---- netlink and sysfs failing under a reservation ---- */

START_TEST(test_setting_refused_by_igb)
{
	NlVfConfig s = test_igb_settings;
	char err[512] = "";
	SriovAlloc *a;
	VfPool *p;

	/* VLAN and the rest are applied first, then igb refuses a minimum rate. */
	s.set |= NL_VF_BIT(NL_VF_MIN_TX_RATE);
	s.min_tx_rate = 10;
	p = pool_new_with(&s, NULL);
	ck_assert_int_eq(vf_pool_reserve(p, "vm-a/p0", mac, &a, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "min_tx_rate 10") && strstr(err, t.igb.ifname), "%s", err);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 0);
	vf_pool_free(p);
	audit("igb refuses min_tx_rate during a reservation", -1);
}
END_TEST

static void yank_vfs(const char *point, void *userdata)
{
	if (strcmp(point, "programmed") == 0)
		test_igb_set_vfs(userdata, 0, true);
}

START_TEST(test_vf_yanked_mid_reservation)
{
	char err[512] = "";
	SriovAlloc *a;
	VfPool *p = pool_new();
	int r;

	/* The VFs vanish between programming and the vfio bind. */
	vf_pool_set_checkpoint(p, yank_vfs, &t.igb);
	r = vf_pool_reserve(p, "vm-a/p0", mac, &a, err, sizeof(err));
	ck_assert_msg(r < 0, "reserved a VF that vanished");
	ck_assert_msg(strstr(err, t.before[0].bdf), "error names no VF: %s", err);
	vf_pool_free(p);
	/*
	 * The admin brings them back: new devices with the driver's fresh
	 * defaults (igb picks new random MACs), which the daemon's next start
	 * must leave alone — nothing of the old reservation may reach them.
	 */
	test_igb_set_vfs(&t.igb, N_VFS, true);
	for (unsigned i = 0; i < N_VFS; i++)
		test_vf_snapshot(&t.igb, i, &t.before[i]);
	p = pool_new();
	ck_assert_int_ge(vf_pool_recover(p, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 0);
	vf_pool_free(p);
	audit("VFs yanked via sriov_numvfs in the middle of a reservation", -1);
}
END_TEST

/*
 * A sysfs tree whose drivers_probe cannot be written, in front of the
 * real PF: the settings really go to igb over netlink, the bind fails, and
 * the real VF must get its original settings back.
 */
START_TEST(test_unwritable_sysfs)
{
	FakeSysfs fs;
	char err[512] = "", vf[16];
	SriovAlloc *a;
	VfPool *p;

	fake_sysfs_init(&fs);
	fake_sysfs_add_pf(&fs, t.igb.ifname, t.igb.bdf, N_VFS, N_VFS, "igbvf");
	for (unsigned i = 0; i < N_VFS; i++) {
		fake_sysfs_vf_bdf(t.igb.bdf, i, vf);
		ck_assert_str_eq(vf, t.before[i].bdf);
	}
	/* The override is written and the VF unbound; probing it fails. */
	fake_sysfs_make_unwritable(&fs, "bus/pci/drivers_probe");
	p = pool_new_with(&test_igb_settings, fs.root);
	ck_assert_int_lt(vf_pool_reserve(p, "vm-a/p0", mac, &a, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "drivers_probe") && strstr(err, "0000:"), "%s", err);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 0);
	vf_pool_free(p);
	fake_sysfs_cleanup(&fs);
	audit("unwritable drivers_probe in a sysfs tree", -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("faults-kernel-vf");
	TCase *tc = tcase_create("igb");
	int n = (int)(sizeof(points) / sizeof(points[0]));

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_loop_test(tc, test_daemon_killed_owner_alive, 0, n);
	tcase_add_loop_test(tc, test_daemon_killed_owner_gone, 0, n);
	tcase_add_test(tc, test_setting_refused_by_igb);
	tcase_add_test(tc, test_vf_yanked_mid_reservation);
	tcase_add_test(tc, test_unwritable_sysfs);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
