/* Two hosts, two QEMUs, one pair: the fixture of the e2e and fault tiers. */

#include <stdio.h>
#include <string.h>

#include "tests/lib/lab.h"

void test_lab_setup(TestLab *l)
{
	memset(l, 0, sizeof(*l));
	l->base = event_base_new();
	l->dir = test_dir_new();
	test_host_init(&l->a, test_dir_path(l->dir), "host-a");
	test_host_init(&l->b, test_dir_path(l->dir), "host-b");
}

void test_lab_teardown(TestLab *l)
{
	test_host_kill(&l->a);
	test_host_kill(&l->b);
	test_vm_stop(&l->src);
	test_vm_stop(&l->dst);
	test_vm_stop(&l->src2);
	test_vm_stop(&l->dst2);
	test_dir_free(l->dir);
	event_base_free(l->base);
}

/* NAME.vm: instance @name on @v's monitor, its pair p0 on pool emu with @mac. */
static void lab_write_vm(TestHost *h, const char *name, const TestVm *v, const char *mac,
			 const char *extra_instance, const char *extra_pair)
{
	char file[32];

	snprintf(file, sizeof(file), "%s.vm", name);
	test_host_write_conf(h, file,
			     "[Instance]\nName=%s\nQMP=%s\n%s\n"
			     "[Pair]\nName=p0\nPool=emu\nMACAddress=%s\nStandby=net0\n%s\n",
			     name, v->qmp, extra_instance ? extra_instance : "", mac,
			     extra_pair ? extra_pair : "");
}

void test_lab_config(TestHost *h, const TestVm *v, const char *extra_instance)
{
	test_lab_config_pair(h, v, extra_instance, NULL);
}

void test_lab_config_pair(TestHost *h, const TestVm *v, const char *extra_instance,
			  const char *extra_pair)
{
	test_host_write_conf(h, "failoverd.conf", "[Daemon]\nNegotiateTimeoutSec=25\n");
	test_host_write_conf(h, "emu.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=4\n");
	lab_write_vm(h, "vm1", v, TEST_LAB_MAC, extra_instance, extra_pair);
}

void test_lab_config_vm2(TestHost *h, const TestVm *v, const char *mac, const char *extra_instance)
{
	lab_write_vm(h, "vm2", v, mac, extra_instance, NULL);
}

void test_lab_vm_start(TestLab *l, TestVm *v, const char *name, const TestVmOptions *o)
{
	test_vm_start(v, l->base, test_dir_path(l->dir), name, o);
}
