/* PF and VF discovery in sysfs. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sriov/sriov-internal.h"

bool sriov_is_bdf(const char *s)
{
	/* DDDD:BB:DD.F, hex digits */
	static const char pattern[] = "xxxx:xx:xx.x";

	if (strlen(s) != sizeof(pattern) - 1)
		return false;
	for (size_t i = 0; pattern[i]; i++) {
		if (pattern[i] == 'x') {
			if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			      (s[i] >= 'A' && s[i] <= 'F')))
				return false;
		} else if (s[i] != pattern[i]) {
			return false;
		}
	}
	return true;
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < SRIOV_IFNAME_MAX && !strchr(s, '/') && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

/* The first netdev under a PCI device, "" if none. */
static void first_netdev(const char *sysfs, const char *bdf, char *buf, size_t size)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	buf[0] = 0;
	if (sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/net", bdf) < 0)
		return;
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= size)
			continue;
		strcpy(buf, de->d_name);
		break;
	}
	closedir(d);
}

static int read_group(const char *sysfs, const char *bdf, int *ret)
{
	char path[4096], name[32], *end;
	long v;
	int r;

	*ret = -1;
	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/iommu_group", bdf);
	if (r < 0)
		return r;
	r = sriov_sysfs_link_name(path, name, sizeof(name));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	errno = 0;
	v = strtol(name, &end, 10);
	if (errno || *end || v < 0 || v > 1000000)
		return -EBADMSG;
	*ret = (int)v;
	return 0;
}

int sriov_device_get_driver(const char *sysfs, const char *bdf, char *buf, size_t size)
{
	char path[4096];
	int r;

	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/driver", bdf);
	if (r < 0)
		return r;
	r = sriov_sysfs_link_name(path, buf, size);
	if (r == -ENOENT) {
		buf[0] = 0;
		return 0;
	}
	return r;
}

static int read_count(const char *sysfs, const char *what, const char *bdf, const char *attr,
		      unsigned *ret, SriovError *err)
{
	char path[4096];
	int r;

	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/%s", bdf, attr);
	if (r < 0)
		return r;
	r = sriov_sysfs_read_uint(path, ret);
	if (r == -ENOENT)
		sriov_error_set(err, "PF %s (%s) has no SR-IOV capability (no %s)", what, bdf,
				path);
	else if (r == -EBADMSG)
		sriov_error_set(err, "PF %s (%s): %s does not hold a number", what, bdf, path);
	else if (r < 0)
		sriov_error_set(err, "PF %s (%s): cannot read %s: %s", what, bdf, path,
				strerror(-r));
	return r == -ENOENT ? -ENOTSUP : r;
}

int sriov_pf_find(const char *sysfs, const char *name, SriovPf *ret, SriovError *err)
{
	char path[4096];
	SriovPf pf = { .iommu_group = -1 };
	int r;

	if (sriov_is_bdf(name)) {
		snprintf(pf.bdf, sizeof(pf.bdf), "%s", name);
		r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s", name);
		if (r < 0)
			return r;
		if (access(path, F_OK) < 0) {
			sriov_error_set(err, "PF %s: no such PCI device (%s)", name, path);
			return -ENODEV;
		}
		first_netdev(sysfs, pf.bdf, pf.ifname, sizeof(pf.ifname));
	} else {
		if (!valid_ifname(name)) {
			sriov_error_set(err,
					"PF \"%s\": not a network interface name or PCI address",
					name);
			return -EINVAL;
		}
		snprintf(pf.ifname, sizeof(pf.ifname), "%s", name);
		r = sriov_sysfs_path(path, sizeof(path), sysfs, "class/net/%s", name);
		if (r < 0)
			return r;
		if (access(path, F_OK) < 0) {
			sriov_error_set(err, "PF %s: no such network interface", name);
			return -ENODEV;
		}
		r = sriov_sysfs_path(path, sizeof(path), sysfs, "class/net/%s/device", name);
		if (r < 0)
			return r;
		r = sriov_sysfs_link_name(path, pf.bdf, sizeof(pf.bdf));
		if (r == -ENOENT) {
			sriov_error_set(err, "PF %s is not a PCI device", name);
			return -ENODEV;
		}
		if (r < 0 || !sriov_is_bdf(pf.bdf)) {
			sriov_error_set(err, "PF %s: %s does not point to a PCI device", name,
					path);
			return -EBADMSG;
		}
	}
	r = read_count(sysfs, name, pf.bdf, "sriov_totalvfs", &pf.total_vfs, err);
	if (r < 0)
		return r;
	r = read_count(sysfs, name, pf.bdf, "sriov_numvfs", &pf.num_vfs, err);
	if (r < 0)
		return r;
	r = sriov_device_get_driver(sysfs, pf.bdf, pf.driver, sizeof(pf.driver));
	if (r < 0) {
		sriov_error_set(err, "PF %s (%s): unreadable driver link", name, pf.bdf);
		return r;
	}
	r = read_group(sysfs, pf.bdf, &pf.iommu_group);
	if (r < 0) {
		sriov_error_set(err, "PF %s (%s): unreadable iommu_group link", name, pf.bdf);
		return r;
	}
	*ret = pf;
	return 0;
}

