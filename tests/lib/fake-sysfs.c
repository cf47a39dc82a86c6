/* A FAKE sysfs tree for unit tests; see fake-sysfs.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/fake-sysfs.h"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fake-sysfs: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

static void mkdirs(const char *path)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die("mkdir", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		die("mkdir", buf);
}

static void path_of(FakeSysfs *f, char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", f->root, rel);
}

static void parent_mkdirs(const char *path)
{
	char buf[512], *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (slash) {
		*slash = 0;
		mkdirs(buf);
	}
}

void fake_sysfs_init(FakeSysfs *f)
{
	snprintf(f->root, sizeof(f->root), "/tmp/fake-sysfs-XXXXXX");
	if (!mkdtemp(f->root))
		die("mkdtemp", f->root);
	fake_sysfs_write(f, "bus/pci/drivers_probe", "");
}

void fake_sysfs_cleanup(FakeSysfs *f)
{
	char cmd[400];

	if (!f->root[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		fprintf(stderr, "fake-sysfs: cannot remove %s\n", f->root);
	f->root[0] = 0;
}

void fake_sysfs_write(FakeSysfs *f, const char *rel, const char *content)
{
	char path[512];
	FILE *fp;

	path_of(f, path, sizeof(path), rel);
	parent_mkdirs(path);
	fp = fopen(path, "w");
	if (!fp)
		die("open", path);
	fputs(content, fp);
	fclose(fp);
}

const char *fake_sysfs_read(FakeSysfs *f, const char *rel)
{
	static char buf[4096];
	char path[512];
	size_t n;
	FILE *fp;

	path_of(f, path, sizeof(path), rel);
	buf[0] = 0;
	fp = fopen(path, "r");
	if (!fp)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = 0;
	fclose(fp);
	return buf;
}

void fake_sysfs_remove(FakeSysfs *f, const char *rel)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", f->root, rel);
	if (system(cmd) != 0)
		fprintf(stderr, "fake-sysfs: cannot remove %s\n", rel);
}

void fake_sysfs_make_unwritable(FakeSysfs *f, const char *rel)
{
	char path[512];

	fake_sysfs_remove(f, rel);
	path_of(f, path, sizeof(path), rel);
	mkdirs(path);
}

static void symlink_rel(FakeSysfs *f, const char *rel, const char *target)
{
	char path[512];

	path_of(f, path, sizeof(path), rel);
	parent_mkdirs(path);
	unlink(path);
	if (symlink(target, path) < 0)
		die("symlink", path);
}

void fake_sysfs_bind(FakeSysfs *f, const char *bdf, const char *driver)
{
	char rel[256], target[256];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver", bdf);
	fake_sysfs_remove(f, rel);
	if (!driver[0])
		return;
	snprintf(target, sizeof(target), "bus/pci/drivers/%s/bind", driver);
	fake_sysfs_write(f, target, "");
	snprintf(target, sizeof(target), "bus/pci/drivers/%s/unbind", driver);
	fake_sysfs_write(f, target, "");
	snprintf(target, sizeof(target), "../../drivers/%s", driver);
	symlink_rel(f, rel, target);
}

void fake_sysfs_group(FakeSysfs *f, const char *bdf, int group)
{
	char rel[256], target[256];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/iommu_group", bdf);
	snprintf(target, sizeof(target), "../../../../kernel/iommu_groups/%d", group);
	symlink_rel(f, rel, target);
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices/%s", group, bdf);
	snprintf(target, sizeof(target), "../../../../bus/pci/devices/%s", bdf);
	symlink_rel(f, rel, target);
}

void fake_sysfs_vf_bdf(const char *pf_bdf, unsigned index, char buf[16])
{
	snprintf(buf, 16, "%.8s%02x.%u", pf_bdf, 0x10 + index / 4, (index % 4) * 2);
}

void fake_sysfs_add_pf(FakeSysfs *f, const char *ifname, const char *bdf, unsigned total,
		       unsigned num, const char *vf_driver)
{
	char rel[256], target[256], num_s[16];
	static int next_group = 100;

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/sriov_totalvfs", bdf);
	snprintf(num_s, sizeof(num_s), "%u\n", total);
	fake_sysfs_write(f, rel, num_s);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/sriov_numvfs", bdf);
	snprintf(num_s, sizeof(num_s), "%u\n", num);
	fake_sysfs_write(f, rel, num_s);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/sriov_drivers_autoprobe", bdf);
	fake_sysfs_write(f, rel, "1\n");
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", bdf);
	fake_sysfs_write(f, rel, "(null)\n");
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/net/%s/address", bdf, ifname);
	fake_sysfs_write(f, rel, "52:54:00:12:34:56\n");
	fake_sysfs_bind(f, bdf, "igb");
	fake_sysfs_group(f, bdf, next_group++);
	snprintf(rel, sizeof(rel), "class/net/%s/device", ifname);
	snprintf(target, sizeof(target), "../../../bus/pci/devices/%s", bdf);
	symlink_rel(f, rel, target);

	for (unsigned i = 0; i < num; i++) {
		char vf[16];

		fake_sysfs_vf_bdf(bdf, i, vf);
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", vf);
		fake_sysfs_write(f, rel, "(null)\n");
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/virtfn%u", bdf, i);
		snprintf(target, sizeof(target), "../%s", vf);
		symlink_rel(f, rel, target);
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/physfn", vf);
		snprintf(target, sizeof(target), "../%s", bdf);
		symlink_rel(f, rel, target);
		fake_sysfs_bind(f, vf, vf_driver);
		fake_sysfs_group(f, vf, next_group++);
	}
}
