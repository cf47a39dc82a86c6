#pragma once

/*
 * The configured pools by name (each a VfPool, daemon/vf.h), the udev
 * monitor that sees their VFs vanish, and VFs acquired and released for an
 * owner ("INSTANCE/PAIR"). Values in, values out: nothing here knows a pair
 * or an instance; what the pools have to say goes up through PoolsOps.
 */

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/log.h"
#include "daemon/pair.h"
#include "netlink/nlvf.h"
#include "sriov/sriov.h"

typedef struct Pools Pools;

typedef struct PoolsOps {
	/* Recovery: does @owner still exist (then its own state decides what to do)? */
	bool (*owner_alive)(const char *owner, void *ud);
	/* A VF @owner holds is gone from the host (PF removed, sriov_numvfs changed). */
	void (*vf_gone)(const char *owner, const char *reason, void *ud);
	/* A --debug-stop-at point inside a VF step was reached. */
	void (*checkpoint)(const char *point, void *ud);
} PoolsOps;

typedef struct PoolInfo {
	const char *name;
	const char *driver; /* the primary's QEMU driver: vfio-pci, e1000e, ... */
	bool emulated;
	unsigned total, free;
} PoolInfo;

int pools_new(Pools **out, struct event_base *base, const Log *log, const PoolsOps *ops, void *ud);
Pools *pools_free(Pools *ps);

/* -EEXIST when the name is taken; other failures are logged with the pool's name. */
int pools_add(Pools *ps, const SriovPoolConfig *config, const NlVfConfig *settings);
/* The caller checks that no pair holds one of its VFs. */
int pools_remove(Pools *ps, const char *name);
bool pools_has(const Pools *ps, const char *name);
/* The primary's QEMU driver for pool @name, NULL when there is no such pool. */
const char *pools_get_driver(const Pools *ps, const char *name);
size_t pools_get_n(const Pools *ps);
int pools_get_info(const Pools *ps, size_t index, PoolInfo *info);

/* The VF @owner holds from before a restart, or a new one programmed with @mac. */
int pools_acquire(Pools *ps, const char *pool, const char *owner, const uint8_t mac[6], PairVf *vf,
		  char *err, size_t size);
/* Gives @vf back (restored, rebound); 0 when it is not held any more. */
int pools_release(Pools *ps, const char *pool, const char *vf, char *err, size_t size);
/* Does the pool's allocation record give @vf to @owner? (Not a state file: the record.) */
bool pools_owns(const Pools *ps, const char *pool, const char *vf, const char *owner);

/* Where VF @vf of @pool is: its PF's netdev and its index there; -EOPNOTSUPP when emulated. */
int pools_vf_location(const Pools *ps, const char *pool, const char *vf, char *pf, size_t size,
		      unsigned *index);

/* Start-up: finish what a killed daemon left half done, free VFs nobody owns. */
void pools_recover(Pools *ps);
/* Watches udev for vanishing VFs, when a vfio pool has hardware that can vanish. */
int pools_start_monitor(Pools *ps);
