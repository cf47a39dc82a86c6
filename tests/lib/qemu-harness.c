/*
 * The test harness itself, against a real QEMU and the failover test guest:
 * the guest bonds a hot-plugged stand-in primary, a guest booted with
 * fovd.nofailover never negotiates, and nothing a test starts outlives it.
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

#define PRIMARY_ADD                                                                                \
	"{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"e1000e\", \"id\": "           \
	"\"hostdev0\", \"mac\": \"" TEST_GUEST_MAC "\", \"bus\": \"rp2\", \"failover_pair_id\": "  \
	"\"net0\", \"romfile\": \"\"}}"

typedef struct Ctx {
	TestDir *dir;
	TestQemu *qemu;
	TestQmp *qmp;
} Ctx;

static Ctx ctx;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void setup(void)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.dir = test_dir_new();
	ck_assert_ptr_nonnull(ctx.dir);
}

static void teardown(void)
{
	test_qmp_free(ctx.qmp);
	test_qemu_free(ctx.qemu);
	test_dir_free(ctx.dir);
}

/* Boots the guest paused, connects, lets it run: no event is missed. */
static void boot_guest(bool nofailover)
{
	TestGuestOptions o = {
		.qmp_path = test_dir_file(ctx.dir, "vm.qmp"),
		.boot = true,
		.paused = true,
		.standby = true,
		.nofailover = nofailover,
	};

	test_require_env("failover");
	ctx.qemu = test_guest_spawn(&o, test_dir_path(ctx.dir));
	ck_assert_msg(ctx.qemu, "cannot start QEMU: %s", strerror(errno));
	ck_assert_int_eq(test_qemu_wait_socket(ctx.qemu, o.qmp_path, 20000), 0);
	ctx.qmp = test_qmp_open(o.qmp_path, 10000);
	ck_assert_msg(ctx.qmp, "QMP: %s", strerror(errno));
	ck_assert_int_eq(test_qmp_cmd(ctx.qmp, "{\"execute\": \"cont\"}", NULL), 0);
}

