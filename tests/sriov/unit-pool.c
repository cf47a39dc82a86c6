/*
 * Pools: exclusive allocation, persistence across a restart (a new pool
 * object on the same state directory), strict records, emulated slots,
 * and VFs that vanish. VFs come from a FAKE sysfs tree.
 */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sriov/sriov.h"
#include "tests/lib/fake-sysfs.h"
#include "tests/lib/suite.h"

static FakeSysfs fs;
static char state[64];

static void setup(void)
{
	fake_sysfs_init(&fs);
	fake_sysfs_add_pf(&fs, "fakepf0", "0000:01:00.0", 7, 3, "igbvf");
	fake_sysfs_add_pf(&fs, "fakepf1", "0000:02:00.0", 7, 2, "igbvf");
	snprintf(state, sizeof(state), "/tmp/sriov-state-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
}

static void teardown(void)
{
	char cmd[128];

	fake_sysfs_cleanup(&fs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *const both[] = { "fakepf0", "0000:02:00.0" };

static SriovPool *pool_vfio(const char *name, const char *const *pfs, size_t n,
			    const SriovRange *ranges, size_t n_ranges)
{
	SriovPoolConfig c = {
		.name = name,
		.driver = SRIOV_POOL_VFIO,
		.pfs = pfs,
		.n_pfs = n,
		.ranges = ranges,
		.n_ranges = n_ranges,
		.state_dir = state,
		.sysfs = fs.root,
	};
	SriovError err = { "" };
	SriovPool *p = NULL;

	ck_assert_msg(sriov_pool_new(&p, &c, &err) == 0, "%s", err.message);
	return p;
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

START_TEST(test_exclusive_and_exhausted)
{
	SriovPool *p = pool_vfio("fast", both, 2, NULL, 0);
	SriovError err = { "" };
	SriovAlloc *a[5], *x;
	char owner[32];

	for (int i = 0; i < 5; i++) {
		snprintf(owner, sizeof(owner), "vm%d/net0", i);
		ck_assert_msg(sriov_pool_reserve(p, owner, &a[i], &err) == 0, "%s", err.message);
		ck_assert_int_eq(a[i]->state, SRIOV_ALLOC_RESERVING);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(a[i]->id, a[j]->id);
	}
	/* PFs in order, VF indexes ascending */
	ck_assert_str_eq(a[0]->id, "0000:01:10.0");
	ck_assert_str_eq(a[0]->pf_ifname, "fakepf0");
	ck_assert_uint_eq(a[0]->vf_index, 0);
	ck_assert_str_eq(a[3]->id, "0000:02:10.0");
	ck_assert_str_eq(a[3]->pf_ifname, "fakepf1");
	ck_assert_str_eq(a[4]->qemu_driver, "vfio-pci");
	ck_assert_str_eq(a[4]->props[0].name, "host");
	ck_assert_str_eq(a[4]->props[0].value, "0000:02:10.2");

	ck_assert_int_eq(sriov_pool_reserve(p, "vm9/net0", &x, &err), -ENOSPC);
	ck_assert_str_eq(err.message, "pool fast exhausted: all 5 VFs are allocated");

	/* a released VF is the next one handed out */
	ck_assert_int_eq(sriov_pool_release(p, a[1], &err), 0);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm9/net0", &x, &err), 0);
	ck_assert_str_eq(x->id, "0000:01:10.2");
	sriov_pool_free(p);
}
END_TEST

START_TEST(test_ranges)
{
	static const SriovRange r[] = { { 1, 1 }, { 5, 9 } };
	SriovPool *p = pool_vfio("some", both, 1, r, 2);
	SriovError err = { "" };
	SriovAlloc *a;
	unsigned total, free_;

	ck_assert_int_eq(sriov_pool_count(p, &total, &free_), 0);
	ck_assert_uint_eq(total, 1); /* only VF 1: VFs 5..9 are not enabled */
	ck_assert_int_eq(sriov_pool_reserve(p, "vm0/net0", &a, &err), 0);
	ck_assert_uint_eq(a->vf_index, 1);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm1/net0", &a, &err), -ENOSPC);
	sriov_pool_free(p);
}
END_TEST

START_TEST(test_persistent_across_restart)
{
	SriovPool *p = pool_vfio("fast", both, 2, NULL, 0);
	SriovError err = { "" };
	SriovAlloc *a, *b;

	ck_assert_int_eq(sriov_pool_reserve(p, "vm0/net0", &a, &err), 0);
	ck_assert_int_eq(sriov_pool_set_state(p, a, SRIOV_ALLOC_RESERVED, NULL, &err), 0);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm1/net0", &b, &err), 0);
	ck_assert_int_eq(sriov_pool_set_state(p, b, SRIOV_ALLOC_RELEASING, NULL, &err), 0);
	sriov_pool_free(p);

	/* the "restarted daemon" */
	p = pool_vfio("fast", both, 2, NULL, 0);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(p), 2);
	a = sriov_pool_find(p, "0000:01:10.0");
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->owner, "vm0/net0");
	ck_assert_int_eq(a->state, SRIOV_ALLOC_RESERVED);
	ck_assert_str_eq(a->qemu_driver, "vfio-pci");
	ck_assert_str_eq(a->props[0].value, "0000:01:10.0");
	b = sriov_pool_find_owner(p, "vm1/net0");
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b->id, "0000:01:10.2");
	ck_assert_int_eq(b->state, SRIOV_ALLOC_RELEASING);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm2/net0", &a, &err), 0);
	ck_assert_str_eq(a->id, "0000:01:10.4");
	sriov_pool_free(p);
}
END_TEST

START_TEST(test_two_pools_share_pf)
{
	SriovPool *p = pool_vfio("a", both, 1, NULL, 0);
	SriovPool *q = pool_vfio("b", both, 1, NULL, 0);
	SriovError err = { "" };
	SriovAlloc *x, *y;

	ck_assert_int_eq(sriov_pool_reserve(p, "vm0/net0", &x, &err), 0);
	ck_assert_int_eq(sriov_pool_reserve(q, "vm1/net0", &y, &err), 0);
	ck_assert_str_ne(x->id, y->id);
	ck_assert_int_eq(sriov_pool_reserve(q, "vm2/net0", &y, &err), 0);
	/* a's view: the three VFs are taken, one by itself */
	ck_assert_int_eq(sriov_pool_reserve(p, "vm3/net0", &x, &err), -ENOSPC);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(p), 1);
	sriov_pool_free(p);
	sriov_pool_free(q);
}
END_TEST

