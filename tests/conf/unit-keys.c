/*
 * Every key of every section, valid and invalid values, driven by one
 * table: an invalid value is exactly one error naming file, line, key,
 * value and the accepted forms; a valid one loads without errors.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "tests/lib/conf-tree.h"
#include "tests/lib/suite.h"

typedef enum Where {
	DAEMON,
	POOL,
	SRIOV,
	INSTANCE,
	PAIR,
} Where;

/* Each base ends in the section under test; the assignment goes on line `line`. */
static const struct {
	const char *file;
	const char *base;
	unsigned line;
} bases[] = {
	[DAEMON] = { "etc/failoverd/failoverd.conf", "[Daemon]\n", 2 },
	[POOL] = { "etc/failoverd/p.pool", "[Pool]\nPhysicalFunction=eth0\nModel=e1000e\n", 4 },
	[SRIOV] = { "etc/failoverd/p.pool", "[Pool]\nPhysicalFunction=eth0\n[SR-IOV]\nVLANId=10\n",
		    5 },
	[INSTANCE] = { "usr/lib/failoverd/vm.vm",
		       "[Pair]\nName=a\nPool=q\nMACAddress=52:54:00:00:00:01\nStandby=net0\n"
		       "[Instance]\n",
		       7 },
	[PAIR] = { "run/failoverd/vm.vm",
		   "[Instance]\n[Pair]\nName=a\nPool=q\nMACAddress=52:54:00:00:00:01\n"
		   "Standby=net0\n",
		   7 },
};

#define A_PATH	 "an absolute path without '..' (at most 255 bytes)"
#define A_SOCKET "an absolute path without '..' (at most 107 bytes)"
#define A_NAME	 "a name of letters, digits, '_', '.', '-' (at most 64)"
#define A_ID	 "a QEMU id: a letter, then letters, digits, '_', '.', '-' (at most 64)"
#define A_BOOL	 "a boolean (yes/no, true/false, on/off, 1/0)"
#define A_IFNAME "a network interface name (at most 15 bytes, no '/', ':' or spaces)"
#define A_DURATION                                                                                 \
	"a positive duration up to 24 h: seconds, or a number with ms, s or min (e.g. 500ms, "     \
	"1.5s)"
#define A_LEVEL "err, warning, notice, info or debug"
#define A_PF                                                                                       \
	"a netdev name (at most 15 bytes, no '/', ':' or spaces) or a PCI address like "           \
	"0000:01:00.0"
#define A_VFS	"VF index ranges like 0-3,6 (at most 16 ranges)"
#define A_RATE	"an integer 0-1000000 (Mbit/s, 0 = unlimited)"
#define A_MRATE "an integer 0-1000000 (Mbit/s, 0 = no guarantee)"
#define A_MAC	"a unicast, non-zero MAC address like 52:54:00:aa:bb:01"

#define A_MODE "an octal mode from 0600 to 0777 that keeps the owner's rw (e.g. 0660)"

#define LONG_SOCKET                                                                                \
	"/run/failoverd/"                                                                          \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"        \
	"aaaaaaaaaaaaa.sock"