START_TEST(test_guest_bonds_hotplugged_primary)
{
	char *data = NULL, *reply = NULL;
	double t0, t_neg, t_standby, t_add;
	pid_t pgid;

	boot_guest(false);
	t0 = now_s();
	ck_assert_int_eq(test_qmp_wait_event(ctx.qmp, "FAILOVER_NEGOTIATED", 60000, &data), 0);
	t_neg = now_s();
	ck_assert_str_eq(data, "{\"device-id\":\"net0\"}");
	free(data);
	/* Before the primary exists the master holds the standby alone. */
	ck_assert_int_eq(test_guest_wait_failover(test_qemu_serial_log(ctx.qemu), NULL, 30000), 0);
	t_standby = now_s();

	ck_assert_int_eq(test_qmp_cmd(ctx.qmp, PRIMARY_ADD, &reply), 0);
	free(reply);
	t_add = now_s();
	ck_assert_int_eq(test_guest_wait_bonded(ctx.qemu, 30000), 0);
	printf("guest: negotiated %.1f s after cont, standby-only view at %.1f s, "
	       "hot-plugged e1000e bonded %.1f s after device_add\n",
	       t_neg - t0, t_standby - t0, now_s() - t_add);

	/* A second primary for the same standby is refused by QEMU. */
	ck_assert_int_eq(test_qmp_cmd(ctx.qmp,
				      "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
				      "\"e1000e\", \"id\": \"hostdev1\", \"bus\": \"rp1\", "
				      "\"failover_pair_id\": \"net0\", \"romfile\": \"\"}}",
				      &reply),
			 -EREMOTEIO);
	ck_assert_ptr_nonnull(strstr(reply, "GenericError"));
	free(reply);

	pgid = test_qemu_pid(ctx.qemu);
	ctx.qemu = test_qemu_free(ctx.qemu);
	ck_assert_int_eq(kill(-pgid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

START_TEST(test_nofailover_guest_never_negotiates)
{
	const char *log;
	TestGuestNet net;
	char *text, *reply = NULL;

	boot_guest(true);
	log = test_qemu_serial_log(ctx.qemu);
	ck_assert_int_eq(test_qmp_cmd(ctx.qmp, PRIMARY_ADD, &reply), 0);
	free(reply);
	ck_assert_int_eq(test_log_wait(log, "FOVD-READY", 60000), 0);
	/* Give a negotiation that should not happen time to show up. */
	ck_assert_int_eq(test_qmp_wait_event(ctx.qmp, "FAILOVER_NEGOTIATED", 3000, NULL),
			 -ETIMEDOUT);
	ck_assert_int_eq(test_log_wait(log, "FOVD-NET-END", 10000), 0);
	text = test_log_read(log);
	test_guest_net_parse(text, &net);
	free(text);
	/* No virtio driver, and the primary stays hidden: no NIC at all. */
	ck_assert_uint_gt(net.seq, 0);
	ck_assert_uint_eq(net.n_nics, 0);
	ck_assert_int_eq(test_qmp_cmd(ctx.qmp,
				      "{\"execute\": \"qom-list\", \"arguments\": {\"path\": "
				      "\"/machine/peripheral\"}}",
				      &reply),
			 0);
	ck_assert_ptr_null(strstr(reply, "hostdev0"));
	free(reply);
}
END_TEST

/* --- processes, without QEMU --- */

START_TEST(test_spawn_missing_program_fails)
{
	const char *argv[] = { "/nonexistent/failoverd-test-program", NULL };

	ck_assert_ptr_null(test_qemu_spawn(argv, NULL));
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_exit_status_and_group_cleanup)
{
	const char *log = test_dir_file(ctx.dir, "sh.log");
	const char *argv[] = { "sh", "-c", "sleep 1000 & echo started; exit 3", NULL };
	int status = 0;
	pid_t pgid, orphan = 0;

	/* The background child, orphaned by the exit, comes to us: reap it. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ctx.qemu = test_qemu_spawn(argv, log);
	ck_assert_ptr_nonnull(ctx.qemu);
	pgid = test_qemu_pid(ctx.qemu);
	ck_assert_int_eq(test_qemu_wait_exit(ctx.qemu, 10000, &status), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 3);
	ck_assert_int_eq(test_log_wait(log, "started", 1000), 0);
	/* The leader's exit took its background child with it. */
	for (int i = 0; i < 100 && (orphan = waitpid(-pgid, &status, WNOHANG)) == 0; i++)
		usleep(50 * 1000);
	ck_assert_msg(orphan > 0, "the leader's background child is still running");
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	ck_assert_int_eq(kill(-pgid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_int_eq(test_log_wait(log, "never", 100), -ETIMEDOUT);
}
END_TEST

START_TEST(test_child_dies_with_the_test)
{
	const char *argv[] = { "sleep", "1000", NULL };
	int p[2], status;
	pid_t test, child = 0;

	/* Orphans come to us, so the spawned program can be reaped here. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe(p), 0);
	test = fork();
	ck_assert_int_ge(test, 0);
	if (test == 0) {
		/* A "test" that dies without cleaning up. */
		TestQemu *q = test_qemu_spawn(argv, NULL);
		pid_t pid = q ? test_qemu_pid(q) : 0;

		if (write(p[1], &pid, sizeof(pid)) < 0)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &child, sizeof(child)), sizeof(child));
	ck_assert_int_gt(child, 0);
	ck_assert_int_eq(waitpid(test, &status, 0), test);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("harness");
	TCase *guest = tcase_create("guest"), *proc = tcase_create("process");

	tcase_add_checked_fixture(guest, setup, teardown);
	tcase_set_timeout(guest, 180);
	tcase_add_test(guest, test_guest_bonds_hotplugged_primary);
	tcase_add_test(guest, test_nofailover_guest_never_negotiates);
	suite_add_tcase(s, guest);

	tcase_add_checked_fixture(proc, setup, teardown);
	tcase_set_timeout(proc, 30);
	tcase_add_test(proc, test_spawn_missing_program_fails);
	tcase_add_test(proc, test_exit_status_and_group_cleanup);
	tcase_add_test(proc, test_child_dies_with_the_test);
	suite_add_tcase(s, proc);

	return test_suite_run(s, CK_VERBOSE);
}
