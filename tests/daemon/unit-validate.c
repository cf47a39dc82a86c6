/*
 * The checks of D-Bus method arguments (daemon/validate.c): what each
 * method accepts, which argument an error names, and that every error
 * message is UTF-8 that sd-bus can send, whatever the caller passed.
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "daemon/validate.h"
#include "tests/lib/suite.h"

#define MAC "52:54:00:aa:bb:01"

START_TEST(test_names)
{
	static const char *const names[] = { "p0", "a", "A-b_c.9", "0pool" };
	static const char *const bad_names[] = { "", "p 0", "p/0", "é", "a\n" };
	static const char *const instances[] = { "vm1", "web server", "vm-é", "日本" };
	static const char *const bad_instances[] = { "",       "a/b",	   "a\tb",	  "a\x7f",
						     "vm\xe9", "\xc3\x28", "\xed\xa0\x80" };
	char longest[66];

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		ck_assert_msg(validate_name(names[k]), "%s", names[k]);
	for (size_t k = 0; k < sizeof(bad_names) / sizeof(bad_names[0]); k++)
		ck_assert_msg(!validate_name(bad_names[k]), "'%s' accepted", bad_names[k]);
	memset(longest, 'a', 64);
	longest[64] = 0;
	ck_assert(validate_name(longest));
	longest[64] = 'a';
	longest[65] = 0;
	ck_assert(!validate_name(longest));

	ck_assert(validate_qemu_id("net0"));
	ck_assert(!validate_qemu_id("0net"));
	ck_assert(!validate_qemu_id(""));

	for (size_t k = 0; k < sizeof(instances) / sizeof(instances[0]); k++)
		ck_assert_msg(validate_instance_name(instances[k]), "%s", instances[k]);
	for (size_t k = 0; k < sizeof(bad_instances) / sizeof(bad_instances[0]); k++)
		ck_assert_msg(!validate_instance_name(bad_instances[k]), "'%s' accepted",
			      bad_instances[k]);
}
END_TEST

START_TEST(test_attach_parses_what_it_accepts)
{
	PairConfig c;
	ValidateError e;

	ck_assert_int_eq(validate_attach_args("vm1", "p0", "fast", MAC, "net0", &c, &e), 0);
	ck_assert_str_eq(c.name, "p0");
	ck_assert_str_eq(c.pool, "fast");
	ck_assert_str_eq(c.standby, "net0");
	ck_assert_int_eq(memcmp(c.mac, (const unsigned char[]){ 0x52, 0x54, 0, 0xaa, 0xbb, 1 }, 6),
			 0);
	ck_assert_int_eq(validate_attach_finish(&c, &e), 0);

	/* Hotplugging the standby instead. */
	ck_assert_int_eq(validate_attach_args("vm1", "p0", "fast", MAC, "", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("StandbyNetdev", "hn1", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("StandbyBus", "rp3", &c, &e), 0);
	ck_assert_str_eq(c.standby_netdev, "hn1");
	ck_assert_str_eq(c.standby_bus, "rp3");
	ck_assert_int_eq(validate_attach_finish(&c, &e), 0);

	/* The primary's own port, chosen by the caller. */
	ck_assert_int_eq(validate_attach_args("vm1", "p0", "fast", MAC, "net0", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("PrimaryBus", "rp4", &c, &e), 0);
	ck_assert_str_eq(c.primary_bus, "rp4");
	ck_assert_int_eq(validate_attach_finish(&c, &e), 0);
}
END_TEST

START_TEST(test_attach_errors_name_the_argument)
{
	static const struct {
		const char *inst, *pair, *pool, *mac, *standby, *arg, *message;
	} bad[] = {
		{ "", "p0", "fast", MAC, "net0", "instance", "'' is not an instance name" },
		{ "vm1", "p/0", "fast", MAC, "net0", "pair",
		  "'p/0' is not a name (letters, digits, '_', '.', '-'; at most 64)" },
		{ "vm1", "p0", "", MAC, "net0", "pool",
		  "'' is not a name (letters, digits, '_', '.', '-'; at most 64)" },
		{ "vm1", "p0", "fast", "zz", "net0", "mac_address",
		  "'zz' is not a MAC address like 52:54:00:aa:bb:01" },
		{ "vm1", "p0", "fast", "01:00:5e:00:00:01", "net0", "mac_address",
		  "01:00:5e:00:00:01: a pair needs a unicast, non-zero MAC" },
		{ "vm1", "p0", "fast", MAC, "1net", "standby",
		  "'1net' is not a QEMU device id (a letter, then letters, digits, '_', '.', "
		  "'-')" },
	};
	PairConfig c;
	ValidateError e;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		ck_assert_int_eq(validate_attach_args(bad[k].inst, bad[k].pair, bad[k].pool,
						      bad[k].mac, bad[k].standby, &c, &e),
				 -EINVAL);
		ck_assert_str_eq(e.arg, bad[k].arg);
		ck_assert_str_eq(e.message, bad[k].message);
	}

	ck_assert_int_eq(validate_attach_args("vm1", "p0", "fast", MAC, "", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("Bogus", "x", &c, &e), -EINVAL);
	ck_assert_str_eq(e.arg, "options");
	ck_assert_str_eq(e.message,
			 "unknown option 'Bogus' (known: StandbyNetdev, StandbyBus, PrimaryBus, "
			 "PrimaryNetdev, PrimaryTap, TrafficHandling, StandbyLinkDown, StandbyTap, "
			 "Uplink)");
	ck_assert_int_eq(validate_attach_option("StandbyNetdev", NULL, &c, &e), -EINVAL);
	ck_assert_str_eq(e.message, "StandbyNetdev must be a string");
	ck_assert_int_eq(validate_attach_option("StandbyNetdev", "9x", &c, &e), -EINVAL);
	ck_assert_str_eq(e.message, "StandbyNetdev='9x' is not a QEMU id (a letter, then letters, "
				    "digits, '_', '.', '-')");
	ck_assert_int_eq(validate_attach_finish(&c, &e), -EINVAL);
	ck_assert_str_eq(e.arg, "standby");
	ck_assert_int_eq(validate_attach_option("StandbyBus", "rp3", &c, &e), 0);
	ck_assert_int_eq(validate_attach_finish(&c, &e), -EINVAL);
	ck_assert_str_eq(e.message, "StandbyBus needs StandbyNetdev");

	ck_assert_int_eq(validate_attach_args("vm1", "p0", "fast", MAC, "net0", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("StandbyNetdev", "hn1", &c, &e), 0);
	ck_assert_int_eq(validate_attach_finish(&c, &e), -EINVAL);
	ck_assert_str_eq(e.message,
			 "give a standby device id or the StandbyNetdev option, not both");

	ck_assert_int_eq(validate_attach_args("vm1", "p0", "fast", MAC, "", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("PrimaryBus", "rp 4", &c, &e), -EINVAL);
	ck_assert_str_eq(e.message, "PrimaryBus='rp 4' is not a QEMU id (a letter, then letters, "
				    "digits, '_', '.', '-')");
	ck_assert_int_eq(validate_attach_option("StandbyNetdev", "hn1", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("StandbyBus", "rp4", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("PrimaryBus", "rp4", &c, &e), 0);
	ck_assert_int_eq(validate_attach_finish(&c, &e), -EINVAL);
	ck_assert_str_eq(e.arg, "options");
	ck_assert_str_eq(e.message, "PrimaryBus and StandbyBus name the same port");

	/* The traffic handling's options: the same rules as the .vm file's keys. */
	ck_assert_int_eq(validate_attach_args("vm1", "p0", "fast", MAC, "net0", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("TrafficHandling", "maybe", &c, &e), -EINVAL);
	ck_assert_str_eq(e.message, "TrafficHandling='maybe' is not a boolean (yes/no, true/false, "
				    "on/off, 1/0)");
	ck_assert_int_eq(validate_attach_option("StandbyTap", "tap/0", &c, &e), -EINVAL);
	ck_assert_str_eq(e.message, "StandbyTap='tap/0' is not a network interface name (at most "
				    "15 bytes, no '/', ':' or spaces)");
	ck_assert_int_eq(validate_attach_option("TrafficHandling", "yes", &c, &e), 0);
	ck_assert(c.traffic);
	ck_assert_int_eq(validate_attach_finish(&c, &e), 0); /* the tap is found from QEMU */
	ck_assert_int_eq(validate_attach_option("StandbyTap", "vnet0", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("Uplink", "vnet0", &c, &e), 0);
	ck_assert_int_eq(validate_attach_finish(&c, &e), -EINVAL);
	ck_assert_str_eq(e.message, "StandbyTap and Uplink name the same device");
	ck_assert_int_eq(validate_attach_option("Uplink", "enp1s0f0", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("StandbyLinkDown", "on", &c, &e), 0);
	ck_assert_int_eq(validate_attach_option("PrimaryTap", "vf0", &c, &e), 0);
	ck_assert_int_eq(validate_attach_finish(&c, &e), -EINVAL);
	ck_assert_str_eq(e.message, "PrimaryTap needs PrimaryNetdev");
	ck_assert_int_eq(validate_attach_option("PrimaryNetdev", "vfn0", &c, &e), 0);
	ck_assert_int_eq(validate_attach_finish(&c, &e), 0);
	ck_assert(c.standby_link_down);
	ck_assert_str_eq(c.primary_netdev, "vfn0");

	ck_assert_int_eq(validate_instance_pair_args("vm1", "p0", &e), 0);
	ck_assert_int_eq(validate_instance_pair_args("vm1", NULL, &e), 0);
	ck_assert_int_eq(validate_instance_pair_args("vm1", "p 0", &e), -EINVAL);
	ck_assert_str_eq(e.arg, "pair");
	ck_assert_int_eq(validate_instance_pair_args("a/b", NULL, &e), -EINVAL);
	ck_assert_str_eq(e.arg, "instance");
}
END_TEST

/*
 * Regression: the rejected value used to be cut at a byte count, which
 * split a multi-byte character; sd-bus then could not send the error and
 * the caller waited for its timeout (25 s) instead of getting InvalidArgs.
 */
START_TEST(test_error_message_stays_utf8)
{
	char name[402];
	ValidateError e;
	PairConfig c;

	name[0] = 'a';
	for (size_t k = 0; k < 200; k++)
		memcpy(name + 1 + 2 * k, "é", 2);
	name[401] = 0;
	ck_assert_int_eq(validate_instance_pair_args(name, "p0", &e), -EINVAL);
	ck_assert(conf_utf8_is_valid(e.message));
	ck_assert_msg(strstr(e.message, "é...' is not an instance name"), "%s", e.message);

	/* Broken UTF-8 and control characters are never echoed as they are. */
	ck_assert_int_eq(validate_attach_args("vm1", "p\xff\n", "fast", MAC, "net0", &c, &e),
			 -EINVAL);
	ck_assert_str_eq(e.arg, "pair");
	ck_assert(conf_utf8_is_valid(e.message));
	ck_assert_ptr_nonnull(strstr(e.message, "'p\?\?'")); /* "\?": no trigraph */
}
END_TEST

START_TEST(test_utf8_repair)
{
	char buf[16];

	ck_assert_str_eq(validate_utf8_repair("plain", buf, sizeof(buf)), "plain");
	ck_assert_str_eq(validate_utf8_repair("vm-é", buf, sizeof(buf)), "vm-é");
	ck_assert_str_eq(validate_utf8_repair("vm\xe9", buf, sizeof(buf)), "vm?");
	/* A character cut at the end of a truncated reason. */
	ck_assert_str_eq(validate_utf8_repair("ab\xe6\x97", buf, sizeof(buf)), "ab??");
	ck_assert_str_eq(validate_utf8_repair("\xc0\xaf", buf, sizeof(buf)), "??");
	ck_assert_str_eq(validate_utf8_repair("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
					      "\xff\xff\xff\xff\xff\xff",
					      buf, sizeof(buf)),
			 "???????????????");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-validate");
	TCase *tc = tcase_create("validate");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_attach_parses_what_it_accepts);
	tcase_add_test(tc, test_attach_errors_name_the_argument);
	tcase_add_test(tc, test_error_message_stays_utf8);
	tcase_add_test(tc, test_utf8_repair);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
