#pragma once

/*
 * SR-IOV without netlink: PF/VF discovery in sysfs, VF pools with exclusive,
 * persistent allocation records, vfio-pci binding, and a udev monitor for
 * PFs and VFs that go away.
 *
 * Every function that touches sysfs takes its root ("/sys" when NULL), so
 * that unit tests can point it at a fake tree.
 */

#include <stdbool.h>
#include <stddef.h>

#define SRIOV_SYSFS_DEFAULT "/sys"
#define SRIOV_BDF_MAX	    16 /* "0000:01:10.0" */
#define SRIOV_IFNAME_MAX    16
#define SRIOV_DRIVER_MAX    64

/* Why something failed, for the caller to log; names the object and file. */
typedef struct SriovError {
	char message[384];
} SriovError;

/* ---- discovery ---- */

typedef struct SriovPf {
	char bdf[SRIOV_BDF_MAX];
	char ifname[SRIOV_IFNAME_MAX]; /* "" when it has no netdev */
	char driver[SRIOV_DRIVER_MAX]; /* "" when unbound */
	unsigned total_vfs;
	unsigned num_vfs;
	int iommu_group; /* -1 when none */
} SriovPf;

typedef struct SriovVf {
	char pf_bdf[SRIOV_BDF_MAX];
	char pf_ifname[SRIOV_IFNAME_MAX];
	unsigned index;
	char bdf[SRIOV_BDF_MAX];
	char ifname[SRIOV_IFNAME_MAX];		/* "" when not bound to a net driver */
	char driver[SRIOV_DRIVER_MAX];		/* "" when unbound */
	char driver_override[SRIOV_DRIVER_MAX]; /* "" when none */
	int iommu_group;			/* -1 when none */
} SriovVf;

/* Whether @s looks like a PCI address "DDDD:BB:DD.F". */
bool sriov_is_bdf(const char *s);

/* @name: netdev name or PCI address. -ENODEV: no such device; -ENOTSUP: no SR-IOV. */
int sriov_pf_find(const char *sysfs, const char *name, SriovPf *ret, SriovError *err);
/* -ENOENT when the PF has no VF @index (not enabled). */
int sriov_vf_find(const char *sysfs, const SriovPf *pf, unsigned index, SriovVf *ret,
		  SriovError *err);
/* Reads a PCI device's bound driver; "" when none. */
int sriov_device_get_driver(const char *sysfs, const char *bdf, char *buf, size_t size);

/*
 * Sets sriov_numvfs (through 0 when changing a non-zero count), with
 * sriov_drivers_autoprobe set to @autoprobe first.
 */
int sriov_pf_set_num_vfs(const char *sysfs, const SriovPf *pf, unsigned n, bool autoprobe,
			 SriovError *err);

/* ---- vfio-pci binding ---- */

/*
 * Binds @bdf to vfio-pci (driver_override, unbind, drivers_probe) and checks
 * that its IOMMU group is viable; *@group gets the group number.
 * -EBUSY names the group member that holds it; -ENODEV: no IOMMU group.
 */
int sriov_vfio_bind(const char *sysfs, const char *bdf, int *group, SriovError *err);
/* Every member of @bdf's group bound to vfio-pci or to no driver: 0, or -EBUSY. */
int sriov_iommu_group_check(const char *sysfs, const char *bdf, int *group, SriovError *err);
/*
 * Undoes a binding: driver_override back to @override ("" clears it),
 * unbind, re-probe, and check the device ends up on @driver ("" = none).
 */
int sriov_driver_restore(const char *sysfs, const char *bdf, const char *driver,
			 const char *override, SriovError *err);

/* ---- pools ---- */

typedef enum SriovPoolDriver {
	SRIOV_POOL_VFIO,
	SRIOV_POOL_EMULATED, /* emulated QEMU NICs: development, demos, CI */
	_SRIOV_POOL_DRIVER_MAX,
} SriovPoolDriver;

int sriov_pool_driver_from_string(const char *s);

typedef struct SriovRange {
	unsigned first, last; /* VF indexes, inclusive */
} SriovRange;

typedef struct SriovPoolConfig {
	const char *name; /* [A-Za-z0-9_.-]+ */
	SriovPoolDriver driver;
	const char *const *pfs; /* vfio: netdev names or PCI addresses */
	size_t n_pfs;
	const SriovRange *ranges; /* vfio: VF indexes to use; none = all */
	size_t n_ranges;
	const char *model; /* emulated: QEMU device, default "e1000e" */
	unsigned size;	   /* emulated: number of slots emu0..emuN-1 */
	const char *state_dir;
	const char *sysfs; /* NULL = "/sys" */
} SriovPoolConfig;

