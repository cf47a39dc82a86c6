/*
 * VF programming against a real igb PF (inside the SR-IOV test guest):
 * every setting igb supports, verified by our read-back and by iproute2,
 * and the settings igb refuses, with errors that name PF, VF, setting and
 * value.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netlink/nlvf.h"
#include "tests/lib/kernel.h"
#include "tests/lib/suite.h"

static TestIgb igb;

static void setup(void)
{
	test_igb_find(&igb);
	test_igb_set_vfs(&igb, 7, false);
	test_igb_up(&igb);
}

static NlVfSocket *sock(void)
{
	NlVfSocket *s = NULL;

	ck_assert_int_eq(nl_vf_socket_new(&s), 0);
	return s;
}

START_TEST(test_read_all_vfs)
{
	NlVfSocket *s = sock();
	NlVfError err = { .message = "" };
	NlVfConfig c;
	unsigned n = 0;

	ck_assert_int_eq(nl_vf_count(s, igb.ifname, &n), 0);
	ck_assert_uint_eq(n, 7);
	for (unsigned i = 0; i < 7; i++) {
		ck_assert_msg(nl_vf_get(s, igb.ifname, i, &c, &err) == 0, "%s", err.message);
		/* what igb reports, and no more */
		ck_assert(c.set & NL_VF_BIT(NL_VF_MAC));
		ck_assert(c.set & NL_VF_BIT(NL_VF_SPOOFCHK));
		ck_assert(c.set & NL_VF_BIT(NL_VF_TRUST));
		ck_assert(!(c.set & NL_VF_BIT(NL_VF_RSS_QUERY)));
		ck_assert_int_eq(c.link_state, NL_VF_LINK_AUTO);
	}
	ck_assert_int_eq(nl_vf_get(s, igb.ifname, 7, &c, &err), -ENOENT);
	ck_assert_msg(strstr(err.message, "has no VF 7 (it reports 7 VFs)"), "%s", err.message);
	nl_vf_socket_free(s);
}
END_TEST

START_TEST(test_program_supported)
{
	NlVfConfig want = {
		.set = NL_VF_BIT(NL_VF_MAC) | NL_VF_BIT(NL_VF_VLAN) | NL_VF_BIT(NL_VF_SPOOFCHK) |
		       NL_VF_BIT(NL_VF_TRUST) | NL_VF_BIT(NL_VF_MAX_TX_RATE),
		.mac = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x02 },
		.vlan = 10,
		.qos = 3,
		.vlan_proto = NL_VF_PROTO_8021Q,
		.spoofchk = false,
		.trust = true,
		.max_tx_rate = 100,
	};
	NlVfError err = { .message = "" };
	NlVfSocket *s = sock();
	char line[512];
	NlVfConfig got;

	ck_assert_msg(nl_vf_set(s, igb.ifname, 2, &want, &err) == 0, "%s", err.message);
	ck_assert_int_eq(nl_vf_get(s, igb.ifname, 2, &got, &err), 0);
	for (int i = 0; i < _NL_VF_SETTING_MAX; i++)
		if (want.set & NL_VF_BIT(i))
			ck_assert_msg(nl_vf_config_equal(&want, &got, i), "%s differs",
				      nl_vf_setting_to_string(i));
	test_ip_vf_line(&igb, 2, line, sizeof(line));
	ck_assert_msg(strstr(line, "link/ether 52:54:00:aa:bb:02"), "%s", line);
	ck_assert_msg(strstr(line, "vlan 10, qos 3"), "%s", line);
	ck_assert_msg(strstr(line, "max_tx_rate 100Mbps"), "%s", line);
	ck_assert_msg(strstr(line, "spoof checking off"), "%s", line);
	ck_assert_msg(strstr(line, "trust on"), "%s", line);
	/* one request per setting: VF 3 next to it is untouched */
	test_ip_vf_line(&igb, 3, line, sizeof(line));
	ck_assert_msg(strstr(line, "link/ether 00:00:00:00:00:00") && strstr(line, "trust off") &&
			      !strstr(line, "vlan"),
		      "%s", line);

	/* and back: zero MAC, no VLAN, no limit */
	memset(&want, 0, sizeof(want));
	want.set = NL_VF_BIT(NL_VF_MAC) | NL_VF_BIT(NL_VF_VLAN) | NL_VF_BIT(NL_VF_SPOOFCHK) |
		   NL_VF_BIT(NL_VF_TRUST) | NL_VF_BIT(NL_VF_MAX_TX_RATE);
	want.spoofchk = true;
	ck_assert_msg(nl_vf_set(s, igb.ifname, 2, &want, &err) == 0, "%s", err.message);
	test_ip_vf_line(&igb, 2, line, sizeof(line));
	ck_assert_msg(strstr(line, "link/ether 00:00:00:00:00:00") && !strstr(line, "vlan") &&
			      !strstr(line, "max_tx_rate") && strstr(line, "spoof checking on") &&
			      strstr(line, "trust off"),
		      "%s", line);
	nl_vf_socket_free(s);
}
END_TEST

