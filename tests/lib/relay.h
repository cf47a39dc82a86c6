#pragma once

/*
 * A monitor the test can cut while QEMU lives. The socket failoverd dials
 * is a relay's, but its listen() runs in the QEMU process before the exec,
 * so that the peer credentials failoverd reads name QEMU's pid, as with
 * QEMU's own socket. The relay forwards to QEMU's real monitor socket; it
 * is a child of QEMU and dies with it (PR_SET_PDEATHSIG). A test aid, not
 * a fake: QEMU is real, only the wire can be cut.
 */

#include <sys/types.h>

typedef struct TestRelay {
	char path[300];	  /* what failoverd dials */
	char target[300]; /* QEMU's -qmp socket */
	char pid_file[320];
} TestRelay;

/* Fills @r; pass test_relay_pre_exec and @r to test_qemu_spawn_with(). */
void test_relay_init(TestRelay *r, const char *path, const char *target);
int test_relay_pre_exec(void *relay);
/* Drops the connection and refuses new ones (the socket's name is gone)
 * until test_relay_restore(). */
void test_relay_cut(TestRelay *r);
void test_relay_restore(TestRelay *r);
