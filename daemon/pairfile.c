/* Pair state files: one table says which key is which field, for reading and for writing. */

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "daemon/pairfile.h"
#include "daemon/statefile.h"

typedef enum FieldKind {
	F_STRING, /* char[size] */
	F_BOOL,	  /* "1" true, anything else false */
	F_PID,
	F_U64,
	F_I64,
	F_ORIGIN, /* config | dbus | retired: config.adhoc and config.retired */
	F_MAC,	  /* config.mac, has_mac */
} FieldKind;

typedef struct Field {
	const char *key;
	FieldKind kind;
	size_t offset, size;
} Field;

#define STR(k, member)                                                                             \
	{                                                                                          \
		k, F_STRING, offsetof(PairRecord, member), sizeof(((PairRecord *)0)->member)       \
	}
#define VAL(k, kind, member)                                                                       \
	{                                                                                          \
		k, kind, offsetof(PairRecord, member), 0                                           \
	}

/* In the order the file is written; readers of older files find missing keys zeroed. */
static const Field fields[] = {
	STR("state", state),
	VAL("origin", F_ORIGIN, config),
	VAL("detach", F_BOOL, detach),
	STR("qmp", qmp),
	STR("standby", config.standby),
	STR("standby_netdev", config.standby_netdev),
	STR("config_standby_bus", config.standby_bus),
	STR("config_primary_bus", config.primary_bus),
	STR("config_primary_netdev", config.primary_netdev),
	STR("config_primary_tap", config.primary_tap),
	VAL("config_traffic", F_BOOL, config.traffic),
	VAL("config_standby_link_down", F_BOOL, config.standby_link_down),
	STR("config_standby_tap", config.standby_tap),
	STR("config_uplink", config.uplink),
	STR("reason", reason),
	STR("vf", vf.id),
	STR("vf_driver", vf.driver),
	VAL("vf_emulated", F_BOOL, vf.emulated),
	VAL("vf_gone", F_BOOL, vf_gone),
	VAL("primary_added", F_BOOL, primary_added),
	STR("primary_bus", primary_bus),
	STR("standby_bus", standby_bus),
	STR("standby_tap", standby_tap),
	VAL("guest_negotiated", F_BOOL, guest_negotiated),
	STR("pool", config.pool),
	VAL("mac", F_MAC, config),
	VAL("qemu_pid", F_PID, qemu_pid),
	VAL("qemu_start", F_U64, qemu_start),
	VAL("changed_us", F_U64, changed_us),
	VAL("degraded_ms", F_I64, degraded_ms),
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

int pair_file_path(char *buf, size_t size, const char *state_dir, const char *instance,
		   const char *pair)
{
	size_t d = strlen(state_dir), i = strlen(instance), p = strlen(pair);
	char *w = buf;

	/* Copied, not printed: a path is made on every save. */
	if (d + strlen("/pairs/") + i + 1 + p + 1 > size)
		return -ENAMETOOLONG;
	w = mempcpy(w, state_dir, d);
	w = mempcpy(w, "/pairs/", strlen("/pairs/"));
	w = mempcpy(w, instance, i);
	*w++ = '@';
	memcpy(w, pair, p + 1);
	return 0;
}

static int field_parse(const Field *f, PairRecord *rec, const char *value)
{
	char *at = (char *)rec + f->offset;

	switch (f->kind) {
	case F_STRING:
		snprintf(at, f->size, "%s", value);
		break;
	case F_BOOL:
		*(bool *)at = strcmp(value, "1") == 0;
		break;
	case F_PID:
		*(pid_t *)at = (pid_t)strtol(value, NULL, 10);
		break;
	case F_U64:
		*(uint64_t *)at = strtoull(value, NULL, 10);
		break;
	case F_I64:
		*(int64_t *)at = strtoll(value, NULL, 10);
		break;
	case F_ORIGIN:
		rec->config.retired = strcmp(value, "retired") == 0;
		rec->config.adhoc = rec->config.retired || strcmp(value, "dbus") == 0;
		break;
	case F_MAC:
		rec->has_mac = conf_parse_mac(value, rec->config.mac) == 0;
		break;
	}
	return 0;
}

static int field_entry(const char *key, const char *value, void *ud)
{
	for (size_t k = 0; k < N_FIELDS; k++)
		if (strcmp(key, fields[k].key) == 0)
			return field_parse(&fields[k], ud, value);
	return 0; /* written by a newer failoverd */
}

int pair_file_read(const char *path, PairRecord *rec, unsigned *bad_line)
{
	memset(rec, 0, sizeof(*rec));
	rec->degraded_ms = -1;
	return statefile_read(path, field_entry, rec, bad_line);
}

/* @v in decimal at the end of @buf (of 24 bytes); returns where it starts. */
static char *format_u64(char buf[24], uint64_t v, bool negative)
{
	char *w = buf + 23;

	*w = 0;
	do
		*--w = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	if (negative)
		*--w = '-';
	return w;
}

static char *format_i64(char buf[24], int64_t v)
{
	/* The magnitude as unsigned: INT64_MIN has no positive twin. */
	return format_u64(buf, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0);
}

/* The text of @f in @rec; @buf (24 bytes) holds numbers. */
static const char *field_format(const Field *f, const PairRecord *rec, char buf[24])
{
	static const char hex[] = "0123456789abcdef";
	const char *at = (const char *)rec + f->offset;
	const uint8_t *m = rec->config.mac;

	switch (f->kind) {
	case F_STRING:
		return at;
	case F_BOOL:
		return *(const bool *)at ? "1" : "0";
	case F_PID:
		return format_i64(buf, *(const pid_t *)at);
	case F_U64:
		return format_u64(buf, *(const uint64_t *)at, false);
	case F_I64:
		return format_i64(buf, *(const int64_t *)at);
	case F_ORIGIN:
		return rec->config.retired ? "retired" : rec->config.adhoc ? "dbus" : "config";
	case F_MAC:
		for (int k = 0; k < 6; k++) {
			buf[3 * k] = hex[m[k] >> 4];
			buf[3 * k + 1] = hex[m[k] & 15];
			buf[3 * k + 2] = k < 5 ? ':' : 0;
		}
		break;
	}
	return buf;
}

int pair_file_write(const char *path, const PairRecord *rec)
{
	char buf[N_FIELDS][24];
	StateEntry e[N_FIELDS];

	for (size_t k = 0; k < N_FIELDS; k++) {
		e[k].key = fields[k].key;
		e[k].value = field_format(&fields[k], rec, buf[k]);
	}
	/*
	 * Atomic, not fsync'ed (~3 ms each, on every transition): a daemon
	 * crash keeps the page cache, and a host crash takes the QEMUs along,
	 * whose pids then prove the file stale. VF ownership itself is durable
	 * (sriov/ pool files). Unchanged content is not rewritten at all.
	 */
	return statefile_write_full(path, e, N_FIELDS, STATEFILE_IF_CHANGED);
}
