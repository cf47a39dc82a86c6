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
		unsigned long long ms;
	} units[] = {
		{ "", 1000 },	 { "ms", 1 },	 { "msec", 1 },	   { "s", 1000 },
		{ "sec", 1000 }, { "m", 60000 }, { "min", 60000 },
	};
	unsigned long long whole = 0, frac = 0, frac_div = 1, v;
	const char *p = s;
	size_t k;

	/* Decimal only: strtod() would also take "nan", "inf", "0x1p3" and "1e3". */
	if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (unsigned long long)(*p - '0');
		if (whole > 1000000000ULL)
			return -ERANGE;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			if (frac_div < 1000000ULL) {
				frac = frac * 10 + (unsigned long long)(*p - '0');
				frac_div *= 10;
			}
	}
	while (*p == ' ')
		p++;
	for (k = 0; k < sizeof(units) / sizeof(units[0]); k++)
		if (strcmp(p, units[k].suffix) == 0)
			break;
	if (k == sizeof(units) / sizeof(units[0]))
		return -EINVAL;
	v = whole * units[k].ms + (frac * units[k].ms + frac_div / 2) / frac_div;
	if (v > CONF_DURATION_MAX_MS)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

bool conf_parse_pci_address(const char *s)
{
	/* DDDD:BB:DD.F, hex digits, as sysfs names PCI functions. */
	static const char form[] = "xxxx:xx:xx.x";
	unsigned dev, fn;

	if (strlen(s) != sizeof(form) - 1)
		return false;
	for (size_t i = 0; form[i]; i++)
		if (form[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != form[i])
			return false;
	dev = (unsigned)strtoul(s + 8, NULL, 16);
	fn = (unsigned)strtoul(s + 11, NULL, 16);
	return dev < 32 && fn < 8;
}

int conf_parse_mac_any(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]) ||
		    (i < 5 && s[i * 3 + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

int conf_parse_mac(const char *s, uint8_t mac[6])
{
	int r = conf_parse_mac_any(s, mac);

	if (r < 0)
		return r;
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

	/* Blanks around numbers are fine: a continuation line leaves one behind. */
	for (;;) {
		ConfRange r;
		const char *e;

		s += strspn(s, " \t");
		if (parse_uint(s, &e, &r.first) < 0)
			return -EINVAL;
		r.last = r.first;
		e += strspn(e, " \t");
		if (*e == '-') {
			e++;
			e += strspn(e, " \t");
			if (parse_uint(e, &e, &r.last) < 0)
				return -EINVAL;
			e += strspn(e, " \t");
		}
		if (r.last < r.first)
			return -EINVAL;
		if (k == max)
			return -E2BIG;
		ranges[k++] = r;
		if (!*e)
			break;
		if (*e != ',')
			return -EINVAL;
		s = e + 1;
	}
	*n = k;
	return 0;
}

size_t conf_utf8_char_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	if (p[0] == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the terminating NUL */
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff)
		return 0;
	return n;
}

bool conf_utf8_is_valid(const char *s)
{
	for (size_t n; *s; s += n) {
		n = conf_utf8_char_len(s);
		if (n == 0)
			return false;
	}
	return true;
}
