/*
 * The typed model: parsed values, required keys and consistency checks
 * (each error naming the file, and the line of the [Pair] concerned),
 * cross-checks between files, what a reload changed, and the dump read
 * back into an equal configuration.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf/conf.h"
#include "tests/lib/conf-tree.h"
#include "tests/lib/suite.h"

#define ETC "etc/failoverd/"

static ConfTree *t;

static void setup(void)
{
	t = conf_tree_new();
}

static void teardown(void)
{
	t = conf_tree_free(t);
}

static void load_ok(void)
{
	ck_assert_msg(conf_tree_load(t) == 0, "conf_load: %d%s", t->result, conf_tree_diags(t));
}

static void expect_diag(const char *rel, unsigned line, const char *sev, const char *message)
{
	char want[2048];

	if (line)
		snprintf(want, sizeof(want), "%s:%u: %s: %s", conf_tree_path(t, rel), line, sev,
			 message);
	else
		snprintf(want, sizeof(want), "%s: %s: %s", conf_tree_path(t, rel), sev, message);
	ck_assert_msg(conf_tree_count(t, want) == 1, "wanted once: %s\ngot:%s", want,
		      conf_tree_diags(t));
}

static void expect_errors(size_t n)
{
	ck_assert_msg(t->result < 0 && !t->set, "load succeeded:%s", conf_tree_diags(t));
	ck_assert_msg(conf_tree_count_sev(t, CONF_ERROR) == n, "wanted %zu errors, got:%s", n,
		      conf_tree_diags(t));
}

static const char full_daemon[] = "[Daemon]\n"
				  "StateDirectory=/srv/failoverd\n"
				  "ListenQMP=/run/failoverd/qmp.sock\n"
				  "AdminGroup=netadm\n"
				  "LogLevel=debug\n"
				  "UnplugTimeoutSec=45\n"
				  "CommandTimeoutSec=2.5s\n"
				  "NegotiateTimeoutSec=2min\n";

static const char full_pool[] = "[Pool]\n"
				"PhysicalFunction=enp1s0f0\n"
				"PhysicalFunction=0000:02:00.0\n"
				"VirtualFunctions=0-3,6\n"
				"[SR-IOV]\n"
				"VLANId=100\n"
				"QualityOfService=5\n"
				"VLANProtocol=802.1ad\n"
				"MACSpoofCheck=no\n"
				"QueryReceiveSideScaling=yes\n"
				"Trust=true\n"
				"LinkState=auto\n"
				"MaxTxRateMbps=1000\n"
				"MinTxRateMbps=100\n";

static const char full_vm[] = "[Instance]\n"
			      "Name=guest-1\n"
			      "QMP=/run/qemu/guest-1.qmp\n"
			      "UnplugTimeoutSec=500ms\n"
			      "PrepareIncoming=no\n"
			      "[Pair]\n"
			      "Name=uplink\n"
			      "Pool=fast\n"
			      "MACAddress=52:54:00:AA:bb:01\n"
			      "Standby=net0\n"
			      "[Pair]\n"
			      "Name=storage\n"
			      "Pool=lab\n"
			      "MACAddress=52:54:00:aa:bb:02\n"
			      "StandbyNetdev=hn1\n"
			      "StandbyBus=rp3\n";

static const char lab_pool[] = "[Pool]\nDriver=emulated\nModel=e1000e\nSize=4\n";

static void write_full(void)
{
	conf_tree_write(t, ETC "failoverd.conf", full_daemon);
	conf_tree_write(t, ETC "fast.pool", full_pool);
	conf_tree_write(t, ETC "lab.pool", lab_pool);
	conf_tree_write(t, ETC "g1.vm", full_vm);
}

START_TEST(test_values)
{
	const ConfDaemon *d;
	const ConfPool *p;
	const ConfInstance *in;

	write_full();
	load_ok();
	ck_assert_uint_eq(t->diags.n, 0);
	d = &t->set->daemon;
	ck_assert_str_eq(d->state_directory, "/srv/failoverd");
	ck_assert_str_eq(d->listen_qmp, "/run/failoverd/qmp.sock");
	ck_assert_str_eq(d->admin_group, "netadm");
	ck_assert_int_eq(d->log_level, LOG_DEBUG);
	ck_assert_uint_eq(d->unplug_timeout_ms, 45000);
	ck_assert_uint_eq(d->command_timeout_ms, 2500);
	ck_assert_uint_eq(d->negotiate_timeout_ms, 120000);

	p = conf_set_find_pool(t->set, "fast");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->driver, CONF_POOL_VFIO);
	ck_assert_uint_eq(p->n_pfs, 2);
	ck_assert_str_eq(p->pfs[0], "enp1s0f0");
	ck_assert_str_eq(p->pfs[1], "0000:02:00.0");
	ck_assert_uint_eq(p->n_ranges, 2);
	ck_assert_uint_eq(p->ranges[0].last, 3);
	ck_assert_uint_eq(p->ranges[1].first, 6);
	ck_assert_uint_eq(p->sriov.set, CONF_SRIOV_VLAN | CONF_SRIOV_QOS | CONF_SRIOV_VLAN_PROTO |
						CONF_SRIOV_SPOOFCHK | CONF_SRIOV_RSS_QUERY |
						CONF_SRIOV_TRUST | CONF_SRIOV_LINK_STATE |
						CONF_SRIOV_MAX_TX_RATE | CONF_SRIOV_MIN_TX_RATE);
	ck_assert_uint_eq(p->sriov.vlan_id, 100);
	ck_assert_uint_eq(p->sriov.qos, 5);
	ck_assert(p->sriov.vlan_802_1ad);
	ck_assert(!p->sriov.spoofchk);
	ck_assert(p->sriov.rss_query);
	ck_assert(p->sriov.trust);
	ck_assert_int_eq(p->sriov.link_state, CONF_LINK_AUTO);
	ck_assert_uint_eq(p->sriov.max_tx_rate, 1000);
	ck_assert_uint_eq(p->sriov.min_tx_rate, 100);

	p = conf_set_find_pool(t->set, "lab");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->driver, CONF_POOL_EMULATED);
	ck_assert_str_eq(p->model, "e1000e");
	ck_assert_uint_eq(p->size, 4);
	ck_assert_uint_eq(p->sriov.set, 0);

	/* Name= overrides the file name; instances are found by it. */
	ck_assert_ptr_null(conf_set_find_instance(t->set, "g1"));
	in = conf_set_find_instance(t->set, "guest-1");
	ck_assert_ptr_nonnull(in);
	ck_assert_str_eq(in->qmp, "/run/qemu/guest-1.qmp");
	ck_assert_uint_eq(in->unplug_timeout_ms, 500);
	ck_assert_uint_eq(in->negotiate_timeout_ms, 0); /* the daemon's default */
	ck_assert(!in->prepare_incoming);
	ck_assert_uint_eq(in->n_pairs, 2);
	ck_assert_str_eq(in->pairs[0].name, "uplink");
	ck_assert_str_eq(in->pairs[0].pool, "fast");
	ck_assert_mem_eq(in->pairs[0].mac, ((uint8_t[]){ 0x52, 0x54, 0, 0xaa, 0xbb, 1 }), 6);
	ck_assert_str_eq(in->pairs[0].standby, "net0");
	ck_assert_str_eq(in->pairs[0].standby_netdev, "");
	ck_assert_uint_eq(in->pairs[0].line, 6);
	ck_assert_str_eq(in->pairs[1].standby, "");
	ck_assert_str_eq(in->pairs[1].standby_netdev, "hn1");
	ck_assert_str_eq(in->pairs[1].standby_bus, "rp3");
}
END_TEST

