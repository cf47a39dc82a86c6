#pragma once

/*
 * The two-host lab of the whole-daemon tiers: hosts A and B (one failoverd
 * each), a source and a destination QEMU running the test guest, one pair
 * p0 of instance vm1 on an emulated pool. Everything is stopped by
 * test_lab_teardown(), whatever the test left running.
 */

#include "tests/lib/cluster.h"
#include "tests/lib/vm.h"

#define TEST_LAB_MAC "52:54:00:aa:bb:01"

typedef struct TestLab {
	struct event_base *base;
	TestDir *dir;
	TestHost a, b;
	TestVm src, dst;
	TestVm src2, dst2; /* a second guest, instance vm2, where a test needs one */
} TestLab;

void test_lab_setup(TestLab *l);
void test_lab_teardown(TestLab *l);
/* @h's configuration: emulated pool "emu", instance vm1 on @v's monitor, pair p0. */
void test_lab_config(TestHost *h, const TestVm *v, const char *extra_instance);
/* The same with @extra_pair lines in p0's [Pair] section. */
void test_lab_config_pair(TestHost *h, const TestVm *v, const char *extra_instance,
			  const char *extra_pair);
/* @h's vm2.vm: instance vm2 on @v's monitor, pair p0 with @mac. */
void test_lab_config_vm2(TestHost *h, const TestVm *v, const char *mac, const char *extra_instance);
/* Starts @v as a booted guest (or a paused one without @boot), below the lab's directory. */
void test_lab_vm_start(TestLab *l, TestVm *v, const char *name, const TestVmOptions *o);
