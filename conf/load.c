/* The search path, masking, drop-ins, defaults and cross-checks. */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include "conf/conf-internal.h"

/* Earlier directories win, as in systemd. */
static const char *const search_dirs[] = { "etc/failoverd", "run/failoverd", "usr/lib/failoverd" };
#define N_DIRS (sizeof(search_dirs) / sizeof(search_dirs[0]))

typedef struct NameList {
	char (*names)[256];
	char (*paths)[PATH_MAX];
	size_t n, cap;
} NameList;

static void name_list_free(NameList *l)
{
	free(l->names);
	free(l->paths);
	memset(l, 0, sizeof(*l));
}

static int name_list_add(NameList *l, const char *name, const char *path)
{
	/* Duplicates (masked by an earlier directory) go in name_list_sort(). */
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *n = realloc(l->names, cap * sizeof(*l->names));

		if (!n)
			return -ENOMEM;
		l->names = n;
		n = realloc(l->paths, cap * sizeof(*l->paths));
		if (!n)
			return -ENOMEM;
		l->paths = n;
		l->cap = cap;
	}
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	snprintf(l->paths[l->n], sizeof(l->paths[0]), "%s", path);
	l->n++;
	return 0;
}

typedef struct NameRef {
	const char *name;
	size_t at; /* order of addition: directory order, which decides masking */
} NameRef;

static int name_ref_cmp(const void *a, const void *b)
{
	const NameRef *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/*
 * Sorted by name, each name once, from the earliest directory. Through an
 * index: ten thousand .vm files made an insertion sort of 4 KiB entries
 * (and a linear duplicate check) quadratic (docs/performance.md).
 */
static int name_list_sort(NameList *l)
{
	NameRef *refs;
	NameList out = { 0 };
	int r = 0;

	if (l->n < 2)
		return 0;
	refs = malloc(l->n * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		refs[i] = (NameRef){ l->names[i], i };
	qsort(refs, l->n, sizeof(*refs), name_ref_cmp);
	for (size_t i = 0; i < l->n && r == 0; i++)
		if (i == 0 || strcmp(refs[i].name, refs[i - 1].name) != 0)
			r = name_list_add(&out, refs[i].name, l->paths[refs[i].at]);
	free(refs);
	if (r < 0) {
		name_list_free(&out);
		return r;
	}
	name_list_free(l);
	*l = out;
	return 0;
}

/*
 * As systemd treats unit files: a symlink to /dev/null (or /dev/null itself,
 * however reached) masks, and so does an empty file.
 */
static bool is_masked(const char *path)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	struct stat st;

	if (n >= 0) {
		target[n] = 0;
		if (strcmp(target, "/dev/null") == 0)
			return true;
	}
	if (stat(path, &st) < 0)
		return false;
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		return true;
	return S_ISREG(st.st_mode) && st.st_size == 0;
}

/* Directories named like a file are skipped; anything else is read (and may fail). */
static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a > b && strcmp(s + a - b, suffix) == 0;
}

/* Files in all directories ending with @suffix (or in subdir @sub), first wins. */
static int collect(ConfCtx *c, const char *root, const char *sub, const char *suffix, NameList *out)
{
	for (size_t d = 0; d < N_DIRS; d++) {
		char dir[PATH_MAX];
		struct dirent *de;
		DIR *dh;

		snprintf(dir, sizeof(dir), "%s/%s%s%s", root, search_dirs[d], sub ? "/" : "",
			 sub ? sub : "");
		dh = opendir(dir);
		if (!dh) {
			if (errno != ENOENT && errno != ENOTDIR) {
				c->file = dir;
				c->line = 0;
				conf_diag(c, CONF_WARNING, "cannot read directory, skipping: %s",
					  strerror(errno));
			}
			continue;
		}
		while ((de = readdir(dh))) {
			char path[PATH_MAX];
			int r;

			/* ".pool": any NAME.pool; "failoverd.conf": that file only. */
			if (de->d_name[0] == '.' ||
			    (suffix[0] == '.' ? !ends_with(de->d_name, suffix)
					      : strcmp(de->d_name, suffix) != 0))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (is_dir(path))
				continue;
			r = name_list_add(out, de->d_name, path);
			if (r < 0) {
				closedir(dh);
				return r;
			}
		}
		closedir(dh);
	}
	return name_list_sort(out);
}

