/* INI parsing into the typed model, driven by one key table per file kind. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf/conf-internal.h"

void conf_diag(ConfCtx *c, ConfSeverity sev, const char *fmt, ...)
{
	ConfDiags *d = c->diags;
	ConfDiag *e;
	va_list ap;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		ConfDiag *items = realloc(d->items, cap * sizeof(*items));

		if (!items)
			return; /* out of memory: the diagnostic is lost, not the error count */
		d->items = items;
		d->cap = cap;
	}
	e = &d->items[d->n++];
	e->severity = sev;
	snprintf(e->file, sizeof(e->file), "%s", c->file ? c->file : "");
	e->line = c->line;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	if (sev == CONF_ERROR)
		d->n_errors++;
}

/* --- value parsers for the tables --- */

typedef struct KeyEntry KeyEntry;
typedef bool (*KeyParser)(ConfCtx *c, const KeyEntry *k, const char *value, void *field);

struct KeyEntry {
	const char *section;
	const char *key;
	KeyParser parse;
	size_t offset;
	size_t size;  /* string fields: buffer size */
	unsigned bit; /* [SR-IOV]: CONF_SRIOV_* */
	unsigned min, max;
	const char *accepted; /* how to say what is valid */
};

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONF_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

/* QEMU device and netdev ids: a letter, then letters, digits, '-', '.', '_'. */
static bool valid_qemu_id(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	return valid_name(s);
}

static bool invalid(ConfCtx *c, const KeyEntry *k, const char *value)
{
	conf_diag(c, CONF_ERROR, "invalid %s=%s: expected %s", k->key, value, k->accepted);
	return false;
}