START_TEST(test_link_state_and_instance_defaults)
{
	conf_tree_write(t, ETC "a.pool",
			"[Pool]\nPhysicalFunction=eth0\n[SR-IOV]\nLinkState=yes\n");
	conf_tree_write(t, ETC "b.pool",
			"[Pool]\nPhysicalFunction=eth1\n[SR-IOV]\nLinkState=off\n");
	conf_tree_write(t, ETC "plain.vm", "[Instance]\n");
	load_ok();
	ck_assert_int_eq(conf_set_find_pool(t->set, "a")->sriov.link_state, CONF_LINK_ENABLE);
	ck_assert_int_eq(conf_set_find_pool(t->set, "b")->sriov.link_state, CONF_LINK_DISABLE);
	ck_assert_uint_eq(conf_set_find_pool(t->set, "a")->size, 8);
	ck_assert_int_eq(conf_set_find_pool(t->set, "a")->driver, CONF_POOL_VFIO);
	ck_assert_ptr_nonnull(conf_set_find_instance(t->set, "plain"));
	ck_assert(conf_set_find_instance(t->set, "plain")->prepare_incoming);
	ck_assert_str_eq(conf_set_find_instance(t->set, "plain")->qmp, "");
}
END_TEST

START_TEST(test_pool_requirements)
{
	conf_tree_write(t, ETC "nopf.pool", "[Pool]\nVirtualFunctions=0-3\n");
	conf_tree_write(t, ETC "nomodel.pool", "[Pool]\nDriver=emulated\n");
	conf_tree_write(t, ETC "qos.pool",
			"[Pool]\nPhysicalFunction=eth0\n[SR-IOV]\nQualityOfService=3\n");
	conf_tree_write(t, ETC "proto.pool",
			"[Pool]\nPhysicalFunction=eth0\n[SR-IOV]\nVLANProtocol=802.1ad\n");
	conf_tree_write(t, ETC "rate.pool",
			"[Pool]\nPhysicalFunction=eth0\n[SR-IOV]\n"
			"MaxTxRateMbps=100\nMinTxRateMbps=200\n");
	conf_tree_write(t, ETC "warn.pool", "[Pool]\nPhysicalFunction=eth0\nModel=e1000e\n");
	conf_tree_write(t, ETC "warn2.pool",
			"[Pool]\nDriver=emulated\nModel=e1000e\nPhysicalFunction=eth0\n");
	conf_tree_load(t);
	expect_errors(5);
	expect_diag(ETC "nopf.pool", 0, "error",
		    "pool nopf: PhysicalFunction= is required for Driver=vfio");
	expect_diag(ETC "nomodel.pool", 0, "error",
		    "pool nomodel: Model= (e.g. e1000e) is required for Driver=emulated");
	expect_diag(ETC "qos.pool", 0, "error", "pool qos: QualityOfService= needs VLANId=");
	expect_diag(ETC "proto.pool", 0, "error", "pool proto: VLANProtocol= needs VLANId=");
	expect_diag(ETC "rate.pool", 0, "error",
		    "pool rate: MinTxRateMbps= exceeds MaxTxRateMbps=");
	expect_diag(ETC "warn.pool", 0, "warning",
		    "pool warn: Model= only applies to Driver=emulated");
	expect_diag(
		ETC "warn2.pool", 0, "warning",
		"pool warn2: PhysicalFunction=/VirtualFunctions= are ignored for Driver=emulated");
}
END_TEST

