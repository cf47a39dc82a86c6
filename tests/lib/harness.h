/*
 * Helpers for Check tests that run real processes: QEMU guests, daemons.
 *
 * Everything a test starts runs in its own process group with
 * PR_SET_PDEATHSIG(SIGKILL), and *_free() kills and reaps the whole group,
 * so nothing outlives a failing test. Waits poll with a timeout and return
 * -ETIMEDOUT instead of hanging.
 *
 * The failover test guest is built by tests/guest/build-guest.sh, whose
 * output (FOVD_GUEST_KERNEL, FOVD_GUEST_INITRD, FOVD_GUEST_VARIANT) must be
 * in the environment; `make check-qemu` does that.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in milliseconds: deadlines and durations in tests. */
int64_t test_now_ms(void);

/* --- private temporary directories --- */

typedef struct TestDir TestDir;

/* A fresh directory under $TMPDIR (or /tmp); NULL on failure. */
TestDir *test_dir_new(void);
/* Removes the directory recursively, unless FOVD_KEEP_TEST_DIR=1 is set
 * (then it prints the path to stderr and keeps it). */
TestDir *test_dir_free(TestDir *d);
const char *test_dir_path(const TestDir *d);
/* "DIR/NAME", owned by @d and valid until test_dir_free(). */
const char *test_dir_file(TestDir *d, const char *name);

/* --- the binaries under test --- */

/* $FOVD_BUILD_DIR (the Makefile's B=, so that the sanitized tiers run the
 * sanitized daemon), or "build". */
const char *test_build_dir(void);
/* "BUILD_DIR/@name" in @buf; returns @buf. */
const char *test_build_path(char *buf, size_t size, const char *name);

/* --- processes started by tests --- */

/* A process group led by one spawned program (QEMU, a daemon, ...). */
typedef struct TestQemu TestQemu;

/* fork+exec argv[0] (searched in PATH) with stdout and stderr appended to
 * @log_path (NULL: /dev/null) and stdin from /dev/null. NULL with errno set
 * if the program cannot be executed. */
TestQemu *test_qemu_spawn(const char *const *argv, const char *log_path);
/* The same, running @pre_exec(@ud) in the child (its own group already) before
 * the exec; a negative return fails the spawn with errno. */
typedef int (*TestPreExecFn)(void *ud);
TestQemu *test_qemu_spawn_with(const char *const *argv, const char *log_path,
			       TestPreExecFn pre_exec, void *ud);
/* Kills the group if still running, reaps the leader, frees. */
TestQemu *test_qemu_free(TestQemu *q);
/* The leader's pid, which is also the process group id. */
pid_t test_qemu_pid(const TestQemu *q);
/* The guest's serial log (test_guest_spawn() only, else NULL). */
const char *test_qemu_serial_log(const TestQemu *q);
/* Waits until the unix stream socket @path accepts a connection. -ECHILD
 * if the process exited first, -ETIMEDOUT. */
int test_qemu_wait_socket(TestQemu *q, const char *path, int timeout_ms);
/* Waits for the leader to exit; kills what is left of its group and reaps
 * it. @status (may be NULL) gets the waitpid() status. 0 or -ETIMEDOUT. */
int test_qemu_wait_exit(TestQemu *q, int timeout_ms, int *status);
/* SIGKILL to the whole group, then reap. Idempotent. */
void test_qemu_kill(TestQemu *q);
/* True until the leader has been reaped or has exited. */
bool test_qemu_running(TestQemu *q);

/* --- the failover test guest of docs/qemu-failover.md §guests --- */

#define TEST_GUEST_MAC "52:54:00:aa:bb:01"

/*
 * q35 under TCG, 256 MiB, -nodefaults, pcie-root-ports rp1..rpN, the QMP
 * server socket, the serial console in a file and, with @standby,
 * `-netdev user,id=hn0 -device virtio-net-pci,id=net0,netdev=hn0,mac=MAC,
 * bus=rp1,failover=on`. The stand-in primary is then device_add'ed with
 * driver=e1000e id=hostdev0 mac=MAC bus=rp2 failover_pair_id=net0 romfile=.
 */
typedef struct TestGuestOptions {
	const char *qmp_path;	       /* required: -qmp unix:PATH,server=on,wait=off */
	const char *serial_log;	       /* default: DIR/guest.log */
	const char *qemu_log;	       /* QEMU's stdout/stderr; default: SERIAL_LOG.qemu */
	const char *name;	       /* -name */
	const char *mac;	       /* the standby's MAC; default TEST_GUEST_MAC */
	const char *append;	       /* more kernel arguments */
	const char *const *extra_args; /* NULL-terminated, appended to the command line */
	unsigned n_root_ports;	       /* default (0): 2 */
	bool boot;		       /* -kernel/-initrd from the env; else firmware only */
	bool paused;		       /* -S */
	bool standby;		       /* the virtio-net-pci failover=on device net0 */
	const char *standby_netdev;    /* its -netdev, id hn0; default "user,id=hn0" */
	bool incoming;		       /* -incoming defer */
	bool nofailover;	       /* guest never negotiates: fovd.nofailover */
	TestPreExecFn pre_exec;	       /* see test_qemu_spawn_with() */
	void *pre_exec_ud;
} TestGuestOptions;

