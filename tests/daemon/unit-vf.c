/*
 * VF save files (strict, atomic) and the reserve/release/recover
 * orchestration where no real VF is needed: emulated pools, failures that
 * must leave nothing behind, and recovery of crafted leftovers. VFs come
 * from a FAKE sysfs tree; the real thing is kernel-vf.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/vf.h"
#include "tests/lib/fake-sysfs.h"
#include "tests/lib/suite.h"

static FakeSysfs fs;
static char state[64];

static void setup(void)
{
	fake_sysfs_init(&fs);
	fake_sysfs_add_pf(&fs, "fakepf0", "0000:01:00.0", 7, 2, "igbvf");
	snprintf(state, sizeof(state), "/tmp/vf-state-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
}

static void teardown(void)
{
	char cmd[128];

	fake_sysfs_cleanup(&fs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static const VfSaved sample = {
	.pool = "fast",
	.vf = "0000:01:10.0",
	.pf = "eth0",
	.pf_bdf = "0000:01:00.0",
	.index = 0,
	.driver = "igbvf",
	.driver_override = "",
	.config = {
		.set = NL_VF_BIT(NL_VF_MAC) | NL_VF_BIT(NL_VF_VLAN) | NL_VF_BIT(NL_VF_SPOOFCHK) |
		       NL_VF_BIT(NL_VF_TRUST) | NL_VF_BIT(NL_VF_MAX_TX_RATE) |
		       NL_VF_BIT(NL_VF_MIN_TX_RATE) | NL_VF_BIT(NL_VF_LINK_STATE),
		.mac = {0x0a, 0x20, 0x5c, 0xbc, 0xea, 0x0a},
		.vlan = 10,
		.qos = 3,
		.vlan_proto = NL_VF_PROTO_8021Q,
		.spoofchk = true,
		.max_tx_rate = 100,
		.link_state = NL_VF_LINK_AUTO,
	},
};

static const char sample_text[] =
	"pool=fast\nvf=0000:01:10.0\npf=eth0\npf_bdf=0000:01:00.0\nindex=0\ndriver=igbvf\n"
	"driver_override=\nmac=0a:20:5c:bc:ea:0a\nvlan=10\nqos=3\nvlan_proto=802.1Q\n"
	"spoofchk=on\ntrust=off\nmax_tx_rate=100\nmin_tx_rate=0\nlink_state=auto\n";

START_TEST(test_saved_roundtrip)
{
	char path[128], buf[1024] = "", err[512] = "";
	struct stat st;
	VfSaved s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/saved", state);
	ck_assert_int_eq(vf_saved_write(path, &sample), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
	fclose(f);
	ck_assert_str_eq(buf, sample_text);
	ck_assert_int_eq(vf_saved_read(path, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(memcmp(&s, &sample, sizeof(s)), 0);
}
END_TEST

START_TEST(test_saved_strict)
{
	static const struct {
		const char *text;
		const char *expect;
	} bad[] = {
		{ "pool=fast\nvf=0000:01:10.0\n", "a required key is missing" },
		{ "pool=fast\npool=fast\n", "repeated or invalid pool= (line 2)" },
		{ "pool=fast\nvf=0000:01:10.0\npf=eth0\npf_bdf=0000:01:00.0\nindex=0\ndriver="
		  "igbvf\n"
		  "driver_override=\nmac=0a:20:5c:bc:ea\n",
		  "invalid mac= (line 8)" },
		{ "pool=fast\nvf=0000:01:10.0\npf=eth0\npf_bdf=0000:01:00.0\nindex=0\ndriver="
		  "igbvf\n"
		  "driver_override=\nvlan=4096\nqos=0\nvlan_proto=802.1Q\n",
		  "invalid vlan= (line 8)" },
		{ "pool=fast\nvf=0000:01:10.0\npf=eth0\npf_bdf=0000:01:00.0\nindex=0\ndriver="
		  "igbvf\n"
		  "driver_override=\nvlan=5\n",
		  "vlan, qos and vlan_proto go together" },
		{ "pool=fast\nvf=0000:01:10.0\npf=eth0\npf_bdf=0000:01:00.0\nindex=0\ndriver="
		  "igbvf\n"
		  "driver_override=\ntrust=yes\n",
		  "invalid trust= (line 8)" },
		{ "pool=fast\nvf=0000:01:10.0\npf=eth0\npf_bdf=0000:01:00.0\nindex=0\ndriver="
		  "igbvf\n"
		  "driver_override=\nlink_state=up\n",
		  "invalid link_state= (line 8)" },
		{ "pool=fast\nvf=0000:01:10.0\npf=eth0\npf_bdf=0000:01:00.0\nindex=0\ndriver="
		  "igbvf\n"
		  "driver_override=\ncolour=red\n",
		  "unknown, repeated or invalid colour=" },
		{ "pool=fast\nvf=0000:01:10.0\npf=eth0\npf_bdf=0000:01:00.0\nindex=0\ndriver="
		  "igbvf\n"
		  "driver_override=",
		  "corrupted (line 7)" }, /* torn write */
		{ "pool=fast\nvf=01:10.0\n", "invalid vf= (line 2)" },
		{ "max_tx_rate=-1\n", "invalid max_tx_rate= (line 1)" },
	};
	char path[128], err[512];
	VfSaved s;

	snprintf(path, sizeof(path), "%s/saved", state);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i].text);
		err[0] = 0;
		ck_assert_int_eq(vf_saved_read(path, &s, err, sizeof(err)), -EBADMSG);
		ck_assert_msg(strstr(err, path) && strstr(err, bad[i].expect), "case %zu: %s", i,
			      err);
	}
	unlink(path);
	ck_assert_int_eq(vf_saved_read(path, &s, err, sizeof(err)), -ENOENT);
}
END_TEST

