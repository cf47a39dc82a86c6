/* The effective configuration, printed back in the files' own syntax. */

#include <string.h>
#include <syslog.h>

#include "conf/conf.h"

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

static void dump_ms(FILE *f, const char *key, unsigned ms)
{
	if (ms % 1000)
		fprintf(f, "%s=%ums\n", key, ms);
	else
		fprintf(f, "%s=%u\n", key, ms / 1000);
}

/* "# a.pool (/etc/failoverd/a.pool)": which file, and where it was found. */
static void dump_header(FILE *f, const char *path)
{
	const char *base = strrchr(path, '/');

	fprintf(f, "\n# %s (%s)\n", base ? base + 1 : path, path);
}

static void dump_pool(const ConfPool *p, FILE *f)
{
	const ConfSriov *v = &p->sriov;
	static const char *const link[] = { "auto", "yes", "no" };

	dump_header(f, p->file);
	fprintf(f, "[Pool]\n");
	fprintf(f, "Driver=%s\n", p->driver == CONF_POOL_EMULATED ? "emulated" : "vfio");
	for (size_t i = 0; i < p->n_pfs; i++)
		fprintf(f, "PhysicalFunction=%s\n", p->pfs[i]);
	if (p->n_ranges) {
		fprintf(f, "VirtualFunctions=");
		for (size_t i = 0; i < p->n_ranges; i++) {
			fprintf(f, "%s%u", i ? "," : "", p->ranges[i].first);
			if (p->ranges[i].last != p->ranges[i].first)
				fprintf(f, "-%u", p->ranges[i].last);
		}
		fputc('\n', f);
	}
	if (p->model[0])
		fprintf(f, "Model=%s\n", p->model);
	if (p->driver == CONF_POOL_EMULATED || p->size != CONF_POOL_DEFAULT_SIZE)
		fprintf(f, "Size=%u\n", p->size);
	if (!v->set)
		return;
	fprintf(f, "[SR-IOV]\n");
	if (v->set & CONF_SRIOV_VLAN)
		fprintf(f, "VLANId=%u\n", v->vlan_id);
	if (v->set & CONF_SRIOV_QOS)
		fprintf(f, "QualityOfService=%u\n", v->qos);
	if (v->set & CONF_SRIOV_VLAN_PROTO)
		fprintf(f, "VLANProtocol=%s\n", v->vlan_802_1ad ? "802.1ad" : "802.1Q");
	if (v->set & CONF_SRIOV_SPOOFCHK)
		fprintf(f, "MACSpoofCheck=%s\n", yesno(v->spoofchk));
	if (v->set & CONF_SRIOV_RSS_QUERY)
		fprintf(f, "QueryReceiveSideScaling=%s\n", yesno(v->rss_query));
	if (v->set & CONF_SRIOV_TRUST)
		fprintf(f, "Trust=%s\n", yesno(v->trust));
	if (v->set & CONF_SRIOV_LINK_STATE)
		fprintf(f, "LinkState=%s\n", link[v->link_state]);
	if (v->set & CONF_SRIOV_MAX_TX_RATE)
		fprintf(f, "MaxTxRateMbps=%u\n", v->max_tx_rate);
	if (v->set & CONF_SRIOV_MIN_TX_RATE)
		fprintf(f, "MinTxRateMbps=%u\n", v->min_tx_rate);
}

static void dump_instance(const ConfInstance *in, FILE *f)
{
	dump_header(f, in->file);
	fprintf(f, "[Instance]\nName=%s\n", in->name);
	if (in->qmp[0])
		fprintf(f, "QMP=%s\n", in->qmp);
	if (in->unplug_timeout_ms)
		dump_ms(f, "UnplugTimeoutSec", in->unplug_timeout_ms);
	if (in->negotiate_timeout_ms)
		dump_ms(f, "NegotiateTimeoutSec", in->negotiate_timeout_ms);
	fprintf(f, "PrepareIncoming=%s\n", yesno(in->prepare_incoming));
	for (size_t i = 0; i < in->n_pairs; i++) {
		const ConfPair *p = &in->pairs[i];
		const uint8_t *m = p->mac;

		fprintf(f, "[Pair]\nName=%s\nPool=%s\n", p->name, p->pool);
		fprintf(f, "MACAddress=%02x:%02x:%02x:%02x:%02x:%02x\n", m[0], m[1], m[2], m[3],
			m[4], m[5]);
		if (p->standby[0])
			fprintf(f, "Standby=%s\n", p->standby);
		if (p->standby_netdev[0])
			fprintf(f, "StandbyNetdev=%s\n", p->standby_netdev);
		if (p->standby_bus[0])
			fprintf(f, "StandbyBus=%s\n", p->standby_bus);
		if (p->primary_bus[0])
			fprintf(f, "PrimaryBus=%s\n", p->primary_bus);
		if (p->primary_netdev[0])
			fprintf(f, "PrimaryNetdev=%s\n", p->primary_netdev);
		if (p->primary_tap[0])
			fprintf(f, "PrimaryTap=%s\n", p->primary_tap);
		if (p->traffic) {
			fprintf(f, "TrafficHandling=yes\nStandbyLinkDown=%s\n",
				yesno(p->standby_link_down));
			if (p->standby_tap[0])
				fprintf(f, "StandbyTap=%s\n", p->standby_tap);
			if (p->uplink[0])
				fprintf(f, "Uplink=%s\n", p->uplink);
		}
	}
}

void conf_set_dump(const ConfSet *s, FILE *f)
{
	static const char *const levels[] = { [LOG_ERR] = "err",
					      [LOG_WARNING] = "warning",
					      [LOG_NOTICE] = "notice",
					      [LOG_INFO] = "info",
					      [LOG_DEBUG] = "debug" };
	const ConfDaemon *d = &s->daemon;

	fprintf(f, "# failoverd.conf\n[Daemon]\nStateDirectory=%s\n", d->state_directory);
	if (d->listen_qmp[0])
		fprintf(f, "ListenQMP=%s\nListenQMPMode=%04o\n", d->listen_qmp, d->listen_qmp_mode);
	if (d->listen_qmp_group[0])
		fprintf(f, "ListenQMPGroup=%s\n", d->listen_qmp_group);
	if (d->admin_group[0])
		fprintf(f, "AdminGroup=%s\n", d->admin_group);
	fprintf(f, "LogLevel=%s\n", levels[d->log_level]);
	dump_ms(f, "UnplugTimeoutSec", d->unplug_timeout_ms);
	dump_ms(f, "CommandTimeoutSec", d->command_timeout_ms);
	dump_ms(f, "NegotiateTimeoutSec", d->negotiate_timeout_ms);
	for (size_t i = 0; i < s->n_pools; i++)
		dump_pool(&s->pools[i], f);
	for (size_t i = 0; i < s->n_instances; i++)
		dump_instance(&s->instances[i], f);
}
