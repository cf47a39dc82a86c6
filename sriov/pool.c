/*
 * VF pools: which VFs (or emulated slots) a pool may hand out, and who holds
 * which. Every allocation is a file STATE_DIR/alloc/<VF address> (emulated:
 * <pool>@emuN) created with link(), so that two pools or two processes
 * sharing the state directory can never hand out the same VF.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sriov/sriov-internal.h"

struct SriovPool {
	char *name;
	SriovPoolDriver driver;
	char **pfs;
	size_t n_pfs;
	SriovRange *ranges;
	size_t n_ranges;
	char *model;
	unsigned size;
	char *sysfs;
	char *state_dir;
	char *alloc_dir;
	SriovAlloc **allocs;
	size_t n_allocs;
};

static const char *const driver_names[_SRIOV_POOL_DRIVER_MAX] = {
	[SRIOV_POOL_VFIO] = "vfio",
	[SRIOV_POOL_EMULATED] = "emulated",
};

static const char *const state_names[_SRIOV_ALLOC_STATE_MAX] = {
	[SRIOV_ALLOC_RESERVING] = "reserving",
	[SRIOV_ALLOC_RESERVED] = "reserved",
	[SRIOV_ALLOC_RELEASING] = "releasing",
	[SRIOV_ALLOC_GONE] = "gone",
};

int sriov_pool_driver_from_string(const char *s)
{
	for (int i = 0; i < _SRIOV_POOL_DRIVER_MAX; i++)
		if (strcmp(driver_names[i], s) == 0)
			return i;
	return -EINVAL;
}

const char *sriov_alloc_state_to_string(SriovAllocState s)
{
	return (unsigned)s < _SRIOV_ALLOC_STATE_MAX ? state_names[s] : NULL;
}

int sriov_alloc_state_from_string(const char *s)
{
	for (int i = 0; i < _SRIOV_ALLOC_STATE_MAX; i++)
		if (strcmp(state_names[i], s) == 0)
			return i;
	return -EINVAL;
}

static bool valid_pool_name(const char *s)
{
	if (!s || !*s || strlen(s) >= 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static bool valid_owner(const char *s)
{
	if (!s || !*s || strlen(s) >= sizeof(((SriovAlloc *)0)->owner))
		return false;
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			return false;
	return true;
}

static void alloc_fill_qemu(const SriovPool *p, SriovAlloc *a)
{
	if (a->emulated) {
		/* An emulated primary: no ROM, no netdev (docs/qemu-failover.md §emulated). */
		snprintf(a->qemu_driver, sizeof(a->qemu_driver), "%s", p->model);
		snprintf(a->props[0].name, sizeof(a->props[0].name), "romfile");
		a->props[0].value[0] = 0;
	} else {
		snprintf(a->qemu_driver, sizeof(a->qemu_driver), "vfio-pci");
		snprintf(a->props[0].name, sizeof(a->props[0].name), "host");
		snprintf(a->props[0].value, sizeof(a->props[0].value), "%s", a->id);
	}
	a->n_props = 1;
}

