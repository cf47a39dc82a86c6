/* VF reservation and release with save/restore of the original VF state. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "daemon/statefile.h"
#include "daemon/vf.h"

struct VfPool {
	SriovPool *pool;
	NlVfSocket *nl; /* NULL for emulated pools */
	NlVfConfig settings;
	char saved_dir[4096];
	VfCheckpointFn checkpoint;
	void *checkpoint_ud;
};

static void checkpoint(VfPool *p, const char *point)
{
	if (p->checkpoint)
		p->checkpoint(point, p->checkpoint_ud);
}

/* ---- save files ---- */

typedef struct SavedParse {
	VfSaved *s;
	unsigned seen;
	char bad_key[32];
} SavedParse;

static int copy_str(char *dst, size_t size, const char *v)
{
	if (strlen(v) >= size)
		return -EBADMSG;
	strcpy(dst, v);
	return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *ret)
{
	char *end;

	*ret = 0; /* callers store it even when the value is rejected */
	if (*v < '0' || *v > '9')
		return -EBADMSG;
	errno = 0;
	*ret = strtoul(v, &end, 10);
	if (errno || *end || *ret > max)
		return -EBADMSG;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	if (strcmp(v, "on") == 0)
		*ret = true;
	else if (strcmp(v, "off") == 0)
		*ret = false;
	else
		return -EBADMSG;
	return 0;
}

static int s_pool(VfSaved *s, const char *v)
{
	return *v ? copy_str(s->pool, sizeof(s->pool), v) : -EBADMSG;
}
static int s_vf(VfSaved *s, const char *v)
{
	return sriov_is_bdf(v) ? copy_str(s->vf, sizeof(s->vf), v) : -EBADMSG;
}
static int s_pf(VfSaved *s, const char *v)
{
	return *v ? copy_str(s->pf, sizeof(s->pf), v) : -EBADMSG;
}
static int s_pf_bdf(VfSaved *s, const char *v)
{
	return sriov_is_bdf(v) ? copy_str(s->pf_bdf, sizeof(s->pf_bdf), v) : -EBADMSG;
}
static int s_index(VfSaved *s, const char *v)
{
	unsigned long n;
	int r = parse_uint(v, 65535, &n);

	s->index = (unsigned)n;
	return r;
}
static int s_driver(VfSaved *s, const char *v)
{
	return copy_str(s->driver, sizeof(s->driver), v);
}
static int s_driver_override(VfSaved *s, const char *v)
{
	return copy_str(s->driver_override, sizeof(s->driver_override), v);
}
static int s_mac(VfSaved *s, const char *v)
{
	s->config.set |= NL_VF_BIT(NL_VF_MAC);
	return conf_parse_mac_any(v, s->config.mac) < 0 ? -EBADMSG : 0;
}
static int s_vlan(VfSaved *s, const char *v)
{
	unsigned long n;
	int r = parse_uint(v, 4095, &n);

	s->config.set |= NL_VF_BIT(NL_VF_VLAN);
	s->config.vlan = (uint16_t)n;
	return r;
}
static int s_qos(VfSaved *s, const char *v)
{
	unsigned long n;
	int r = parse_uint(v, 7, &n);

	s->config.qos = (uint8_t)n;
	return r;
}
static int s_vlan_proto(VfSaved *s, const char *v)
{
	if (strcmp(v, "802.1Q") == 0)
		s->config.vlan_proto = NL_VF_PROTO_8021Q;
	else if (strcmp(v, "802.1ad") == 0)
		s->config.vlan_proto = NL_VF_PROTO_8021AD;
	else
		return -EBADMSG;
	return 0;
}
static int s_spoofchk(VfSaved *s, const char *v)
{
	s->config.set |= NL_VF_BIT(NL_VF_SPOOFCHK);
	return parse_bool(v, &s->config.spoofchk);
}
static int s_trust(VfSaved *s, const char *v)
{
	s->config.set |= NL_VF_BIT(NL_VF_TRUST);
	return parse_bool(v, &s->config.trust);
}
static int s_max_tx_rate(VfSaved *s, const char *v)
{
	unsigned long n;
	int r = parse_uint(v, UINT32_MAX, &n);

	s->config.set |= NL_VF_BIT(NL_VF_MAX_TX_RATE);
	s->config.max_tx_rate = (uint32_t)n;
	return r;
}
static int s_min_tx_rate(VfSaved *s, const char *v)
{
	unsigned long n;
	int r = parse_uint(v, UINT32_MAX, &n);

	s->config.set |= NL_VF_BIT(NL_VF_MIN_TX_RATE);
	s->config.min_tx_rate = (uint32_t)n;
	return r;
}
static int s_link_state(VfSaved *s, const char *v)
{
	int l = nl_vf_link_state_from_string(v);

	s->config.set |= NL_VF_BIT(NL_VF_LINK_STATE);
	s->config.link_state = (NlVfLinkState)(l < 0 ? 0 : l);
	return l < 0 ? -EBADMSG : 0;
}
static int s_query_rss(VfSaved *s, const char *v)
{
	s->config.set |= NL_VF_BIT(NL_VF_RSS_QUERY);
	return parse_bool(v, &s->config.rss_query);
}

