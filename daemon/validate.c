/* D-Bus argument checks, kept apart from sd-bus so they can be tested and fuzzed. */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "daemon/instance.h"
#include "daemon/validate.h"

#define QUOTED_MAX_LEN 64 /* of a rejected value, in the message */

/* The same names configuration files accept: one rule for both doors. */
bool validate_name(const char *s)
{
	return conf_name_is_valid(s);
}

bool validate_qemu_id(const char *s)
{
	return conf_qemu_id_is_valid(s);
}

/*
 * Copies at most @max_chars characters of @s into @buf (NUL-terminated,
 * never a character cut in two), each broken byte as '?', and control
 * characters too with @controls. Returns where in @s it stopped.
 */
static const char *copy_utf8(const char *s, char *buf, size_t size, size_t max_chars, bool controls)
{
	size_t len = 0;

	for (size_t chars = 0; *s && chars < max_chars; chars++) {
		size_t n = conf_utf8_char_len(s);

		if (n == 0 || (controls && ((unsigned char)*s < 0x20 || *s == 0x7f))) {
			if (len + 2 > size)
				break;
			buf[len++] = '?';
			s++;
			continue;
		}
		if (len + n + 1 > size)
			break;
		memcpy(buf + len, s, n);
		len += n;
		s += n;
	}
	buf[len] = 0;
	return s;
}

const char *validate_utf8_repair(const char *s, char *buf, size_t size)
{
	if (conf_utf8_is_valid(s))
		return s;
	copy_utf8(s, buf, size, SIZE_MAX, false);
	return buf;
}

_Static_assert(sizeof(((Instance *)0)->name) >= sizeof(((ConfInstance *)0)->name),
	       "an instance holds every name the configuration accepts");

bool validate_instance_name(const char *s)
{
	return conf_instance_name_is_valid(s);
}

/*
 * A rejected value as the message may show it: at most QUOTED_MAX_LEN
 * characters, control characters and broken UTF-8 as '?'. Cutting bytes
 * blindly could split a character, and sd-bus cannot send an error whose
 * message is not UTF-8: the caller would never get a reply.
 */
static void quote_value(const char *value, char *buf, size_t size)
{
	const char *rest = copy_utf8(value, buf, size, QUOTED_MAX_LEN, true);
	size_t len = strlen(buf);

	if (*rest && len + 4 <= size)
		memcpy(buf + len, "...", 4);
}

/* @fmt has one %s, for the rejected @value. */
static int fail(ValidateError *e, const char *arg, const char *fmt, const char *value)
{
	char quoted[QUOTED_MAX_LEN * 4 + 4];

	quote_value(value, quoted, sizeof(quoted));
	e->arg = arg;
	snprintf(e->message, sizeof(e->message), fmt, quoted);
	return -EINVAL;
}

static int fail_msg(ValidateError *e, const char *arg, const char *message)
{
	e->arg = arg;
	snprintf(e->message, sizeof(e->message), "%s", message);
	return -EINVAL;
}

static const char NAME_RULE[] = "'%s' is not a name (letters, digits, '_', '.', '-'; at most 64)";

int validate_attach_args(const char *instance, const char *pair, const char *pool, const char *mac,
			 const char *standby, PairConfig *c, ValidateError *e)
{
	int r;

	memset(c, 0, sizeof(*c));
	if (!validate_instance_name(instance))
		return fail(e, "instance", "'%s' is not an instance name", instance);
	if (!validate_name(pair))
		return fail(e, "pair", NAME_RULE, pair);
	if (!validate_name(pool))
		return fail(e, "pool", NAME_RULE, pool);
	r = conf_parse_mac(mac, c->mac);
	if (r == -EADDRNOTAVAIL)
		return fail(e, "mac_address", "%s: a pair needs a unicast, non-zero MAC", mac);
	if (r < 0)
		return fail(e, "mac_address", "'%s' is not a MAC address like 52:54:00:aa:bb:01",
			    mac);
	if (standby[0] && !validate_qemu_id(standby))
		return fail(e, "standby",
			    "'%s' is not a QEMU device id (a letter, then letters, digits, '_', "
			    "'.', '-')",
			    standby);
	snprintf(c->name, sizeof(c->name), "%s", pair);
	snprintf(c->pool, sizeof(c->pool), "%s", pool);
	snprintf(c->standby, sizeof(c->standby), "%s", standby);
	return 0;
}

typedef enum OptionKind {
	OPT_QEMU_ID,
	OPT_IFNAME,
	OPT_BOOL,
} OptionKind;

