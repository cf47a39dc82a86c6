/*
 * The argument checks of the D-Bus methods (daemon/validate.c), on the
 * strings a caller could send.
 *
 * Input: NUL-separated strings: instance, pair, pool, mac_address, standby,
 * then option key/value pairs (a value starting with 0x01 stands for a
 * non-string variant). Checked: an error names a real argument and has a
 * message sd-bus can send (UTF-8, no control characters) even when the
 * input is not UTF-8; what is accepted is what the daemon relies on.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "daemon/validate.h"
#include "tests/fuzz/fuzz.h"

#define MAX_STRINGS 11

static void check_error(const ValidateError *e)
{
	static const char *const args[] = { "instance",	   "pair",    "pool",
					    "mac_address", "standby", "options" };
	bool known = false;

	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
		known |= e->arg && strcmp(e->arg, args[i]) == 0;
	FUZZ_ASSERT(known);
	FUZZ_ASSERT(e->message[0]);
	FUZZ_ASSERT(strlen(e->message) < sizeof(e->message));
	FUZZ_ASSERT(conf_utf8_is_valid(e->message));
	for (const char *s = e->message; *s; s++)
		FUZZ_ASSERT((unsigned char)*s >= 0x20 && *s != 0x7f);
}

static void check_repair(const char *s)
{
	char buf[64];
	const char *out = validate_utf8_repair(s, buf, sizeof(buf));

	FUZZ_ASSERT(conf_utf8_is_valid(out));
	FUZZ_ASSERT(conf_utf8_is_valid(s) ? out == s : out == buf);
	FUZZ_ASSERT(strlen(out) <= strlen(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *str[MAX_STRINGS] = { 0 };
	const uint8_t *part;
	size_t n = 0, pos = 0, len;
	ValidateError e = { 0 };
	PairConfig c;
	int r;

	/* A copy with a NUL after every part: the strings point into it. */
	copy = malloc(size + 1);
	FUZZ_ASSERT(copy);
	memcpy(copy, data, size);
	copy[size] = 0;
	while (n < MAX_STRINGS && fuzz_next_part(data, size, &pos, 0, &part, &len)) {
		str[n] = copy + (part - data);
		str[n][len] = 0;
		n++;
	}
	for (size_t i = n; i < MAX_STRINGS; i++)
		str[i] = "";

	for (size_t i = 0; i < MAX_STRINGS; i++)
		check_repair(str[i]);

	r = validate_instance_pair_args(str[0], str[1], &e);
	if (r < 0)
		check_error(&e);
	else
		FUZZ_ASSERT(validate_instance_name(str[0]) && validate_name(str[1]));
	if (validate_instance_pair_args(str[0], NULL, &e) < 0)
		check_error(&e);

	r = validate_attach_args(str[0], str[1], str[2], str[3], str[4], &c, &e);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL);
		check_error(&e);
		goto out;
	}
	FUZZ_ASSERT(strcmp(c.name, str[1]) == 0 && strcmp(c.pool, str[2]) == 0);
	FUZZ_ASSERT(strcmp(c.standby, str[4]) == 0);
	FUZZ_ASSERT(!(c.mac[0] & 1) &&
		    (c.mac[0] | c.mac[1] | c.mac[2] | c.mac[3] | c.mac[4] | c.mac[5]));
	for (size_t i = 5; i + 1 < MAX_STRINGS; i += 2) {
		const char *value = str[i + 1][0] == 1 ? NULL : str[i + 1];

		r = validate_attach_option(str[i], value, &c, &e);
		if (r < 0) {
			check_error(&e);
			goto out;
		}
	}
	r = validate_attach_finish(&c, &e);
	if (r < 0) {
		check_error(&e);
		goto out;
	}
	/* What manager_attach_pair() relies on. */
	FUZZ_ASSERT(!c.standby[0] != !c.standby_netdev[0]);
	FUZZ_ASSERT(!c.standby_netdev[0] || validate_qemu_id(c.standby_netdev));
	FUZZ_ASSERT(!c.standby_bus[0] || (c.standby_netdev[0] && validate_qemu_id(c.standby_bus)));
	FUZZ_ASSERT(!c.primary_bus[0] ||
		    (validate_qemu_id(c.primary_bus) && strcmp(c.primary_bus, c.standby_bus) != 0));
out:
	free(copy);
	return 0;
}