enum {
	S_POOL,
	S_VF,
	S_PF,
	S_PF_BDF,
	S_INDEX,
	S_DRIVER,
	S_DRIVER_OVERRIDE,
	S_MAC,
	S_VLAN,
	S_QOS,
	S_VLAN_PROTO,
	S_SPOOFCHK,
	S_TRUST,
	S_MAX_TX_RATE,
	S_MIN_TX_RATE,
	S_LINK_STATE,
	S_QUERY_RSS,
	_S_MAX,
};

static const struct {
	const char *key;
	int (*fn)(VfSaved *s, const char *v);
} saved_fields[_S_MAX] = {
	[S_POOL] = { "pool", s_pool },
	[S_VF] = { "vf", s_vf },
	[S_PF] = { "pf", s_pf },
	[S_PF_BDF] = { "pf_bdf", s_pf_bdf },
	[S_INDEX] = { "index", s_index },
	[S_DRIVER] = { "driver", s_driver },
	[S_DRIVER_OVERRIDE] = { "driver_override", s_driver_override },
	[S_MAC] = { "mac", s_mac },
	[S_VLAN] = { "vlan", s_vlan },
	[S_QOS] = { "qos", s_qos },
	[S_VLAN_PROTO] = { "vlan_proto", s_vlan_proto },
	[S_SPOOFCHK] = { "spoofchk", s_spoofchk },
	[S_TRUST] = { "trust", s_trust },
	[S_MAX_TX_RATE] = { "max_tx_rate", s_max_tx_rate },
	[S_MIN_TX_RATE] = { "min_tx_rate", s_min_tx_rate },
	[S_LINK_STATE] = { "link_state", s_link_state },
	[S_QUERY_RSS] = { "query_rss", s_query_rss },
};

#define S_REQUIRED                                                                                 \
	((1u << S_POOL) | (1u << S_VF) | (1u << S_PF) | (1u << S_PF_BDF) | (1u << S_INDEX) |       \
	 (1u << S_DRIVER) | (1u << S_DRIVER_OVERRIDE))
#define S_VLAN_ALL ((1u << S_VLAN) | (1u << S_QOS) | (1u << S_VLAN_PROTO))

static int saved_field(const char *key, const char *value, void *userdata)
{
	SavedParse *sp = userdata;

	for (unsigned i = 0; i < _S_MAX; i++) {
		if (strcmp(saved_fields[i].key, key) != 0)
			continue;
		if (sp->seen & (1u << i) || saved_fields[i].fn(sp->s, value) < 0)
			break;
		sp->seen |= 1u << i;
		return 0;
	}
	snprintf(sp->bad_key, sizeof(sp->bad_key), "%.31s", key);
	return -EBADMSG;
}