static const struct {
	Where where;
	const char *assignment;
	const char *error; /* NULL: valid */
} cases[] = {
	/* [Daemon] */
	{ DAEMON, "StateDirectory=/srv/failoverd", NULL },
	{ DAEMON, "StateDirectory=var/lib/failoverd",
	  "invalid StateDirectory=var/lib/failoverd: expected " A_PATH },
	{ DAEMON, "StateDirectory=/var/lib/../tmp",
	  "invalid StateDirectory=/var/lib/../tmp: expected " A_PATH },
	{ DAEMON, "ListenQMP=/run/failoverd/qmp.sock", NULL },
	{ DAEMON, "ListenQMP=qmp.sock", "invalid ListenQMP=qmp.sock: expected " A_SOCKET },
	{ DAEMON, "ListenQMP=" LONG_SOCKET,
	  "invalid ListenQMP=" LONG_SOCKET ": expected " A_SOCKET },
	{ DAEMON, "ListenQMPMode=0660", NULL },
	{ DAEMON, "ListenQMPMode=660", NULL },
	{ DAEMON, "ListenQMPMode=0640", NULL },
	{ DAEMON, "ListenQMPMode=0060", "invalid ListenQMPMode=0060: expected " A_MODE },
	{ DAEMON, "ListenQMPMode=0660x", "invalid ListenQMPMode=0660x: expected " A_MODE },
	{ DAEMON, "ListenQMPMode=01777", "invalid ListenQMPMode=01777: expected " A_MODE },
	{ DAEMON, "ListenQMPMode=0680", "invalid ListenQMPMode=0680: expected " A_MODE },
	{ DAEMON, "ListenQMPGroup=libvirt-qemu", NULL },
	{ DAEMON, "ListenQMPGroup=kvm users",
	  "invalid ListenQMPGroup=kvm users: expected " A_NAME },
	{ DAEMON, "AdminGroup=failoverd-admin", NULL },
	{ DAEMON, "AdminGroup=wheel staff", "invalid AdminGroup=wheel staff: expected " A_NAME },
	{ DAEMON, "LogLevel=err", NULL },
	{ DAEMON, "LogLevel=warning", NULL },
	{ DAEMON, "LogLevel=notice", NULL },
	{ DAEMON, "LogLevel=info", NULL },
	{ DAEMON, "LogLevel=debug", NULL },
	{ DAEMON, "LogLevel=verbose", "invalid LogLevel=verbose: expected " A_LEVEL },
	{ DAEMON, "UnplugTimeoutSec=45", NULL },
	{ DAEMON, "UnplugTimeoutSec=1.5min", NULL },
	{ DAEMON, "UnplugTimeoutSec=0", "invalid UnplugTimeoutSec=0: expected " A_DURATION },
	{ DAEMON, "UnplugTimeoutSec=1h", "invalid UnplugTimeoutSec=1h: expected " A_DURATION },
	{ DAEMON, "UnplugTimeoutSec=90000",
	  "invalid UnplugTimeoutSec=90000: expected " A_DURATION },
	{ DAEMON, "CommandTimeoutSec=500ms", NULL },
	{ DAEMON, "CommandTimeoutSec=-3", "invalid CommandTimeoutSec=-3: expected " A_DURATION },
	{ DAEMON, "NegotiateTimeoutSec=2min", NULL },
	{ DAEMON, "NegotiateTimeoutSec=soon",
	  "invalid NegotiateTimeoutSec=soon: expected " A_DURATION },

	/* [Pool] */
	{ POOL, "PhysicalFunction=enp1s0f0", NULL },
	{ POOL, "PhysicalFunction=0000:01:00.0", NULL },
	{ POOL, "PhysicalFunction=eth/0", "invalid PhysicalFunction=eth/0: expected " A_PF },
	{ POOL, "PhysicalFunction=enp1s0f0npf0vf12",
	  "invalid PhysicalFunction=enp1s0f0npf0vf12: expected " A_PF },
	{ POOL, "PhysicalFunction=0000:01:00.8",
	  "invalid PhysicalFunction=0000:01:00.8: expected " A_PF },
	{ POOL, "PhysicalFunction=01:00.0", "invalid PhysicalFunction=01:00.0: expected " A_PF },
	{ POOL, "VirtualFunctions=0-3,6", NULL },
	{ POOL, "VirtualFunctions=3-1", "invalid VirtualFunctions=3-1: expected " A_VFS },
	{ POOL, "VirtualFunctions=all", "invalid VirtualFunctions=all: expected " A_VFS },
	{ POOL, "Driver=vfio", NULL },
	{ POOL, "Driver=emulated", NULL },
	{ POOL, "Driver=kvm", "invalid Driver=kvm: expected vfio or emulated" },
	{ POOL, "Model=virtio-net-pci", NULL },
	{ POOL, "Model=8139too",
	  "invalid Model=8139too: expected a QEMU NIC model such as e1000e (at most 31 bytes)" },
	{ POOL, "Size=1", NULL },
	{ POOL, "Size=256", NULL },
	{ POOL, "Size=0", "invalid Size=0: expected an integer 1-256" },
	{ POOL, "Size=257", "invalid Size=257: expected an integer 1-256" },
	{ POOL, "Size=-1", "invalid Size=-1: expected an integer 1-256" },

	/* [SR-IOV] */
	{ SRIOV, "VLANId=1", NULL },
	{ SRIOV, "VLANId=4094", NULL },
	{ SRIOV, "VLANId=0", "invalid VLANId=0: expected an integer 1-4094" },
	{ SRIOV, "VLANId=4095", "invalid VLANId=4095: expected an integer 1-4094" },
	{ SRIOV, "VLANId=5000", "invalid VLANId=5000: expected an integer 1-4094" },
	{ SRIOV, "VLANId=ten", "invalid VLANId=ten: expected an integer 1-4094" },
	{ SRIOV, "QualityOfService=0", NULL },
	{ SRIOV, "QualityOfService=7", NULL },
	{ SRIOV, "QualityOfService=8",
	  "invalid QualityOfService=8: expected an integer 0-7 (the 802.1p priority)" },
	{ SRIOV, "VLANProtocol=802.1Q", NULL },
	{ SRIOV, "VLANProtocol=802.1ad", NULL },
	{ SRIOV, "VLANProtocol=802.1x", "invalid VLANProtocol=802.1x: expected 802.1Q or 802.1ad" },
	{ SRIOV, "MACSpoofCheck=yes", NULL },
	{ SRIOV, "MACSpoofCheck=off", NULL },
	{ SRIOV, "MACSpoofCheck=maybe", "invalid MACSpoofCheck=maybe: expected " A_BOOL },
	{ SRIOV, "QueryReceiveSideScaling=true", NULL },
	{ SRIOV, "QueryReceiveSideScaling=2",
	  "invalid QueryReceiveSideScaling=2: expected " A_BOOL },
	{ SRIOV, "Trust=on", NULL },
	{ SRIOV, "Trust=enabled", "invalid Trust=enabled: expected " A_BOOL },
	{ SRIOV, "LinkState=auto", NULL },
	{ SRIOV, "LinkState=yes", NULL },
	{ SRIOV, "LinkState=0", NULL },
	{ SRIOV, "LinkState=up", "invalid LinkState=up: expected a boolean or auto" },
	{ SRIOV, "MaxTxRateMbps=0", NULL },
	{ SRIOV, "MaxTxRateMbps=10000", NULL },
	{ SRIOV, "MaxTxRateMbps=10G", "invalid MaxTxRateMbps=10G: expected " A_RATE },
	{ SRIOV, "MaxTxRateMbps=1000001", "invalid MaxTxRateMbps=1000001: expected " A_RATE },
	{ SRIOV, "MinTxRateMbps=100", NULL },
	{ SRIOV, "MinTxRateMbps=-5", "invalid MinTxRateMbps=-5: expected " A_MRATE },

	/* [Instance] */
	{ INSTANCE, "Name=guest one (test)", NULL },
	{ INSTANCE, "Name=a/b",
	  "invalid Name=a/b: expected QEMU's -name: printable UTF-8, without '/' (at most 127 "
	  "bytes)" },
	{ INSTANCE, "Name=vm-\xc3\xa9", NULL },
	/* Latin-1: D-Bus could not carry it, and QEMU reports its -name as UTF-8. */
	{ INSTANCE, "Name=vm-\xe9",
	  "invalid Name=vm-\xe9: expected QEMU's -name: printable UTF-8, without '/' (at most "
	  "127 bytes)" },
	{ INSTANCE, "QMP=/run/vm/qmp.sock", NULL },
	{ INSTANCE, "QMP=vm.qmp", "invalid QMP=vm.qmp: expected " A_SOCKET },
	{ INSTANCE, "UnplugTimeoutSec=500ms", NULL },
	{ INSTANCE, "UnplugTimeoutSec=0ms", "invalid UnplugTimeoutSec=0ms: expected " A_DURATION },
	{ INSTANCE, "NegotiateTimeoutSec=2min", NULL },
	{ INSTANCE, "NegotiateTimeoutSec=x",
	  "invalid NegotiateTimeoutSec=x: expected " A_DURATION },
	{ INSTANCE, "PrepareIncoming=no", NULL },
	{ INSTANCE, "PrepareIncoming=sometimes",
	  "invalid PrepareIncoming=sometimes: expected " A_BOOL },

	/* [Pair] */
	{ PAIR, "Name=uplink-0", NULL },
	{ PAIR, "Name=up link", "invalid Name=up link: expected " A_NAME },
	{ PAIR, "Pool=q", NULL },
	{ PAIR, "Pool=a/b", "invalid Pool=a/b: expected " A_NAME },
	{ PAIR, "MACAddress=52:54:00:AA:bb:cc", NULL },
	{ PAIR, "MACAddress=01:00:5e:00:00:01",
	  "invalid MACAddress=01:00:5e:00:00:01: expected " A_MAC },
	{ PAIR, "MACAddress=00:00:00:00:00:00",
	  "invalid MACAddress=00:00:00:00:00:00: expected " A_MAC },
	{ PAIR, "MACAddress=52:54:00:aa:bb", "invalid MACAddress=52:54:00:aa:bb: expected " A_MAC },
	{ PAIR, "Standby=net1", NULL },
	{ PAIR, "Standby=1net", "invalid Standby=1net: expected " A_ID },
	{ PAIR, "Standby=\nStandbyNetdev=hn0", NULL },
	{ PAIR, "StandbyNetdev=-hn0", "invalid StandbyNetdev=-hn0: expected " A_ID },
	{ PAIR, "StandbyBus=rp 1", "invalid StandbyBus=rp 1: expected " A_ID },
	{ PAIR, "Standby=\nStandbyNetdev=hn0\nStandbyBus=rp1", NULL },
	{ PAIR, "PrimaryBus=rp4", NULL },
	{ PAIR, "PrimaryBus=4rp", "invalid PrimaryBus=4rp: expected " A_ID },
	{ PAIR, "PrimaryNetdev=vfn0", NULL },
	{ PAIR, "PrimaryNetdev=vfn0\nPrimaryTap=vf0", NULL },
	{ PAIR, "PrimaryTap=vf:0", "invalid PrimaryTap=vf:0: expected " A_IFNAME },
	{ PAIR, "PrimaryNetdev=vf n0", "invalid PrimaryNetdev=vf n0: expected " A_ID },
	{ PAIR, "TrafficHandling=yes\nStandbyTap=vnet3", NULL },
	{ PAIR, "TrafficHandling=sometimes",
	  "invalid TrafficHandling=sometimes: expected " A_BOOL },
	{ PAIR, "TrafficHandling=yes\nStandbyTap=vnet3\nStandbyLinkDown=on\nUplink=enp1s0f0v1",
	  NULL },
	{ PAIR, "StandbyTap=a/b", "invalid StandbyTap=a/b: expected " A_IFNAME },
	{ PAIR, "Uplink=0123456789abcdef", "invalid Uplink=0123456789abcdef: expected " A_IFNAME },
};

