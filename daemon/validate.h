#pragma once

/*
 * Checks of the arguments D-Bus callers pass, as pure functions: no bus, no
 * manager, so that unit tests and the fuzzer reach every branch. bus.c turns
 * a failure into org.freedesktop.DBus.Error.InvalidArgs "argument ARG: MESSAGE".
 */

#include <stdbool.h>
#include <stddef.h>

#include "daemon/pair.h"

typedef struct ValidateError {
	const char *arg; /* the method argument at fault, e.g. "mac_address" */
	char message[256];
} ValidateError;

/* Pool and pair names, as the configuration accepts them: [A-Za-z0-9_.-], 1-64. */
bool validate_name(const char *s);
/* QEMU device and netdev ids: a name starting with a letter. */
bool validate_qemu_id(const char *s);
/* QEMU's -name: 1-127 bytes of UTF-8 without control characters or '/'. */
bool validate_instance_name(const char *s);
/*
 * D-Bus strings must be UTF-8, or sd-bus refuses to send the whole message:
 * @s itself when it is, else a copy in @buf (at least 1 byte) with every
 * byte outside a well-formed character replaced by '?', cut to fit.
 */
const char *validate_utf8_repair(const char *s, char *buf, size_t size);

/*
 * AttachPair(instance, pair, pool, mac_address, standby, options): the
 * string arguments first, then each option (@value NULL when it is not a
 * string), then validate_attach_finish() for what depends on several.
 * Each returns 0 or -EINVAL with @e filled; *@c gets the parsed values.
 */
int validate_attach_args(const char *instance, const char *pair, const char *pool, const char *mac,
			 const char *standby, PairConfig *c, ValidateError *e);
int validate_attach_option(const char *key, const char *value, PairConfig *c, ValidateError *e);
int validate_attach_finish(const PairConfig *c, ValidateError *e);

/* DetachPair(instance, pair); @pair NULL for PrepareIncoming(instance). */
int validate_instance_pair_args(const char *instance, const char *pair, ValidateError *e);
