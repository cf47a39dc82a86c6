/*
 * Static FDB entries against a real kernel (inside the SR-IOV test guest):
 * a bridge's own table (`master`) on a port in a network namespace of the
 * test's own, and a NIC's table (`self`) on the igb PF; each checked with
 * iproute2's `bridge fdb show` as well as our own read-back.
 */

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "netlink/nlfdb.h"
#include "tests/lib/kernel.h"
#include "tests/lib/suite.h"

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xfd, 0xb0, 0x01 };
#define MAC "52:54:00:fd:b0:01"

static NlFdbSocket *sock(void)
{
	NlFdbSocket *s = NULL;

	ck_assert_int_eq(nl_fdb_socket_new(&s), 0);
	return s;
}

static void sh(const char *cmd)
{
	char out[1024];

	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s: %s", cmd, out);
}

static bool bridge_shows(const char *dev, const char *words)
{
	return test_fdb_shows(dev, MAC, words);
}

/* Each test in a network namespace of its own (Check forks per test): a bridge with two ports. */
static void bridge_setup(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	sh("ip link add br0 type bridge && ip link add tap0 type veth peer name wire0 && "
	   "ip link set tap0 master br0 && ip link set br0 up && ip link set tap0 up && "
	   "ip link set wire0 up");
}

START_TEST(test_master_entry_on_a_bridge_port)
{
	NlFdbSocket *s = sock();
	NlFdbError err = { "" };

	ck_assert_int_eq(nl_fdb_has(s, "tap0", mac, NL_FDB_MASTER, &err), 0);
	ck_assert_msg(nl_fdb_add(s, "tap0", mac, NL_FDB_MASTER, &err) == 0, "%s", err.message);
	ck_assert_int_eq(nl_fdb_has(s, "tap0", mac, NL_FDB_MASTER, &err), 1);
	ck_assert_msg(bridge_shows("tap0", "master br0 static"), "bridge fdb: no static entry");
	/* the same again (a restart repairing what a crash left) is no error */
	ck_assert_msg(nl_fdb_add(s, "tap0", mac, NL_FDB_MASTER, &err) == 0, "%s", err.message);
	ck_assert_msg(nl_fdb_del(s, "tap0", mac, NL_FDB_MASTER, &err) == 0, "%s", err.message);
	ck_assert_int_eq(nl_fdb_has(s, "tap0", mac, NL_FDB_MASTER, &err), 0);
	ck_assert_msg(!bridge_shows("tap0", "master"), "bridge fdb: the entry is still there");
	ck_assert_msg(nl_fdb_del(s, "tap0", mac, NL_FDB_MASTER, &err) == 0, "%s", err.message);
	nl_fdb_socket_free(s);
}
END_TEST

START_TEST(test_master_entry_moves_learning_off_the_wire)
{
	NlFdbSocket *s = sock();
	NlFdbError err = { "" };

	/* learned on one port, then pinned to another: the static entry wins */
	sh("bridge fdb add " MAC " dev wire0 master dynamic 2>/dev/null || true");
	ck_assert_msg(nl_fdb_add(s, "tap0", mac, NL_FDB_MASTER, &err) == 0, "%s", err.message);
	ck_assert_msg(bridge_shows("tap0", "master br0 static"), "not pinned to tap0");
	nl_fdb_socket_free(s);
}
END_TEST

START_TEST(test_master_entry_needs_a_bridge_port)
{
	NlFdbSocket *s = sock();
	NlFdbError err = { "" };

	ck_assert_int_eq(nl_fdb_add(s, "wire0", mac, NL_FDB_MASTER, &err), -EOPNOTSUPP);
	ck_assert_msg(strstr(err.message, "FDB entry " MAC " on wire0 (master): adding it failed"),
		      "%s", err.message);
	ck_assert_int_eq(nl_fdb_add(s, "nosuch0", mac, NL_FDB_MASTER, &err), -ENODEV);
	ck_assert_msg(strstr(err.message, "on nosuch0 (master): no such network interface"), "%s",
		      err.message);
	nl_fdb_socket_free(s);
}
END_TEST

START_TEST(test_self_entry_on_the_igb_pf)
{
	NlFdbSocket *s = sock();
	NlFdbError err = { "" };
	TestIgb igb;

	test_igb_find(&igb);
	ck_assert_msg(nl_fdb_add(s, igb.ifname, mac, NL_FDB_SELF, &err) == 0, "%s", err.message);
	ck_assert_int_eq(nl_fdb_has(s, igb.ifname, mac, NL_FDB_SELF, &err), 1);
	ck_assert_msg(bridge_shows(igb.ifname, "self"), "bridge fdb: no self entry on the PF");
	ck_assert_msg(nl_fdb_add(s, igb.ifname, mac, NL_FDB_SELF, &err) == 0, "%s", err.message);
	ck_assert_msg(nl_fdb_del(s, igb.ifname, mac, NL_FDB_SELF, &err) == 0, "%s", err.message);
	ck_assert_int_eq(nl_fdb_has(s, igb.ifname, mac, NL_FDB_SELF, &err), 0);
	ck_assert_msg(!bridge_shows(igb.ifname, "self"), "bridge fdb: the entry is still there");
	ck_assert_msg(nl_fdb_del(s, igb.ifname, mac, NL_FDB_SELF, &err) == 0, "%s", err.message);
	nl_fdb_socket_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netlink-fdb");
	TCase *br = tcase_create("bridge");
	TCase *nic = tcase_create("nic");

	tcase_set_timeout(br, 60);
	tcase_add_checked_fixture(br, bridge_setup, NULL);
	tcase_add_test(br, test_master_entry_on_a_bridge_port);
	tcase_add_test(br, test_master_entry_moves_learning_off_the_wire);
	tcase_add_test(br, test_master_entry_needs_a_bridge_port);
	suite_add_tcase(s, br);
	tcase_set_timeout(nic, 60);
	tcase_add_test(nic, test_self_entry_on_the_igb_pf);
	suite_add_tcase(s, nic);
	return test_suite_run(s, CK_VERBOSE);
}
