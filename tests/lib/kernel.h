#pragma once

/*
 * Helpers for the real-kernel tier (tests/<module>/kernel-*.c), which runs
 * inside the SR-IOV test guest (QEMU's igb, 7 VFs, vIOMMU).
 */

#include <stdbool.h>
#include <stddef.h>

typedef struct TestIgb {
	char ifname[16];
	char bdf[16];
} TestIgb;

/* The igb PF with SR-IOV; fails the test if there is none. */
void test_igb_find(TestIgb *igb);
/* Link up and carrier seen (igb takes rates only with link). */
void test_igb_up(const TestIgb *igb);
/* sriov_numvfs = @n with sriov_drivers_autoprobe = @autoprobe. */
void test_igb_set_vfs(const TestIgb *igb, unsigned n, bool autoprobe);
/* Runs @cmd with /bin/sh, stdout+stderr into @out; returns the exit status. */
int test_run(const char *cmd, char *out, size_t size);
/* The line of `ip -d link show PF` for VF @vf, "" if missing. */
void test_ip_vf_line(const TestIgb *igb, unsigned vf, char *buf, size_t size);
