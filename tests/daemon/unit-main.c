/*
 * What failoverd's start-up decides before the manager runs:
 * --check-config, as an operator runs it before a reload (the configuration
 * dumped and exit 0 when it is valid; exit 1 and every error with its file
 * and line when it is not - a typo'd section header among them, which would
 * otherwise drop the pair below it); and the zero-config QMP socket, made
 * with ListenQMPMode=/ListenQMPGroup= or passed by systemd (socket
 * activation, here through systemd-socket-activate), which a QEMU (the QEMU
 * TEST DOUBLE, tests/model/qemu-double.c) then reaches.
 */

#include <check.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/conf-tree.h"
#include "tests/lib/double.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

#define ETC "etc/failoverd/"

static const char *const pool = "[Pool]\nDriver=emulated\nModel=e1000e\nSize=2\n";

/* Runs failoverd --check-config under @t's root; its exit status, its output in @out. */
static int check_config(ConfTree *t, char **out)
{
	char bin[4096], log[4096];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"), "--root", t->root,
			       "--check-config", NULL };
	TestQemu *q;
	int status = -1;

	snprintf(log, sizeof(log), "%s/check-config.log", t->root);
	q = test_qemu_spawn(argv, log);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(test_qemu_wait_exit(q, 10000, &status), 0);
	test_qemu_free(q);
	*out = test_log_read(log);
	ck_assert_ptr_nonnull(*out);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * --check-config on a pool and web1.vm whose pair section is headed @header:
 * exit status @want, and output holding @say1 and @say2.
 */
static void check_vm(const char *header, int want, const char *say1, const char *say2)
{
	ConfTree *t = conf_tree_new();
	char vm[300], *out;

	snprintf(vm, sizeof(vm),
		 "[Instance]\nQMP=/run/web1.qmp\n%s\nName=uplink\nPool=fast\n"
		 "MACAddress=52:54:00:aa:bb:01\nStandby=net0\n",
		 header);
	conf_tree_write(t, ETC "fast.pool", pool);
	conf_tree_write(t, ETC "web1.vm", vm);
	ck_assert_int_eq(check_config(t, &out), want);
	ck_assert_msg(strstr(out, say1) && strstr(out, say2), "%s", out);
	free(out);
	conf_tree_free(t);
}

START_TEST(test_valid_configuration_passes)
{
	/* The pair is there: the dump shows what the daemon would run. */
	check_vm("[Pair]", 0, "configuration is valid", "uplink");
}
END_TEST

START_TEST(test_typoed_section_fails)
{
	check_vm("[Pairs]", 1, "configuration is invalid",
		 "web1.vm:3: error: unknown section [Pairs] (this file may have [Instance], "
		 "[Pair])");
}
END_TEST

/* A zero-config QEMU double dialling @sock must get set up by the daemon logging to @log. */
static void double_is_set_up(ConfTree *t, const char *sock, const char *log)
{
	char bin[4096], ctl[4096], state[4096], dlog[4096];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "tests/model/qemu-double"),
			       "--name",
			       "vm9",
			       "--ctl",
			       ctl,
			       "--state-dir",
			       state,
			       "--dial",
			       sock,
			       NULL };
	TestQemu *q;

	snprintf(ctl, sizeof(ctl), "%s/double.ctl", t->root);
	snprintf(state, sizeof(state), "%s/var/lib/failoverd", t->root);
	snprintf(dlog, sizeof(dlog), "%s/double.log", t->root);
	q = test_double_spawn(argv, ctl, dlog);
	ck_assert_ptr_nonnull(q);
	ck_assert_msg(test_log_wait(log, "instance vm9: QEMU ", 10000) == 0 &&
			      test_log_wait(log, "ready (running)", 1000) == 0,
		      "the double was not set up (see %s)", log);
	test_qemu_free(q);
}

static TestQemu *daemon_spawn(ConfTree *t, const char *log)
{
	char bin[4096], state[4096];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"),
			       "--log-level=debug",
			       "--root",
			       t->root,
			       "--state-dir",
			       state,
			       NULL };
	TestQemu *d;

	snprintf(state, sizeof(state), "%s/var/lib/failoverd", t->root);
	d = test_qemu_spawn(argv, log);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(test_log_wait(log, "failoverd started", 10000) == 0,
		      "daemon did not start (see %s)", log);
	return d;
}