START_TEST(test_igb_refusals)
{
	static const struct {
		NlVfSetting setting;
		NlVfConfig c;
		int error;
		const char *message;
	} cases[] = {
		{ NL_VF_LINK_STATE,
		  { .link_state = NL_VF_LINK_DISABLE },
		  -EOPNOTSUPP,
		  "VF 1: setting state disable failed: Operation not supported (the driver does "
		  "not "
		  "support this setting)" },
		{ NL_VF_MIN_TX_RATE,
		  { .min_tx_rate = 10 },
		  -EINVAL,
		  "VF 1: setting min_tx_rate 10 failed: Invalid argument (the driver rejects this "
		  "value)" },
		{ NL_VF_VLAN,
		  { .vlan = 20, .vlan_proto = NL_VF_PROTO_8021AD },
		  -EPROTONOSUPPORT,
		  "VF 1: setting vlan 20 qos 0 proto 802.1ad failed: Protocol not supported (the "
		  "driver does not support this VLAN protocol)" },
		{ NL_VF_RSS_QUERY,
		  { .rss_query = true },
		  -EOPNOTSUPP,
		  "VF 1: setting query_rss on failed: Operation not supported" },
		{ NL_VF_MAX_TX_RATE,
		  { .max_tx_rate = 5000 },
		  -EINVAL,
		  "VF 1: setting max_tx_rate 5000 failed: Invalid argument" },
	};
	NlVfSocket *s = sock();
	char prefix[64], line[512];

	snprintf(prefix, sizeof(prefix), "PF %s VF 1: ", igb.ifname);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		NlVfError err = { .message = "" };
		NlVfConfig c = cases[i].c;

		c.set = NL_VF_BIT(cases[i].setting);
		ck_assert_int_eq(nl_vf_set(s, igb.ifname, 1, &c, &err), cases[i].error);
		ck_assert_int_eq(err.setting, cases[i].setting);
		ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0 &&
				      strstr(err.message, cases[i].message),
			      "case %zu: %s", i, err.message);
	}
	/* a mixed request stops at the first refusal and says which */
	{
		NlVfConfig c = { .set = NL_VF_BIT(NL_VF_TRUST) | NL_VF_BIT(NL_VF_LINK_STATE),
				 .trust = true,
				 .link_state = NL_VF_LINK_ENABLE };
		NlVfError err = { .message = "" };

		ck_assert_int_eq(nl_vf_set(s, igb.ifname, 1, &c, &err), -EOPNOTSUPP);
		ck_assert_int_eq(err.setting, NL_VF_LINK_STATE);
		ck_assert_msg(strstr(err.message, "setting state enable failed"), "%s",
			      err.message);
		test_ip_vf_line(&igb, 1, line, sizeof(line));
		ck_assert_msg(strstr(line, "trust on") && strstr(line, "link-state auto"), "%s",
			      line);
		c.trust = false;
		c.set = NL_VF_BIT(NL_VF_TRUST);
		ck_assert_int_eq(nl_vf_set(s, igb.ifname, 1, &c, &err), 0);
	}
	nl_vf_socket_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netlink-igb");
	TCase *tc = tcase_create("igb");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_read_all_vfs);
	tcase_add_test(tc, test_program_supported);
	tcase_add_test(tc, test_igb_refusals);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