START_TEST(test_record_files)
{
	SriovPool *p = pool_vfio("fast", both, 1, NULL, 0);
	SriovError err = { "" };
	char path[256], buf[1024] = "";
	struct dirent *de;
	struct stat st;
	SriovAlloc *a;
	FILE *f;
	DIR *d;

	ck_assert_int_eq(sriov_pool_reserve(p, "vm0/net0", &a, &err), 0);
	ck_assert_int_eq(sriov_pool_set_state(p, a, SRIOV_ALLOC_GONE, "line one\nline two", &err),
			 0);
	snprintf(path, sizeof(path), "%s/alloc/0000:01:10.0", state);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
	fclose(f);
	ck_assert_str_eq(buf, "pool=fast\nid=0000:01:10.0\ndriver=vfio\nowner=vm0/net0\n"
			      "state=gone\nreason=line one line two\npf_bdf=0000:01:00.0\n"
			      "pf=fakepf0\nvf=0\n");
	/*
	 * A new state keeping the reason, passed as the allocation's own: found
	 * by tests/fuzz/statefile.c, the overlapping copy used to blank it.
	 */
	ck_assert_int_eq(sriov_pool_set_state(p, a, SRIOV_ALLOC_RELEASING, a->reason, &err), 0);
	ck_assert_str_eq(a->reason, "line one line two");
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "state=releasing\nreason=line one line two\n"));
	/* no temporary file left behind */
	snprintf(path, sizeof(path), "%s/alloc", state);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		ck_assert_msg(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
				      strcmp(de->d_name, "0000:01:10.0") == 0,
			      "stray file %s", de->d_name);
	closedir(d);
	ck_assert_int_eq(sriov_pool_release(p, a, &err), 0);
	snprintf(path, sizeof(path), "%s/alloc/0000:01:10.0", state);
	ck_assert_int_ne(access(path, F_OK), 0);
	sriov_pool_free(p);
}
END_TEST

