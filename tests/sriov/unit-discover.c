/* PF/VF discovery against a FAKE sysfs tree: layout and broken trees. */

#include <check.h>
#include <errno.h>
#include <string.h>

#include "sriov/sriov.h"
#include "tests/lib/fake-sysfs.h"
#include "tests/lib/suite.h"

static FakeSysfs fs;

static void setup(void)
{
	fake_sysfs_init(&fs);
	fake_sysfs_add_pf(&fs, "fakepf0", "0000:01:00.0", 7, 3, "igbvf");
}

static void teardown(void)
{
	fake_sysfs_cleanup(&fs);
}

START_TEST(test_is_bdf)
{
	ck_assert(sriov_is_bdf("0000:01:10.0"));
	ck_assert(sriov_is_bdf("abcd:EF:1f.7"));
	ck_assert(!sriov_is_bdf("0000:01:10"));
	ck_assert(!sriov_is_bdf("0000:01:10.0 "));
	ck_assert(!sriov_is_bdf("0000-01:10.0"));
	ck_assert(!sriov_is_bdf("eth0"));
	ck_assert(!sriov_is_bdf("g000:01:10.0"));
}
END_TEST

START_TEST(test_pf_by_name_and_address)
{
	SriovError err = { "" };
	SriovPf a, b;

	ck_assert_int_eq(sriov_pf_find(fs.root, "fakepf0", &a, &err), 0);
	ck_assert_str_eq(a.bdf, "0000:01:00.0");
	ck_assert_str_eq(a.ifname, "fakepf0");
	ck_assert_str_eq(a.driver, "igb");
	ck_assert_uint_eq(a.total_vfs, 7);
	ck_assert_uint_eq(a.num_vfs, 3);
	ck_assert_int_ge(a.iommu_group, 0);

	ck_assert_int_eq(sriov_pf_find(fs.root, "0000:01:00.0", &b, &err), 0);
	ck_assert_str_eq(b.ifname, "fakepf0");
	ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
}
END_TEST

START_TEST(test_vf_details)
{
	SriovError err = { "" };
	SriovPf pf;
	SriovVf vf;

	ck_assert_int_eq(sriov_pf_find(fs.root, "fakepf0", &pf, &err), 0);
	ck_assert_int_eq(sriov_vf_find(fs.root, &pf, 2, &vf, &err), 0);
	ck_assert_str_eq(vf.bdf, "0000:01:10.4");
	ck_assert_str_eq(vf.pf_bdf, "0000:01:00.0");
	ck_assert_str_eq(vf.pf_ifname, "fakepf0");
	ck_assert_uint_eq(vf.index, 2);
	ck_assert_str_eq(vf.driver, "igbvf");
	ck_assert_str_eq(vf.driver_override, ""); /* "(null)" in sysfs */
	ck_assert_int_ge(vf.iommu_group, 0);

	fake_sysfs_write(&fs, "bus/pci/devices/0000:01:10.4/driver_override", "vfio-pci\n");
	fake_sysfs_bind(&fs, "0000:01:10.4", "");
	ck_assert_int_eq(sriov_vf_find(fs.root, &pf, 2, &vf, &err), 0);
	ck_assert_str_eq(vf.driver_override, "vfio-pci");
	ck_assert_str_eq(vf.driver, "");

	ck_assert_int_eq(sriov_vf_find(fs.root, &pf, 3, &vf, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.message, "fakepf0 has no VF 3 (sriov_numvfs is 3)"));
}
END_TEST

START_TEST(test_missing_devices)
{
	SriovError err = { "" };
	SriovPf pf;

	ck_assert_int_eq(sriov_pf_find(fs.root, "nosuch0", &pf, &err), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err.message, "nosuch0"));
	ck_assert_int_eq(sriov_pf_find(fs.root, "0000:09:00.0", &pf, &err), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err.message, "0000:09:00.0"));
	ck_assert_int_eq(sriov_pf_find(fs.root, "../etc", &pf, &err), -EINVAL);
	/* A netdev that is not a PCI device (no device link), like lo. */
	fake_sysfs_write(&fs, "class/net/lo/address", "00:00:00:00:00:00\n");
	ck_assert_int_eq(sriov_pf_find(fs.root, "lo", &pf, &err), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err.message, "lo is not a PCI device"));
}
END_TEST

START_TEST(test_no_sriov_capability)
{
	SriovError err = { "" };
	SriovPf pf;

	fake_sysfs_remove(&fs, "bus/pci/devices/0000:01:00.0/sriov_totalvfs");
	ck_assert_int_eq(sriov_pf_find(fs.root, "fakepf0", &pf, &err), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err.message, "fakepf0"));
	ck_assert_ptr_nonnull(strstr(err.message, "no SR-IOV capability"));
}
END_TEST

START_TEST(test_garbage_counts)
{
	static const char *const garbage[] = { "7x\n", "", "\n", "-1\n", "99999999999\n", " 7\n" };
	SriovError err = { "" };
	SriovPf pf;

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		fake_sysfs_write(&fs, "bus/pci/devices/0000:01:00.0/sriov_numvfs", garbage[i]);
		err.message[0] = 0;
		ck_assert_int_eq(sriov_pf_find(fs.root, "fakepf0", &pf, &err), -EBADMSG);
		ck_assert_ptr_nonnull(strstr(err.message, "sriov_numvfs does not hold a number"));
	}
	fake_sysfs_write(&fs, "bus/pci/devices/0000:01:00.0/sriov_numvfs", "3");
	ck_assert_int_eq(sriov_pf_find(fs.root, "fakepf0", &pf, &err), 0);
	ck_assert_uint_eq(pf.num_vfs, 3);
}
END_TEST

START_TEST(test_broken_virtfn_link)
{
	SriovError err = { "" };
	SriovPf pf;
	SriovVf vf;

	ck_assert_int_eq(sriov_pf_find(fs.root, "fakepf0", &pf, &err), 0);
	/* virtfn0 as a regular file instead of a link */
	fake_sysfs_remove(&fs, "bus/pci/devices/0000:01:00.0/virtfn0");
	fake_sysfs_write(&fs, "bus/pci/devices/0000:01:00.0/virtfn0", "garbage");
	ck_assert_int_lt(sriov_vf_find(fs.root, &pf, 0, &vf, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.message, "virtfn0"));
}
END_TEST

START_TEST(test_set_num_vfs)
{
	SriovError err = { "" };
	SriovPf pf;

	ck_assert_int_eq(sriov_pf_find(fs.root, "fakepf0", &pf, &err), 0);
	ck_assert_int_eq(sriov_pf_set_num_vfs(fs.root, &pf, 5, false, &err), 0);
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/devices/0000:01:00.0/sriov_numvfs"), "5");
	ck_assert_str_eq(
		fake_sysfs_read(&fs, "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe"), "0");

	fake_sysfs_make_unwritable(&fs, "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe");
	ck_assert_int_lt(sriov_pf_set_num_vfs(fs.root, &pf, 2, true, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.message, "sriov_drivers_autoprobe"));
	ck_assert_ptr_nonnull(strstr(err.message, "fakepf0"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sriov-discover");
	TCase *tc = tcase_create("fake-sysfs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_is_bdf);
	tcase_add_test(tc, test_pf_by_name_and_address);
	tcase_add_test(tc, test_vf_details);
	tcase_add_test(tc, test_missing_devices);
	tcase_add_test(tc, test_no_sriov_capability);
	tcase_add_test(tc, test_garbage_counts);
	tcase_add_test(tc, test_broken_virtfn_link);
	tcase_add_test(tc, test_set_num_vfs);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
