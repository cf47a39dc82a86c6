/* Value parsers shared by the key tables. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

bool conf_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return true;
		}
	}
	return false;
}

int conf_parse_duration_ms(const char *s, unsigned *ret)
{
	static const struct {
		const char *suffix;
		double ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "sec", 1000 }, { "m", 60000 }, { "min", 60000 },
	};
	char *end;
	double v;

	if (!*s || isspace((unsigned char)*s) || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	while (*end == ' ')
		end++;
	if (*end) {
		size_t k;

		for (k = 0; k < sizeof(units) / sizeof(units[0]); k++)
			if (strcmp(end, units[k].suffix) == 0)
				break;
		if (k == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		v *= units[k].ms;
	} else {
		v *= 1000;
	}
	if (v > 24.0 * 3600 * 1000)
		return -ERANGE;
	*ret = (unsigned)(v + 0.5);
	return 0;
}

int conf_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	/* A pair's MAC identifies one guest NIC: unicast and not all zero. */
	if (mac[0] & 1)
		return -EADDRNOTAVAIL;
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EADDRNOTAVAIL;
	return 0;
}

static int parse_uint(const char *s, const char **end, unsigned *ret)
{
	unsigned long v;
	char *e;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno || v > 65535)
		return -ERANGE;
	*ret = (unsigned)v;
	*end = e;
	return 0;
}

int conf_parse_ranges(const char *s, ConfRange *ranges, size_t max, size_t *n)
{
	size_t k = 0;

	while (*s) {
		ConfRange r;
		const char *e;

		if (parse_uint(s, &e, &r.first) < 0)
			return -EINVAL;
		r.last = r.first;
		if (*e == '-' && parse_uint(e + 1, &e, &r.last) < 0)
			return -EINVAL;
		if (r.last < r.first)
			return -EINVAL;
		if (k == max)
			return -E2BIG;
		ranges[k++] = r;
		if (*e == ',')
			e++;
		else if (*e)
			return -EINVAL;
		s = e;
	}
	if (k == 0)
		return -EINVAL;
	*n = k;
	return 0;
}
