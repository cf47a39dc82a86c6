/* Configuration → manager objects. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/messages.h"

struct Config {
	char root[256]; /* "" = "/" */
	const Log *log;
	ConfSet *set; /* the last good configuration */
	ConfigDeferred deferred;
};

int config_new(Config **out, const char *root, const Log *log)
{
	Config *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (root && snprintf(c->root, sizeof(c->root), "%s", root) >= (int)sizeof(c->root)) {
		free(c);
		return -ENAMETOOLONG;
	}
	c->log = log;
	*out = c;
	return 0;
}

Config *config_free(Config *c)
{
	if (!c)
		return NULL;
	conf_set_free(c->set);
	free(c);
	return NULL;
}

int config_load(const char *root, const Log *log, ConfSet **out, char *errors, size_t size)
{
	ConfDiags diags = { 0 };
	size_t n = 0;
	int r = conf_load(root, out, &diags);

	if (errors && size)
		errors[0] = 0;
	for (size_t i = 0; i < diags.n; i++) {
		char line[700];
		bool error = diags.items[i].severity == CONF_ERROR;

		conf_diag_format(&diags.items[i], line, sizeof(line));
		log_full(log, error ? LOG_ERR : LOG_WARNING, NULL, "%s", line);
		/* The errors, one per line, for a caller that has no log to show (D-Bus). */
		if (error && errors && n < size) {
			int k = snprintf(errors + n, size - n, "%s%s", n ? "\n" : "", line);

			n = k < 0 ? size : n + (size_t)k;
		}
	}
	conf_diags_clear(&diags);
	return r;
}

static void sriov_settings(const ConfSriov *in, NlVfConfig *out)
{
	memset(out, 0, sizeof(*out));
	if (in->set & CONF_SRIOV_VLAN) {
		out->set |= NL_VF_BIT(NL_VF_VLAN);
		out->vlan = (uint16_t)in->vlan_id;
		out->qos = (uint8_t)in->qos;
		out->vlan_proto = in->vlan_802_1ad ? NL_VF_PROTO_8021AD : NL_VF_PROTO_8021Q;
	}
	if (in->set & CONF_SRIOV_SPOOFCHK) {
		out->set |= NL_VF_BIT(NL_VF_SPOOFCHK);
		out->spoofchk = in->spoofchk;
	}
	if (in->set & CONF_SRIOV_TRUST) {
		out->set |= NL_VF_BIT(NL_VF_TRUST);
		out->trust = in->trust;
	}
	if (in->set & CONF_SRIOV_RSS_QUERY) {
		out->set |= NL_VF_BIT(NL_VF_RSS_QUERY);
		out->rss_query = in->rss_query;
	}
	if (in->set & CONF_SRIOV_LINK_STATE) {
		static const NlVfLinkState map[] = { [CONF_LINK_AUTO] = NL_VF_LINK_AUTO,
						     [CONF_LINK_ENABLE] = NL_VF_LINK_ENABLE,
						     [CONF_LINK_DISABLE] = NL_VF_LINK_DISABLE };

		out->set |= NL_VF_BIT(NL_VF_LINK_STATE);
		out->link_state = map[in->link_state];
	}
	if (in->set & CONF_SRIOV_MAX_TX_RATE) {
		out->set |= NL_VF_BIT(NL_VF_MAX_TX_RATE);
		out->max_tx_rate = in->max_tx_rate;
	}
	if (in->set & CONF_SRIOV_MIN_TX_RATE) {
		out->set |= NL_VF_BIT(NL_VF_MIN_TX_RATE);
		out->min_tx_rate = in->min_tx_rate;
	}
}

static int apply_pool(Manager *m, const ConfPool *p, const char *state_dir)
{
	const char *pfs[CONF_MAX_PFS];
	SriovRange ranges[CONF_MAX_RANGES];
	SriovPoolConfig c = {
		.name = p->name,
		.driver = p->driver == CONF_POOL_EMULATED ? SRIOV_POOL_EMULATED : SRIOV_POOL_VFIO,
		.pfs = pfs,
		.n_pfs = p->n_pfs,
		.ranges = ranges,
		.n_ranges = p->n_ranges,
		.model = p->model,
		.size = p->size,
		.state_dir = state_dir,
	};
	NlVfConfig settings;

	for (size_t i = 0; i < p->n_pfs; i++)
		pfs[i] = p->pfs[i];
	for (size_t i = 0; i < p->n_ranges; i++)
		ranges[i] = (SriovRange){ p->ranges[i].first, p->ranges[i].last };
	sriov_settings(&p->sriov, &settings);
	return manager_add_pool(m, &c, &settings);
}