START_TEST(test_emulated_pool)
{
	SriovPoolConfig c = { .name = "demo",
			      .driver = SRIOV_POOL_EMULATED,
			      .model = "e1000e",
			      .size = 1,
			      .state_dir = state };
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0xaa, 0xbb, 0x01 };
	char err[512] = "";
	SriovAlloc *a, *b;
	VfPool *p;

	ck_assert_int_eq(vf_pool_new(&p, &c, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(vf_pool_reserve(p, "vm0/net0", mac, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(a->state, SRIOV_ALLOC_RESERVED);
	ck_assert_str_eq(a->qemu_driver, "e1000e");
	ck_assert_int_eq(vf_pool_reserve(p, "vm1/net0", mac, &b, err, sizeof(err)), -ENOSPC);
	ck_assert_str_eq(err, "pool demo exhausted: all 1 emulated NICs are allocated");
	vf_pool_free(p);

	/* restart: without an owner check recovery keeps the slot; its owner gives it back */
	ck_assert_int_eq(vf_pool_new(&p, &c, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(vf_pool_recover(p, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 1);
	a = sriov_pool_find(vf_pool_get_sriov(p), "emu0");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(vf_pool_release(p, a, err, sizeof(err)), 0);
	ck_assert_int_eq(vf_pool_reserve(p, "vm1/net0", mac, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b->id, "emu0");
	vf_pool_free(p);
}
END_TEST

static bool only_vm1(const char *owner, void *userdata)
{
	return strcmp(owner, "vm1/net0") == 0;
}

START_TEST(test_failed_reserve_leaves_nothing)
{
	static const char *const pfs[] = { "fakepf0" };
	SriovPoolConfig c = { .name = "fast",
			      .driver = SRIOV_POOL_VFIO,
			      .pfs = pfs,
			      .n_pfs = 1,
			      .state_dir = state,
			      .sysfs = fs.root };
	char err[512] = "", path[128];
	SriovAlloc *a;
	VfPool *p;

	ck_assert_int_eq(vf_pool_new(&p, &c, NULL, err, sizeof(err)), 0);
	/* fakepf0 is no network interface of this machine: reading the VF fails */
	ck_assert_int_eq(vf_pool_reserve(p, "vm0/net0", NULL, &a, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "PF fakepf0: no such network interface");
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 0);
	snprintf(path, sizeof(path), "%s/alloc/0000:01:10.0", state);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/saved/0000:01:10.0", state);
	ck_assert_int_ne(access(path, F_OK), 0);
	vf_pool_free(p);
}
END_TEST

START_TEST(test_recover_leftovers)
{
	static const char *const pfs[] = { "fakepf0" };
	SriovPoolConfig c = { .name = "fast",
			      .driver = SRIOV_POOL_VFIO,
			      .pfs = pfs,
			      .n_pfs = 1,
			      .state_dir = state,
			      .sysfs = fs.root };
	char err[512] = "", path[128];
	SriovError se = { "" };
	SriovAlloc *a, *b;
	SriovPool *sp;
	VfSaved s = sample;
	VfPool *p;

	/* a crash right after the VFs were taken, before anything was saved or changed */
	ck_assert_int_eq(vf_pool_new(&p, &c, NULL, err, sizeof(err)), 0);
	sp = vf_pool_get_sriov(p);
	ck_assert_int_eq(sriov_pool_reserve(sp, "vm0/net0", &a, &se), 0);
	ck_assert_int_eq(sriov_pool_reserve(sp, "vm1/net0", &b, &se), 0);
	ck_assert_int_eq(sriov_pool_set_state(sp, b, SRIOV_ALLOC_RESERVED, NULL, &se), 0);
	vf_pool_free(p);
	/* and a save file of a VF that no longer exists (sriov_numvfs went down meanwhile) */
	snprintf(s.vf, sizeof(s.vf), "0000:01:10.6");
	s.index = 3;
	snprintf(path, sizeof(path), "%s/saved/0000:01:10.6", state);
	ck_assert_int_eq(vf_saved_write(path, &s), 0);

	ck_assert_int_eq(vf_pool_new(&p, &c, NULL, err, sizeof(err)), 0);
	sp = vf_pool_get_sriov(p);
	/* reserving vm0: unfinished, released; vm1 alive, kept; the orphan save file: done */
	ck_assert_int_eq(vf_pool_recover(p, only_vm1, NULL, err, sizeof(err)), 2);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(sp), 1);
	ck_assert_str_eq(sriov_pool_get_alloc(sp, 0)->owner, "vm1/net0");
	ck_assert_int_ne(access(path, F_OK), 0);
	vf_pool_free(p);
}
END_TEST

START_TEST(test_corrupt_save_file_blocks_release)
{
	static const char *const pfs[] = { "fakepf0" };
	SriovPoolConfig c = { .name = "fast",
			      .driver = SRIOV_POOL_VFIO,
			      .pfs = pfs,
			      .n_pfs = 1,
			      .state_dir = state,
			      .sysfs = fs.root };
	char err[512] = "", path[128];
	SriovError se = { "" };
	SriovAlloc *a;
	VfPool *p;

	ck_assert_int_eq(vf_pool_new(&p, &c, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(sriov_pool_reserve(vf_pool_get_sriov(p), "vm0/net0", &a, &se), 0);
	snprintf(path, sizeof(path), "%s/saved/0000:01:10.0", state);
	write_file(path, "pool=fast\nvf=garbage\n");
	/* the original state is unknown: the VF is not handed out again */
	ck_assert_int_eq(vf_pool_release(p, a, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_int_eq(a->state, SRIOV_ALLOC_RELEASING);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(vf_pool_get_sriov(p)), 1);
	vf_pool_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-vf");
	TCase *tc = tcase_create("vf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_saved_roundtrip);
	tcase_add_test(tc, test_saved_strict);
	tcase_add_test(tc, test_emulated_pool);
	tcase_add_test(tc, test_failed_reserve_leaves_nothing);
	tcase_add_test(tc, test_recover_leftovers);
	tcase_add_test(tc, test_corrupt_save_file_blocks_release);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