/* Applies the main file (if any and not masked) and then its drop-ins. */
static int apply_unit(ConfCtx *c, const char *root, const char *name, const char *main_path)
{
	NameList dropins = { 0 };
	char sub[300];
	int r;

	if (main_path) {
		r = conf_parse_file(c, main_path);
		if (r == -ENOMEM)
			return r;
	}
	/* Masked drop-ins stay in the list: they hide same-named ones in later directories. */
	snprintf(sub, sizeof(sub), "%s.d", name);
	r = collect(c, root, sub, ".conf", &dropins);
	if (r < 0)
		return r;
	for (size_t i = 0; i < dropins.n; i++)
		if (!is_masked(dropins.paths[i])) {
			r = conf_parse_file(c, dropins.paths[i]);
			if (r == -ENOMEM)
				break;
		}
	name_list_free(&dropins);
	return r == -ENOMEM ? r : 0;
}

static void daemon_defaults(ConfDaemon *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->state_directory, sizeof(d->state_directory), "%s",
		 CONF_DEFAULT_STATE_DIRECTORY);
	d->log_level = LOG_INFO;
	d->listen_qmp_mode = CONF_DEFAULT_LISTEN_QMP_MODE;
	d->unplug_timeout_ms = CONF_DEFAULT_UNPLUG_TIMEOUT_MS;
	d->command_timeout_ms = CONF_DEFAULT_COMMAND_TIMEOUT_MS;
	d->negotiate_timeout_ms = CONF_DEFAULT_NEGOTIATE_TIMEOUT_MS;
}

static void stem(const char *file, const char *suffix, char *buf, size_t size)
{
	size_t n = strlen(file) - strlen(suffix);

	snprintf(buf, size, "%.*s", (int)n, file);
}

static void check_pool(ConfCtx *c, ConfPool *p)
{
	c->file = p->file;
	c->line = 0;
	if (p->driver == CONF_POOL_VFIO) {
		if (p->n_pfs == 0)
			conf_diag(c, CONF_ERROR,
				  "pool %s: PhysicalFunction= is required for Driver=vfio",
				  p->name);
		if (p->model[0])
			conf_diag(c, CONF_WARNING,
				  "pool %s: Model= only applies to Driver=emulated", p->name);
	} else {
		if (!p->model[0])
			conf_diag(c, CONF_ERROR,
				  "pool %s: Model= (e.g. e1000e) is required for Driver=emulated",
				  p->name);
		if (p->n_pfs || p->n_ranges)
			conf_diag(c, CONF_WARNING,
				  "pool %s: PhysicalFunction=/VirtualFunctions= are ignored for "
				  "Driver=emulated",
				  p->name);
	}
	if ((p->sriov.set & CONF_SRIOV_QOS) && !(p->sriov.set & CONF_SRIOV_VLAN))
		conf_diag(c, CONF_ERROR, "pool %s: QualityOfService= needs VLANId=", p->name);
	if ((p->sriov.set & CONF_SRIOV_VLAN_PROTO) && !(p->sriov.set & CONF_SRIOV_VLAN))
		conf_diag(c, CONF_ERROR, "pool %s: VLANProtocol= needs VLANId=", p->name);
	if ((p->sriov.set & CONF_SRIOV_MIN_TX_RATE) && (p->sriov.set & CONF_SRIOV_MAX_TX_RATE) &&
	    p->sriov.max_tx_rate && p->sriov.min_tx_rate > p->sriov.max_tx_rate)
		conf_diag(c, CONF_ERROR, "pool %s: MinTxRateMbps= exceeds MaxTxRateMbps=", p->name);
}