/* The socket QEMU (libvirt's, as libvirt-qemu) connects to: the mode and group asked for. */
START_TEST(test_listen_qmp_mode_and_group)
{
	ConfTree *t = conf_tree_new();
	struct group *gr = getgrnam("nogroup");
	char sock[4096], log[4096], conf[8192];
	struct stat st;
	TestQemu *d;

	ck_assert_ptr_nonnull(gr);
	snprintf(sock, sizeof(sock), "%s/qmp.sock", t->root);
	snprintf(log, sizeof(log), "%s/daemon.log", t->root);
	snprintf(conf, sizeof(conf),
		 "[Daemon]\nListenQMP=%s\nListenQMPMode=0660\nListenQMPGroup=nogroup\n", sock);
	conf_tree_write(t, ETC "failoverd.conf", conf);
	d = daemon_spawn(t, log);
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	ck_assert_uint_eq(st.st_gid, gr->gr_gid);
	double_is_set_up(t, sock, log);
	kill(test_qemu_pid(d), SIGTERM);
	ck_assert_int_eq(test_qemu_wait_exit(d, 10000, NULL), 0);
	/* Its own socket: removed when it stops. */
	ck_assert_int_ne(access(sock, F_OK), 0);
	test_qemu_free(d);
	conf_tree_free(t);
}
END_TEST

START_TEST(test_unknown_listen_qmp_group_refused)
{
	ConfTree *t = conf_tree_new();
	char sock[4096], log[4096], conf[8192], *out;
	const char *argv[] = { NULL, "--root", t->root, "--no-bus", NULL };
	char bin[4096];
	TestQemu *d;
	int status = 0;

	snprintf(sock, sizeof(sock), "%s/qmp.sock", t->root);
	snprintf(log, sizeof(log), "%s/daemon.log", t->root);
	snprintf(conf, sizeof(conf), "[Daemon]\nListenQMP=%s\nListenQMPGroup=no-such-group-fovd\n",
		 sock);
	conf_tree_write(t, ETC "failoverd.conf", conf);
	argv[0] = test_build_path(bin, sizeof(bin), "failoverd");
	d = test_qemu_spawn(argv, log);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(test_qemu_wait_exit(d, 10000, &status), 0);
	test_qemu_free(d);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	out = test_log_read(log);
	ck_assert_msg(out && strstr(out, "ListenQMPGroup=no-such-group-fovd: no such group"), "%s",
		      out);
	free(out);
	conf_tree_free(t);
}
END_TEST

/*
 * failoverd-qmp.socket: systemd made the socket (SocketMode=, SocketGroup=)
 * and starts failoverd on the first connection; failoverd takes that socket.
 * systemd-socket-activate does what systemd does: listen, and on the first
 * connection start the program with the listening socket as fd 3.
 */
START_TEST(test_socket_activation)
{
	ConfTree *t = conf_tree_new();
	char sock[4096], log[4096], listen[4200], conf[8192], bin[4096], root[4096], state[4096];
	const char *argv[] = { "systemd-socket-activate",
			       listen,
			       NULL,
			       "--log-level=debug",
			       "--root",
			       root,
			       "--state-dir",
			       state,
			       NULL };
	TestQemu *d;

	snprintf(sock, sizeof(sock), "%s/activated.sock", t->root);
	snprintf(listen, sizeof(listen), "--listen=%s", sock);
	snprintf(log, sizeof(log), "%s/daemon.log", t->root);
	snprintf(root, sizeof(root), "%s", t->root);
	snprintf(state, sizeof(state), "%s/var/lib/failoverd", t->root);
	argv[2] = test_build_path(bin, sizeof(bin), "failoverd");
	/* ListenQMP= elsewhere: the socket systemd passed wins. */
	snprintf(conf, sizeof(conf), "[Daemon]\nListenQMP=%s/unused.sock\n", t->root);
	conf_tree_write(t, ETC "failoverd.conf", conf);
	d = test_qemu_spawn(argv, log);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(test_qemu_wait_socket(d, sock, 10000), 0);
	double_is_set_up(t, sock, log);
	ck_assert_msg(test_log_wait(log, "activated.sock (from systemd)", 1000) == 0, "see %s",
		      log);
	ck_assert_int_ne(access(conf_tree_path(t, "unused.sock"), F_OK), 0);
	test_qemu_free(d);
	conf_tree_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("main");
	TCase *tc = tcase_create("check-config");

	tcase_add_test(tc, test_valid_configuration_passes);
	tcase_add_test(tc, test_typoed_section_fails);
	suite_add_tcase(s, tc);
	tc = tcase_create("listen-qmp");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_listen_qmp_mode_and_group);
	tcase_add_test(tc, test_unknown_listen_qmp_group_refused);
	tcase_add_test(tc, test_socket_activation);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
