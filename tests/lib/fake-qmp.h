#pragma once

/*
 * A FAKE QMP peer for tests — not QEMU. It plays a failover-capable QEMU
 * from a table of canned replies, so a test can make it answer one command
 * with a wrong-typed reply, or send a malformed event, and see what the
 * daemon (or qmp/) does with it. It shares nothing with qmp/.
 *
 * It runs inside the test process: fake_qmp_step() accepts, reads and
 * answers whatever has arrived, so a test serves it from its own wait loop.
 */

#include <stdbool.h>

/* One canned answer. The first rule whose command and argument substring match wins. */
typedef struct FakeQmpRule {
	const char *command;
	const char *args;  /* substring of the arguments' plain JSON, or NULL for any */
	const char *reply; /* raw JSON of "return"; "!CLASS" answers {"error": {"class": CLASS}} */
} FakeQmpRule;

typedef struct FakeQmp FakeQmp;

/* Listens on @path; serves one client at a time (QEMU's own monitor does too). */
FakeQmp *fake_qmp_new_listen(const char *path);
/* Serves the already connected socket @fd (taken). */
FakeQmp *fake_qmp_new_fd(int fd);
FakeQmp *fake_qmp_free(FakeQmp *f);
/* Rules consulted before the well-behaved defaults; @rules ends with a NULL command. */
void fake_qmp_set_rules(FakeQmp *f, const FakeQmpRule *rules);
/* Accepts, greets, answers; waits at most @timeout_ms for something to happen. */
void fake_qmp_step(FakeQmp *f, int timeout_ms);
/* Several fakes at once (NULL entries skipped): each gets a non-blocking step. */
void fake_qmp_step_all(FakeQmp *const *fakes, int n, int timeout_ms);
/* How often @command arrived, over all connections. */
unsigned fake_qmp_count(const FakeQmp *f, const char *command);
bool fake_qmp_connected(const FakeQmp *f);
/* Sends one raw line (an event) to the connected client. */
void fake_qmp_send(FakeQmp *f, const char *json);
/* Closes the client's connection (listening fakes accept the next one). */
void fake_qmp_hangup(FakeQmp *f);
