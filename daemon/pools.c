/* The set of VF pools, their udev monitor, and acquire/release by owner. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pools.h"
#include "daemon/vf.h"

typedef struct PoolEntry PoolEntry;
struct PoolEntry {
	PoolEntry *next;
	char name[65];
	char driver[32]; /* the primary's QEMU driver */
	VfPool *pool;
};

struct Pools {
	PoolEntry *list;
	SriovMonitor *monitor;
	struct event *ev_monitor;
	struct event_base *base;
	const Log *log;
	PoolsOps ops;
	void *ud;
};

static PoolEntry *pools_find(const Pools *ps, const char *name)
{
	for (PoolEntry *e = ps->list; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static PoolEntry *pool_entry_free(PoolEntry *e)
{
	if (!e)
		return NULL;
	vf_pool_free(e->pool);
	free(e);
	return NULL;
}

int pools_new(Pools **out, struct event_base *base, const Log *log, const PoolsOps *ops, void *ud)
{
	Pools *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -ENOMEM;
	ps->base = base;
	ps->log = log;
	ps->ops = *ops;
	ps->ud = ud;
	*out = ps;
	return 0;
}

Pools *pools_free(Pools *ps)
{
	if (!ps)
		return NULL;
	if (ps->ev_monitor)
		event_free(ps->ev_monitor);
	sriov_monitor_free(ps->monitor);
	while (ps->list) {
		PoolEntry *e = ps->list;

		ps->list = e->next;
		pool_entry_free(e);
	}
	free(ps);
	return NULL;
}

static void pools_on_checkpoint(const char *point, void *ud)
{
	Pools *ps = ud;

	if (ps->ops.checkpoint)
		ps->ops.checkpoint(point, ps->ud);
}

int pools_add(Pools *ps, const SriovPoolConfig *config, const NlVfConfig *settings)
{
	PoolEntry *e;
	char err[512] = "";
	int r;

	if (pools_find(ps, config->name))
		return -EEXIST;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	snprintf(e->name, sizeof(e->name), "%s", config->name);
	if (config->driver == SRIOV_POOL_EMULATED)
		snprintf(e->driver, sizeof(e->driver), "%s",
			 config->model && config->model[0] ? config->model : "e1000e");
	else
		snprintf(e->driver, sizeof(e->driver), "vfio-pci");
	r = vf_pool_new(&e->pool, config, settings, err, sizeof(err));
	if (r < 0) {
		log_error(ps->log, "pool %s: %s", config->name, err);
		free(e);
		return r;
	}
	vf_pool_set_checkpoint(e->pool, pools_on_checkpoint, ps);
	e->next = ps->list;
	ps->list = e;
	return 0;
}

int pools_remove(Pools *ps, const char *name)
{
	for (PoolEntry **e = &ps->list; *e; e = &(*e)->next)
		if (strcmp((*e)->name, name) == 0) {
			PoolEntry *dead = *e;

			*e = dead->next;
			pool_entry_free(dead);
			return 0;
		}
	return -ENOENT;
}

bool pools_has(const Pools *ps, const char *name)
{
	return pools_find(ps, name) != NULL;
}

const char *pools_get_driver(const Pools *ps, const char *name)
{
	PoolEntry *e = pools_find(ps, name);

	return e ? e->driver : NULL;
}

size_t pools_get_n(const Pools *ps)
{
	size_t n = 0;

	for (PoolEntry *e = ps->list; e; e = e->next)
		n++;
	return n;
}

int pools_get_info(const Pools *ps, size_t index, PoolInfo *info)
{
	PoolEntry *e = ps->list;

	while (e && index--)
		e = e->next;
	if (!e)
		return -ENOENT;
	info->name = e->name;
	info->driver = e->driver;
	info->emulated = sriov_pool_get_driver(vf_pool_get_sriov(e->pool)) == SRIOV_POOL_EMULATED;
	sriov_pool_count(vf_pool_get_sriov(e->pool), &info->total, &info->free);
	return 0;
}

int pools_acquire(Pools *ps, const char *pool, const char *owner, const uint8_t mac[6], PairVf *vf,
		  char *err, size_t size)
{
	PoolEntry *e = pools_find(ps, pool);
	SriovAlloc *a;
	int r;

	if (!e) {
		snprintf(err, size, "pool %s is not configured", pool);
		return -ENOENT;
	}
	/* Still ours from before a restart: take it back instead of a second one. */
	a = sriov_pool_find_owner(vf_pool_get_sriov(e->pool), owner);
	if (!a || a->state != SRIOV_ALLOC_RESERVED) {
		r = vf_pool_reserve(e->pool, owner, mac, &a, err, size);
		if (r < 0)
			return r;
	}
	memset(vf, 0, sizeof(*vf));
	snprintf(vf->id, sizeof(vf->id), "%s", a->id);
	snprintf(vf->driver, sizeof(vf->driver), "%s", a->qemu_driver);
	vf->emulated = a->emulated;
	return 0;
}

int pools_release(Pools *ps, const char *pool, const char *vf, char *err, size_t size)
{
	PoolEntry *e = pools_find(ps, pool);
	SriovAlloc *a;

	if (!e) {
		snprintf(err, size, "pool %s is not configured", pool);
		return -ENOENT;
	}
	a = sriov_pool_find(vf_pool_get_sriov(e->pool), vf);
	if (!a)
		return 0; /* already given back (e.g. by recovery) */
	return vf_pool_release(e->pool, a, err, size);
}

bool pools_owns(const Pools *ps, const char *pool, const char *vf, const char *owner)
{
	PoolEntry *e = pools_find(ps, pool);
	SriovAlloc *a = e ? sriov_pool_find(vf_pool_get_sriov(e->pool), vf) : NULL;

	return a && strcmp(a->owner, owner) == 0;
}

int pools_vf_location(const Pools *ps, const char *pool, const char *vf, char *pf, size_t size,
		      unsigned *index)
{
	PoolEntry *e = pools_find(ps, pool);
	SriovAlloc *a = e ? sriov_pool_find(vf_pool_get_sriov(e->pool), vf) : NULL;

	if (!a)
		return -ENOENT;
	if (a->emulated || !a->pf_ifname[0])
		return -EOPNOTSUPP;
	snprintf(pf, size, "%s", a->pf_ifname);
	*index = a->vf_index;
	return 0;
}

static bool pools_owner_alive(const char *owner, void *ud)
{
	Pools *ps = ud;

	return ps->ops.owner_alive && ps->ops.owner_alive(owner, ps->ud);
}

void pools_recover(Pools *ps)
{
	for (PoolEntry *e = ps->list; e; e = e->next) {
		char err[512] = "";
		int r = vf_pool_recover(e->pool, pools_owner_alive, ps, err, sizeof(err));

		if (r < 0)
			log_error(ps->log, "pool %s: recovery: %s", e->name, err);
		else if (r > 0)
			log_notice(ps->log,
				   "pool %s: released %d VF(s) left over by a previous run",
				   e->name, r);
	}
}

static void pools_on_vf_gone(SriovPool *pool, SriovAlloc *a, void *ud)
{
	Pools *ps = ud;

	log_warning(ps->log, "pool %s: VF %s of %s is gone: %s", sriov_pool_get_name(pool), a->id,
		    a->owner, a->reason);
	if (ps->ops.vf_gone)
		ps->ops.vf_gone(a->owner, a->reason, ps->ud);
}

static void pools_on_uevent(SriovMonitor *mon, const SriovUevent *ev, void *ud)
{
	Pools *ps = ud;

	for (PoolEntry *e = ps->list; e; e = e->next)
		vf_pool_handle_uevent(e->pool, ev, pools_on_vf_gone, ps);
}

static void pools_on_monitor(evutil_socket_t fd, short what, void *ud)
{
	Pools *ps = ud;

	sriov_monitor_process(ps->monitor);
}

int pools_start_monitor(Pools *ps)
{
	bool need = false;
	int r;

	/* Only vfio pools have hardware that can vanish under us. */
	for (PoolEntry *e = ps->list; e; e = e->next)
		need = need || sriov_pool_get_driver(vf_pool_get_sriov(e->pool)) == SRIOV_POOL_VFIO;
	if (!need || ps->monitor)
		return 0;
	r = sriov_monitor_new(&ps->monitor, NULL, pools_on_uevent, ps);
	if (r < 0)
		return r;
	ps->ev_monitor = event_new(ps->base, sriov_monitor_get_fd(ps->monitor),
				   EV_READ | EV_PERSIST, pools_on_monitor, ps);
	if (!ps->ev_monitor)
		return -ENOMEM;
	event_add(ps->ev_monitor, NULL);
	return 0;
}