START_TEST(test_pool_limits)
{
	char content[2048] = "[Pool]\n";

	for (int i = 0; i <= CONF_MAX_PFS; i++)
		snprintf(content + strlen(content), sizeof(content) - strlen(content),
			 "PhysicalFunction=eth%d\n", i);
	conf_tree_write(t, ETC "many.pool", content);
	conf_tree_load(t);
	expect_errors(1);
	expect_diag(ETC "many.pool", CONF_MAX_PFS + 2, "error",
		    "too many PhysicalFunction= (at most 16)");
}
END_TEST

START_TEST(test_pair_requirements)
{
	conf_tree_write(t, ETC "lab.pool", lab_pool);
	conf_tree_write(
		t, ETC "vm.vm",
		"[Instance]\n"
		"[Pair]\n" /* 2 */
		"Pool=lab\nMACAddress=52:54:00:00:00:01\nStandby=n0\n"
		"[Pair]\n" /* 6 */
		"Name=nopool\nMACAddress=52:54:00:00:00:02\nStandby=n0\n"
		"[Pair]\n" /* 10 */
		"Name=nomac\nPool=lab\nStandby=n0\n"
		"[Pair]\n" /* 14 */
		"Name=both\nPool=lab\nMACAddress=52:54:00:00:00:04\nStandby=n0\n"
		"StandbyNetdev=hn0\n"
		"[Pair]\n" /* 20 */
		"Name=neither\nPool=lab\nMACAddress=52:54:00:00:00:05\n"
		"[Pair]\n" /* 24 */
		"Name=nosuchpool\nPool=fast\nMACAddress=52:54:00:00:00:06\nStandby=n0\n"
		"[Pair]\n" /* 29 */
		"Name=nopool\nPool=lab\nMACAddress=52:54:00:00:00:07\nStandby=n0\n"
		"[Pair]\n" /* 34 */
		"Name=bus\nPool=lab\nMACAddress=52:54:00:00:00:08\nStandby=n0\nStandbyBus=rp1\n"
		"[Pair]\n" /* 40 */
		"Name=port\nPool=lab\nMACAddress=52:54:00:00:00:09\nStandby=n1\nPrimaryBus=rp6\n"
		"[Pair]\n" /* 46 */
		"Name=port2\nPool=lab\nMACAddress=52:54:00:00:00:0a\nStandby=n2\nPrimaryBus=rp6\n"
		"[Pair]\n" /* 52 */
		"Name=self\nPool=lab\nMACAddress=52:54:00:00:00:0b\nStandbyNetdev=hn1\n"
		"StandbyBus=rp5\nPrimaryBus=rp5\n");
	conf_tree_load(t);
	expect_errors(9);
	expect_diag(ETC "vm.vm", 2, "error", "[Pair] without Name=");
	expect_diag(ETC "vm.vm", 6, "error", "pair nopool: Pool= is required");
	expect_diag(ETC "vm.vm", 10, "error", "pair nomac: MACAddress= is required");
	expect_diag(ETC "vm.vm", 14, "error",
		    "pair both: set either Standby= (an existing device) or StandbyNetdev= (to "
		    "hotplug one), not both");
	expect_diag(ETC "vm.vm", 20, "error",
		    "pair neither: set either Standby= (an existing device) or StandbyNetdev= (to "
		    "hotplug one), not neither");
	expect_diag(ETC "vm.vm", 24, "error", "pair nosuchpool: no pool named 'fast'");
	expect_diag(ETC "vm.vm", 29, "error", "pair nopool: defined twice in instance vm");
	expect_diag(ETC "vm.vm", 34, "warning",
		    "pair bus: StandbyBus= only applies with StandbyNetdev=");
	/* One root port holds one device: the second would fail to plug. */
	expect_diag(ETC "vm.vm", 46, "error",
		    "pair port2: PrimaryBus=rp6 is already used by pair port");
	expect_diag(ETC "vm.vm", 52, "error",
		    "pair self: PrimaryBus= and StandbyBus= name the same port rp5");
}
END_TEST

