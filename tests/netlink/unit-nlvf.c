/*
 * VF settings: names, formatting, comparison, and the real rtnetlink
 * answers of this machine's loopback device (a link without any VF: the
 * libnl 3.7 crash case) and of a missing device.
 */

#include <check.h>
#include <errno.h>
#include <string.h>

#include "netlink/nlvf.h"
#include "tests/lib/suite.h"

START_TEST(test_names)
{
	for (int i = 0; i < _NL_VF_SETTING_MAX; i++)
		ck_assert_int_eq(nl_vf_setting_from_string(nl_vf_setting_to_string(i)), i);
	ck_assert_int_lt(nl_vf_setting_from_string("colour"), 0);
	ck_assert_str_eq(nl_vf_setting_to_string(NL_VF_LINK_STATE), "state");
	ck_assert_int_eq(nl_vf_link_state_from_string("disable"), NL_VF_LINK_DISABLE);
	ck_assert_int_lt(nl_vf_link_state_from_string("down"), 0);
}
END_TEST

START_TEST(test_format_and_equal)
{
	NlVfConfig a = { .mac = { 0x52, 0x54, 0, 0xab, 0xcd, 0xef },
			 .vlan = 10,
			 .qos = 3,
			 .vlan_proto = NL_VF_PROTO_8021AD,
			 .max_tx_rate = 100,
			 .link_state = NL_VF_LINK_DISABLE };
	NlVfConfig b = a;
	char buf[64];

	ck_assert_int_eq(nl_vf_config_format(&a, NL_VF_MAC, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "52:54:00:ab:cd:ef");
	ck_assert_int_eq(nl_vf_config_format(&a, NL_VF_VLAN, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "10 qos 3 proto 802.1ad");
	ck_assert_int_eq(nl_vf_config_format(&a, NL_VF_LINK_STATE, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "disable");
	ck_assert_int_eq(nl_vf_config_format(&a, NL_VF_SPOOFCHK, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "off");
	ck_assert_int_eq(nl_vf_config_format(&a, NL_VF_MAC, buf, 5), -ENOBUFS);

	b.vlan_proto = NL_VF_PROTO_8021Q;
	ck_assert(!nl_vf_config_equal(&a, &b, NL_VF_VLAN));
	/* no VLAN: the protocol does not matter; 0 reads as 802.1Q */
	a.vlan = b.vlan = 0;
	a.qos = b.qos = 0;
	ck_assert(nl_vf_config_equal(&a, &b, NL_VF_VLAN));
	a.vlan = b.vlan = 5;
	a.vlan_proto = 0;
	ck_assert(nl_vf_config_equal(&a, &b, NL_VF_VLAN));
	b.max_tx_rate = 0;
	ck_assert(!nl_vf_config_equal(&a, &b, NL_VF_MAX_TX_RATE));
	ck_assert(nl_vf_config_equal(&a, &b, NL_VF_MIN_TX_RATE));
}
END_TEST

START_TEST(test_link_without_vfs)
{
	NlVfSocket *s = NULL;
	NlVfError err = { .message = "" };
	NlVfConfig c;
	unsigned n = 99;

	ck_assert_int_eq(nl_vf_socket_new(&s), 0);
	ck_assert_int_eq(nl_vf_count(s, "lo", &n), 0);
	ck_assert_uint_eq(n, 0);
	/* must not crash in rtnl_link_vf_get() */
	ck_assert_int_eq(nl_vf_get(s, "lo", 0, &c, &err), -ENOENT);
	ck_assert_str_eq(err.message, "PF lo has no VF 0 (it reports 0 VFs)");
	nl_vf_socket_free(s);
}
END_TEST

START_TEST(test_kernel_refusal_is_precise)
{
	NlVfConfig c = { .set = NL_VF_BIT(NL_VF_TRUST), .trust = true };
	NlVfError err = { .message = "" };
	NlVfSocket *s = NULL;
	int r;

	ck_assert_int_eq(nl_vf_socket_new(&s), 0);
	/* the kernel's own answer for a device without VF support */
	r = nl_vf_set_one(s, "lo", 3, &c, NL_VF_TRUST, &err);
	ck_assert_int_lt(r, 0);
	ck_assert_int_eq(err.setting, NL_VF_TRUST);
	ck_assert_msg(strstr(err.message, "PF lo VF 3: setting trust on failed: ") == err.message,
		      "%s", err.message);

	ck_assert_int_eq(nl_vf_set(s, "nosuch-if0", 0, &c, &err), -ENODEV);
	ck_assert_str_eq(err.message, "PF nosuch-if0: no such network interface");
	ck_assert_int_eq(nl_vf_get(s, "nosuch-if0", 0, &c, &err), -ENODEV);
	nl_vf_socket_free(s);
	ck_assert_ptr_null(nl_vf_socket_free(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netlink-vf");
	TCase *tc = tcase_create("nlvf");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_format_and_equal);
	tcase_add_test(tc, test_link_without_vfs);
	tcase_add_test(tc, test_kernel_refusal_is_precise);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