/* Fails the test (never skips) unless the build-guest.sh environment for
 * @variant ("failover" or "igb") is set and its files exist. */
void test_require_env(const char *variant);
/* The guest's command line, NULL-terminated; free with test_strv_free().
 * Calls test_require_env() when @o->boot is set. */
char **test_guest_argv(const TestGuestOptions *o, const char *dir);
char **test_strv_free(char **strv);
/* Spawns the guest; @dir holds the default log files. */
TestQemu *test_guest_spawn(const TestGuestOptions *o, const char *dir);

/* --- the guest's network view, from its serial console --- */

typedef struct TestGuestNic {
	char name[16];
	char driver[32]; /* virtio_net, e1000e, igbvf, net_failover, none */
	char master[16]; /* "" when not enslaved */
	char slaves[64]; /* comma-separated, "" when none */
	char mac[18];
	char state[16]; /* operstate */
} TestGuestNic;

typedef struct TestGuestNet {
	unsigned seq; /* 0: no complete snapshot yet */
	size_t n_nics;
	TestGuestNic nics[16];
} TestGuestNet;

/* The last complete FOVD-NET snapshot in the serial log @text. */
void test_guest_net_parse(const char *text, TestGuestNet *net);
const TestGuestNic *test_guest_net_find(const TestGuestNet *net, const char *name);
/* The net_failover master of @net holds the virtio standby and a primary
 * driven by @primary_driver; with @primary_driver NULL, the standby and no
 * other slave (the primary is unplugged). */
bool test_guest_net_failover(const TestGuestNet *net, const char *primary_driver);
/* Waits for test_guest_net_failover() to hold in @serial_log. On timeout
 * the end of the log goes to stderr. 0 or -ETIMEDOUT. */
int test_guest_wait_failover(const char *serial_log, const char *primary_driver, int timeout_ms);
/* The guest bonded the virtio standby and the e1000e stand-in primary. */
int test_guest_wait_bonded(TestQemu *q, int timeout_ms);

/* --- log files --- */

/* Waits until the file @path contains @needle. 0 or -ETIMEDOUT. */
int test_log_wait(const char *path, const char *needle, int timeout_ms);
/* Waits until a line of @path satisfies @pred. 0 or -ETIMEDOUT. */
int test_log_wait_line(const char *path, bool (*pred)(const char *line, void *userdata),
		       void *userdata, int timeout_ms);
/* Waits until @n lines of @path satisfy @pred. 0 or -ETIMEDOUT. */
int test_log_wait_lines(const char *path, bool (*pred)(const char *line, void *userdata),
			void *userdata, int n, int timeout_ms);
/* The whole file, NUL-terminated, malloc'ed; NULL if unreadable. */
char *test_log_read(const char *path);
/* Copies the last @max_bytes of @path to stderr, for failure diagnostics. */
void test_log_dump(const char *path, size_t max_bytes);

/* --- a synchronous, blocking QMP client FOR TESTS ONLY --- */

/* Independent of qmp/ on purpose: tests of qmp/ must not trust qmp/. */
typedef struct TestQmp TestQmp;

/* Connects (retrying for up to @timeout_ms), reads the greeting and
 * negotiates capabilities. NULL with errno set on failure. */
TestQmp *test_qmp_open(const char *path, int timeout_ms);
TestQmp *test_qmp_free(TestQmp *t);
/* Sends the JSON command @json and waits up to 30 s for its reply, queueing
 * events that arrive meanwhile. @reply (may be NULL) gets the "return"
 * value, or the "error" object, as malloc'ed JSON. 0 on "return",
 * -EREMOTEIO on "error", -ETIMEDOUT, -ECONNRESET, -EINVAL (bad @json). */
int test_qmp_cmd(TestQmp *t, const char *json, char **reply);
/* printf-style test_qmp_cmd(). */
int test_qmp_cmdf(TestQmp *t, char **reply, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Takes the oldest queued or next event called @name; @data (may be NULL)
 * gets its "data" as malloc'ed JSON ("{}" if none). 0, -ETIMEDOUT or
 * -ECONNRESET. */
int test_qmp_wait_event(TestQmp *t, const char *name, int timeout_ms, char **data);
/* Number of queued events called @name (without waiting or consuming). */
size_t test_qmp_count_events(TestQmp *t, const char *name);
