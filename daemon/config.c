/* Configuration → manager objects. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"

int config_load(const char *root, const Log *log, ConfSet **out)
{
	ConfDiags diags = { 0 };
	int r = conf_load(root, out, &diags);

	for (size_t i = 0; i < diags.n; i++) {
		char line[700];

		conf_diag_format(&diags.items[i], line, sizeof(line));
		log_full(log, diags.items[i].severity == CONF_ERROR ? LOG_ERR : LOG_WARNING, NULL,
			 "%s", line);
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
} Reload;

static void reload_pool(Reload *rl, const char *name, ConfChange change)
{
	const Log *log = manager_get_log(rl->m);
	const ConfPool *p = conf_set_find_pool(rl->new_set, name);
	int r;

	if (change != CONF_ADDED) {
		r = manager_remove_pool(rl->m, name);
		if (r == -EBUSY) {
			/* Never pull a pool from under VFs in use; next reload retries. */
			log_warning(log,
				    "pool %s is in use: its %s takes effect once its VFs are "
				    "released and the configuration is reloaded",
				    name, change == CONF_REMOVED ? "removal" : "change");
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

static void reload_pairs(Reload *rl, Instance *i, const ConfInstance *o, const ConfInstance *n)
{
	const Log *log = manager_get_log(rl->m);

	for (size_t k = 0; k < o->n_pairs; k++) {
		const ConfPair *op = &o->pairs[k];
		const ConfPair *np = NULL;
		Pair *p = instance_find_pair(i, op->name);

		for (size_t j = 0; j < n->n_pairs; j++)
			if (strcmp(n->pairs[j].name, op->name) == 0)
				np = &n->pairs[j];
		if (!p || (np && conf_pair_equal(op, np)))
			continue; /* unchanged pairs are never disturbed */
		if (!np) {
			log_info(log, "pair %s/%s removed from the configuration: detaching",
				 i->name, op->name);
			pair_detach(p);
		} else if (p->has_vf) {
			log_warning(
				log,
				"pair %s/%s changed while it holds VF %s: detach it to apply the "
				"change",
				i->name, op->name, p->vf.id);
		} else {
			pair_config_from(np, &p->config);
			pair_attach(p);
		}
	}
	for (size_t j = 0; j < n->n_pairs; j++) {
		PairConfig c;
		Pair *p;

		if (instance_find_pair(i, n->pairs[j].name))
			continue;
		pair_config_from(&n->pairs[j], &c);
		if (instance_add_pair(i, &c, &p) == 0) {
			log_info(log, "pair %s/%s added", i->name, c.name);
			pair_attach(p);
		}
	}
}

static void reload_instance(Reload *rl, const char *name, ConfChange change)
{
	const Log *log = manager_get_log(rl->m);
	const ConfInstance *o = conf_set_find_instance(rl->old_set, name);
	const ConfInstance *n = conf_set_find_instance(rl->new_set, name);
	Instance *i = manager_find_instance(rl->m, name);
	int r;

	if (change == CONF_ADDED) {
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
	i->prepare_incoming = n->prepare_incoming;
	i->unplug_timeout_ms =
		n->unplug_timeout_ms ? n->unplug_timeout_ms : rl->new_set->daemon.unplug_timeout_ms;
	i->negotiate_timeout_ms = n->negotiate_timeout_ms
					  ? n->negotiate_timeout_ms
					  : rl->new_set->daemon.negotiate_timeout_ms;
	if (strcmp(o->qmp, n->qmp) != 0)
		log_warning(log, "instance %s: a new QMP= applies after a restart", name);
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

void config_reload(Manager *m, const ConfSet *old_set, const ConfSet *new_set)
{
	Reload rl = { m, old_set, new_set };
	size_t n = conf_set_diff(old_set, new_set, reload_one, &rl);

	log_info(manager_get_log(m), "configuration reloaded: %zu change%s", n, n == 1 ? "" : "s");
}