int vf_saved_read(const char *path, VfSaved *s, char *err, size_t size)
{
	SavedParse sp = { .s = s };
	unsigned line = 0;
	int r;

	memset(s, 0, sizeof(*s));
	r = statefile_read(path, saved_field, &sp, &line);
	if (r == -EBADMSG) {
		if (sp.bad_key[0])
			snprintf(err, size,
				 "save file %s is corrupted: unknown, repeated or invalid %s= "
				 "(line %u)",
				 path, sp.bad_key, line);
		else
			snprintf(err, size, "save file %s is corrupted (line %u)", path, line);
		return r;
	}
	if (r < 0) {
		snprintf(err, size, "cannot read save file %s: %s", path, strerror(-r));
		return r;
	}
	if ((sp.seen & S_REQUIRED) != S_REQUIRED) {
		snprintf(err, size, "save file %s is corrupted: a required key is missing", path);
		return -EBADMSG;
	}
	if ((sp.seen & S_VLAN_ALL) != 0 && (sp.seen & S_VLAN_ALL) != S_VLAN_ALL) {
		snprintf(err, size,
			 "save file %s is corrupted: vlan, qos and vlan_proto go together", path);
		return -EBADMSG;
	}
	return 0;
}

int vf_saved_write(const char *path, const VfSaved *s)
{
	char index[16], values[_NL_VF_SETTING_MAX][64];
	char vlan[8], qos[8];
	StateEntry e[_S_MAX];
	const NlVfConfig *c = &s->config;
	size_t n = 0;

	snprintf(index, sizeof(index), "%u", s->index);
	e[n++] = (StateEntry){ "pool", s->pool };
	e[n++] = (StateEntry){ "vf", s->vf };
	e[n++] = (StateEntry){ "pf", s->pf };
	e[n++] = (StateEntry){ "pf_bdf", s->pf_bdf };
	e[n++] = (StateEntry){ "index", index };
	e[n++] = (StateEntry){ "driver", s->driver };
	e[n++] = (StateEntry){ "driver_override", s->driver_override };
	if (c->set & NL_VF_BIT(NL_VF_MAC)) {
		nl_vf_config_format(c, NL_VF_MAC, values[NL_VF_MAC], sizeof(values[0]));
		e[n++] = (StateEntry){ "mac", values[NL_VF_MAC] };
	}
	if (c->set & NL_VF_BIT(NL_VF_VLAN)) {
		snprintf(vlan, sizeof(vlan), "%u", c->vlan);
		snprintf(qos, sizeof(qos), "%u", c->qos);
		e[n++] = (StateEntry){ "vlan", vlan };
		e[n++] = (StateEntry){ "qos", qos };
		e[n++] = (StateEntry){ "vlan_proto",
				       c->vlan_proto == NL_VF_PROTO_8021AD ? "802.1ad" : "802.1Q" };
	}
	static const struct {
		NlVfSetting setting;
		const char *key;
	} simple[] = {
		{ NL_VF_SPOOFCHK, "spoofchk" },	      { NL_VF_TRUST, "trust" },
		{ NL_VF_MAX_TX_RATE, "max_tx_rate" }, { NL_VF_MIN_TX_RATE, "min_tx_rate" },
		{ NL_VF_LINK_STATE, "link_state" },   { NL_VF_RSS_QUERY, "query_rss" },
	};
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		NlVfSetting st = simple[i].setting;

		if (!(c->set & NL_VF_BIT(st)))
			continue;
		nl_vf_config_format(c, st, values[st], sizeof(values[0]));
		e[n++] = (StateEntry){ simple[i].key, values[st] };
	}
	return statefile_write(path, e, n);
}