static const char good[] = "pool=fast\nid=0000:01:10.0\ndriver=vfio\nowner=vm0/net0\n"
			   "state=reserved\npf_bdf=0000:01:00.0\npf=fakepf0\nvf=0\n";

START_TEST(test_corrupted_records)
{
	static const struct {
		const char *content;
		const char *expect;
	} bad[] = {
		{ "pool=fast\nid=0000:01:10.0\ndriver=vfio\nowner=vm0/net0\nstate=reserved\n"
		  "pf_bdf=0000:01:00.0\npf=fakepf0\nvf=0",
		  "corrupted (line 8)" }, /* torn: no newline */
		{ "pool=fast\nid=0000:01:10.0\ndriver=vfio\nowner=vm0/net0\nstate=reserved\n",
		  "a required key is missing" },
		{ "pool=fast\nid=0000:01:10.0\ndriver=vfio\nowner=vm0/net0\nstate=held\n"
		  "pf_bdf=0000:01:00.0\npf=fakepf0\nvf=0\n",
		  "bad or repeated state=" },
		{ "pool=fast\npool=fast\n", "bad or repeated pool=" },
		{ "pool=fast\nid=0000:01:10.0\ndriver=vfio\nowner=vm0/net0\nstate=reserved\n"
		  "pf_bdf=0000:01:00.0\npf=fakepf0\nvf=0\ncolour=red\n",
		  "bad or repeated colour=" },
		{ "pool=fast\nid=0000:01:10.0\ndriver=vfio\nowner=vm0/net0\nstate=reserved\n"
		  "pf_bdf=0000:01:00.0\npf=fakepf0\nvf=x\n",
		  "bad or repeated vf=" },
		{ "garbage\n", "corrupted (line 1)" },
		{ "pool=fast\nid=0000:01:10.2\ndriver=vfio\nowner=vm0/net0\nstate=reserved\n"
		  "pf_bdf=0000:01:00.0\npf=fakepf0\nvf=0\n",
		  "it describes 0000:01:10.2" },
	};
	SriovPoolConfig c = {
		.name = "fast",
		.driver = SRIOV_POOL_VFIO,
		.pfs = both,
		.n_pfs = 1,
		.state_dir = state,
		.sysfs = fs.root,
	};
	char path[256];
	SriovPool *p;

	snprintf(path, sizeof(path), "%s/alloc", state);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/alloc/0000:01:10.0", state);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		SriovError err = { "" };

		write_file(path, bad[i].content);
		p = NULL;
		ck_assert_int_eq(sriov_pool_new(&p, &c, &err), -EBADMSG);
		ck_assert_ptr_null(p);
		ck_assert_msg(strstr(err.message, path) && strstr(err.message, bad[i].expect),
			      "case %zu: %s", i, err.message);
	}
	write_file(path, good);
	p = pool_vfio("fast", both, 1, NULL, 0);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(p), 1);
	sriov_pool_free(p);
}
END_TEST

/*
 * Every pool's records share one directory; a pool reads only the ones its
 * name can own, so one damaged record stops only the pool it belongs to.
 */
START_TEST(test_damaged_record_stops_only_its_pool)
{
	SriovPoolConfig demo = { .name = "demo",
				 .driver = SRIOV_POOL_EMULATED,
				 .model = "e1000e",
				 .size = 2,
				 .state_dir = state },
			other = demo;
	SriovError err = { "" };
	char path[256];
	SriovPool *p = NULL;

	other.name = "other";
	snprintf(path, sizeof(path), "%s/alloc", state);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/alloc/other@0", state);
	write_file(path, "garbage\n");
	ck_assert_int_eq(sriov_pool_new(&p, &demo, &err), 0);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(p), 0);
	sriov_pool_free(p);
	p = NULL;
	ck_assert_int_eq(sriov_pool_new(&p, &other, &err), -EBADMSG);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err.message, path) && strstr(err.message, "corrupted (line 1)"), "%s",
		      err.message);
	/* A VF pool never reads an emulated slot's record. */
	p = pool_vfio("fast", both, 1, NULL, 0);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(p), 0);
	sriov_pool_free(p);
}
END_TEST