/* docs/traffic.md: the handling needs to know where the standby's frames enter the host. */
static void check_traffic(ConfCtx *c, const ConfPair *p)
{
	if (!p->traffic) {
		if (p->standby_tap[0] || p->uplink[0] || p->standby_link_down)
			conf_diag(c, CONF_WARNING,
				  "pair %s: StandbyTap=, Uplink= and StandbyLinkDown= only apply "
				  "with TrafficHandling=yes",
				  p->name);
		return;
	}
	if (p->standby_tap[0] && strcmp(p->standby_tap, p->uplink) == 0)
		conf_diag(c, CONF_ERROR, "pair %s: StandbyTap= and Uplink= name the same device %s",
			  p->name, p->uplink);
}

static void check_instance(ConfCtx *c, ConfSet *s, ConfInstance *in)
{
	for (size_t k = 0; k < in->n_pairs; k++) {
		ConfPair *p = &in->pairs[k];
		const ConfPool *pool;

		c->file = p->file;
		c->line = p->line;
		if (!p->name[0]) {
			conf_diag(c, CONF_ERROR, "[Pair] without Name=");
			continue;
		}
		if (!p->pool[0])
			conf_diag(c, CONF_ERROR, "pair %s: Pool= is required", p->name);
		else if (!(pool = conf_set_find_pool(s, p->pool)))
			conf_diag(c, CONF_ERROR, "pair %s: no pool named '%s'", p->name, p->pool);
		else if ((p->primary_netdev[0] || p->primary_tap[0]) &&
			 pool->driver != CONF_POOL_EMULATED)
			conf_diag(c, CONF_ERROR,
				  "pair %s: %s= applies to emulated pools only (pool %s hands out "
				  "VFs, which carry their own frames)",
				  p->name, p->primary_netdev[0] ? "PrimaryNetdev" : "PrimaryTap",
				  p->pool);
		if (p->primary_tap[0] && !p->primary_netdev[0])
			conf_diag(c, CONF_ERROR,
				  "pair %s: PrimaryTap= needs PrimaryNetdev=", p->name);
		check_traffic(c, p);
		if (!p->has_mac)
			conf_diag(c, CONF_ERROR, "pair %s: MACAddress= is required", p->name);
		if (!!p->standby[0] == !!p->standby_netdev[0])
			conf_diag(c, CONF_ERROR,
				  "pair %s: set either Standby= (an existing device) or "
				  "StandbyNetdev= (to hotplug one), not %s",
				  p->name, p->standby[0] ? "both" : "neither");
		if (p->standby_bus[0] && !p->standby_netdev[0])
			conf_diag(c, CONF_WARNING,
				  "pair %s: StandbyBus= only applies with StandbyNetdev=", p->name);
		if (p->primary_bus[0] && strcmp(p->primary_bus, p->standby_bus) == 0)
			conf_diag(c, CONF_ERROR,
				  "pair %s: PrimaryBus= and StandbyBus= name the same port %s",
				  p->name, p->primary_bus);
		for (size_t j = 0; j < k; j++) {
			const ConfPair *q = &in->pairs[j];

			if (strcmp(q->name, p->name) == 0)
				conf_diag(c, CONF_ERROR, "pair %s: defined twice in instance %s",
					  p->name, in->name);
			/* One port holds one device: a second one would fail to plug. */
			if (p->primary_bus[0] &&
			    (strcmp(p->primary_bus, q->primary_bus) == 0 ||
			     (q->standby_netdev[0] && strcmp(p->primary_bus, q->standby_bus) == 0)))
				conf_diag(c, CONF_ERROR,
					  "pair %s: PrimaryBus=%s is already used by pair %s",
					  p->name, p->primary_bus, q->name);
		}
	}
}

typedef struct MacRef {
	const ConfPair *pair;
	size_t at; /* file order */
} MacRef;