/* ---- pools ---- */

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int vf_pool_new(VfPool **ret, const SriovPoolConfig *config, const NlVfConfig *settings, char *err,
		size_t size)
{
	SriovError se = { "" };
	VfPool *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (settings)
		p->settings = *settings;
	if (snprintf(p->saved_dir, sizeof(p->saved_dir), "%s/saved",
		     config->state_dir ? config->state_dir : "") >= (int)sizeof(p->saved_dir)) {
		free(p);
		return -ENAMETOOLONG;
	}
	r = sriov_pool_new(&p->pool, config, &se);
	if (r < 0) {
		snprintf(err, size, "%s", se.message);
		free(p);
		return r;
	}
	if (config->driver == SRIOV_POOL_VFIO) {
		r = sriov_mkdir_p(p->saved_dir, 0700);
		if (r < 0) {
			snprintf(err, size, "pool %s: cannot create %s: %s", config->name,
				 p->saved_dir, strerror(-r));
			vf_pool_free(p);
			return r;
		}
		r = nl_vf_socket_new(&p->nl);
		if (r < 0) {
			snprintf(err, size, "pool %s: cannot open an rtnetlink socket: %s",
				 config->name, strerror(-r));
			vf_pool_free(p);
			return r;
		}
	}
	*ret = p;
	return 0;
}

VfPool *vf_pool_free(VfPool *p)
{
	if (!p)
		return NULL;
	sriov_pool_free(p->pool);
	nl_vf_socket_free(p->nl);
	free(p);
	return NULL;
}

void vf_pool_set_checkpoint(VfPool *p, VfCheckpointFn fn, void *userdata)
{
	p->checkpoint = fn;
	p->checkpoint_ud = userdata;
}

SriovPool *vf_pool_get_sriov(VfPool *p)
{
	return p->pool;
}

static int saved_path(const VfPool *p, const char *vf, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", p->saved_dir, vf);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int saved_delete(const VfPool *p, const char *path)
{
	int r = statefile_remove(path);

	if (r < 0)
		return r;
	fsync_dir(p->saved_dir);
	return 0;
}

/* Writes the save file of @a, unless an earlier one (the true original) exists. */
static int save_original(VfPool *p, const SriovAlloc *a, char *err, size_t size)
{
	const char *sysfs = sriov_pool_get_sysfs(p->pool);
	SriovError se = { "" };
	NlVfError ne = { .message = "" };
	char path[4096], e2[64];
	VfSaved s = {};
	SriovPf pf;
	SriovVf vf;
	int r;

	r = saved_path(p, a->id, path, sizeof(path));
	if (r < 0)
		return r;
	if (access(path, F_OK) == 0) {
		r = vf_saved_read(path, &s, err, size);
		if (r < 0)
			return r;
		if (strcmp(s.vf, a->id) != 0) {
			snprintf(err, size, "save file %s describes %s, not %s", path, s.vf, a->id);
			return -EBADMSG;
		}
		return 0;
	}
	r = sriov_pf_find(sysfs, a->pf_bdf, &pf, &se);
	if (r >= 0)
		r = sriov_vf_find(sysfs, &pf, a->vf_index, &vf, &se);
	if (r < 0) {
		snprintf(err, size, "%s", se.message);
		return r;
	}
	r = nl_vf_get(p->nl, a->pf_ifname, a->vf_index, &s.config, &ne);
	if (r < 0) {
		snprintf(err, size, "%s", ne.message);
		return r;
	}
	snprintf(s.pool, sizeof(s.pool), "%s", a->pool);
	snprintf(s.vf, sizeof(s.vf), "%s", a->id);
	snprintf(s.pf, sizeof(s.pf), "%s", a->pf_ifname);
	snprintf(s.pf_bdf, sizeof(s.pf_bdf), "%s", a->pf_bdf);
	s.index = a->vf_index;
	snprintf(s.driver, sizeof(s.driver), "%s", vf.driver);
	snprintf(s.driver_override, sizeof(s.driver_override), "%s", vf.driver_override);
	r = vf_saved_write(path, &s);
	if (r < 0) {
		snprintf(e2, sizeof(e2), "%s", strerror(-r));
		snprintf(err, size, "cannot write save file %s: %s", path, e2);
	}
	return r;
}

/* Puts back every saved setting that differs now, then verifies them all. */
static int restore_settings(VfPool *p, const VfSaved *s, char *err, size_t size)
{
	NlVfError ne = { .message = "" };
	NlVfConfig cur;
	int r;

	r = nl_vf_get(p->nl, s->pf, s->index, &cur, &ne);
	if (r < 0)
		goto fail;
	for (int i = 0; i < _NL_VF_SETTING_MAX; i++) {
		if (!(s->config.set & NL_VF_BIT(i)))
			continue;
		/*
		 * The MAC is always written: igb reports a MAC its VF driver chose
		 * like an administrative one, and only writing it makes the re-probed
		 * host driver come back with it (all zeros: the driver picks its own).
		 */
		if (i != NL_VF_MAC && cur.set & NL_VF_BIT(i) &&
		    nl_vf_config_equal(&s->config, &cur, i))
			continue;
		r = nl_vf_set_one(p->nl, s->pf, s->index, &s->config, i, &ne);
		if (r < 0)
			goto fail;
	}
	r = nl_vf_verify(p->nl, s->pf, s->index, &s->config, &ne);
	if (r < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, size, "restoring %s: %s", s->vf, ne.message);
	return r;
}

static bool device_exists(VfPool *p, const char *bdf)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sriov_pool_get_sysfs(p->pool), bdf);
	return access(path, F_OK) == 0;
}

