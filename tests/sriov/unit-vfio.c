/*
 * vfio-pci binding steps and IOMMU group viability against a FAKE sysfs
 * tree (no kernel binds anything there). Real binding: kernel-vf.
 */

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
	fake_sysfs_add_pf(&fs, "fakepf0", "0000:01:00.0", 7, 2, "igbvf");
}

static void teardown(void)
{
	fake_sysfs_cleanup(&fs);
}

START_TEST(test_group_viable)
{
	SriovError err = { "" };
	int group = -1;

	/* alone in its group, bound to igbvf: not viable, and the member is named */
	ck_assert_int_eq(sriov_iommu_group_check(fs.root, "0000:01:10.0", &group, &err), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err.message, "member 0000:01:10.0 is bound to igbvf"));

	fake_sysfs_bind(&fs, "0000:01:10.0", "vfio-pci");
	ck_assert_int_eq(sriov_iommu_group_check(fs.root, "0000:01:10.0", &group, &err), 0);
	ck_assert_int_ge(group, 100);

	/* a second member on a host driver spoils it; a driverless one does not */
	fake_sysfs_group(&fs, "0000:01:10.2", group);
	ck_assert_int_eq(sriov_iommu_group_check(fs.root, "0000:01:10.0", NULL, &err), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err.message, "member 0000:01:10.2 is bound to igbvf"));
	fake_sysfs_bind(&fs, "0000:01:10.2", "");
	ck_assert_int_eq(sriov_iommu_group_check(fs.root, "0000:01:10.0", NULL, &err), 0);
}
END_TEST

START_TEST(test_no_iommu)
{
	SriovError err = { "" };
	int group;

	fake_sysfs_remove(&fs, "bus/pci/devices/0000:01:10.0/iommu_group");
	ck_assert_int_eq(sriov_vfio_bind(fs.root, "0000:01:10.0", &group, &err), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err.message, "intel_iommu=on"));
	/* nothing was touched */
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/devices/0000:01:10.0/driver_override"),
			 "(null)\n");
}
END_TEST

START_TEST(test_bind_steps)
{
	SriovError err = { "" };
	int group;

	/* The fake kernel binds nothing: every step is written, then the check fails. */
	ck_assert_int_eq(sriov_vfio_bind(fs.root, "0000:01:10.0", &group, &err), -EIO);
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/devices/0000:01:10.0/driver_override"),
			 "vfio-pci");
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/drivers/igbvf/unbind"), "0000:01:10.0");
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/drivers_probe"), "0000:01:10.0");
	ck_assert_ptr_nonnull(strstr(err.message, "did not bind to vfio-pci"));

	/* already on vfio-pci: only the group is checked */
	fake_sysfs_write(&fs, "bus/pci/drivers_probe", "");
	fake_sysfs_bind(&fs, "0000:01:10.0", "vfio-pci");
	ck_assert_int_eq(sriov_vfio_bind(fs.root, "0000:01:10.0", &group, &err), 0);
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/drivers_probe"), "");
}
END_TEST

START_TEST(test_unwritable_override)
{
	SriovError err = { "" };
	int group;

	fake_sysfs_make_unwritable(&fs, "bus/pci/devices/0000:01:10.0/driver_override");
	ck_assert_int_eq(sriov_vfio_bind(fs.root, "0000:01:10.0", &group, &err), -EISDIR);
	ck_assert_ptr_nonnull(strstr(err.message, "driver_override"));
	ck_assert_ptr_nonnull(strstr(err.message, "0000:01:10.0"));
	/* still on its driver: unbind was not attempted */
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/drivers/igbvf/unbind"), "");
}
END_TEST

START_TEST(test_restore_steps)
{
	SriovError err = { "" };

	fake_sysfs_bind(&fs, "0000:01:10.0", "vfio-pci");
	fake_sysfs_write(&fs, "bus/pci/devices/0000:01:10.0/driver_override", "vfio-pci\n");
	/* back to "no driver": override cleared, unbound, nothing probed */
	ck_assert_int_eq(sriov_driver_restore(fs.root, "0000:01:10.0", "", "", &err), 0);
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/devices/0000:01:10.0/driver_override"),
			 "\n");
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/drivers/vfio-pci/unbind"), "0000:01:10.0");
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/drivers_probe"), "");

	/* back to igbvf: probing binds nothing here, so the driver is asked directly, then it fails
	 */
	fake_sysfs_bind(&fs, "0000:01:10.0", "vfio-pci");
	ck_assert_int_eq(sriov_driver_restore(fs.root, "0000:01:10.0", "igbvf", "", &err), -EIO);
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/drivers_probe"), "0000:01:10.0");
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/drivers/igbvf/bind"), "0000:01:10.0");
	ck_assert_ptr_nonnull(strstr(err.message, "did not go back to its driver igbvf"));

	/* already on the original driver: only the override is put back */
	fake_sysfs_bind(&fs, "0000:01:10.0", "igbvf");
	ck_assert_int_eq(sriov_driver_restore(fs.root, "0000:01:10.0", "igbvf", "igbvf", &err), 0);
	ck_assert_str_eq(fake_sysfs_read(&fs, "bus/pci/devices/0000:01:10.0/driver_override"),
			 "igbvf");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sriov-vfio");
	TCase *tc = tcase_create("fake-sysfs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_group_viable);
	tcase_add_test(tc, test_no_iommu);
	tcase_add_test(tc, test_bind_steps);
	tcase_add_test(tc, test_unwritable_override);
	tcase_add_test(tc, test_restore_steps);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