static void pair_config_from(const ConfPair *p, PairConfig *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	snprintf(out->pool, sizeof(out->pool), "%s", p->pool);
	memcpy(out->mac, p->mac, 6);
	snprintf(out->standby, sizeof(out->standby), "%s", p->standby);
	snprintf(out->standby_netdev, sizeof(out->standby_netdev), "%s", p->standby_netdev);
	snprintf(out->standby_bus, sizeof(out->standby_bus), "%s", p->standby_bus);
	snprintf(out->primary_bus, sizeof(out->primary_bus), "%s", p->primary_bus);
	snprintf(out->primary_netdev, sizeof(out->primary_netdev), "%s", p->primary_netdev);
	snprintf(out->primary_tap, sizeof(out->primary_tap), "%s", p->primary_tap);
	out->traffic = p->traffic;
	out->standby_link_down = p->standby_link_down;
	snprintf(out->standby_tap, sizeof(out->standby_tap), "%s", p->standby_tap);
	snprintf(out->uplink, sizeof(out->uplink), "%s", p->uplink);
}

int config_add_instance(Manager *m, const ConfInstance *in, const ConfDaemon *d, Instance **out)
{
	PairConfig pairs[CONF_MAX_PAIRS];
	ManagerInstanceConfig c = {
		.name = in->name,
		.qmp_path = in->qmp[0] ? in->qmp : NULL,
		.prepare_incoming = in->prepare_incoming,
		.unplug_timeout_ms =
			in->unplug_timeout_ms ? in->unplug_timeout_ms : d->unplug_timeout_ms,
		.negotiate_timeout_ms = in->negotiate_timeout_ms ? in->negotiate_timeout_ms
								 : d->negotiate_timeout_ms,
		.pairs = pairs,
		.n_pairs = in->n_pairs,
	};

	for (size_t k = 0; k < in->n_pairs; k++)
		pair_config_from(&in->pairs[k], &pairs[k]);
	return manager_add_instance(m, &c, out);
}