/* Restores the VF described by save file @path and deletes the file. */
static int restore_saved(VfPool *p, const char *path, bool gone, char *err, size_t size)
{
	SriovError se = { "" };
	VfSaved s;
	int r;

	r = vf_saved_read(path, &s, err, size);
	if (r == -ENOENT)
		return 0; /* nothing was changed yet */
	if (r < 0)
		return r;
	/* A VF that vanished lost its settings with it: nothing to restore. */
	if (!gone && device_exists(p, s.vf)) {
		r = restore_settings(p, &s, err, size);
		if (r >= 0) {
			r = sriov_driver_restore(sriov_pool_get_sysfs(p->pool), s.vf, s.driver,
						 s.driver_override, &se);
			if (r < 0)
				snprintf(err, size, "restoring %s: %s", s.vf, se.message);
		}
		if (r < 0 && device_exists(p, s.vf))
			return r;
	}
	r = saved_delete(p, path);
	if (r < 0)
		snprintf(err, size, "cannot delete save file %s: %s", path, strerror(-r));
	return r;
}

static int release(VfPool *p, SriovAlloc *a, char *err, size_t size)
{
	SriovError se = { "" };
	char path[4096];
	int r;

	if (!a->emulated) {
		if (a->state != SRIOV_ALLOC_GONE && a->state != SRIOV_ALLOC_RELEASING) {
			r = sriov_pool_set_state(p->pool, a, SRIOV_ALLOC_RELEASING, NULL, &se);
			if (r < 0) {
				snprintf(err, size, "%s", se.message);
				return r;
			}
		}
		r = saved_path(p, a->id, path, sizeof(path));
		if (r < 0)
			return r;
		r = restore_saved(p, path, a->state == SRIOV_ALLOC_GONE, err, size);
		if (r < 0) {
			/* It may have vanished meanwhile: then there is nothing left to undo. */
			if (sriov_pool_recheck(p->pool, NULL, NULL) > 0 &&
			    a->state == SRIOV_ALLOC_GONE)
				r = restore_saved(p, path, true, err, size);
			if (r < 0)
				return r;
		}
	}
	r = sriov_pool_release(p->pool, a, &se);
	if (r < 0)
		snprintf(err, size, "%s", se.message);
	return r;
}

int vf_pool_release(VfPool *p, SriovAlloc *a, char *err, size_t size)
{
	return release(p, a, err, size);
}

