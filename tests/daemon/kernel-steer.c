/*
 * The data path's steering (daemon/steer.c, docs/traffic.md) against a real
 * kernel, inside the SR-IOV test guest: VF 2 of the igb PF has the guest's
 * MAC, a bridge has the standby's "tap" (a veth) as a port. Steering zeroes
 * the VF's MAC and adds the self entry on the PF and the master entry on
 * the tap, each seen with iproute2; undoing gives it all back. A step the
 * kernel refuses leaves nothing changed.
 */

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/steer.h"
#include "sriov/sriov.h"
#include "tests/lib/kernel.h"
#include "tests/lib/steer-lab.h"
#include "tests/lib/suite.h"

#define MAC   TEST_STEER_MAC
#define OWNER TEST_STEER_OWNER

static TestSteerLab t;

static void setup(void)
{
	test_steer_lab_setup(&t);
}

static void teardown(void)
{
	test_steer_lab_teardown(&t);
}

static SteerPlan plan_source(void)
{
	return test_steer_lab_plan(&t);
}

static bool vf_mac_is(const char *m)
{
	return test_steer_lab_vf_mac_is(&t, m);
}

static bool record_exists(void)
{
	return test_steer_lab_record_exists(&t);
}

START_TEST(test_source_steering_and_its_undo)
{
	SteerPlan p = plan_source();
	char err[320] = "";
	Steer *s = NULL;

	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vf_mac_is("00:00:00:00:00:00"), "the VF kept its MAC");
	ck_assert_msg(test_fdb_shows(t.igb.ifname, MAC, "self"), "no self entry on the PF");
	ck_assert_msg(test_fdb_shows("fovdtap0", MAC, "master fovdbr0 static"),
		      "no static entry on the tap");
	ck_assert(record_exists());
	/* Asked again (a restart finding the migration still running): the same, no error. */
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);

	/* Cancelled: the guest gets its VF back, with its MAC. */
	ck_assert_msg(steer_undo(s, OWNER, true, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vf_mac_is(MAC), "the VF's MAC was not given back");
	ck_assert_msg(!test_fdb_shows(t.igb.ifname, MAC, "self"), "self entry left on the PF");
	ck_assert_msg(!test_fdb_shows("fovdtap0", MAC, "master"), "entry left on the tap");
	ck_assert(!record_exists());
	ck_assert_int_eq(steer_undo(s, OWNER, true, err, sizeof(err)), 0);
	steer_free(s);
}
END_TEST

START_TEST(test_completed_keeps_the_vf_mac_zeroed)
{
	SteerPlan p = plan_source();
	char err[320] = "";
	Steer *s = NULL;

	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);
	/* The guest runs elsewhere: the entries go, the VF waits zeroed for its release. */
	ck_assert_msg(steer_undo(s, OWNER, false, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vf_mac_is("00:00:00:00:00:00"), "the VF got a MAC back");
	ck_assert_msg(!test_fdb_shows("fovdtap0", MAC, "master"), "entry left on the tap");
	ck_assert(!record_exists());
	steer_free(s);
}
END_TEST

START_TEST(test_a_refused_step_changes_nothing)
{
	SteerPlan p = plan_source();
	char err[320] = "";
	Steer *s = NULL;

	/* fovdw0 is no bridge port: the master entry is refused after the other two steps. */
	snprintf(p.tap, sizeof(p.tap), "fovdw0");
	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_int_eq(steer_apply(s, OWNER, &p, err, sizeof(err)), -EOPNOTSUPP);
	ck_assert_msg(strstr(err, "FDB entry " MAC " on fovdw0 (master)"), "%s", err);
	ck_assert_msg(vf_mac_is(MAC), "the VF's MAC stayed zeroed");
	ck_assert_msg(!test_fdb_shows(t.igb.ifname, MAC, "self"), "self entry left on the PF");
	ck_assert(!record_exists());
	ck_assert(!steer_has(s, OWNER));

	/* No such PF: nothing at all is done. */
	p = plan_source();
	snprintf(p.pf, sizeof(p.pf), "nosuch0");
	ck_assert_int_lt(steer_apply(s, OWNER, &p, err, sizeof(err)), 0);
	ck_assert_msg(!test_fdb_shows("fovdtap0", MAC, "master"), "entry left on the tap");
	ck_assert(!record_exists());
	steer_free(s);
}
END_TEST