int config_apply(Manager *m, const ConfSet *s)
{
	const Log *log = manager_get_log(m);
	int r;

	for (size_t i = 0; i < s->n_pools; i++) {
		r = apply_pool(m, &s->pools[i], manager_get_state_dir(m));
		if (r < 0) {
			log_error(log, "pool %s (%s): cannot set up: %s", s->pools[i].name,
				  s->pools[i].file, strerror(-r));
			return r;
		}
	}
	for (size_t i = 0; i < s->n_instances; i++) {
		r = config_add_instance(m, &s->instances[i], &s->daemon, NULL);
		if (r < 0) {
			log_error(log, "instance %s (%s): cannot set up: %s", s->instances[i].name,
				  s->instances[i].file, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* --- reload: apply only what changed --- */

typedef struct Reload {
	Manager *m;
	const ConfSet *old_set, *new_set;
	ConfigDeferred *deferred; /* what this reload could not apply yet */
} Reload;

static void reload_defer(Reload *rl, ConfObject what, const char *instance, const char *name)
{
	ConfigDeferred *d = rl->deferred;

	for (size_t k = 0; k < d->n; k++)
		if (d->items[k].what == what && strcmp(d->items[k].instance, instance) == 0 &&
		    strcmp(d->items[k].name, name) == 0)
			return;
	if (d->n >= CONFIG_MAX_DEFERRED)
		return;
	d->items[d->n].what = what;
	snprintf(d->items[d->n].instance, sizeof(d->items[0].instance), "%s", instance);
	snprintf(d->items[d->n].name, sizeof(d->items[0].name), "%s", name);
	d->n++;
}

static void reload_pool(Reload *rl, const char *name, ConfChange change)
{
	const Log *log = manager_get_log(rl->m);
	const ConfPool *p = conf_set_find_pool(rl->new_set, name);
	int r;

	if (change != CONF_ADDED) {
		r = manager_remove_pool(rl->m, name);
		if (r == -EBUSY) {
			/* Never pull a pool from under VFs in use; the next reload retries. */
			log_warning(log,
				    "pool %s is in use: its %s takes effect once its VFs are "
				    "released and the configuration is reloaded",
				    name, change == CONF_REMOVED ? "removal" : "change");
			reload_defer(rl, CONF_OBJECT_POOL, "", name);
			return;
		}
	}
	if (change == CONF_REMOVED) {
		log_info(log, "pool %s removed", name);
		return;
	}
	r = apply_pool(rl->m, p, manager_get_state_dir(rl->m));
	if (r < 0)
		log_error(log, "pool %s (%s): cannot set up: %s", name, p->file, strerror(-r));
	else
		log_info(log, "pool %s %s", name, change == CONF_ADDED ? "added" : "updated");
}

static bool pair_config_equal(const PairConfig *a, const PairConfig *b)
{
	return strcmp(a->pool, b->pool) == 0 && memcmp(a->mac, b->mac, 6) == 0 &&
	       strcmp(a->standby, b->standby) == 0 &&
	       strcmp(a->standby_netdev, b->standby_netdev) == 0 &&
	       strcmp(a->standby_bus, b->standby_bus) == 0 &&
	       strcmp(a->primary_bus, b->primary_bus) == 0 &&
	       strcmp(a->primary_netdev, b->primary_netdev) == 0 &&
	       strcmp(a->primary_tap, b->primary_tap) == 0 && a->traffic == b->traffic &&
	       a->standby_link_down == b->standby_link_down &&
	       strcmp(a->standby_tap, b->standby_tap) == 0 && strcmp(a->uplink, b->uplink) == 0;
}

/* @np: the pair's new configuration, NULL when it was removed from it. */
static void reload_pair(Reload *rl, Instance *i, Pair *p, const ConfPair *np)
{
	const Log *log = manager_get_log(rl->m);
	PairConfig c;

	if (!np) {
		log_info(log, "pair %s/%s removed from the configuration: detaching", i->name,
			 p->config.name);
		pair_retire(p);
		return;
	}
	pair_config_from(np, &c);
	if (pair_config_equal(&c, &p->config) && !p->detach_requested)
		return; /* unchanged pairs are never disturbed */
	if (p->has_vf) {
		log_warning(log,
			    "pair %s/%s changed while it holds VF %s: detach it, then reload, to "
			    "apply the change",
			    i->name, p->config.name, p->vf.id);
		reload_defer(rl, CONF_OBJECT_INSTANCE, i->name, p->config.name);
		return;
	}
	log_pair_info(p, "new configuration applied");
	pair_reattach(p, &c);
}

static const ConfPair *conf_instance_find_pair(const ConfInstance *in, const char *name)
{
	for (size_t j = 0; in && j < in->n_pairs; j++)
		if (strcmp(in->pairs[j].name, name) == 0)
			return &in->pairs[j];
	return NULL;
}

static void reload_pairs(Reload *rl, Instance *i, const ConfInstance *o, const ConfInstance *n)
{
	const Log *log = manager_get_log(rl->m);

	for (size_t k = 0; o && k < o->n_pairs; k++) {
		Pair *p = instance_find_pair(i, o->pairs[k].name);

		if (p && !p->config.adhoc)
			reload_pair(rl, i, p, conf_instance_find_pair(n, o->pairs[k].name));
	}
	for (size_t j = 0; j < n->n_pairs; j++) {
		Pair *p = instance_find_pair(i, n->pairs[j].name);
		PairConfig c;

		if (p) {
			if (!conf_instance_find_pair(o, n->pairs[j].name))
				reload_pair(rl, i, p, &n->pairs[j]); /* back in the configuration */
			continue;
		}
		pair_config_from(&n->pairs[j], &c);
		if (instance_add_pair(i, &c, &p) == 0) {
			log_info(log, "pair %s/%s added", i->name, c.name);
			pair_attach(p);
		}
	}
}

static void reload_instance_settings(Reload *rl, Instance *i, const ConfInstance *n)
{
	const ConfDaemon *d = &rl->new_set->daemon;

	instance_set_settings(i, n->prepare_incoming,
			      n->unplug_timeout_ms ? n->unplug_timeout_ms : d->unplug_timeout_ms,
			      n->negotiate_timeout_ms ? n->negotiate_timeout_ms
						      : d->negotiate_timeout_ms);
}

static void reload_instance(Reload *rl, const char *name, ConfChange change)
{
	const Log *log = manager_get_log(rl->m);
	const ConfInstance *o = conf_set_find_instance(rl->old_set, name);
	const ConfInstance *n = conf_set_find_instance(rl->new_set, name);
	Instance *i = manager_find_instance(rl->m, name);
	int r;

	if (change == CONF_ADDED && !i) {
		r = config_add_instance(rl->m, n, &rl->new_set->daemon, &i);
		if (r < 0) {
			log_error(log, "instance %s (%s): cannot set up: %s", name, n->file,
				  strerror(-r));
			return;
		}
		log_info(log, "instance %s added", name);
		manager_connect_instance(rl->m, i);
		return;
	}
	if (!i)
		return;
	if (change == CONF_REMOVED) {
		log_info(log, "instance %s removed from the configuration: detaching its pairs",
			 name);
		manager_retire_instance(rl->m, i);
		return;
	}
	if (change == CONF_ADDED) {
		/* Known already (retired earlier, or holding ad-hoc pairs): take it back. */
		log_info(log, "instance %s added back", name);
		o = NULL;
		manager_revive_instance(rl->m, i, n->qmp[0] ? n->qmp : NULL);
	} else if (strcmp(o->qmp, n->qmp) != 0) {
		log_instance_warning(i, "a new QMP= applies after a restart");
	}
	reload_instance_settings(rl, i, n);
	reload_pairs(rl, i, o, n);
}

static void reload_one(ConfObject what, const char *name, ConfChange change, void *userdata)
{
	Reload *rl = userdata;

	if (what == CONF_OBJECT_POOL)
		reload_pool(rl, name, change);
	else if (what == CONF_OBJECT_INSTANCE)
		reload_instance(rl, name, change);
	else
		log_warning(manager_get_log(rl->m),
			    "failoverd.conf changed: [Daemon] settings apply after a restart");
}

/* A change deferred by an earlier reload, tried again against the new set. */
static void reload_retry(Reload *rl, const ConfigDeferredItem *d)
{
	if (d->what == CONF_OBJECT_POOL) {
		bool have = manager_pool_driver(rl->m, d->name) != NULL;
		bool want = conf_set_find_pool(rl->new_set, d->name) != NULL;

		if (have || want)
			reload_pool(rl, d->name,
				    !have  ? CONF_ADDED
				    : want ? CONF_CHANGED
					   : CONF_REMOVED);
	} else {
		Instance *i = manager_find_instance(rl->m, d->instance);
		const ConfInstance *n = conf_set_find_instance(rl->new_set, d->instance);
		Pair *p = i ? instance_find_pair(i, d->name) : NULL;

		if (p && !p->config.adhoc)
			reload_pair(rl, i, p, n ? conf_instance_find_pair(n, d->name) : NULL);
	}
}

static bool deferred_in_diff(const ConfSet *a, const ConfSet *b, const ConfigDeferredItem *d)
{
	if (d->what == CONF_OBJECT_POOL) {
		const ConfPool *x = conf_set_find_pool(a, d->name),
			       *y = conf_set_find_pool(b, d->name);

		return !x != !y || (x && !conf_pool_equal(x, y));
	}
	{
		const ConfInstance *x = conf_set_find_instance(a, d->instance);
		const ConfInstance *y = conf_set_find_instance(b, d->instance);

		return !x != !y || (x && !conf_instance_equal(x, y));
	}
}

/* The difference between two valid sets, applied; @deferred: what still waits. */
static void reload_apply(Manager *m, const ConfSet *old_set, const ConfSet *new_set,
			 ConfigDeferred *deferred)
{
	ConfigDeferred before = *deferred;
	Reload rl = { m, old_set, new_set, deferred };
	size_t n;

	deferred->n = 0;
	n = conf_set_diff(old_set, new_set, reload_one, &rl);
	/* The diff only sees what changed on disk; what waited is tried again. */
	for (size_t k = 0; k < before.n; k++)
		if (!deferred_in_diff(old_set, new_set, &before.items[k])) {
			reload_retry(&rl, &before.items[k]);
			n++;
		}
	log_full(manager_get_log(m), LOG_INFO, (const char *const[]){ MESSAGE_RELOADED, NULL },
		 "configuration reloaded: %zu change%s", n, n == 1 ? "" : "s");
}

int config_start(Config *c, Manager *m, ConfSet *set)
{
	int r = config_apply(m, set);

	if (r < 0)
		return r;
	conf_set_free(c->set);
	c->set = set;
	return 0;
}

int config_reload(Config *c, Manager *m, char *err, size_t size)
{
	ConfSet *set = NULL;
	char errors[2048];
	int r;

	log_info(c->log, "reloading configuration");
	r = config_load(c->root[0] ? c->root : NULL, c->log, &set, errors, sizeof(errors));
	if (r < 0) {
		snprintf(err, size,
			 "the new configuration is invalid; keeping the last good one:\n%s",
			 errors[0] ? errors : strerror(-r));
		log_full(c->log, LOG_ERR, (const char *const[]){ MESSAGE_RELOAD_FAILED, NULL },
			 "the new configuration is invalid; keeping the last good one");
		return r;
	}
	if (c->set)
		reload_apply(m, c->set, set, &c->deferred);
	conf_set_free(c->set);
	c->set = set;
	return 0;
}