/* A traffic handling that could not work is refused before it touches a bridge. */
START_TEST(test_traffic_rules)
{
	conf_tree_write(t, ETC "lab.pool", lab_pool);
	conf_tree_write(t, ETC "fast.pool", "[Pool]\nPhysicalFunction=enp1s0\n");
	conf_tree_write(
		t, ETC "vm.vm",
		"[Instance]\n"
		"[Pair]\n" /* 2 */
		"Name=notap\nPool=lab\nMACAddress=52:54:00:00:00:01\nStandby=n0\n"
		"TrafficHandling=yes\n"
		"[Pair]\n" /* 8 */
		"Name=same\nPool=lab\nMACAddress=52:54:00:00:00:02\nStandby=n1\n"
		"TrafficHandling=yes\nStandbyTap=vnet1\nUplink=vnet1\n"
		"[Pair]\n" /* 16 */
		"Name=off\nPool=lab\nMACAddress=52:54:00:00:00:03\nStandby=n2\n"
		"StandbyTap=vnet2\n"
		"[Pair]\n" /* 22 */
		"Name=vf\nPool=fast\nMACAddress=52:54:00:00:00:04\nStandby=n3\n"
		"PrimaryNetdev=vfn0\n"
		"[Pair]\n" /* 28 */
		"Name=good\nPool=lab\nMACAddress=52:54:00:00:00:05\nStandby=n4\n"
		"PrimaryNetdev=vfn1\nPrimaryTap=vf1\nTrafficHandling=yes\nStandbyTap=vnet4\n"
		"[Pair]\n" /* 37 */
		"Name=tap\nPool=lab\nMACAddress=52:54:00:00:00:06\nStandby=n5\n"
		"PrimaryTap=vf2\n");
	conf_tree_load(t);
	/* Without StandbyTap= the tap is found from the standby's netdev (docs/traffic.md). */
	expect_errors(3);
	expect_diag(ETC "vm.vm", 37, "error", "pair tap: PrimaryTap= needs PrimaryNetdev=");
	expect_diag(ETC "vm.vm", 8, "error",
		    "pair same: StandbyTap= and Uplink= name the same device vnet1");
	expect_diag(ETC "vm.vm", 16, "warning",
		    "pair off: StandbyTap=, Uplink= and StandbyLinkDown= only apply with "
		    "TrafficHandling=yes");
	expect_diag(ETC "vm.vm", 22, "error",
		    "pair vf: PrimaryNetdev= applies to emulated pools only (pool fast hands out "
		    "VFs, which carry their own frames)");
}
END_TEST

