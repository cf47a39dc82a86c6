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

int config_add_instance(Manager *m, const ConfInstance *in, const ConfDaemon *d)
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

	for (size_t k = 0; k < in->n_pairs; k++) {
		const ConfPair *p = &in->pairs[k];

		memset(&pairs[k], 0, sizeof(pairs[k]));
		snprintf(pairs[k].name, sizeof(pairs[k].name), "%s", p->name);
		snprintf(pairs[k].pool, sizeof(pairs[k].pool), "%s", p->pool);
		memcpy(pairs[k].mac, p->mac, 6);
		snprintf(pairs[k].standby, sizeof(pairs[k].standby), "%s", p->standby);
		snprintf(pairs[k].standby_netdev, sizeof(pairs[k].standby_netdev), "%s",
			 p->standby_netdev);
		snprintf(pairs[k].standby_bus, sizeof(pairs[k].standby_bus), "%s", p->standby_bus);
	}
	return manager_add_instance(m, &c, NULL);
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
		r = config_add_instance(m, &s->instances[i], &s->daemon);
		if (r < 0) {
			log_error(log, "instance %s (%s): cannot set up: %s", s->instances[i].name,
				  s->instances[i].file, strerror(-r));
			return r;
		}
	}
	return 0;
}