int sriov_vf_find(const char *sysfs, const SriovPf *pf, unsigned index, SriovVf *ret,
		  SriovError *err)
{
	const char *pfname = pf->ifname[0] ? pf->ifname : pf->bdf;
	SriovVf vf = { .index = index, .iommu_group = -1 };
	char path[4096];
	int r;

	snprintf(vf.pf_bdf, sizeof(vf.pf_bdf), "%s", pf->bdf);
	snprintf(vf.pf_ifname, sizeof(vf.pf_ifname), "%s", pf->ifname);
	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/virtfn%u", pf->bdf,
			     index);
	if (r < 0)
		return r;
	r = sriov_sysfs_link_name(path, vf.bdf, sizeof(vf.bdf));
	if (r == -ENOENT) {
		sriov_error_set(err, "PF %s has no VF %u (sriov_numvfs is %u)", pfname, index,
				pf->num_vfs);
		return -ENOENT;
	}
	if (r < 0 || !sriov_is_bdf(vf.bdf)) {
		sriov_error_set(err, "PF %s: %s does not point to a PCI device", pfname, path);
		return r < 0 ? r : -EBADMSG;
	}
	r = sriov_device_get_driver(sysfs, vf.bdf, vf.driver, sizeof(vf.driver));
	if (r < 0) {
		sriov_error_set(err, "VF %s: unreadable driver link", vf.bdf);
		return r;
	}
	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/driver_override",
			     vf.bdf);
	if (r < 0)
		return r;
	r = sriov_sysfs_read_line(path, vf.driver_override, sizeof(vf.driver_override));
	if (r == -ENOENT) {
		sriov_error_set(err, "VF %s (PF %s VF %u) was removed", vf.bdf, pfname, index);
		return -ENOENT;
	}
	if (r < 0) {
		sriov_error_set(err, "VF %s: cannot read %s: %s", vf.bdf, path, strerror(-r));
		return r;
	}
	if (strcmp(vf.driver_override, "(null)") == 0)
		vf.driver_override[0] = 0;
	r = read_group(sysfs, vf.bdf, &vf.iommu_group);
	if (r < 0) {
		sriov_error_set(err, "VF %s: unreadable iommu_group link", vf.bdf);
		return r;
	}
	first_netdev(sysfs, vf.bdf, vf.ifname, sizeof(vf.ifname));
	*ret = vf;
	return 0;
}

int sriov_pf_set_num_vfs(const char *sysfs, const SriovPf *pf, unsigned n, bool autoprobe,
			 SriovError *err)
{
	const char *pfname = pf->ifname[0] ? pf->ifname : pf->bdf;
	char path[4096], num[16];
	unsigned cur;
	int r;

	r = sriov_sysfs_path(path, sizeof(path), sysfs,
			     "bus/pci/devices/%s/sriov_drivers_autoprobe", pf->bdf);
	if (r < 0)
		return r;
	r = sriov_sysfs_write(path, autoprobe ? "1" : "0");
	if (r < 0) {
		sriov_error_set(err, "PF %s: cannot write %s: %s", pfname, path, strerror(-r));
		return r;
	}
	r = sriov_sysfs_path(path, sizeof(path), sysfs, "bus/pci/devices/%s/sriov_numvfs", pf->bdf);
	if (r < 0)
		return r;
	r = sriov_sysfs_read_uint(path, &cur);
	if (r < 0) {
		sriov_error_set(err, "PF %s: cannot read %s: %s", pfname, path, strerror(-r));
		return r;
	}
	if (cur == n)
		return 0;
	/* The kernel only goes from 0 to N and back. */
	if (cur != 0 && n != 0) {
		r = sriov_sysfs_write(path, "0");
		if (r < 0) {
			sriov_error_set(err, "PF %s: writing 0 to %s failed: %s", pfname, path,
					strerror(-r));
			return r;
		}
	}
	snprintf(num, sizeof(num), "%u", n);
	r = sriov_sysfs_write(path, num);
	if (r < 0)
		sriov_error_set(err, "PF %s: writing %u to %s failed: %s", pfname, n, path,
				strerror(-r));
	return r;
}
