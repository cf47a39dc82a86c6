/* Binding VFs to vfio-pci and back, and IOMMU group viability. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sriov/sriov-internal.h"

#define VFIO_DRIVER "vfio-pci"

static int write_attr(const char *sysfs, const char *bdf, const char *rel, const char *value,
		      SriovError *err)
{
	char path[4096];
	int r;

	r = sriov_sysfs_path(path, sizeof(path), sysfs, "%s", rel);
	if (r < 0)
		return r;
	r = sriov_sysfs_write(path, value);
	if (r < 0)
		sriov_error_set(err, "%s: writing \"%s\" to %s failed: %s", bdf,
				strcmp(value, "\n") == 0 ? "\\n" : value, path, strerror(-r));
	return r;
}

static int device_attr(char *buf, size_t size, const char *bdf, const char *attr)
{
	int n = snprintf(buf, size, "bus/pci/devices/%s/%s", bdf, attr);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int unbind(const char *sysfs, const char *bdf, SriovError *err)
{
	char rel[256];
	int r;

	r = device_attr(rel, sizeof(rel), bdf, "driver/unbind");
	if (r < 0)
		return r;
	return write_attr(sysfs, bdf, rel, bdf, err);
}

static int set_override(const char *sysfs, const char *bdf, const char *driver, SriovError *err)
{
	char rel[256];
	int r;

	r = device_attr(rel, sizeof(rel), bdf, "driver_override");
	if (r < 0)
		return r;
	/* A lone newline clears the override. */
	return write_attr(sysfs, bdf, rel, driver[0] ? driver : "\n", err);
}

static int get_driver(const char *sysfs, const char *bdf, char *buf, size_t size, SriovError *err)
{
	int r = sriov_device_get_driver(sysfs, bdf, buf, size);

	if (r < 0)
		sriov_error_set(err, "%s: cannot read its driver link: %s", bdf, strerror(-r));
	return r;
}

int sriov_iommu_group_check(const char *sysfs, const char *bdf, int *group, SriovError *err)
{
	char path[4096], name[32], drv[SRIOV_DRIVER_MAX];
	struct dirent *de;
	int r = 0;
	DIR *d;

	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/iommu_group", bdf);
	if (r < 0)
		return r;
	r = sriov_sysfs_link_name(path, name, sizeof(name));
	if (r == -ENOENT) {
		sriov_error_set(err,
				"%s has no IOMMU group: is the IOMMU enabled (intel_iommu=on or "
				"amd_iommu=on)?",
				bdf);
		return -ENODEV;
	}
	if (r < 0) {
		sriov_error_set(err, "%s: unreadable %s", bdf, path);
		return r;
	}
	if (group && sscanf(name, "%d", group) != 1) {
		sriov_error_set(err, "%s: %s does not name a group number", bdf, path);
		return -EBADMSG;
	}
	r = sriov_sysfs_path(path, sizeof(path), sysfs, "kernel/iommu_groups/%s/devices", name);
	if (r < 0)
		return r;
	d = opendir(path);
	if (!d) {
		r = -errno;
		sriov_error_set(err, "%s: cannot list IOMMU group %s (%s): %s", bdf, name, path,
				strerror(-r));
		return r;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		r = sriov_device_get_driver(sysfs, de->d_name, drv, sizeof(drv));
		if (r < 0) {
			sriov_error_set(err,
					"%s: cannot read the driver of IOMMU group %s member %s",
					bdf, name, de->d_name);
			break;
		}
		if (drv[0] && strcmp(drv, VFIO_DRIVER) != 0) {
			sriov_error_set(
				err,
				"IOMMU group %s of %s is not viable: member %s is bound to "
				"%s (every member must be bound to vfio-pci or to no driver)",
				name, bdf, de->d_name, drv);
			r = -EBUSY;
			break;
		}
	}
	closedir(d);
	return r;
}

int sriov_vfio_bind(const char *sysfs, const char *bdf, int *group, SriovError *err)
{
	char path[4096], drv[SRIOV_DRIVER_MAX];
	int r;

	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s", bdf);
	if (r < 0)
		return r;
	if (access(path, F_OK) < 0) {
		sriov_error_set(err, "%s: no such PCI device", bdf);
		return -ENODEV;
	}
	/* Without a group vfio-pci cannot use the device: fail before touching it. */
	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/iommu_group", bdf);
	if (r < 0)
		return r;
	if (access(path, F_OK) < 0) {
		sriov_error_set(err,
				"%s has no IOMMU group: is the IOMMU enabled (intel_iommu=on or "
				"amd_iommu=on)?",
				bdf);
		return -ENODEV;
	}
	r = get_driver(sysfs, bdf, drv, sizeof(drv), err);
	if (r < 0)
		return r;
	if (strcmp(drv, VFIO_DRIVER) != 0) {
		r = set_override(sysfs, bdf, VFIO_DRIVER, err);
		if (r < 0)
			return r;
		if (drv[0]) {
			r = unbind(sysfs, bdf, err);
			if (r < 0)
				return r;
		}
		r = write_attr(sysfs, bdf, "bus/pci/drivers_probe", bdf, err);
		if (r < 0)
			return r;
		r = get_driver(sysfs, bdf, drv, sizeof(drv), err);
		if (r < 0)
			return r;
		if (strcmp(drv, VFIO_DRIVER) != 0) {
			sriov_error_set(err,
					"%s did not bind to vfio-pci (driver now: %s); is the "
					"vfio-pci module loaded?",
					bdf, drv[0] ? drv : "none");
			return -EIO;
		}
	}
	return sriov_iommu_group_check(sysfs, bdf, group, err);
}

int sriov_driver_restore(const char *sysfs, const char *bdf, const char *driver,
			 const char *override, SriovError *err)
{
	char drv[SRIOV_DRIVER_MAX], rel[256];
	int r;

	r = set_override(sysfs, bdf, override ? override : "", err);
	if (r < 0)
		return r;
	r = get_driver(sysfs, bdf, drv, sizeof(drv), err);
	if (r < 0)
		return r;
	if (strcmp(drv, driver) == 0)
		return 0;
	if (drv[0]) {
		r = unbind(sysfs, bdf, err);
		if (r < 0)
			return r;
	}
	if (!driver[0])
		return 0;
	r = write_attr(sysfs, bdf, "bus/pci/drivers_probe", bdf, err);
	if (r < 0)
		return r;
	r = get_driver(sysfs, bdf, drv, sizeof(drv), err);
	if (r < 0)
		return r;
	if (strcmp(drv, driver) != 0) {
		/* Probing picked another driver (or none): ask the original one directly. */
		if (drv[0]) {
			r = unbind(sysfs, bdf, err);
			if (r < 0)
				return r;
		}
		if (snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/bind", driver) >=
		    (int)sizeof(rel))
			return -ENAMETOOLONG;
		r = write_attr(sysfs, bdf, rel, bdf, err);
		if (r < 0)
			return r;
		r = get_driver(sysfs, bdf, drv, sizeof(drv), err);
		if (r < 0)
			return r;
		if (strcmp(drv, driver) != 0) {
			sriov_error_set(err, "%s did not go back to its driver %s (driver now: %s)",
					bdf, driver, drv[0] ? drv : "none");
			return -EIO;
		}
	}
	return 0;
}