START_TEST(test_key)
{
	const char *assignment = cases[_i].assignment;
	const char *error = cases[_i].error;
	Where w = cases[_i].where;
	ConfTree *t = conf_tree_new();
	char content[1024], want[1024];
	const char *path;

	/* The pool a pair names; on its own file so POOL cases do not interfere. */
	conf_tree_write(t, "etc/failoverd/q.pool", "[Pool]\nDriver=emulated\nModel=e1000e\n");
	snprintf(content, sizeof(content), "%s%s\n", bases[w].base, assignment);
	path = conf_tree_write(t, bases[w].file, content);
	snprintf(want, sizeof(want), "%s:%u: error: %s", path, bases[w].line, error ? error : "");
	conf_tree_load(t);
	if (!error) {
		ck_assert_msg(t->result == 0 && conf_tree_count_sev(t, CONF_ERROR) == 0,
			      "%s rejected:%s", assignment, conf_tree_diags(t));
	} else {
		ck_assert_msg(t->result < 0 && !t->set, "%s accepted", assignment);
		ck_assert_msg(conf_tree_count_sev(t, CONF_ERROR) == 1 &&
				      conf_tree_count(t, want) == 1,
			      "%s:\nwanted: %s\ngot:%s", assignment, want, conf_tree_diags(t));
	}
	conf_tree_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf-keys");
	TCase *tc = tcase_create("keys");

	tcase_add_loop_test(tc, test_key, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