START_TEST(test_destination_entries_leave_the_vf_alone)
{
	SteerPlan p = plan_source();
	char err[320] = "";
	Steer *s = NULL;

	p.pf[0] = 0; /* the destination: the VF keeps the MAC its guest will find */
	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vf_mac_is(MAC), "the destination's VF lost its MAC");
	ck_assert_msg(test_fdb_shows("fovdtap0", MAC, "master fovdbr0 static"),
		      "no static entry on the tap");
	ck_assert_msg(steer_undo(s, OWNER, true, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(!test_fdb_shows("fovdtap0", MAC, "master"), "entry left on the tap");
	ck_assert_msg(vf_mac_is(MAC), "the destination's VF lost its MAC");
	steer_free(s);
}
END_TEST

/* --- real frames through QEMU's igb switch (docs/traffic.md §What QEMU's igb emulation shows) ---
 */

static void vf_ifname(unsigned vf, char *buf, size_t size)
{
	SriovError se = { "" };
	SriovPf pf;
	SriovVf v;

	ck_assert_int_eq(sriov_pf_find(NULL, t.igb.bdf, &pf, &se), 0);
	/* igbvf names its netdev some time after the VF appears: at most 10 s. */
	for (int k = 0; k < 100; k++) {
		ck_assert_msg(sriov_vf_find(NULL, &pf, vf, &v, &se) == 0, "%s", se.message);
		if (v.ifname[0])
			break;
		usleep(100 * 1000);
	}
	ck_assert_msg(v.ifname[0], "VF %u has no netdev (igbvf)", vf);
	snprintf(buf, size, "%s", v.ifname);
}

#define ETHERTYPE_TEST 0x88b5 /* IEEE local experimental: nothing else sends it */

/* A socket that sees the test's frames arriving on @dev, and only those. */
static int listen_on(const char *dev)
{
	struct sockaddr_ll at = { .sll_family = AF_PACKET, .sll_protocol = htons(ETHERTYPE_TEST) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETHERTYPE_TEST));

	ck_assert_int_ge(fd, 0);
	at.sll_ifindex = (int)if_nametoindex(dev);
	ck_assert_int_gt(at.sll_ifindex, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&at, sizeof(at)), 0);
	return fd;
}

static unsigned long drain(int fd)
{
	uint8_t buf[128];
	unsigned long n = 0;

	while (recv(fd, buf, sizeof(buf), 0) > 0)
		n++;
	return n;
}

/* @n Ethernet frames from @dev to the pair's MAC (a local experimental ethertype). */
static void send_frames(const char *dev, unsigned n)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };
	uint8_t frame[64] = { 0 };
	int fd = socket(AF_PACKET, SOCK_RAW, 0);

	ck_assert_int_ge(fd, 0);
	to.sll_ifindex = (int)if_nametoindex(dev);
	ck_assert_int_gt(to.sll_ifindex, 0);
	memcpy(frame, test_steer_mac, 6);
	memcpy(to.sll_addr, test_steer_mac, 6);
	frame[6] = 0x02; /* a locally administered source */
	frame[12] = ETHERTYPE_TEST >> 8, frame[13] = ETHERTYPE_TEST & 0xff;
	for (unsigned k = 0; k < n; k++) {
		frame[14] = (uint8_t)k;
		ck_assert_int_eq(
			sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)),
			(ssize_t)sizeof(frame));
	}
	close(fd);
	usleep(300 * 1000); /* what is in flight lands before the counters are read */
}

typedef struct Counts {
	unsigned long vf, tap;
} Counts;

static Counts deliver(const char *from, const char *vf, unsigned n)
{
	int at_vf = listen_on(vf), at_tap = listen_on("fovdw0");
	Counts c;

	send_frames(from, n);
	c = (Counts){ drain(at_vf), drain(at_tap) };
	close(at_vf);
	close(at_tap);
	return c;
}

/*
 * VF 1 (the peer, on igbvf) sends frames to the guest's MAC. Plugged, VF 2
 * gets them from the NIC's switch; steered (VF 2's MAC zeroed, the self
 * entry on the PF, the PF a port of the bridge, the master entry on the
 * standby's tap) the tap gets them instead; undone, VF 2 again.
 */
START_TEST(test_frames_follow_the_steering)
{
	SteerPlan p = plan_source();
	char err[320] = "", peer[16], vf[16], cmd[256], out[256];
	Counts plugged, steered, back;
	Steer *s = NULL;

	vf_ifname(1, peer, sizeof(peer));
	vf_ifname(TEST_STEER_VF, vf, sizeof(vf));
	snprintf(cmd, sizeof(cmd),
		 "ip link set %s master fovdbr0 && ip link set %s up && "
		 "ip link set %s up",
		 t.igb.ifname, peer, vf);
	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s: %s", cmd, out);
	/* Waits for the links, not for time: at most 10 s, then the counts tell. */
	for (int k = 0; k < 100 && !(test_igb_carrier(vf) && test_igb_carrier(peer)); k++)
		usleep(100 * 1000);

	plugged = deliver(peer, vf, 20);
	ck_assert_int_eq(steer_new(&s, t.dir, err, sizeof(err)), 0);
	ck_assert_msg(steer_apply(s, OWNER, &p, err, sizeof(err)) == 0, "%s", err);
	steered = deliver(peer, vf, 20);
	ck_assert_msg(steer_undo(s, OWNER, true, err, sizeof(err)) == 0, "%s", err);
	back = deliver(peer, vf, 20);
	steer_free(s);
	printf("FOVD-FRAMES igb, 20 frames each: plugged vf=%lu tap=%lu; steered vf=%lu tap=%lu; "
	       "undone vf=%lu tap=%lu\n",
	       plugged.vf, plugged.tap, steered.vf, steered.tap, back.vf, back.tap);
	ck_assert_msg(plugged.vf == 20 && plugged.tap == 0 && steered.vf == 0 &&
			      steered.tap == 20 && back.vf == 20 && back.tap == 0,
		      "frames did not follow the steering (see FOVD-FRAMES)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("steer");
	TCase *tc = tcase_create("igb");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_source_steering_and_its_undo);
	tcase_add_test(tc, test_completed_keeps_the_vf_mac_zeroed);
	tcase_add_test(tc, test_a_refused_step_changes_nothing);
	tcase_add_test(tc, test_destination_entries_leave_the_vf_alone);
	tcase_add_test(tc, test_frames_follow_the_steering);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
