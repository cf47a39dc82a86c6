/* The data-path tests' real-kernel fixture (tests/lib/steer-lab.h). */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/steer-lab.h"

const uint8_t test_steer_mac[6] = { 0x52, 0x54, 0x00, 0x5e, 0xe0, 0x01 };

static void sh(const char *cmd)
{
	char out[1024];

	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s: %s", cmd, out);
}

void test_steer_lab_setup(TestSteerLab *l)
{
	char cmd[256];

	memset(l, 0, sizeof(*l));
	test_igb_find(&l->igb);
	/* Fresh VFs: an earlier test may have left them up or re-addressed. */
	test_igb_set_vfs(&l->igb, 0, true);
	test_igb_set_vfs(&l->igb, 7, true);
	test_igb_up(&l->igb);
	snprintf(cmd, sizeof(cmd), "ip link set %s vf %d mac " TEST_STEER_MAC, l->igb.ifname,
		 TEST_STEER_VF);
	sh(cmd);
	/* A failed test skips its teardown (Check exits in the forked test). */
	test_run("ip link del fovdtap0; ip link del fovdbr0", cmd, sizeof(cmd));
	sh("ip link add fovdbr0 type bridge && ip link add fovdtap0 type veth peer name fovdw0 && "
	   "ip link set fovdtap0 master fovdbr0 && ip link set fovdbr0 up && "
	   "ip link set fovdtap0 up && ip link set fovdw0 up");
	snprintf(l->dir, sizeof(l->dir), "/tmp/steer-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(l->dir));
}

void test_steer_lab_teardown(TestSteerLab *l)
{
	char cmd[256], out[256];

	test_run("ip link del fovdtap0; ip link del fovdbr0", out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "bridge fdb del " TEST_STEER_MAC " dev %s self; rm -rf %s",
		 l->igb.ifname, l->dir);
	test_run(cmd, out, sizeof(out));
	/* The VFs this fixture brought up and re-addressed go with it. */
	test_igb_set_vfs(&l->igb, 0, true);
}

SteerPlan test_steer_lab_plan(const TestSteerLab *l)
{
	SteerPlan p = { .vf_index = TEST_STEER_VF };

	memcpy(p.mac, test_steer_mac, 6);
	snprintf(p.tap, sizeof(p.tap), "fovdtap0");
	snprintf(p.uplink, sizeof(p.uplink), "%s", l->igb.ifname);
	snprintf(p.pf, sizeof(p.pf), "%s", l->igb.ifname);
	return p;
}

bool test_steer_lab_vf_mac_is(const TestSteerLab *l, const char *mac)
{
	char line[512];

	test_ip_vf_line(&l->igb, TEST_STEER_VF, line, sizeof(line));
	return strstr(line, mac) != NULL;
}

bool test_steer_lab_record_exists(const TestSteerLab *l)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/" TEST_STEER_RECORD, l->dir);
	return stat(path, &st) == 0;
}

bool test_steer_lab_no_entries(const TestSteerLab *l)
{
	return !test_fdb_shows(l->igb.ifname, TEST_STEER_MAC, "self") &&
	       !test_fdb_shows("fovdtap0", TEST_STEER_MAC, "master");
}
