#pragma once

/*
 * A FAKE sysfs tree for unit tests of edge cases (missing files, garbage,
 * unwritable attributes). It has the layout of the real one but no kernel
 * behind it: writes to driver_override, unbind or drivers_probe bind
 * nothing. The real behaviour is tested against a real kernel (kernel-*).
 */

typedef struct FakeSysfs {
	char root[256];
} FakeSysfs;

/* A new empty tree in a temporary directory. */
void fake_sysfs_init(FakeSysfs *f);
/* Removes the whole tree. */
void fake_sysfs_cleanup(FakeSysfs *f);

/* A PF with @num VFs at <bus>:10.<2i> (bus taken from @bdf), all bound to @vf_driver. */
void fake_sysfs_add_pf(FakeSysfs *f, const char *ifname, const char *bdf, unsigned total,
		       unsigned num, const char *vf_driver);
/* Binds @bdf to @driver ("" unbinds) by moving its driver link. */
void fake_sysfs_bind(FakeSysfs *f, const char *bdf, const char *driver);
/* Puts @bdf in IOMMU group @group. */
void fake_sysfs_group(FakeSysfs *f, const char *bdf, int group);

/* Writes @content to root/@rel (creating the file). */
void fake_sysfs_write(FakeSysfs *f, const char *rel, const char *content);
/* Reads root/@rel into a static buffer; "" when missing. */
const char *fake_sysfs_read(FakeSysfs *f, const char *rel);
void fake_sysfs_remove(FakeSysfs *f, const char *rel);
/* Replaces root/@rel by a directory, so that writing it fails (root ignores modes). */
void fake_sysfs_make_unwritable(FakeSysfs *f, const char *rel);
/* The VF address fake_sysfs_add_pf() gives VF @index of the PF at @pf_bdf. */
void fake_sysfs_vf_bdf(const char *pf_bdf, unsigned index, char buf[16]);
