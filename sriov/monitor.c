/*
 * PCI and net device events through libudev. The caller polls the fd (the
 * daemon hooks it into its event loop) and calls sriov_monitor_process().
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "sriov/sriov-internal.h"

struct SriovMonitor {
	struct udev *udev;
	struct udev_monitor *mon;
	SriovMonitorFn fn;
	void *userdata;
};

int sriov_monitor_new(SriovMonitor **ret, const char *source, SriovMonitorFn fn, void *userdata)
{
	SriovMonitor *m;
	int r, fd, flags;

	if (!source)
		source = "kernel";
	if (strcmp(source, "kernel") != 0 && strcmp(source, "udev") != 0)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->userdata = userdata;
	m->udev = udev_new();
	if (!m->udev) {
		r = errno ? -errno : -ENOMEM;
		goto fail;
	}
	m->mon = udev_monitor_new_from_netlink(m->udev, source);
	if (!m->mon) {
		r = errno ? -errno : -EIO;
		goto fail;
	}
	r = udev_monitor_filter_add_match_subsystem_devtype(m->mon, "pci", NULL);
	if (r >= 0)
		r = udev_monitor_filter_add_match_subsystem_devtype(m->mon, "net", NULL);
	if (r >= 0)
		r = udev_monitor_enable_receiving(m->mon);
	if (r < 0)
		goto fail;
	/* Disabling SR-IOV removes many devices at once; ask for room (best effort). */
	(void)udev_monitor_set_receive_buffer_size(m->mon, 4 * 1024 * 1024);
	fd = udev_monitor_get_fd(m->mon);
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	*ret = m;
	return 0;
fail:
	sriov_monitor_free(m);
	return r < 0 ? r : -EIO;
}

SriovMonitor *sriov_monitor_free(SriovMonitor *m)
{
	if (!m)
		return NULL;
	udev_monitor_unref(m->mon);
	udev_unref(m->udev);
	free(m);
	return NULL;
}

int sriov_monitor_get_fd(const SriovMonitor *m)
{
	return udev_monitor_get_fd(m->mon);
}

int sriov_monitor_process(SriovMonitor *m)
{
	struct udev_device *d;
	int n = 0;

	/* NULL: nothing pending (or an unparsable message, which is dropped). */
	while ((d = udev_monitor_receive_device(m->mon))) {
		SriovUevent ev = {
			.action = udev_device_get_action(d),
			.subsystem = udev_device_get_subsystem(d),
			.sysname = udev_device_get_sysname(d),
		};

		if (ev.action && ev.subsystem && ev.sysname && m->fn) {
			m->fn(m, &ev, m->userdata);
			n++;
		}
		udev_device_unref(d);
	}
	return n;
}
