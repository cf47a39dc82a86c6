/* INI parsing into the typed model, driven by one key table per file kind. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <syslog.h>

#include "conf/conf-internal.h"

void conf_diag(ConfCtx *c, ConfSeverity sev, const char *fmt, ...)
{
	ConfDiags *d = c->diags;
	ConfDiag *e;
	va_list ap;

	if (sev == CONF_ERROR)
		d->n_errors++;
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
	bool list;	      /* repeatable: appends; an empty value clears */
};

/* Pool, pair and file names: they end up in paths and object paths. */
bool conf_name_is_valid(const char *s)
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
bool conf_qemu_id_is_valid(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	return conf_name_is_valid(s);
}

static bool invalid(ConfCtx *c, const KeyEntry *k, const char *value)
{
	conf_diag(c, CONF_ERROR, "invalid %s=%s: expected %s", k->key, value, k->accepted);
	return false;
}

static bool parse_name(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (!conf_name_is_valid(value))
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

static bool parse_qemu_id(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (!conf_qemu_id_is_valid(value))
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

static bool parse_abs_path(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	size_t n = strlen(value);

	if (value[0] != '/' || n >= k->size || strstr(value, "/../") ||
	    (n >= 3 && strcmp(value + n - 3, "/..") == 0))
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

/* QEMU's -name is free text; keep it printable, UTF-8 and usable in paths. */
bool conf_instance_name_is_valid(const char *s)
{
	if (!*s || strlen(s) >= sizeof(((ConfInstance *)0)->name) || !conf_utf8_is_valid(s))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/')
			return false;
	return true;
}

static bool parse_instance_name(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (!conf_instance_name_is_valid(value))
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

/* An octal file mode within [k->min, k->max] that keeps the owner's read and write. */
static bool parse_mode(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 8);
	if (!*value || *value == '-' || *end || errno || v < k->min || v > k->max ||
	    (v & 0600) != 0600)
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
	if (!conf_qemu_id_is_valid(value) || strlen(value) >= k->size)
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

bool conf_ifname_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool parse_ifname(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	if (!conf_ifname_is_valid(value))
		return invalid(c, k, value);
	snprintf(field, k->size, "%s", value);
	return true;
}

static bool parse_pf(ConfCtx *c, const KeyEntry *k, const char *value, void *field)
{
	ConfPool *p = c->object;

	if (!*value) { /* an empty assignment resets the list, as in systemd */
		p->n_pfs = 0;
		return true;
	}
	/* Anything with a ':' must be a PCI address: netdev names cannot contain one. */
	if (!conf_parse_pci_address(value) && !conf_ifname_is_valid(value))
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
	uint8_t mac[6];

	/* Parsed aside: an invalid value leaves the previous one in place. */
	if (conf_parse_mac(value, mac) < 0)
		return invalid(c, k, value);
	memcpy(p->mac, mac, sizeof(mac));
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

#define FIELD(type, f) .offset = offsetof(type, f), .size = sizeof(((type *)0)->f)
#define DAEMON(f)      FIELD(ConfDaemon, f)
#define POOL(f)	       FIELD(ConfPool, f)
#define SRIOV(f, b)    FIELD(ConfPool, sriov.f), .bit = (b)
#define INSTANCE(f)    FIELD(ConfInstance, f)
#define PAIR(f)	       FIELD(ConfPair, f)
#define RANGE(lo, hi)  .min = (lo), .max = (hi)

static const char BOOL[] = "a boolean (yes/no, true/false, on/off, 1/0)";
static const char DURATION[] =
	"a positive duration up to 24 h: seconds, or a number with ms, s or min (e.g. 500ms, 1.5s)";
static const char NAME[] = "a name of letters, digits, '_', '.', '-' (at most 64)";
static const char IFNAME[] = "a network interface name (at most 15 bytes, no '/', ':' or spaces)";
static const char QEMU_ID[] =
	"a QEMU id: a letter, then letters, digits, '_', '.', '-' (at most 64)";
static const char PATH[] = "an absolute path without '..' (at most 255 bytes)";
static const char SOCKET[] = "an absolute path without '..' (at most 107 bytes)";

static const KeyEntry daemon_keys[] = {
	{ "Daemon", "StateDirectory", parse_abs_path, DAEMON(state_directory), .accepted = PATH },
	{ "Daemon", "ListenQMP", parse_abs_path, DAEMON(listen_qmp), .accepted = SOCKET },
	{ "Daemon", "ListenQMPMode", parse_mode, DAEMON(listen_qmp_mode), RANGE(0600, 0777),
	  .accepted = "an octal mode from 0600 to 0777 that keeps the owner's rw (e.g. 0660)" },
	{ "Daemon", "ListenQMPGroup", parse_name, DAEMON(listen_qmp_group), .accepted = NAME },
	{ "Daemon", "AdminGroup", parse_name, DAEMON(admin_group), .accepted = NAME },
	{ "Daemon", "LogLevel", parse_log_level, DAEMON(log_level),
	  .accepted = "err, warning, notice, info or debug" },
	{ "Daemon", "UnplugTimeoutSec", parse_duration, DAEMON(unplug_timeout_ms),
	  .accepted = DURATION },
	{ "Daemon", "CommandTimeoutSec", parse_duration, DAEMON(command_timeout_ms),
	  .accepted = DURATION },
	{ "Daemon", "NegotiateTimeoutSec", parse_duration, DAEMON(negotiate_timeout_ms),
	  .accepted = DURATION },
	{ 0 },
};

static const KeyEntry pool_keys[] = {
	{ "Pool", "PhysicalFunction", parse_pf, .list = true,
	  .accepted = "a netdev name (at most 15 bytes, no '/', ':' or spaces) or a PCI address "
		      "like 0000:01:00.0" },
	{ "Pool", "VirtualFunctions", parse_vf_ranges, .list = true,
	  .accepted = "VF index ranges like 0-3,6 (at most 16 ranges)" },
	{ "Pool", "Driver", parse_driver, POOL(driver), .accepted = "vfio or emulated" },
	{ "Pool", "Model", parse_model, POOL(model),
	  .accepted = "a QEMU NIC model such as e1000e (at most 31 bytes)" },
	{ "Pool", "Size", parse_uint_field, POOL(size), RANGE(1, 256),
	  .accepted = "an integer 1-256" },
	{ "SR-IOV", "VLANId", parse_sriov_uint, SRIOV(vlan_id, CONF_SRIOV_VLAN), RANGE(1, 4094),
	  .accepted = "an integer 1-4094" },
	{ "SR-IOV", "QualityOfService", parse_sriov_uint, SRIOV(qos, CONF_SRIOV_QOS), RANGE(0, 7),
	  .accepted = "an integer 0-7 (the 802.1p priority)" },
	{ "SR-IOV", "VLANProtocol", parse_vlan_proto, SRIOV(vlan_802_1ad, CONF_SRIOV_VLAN_PROTO),
	  .accepted = "802.1Q or 802.1ad" },
	{ "SR-IOV", "MACSpoofCheck", parse_sriov_bool, SRIOV(spoofchk, CONF_SRIOV_SPOOFCHK),
	  .accepted = BOOL },
	{ "SR-IOV", "QueryReceiveSideScaling", parse_sriov_bool,
	  SRIOV(rss_query, CONF_SRIOV_RSS_QUERY), .accepted = BOOL },
	{ "SR-IOV", "Trust", parse_sriov_bool, SRIOV(trust, CONF_SRIOV_TRUST), .accepted = BOOL },
	{ "SR-IOV", "LinkState", parse_link_state, SRIOV(link_state, CONF_SRIOV_LINK_STATE),
	  .accepted = "a boolean or auto" },
	{ "SR-IOV", "MaxTxRateMbps", parse_sriov_uint, SRIOV(max_tx_rate, CONF_SRIOV_MAX_TX_RATE),
	  RANGE(0, 1000000), .accepted = "an integer 0-1000000 (Mbit/s, 0 = unlimited)" },
	{ "SR-IOV", "MinTxRateMbps", parse_sriov_uint, SRIOV(min_tx_rate, CONF_SRIOV_MIN_TX_RATE),
	  RANGE(0, 1000000), .accepted = "an integer 0-1000000 (Mbit/s, 0 = no guarantee)" },
	{ 0 },
};

static const KeyEntry instance_keys[] = {
	{ "Instance", "Name", parse_instance_name, INSTANCE(name),
	  .accepted = "QEMU's -name: printable UTF-8, without '/' (at most 127 bytes)" },
	{ "Instance", "QMP", parse_abs_path, INSTANCE(qmp), .accepted = SOCKET },
	{ "Instance", "UnplugTimeoutSec", parse_duration, INSTANCE(unplug_timeout_ms),
	  .accepted = DURATION },
	{ "Instance", "NegotiateTimeoutSec", parse_duration, INSTANCE(negotiate_timeout_ms),
	  .accepted = DURATION },
	{ "Instance", "PrepareIncoming", parse_bool_field, INSTANCE(prepare_incoming),
	  .accepted = BOOL },
	{ "Pair", "Name", parse_name, PAIR(name), .accepted = NAME },
	{ "Pair", "Pool", parse_name, PAIR(pool), .accepted = NAME },
	{ "Pair", "MACAddress", parse_mac_field, PAIR(mac),
	  .accepted = "a unicast, non-zero MAC address like 52:54:00:aa:bb:01" },
	{ "Pair", "Standby", parse_qemu_id, PAIR(standby), .accepted = QEMU_ID },
	{ "Pair", "StandbyNetdev", parse_qemu_id, PAIR(standby_netdev), .accepted = QEMU_ID },
	{ "Pair", "StandbyBus", parse_qemu_id, PAIR(standby_bus), .accepted = QEMU_ID },
	{ "Pair", "PrimaryBus", parse_qemu_id, PAIR(primary_bus), .accepted = QEMU_ID },
	{ "Pair", "PrimaryNetdev", parse_qemu_id, PAIR(primary_netdev), .accepted = QEMU_ID },
	{ "Pair", "PrimaryTap", parse_ifname, PAIR(primary_tap), .accepted = IFNAME },
	{ "Pair", "TrafficHandling", parse_bool_field, PAIR(traffic), .accepted = BOOL },
	{ "Pair", "StandbyLinkDown", parse_bool_field, PAIR(standby_link_down), .accepted = BOOL },
	{ "Pair", "StandbyTap", parse_ifname, PAIR(standby_tap), .accepted = IFNAME },
	{ "Pair", "Uplink", parse_ifname, PAIR(uplink), .accepted = IFNAME },
	{ 0 },
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
	bool pair;

	for (k = tables[c->kind]; k->key; k++)
		if (strcmp(k->section, c->section) == 0 && strcmp(k->key, key) == 0)
			break;
	if (!k->key) {
		conf_diag(c, CONF_WARNING, "unknown key '%s' in section [%s], ignoring", key,
			  c->section);
		return;
	}
	pair = strcmp(c->section, "Pair") == 0;
	base = pair ? (char *)c->pair : (char *)c->object;
	if (!*value && !k->list) {
		/* An empty assignment restores the default, as in systemd. */
		static const ConfPair no_pair;
		const char *def = pair ? (const char *)&no_pair : c->defaults;

		memcpy(base + k->offset, def + k->offset, k->size);
		if (k->bit)
			((ConfPool *)c->object)->sriov.set &= ~k->bit;
		if (k->parse == parse_mac_field)
			c->pair->has_mac = false;
		return;
	}
	k->parse(c, k, value, base + k->offset);
}

/* "[A], [B]": the sections a kind of file has, in the order of its key table. */
static void sections_list(ConfKind kind, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (const KeyEntry *k = tables[kind]; k->key && n < size; k++) {
		char item[80];
		int w;

		snprintf(item, sizeof(item), "[%s]", k->section);
		if (strstr(buf, item))
			continue;
		w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", item);
		n = w < 0 ? size : n + (size_t)w;
	}
}

static void section_begin(ConfCtx *c, const char *name)
{
	snprintf(c->section, sizeof(c->section), "%s", name);
	c->section_known = section_known(c->kind, name);
	if (!c->section_known) {
		char known[200];

		/* "X-" sections are for other tools, as in systemd's unit files. */
		if (strncmp(name, "X-", 2) == 0)
			return;
		/* A typo ([Pairs]) would silently drop what it holds: refuse the file. */
		sections_list(c->kind, known, sizeof(known));
		conf_diag(c, CONF_ERROR, "unknown section [%s] (this file may have %s)", name,
			  known);
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

static void parse_line(ConfCtx *c, char *s)
{
	char *eq;

	if (*s == '[') {
		char *end = strchr(s, ']');

		if (!end || end[1] != 0 || end == s + 1)
			conf_diag(c, CONF_ERROR, "invalid section header '%s'", s);
		else {
			*end = 0;
			section_begin(c, s + 1);
		}
		return;
	}
	eq = strchr(s, '=');
	if (!eq)
		conf_diag(c, CONF_ERROR, "expected Key=Value, found '%s'", s);
	else if (!c->section[0])
		conf_diag(c, CONF_ERROR, "assignment outside of any section");
	else if (c->section_known) {
		*eq = 0;
		assign(c, strip(s), strip(eq + 1));
	}
}

int conf_parse_file(ConfCtx *c, const char *path)
{
	char *buf = NULL, *line = NULL;
	size_t cap = 0, len = 0;
	unsigned first_line = 0, cur;
	ssize_t n;
	FILE *f;
	int r = 0;

	c->file = path;
	c->line = 0;
	c->section[0] = 0;
	c->section_known = false;
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		conf_diag(c, CONF_ERROR, "cannot read: %s", strerror(-r));
		return r;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		const char *t = line + strspn(line, " \t");
		char *joined;

		c->line++;
		/* Comments never continue a line, and are skipped inside a continuation. */
		if (*t == '#' || *t == ';')
			continue;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (len == 0) {
			if (!*t || *t == '\n' || *t == '\r')
				continue;
			first_line = c->line;
		}
		joined = realloc(buf, len + (size_t)n + 1);
		if (!joined) {
			r = -ENOMEM;
			break;
		}
		buf = joined;
		memcpy(buf + len, line, (size_t)n + 1);
		len += (size_t)n;
		/* A trailing backslash joins the next line, replaced by a space. */
		if (len && buf[len - 1] == '\\') {
			buf[len - 1] = ' ';
			continue;
		}
		cur = c->line;
		c->line = first_line;
		parse_line(c, strip(buf));
		c->line = cur;
		len = 0;
	}
	if (r == 0 && ferror(f)) {
		r = -EIO;
		conf_diag(c, CONF_ERROR, "read error");
	}
	if (r == 0 && len) { /* the file ended inside a continuation */
		c->line = first_line;
		parse_line(c, strip(buf));
	}
	free(line);
	free(buf);
	fclose(f);
	return r;
}