int vf_pool_reserve(VfPool *p, const char *owner, const uint8_t *mac, SriovAlloc **ret, char *err,
		    size_t size)
{
	SriovError se = { "" };
	NlVfError ne = { .message = "" };
	NlVfConfig want = p->settings;
	char why[384], undo[384];
	SriovAlloc *a;
	int r, group;

	r = sriov_pool_reserve(p->pool, owner, &a, &se);
	if (r < 0) {
		snprintf(err, size, "%s", se.message);
		return r;
	}
	checkpoint(p, "reserved");
	if (a->emulated)
		goto done;

	r = save_original(p, a, why, sizeof(why));
	if (r < 0) {
		/* Nothing changed yet: just give the VF back. */
		sriov_pool_release(p->pool, a, NULL);
		snprintf(err, size, "%s", why);
		return r;
	}
	checkpoint(p, "saved");
	if (mac) {
		memcpy(want.mac, mac, 6);
		want.set |= NL_VF_BIT(NL_VF_MAC);
	}
	if (want.set) {
		r = nl_vf_set(p->nl, a->pf_ifname, a->vf_index, &want, &ne);
		if (r < 0) {
			snprintf(why, sizeof(why), "%s", ne.message);
			goto undo;
		}
	}
	checkpoint(p, "programmed");
	r = sriov_vfio_bind(sriov_pool_get_sysfs(p->pool), a->id, &group, &se);
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", se.message);
		goto undo;
	}
	checkpoint(p, "bound");
done:
	r = sriov_pool_set_state(p->pool, a, SRIOV_ALLOC_RESERVED, NULL, &se);
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", se.message);
		goto undo;
	}
	*ret = a;
	return 0;
undo:
	if (release(p, a, undo, sizeof(undo)) < 0)
		snprintf(err, size, "%s; undoing failed too (left for recovery): %s", why, undo);
	else
		snprintf(err, size, "%s", why);
	return r;
}

static void first_error(char *err, size_t size, int *first, int r, const char *msg)
{
	if (*first < 0)
		return;
	*first = r;
	snprintf(err, size, "%s", msg);
}

int vf_pool_recover(VfPool *p, VfOwnerAliveFn alive, void *userdata, char *err, size_t size)
{
	const char *name = sriov_pool_get_name(p->pool);
	char msg[512], path[4096];
	struct dirent *de;
	int first = 0, n = 0, r;
	size_t i = 0;
	DIR *d;

	/* Allocations first; release() removes entries, so index with care. */
	while (i < sriov_pool_get_n_allocs(p->pool)) {
		SriovAlloc *a = sriov_pool_get_alloc(p->pool, i);
		bool finish =
			a->state == SRIOV_ALLOC_RESERVING || a->state == SRIOV_ALLOC_RELEASING;

		if (!finish && alive && !alive(a->owner, userdata))
			finish = true;
		if (!finish) {
			i++;
			continue;
		}
		r = release(p, a, msg, sizeof(msg));
		if (r < 0) {
			first_error(err, size, &first, r, msg);
			i++;
			continue;
		}
		n++;
	}

	if (!p->nl)
		return first < 0 ? first : n;
	/* Save files with no allocation: the record went first, finish the restore. */
	d = opendir(p->saved_dir);
	if (!d) {
		snprintf(msg, sizeof(msg), "cannot open %s: %s", p->saved_dir, strerror(errno));
		first_error(err, size, &first, -errno, msg);
		return first;
	}
	while ((de = readdir(d))) {
		VfSaved s;

		if (de->d_name[0] == '.' || sriov_pool_find(p->pool, de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", p->saved_dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		r = vf_saved_read(path, &s, msg, sizeof(msg));
		if (r < 0) {
			first_error(err, size, &first, r, msg);
			continue;
		}
		if (strcmp(s.pool, name) != 0)
			continue;
		r = restore_saved(p, path, false, msg, sizeof(msg));
		if (r < 0) {
			first_error(err, size, &first, r, msg);
			continue;
		}
		n++;
	}
	closedir(d);
	return first < 0 ? first : n;
}

int vf_pool_handle_uevent(VfPool *p, const SriovUevent *ev, SriovGoneFn fn, void *userdata)
{
	if (!sriov_pool_wants_uevent(p->pool, ev))
		return 0;
	return sriov_pool_recheck(p->pool, fn, userdata);
}