START_TEST(test_emulated)
{
	SriovPoolConfig c = {
		.name = "demo",
		.driver = SRIOV_POOL_EMULATED,
		.model = "e1000e",
		.size = 2,
		.state_dir = state,
	};
	SriovError err = { "" };
	SriovAlloc *a, *b, *x;
	SriovPool *p;
	char path[256];

	ck_assert_int_eq(sriov_pool_new(&p, &c, &err), 0);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm0/net0", &a, &err), 0);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm1/net0", &b, &err), 0);
	ck_assert_str_eq(a->id, "emu0");
	ck_assert_str_eq(b->id, "emu1");
	ck_assert(a->emulated);
	ck_assert_str_eq(a->qemu_driver, "e1000e");
	ck_assert_uint_eq(a->n_props, 1);
	ck_assert_str_eq(a->props[0].name, "romfile");
	ck_assert_str_eq(a->props[0].value, "");
	ck_assert_int_eq(sriov_pool_reserve(p, "vm2/net0", &x, &err), -ENOSPC);
	ck_assert_str_eq(err.message, "pool demo exhausted: all 2 emulated NICs are allocated");
	snprintf(path, sizeof(path), "%s/alloc/demo@emu1", state);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(sriov_pool_release(p, a, &err), 0);
	sriov_pool_free(p);

	/* restart: emu1 still held by vm1, emu0 free again */
	ck_assert_int_eq(sriov_pool_new(&p, &c, &err), 0);
	ck_assert_uint_eq(sriov_pool_get_n_allocs(p), 1);
	b = sriov_pool_find(p, "emu1");
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b->owner, "vm1/net0");
	ck_assert_str_eq(b->qemu_driver, "e1000e");
	ck_assert_int_eq(sriov_pool_reserve(p, "vm2/net0", &x, &err), 0);
	ck_assert_str_eq(x->id, "emu0");
	/* a recheck never touches emulated slots */
	ck_assert_int_eq(sriov_pool_recheck(p, NULL, NULL), 0);
	sriov_pool_free(p);
}
END_TEST

static void on_gone(SriovPool *p, SriovAlloc *a, void *userdata)
{
	int *n = userdata;

	(*n)++;
}

START_TEST(test_vanished_vfs)
{
	SriovPool *p = pool_vfio("fast", both, 2, NULL, 0);
	SriovError err = { "" };
	SriovAlloc *a, *b, *c;
	SriovUevent ev = { "remove", "pci", "0000:01:10.0" };
	SriovUevent other = { "remove", "pci", "0000:07:00.0" };
	int n = 0;

	ck_assert_int_eq(sriov_pool_reserve(p, "vm0/net0", &a, &err), 0);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm1/net0", &b, &err), 0);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm2/net0", &c, &err), 0);
	ck_assert(sriov_pool_wants_uevent(p, &ev));
	ck_assert(!sriov_pool_wants_uevent(p, &other));
	ck_assert_int_eq(sriov_pool_recheck(p, on_gone, &n), 0);

	/* sriov_numvfs of fakepf0 went to 1: VFs 1 and 2 disappear */
	fake_sysfs_write(&fs, "bus/pci/devices/0000:01:00.0/sriov_numvfs", "1\n");
	fake_sysfs_remove(&fs, "bus/pci/devices/0000:01:00.0/virtfn1");
	fake_sysfs_remove(&fs, "bus/pci/devices/0000:01:00.0/virtfn2");
	fake_sysfs_remove(&fs, "bus/pci/devices/0000:01:10.2");
	fake_sysfs_remove(&fs, "bus/pci/devices/0000:01:10.4");
	ck_assert_int_eq(sriov_pool_recheck(p, on_gone, &n), 2);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(a->state, SRIOV_ALLOC_RESERVING); /* untouched */
	ck_assert_int_eq(b->state, SRIOV_ALLOC_GONE);
	ck_assert_str_eq(b->reason, "VF 0000:01:10.2 (PF fakepf0 VF 1) was removed: "
				    "sriov_numvfs of fakepf0 is now 1");
	/* again: nothing new */
	ck_assert_int_eq(sriov_pool_recheck(p, on_gone, &n), 0);

	/* the whole PF goes */
	fake_sysfs_remove(&fs, "bus/pci/devices/0000:01:00.0");
	ck_assert_int_eq(sriov_pool_recheck(p, on_gone, &n), 1);
	ck_assert_int_eq(a->state, SRIOV_ALLOC_GONE);
	ck_assert_ptr_nonnull(strstr(a->reason, "PF fakepf0 (0000:01:00.0) was removed"));
	sriov_pool_free(p);

	/* persisted: a restarted daemon knows why */
	p = pool_vfio("fast", both, 2, NULL, 0);
	b = sriov_pool_find(p, "0000:01:10.2");
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->state, SRIOV_ALLOC_GONE);
	ck_assert_ptr_nonnull(strstr(b->reason, "sriov_numvfs of fakepf0 is now 1"));
	/* the other PF still serves */
	ck_assert_int_eq(sriov_pool_reserve(p, "vm3/net0", &c, &err), 0);
	ck_assert_str_eq(c->id, "0000:02:10.0");
	sriov_pool_free(p);
}
END_TEST