START_TEST(test_pairs_from_dropins)
{
	conf_tree_write(t, ETC "lab.pool", lab_pool);
	conf_tree_write(t, ETC "vm.vm",
			"[Instance]\n[Pair]\nName=a\nPool=lab\nMACAddress=52:54:00:00:00:01\n"
			"Standby=n0\n");
	conf_tree_write(t, "run/failoverd/vm.vm.d/extra.conf",
			"[Pair]\nName=b\nPool=lab\nMACAddress=52:54:00:00:00:02\nStandby=n1\n"
			"[Instance]\nQMP=/run/vm.qmp\n");
	load_ok();
	ck_assert_uint_eq(t->set->instances[0].n_pairs, 2);
	ck_assert_str_eq(t->set->instances[0].pairs[1].name, "b");
	ck_assert_str_eq(t->set->instances[0].pairs[1].file,
			 conf_tree_path(t, "run/failoverd/vm.vm.d/extra.conf"));
	ck_assert_str_eq(t->set->instances[0].qmp, "/run/vm.qmp");
}
END_TEST

START_TEST(test_too_many_pairs)
{
	char content[16384] = "[Instance]\n";

	conf_tree_write(t, ETC "lab.pool", lab_pool);
	for (int i = 0; i <= CONF_MAX_PAIRS; i++)
		snprintf(
			content + strlen(content), sizeof(content) - strlen(content),
			"[Pair]\nName=p%d\nPool=lab\nMACAddress=52:54:00:00:01:%02x\nStandby=n%d\n",
			i, i, i);
	conf_tree_write(t, ETC "vm.vm", content);
	conf_tree_load(t);
	expect_errors(1);
	expect_diag(ETC "vm.vm", 2 + 5 * CONF_MAX_PAIRS, "error",
		    "too many [Pair] sections (at most 32)");
}
END_TEST