static int alloc_path(const SriovPool *p, const SriovAlloc *a, char *buf, size_t size)
{
	int n;

	if (a->emulated)
		n = snprintf(buf, size, "%s/%s@%s", p->alloc_dir, a->pool, a->id);
	else
		n = snprintf(buf, size, "%s/%s", p->alloc_dir, a->id);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int alloc_write(const SriovPool *p, const SriovAlloc *a, bool exclusive)
{
	char path[4096], vf[16];
	SriovKv kv[9];
	size_t n = 0;
	int r;

	r = alloc_path(p, a, path, sizeof(path));
	if (r < 0)
		return r;
	kv[n++] = (SriovKv){ "pool", a->pool };
	kv[n++] = (SriovKv){ "id", a->id };
	kv[n++] = (SriovKv){ "driver", a->emulated ? "emulated" : "vfio" };
	kv[n++] = (SriovKv){ "owner", a->owner };
	kv[n++] = (SriovKv){ "state", sriov_alloc_state_to_string(a->state) };
	if (a->reason[0])
		kv[n++] = (SriovKv){ "reason", a->reason };
	if (!a->emulated) {
		snprintf(vf, sizeof(vf), "%u", a->vf_index);
		kv[n++] = (SriovKv){ "pf_bdf", a->pf_bdf };
		kv[n++] = (SriovKv){ "pf", a->pf_ifname };
		kv[n++] = (SriovKv){ "vf", vf };
	}
	return sriov_kv_write(path, kv, n, exclusive);
}

/* ---- strict parsing of a record ---- */

typedef struct RecordParse {
	SriovAlloc *a;
	unsigned seen;
	bool bad_value;
	char bad_key[32];
} RecordParse;

typedef int (*FieldFn)(SriovAlloc *a, const char *value);

static int copy_field(char *dst, size_t size, const char *value)
{
	if (strlen(value) >= size)
		return -EBADMSG;
	strcpy(dst, value);
	return 0;
}

static int f_pool(SriovAlloc *a, const char *v)
{
	return valid_pool_name(v) ? copy_field(a->pool, sizeof(a->pool), v) : -EBADMSG;
}
static int f_id(SriovAlloc *a, const char *v)
{
	return *v && !strchr(v, '/') ? copy_field(a->id, sizeof(a->id), v) : -EBADMSG;
}
static int f_driver(SriovAlloc *a, const char *v)
{
	int d = sriov_pool_driver_from_string(v);

	if (d < 0)
		return -EBADMSG;
	a->emulated = d == SRIOV_POOL_EMULATED;
	return 0;
}
static int f_owner(SriovAlloc *a, const char *v)
{
	return valid_owner(v) ? copy_field(a->owner, sizeof(a->owner), v) : -EBADMSG;
}
static int f_state(SriovAlloc *a, const char *v)
{
	int s = sriov_alloc_state_from_string(v);

	if (s < 0)
		return -EBADMSG;
	a->state = (SriovAllocState)s;
	return 0;
}
static int f_reason(SriovAlloc *a, const char *v)
{
	return copy_field(a->reason, sizeof(a->reason), v);
}
static int f_pf_bdf(SriovAlloc *a, const char *v)
{
	return sriov_is_bdf(v) ? copy_field(a->pf_bdf, sizeof(a->pf_bdf), v) : -EBADMSG;
}
static int f_pf(SriovAlloc *a, const char *v)
{
	return copy_field(a->pf_ifname, sizeof(a->pf_ifname), v);
}
static int f_vf(SriovAlloc *a, const char *v)
{
	char *end;
	unsigned long n;

	if (*v < '0' || *v > '9')
		return -EBADMSG;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n > 65535)
		return -EBADMSG;
	a->vf_index = (unsigned)n;
	return 0;
}

enum {
	K_POOL,
	K_ID,
	K_DRIVER,
	K_OWNER,
	K_STATE,
	K_REASON,
	K_PF_BDF,
	K_PF,
	K_VF,
	_K_MAX,
};

static const struct {
	const char *key;
	FieldFn fn;
} record_fields[_K_MAX] = {
	[K_POOL] = { "pool", f_pool },
	[K_ID] = { "id", f_id },
	[K_DRIVER] = { "driver", f_driver },
	[K_OWNER] = { "owner", f_owner },
	[K_STATE] = { "state", f_state },
	[K_REASON] = { "reason", f_reason },
	[K_PF_BDF] = { "pf_bdf", f_pf_bdf },
	[K_PF] = { "pf", f_pf },
	[K_VF] = { "vf", f_vf },
};

#define REQUIRED_COMMON                                                                            \
	((1u << K_POOL) | (1u << K_ID) | (1u << K_DRIVER) | (1u << K_OWNER) | (1u << K_STATE))
#define REQUIRED_VFIO (REQUIRED_COMMON | (1u << K_PF_BDF) | (1u << K_PF) | (1u << K_VF))