START_TEST(test_missing_pf)
{
	static const char *const pfs[] = { "nosuch0", "fakepf1" };
	static const char *const only_missing[] = { "nosuch0" };
	SriovPool *p = pool_vfio("fast", pfs, 2, NULL, 0);
	SriovError err = { "" };
	SriovAlloc *a;

	ck_assert_int_eq(sriov_pool_reserve(p, "vm0/net0", &a, &err), 0);
	ck_assert_str_eq(a->pf_ifname, "fakepf1");
	sriov_pool_free(p);

	p = pool_vfio("lonely", only_missing, 1, NULL, 0);
	ck_assert_int_eq(sriov_pool_reserve(p, "vm0/net0", &a, &err), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err.message, "pool lonely has no usable VF"));
	ck_assert_ptr_nonnull(strstr(err.message, "nosuch0"));
	sriov_pool_free(p);
}
END_TEST

START_TEST(test_bad_config)
{
	SriovPoolConfig c = {
		.name = "bad/name", .driver = SRIOV_POOL_EMULATED, .size = 1, .state_dir = state
	};
	SriovError err = { "" };
	SriovPool *p = NULL;

	ck_assert_int_eq(sriov_pool_new(&p, &c, &err), -EINVAL);
	c.name = "ok";
	c.size = 0;
	ck_assert_int_eq(sriov_pool_new(&p, &c, &err), -EINVAL);
	c.driver = SRIOV_POOL_VFIO;
	ck_assert_int_eq(sriov_pool_new(&p, &c, &err), -EINVAL);
	ck_assert_str_eq(err.message, "pool ok: no PhysicalFunction=");
	ck_assert_ptr_null(p);
	ck_assert_int_eq(sriov_pool_driver_from_string("emulated"), SRIOV_POOL_EMULATED);
	ck_assert_int_eq(sriov_pool_driver_from_string("vfio"), SRIOV_POOL_VFIO);
	ck_assert_int_lt(sriov_pool_driver_from_string("VFIO"), 0);
	ck_assert_ptr_null(sriov_pool_free(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sriov-pool");
	TCase *tc = tcase_create("fake-sysfs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_exclusive_and_exhausted);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_persistent_across_restart);
	tcase_add_test(tc, test_two_pools_share_pf);
	tcase_add_test(tc, test_record_files);
	tcase_add_test(tc, test_corrupted_records);
	tcase_add_test(tc, test_damaged_record_stops_only_its_pool);
	tcase_add_test(tc, test_emulated);
	tcase_add_test(tc, test_vanished_vfs);
	tcase_add_test(tc, test_missing_pf);
	tcase_add_test(tc, test_bad_config);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