START_TEST(test_cross_checks)
{
	conf_tree_write(t, ETC "lab.pool", lab_pool);
	conf_tree_write(t, ETC "a.vm",
			"[Instance]\nName=guest\n[Pair]\nName=x\nPool=lab\n"
			"MACAddress=52:54:00:00:00:01\nStandby=n0\n");
	conf_tree_write(t, ETC "b.vm",
			"[Instance]\nName=guest\n[Pair]\nName=y\nPool=lab\n"
			"MACAddress=52:54:00:00:00:02\nStandby=n0\n"
			"[Pair]\nName=z\nPool=lab\nMACAddress=52:54:00:00:00:01\nStandby=n1\n");
	conf_tree_load(t);
	expect_errors(2);
	expect_diag(ETC "b.vm", 0, "error",
		    strcat(strcpy((char[512]){ 0 }, "instance name 'guest' is also used by "),
			   conf_tree_path(t, ETC "a.vm")));
	expect_diag(
		ETC "b.vm", 8, "error",
		strcat(strcpy((char[512]){ 0 }, "pair z: MAC address already used by pair x in "),
		       conf_tree_path(t, ETC "a.vm")));
}
END_TEST

/* Three guests with one MAC among many distinct ones: every clash is named, once. */
START_TEST(test_cross_checks_three_way)
{
	char content[4096];

	conf_tree_write(t, ETC "lab.pool", lab_pool);
	for (int k = 0; k < 3; k++) {
		snprintf(content, sizeof(content),
			 "[Instance]\nName=%s\n[Pair]\nName=x%d\nPool=lab\n"
			 "MACAddress=52:54:00:00:00:%02x\nStandby=n0\n"
			 "[Pair]\nName=s%d\nPool=lab\nMACAddress=52:54:00:00:00:ee\nStandby=n1\n",
			 k == 1 ? "other" : "guest", k, 0x10 + k, k);
		conf_tree_write(t, k == 0 ? ETC "a.vm" : k == 1 ? ETC "b.vm" : ETC "c.vm", content);
	}
	conf_tree_load(t);
	expect_errors(4);
	expect_diag(ETC "c.vm", 0, "error",
		    strcat(strcpy((char[512]){ 0 }, "instance name 'guest' is also used by "),
			   conf_tree_path(t, ETC "a.vm")));
	expect_diag(
		ETC "b.vm", 8, "error",
		strcat(strcpy((char[512]){ 0 }, "pair s1: MAC address already used by pair s0 in "),
		       conf_tree_path(t, ETC "a.vm")));
	expect_diag(
		ETC "c.vm", 8, "error",
		strcat(strcpy((char[512]){ 0 }, "pair s2: MAC address already used by pair s0 in "),
		       conf_tree_path(t, ETC "a.vm")));
	expect_diag(
		ETC "c.vm", 8, "error",
		strcat(strcpy((char[512]){ 0 }, "pair s2: MAC address already used by pair s1 in "),
		       conf_tree_path(t, ETC "b.vm")));
}
END_TEST

typedef struct Change {
	ConfObject what;
	char name[64];
	ConfChange change;
} Change;

typedef struct Changes {
	Change items[16];
	size_t n;
} Changes;

static void record(ConfObject what, const char *name, ConfChange change, void *userdata)
{
	Changes *c = userdata;

	ck_assert_uint_lt(c->n, 16);
	c->items[c->n].what = what;
	snprintf(c->items[c->n].name, sizeof(c->items[0].name), "%s", name);
	c->items[c->n].change = change;
	c->n++;
}

static bool has_change(const Changes *c, ConfObject what, const char *name, ConfChange change)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->items[i].what == what && strcmp(c->items[i].name, name) == 0 &&
		    c->items[i].change == change)
			return true;
	return false;
}

