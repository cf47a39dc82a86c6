#pragma once

/*
 * A test guest seen from the test's own QMP monitor (a second -qmp next to
 * the daemon's): commands, the events QEMU sends, and migration — what an
 * orchestrator does while failoverd manages the pairs.
 */

#include <event2/event.h>
#include <stdbool.h>

#include "qmp/qmp.h"
#include "tests/lib/harness.h"

#define TEST_VM_EVENTS 64

typedef struct TestVm {
	char name[16];
	char qmp[300];	/* the daemon's monitor */
	char tqmp[300]; /* the test's own monitor */
	char serial[300];
	char migrate[300];
	struct event_base *base;
	TestQemu *qemu;
	QmpConn *conn;
	int n_ready;
	char events[TEST_VM_EVENTS][32];
	QmpTimestamp ts[TEST_VM_EVENTS];
	char data[TEST_VM_EVENTS][160];
	int n_events;
	/* the last reply */
	int n_done, r;
	QmpError err;
	char ret[4096];
} TestVm;

typedef struct TestVmOptions {
	bool boot;		    /* boot the failover test guest (else firmware only, paused) */
	bool incoming;		    /* -incoming defer */
	bool nofailover;	    /* the guest never negotiates */
	const char *standby_netdev; /* see TestGuestOptions */
	const char *append;	    /* more kernel arguments */
	const char *instance;	    /* QEMU's -name; default "vm1" */
	const char *mac;	    /* the standby's MAC; default TEST_GUEST_MAC */
	const char *const *extra_args; /* more QEMU arguments, NULL-terminated */
} TestVmOptions;

/* Starts QEMU as "vm1" (its -name) with files named after @name below @dir. */
void test_vm_start(TestVm *v, struct event_base *base, const char *dir, const char *name,
		   const TestVmOptions *o);
void test_vm_stop(TestVm *v);
/* Runs @command on the test's monitor; returns QMP's result (0, -EREMOTEIO, ...). */
int test_vm_call(TestVm *v, const char *command, const char *args_json);
/* Index of the first @event (with @data_substr in its data) seen, or -1. */
int test_vm_find_event(TestVm *v, const char *event, const char *data_substr);
int test_vm_wait_event(TestVm *v, const char *event, const char *data_substr, unsigned ms);
/* Is /machine/peripheral/@id there? */
bool test_vm_has_device(TestVm *v, const char *id);
/* Migrates @src to @dst over a unix socket, started as an orchestrator would. */
void test_vm_migrate(TestVm *src, TestVm *dst);
/* Runs @base's loop for @ms. */
void test_vm_spin(struct event_base *base, unsigned ms);
double test_qmp_ts_ms(const QmpTimestamp *ts);