typedef enum SriovAllocState {
	SRIOV_ALLOC_RESERVING, /* handed out, not yet ready: unfinished if found at start */
	SRIOV_ALLOC_RESERVED,
	SRIOV_ALLOC_RELEASING, /* release begun: unfinished if found at start */
	SRIOV_ALLOC_GONE,      /* the VF disappeared; see reason */
	_SRIOV_ALLOC_STATE_MAX,
} SriovAllocState;

const char *sriov_alloc_state_to_string(SriovAllocState s);
int sriov_alloc_state_from_string(const char *s);

typedef struct SriovQemuProp {
	char name[16];
	char value[SRIOV_BDF_MAX];
} SriovQemuProp;

/* One VF (or emulated slot) handed out, persisted under STATE_DIR/alloc/. */
typedef struct SriovAlloc {
	char pool[64];
	char id[80]; /* the VF's PCI address, or the emulated slot "emuN" */
	char owner[128];
	SriovAllocState state;
	char reason[256];
	bool emulated;
	/* vfio only */
	char pf_bdf[SRIOV_BDF_MAX];
	char pf_ifname[SRIOV_IFNAME_MAX];
	unsigned vf_index;
	/* The primary's QEMU device: driver plus these properties. */
	char qemu_driver[32];
	SriovQemuProp props[2];
	size_t n_props;
} SriovAlloc;

typedef struct SriovPool SriovPool;

/*
 * Creates a pool and loads its allocation records, so that a restarted
 * daemon knows every owner. A corrupted record is an error naming the file.
 */
int sriov_pool_new(SriovPool **ret, const SriovPoolConfig *config, SriovError *err);
SriovPool *sriov_pool_free(SriovPool *p);

const char *sriov_pool_get_name(const SriovPool *p);
SriovPoolDriver sriov_pool_get_driver(const SriovPool *p);
const char *sriov_pool_get_sysfs(const SriovPool *p);

/*
 * Exclusively takes the first free VF (PFs in order, VF indexes ascending)
 * and records it for @owner in state RESERVING. -ENOSPC: "pool exhausted".
 * Exclusive across pools and processes sharing the state directory.
 */
int sriov_pool_reserve(SriovPool *p, const char *owner, SriovAlloc **ret, SriovError *err);
/* Persists a new state (and reason, may be NULL) of @a. */
int sriov_pool_set_state(SriovPool *p, SriovAlloc *a, SriovAllocState state, const char *reason,
			 SriovError *err);
/* Forgets @a: deletes its record and frees it. */
int sriov_pool_release(SriovPool *p, SriovAlloc *a, SriovError *err);

size_t sriov_pool_get_n_allocs(const SriovPool *p);
SriovAlloc *sriov_pool_get_alloc(const SriovPool *p, size_t i);
SriovAlloc *sriov_pool_find(const SriovPool *p, const char *id);
SriovAlloc *sriov_pool_find_owner(const SriovPool *p, const char *owner);

/* Members the pool could hand out now (enabled VFs in range, or slots). */
int sriov_pool_count(const SriovPool *p, unsigned *total, unsigned *free_);

/*
 * Checks that every held VF still exists where it was; those that do not
 * are marked GONE with a reason, persisted, and passed to @fn.
 * Returns the number of allocations newly marked.
 */
typedef void (*SriovGoneFn)(SriovPool *p, SriovAlloc *a, void *userdata);
int sriov_pool_recheck(SriovPool *p, SriovGoneFn fn, void *userdata);

/* ---- udev monitor ---- */

typedef struct SriovUevent {
	const char *action;    /* add, remove, change, bind, unbind, ... */
	const char *subsystem; /* pci, net */
	const char *sysname;   /* PCI address or netdev name */
} SriovUevent;

typedef struct SriovMonitor SriovMonitor;
typedef void (*SriovMonitorFn)(SriovMonitor *m, const SriovUevent *ev, void *userdata);

/*
 * Listens to pci and net device events. @source: "kernel" (raw uevents,
 * no udevd needed; the default when NULL) or "udev".
 */
int sriov_monitor_new(SriovMonitor **ret, const char *source, SriovMonitorFn fn, void *userdata);
SriovMonitor *sriov_monitor_free(SriovMonitor *m);
/* Non-blocking; readable when events are pending. */
int sriov_monitor_get_fd(const SriovMonitor *m);
/* Handles every pending event; returns how many were passed on. */
int sriov_monitor_process(SriovMonitor *m);

/* Whether @ev can concern @p's allocations (then call sriov_pool_recheck()). */
bool sriov_pool_wants_uevent(const SriovPool *p, const SriovUevent *ev);

static inline void sriov_pool_freep(SriovPool **p)
{
	sriov_pool_free(*p);
}
static inline void sriov_monitor_freep(SriovMonitor **m)
{
	sriov_monitor_free(*m);
}

/*
 * mkdir -p with @mode for every directory it creates: the pools' records
 * and the daemon's state directory, one implementation for both.
 */
int sriov_mkdir_p(const char *path, unsigned mode);
