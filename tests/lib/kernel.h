#pragma once

/*
 * Helpers for the real-kernel tier (tests/<module>/kernel-*.c), which runs
 * inside the SR-IOV test guest (QEMU's igb, 7 VFs, vIOMMU).
 */

#include <stdbool.h>
#include <stddef.h>

#include "netlink/nlvf.h"

typedef struct TestIgb {
	char ifname[16];
	char bdf[16];
} TestIgb;

/* [SR-IOV] settings igb accepts: VLAN 10 QoS 3, no spoof check, trust, 100 Mb/s. */
extern const NlVfConfig test_igb_settings;

/* The igb PF with SR-IOV; fails the test if there is none. */
void test_igb_find(TestIgb *igb);
/* Link up and carrier seen (igb takes rates only with link). */
void test_igb_up(const TestIgb *igb);
/* /sys/class/net/@dev/carrier reads 1. */
bool test_igb_carrier(const char *dev);
/* sriov_numvfs = @n with sriov_drivers_autoprobe = @autoprobe. */
void test_igb_set_vfs(const TestIgb *igb, unsigned n, bool autoprobe);
/* Runs @cmd with /bin/sh, stdout+stderr into @out; returns the exit status. */
int test_run(const char *cmd, char *out, size_t size);
/* `bridge fdb show dev DEV` has a line for @mac ("52:54:..") holding @words. */
bool test_fdb_shows(const char *dev, const char *mac, const char *words);
/* The line of `ip -d link show PF` for VF @vf, "" if missing. */
void test_ip_vf_line(const TestIgb *igb, unsigned vf, char *buf, size_t size);

/* What a VF looks like from the outside: its driver, the MAC its own
 * netdev uses, our netlink read-back and iproute2's line for it. */
typedef struct TestVfSnapshot {
	char bdf[16];
	char driver[64];
	char driver_override[64];
	char netdev_mac[18]; /* "" without a netdev */
	NlVfConfig config;
	char ip[512];
} TestVfSnapshot;

void test_vf_snapshot(const TestIgb *igb, unsigned vf, TestVfSnapshot *s);
/* Fails the test unless VF @vf looks exactly as in @before: same driver,
 * same settings (read back and in `ip -d link show`). An all-zero saved
 * MAC may come back as the one the re-probed VF driver chose itself. */
void test_vf_assert_restored(const TestIgb *igb, unsigned vf, const TestVfSnapshot *before);
/* The same as a check: false with the first difference in @why. */
bool test_vf_restored(const TestIgb *igb, unsigned vf, const TestVfSnapshot *before, char *why,
		      size_t size);
