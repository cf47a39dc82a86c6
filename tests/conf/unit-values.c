/*
 * The value parsers behind the key tables: booleans in systemd's forms,
 * durations, MAC addresses, VF ranges and PCI addresses.
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "conf/conf.h"
#include "tests/lib/suite.h"

START_TEST(test_bool)
{
	static const char *const yes[] = {
		"1", "yes", "y", "true", "t", "on", "YES", "True", "On"
	};
	static const char *const no[] = {
		"0", "no", "n", "false", "f", "off", "NO", "False", "oFF"
	};
	static const char *const bad[] = { "", "2", "yess", "enable", "-1", " yes", "o" };
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		ck_assert_msg(conf_parse_bool(yes[i], &b) && b, "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		ck_assert_msg(conf_parse_bool(no[i], &b) && !b, "%s", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!conf_parse_bool(bad[i], &b), "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_duration)
{
	static const struct {
		const char *in;
		unsigned ms;
	} good[] = {
		{ "30", 30000 },       { "0", 0 },	    { "2.5", 2500 },   { "2.5s", 2500 },
		{ "500ms", 500 },      { "500 ms", 500 },   { "1min", 60000 }, { "2m", 120000 },
		{ "10sec", 10000 },    { "1.5min", 90000 }, { ".5s", 500 },    { "250msec", 250 },
		{ "86400", 86400000 },
	};
	static const char *const bad[] = { "",	   "s",	 "-1",	  "1h",	 "nan",	  "inf",   "1e3",
					   "0x10", " 5", "5 s x", "5ss", "86401", "1.5.s", "5,0" };
	unsigned ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(conf_parse_duration_ms(good[i].in, &ms) == 0, "%s", good[i].in);
		ck_assert_uint_eq(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(conf_parse_duration_ms(bad[i], &ms) < 0, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_mac)
{
	uint8_t mac[6];

	ck_assert_int_eq(conf_parse_mac("52:54:00:aa:BB:01", mac), 0);
	ck_assert_mem_eq(mac, ((uint8_t[]){ 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x01 }), 6);
	/* Multicast and all-zero cannot name one guest NIC. */
	ck_assert_int_eq(conf_parse_mac("01:00:5e:00:00:01", mac), -EADDRNOTAVAIL);
	ck_assert_int_eq(conf_parse_mac("ff:ff:ff:ff:ff:ff", mac), -EADDRNOTAVAIL);
	ck_assert_int_eq(conf_parse_mac("00:00:00:00:00:00", mac), -EADDRNOTAVAIL);
	ck_assert_int_eq(conf_parse_mac("52:54:00:aa:bb", mac), -EINVAL);
	ck_assert_int_eq(conf_parse_mac("52:54:00:aa:bb:01:02", mac), -EINVAL);
	ck_assert_int_eq(conf_parse_mac("52-54-00-aa-bb-01", mac), -EINVAL);
	ck_assert_int_eq(conf_parse_mac("52:54:00:aa:bg:01", mac), -EINVAL);
	ck_assert_int_eq(conf_parse_mac("52:54:00:aa: b:01", mac), -EINVAL);
	ck_assert_int_eq(conf_parse_mac("525400aabb01", mac), -EINVAL);
}
END_TEST

START_TEST(test_ranges)
{
	ConfRange r[4];
	size_t n = 0;

	ck_assert_int_eq(conf_parse_ranges("0-3,6", r, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(r[0].first, 0);
	ck_assert_uint_eq(r[0].last, 3);
	ck_assert_uint_eq(r[1].first, 6);
	ck_assert_uint_eq(r[1].last, 6);
	ck_assert_int_eq(conf_parse_ranges("7", r, 4, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(r[0].first, 7);
	ck_assert_int_eq(conf_parse_ranges("1,2,3,4,5", r, 4, &n), -E2BIG);
	ck_assert_int_lt(conf_parse_ranges("", r, 4, &n), 0);
	ck_assert_int_lt(conf_parse_ranges("3-1", r, 4, &n), 0);
	ck_assert_int_lt(conf_parse_ranges("1-", r, 4, &n), 0);
	ck_assert_int_lt(conf_parse_ranges("-1", r, 4, &n), 0);
	ck_assert_int_lt(conf_parse_ranges("1,,2", r, 4, &n), 0);
	ck_assert_int_lt(conf_parse_ranges("a", r, 4, &n), 0);
	ck_assert_int_lt(conf_parse_ranges("1 2", r, 4, &n), 0);
	ck_assert_int_lt(conf_parse_ranges("1,", r, 4, &n), 0);
	ck_assert_int_eq(conf_parse_ranges(" 0 - 3 , 6 ", r, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(r[0].last, 3);
}
END_TEST

START_TEST(test_pci_address)
{
	ck_assert(conf_parse_pci_address("0000:01:00.0"));
	ck_assert(conf_parse_pci_address("0000:af:1f.7"));
	ck_assert(conf_parse_pci_address("ABCD:EF:00.1"));
	ck_assert(!conf_parse_pci_address("0000:01:20.0")); /* device 0x20 > 31 */
	ck_assert(!conf_parse_pci_address("0000:01:00.8")); /* function 8 > 7 */
	ck_assert(!conf_parse_pci_address("01:00.0"));
	ck_assert(!conf_parse_pci_address("0x00:01:00.0"));
	ck_assert(!conf_parse_pci_address("0000:01:00:0"));
	ck_assert(!conf_parse_pci_address("0000:01:00.0 "));
	ck_assert(!conf_parse_pci_address("eth0"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf-values");
	TCase *tc = tcase_create("values");

	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_mac);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_pci_address);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