static int record_field(const char *key, const char *value, void *userdata)
{
	RecordParse *rp = userdata;

	for (unsigned i = 0; i < _K_MAX; i++) {
		if (strcmp(record_fields[i].key, key) != 0)
			continue;
		if (rp->seen & (1u << i) || record_fields[i].fn(rp->a, value) < 0) {
			rp->bad_value = true;
			snprintf(rp->bad_key, sizeof(rp->bad_key), "%s", key);
			return -EBADMSG;
		}
		rp->seen |= 1u << i;
		return 0;
	}
	rp->bad_value = true;
	snprintf(rp->bad_key, sizeof(rp->bad_key), "%.31s", key);
	return -EBADMSG;
}

static int record_load(const char *path, const char *file, SriovAlloc *a, SriovError *err)
{
	RecordParse rp = { .a = a };
	unsigned line = 0;
	int r;

	memset(a, 0, sizeof(*a));
	r = sriov_kv_read(path, record_field, &rp, &line);
	if (r == -EBADMSG) {
		if (rp.bad_value)
			sriov_error_set(
				err,
				"allocation record %s is corrupted: bad or repeated %s= (line %u)",
				path, rp.bad_key, line);
		else
			sriov_error_set(err, "allocation record %s is corrupted (line %u)", path,
					line);
		return r;
	}
	if (r < 0) {
		sriov_error_set(err, "cannot read allocation record %s: %s", path, strerror(-r));
		return r;
	}
	if ((rp.seen & REQUIRED_COMMON) != REQUIRED_COMMON ||
	    (!a->emulated && (rp.seen & REQUIRED_VFIO) != REQUIRED_VFIO)) {
		sriov_error_set(err, "allocation record %s is corrupted: a required key is missing",
				path);
		return -EBADMSG;
	}
	/* An emulated slot has no PF: such keys mean the record is not what it says. */
	if (a->emulated && (rp.seen & (REQUIRED_VFIO & ~REQUIRED_COMMON))) {
		sriov_error_set(err,
				"allocation record %s is corrupted: PF keys in an emulated record",
				path);
		return -EBADMSG;
	}
	/* The file name is the lock: it must agree with the content. */
	{
		char expect[160];

		if (a->emulated)
			snprintf(expect, sizeof(expect), "%s@%s", a->pool, a->id);
		else
			snprintf(expect, sizeof(expect), "%s", a->id);
		if (strcmp(expect, file) != 0 || (!a->emulated && !sriov_is_bdf(a->id))) {
			sriov_error_set(err, "allocation record %s is corrupted: it describes %s",
					path, expect);
			return -EBADMSG;
		}
	}
	return 0;
}