static bool parse_name(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (!valid_name(value))
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

static bool parse_qemu_id(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (!valid_qemu_id(value))
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

static bool parse_abs_path(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (value[0] != '/' || strlen(value) >= k->size || strstr(value, "/../") ||
	    strchr(value, '\n'))
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

static bool parse_instance_name(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	/* QEMU's -name is free text; keep it printable and usable in paths. */
	if (!*value || strlen(value) >= k->size || strchr(value, '/'))
		return invalid(c, k, value);
	for (const char *s = value; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

static bool parse_duration(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	unsigned ms;

	if (conf_parse_duration_ms(value, &ms) < 0 || ms == 0)
		return invalid(c, k, value);
	*(unsigned *)field = ms;
	return true;
}

static bool parse_bool_field(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	bool b;

	if (!conf_parse_bool(value, &b))
		return invalid(c, k, value);
	*(bool *)field = b;
	return true;
}

static bool parse_log_level(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	static const char *const names[] = { [LOG_ERR] = "err",
					     [LOG_WARNING] = "warning",
					     [LOG_NOTICE] = "notice",
					     [LOG_INFO] = "info",
					     [LOG_DEBUG] = "debug" };

	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(value, names[i]) == 0) {
			*(int *)field = i;
			return true;
		}
	return invalid(c, k, value);
}

static bool parse_uint_field(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (!*value || *value == '-' || *end || errno || v < k->min || v > k->max)
		return invalid(c, k, value);
	*(unsigned *)field = (unsigned)v;
	return true;
}

static bool parse_driver(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (strcmp(value, "vfio") == 0)
		*(ConfPoolDriver *)field = CONF_POOL_VFIO;
	else if (strcmp(value, "emulated") == 0)
		*(ConfPoolDriver *)field = CONF_POOL_EMULATED;
	else
		return invalid(c, k, value);
	return true;
}

static bool parse_model(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (!valid_qemu_id(value) || strlen(value) >= k->size)
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

static bool is_bdf(const char *s)
{
	unsigned d, b, dev, f;
	char tail;

	return strlen(s) == 12 && sscanf(s, "%4x:%2x:%2x.%1x%c", &d, &b, &dev, &f, &tail) == 4 &&
	       s[4] == ':' && s[7] == ':' && s[10] == '.' && dev < 32 && f < 8;
}

static bool is_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool parse_pf(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	ConfPool *p = c->object;

	if (!*value) { /* an empty assignment resets the list, as in systemd */
		p->n_pfs = 0;
		return true;
	}
	if (!is_bdf(value) && !is_ifname(value))
		return invalid(c, k, value);
	if (p->n_pfs == CONF_MAX_PFS) {
		conf_diag(c, CONF_ERROR, "too many %s= (at most %d)", k->key, CONF_MAX_PFS);
		return false;
	}
	snprintf(p->pfs[p->n_pfs++], sizeof(p->pfs[0]), "%s", value);
	return true;
}

static bool parse_vf_ranges(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	ConfPool *p = c->object;
	size_t n;

	if (!*value) {
		p->n_ranges = 0;
		return true;
	}
	if (conf_parse_ranges(value, p->ranges + p->n_ranges, CONF_MAX_RANGES - p->n_ranges, &n) <
	    0)
		return invalid(c, k, value);
	p->n_ranges += n;
	return true;
}

static bool parse_mac_field(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	ConfPair *p = c->pair;
	int r = conf_parse_mac(value, p->mac);

	if (r == -EADDRNOTAVAIL) {
		conf_diag(c, CONF_ERROR, "invalid %s=%s: a pair needs a unicast, non-zero MAC",
			  k->key, value);
		return false;
	}
	if (r < 0)
		return invalid(c, k, value);
	p->has_mac = true;
	return true;
}

/* [SR-IOV] keys set a bit saying they were given at all. */
static bool sriov_set(ConfCtx *c, const KeyEntry *k, bool ok)
{
	if (ok)
		((ConfPool *)c->object)->sriov.set |= k->bit;
	return ok;
}

static bool parse_sriov_uint(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	return sriov_set(c, k, parse_uint_field(c, k, value, field));
}

static bool parse_sriov_bool(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	return sriov_set(c, k, parse_bool_field(c, k, value, field));
}

static bool parse_vlan_proto(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (strcmp(value, "802.1Q") == 0 || strcmp(value, "802.1q") == 0)
		*(bool *)field = false;
	else if (strcmp(value, "802.1ad") == 0 || strcmp(value, "802.1AD") == 0)
		*(bool *)field = true;
	else
		return invalid(c, k, value);
	return sriov_set(c, k, true);
}

static bool parse_link_state(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	bool b;

	if (strcmp(value, "auto") == 0)
		*(ConfLinkState *)field = CONF_LINK_AUTO;
	else if (conf_parse_bool(value, &b))
		*(ConfLinkState *)field = b ? CONF_LINK_ENABLE : CONF_LINK_DISABLE;
	else
		return invalid(c, k, value);
	return sriov_set(c, k, true);
}

#define DAEMON(f)   offsetof(ConfDaemon, f), sizeof(((ConfDaemon *)0)->f)
#define POOL(f)	    offsetof(ConfPool, f), sizeof(((ConfPool *)0)->f)
#define SRIOV(f)    offsetof(ConfPool, sriov.f), sizeof(((ConfPool *)0)->sriov.f)
#define INSTANCE(f) offsetof(ConfInstance, f), sizeof(((ConfInstance *)0)->f)
#define PAIR(f)	    offsetof(ConfPair, f), sizeof(((ConfPair *)0)->f)

static const char BOOL[] = "a boolean (yes/no, true/false, on/off, 1/0)";
static const char DURATION[] = "a positive duration in seconds, or with ms, s or min";
static const char NAME[] = "a name of letters, digits, '_', '.', '-' (at most 64)";
static const char QEMU_ID[] = "a QEMU id: a letter, then letters, digits, '_', '.', '-'";
static const char PATH[] = "an absolute path (shorter than 108 bytes for sockets)";

static const KeyEntry daemon_keys[] = {
	{ "Daemon", "StateDirectory", parse_abs_path, DAEMON(state_directory), 0, 0, 0, PATH },
	{ "Daemon", "ListenQMP", parse_abs_path, DAEMON(listen_qmp), 0, 0, 0, PATH },
	{ "Daemon", "AdminGroup", parse_name, DAEMON(admin_group), 0, 0, 0, NAME },
	{ "Daemon", "LogLevel", parse_log_level, DAEMON(log_level), 0, 0, 0,
	  "err, warning, notice, info or debug" },
	{ "Daemon", "UnplugTimeoutSec", parse_duration, DAEMON(unplug_timeout_ms), 0, 0, 0,
	  DURATION },
	{ "Daemon", "CommandTimeoutSec", parse_duration, DAEMON(command_timeout_ms), 0, 0, 0,
	  DURATION },
	{ "Daemon", "NegotiateTimeoutSec", parse_duration, DAEMON(negotiate_timeout_ms), 0, 0, 0,
	  DURATION },
	{},
};

static const KeyEntry pool_keys[] = {
	{ "Pool", "PhysicalFunction", parse_pf, 0, 0, 0, 0, 0,
	  "a netdev name or a PCI address like 0000:01:00.0" },
	{ "Pool", "VirtualFunctions", parse_vf_ranges, 0, 0, 0, 0, 0,
	  "VF index ranges like 0-3,6" },
	{ "Pool", "Driver", parse_driver, POOL(driver), 0, 0, 0, "vfio or emulated" },
	{ "Pool", "Model", parse_model, POOL(model), 0, 0, 0, "a QEMU NIC model such as e1000e" },
	{ "Pool", "Size", parse_uint_field, POOL(size), 0, 1, 256, "an integer 1-256" },
	{ "SR-IOV", "VLANId", parse_sriov_uint, SRIOV(vlan_id), CONF_SRIOV_VLAN, 1, 4094,
	  "an integer 1-4094" },
	{ "SR-IOV", "QualityOfService", parse_sriov_uint, SRIOV(qos), CONF_SRIOV_QOS, 0, 7,
	  "an integer 0-7" },
	{ "SR-IOV", "VLANProtocol", parse_vlan_proto, SRIOV(vlan_802_1ad), CONF_SRIOV_VLAN_PROTO, 0,
	  0, "802.1Q or 802.1ad" },
	{ "SR-IOV", "MACSpoofCheck", parse_sriov_bool, SRIOV(spoofchk), CONF_SRIOV_SPOOFCHK, 0, 0,
	  BOOL },
	{ "SR-IOV", "QueryReceiveSideScaling", parse_sriov_bool, SRIOV(rss_query),
	  CONF_SRIOV_RSS_QUERY, 0, 0, BOOL },
	{ "SR-IOV", "Trust", parse_sriov_bool, SRIOV(trust), CONF_SRIOV_TRUST, 0, 0, BOOL },
	{ "SR-IOV", "LinkState", parse_link_state, SRIOV(link_state), CONF_SRIOV_LINK_STATE, 0, 0,
	  "yes, no or auto" },
	{ "SR-IOV", "MaxTxRateMbps", parse_sriov_uint, SRIOV(max_tx_rate), CONF_SRIOV_MAX_TX_RATE,
	  0, 1000000, "an integer 0-1000000 (Mbit/s, 0 = unlimited)" },
	{ "SR-IOV", "MinTxRateMbps", parse_sriov_uint, SRIOV(min_tx_rate), CONF_SRIOV_MIN_TX_RATE,
	  0, 1000000, "an integer 0-1000000 (Mbit/s)" },
	{},
};

static const KeyEntry instance_keys[] = {
	{ "Instance", "Name", parse_instance_name, INSTANCE(name), 0, 0, 0,
	  "QEMU's -name: printable, without '/'" },
	{ "Instance", "QMP", parse_abs_path, INSTANCE(qmp), 0, 0, 0, PATH },
	{ "Instance", "UnplugTimeoutSec", parse_duration, INSTANCE(unplug_timeout_ms), 0, 0, 0,
	  DURATION },
	{ "Instance", "NegotiateTimeoutSec", parse_duration, INSTANCE(negotiate_timeout_ms), 0, 0,
	  0, DURATION },
	{ "Instance", "PrepareIncoming", parse_bool_field, INSTANCE(prepare_incoming), 0, 0, 0,
	  BOOL },
	{ "Pair", "Name", parse_name, PAIR(name), 0, 0, 0, NAME },
	{ "Pair", "Pool", parse_name, PAIR(pool), 0, 0, 0, NAME },
	{ "Pair", "MACAddress", parse_mac_field, 0, 0, 0, 0, 0,
	  "a MAC address like 52:54:00:aa:bb:01" },
	{ "Pair", "Standby", parse_qemu_id, PAIR(standby), 0, 0, 0, QEMU_ID },
	{ "Pair", "StandbyNetdev", parse_qemu_id, PAIR(standby_netdev), 0, 0, 0, QEMU_ID },
	{ "Pair", "StandbyBus", parse_qemu_id, PAIR(standby_bus), 0, 0, 0, QEMU_ID },
	{},
};

static const KeyEntry *const tables[] = {
	[CONF_KIND_DAEMON] = daemon_keys,
	[CONF_KIND_POOL] = pool_keys,
	[CONF_KIND_INSTANCE] = instance_keys,
};

static bool section_known(ConfKind kind, const char *section)
{
	for (const KeyEntry *k = tables[kind]; k->key; k++)
		if (strcmp(k->section, section) == 0)
			return true;
	return false;
}

static void assign(ConfCtx *c, const char *key, const char *value)
{
	const KeyEntry *k;
	char *base;

	for (k = tables[c->kind]; k->key; k++)
		if (strcmp(k->section, c->section) == 0 && strcmp(k->key, key) == 0)
			break;
	if (!k->key) {
		conf_diag(c, CONF_WARNING, "unknown key '%s' in section [%s], ignoring", key,
			  c->section);
		return;
	}
	base = strcmp(c->section, "Pair") == 0 ? (char *)c->pair : (char *)c->object;
	k->parse(c, k, value, base + k->offset);
}

static void section_begin(ConfCtx *c, const char *name)
{
	snprintf(c->section, sizeof(c->section), "%s", name);
	c->section_known = section_known(c->kind, name);
	if (!c->section_known) {
		conf_diag(c, CONF_WARNING, "unknown section [%s], ignoring", name);
		return;
	}
	if (strcmp(name, "Pair") == 0) {
		ConfInstance *i = c->object;

		if (i->n_pairs == CONF_MAX_PAIRS) {
			conf_diag(c, CONF_ERROR, "too many [Pair] sections (at most %d)",
				  CONF_MAX_PAIRS);
			c->section_known = false;
			return;
		}
		c->pair = &i->pairs[i->n_pairs++];
		memset(c->pair, 0, sizeof(*c->pair));
		c->pair->line = c->line;
		snprintf(c->pair->file, sizeof(c->pair->file), "%s", c->file);
	}
}

static char *strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

int conf_parse_file(ConfCtx *c, const char *path)
{
	char *buf = NULL, *line = NULL;
	size_t cap = 0, len = 0;
	unsigned first_line = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		int r = -errno;

		c->file = path;
		c->line = 0;
		conf_diag(c, CONF_ERROR, "cannot read: %s", strerror(-r));
		return r;
	}
	c->file = path;
	c->line = 0;
	c->section[0] = 0;
	c->section_known = false;
	while (getline(&line, &cap, f) >= 0) {
		char *s, *eq;
		size_t n;

		c->line++;
		/* Trailing backslash: continue the assignment on the next line. */
		n = strlen(line);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		{
			char *joined = realloc(buf, len + n + 2);

			if (!joined)
				break;
			buf = joined;
			if (len == 0)
				first_line = c->line;
			memcpy(buf + len, line, n + 1);
			len += n;
		}
		if (len && buf[len - 1] == '\\') {
			buf[--len] = ' ';
			len++;
			buf[len] = 0;
			continue;
		}
		len = 0;
		{
			unsigned cur = c->line;

			c->line = first_line;
			s = strip(buf);
			if (!*s || *s == '#' || *s == ';') {
				c->line = cur;
				continue;
			}
			if (*s == '[') {
				char *end = strchr(s, ']');

				if (!end || end[1] != 0 || end == s + 1)
					conf_diag(c, CONF_ERROR, "invalid section header '%s'", s);
				else {
					*end = 0;
					section_begin(c, s + 1);
				}
				c->line = cur;
				continue;
			}
			eq = strchr(s, '=');
			if (!eq) {
				conf_diag(c, CONF_ERROR, "expected Key=Value, found '%s'", s);
			} else if (!c->section[0]) {
				conf_diag(c, CONF_ERROR, "assignment outside of any section");
			} else if (c->section_known) {
				*eq = 0;
				assign(c, strip(s), strip(eq + 1));
			}
			c->line = cur;
		}
	}
	free(line);
	free(buf);
	fclose(f);
	return 0;
}