static int mac_ref_cmp(const void *a, const void *b)
{
	const MacRef *x = a, *y = b;
	int c = memcmp(x->pair->mac, y->pair->mac, 6);

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* @q, later in file order than @p, has @p's MAC. */
static void report_mac_twin(ConfCtx *c, const ConfPair *p, const ConfPair *q)
{
	if (!p->has_mac || !q->has_mac || memcmp(p->mac, q->mac, 6))
		return;
	c->file = q->file;
	c->line = q->line;
	conf_diag(c, CONF_ERROR, "pair %s: MAC address already used by pair %s in %s", q->name,
		  p->name, p->file);
}

/*
 * MACs must be unique across every instance: one MAC is one guest NIC.
 * Sorted first, so that only pairs whose MAC occurs twice are compared with
 * each other (10,000 instances made every pair against every pair a
 * quadratic start-up, docs/performance.md); reported in file order.
 */
static void check_macs(ConfCtx *c, ConfSet *s)
{
	size_t n = 0, n_dup = 0;
	MacRef *refs;
	bool *shared;

	for (size_t a = 0; a < s->n_instances; a++)
		n += s->instances[a].n_pairs;
	refs = malloc((n ? n : 1) * sizeof(*refs));
	shared = calloc(n ? n : 1, sizeof(*shared));
	n = 0;
	for (size_t a = 0; refs && shared && a < s->n_instances; a++)
		for (size_t x = 0; x < s->instances[a].n_pairs; x++)
			if (s->instances[a].pairs[x].has_mac)
				refs[n] = (MacRef){ &s->instances[a].pairs[x], n }, n++;
	if (refs && shared) {
		qsort(refs, n, sizeof(*refs), mac_ref_cmp);
		for (size_t k = 0; k + 1 < n; k++)
			if (memcmp(refs[k].pair->mac, refs[k + 1].pair->mac, 6) == 0)
				shared[refs[k].at] = shared[refs[k + 1].at] = true;
		/* Back to file order, the shared ones only. */
		n = 0;
		for (size_t a = 0; a < s->n_instances; a++)
			for (size_t x = 0; x < s->instances[a].n_pairs; x++)
				if (s->instances[a].pairs[x].has_mac && shared[n++])
					refs[n_dup++].pair = &s->instances[a].pairs[x];
	}
	for (size_t k = 0; k < n_dup; k++)
		for (size_t j = k + 1; j < n_dup; j++)
			report_mac_twin(c, refs[k].pair, refs[j].pair);
	if (!refs || !shared) /* no memory for the index: every pair against every pair */
		for (size_t a = 0; a < s->n_instances; a++)
			for (size_t x = 0; x < s->instances[a].n_pairs; x++)
				for (size_t b = a; b < s->n_instances; b++)
					for (size_t y = b == a ? x + 1 : 0;
					     y < s->instances[b].n_pairs; y++)
						report_mac_twin(c, &s->instances[a].pairs[x],
								&s->instances[b].pairs[y]);
	free(shared);
	free(refs);
}

/* Instances whose name an earlier one has (sorted through an index, as above). */
static bool *later_name_twins(const ConfSet *s)
{
	bool *later = calloc(s->n_instances ? s->n_instances : 1, sizeof(*later));
	NameRef *refs = malloc((s->n_instances ? s->n_instances : 1) * sizeof(*refs));

	if (!later || !refs) {
		free(refs);
		free(later);
		return NULL;
	}
	for (size_t i = 0; i < s->n_instances; i++)
		refs[i] = (NameRef){ s->instances[i].name, i };
	qsort(refs, s->n_instances, sizeof(*refs), name_ref_cmp);
	for (size_t k = 1; k < s->n_instances; k++)
		if (strcmp(refs[k].name, refs[k - 1].name) == 0)
			later[refs[k].at] = true;
	free(refs);
	return later;
}

int conf_load(const char *root, ConfSet **out, ConfDiags *diags)
{
	NameList pools = { 0 }, vms = { 0 }, main_conf = { 0 };
	ConfCtx c = { .diags = diags };
	ConfDaemon daemon_def;
	ConfPool *pool_def = NULL;
	ConfInstance *instance_def = NULL;
	bool *twins;
	ConfSet *s;
	size_t errors_before = diags->n_errors;
	int r;

	*out = NULL;
	if (!root)
		root = "";
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	daemon_defaults(&s->daemon);

	/* failoverd.conf: optional, its drop-ins apply even without it. */
	r = collect(&c, root, NULL, "failoverd.conf", &main_conf);
	if (r < 0)
		goto fail;
	c.kind = CONF_KIND_DAEMON;
	c.object = &s->daemon;
	daemon_defaults(&daemon_def);
	c.defaults = &daemon_def;
	for (size_t i = 0; i < main_conf.n; i++)
		if (strcmp(main_conf.names[i], "failoverd.conf") == 0) {
			r = apply_unit(&c, root, "failoverd.conf",
				       is_masked(main_conf.paths[i]) ? NULL : main_conf.paths[i]);
			goto daemon_done;
		}
	r = apply_unit(&c, root, "failoverd.conf", NULL);
daemon_done:
	if (r < 0)
		goto fail;

	r = collect(&c, root, NULL, ".pool", &pools);
	if (r < 0)
		goto fail;
	s->pools = calloc(pools.n ? pools.n : 1, sizeof(*s->pools));
	pool_def = calloc(1, sizeof(*pool_def));
	if (!s->pools || !pool_def) {
		r = -ENOMEM;
		goto fail;
	}
	c.kind = CONF_KIND_POOL;
	for (size_t i = 0; i < pools.n; i++) {
		ConfPool *p = &s->pools[s->n_pools];
		char name[256];

		if (is_masked(pools.paths[i]))
			continue;
		stem(pools.names[i], ".pool", name, sizeof(name));
		c.file = pools.paths[i];
		c.line = 0;
		if (!conf_name_is_valid(name)) {
			conf_diag(&c, CONF_ERROR,
				  "pool name '%s' from the file name is invalid: use letters, "
				  "digits, '_', '.', '-' (at most 64)",
				  name);
			continue;
		}
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", name);
		snprintf(p->file, sizeof(p->file), "%s", pools.paths[i]);
		p->size = CONF_POOL_DEFAULT_SIZE;
		*pool_def = *p;
		c.object = p;
		c.defaults = pool_def;
		r = apply_unit(&c, root, pools.names[i], pools.paths[i]);
		if (r < 0)
			goto fail;
		s->n_pools++;
	}

	r = collect(&c, root, NULL, ".vm", &vms);
	if (r < 0)
		goto fail;
	s->instances = calloc(vms.n ? vms.n : 1, sizeof(*s->instances));
	instance_def = calloc(1, sizeof(*instance_def));
	if (!s->instances || !instance_def) {
		r = -ENOMEM;
		goto fail;
	}
	c.kind = CONF_KIND_INSTANCE;
	for (size_t i = 0; i < vms.n; i++) {
		ConfInstance *in = &s->instances[s->n_instances];
		char name[256];

		if (is_masked(vms.paths[i]))
			continue;
		stem(vms.names[i], ".vm", name, sizeof(name));
		c.file = vms.paths[i];
		c.line = 0;
		if (!conf_name_is_valid(name)) {
			conf_diag(&c, CONF_ERROR,
				  "instance file name '%s' is invalid: use letters, digits, '_', "
				  "'.', '-' (at most 64)",
				  name);
			continue;
		}
		snprintf(in->name, sizeof(in->name), "%s", name);
		snprintf(in->file, sizeof(in->file), "%s", vms.paths[i]);
		in->prepare_incoming = true;
		*instance_def = *in;
		c.object = in;
		c.defaults = instance_def;
		r = apply_unit(&c, root, vms.names[i], vms.paths[i]);
		if (r < 0)
			goto fail;
		s->n_instances++;
	}

	for (size_t i = 0; i < s->n_pools; i++)
		check_pool(&c, &s->pools[i]);
	twins = later_name_twins(s);
	for (size_t i = 0; i < s->n_instances; i++) {
		check_instance(&c, s, &s->instances[i]);
		/* Without the index (no memory), every name against every earlier one. */
		for (size_t j = 0; (!twins || twins[i]) && j < i; j++)
			if (strcmp(s->instances[j].name, s->instances[i].name) == 0) {
				c.file = s->instances[i].file;
				c.line = 0;
				conf_diag(&c, CONF_ERROR, "instance name '%s' is also used by %s",
					  s->instances[i].name, s->instances[j].file);
			}
	}
	free(twins);
	check_macs(&c, s);

	name_list_free(&pools);
	name_list_free(&vms);
	name_list_free(&main_conf);
	free(pool_def);
	free(instance_def);
	if (diags->n_errors > errors_before) {
		conf_set_free(s);
		return -EINVAL;
	}
	*out = s;
	return 0;
fail:
	name_list_free(&pools);
	name_list_free(&vms);
	name_list_free(&main_conf);
	free(pool_def);
	free(instance_def);
	conf_set_free(s);
	return r;
}

ConfSet *conf_set_free(ConfSet *s)
{
	if (!s)
		return NULL;
	free(s->pools);
	free(s->instances);
	free(s);
	return NULL;
}

void conf_diags_clear(ConfDiags *d)
{
	free(d->items);
	memset(d, 0, sizeof(*d));
}

void conf_diag_format(const ConfDiag *d, char *buf, size_t size)
{
	const char *sev = d->severity == CONF_ERROR ? "error" : "warning";

	if (d->line)
		snprintf(buf, size, "%s:%u: %s: %s", d->file, d->line, sev, d->message);
	else
		snprintf(buf, size, "%s: %s: %s", d->file, sev, d->message);
}

const ConfPool *conf_set_find_pool(const ConfSet *s, const char *name)
{
	for (size_t i = 0; i < s->n_pools; i++)
		if (strcmp(s->pools[i].name, name) == 0)
			return &s->pools[i];
	return NULL;
}

const ConfInstance *conf_set_find_instance(const ConfSet *s, const char *name)
{
	for (size_t i = 0; i < s->n_instances; i++)
		if (strcmp(s->instances[i].name, name) == 0)
			return &s->instances[i];
	return NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

bool conf_daemon_equal(const ConfDaemon *a, const ConfDaemon *b)
{
	return str_eq(a->state_directory, b->state_directory) &&
	       str_eq(a->listen_qmp, b->listen_qmp) && a->listen_qmp_mode == b->listen_qmp_mode &&
	       str_eq(a->listen_qmp_group, b->listen_qmp_group) &&
	       str_eq(a->admin_group, b->admin_group) && a->log_level == b->log_level &&
	       a->unplug_timeout_ms == b->unplug_timeout_ms &&
	       a->command_timeout_ms == b->command_timeout_ms &&
	       a->negotiate_timeout_ms == b->negotiate_timeout_ms;
}

/* Only the settings that were given count: a reset leaves stale values behind. */
static bool sriov_equal(const ConfSriov *a, const ConfSriov *b)
{
	unsigned set = a->set;

	if (a->set != b->set)
		return false;
	return (!(set & CONF_SRIOV_VLAN) || a->vlan_id == b->vlan_id) &&
	       (!(set & CONF_SRIOV_QOS) || a->qos == b->qos) &&
	       (!(set & CONF_SRIOV_VLAN_PROTO) || a->vlan_802_1ad == b->vlan_802_1ad) &&
	       (!(set & CONF_SRIOV_SPOOFCHK) || a->spoofchk == b->spoofchk) &&
	       (!(set & CONF_SRIOV_RSS_QUERY) || a->rss_query == b->rss_query) &&
	       (!(set & CONF_SRIOV_TRUST) || a->trust == b->trust) &&
	       (!(set & CONF_SRIOV_LINK_STATE) || a->link_state == b->link_state) &&
	       (!(set & CONF_SRIOV_MAX_TX_RATE) || a->max_tx_rate == b->max_tx_rate) &&
	       (!(set & CONF_SRIOV_MIN_TX_RATE) || a->min_tx_rate == b->min_tx_rate);
}

bool conf_pool_equal(const ConfPool *a, const ConfPool *b)
{
	if (!str_eq(a->name, b->name) || a->driver != b->driver || !str_eq(a->model, b->model) ||
	    a->size != b->size || a->n_pfs != b->n_pfs || a->n_ranges != b->n_ranges ||
	    !sriov_equal(&a->sriov, &b->sriov))
		return false;
	for (size_t i = 0; i < a->n_pfs; i++)
		if (!str_eq(a->pfs[i], b->pfs[i]))
			return false;
	for (size_t i = 0; i < a->n_ranges; i++)
		if (a->ranges[i].first != b->ranges[i].first ||
		    a->ranges[i].last != b->ranges[i].last)
			return false;
	return true;
}

bool conf_pair_equal(const ConfPair *a, const ConfPair *b)
{
	return str_eq(a->name, b->name) && str_eq(a->pool, b->pool) && a->has_mac == b->has_mac &&
	       memcmp(a->mac, b->mac, 6) == 0 && str_eq(a->standby, b->standby) &&
	       str_eq(a->standby_netdev, b->standby_netdev) &&
	       str_eq(a->standby_bus, b->standby_bus) && str_eq(a->primary_bus, b->primary_bus) &&
	       str_eq(a->primary_netdev, b->primary_netdev) &&
	       str_eq(a->primary_tap, b->primary_tap) && a->traffic == b->traffic &&
	       a->standby_link_down == b->standby_link_down &&
	       str_eq(a->standby_tap, b->standby_tap) && str_eq(a->uplink, b->uplink);
}

bool conf_instance_equal(const ConfInstance *a, const ConfInstance *b)
{
	if (!str_eq(a->name, b->name) || !str_eq(a->qmp, b->qmp) ||
	    a->unplug_timeout_ms != b->unplug_timeout_ms ||
	    a->negotiate_timeout_ms != b->negotiate_timeout_ms ||
	    a->prepare_incoming != b->prepare_incoming || a->n_pairs != b->n_pairs)
		return false;
	for (size_t i = 0; i < a->n_pairs; i++)
		if (!conf_pair_equal(&a->pairs[i], &b->pairs[i]))
			return false;
	return true;
}

static size_t report(ConfDiffFn fn, void *userdata, ConfObject what, const char *name,
		     ConfChange change)
{
	if (fn)
		fn(what, name, change, userdata);
	return 1;
}

size_t conf_set_diff(const ConfSet *old_set, const ConfSet *new_set, ConfDiffFn fn, void *userdata)
{
	size_t n = 0;

	if (!conf_daemon_equal(&old_set->daemon, &new_set->daemon))
		n += report(fn, userdata, CONF_OBJECT_DAEMON, "failoverd.conf", CONF_CHANGED);
	for (size_t i = 0; i < old_set->n_pools; i++) {
		const ConfPool *o = &old_set->pools[i];
		const ConfPool *p = conf_set_find_pool(new_set, o->name);

		if (!p)
			n += report(fn, userdata, CONF_OBJECT_POOL, o->name, CONF_REMOVED);
		else if (!conf_pool_equal(o, p))
			n += report(fn, userdata, CONF_OBJECT_POOL, o->name, CONF_CHANGED);
	}
	for (size_t i = 0; i < new_set->n_pools; i++)
		if (!conf_set_find_pool(old_set, new_set->pools[i].name))
			n += report(fn, userdata, CONF_OBJECT_POOL, new_set->pools[i].name,
				    CONF_ADDED);
	for (size_t i = 0; i < old_set->n_instances; i++) {
		const ConfInstance *o = &old_set->instances[i];
		const ConfInstance *in = conf_set_find_instance(new_set, o->name);

		if (!in)
			n += report(fn, userdata, CONF_OBJECT_INSTANCE, o->name, CONF_REMOVED);
		else if (!conf_instance_equal(o, in))
			n += report(fn, userdata, CONF_OBJECT_INSTANCE, o->name, CONF_CHANGED);
	}
	for (size_t i = 0; i < new_set->n_instances; i++)
		if (!conf_set_find_instance(old_set, new_set->instances[i].name))
			n += report(fn, userdata, CONF_OBJECT_INSTANCE, new_set->instances[i].name,
				    CONF_ADDED);
	return n;
}