static int pool_add(SriovPool *p, SriovAlloc *a)
{
	SriovAlloc **n = realloc(p->allocs, (p->n_allocs + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	p->allocs = n;
	p->allocs[p->n_allocs++] = a;
	return 0;
}

/*
 * Whether the record named @file can be one of @p's, by its name alone
 * (record_load() holds names to their content): every pool shares the
 * directory, and reading each of 10,000 records once per pool made start-up
 * quadratic (docs/performance.md, "Ten thousand instances").
 */
static bool pool_may_own(const SriovPool *p, const char *file)
{
	size_t n = strlen(p->name);

	if (p->driver == SRIOV_POOL_EMULATED)
		return strncmp(file, p->name, n) == 0 && file[n] == '@';
	return strchr(file, '@') == NULL;
}

static int pool_load(SriovPool *p, SriovError *err)
{
	struct dirent *de;
	char path[4096];
	int r = 0;
	DIR *d;

	d = opendir(p->alloc_dir);
	if (!d) {
		r = -errno;
		sriov_error_set(err, "cannot open %s: %s", p->alloc_dir, strerror(-r));
		return r;
	}
	while ((de = readdir(d))) {
		SriovAlloc *a;

		if (de->d_name[0] == '.' || !pool_may_own(p, de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", p->alloc_dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		a = calloc(1, sizeof(*a));
		if (!a) {
			r = -ENOMEM;
			break;
		}
		r = record_load(path, de->d_name, a, err);
		if (r < 0 || strcmp(a->pool, p->name) != 0) {
			free(a);
			if (r < 0)
				break;
			continue;
		}
		alloc_fill_qemu(p, a);
		r = pool_add(p, a);
		if (r < 0) {
			free(a);
			break;
		}
	}
	closedir(d);
	return r;
}

static char *strdup_or(const char *s, const char *def)
{
	return strdup(s ? s : def);
}

int sriov_pool_new(SriovPool **ret, const SriovPoolConfig *c, SriovError *err)
{
	SriovPool *p;
	char buf[4096];
	int r;

	if (!valid_pool_name(c->name)) {
		sriov_error_set(err, "invalid pool name \"%s\"", c->name ? c->name : "");
		return -EINVAL;
	}
	if ((unsigned)c->driver >= _SRIOV_POOL_DRIVER_MAX) {
		sriov_error_set(err, "pool %s: invalid driver", c->name);
		return -EINVAL;
	}
	if (!c->state_dir || c->state_dir[0] != '/') {
		sriov_error_set(err, "pool %s: the state directory must be an absolute path",
				c->name);
		return -EINVAL;
	}
	if (c->driver == SRIOV_POOL_VFIO && c->n_pfs == 0) {
		sriov_error_set(err, "pool %s: no PhysicalFunction=", c->name);
		return -EINVAL;
	}
	if (c->driver == SRIOV_POOL_EMULATED && (c->size == 0 || c->size > 4096)) {
		sriov_error_set(err, "pool %s: an emulated pool needs a size of 1..4096", c->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_ranges; i++)
		if (c->ranges[i].first > c->ranges[i].last) {
			sriov_error_set(err, "pool %s: VF range %u-%u is empty", c->name,
					c->ranges[i].first, c->ranges[i].last);
			return -EINVAL;
		}

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->driver = c->driver;
	p->size = c->size;
	p->name = strdup(c->name);
	p->model = strdup_or(c->model, "e1000e");
	p->sysfs = strdup_or(c->sysfs, SRIOV_SYSFS_DEFAULT);
	p->state_dir = strdup(c->state_dir);
	snprintf(buf, sizeof(buf), "%s/alloc", c->state_dir);
	p->alloc_dir = strdup(buf);
	p->pfs = calloc(c->n_pfs + 1, sizeof(char *));
	p->ranges = calloc(c->n_ranges + 1, sizeof(SriovRange));
	if (!p->name || !p->model || !p->sysfs || !p->state_dir || !p->alloc_dir || !p->pfs ||
	    !p->ranges) {
		sriov_pool_free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_pfs; i++) {
		p->pfs[i] = strdup(c->pfs[i]);
		if (!p->pfs[i]) {
			sriov_pool_free(p);
			return -ENOMEM;
		}
		p->n_pfs++;
	}
	/* memcpy() from NULL is undefined even for 0 bytes: a pool without ranges. */
	if (c->n_ranges)
		memcpy(p->ranges, c->ranges, c->n_ranges * sizeof(SriovRange));
	p->n_ranges = c->n_ranges;

	r = sriov_mkdir_p(p->alloc_dir, 0700);
	if (r < 0) {
		sriov_error_set(err, "pool %s: cannot create %s: %s", p->name, p->alloc_dir,
				strerror(-r));
		sriov_pool_free(p);
		return r;
	}
	r = pool_load(p, err);
	if (r < 0) {
		sriov_pool_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

SriovPool *sriov_pool_free(SriovPool *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_allocs; i++)
		free(p->allocs[i]);
	free(p->allocs);
	for (size_t i = 0; i < p->n_pfs; i++)
		free(p->pfs[i]);
	free(p->pfs);
	free(p->ranges);
	free(p->name);
	free(p->model);
	free(p->sysfs);
	free(p->state_dir);
	free(p->alloc_dir);
	free(p);
	return NULL;
}

const char *sriov_pool_get_name(const SriovPool *p)
{
	return p->name;
}

SriovPoolDriver sriov_pool_get_driver(const SriovPool *p)
{
	return p->driver;
}

const char *sriov_pool_get_sysfs(const SriovPool *p)
{
	return p->sysfs;
}

size_t sriov_pool_get_n_allocs(const SriovPool *p)
{
	return p->n_allocs;
}

SriovAlloc *sriov_pool_get_alloc(const SriovPool *p, size_t i)
{
	return i < p->n_allocs ? p->allocs[i] : NULL;
}

SriovAlloc *sriov_pool_find(const SriovPool *p, const char *id)
{
	for (size_t i = 0; i < p->n_allocs; i++)
		if (strcmp(p->allocs[i]->id, id) == 0)
			return p->allocs[i];
	return NULL;
}

SriovAlloc *sriov_pool_find_owner(const SriovPool *p, const char *owner)
{
	for (size_t i = 0; i < p->n_allocs; i++)
		if (strcmp(p->allocs[i]->owner, owner) == 0)
			return p->allocs[i];
	return NULL;
}

static bool in_ranges(const SriovPool *p, unsigned idx)
{
	if (p->n_ranges == 0)
		return true;
	for (size_t i = 0; i < p->n_ranges; i++)
		if (idx >= p->ranges[i].first && idx <= p->ranges[i].last)
			return true;
	return false;
}

/* Tries to take @a's record exclusively; 0, -EEXIST when someone holds it. */
static int try_take(SriovPool *p, SriovAlloc *a, SriovAlloc **ret, SriovError *err)
{
	SriovAlloc *n;
	char path[4096];
	int r;

	r = alloc_write(p, a, true);
	if (r == -EEXIST)
		return r;
	if (r < 0) {
		alloc_path(p, a, path, sizeof(path));
		sriov_error_set(err, "pool %s: cannot write allocation record %s: %s", p->name,
				path, strerror(-r));
		return r;
	}
	n = malloc(sizeof(*n));
	if (!n || pool_add(p, n) < 0) {
		free(n);
		alloc_path(p, a, path, sizeof(path));
		unlink(path);
		return -ENOMEM;
	}
	*n = *a;
	*ret = n;
	return 0;
}

static void alloc_init(const SriovPool *p, SriovAlloc *a, const char *owner, bool emulated)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->pool, sizeof(a->pool), "%s", p->name);
	snprintf(a->owner, sizeof(a->owner), "%s", owner);
	a->state = SRIOV_ALLOC_RESERVING;
	a->emulated = emulated;
}

int sriov_pool_reserve(SriovPool *p, const char *owner, SriovAlloc **ret, SriovError *err)
{
	SriovError pf_err = { "" };
	unsigned members = 0, pf_errors = 0;
	SriovAlloc a;
	int r, pf_r = 0;

	if (!valid_owner(owner)) {
		sriov_error_set(err, "pool %s: invalid owner name", p->name);
		return -EINVAL;
	}
	if (p->driver == SRIOV_POOL_EMULATED) {
		for (unsigned i = 0; i < p->size; i++) {
			alloc_init(p, &a, owner, true);
			snprintf(a.id, sizeof(a.id), "emu%u", i);
			/* Known taken: skip it, as for VFs, rather than learn it
			 * from a durable write. */
			if (sriov_pool_find(p, a.id))
				continue;
			alloc_fill_qemu(p, &a);
			r = try_take(p, &a, ret, err);
			if (r != -EEXIST)
				return r;
		}
		sriov_error_set(err, "pool %s exhausted: all %u emulated NICs are allocated",
				p->name, p->size);
		return -ENOSPC;
	}

	for (size_t i = 0; i < p->n_pfs; i++) {
		SriovPf pf;

		r = sriov_pf_find(p->sysfs, p->pfs[i], &pf, &pf_err);
		if (r < 0) {
			/* A missing PF leaves the others usable. */
			pf_errors++;
			pf_r = r;
			continue;
		}
		for (unsigned idx = 0; idx < pf.num_vfs; idx++) {
			SriovVf vf;

			if (!in_ranges(p, idx))
				continue;
			if (sriov_vf_find(p->sysfs, &pf, idx, &vf, NULL) < 0)
				continue;
			members++;
			if (sriov_pool_find(p, vf.bdf))
				continue;
			alloc_init(p, &a, owner, false);
			snprintf(a.id, sizeof(a.id), "%s", vf.bdf);
			snprintf(a.pf_bdf, sizeof(a.pf_bdf), "%s", pf.bdf);
			snprintf(a.pf_ifname, sizeof(a.pf_ifname), "%s", pf.ifname);
			a.vf_index = idx;
			alloc_fill_qemu(p, &a);
			r = try_take(p, &a, ret, err);
			if (r != -EEXIST)
				return r;
		}
	}
	if (members == 0 && pf_errors > 0) {
		sriov_error_set(err, "pool %s has no usable VF: %s", p->name, pf_err.message);
		return pf_r;
	}
	if (members == 0) {
		sriov_error_set(err,
				"pool %s has no VF: SR-IOV is not enabled on its PFs (sriov_numvfs "
				"is 0) or no VF is in its ranges",
				p->name);
		return -ENOSPC;
	}
	sriov_error_set(err, "pool %s exhausted: all %u VFs are allocated", p->name, members);
	return -ENOSPC;
}

int sriov_pool_set_state(SriovPool *p, SriovAlloc *a, SriovAllocState state, const char *reason,
			 SriovError *err)
{
	SriovAlloc old = *a;
	char path[4096];
	int r;

	a->state = state;
	/* From the copy: @reason may be @a's own (keeping it), and must not overlap. */
	if (reason == a->reason)
		reason = old.reason;
	snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "");
	for (char *c = a->reason; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	r = alloc_write(p, a, false);
	if (r < 0) {
		alloc_path(p, a, path, sizeof(path));
		sriov_error_set(err, "pool %s: cannot update allocation record %s: %s", p->name,
				path, strerror(-r));
		*a = old;
	}
	return r;
}

int sriov_pool_release(SriovPool *p, SriovAlloc *a, SriovError *err)
{
	char path[4096];
	size_t i;
	int r;

	for (i = 0; i < p->n_allocs; i++)
		if (p->allocs[i] == a)
			break;
	if (i == p->n_allocs)
		return -ENOENT;
	r = alloc_path(p, a, path, sizeof(path));
	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		sriov_error_set(err, "pool %s: cannot delete allocation record %s: %s", p->name,
				path, strerror(-r));
		return r;
	}
	memmove(p->allocs + i, p->allocs + i + 1, (p->n_allocs - i - 1) * sizeof(*p->allocs));
	p->n_allocs--;
	free(a);
	return 0;
}

int sriov_pool_count(const SriovPool *p, unsigned *total, unsigned *free_)
{
	unsigned n = 0, used = 0;
	char path[4096];

	if (p->driver == SRIOV_POOL_EMULATED) {
		for (unsigned i = 0; i < p->size; i++) {
			SriovAlloc a = { .emulated = true };

			n++;
			snprintf(a.pool, sizeof(a.pool), "%s", p->name);
			snprintf(a.id, sizeof(a.id), "emu%u", i);
			if (alloc_path(p, &a, path, sizeof(path)) == 0 && access(path, F_OK) == 0)
				used++;
		}
	} else {
		for (size_t i = 0; i < p->n_pfs; i++) {
			SriovPf pf;

			if (sriov_pf_find(p->sysfs, p->pfs[i], &pf, NULL) < 0)
				continue;
			for (unsigned idx = 0; idx < pf.num_vfs; idx++) {
				SriovVf vf;

				if (!in_ranges(p, idx) ||
				    sriov_vf_find(p->sysfs, &pf, idx, &vf, NULL) < 0)
					continue;
				n++;
				if (snprintf(path, sizeof(path), "%s/%s", p->alloc_dir, vf.bdf) <
					    (int)sizeof(path) &&
				    access(path, F_OK) == 0)
					used++;
			}
		}
	}
	if (total)
		*total = n;
	if (free_)
		*free_ = n - used;
	return 0;
}

/* Why @a's VF is no longer where it was, or NULL if it still is. */
static const char *vanished(const SriovPool *p, const SriovAlloc *a, char *buf, size_t size)
{
	const char *pfname = a->pf_ifname[0] ? a->pf_ifname : a->pf_bdf;
	char path[4096], bdf[SRIOV_BDF_MAX];
	unsigned num = 0;
	int r;

	if (sriov_sysfs_path(path, sizeof(path), p->sysfs, "bus/pci/devices/%s", a->pf_bdf) == 0 &&
	    access(path, F_OK) < 0 && errno == ENOENT) {
		snprintf(buf, size, "VF %s (PF %s VF %u) is gone: PF %s (%s) was removed", a->id,
			 pfname, a->vf_index, pfname, a->pf_bdf);
		return buf;
	}
	if (sriov_sysfs_path(path, sizeof(path), p->sysfs, "bus/pci/devices/%s/virtfn%u", a->pf_bdf,
			     a->vf_index) < 0)
		return NULL;
	r = sriov_sysfs_link_name(path, bdf, sizeof(bdf));
	if (r == -ENOENT) {
		if (sriov_sysfs_path(path, sizeof(path), p->sysfs,
				     "bus/pci/devices/%s/sriov_numvfs", a->pf_bdf) == 0 &&
		    sriov_sysfs_read_uint(path, &num) == 0)
			snprintf(buf, size,
				 "VF %s (PF %s VF %u) was removed: sriov_numvfs of %s is now %u",
				 a->id, pfname, a->vf_index, pfname, num);
		else
			snprintf(buf, size, "VF %s (PF %s VF %u) was removed", a->id, pfname,
				 a->vf_index);
		return buf;
	}
	if (r == 0 && strcmp(bdf, a->id) != 0) {
		snprintf(buf, size, "VF %u of PF %s is now %s, not %s", a->vf_index, pfname, bdf,
			 a->id);
		return buf;
	}
	if (sriov_sysfs_path(path, sizeof(path), p->sysfs, "bus/pci/devices/%s", a->id) == 0 &&
	    access(path, F_OK) < 0 && errno == ENOENT) {
		snprintf(buf, size, "VF %s (PF %s VF %u) was removed", a->id, pfname, a->vf_index);
		return buf;
	}
	return NULL;
}

int sriov_pool_recheck(SriovPool *p, SriovGoneFn fn, void *userdata)
{
	char reason[256];
	int n = 0;

	if (p->driver != SRIOV_POOL_VFIO)
		return 0;
	for (size_t i = 0; i < p->n_allocs; i++) {
		SriovAlloc *a = p->allocs[i];

		if (a->state == SRIOV_ALLOC_GONE || a->emulated)
			continue;
		if (!vanished(p, a, reason, sizeof(reason)))
			continue;
		/* Even if the record cannot be updated, the in-memory state is right. */
		if (sriov_pool_set_state(p, a, SRIOV_ALLOC_GONE, reason, NULL) < 0) {
			a->state = SRIOV_ALLOC_GONE;
			snprintf(a->reason, sizeof(a->reason), "%s", reason);
		}
		n++;
		if (fn)
			fn(p, a, userdata);
	}
	return n;
}

bool sriov_pool_wants_uevent(const SriovPool *p, const SriovUevent *ev)
{
	if (p->driver != SRIOV_POOL_VFIO || !ev->subsystem || !ev->sysname)
		return false;
	for (size_t i = 0; i < p->n_pfs; i++)
		if (strcmp(p->pfs[i], ev->sysname) == 0)
			return true;
	for (size_t i = 0; i < p->n_allocs; i++) {
		const SriovAlloc *a = p->allocs[i];

		if (strcmp(a->id, ev->sysname) == 0 || strcmp(a->pf_bdf, ev->sysname) == 0 ||
		    (a->pf_ifname[0] && strcmp(a->pf_ifname, ev->sysname) == 0))
			return true;
	}
	return false;
}