START_TEST(test_diff)
{
	ConfSet *old_set;
	Changes c = { 0 };

	write_full();
	conf_tree_write(t, ETC "gone.pool", lab_pool);
	conf_tree_write(t, ETC "same.pool", lab_pool);
	conf_tree_write(t, ETC "stay.vm", "[Instance]\n");
	load_ok();
	old_set = t->set;
	t->set = NULL;

	/* An identical reload changes nothing, even from other files. */
	conf_tree_write(t, ETC "fast.pool.d/noop.conf", "[SR-IOV]\nVLANId=100\n");
	load_ok();
	ck_assert_uint_eq(conf_set_diff(old_set, t->set, record, &c), 0);

	conf_tree_write(t, ETC "failoverd.conf.d/level.conf", "[Daemon]\nLogLevel=info\n");
	conf_tree_write(t, ETC "fast.pool.d/vlan.conf", "[SR-IOV]\nVLANId=101\n");
	ck_assert_int_eq(unlink(conf_tree_path(t, ETC "gone.pool")), 0);
	conf_tree_write(t, ETC "new.pool", lab_pool);
	conf_tree_write(t, ETC "g1.vm.d/mac.conf",
			"[Pair]\nName=third\nPool=lab\n"
			"MACAddress=52:54:00:aa:bb:03\nStandby=n3\n");
	conf_tree_write(t, ETC "added.vm", "[Instance]\n");
	load_ok();
	ck_assert_uint_eq(conf_set_diff(old_set, t->set, record, &c), 6);
	ck_assert_uint_eq(c.n, 6);
	ck_assert(has_change(&c, CONF_OBJECT_DAEMON, "failoverd.conf", CONF_CHANGED));
	ck_assert(has_change(&c, CONF_OBJECT_POOL, "fast", CONF_CHANGED));
	ck_assert(has_change(&c, CONF_OBJECT_POOL, "gone", CONF_REMOVED));
	ck_assert(has_change(&c, CONF_OBJECT_POOL, "new", CONF_ADDED));
	ck_assert(has_change(&c, CONF_OBJECT_INSTANCE, "guest-1", CONF_CHANGED));
	ck_assert(has_change(&c, CONF_OBJECT_INSTANCE, "added", CONF_ADDED));
	ck_assert_uint_eq(conf_set_diff(t->set, old_set, NULL, NULL), 6);
	conf_set_free(old_set);
}
END_TEST

START_TEST(test_equal_ignores_stale_values)
{
	ConfPool a = { .name = "p", .n_pfs = 1, .pfs = { "eth0" }, .size = 8 };
	ConfPool b = a;
	ConfInstance x = { .name = "vm", .n_pairs = 1 }, y;

	/* What a reset leaves behind beyond the counts and unset bits does not count. */
	snprintf(b.pfs[1], sizeof(b.pfs[1]), "stale");
	b.sriov.vlan_id = 7;
	snprintf(b.file, sizeof(b.file), "/elsewhere");
	ck_assert(conf_pool_equal(&a, &b));
	b.sriov.set = CONF_SRIOV_VLAN;
	ck_assert(!conf_pool_equal(&a, &b));
	a.sriov.set = CONF_SRIOV_VLAN;
	a.sriov.vlan_id = 7;
	ck_assert(conf_pool_equal(&a, &b));
	b.n_pfs = 2;
	ck_assert(!conf_pool_equal(&a, &b));

	snprintf(x.pairs[0].name, sizeof(x.pairs[0].name), "p0");
	y = x;
	y.pairs[0].line = 99;
	ck_assert(conf_instance_equal(&x, &y));
	y.pairs[0].mac[5] = 1;
	ck_assert(!conf_instance_equal(&x, &y));
}
END_TEST

