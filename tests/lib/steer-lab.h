#pragma once

/*
 * The real-kernel fixture of the data-path tests (inside the SR-IOV test
 * guest): VF 2 of the igb PF programmed with the guest's MAC, as the pool
 * does at attach, and a bridge fovdbr0 whose port fovdtap0 (a veth, peer
 * fovdw0) stands for the standby's tap.
 */

#include <stdbool.h>
#include <stdint.h>

#include "daemon/steer.h"
#include "tests/lib/kernel.h"

#define TEST_STEER_MAC	  "52:54:00:5e:e0:01"
#define TEST_STEER_VF	  2
#define TEST_STEER_OWNER  "vm1/p0"
#define TEST_STEER_RECORD "vm1@p0" /* its record's file name */

extern const uint8_t test_steer_mac[6];

typedef struct TestSteerLab {
	TestIgb igb;
	char dir[64]; /* the steering records' directory */
} TestSteerLab;

void test_steer_lab_setup(TestSteerLab *l);
void test_steer_lab_teardown(TestSteerLab *l);
/* The source's plan: VF 2's MAC zeroed, self entry on the PF, master entry on fovdtap0. */
SteerPlan test_steer_lab_plan(const TestSteerLab *l);
bool test_steer_lab_vf_mac_is(const TestSteerLab *l, const char *mac);
bool test_steer_lab_record_exists(const TestSteerLab *l);
/* Neither entry is left, on the PF or on the tap. */
bool test_steer_lab_no_entries(const TestSteerLab *l);