#define OPTION(k, kind, member)                                                                    \
	{                                                                                          \
		k, kind, offsetof(PairConfig, member), sizeof(((PairConfig *)0)->member)           \
	}

/* The same names as the [Pair] keys of a .vm file (docs/configuration.md). */
static const struct {
	const char *key;
	OptionKind kind;
	size_t offset, size;
} attach_options[] = {
	OPTION("StandbyNetdev", OPT_QEMU_ID, standby_netdev),
	OPTION("StandbyBus", OPT_QEMU_ID, standby_bus),
	OPTION("PrimaryBus", OPT_QEMU_ID, primary_bus),
	OPTION("PrimaryNetdev", OPT_QEMU_ID, primary_netdev),
	OPTION("PrimaryTap", OPT_IFNAME, primary_tap),
	OPTION("TrafficHandling", OPT_BOOL, traffic),
	OPTION("StandbyLinkDown", OPT_BOOL, standby_link_down),
	OPTION("StandbyTap", OPT_IFNAME, standby_tap),
	OPTION("Uplink", OPT_IFNAME, uplink),
};

static const char *const option_rules[] = {
	[OPT_QEMU_ID] = "is not a QEMU id (a letter, then letters, digits, '_', '.', '-')",
	[OPT_IFNAME] = "is not a network interface name (at most 15 bytes, no '/', ':' or spaces)",
	[OPT_BOOL] = "is not a boolean (yes/no, true/false, on/off, 1/0)",
};

int validate_attach_option(const char *key, const char *value, PairConfig *c, ValidateError *e)
{
	size_t k, n = sizeof(attach_options) / sizeof(attach_options[0]);
	char *field;
	char what[160];
	bool ok, b = false;

	for (k = 0; k < n && strcmp(attach_options[k].key, key) != 0; k++)
		;
	if (k == n)
		return fail(
			e, "options",
			"unknown option '%s' (known: StandbyNetdev, StandbyBus, PrimaryBus, "
			"PrimaryNetdev, PrimaryTap, TrafficHandling, StandbyLinkDown, StandbyTap, "
			"Uplink)",
			key);
	if (!value)
		return fail(e, "options", "%s must be a string", key);
	switch (attach_options[k].kind) {
	case OPT_QEMU_ID:
		ok = validate_qemu_id(value);
		break;
	case OPT_IFNAME:
		ok = conf_ifname_is_valid(value);
		break;
	default:
		ok = conf_parse_bool(value, &b);
		break;
	}
	if (!ok) {
		/* The key and the rule are ours: safe to put into the format. */
		snprintf(what, sizeof(what), "%s='%%s' %s", attach_options[k].key,
			 option_rules[attach_options[k].kind]);
		return fail(e, "options", what, value);
	}
	field = (char *)c + attach_options[k].offset;
	if (attach_options[k].kind == OPT_BOOL)
		*(bool *)field = b;
	else
		snprintf(field, attach_options[k].size, "%s", value);
	return 0;
}

int validate_attach_finish(const PairConfig *c, ValidateError *e)
{
	if (c->standby_bus[0] && !c->standby_netdev[0])
		return fail_msg(e, "options", "StandbyBus needs StandbyNetdev");
	if (c->primary_bus[0] && strcmp(c->primary_bus, c->standby_bus) == 0)
		return fail_msg(e, "options", "PrimaryBus and StandbyBus name the same port");
	if (c->standby[0] && c->standby_netdev[0])
		return fail_msg(e, "standby",
				"give a standby device id or the StandbyNetdev option, not both");
	if (c->primary_tap[0] && !c->primary_netdev[0])
		return fail_msg(e, "options", "PrimaryTap needs PrimaryNetdev");
	/* Without StandbyTap the tap is found from the standby's netdev (docs/traffic.md). */
	if (c->traffic && c->standby_tap[0] && strcmp(c->standby_tap, c->uplink) == 0)
		return fail_msg(e, "options", "StandbyTap and Uplink name the same device");
	if (!c->standby[0] && !c->standby_netdev[0])
		return fail_msg(e, "standby",
				"give a standby device id, or the StandbyNetdev option for "
				"failoverd to hotplug one");
	return 0;
}

int validate_instance_pair_args(const char *instance, const char *pair, ValidateError *e)
{
	if (!validate_instance_name(instance))
		return fail(e, "instance", "'%s' is not an instance name", instance);
	if (pair && !validate_name(pair))
		return fail(e, "pair", "'%s' is not a pair name", pair);
	return 0;
}