/* Splits a dump at its "# NAME (PATH)" headers into files under ROOT/etc/failoverd. */
static void write_dump(ConfTree *dst, const char *dump)
{
	char *copy = strdup(dump), *save = NULL, *name = NULL;
	char content[16384] = "";

	ck_assert_ptr_nonnull(copy);
	for (char *line = strtok_r(copy, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		if (!line || strncmp(line, "# ", 2) == 0) {
			if (name) {
				char rel[300];

				snprintf(rel, sizeof(rel), ETC "%s", name);
				conf_tree_write(dst, rel, content);
			}
			if (!line)
				break;
			name = line + 2;
			name[strcspn(name, " ")] = 0;
			content[0] = 0;
			continue;
		}
		snprintf(content + strlen(content), sizeof(content) - strlen(content), "%s\n",
			 line);
	}
	free(copy);
}

static char *dump(const ConfSet *s)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	conf_set_dump(s, f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* Drops the "# NAME (PATH)" lines, which name the directory the files were in. */
static void strip_headers(char *s)
{
	char *out = s;

	for (const char *line = s; *line;) {
		size_t n = strcspn(line, "\n");

		if (line[n] == '\n')
			n++;
		if (strncmp(line, "# ", 2) != 0) {
			memmove(out, line, n);
			out += n;
		}
		line += n;
	}
	*out = 0;
}

START_TEST(test_dump_round_trip)
{
	ConfTree *t2 = conf_tree_new();
	char *first, *second;

	write_full();
	/* Drop-ins, resets and a pool with every [SR-IOV] key off or reset. */
	conf_tree_write(t, "usr/lib/failoverd/fast.pool.d/x.conf",
			"[Pool]\nPhysicalFunction=\nPhysicalFunction=eth9\n[SR-IOV]\nTrust=\n");
	conf_tree_write(t, ETC "odd.pool",
			"[Pool]\nDriver=emulated\nModel=virtio-net-pci\nSize=256\n"
			"[SR-IOV]\nVLANId=4094\nVLANProtocol=802.1Q\nMACSpoofCheck=1\n"
			"LinkState=no\nQueryReceiveSideScaling=off\nMaxTxRateMbps=0\n");
	conf_tree_write(t, "run/failoverd/plain.vm", "[Instance]\nNegotiateTimeoutSec=1.25s\n");
	conf_tree_write(
		t, "run/failoverd/fwd.vm",
		"[Instance]\n[Pair]\nName=p\nPool=odd\nMACAddress=52:54:00:00:07:01\n"
		"StandbyNetdev=hn0\nPrimaryBus=rp2\nPrimaryNetdev=vfn0\nPrimaryTap=vf0\n"
		"TrafficHandling=yes\nStandbyTap=vnet0\nUplink=br0up\nStandbyLinkDown=yes\n");
	load_ok();
	first = dump(t->set);
	write_dump(t2, first);
	ck_assert_msg(conf_tree_load(t2) == 0, "dump does not load:%s\n%s", conf_tree_diags(t2),
		      first);
	ck_assert_uint_eq(t2->diags.n, 0);
	ck_assert_uint_eq(t2->set->n_pools, t->set->n_pools);
	ck_assert_uint_eq(t2->set->n_instances, t->set->n_instances);
	ck_assert(conf_daemon_equal(&t->set->daemon, &t2->set->daemon));
	for (size_t i = 0; i < t->set->n_pools; i++)
		ck_assert_msg(conf_pool_equal(&t->set->pools[i], &t2->set->pools[i]), "pool %s",
			      t->set->pools[i].name);
	for (size_t i = 0; i < t->set->n_instances; i++)
		ck_assert_msg(conf_instance_equal(&t->set->instances[i], &t2->set->instances[i]),
			      "instance %s", t->set->instances[i].name);
	ck_assert_uint_eq(conf_set_diff(t->set, t2->set, NULL, NULL), 0);
	/* And the dump of the dump says the same, but for where the files are. */
	second = dump(t2->set);
	strip_headers(first);
	strip_headers(second);
	ck_assert_str_eq(first, second);
	ck_assert_ptr_nonnull(strstr(first, "[Daemon]\nStateDirectory=/srv/failoverd\n"));
	ck_assert_ptr_nonnull(strstr(first, "VLANProtocol=802.1ad\n"));
	free(first);
	free(second);
	conf_tree_free(t2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf-model");
	TCase *tc = tcase_create("model");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_link_state_and_instance_defaults);
	tcase_add_test(tc, test_pool_requirements);
	tcase_add_test(tc, test_pool_limits);
	tcase_add_test(tc, test_pair_requirements);
	tcase_add_test(tc, test_pairs_from_dropins);
	tcase_add_test(tc, test_too_many_pairs);
	tcase_add_test(tc, test_cross_checks);
	tcase_add_test(tc, test_cross_checks_three_way);
	tcase_add_test(tc, test_traffic_rules);
	tcase_add_test(tc, test_diff);
	tcase_add_test(tc, test_equal_ignores_stale_values);
	tcase_add_test(tc, test_dump_round_trip);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
