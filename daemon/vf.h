#pragma once

/*
 * VF pools as the daemon uses them: sriov/ (who holds which VF, vfio
 * binding) and netlink/ (VF settings) put together.
 *
 *   reserve: take a VF → save its original state → program it → bind vfio-pci
 *   release: restore the settings → give it back to its host driver →
 *            delete the save file → forget the allocation
 *
 * A save file at STATE_DIR/saved/<VF address> exists from before the first
 * change until the release is complete; with an allocation record that says
 * "reserving" or "releasing" (or none at all) it marks an unfinished job
 * that vf_pool_recover() completes at start-up.
 *
 * Emulated pools hand out emulated NICs through the same calls.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netlink/nlvf.h"
#include "sriov/sriov.h"

/* The original state of a VF, as written to its save file. */
typedef struct VfSaved {
	char pool[64];
	char vf[SRIOV_BDF_MAX]; /* PCI address */
	char pf[SRIOV_IFNAME_MAX];
	char pf_bdf[SRIOV_BDF_MAX];
	unsigned index;
	char driver[SRIOV_DRIVER_MAX]; /* "" = no driver */
	char driver_override[SRIOV_DRIVER_MAX];
	NlVfConfig config; /* .set: the settings the driver reported */
} VfSaved;

int vf_saved_write(const char *path, const VfSaved *s);
/* Strict: unknown, repeated, missing or malformed keys are -EBADMSG naming the file. */
int vf_saved_read(const char *path, VfSaved *s, char *err, size_t size);

typedef struct VfPool VfPool;

/* @settings: the pool's [SR-IOV] settings, applied on every reservation. */
int vf_pool_new(VfPool **ret, const SriovPoolConfig *config, const NlVfConfig *settings, char *err,
		size_t size);
VfPool *vf_pool_free(VfPool *p);
SriovPool *vf_pool_get_sriov(VfPool *p);
/* Called after each durable step of a reservation: reserved, saved, programmed, bound. */
typedef void (*VfCheckpointFn)(const char *point, void *userdata);
void vf_pool_set_checkpoint(VfPool *p, VfCheckpointFn fn, void *userdata);

/*
 * Reserves a VF for @owner and makes it ready for QEMU: programmed with the
 * pool's settings plus @mac (NULL: none), bound to vfio-pci, IOMMU group
 * viable. On failure nothing is left changed. The returned allocation
 * (owned by the pool) names the primary's QEMU driver and properties.
 */
int vf_pool_reserve(VfPool *p, const char *owner, const uint8_t *mac, SriovAlloc **ret, char *err,
		    size_t size);

/*
 * Gives @a back: original settings and driver restored and verified. On
 * failure the allocation stays, marked "releasing", for a later retry.
 */
int vf_pool_release(VfPool *p, SriovAlloc *a, char *err, size_t size);

/*
 * Start-up: completes unfinished reservations and releases, restores VFs
 * whose save file has no allocation, and releases reserved VFs whose owner
 * @alive says is gone (@alive NULL: keep them). Returns how many were
 * released; the first error is reported but does not stop the others.
 */
typedef bool (*VfOwnerAliveFn)(const char *owner, void *userdata);
int vf_pool_recover(VfPool *p, VfOwnerAliveFn alive, void *userdata, char *err, size_t size);

/* A udev event: allocations whose VF vanished are marked gone, with a reason. */
int vf_pool_handle_uevent(VfPool *p, const SriovUevent *ev, SriovGoneFn fn, void *userdata);

static inline void vf_pool_freep(VfPool **p)
{
	vf_pool_free(*p);
}
