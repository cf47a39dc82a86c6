/*
 * failoverctl -H through a real sshd, the way an operator reaches another
 * machine: the test's own sshd on 127.0.0.1 (a host key and a client key of
 * its own, the key authorized for the user running the test), a failoverd
 * behind it on a private dbus-daemon serving a QEMU TEST DOUBLE
 * (tests/model/qemu-double.c), and failoverctl's ssh pointed at the test's
 * ssh_config through $FAILOVERCTL_SSH.
 *
 * sshd's ForceCommand records the command failoverctl asked for, refuses
 * anything but "systemd-stdio-bridge", and runs that bridge on the private
 * bus: systemd 252's systemd-stdio-bridge reads no $DBUS_SYSTEM_BUS_ADDRESS
 * (it connects to /run/dbus/system_bus_socket unless given --bus-path=), so
 * sshd_config's SetEnv could not point it there. $FAILOVERD_BUS_ADDRESS
 * names a socket nobody listens on, so only ssh can make a call succeed;
 * test_no_sshd_no_answer shows -H fails while that variable names the live bus.
 */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pwd.h>
#include <shadow.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cluster.h"
#include "tests/lib/double.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

#define MAC0 "52:54:00:aa:bb:01"
#define MAC1 "52:54:00:aa:bb:02"

static struct {
	TestDir *dir;
	TestHost host;
	TestQemu *dbus, *sshd, *qemu, *monitor;
	char address[400]; /* the private bus */
	char ctl[300];	   /* failoverctl of the build under test */
	char user[64];
	unsigned port;	  /* sshd's */
	char target[100]; /* USER@127.0.0.1:PORT */
	char qctl[400];	  /* the double's control socket */
} t;

typedef struct Run {
	int status;
	int64_t ms;
	char *out, *err;
} Run;

static void run_free(Run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* A shell command line, stdout/stderr captured, killed if it takes over 60 s. */
static Run run(const char *fmt, ...)
{
	char cmd[2048], line[3000];
	const char *out = test_dir_file(t.dir, "cmd.out"), *err = test_dir_file(t.dir, "cmd.err");
	int64_t start = test_now_ms();
	va_list ap;
	Run r;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "timeout -k 5 60 %s >%s 2>%s </dev/null", cmd, out, err);
	st = system(line);
	r.ms = test_now_ms() - start;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	r.out = test_log_read(out);
	r.err = test_log_read(err);
	ck_assert_ptr_nonnull(r.out);
	ck_assert_ptr_nonnull(r.err);
	return r;
}

static void write_file(const char *name, mode_t mode, const char *fmt, ...)
{
	const char *path = test_dir_file(t.dir, name);
	va_list ap;
	FILE *f = fopen(path, "we");

	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* A loopback port nobody listens on (now). */
static unsigned free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* --- processes: what sshd runs escapes the group kills --- */

/* The pids whose parent is @ppid (and whose command line holds @needle, if given). */
static int children_of(pid_t ppid, const char *needle, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) && n < max) {
		char path[300], buf[4096], *close_paren;
		pid_t pid = (pid_t)atoi(e->d_name), parent;
		size_t len;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = 0;
		/* "PID (COMM) STATE PPID ...": COMM may hold anything, even ") ". */
		close_paren = strrchr(buf, ')');
		if (!close_paren || sscanf(close_paren + 1, " %*c %d", &parent) != 1 ||
		    (ppid && parent != ppid))
			continue;
		if (needle) {
			snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
			f = fopen(path, "re");
			if (!f)
				continue;
			len = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			for (size_t k = 0; k < len; k++)
				buf[k] = buf[k] ? buf[k] : ' ';
			buf[len] = 0;
			if (!strstr(buf, needle))
				continue;
		}
		pids[n++] = pid;
	}
	closedir(d);
	return n;
}

/* Processes anywhere whose command line holds @needle. */
static int count_processes(const char *needle)
{
	pid_t pids[64];

	return children_of(0, needle, pids, 64);
}

/* Waits until no process's command line holds @needle. */
static int wait_no_process(const char *needle, int timeout_ms)
{
	for (int64_t end = test_now_ms() + timeout_ms; count_processes(needle);) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (test_now_ms() > end)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/*
 * sshd puts each connection in a session of its own, out of reach of the
 * process-group kills of tests/lib/harness.c; as a subreaper the test
 * inherits what is left of them once sshd is gone, and ends it here.
 */
static void reap_orphans(void)
{
	for (int round = 0; round < 100; round++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		pid_t pids[64];
		int n = children_of(getpid(), NULL, pids, 64);

		for (int k = 0; k < n; k++) {
			kill(pids[k], SIGKILL);
			waitpid(pids[k], NULL, 0);
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!n)
			return;
		nanosleep(&ts, NULL);
	}
}

/* --- the remote machine: private bus, QEMU double, failoverd --- */

static void bus_start(void)
{
	char sock[400], arg[500];
	const char *argv[] = { "dbus-daemon", "--nofork", "--nopidfile", arg, NULL };

	snprintf(sock, sizeof(sock), "%s/bus.sock", test_dir_path(t.dir));
	snprintf(t.address, sizeof(t.address), "unix:path=%s", sock);
	write_file("bus.conf", 0644,
		   "<busconfig><listen>%s</listen><auth>EXTERNAL</auth>"
		   "<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
		   "<allow send_destination=\"*\"/><allow eavesdrop=\"true\"/></policy>"
		   "</busconfig>\n",
		   t.address);
	snprintf(arg, sizeof(arg), "--config-file=%s", test_dir_file(t.dir, "bus.conf"));
	t.dbus = test_qemu_spawn(argv, test_dir_file(t.dir, "dbus-daemon.log"));
	ck_assert_ptr_nonnull(t.dbus);
	ck_assert_int_eq(test_qemu_wait_socket(t.dbus, sock, 10000), 0);
}

static void remote_start(void)
{
	char bin[300], qmp[400], bus_arg[450];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "tests/model/qemu-double"),
			       "--name",
			       "vm1",
			       "--ctl",
			       t.qctl,
			       "--state-dir",
			       t.host.state,
			       "--qmp",
			       qmp,
			       "--standby",
			       "net0=" MAC0 "@rp1",
			       "--standby",
			       "net1=" MAC1 "@rp2",
			       "--ports",
			       "4",
			       "--paused",
			       NULL };

	bus_start();
	test_host_init(&t.host, test_dir_path(t.dir), "remote");
	snprintf(qmp, sizeof(qmp), "%s/vm1.qmp", test_dir_path(t.dir));
	snprintf(t.qctl, sizeof(t.qctl), "%s/vm1.ctl", test_dir_path(t.dir));
	t.qemu = test_double_spawn(argv, t.qctl, test_dir_file(t.dir, "vm1.log"));
	ck_assert_ptr_nonnull(t.qemu);
	test_host_write_conf(&t.host, "emu.pool",
			     "[Pool]\nDriver=emulated\nModel=e1000e\nSize=4\n");
	test_host_write_conf(&t.host, "vm1.vm",
			     "[Instance]\nName=vm1\nQMP=%s\n\n"
			     "[Pair]\nName=p0\nPool=emu\nMACAddress=" MAC0 "\nStandby=net0\n",
			     qmp);
	snprintf(bus_arg, sizeof(bus_arg), "--bus=%s", t.address);
	test_host_start_with(&t.host, bus_arg);
	/* A paused guest: the primary is added, hidden until the guest negotiates. */
	ck_assert_int_eq(test_host_wait_pair(&t.host, "vm1", "p0", "staged", 20000), 0);
}

/* --- sshd, keys, and the client's ssh_config --- */

static void keygen(const char *name)
{
	Run r = run("ssh-keygen -q -t ed25519 -N '' -C failoverd-test -f %s",
		    test_dir_file(t.dir, name));

	ck_assert_msg(r.status == 0, "ssh-keygen: %s", r.err);
	run_free(&r);
}

/* An ssh_config for failoverctl's ssh: this key, this known_hosts, never a prompt. */
static void client_config(const char *name, const char *key, const char *known_hosts)
{
	char key_path[400], known_path[400];

	snprintf(key_path, sizeof(key_path), "%s", test_dir_file(t.dir, key));
	snprintf(known_path, sizeof(known_path), "%s", test_dir_file(t.dir, known_hosts));
	write_file(name, 0644,
		   "Host *\n"
		   "  IdentityFile %s\n"
		   "  IdentitiesOnly yes\n"
		   "  UserKnownHostsFile %s\n"
		   "  GlobalKnownHostsFile /dev/null\n"
		   "  StrictHostKeyChecking yes\n"
		   "  UpdateHostKeys no\n"
		   "  BatchMode yes\n"
		   "  ConnectTimeout 10\n",
		   key_path, known_path);
}

static bool sshd_try_start(void)
{
	const char *log = test_dir_file(t.dir, "sshd.log");
	char conf[400], *text;
	const char *argv[] = { "/usr/sbin/sshd", "-D", "-e", "-f", conf, NULL };
	bool up;

	t.port = free_port();
	snprintf(t.target, sizeof(t.target), "%s@127.0.0.1:%u", t.user, t.port);
	snprintf(conf, sizeof(conf), "%s", test_dir_file(t.dir, "sshd_config"));
	/* StrictModes off: the keys live below /tmp, which others may write. */
	write_file("sshd_config", 0644,
		   "ListenAddress 127.0.0.1:%u\n"
		   "HostKey %s/host_key\n"
		   "PidFile none\n"
		   "AuthorizedKeysFile %s/authorized_keys\n"
		   "StrictModes no\n"
		   "UsePAM no\n"
		   "PasswordAuthentication no\n"
		   "KbdInteractiveAuthentication no\n"
		   "PubkeyAuthentication yes\n"
		   "PermitRootLogin prohibit-password\n"
		   "AllowUsers %s\n"
		   "AllowTcpForwarding no\n"
		   "X11Forwarding no\n"
		   "PermitTTY no\n"
		   "ForceCommand /bin/sh %s/bridge.sh\n"
		   "LogLevel VERBOSE\n",
		   t.port, test_dir_path(t.dir), test_dir_path(t.dir), t.user,
		   test_dir_path(t.dir));
	unlink(log);
	t.sshd = test_qemu_spawn(argv, log);
	ck_assert_ptr_nonnull(t.sshd);
	for (int64_t end = test_now_ms() + 10000; test_now_ms() < end;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		text = test_log_read(log);
		up = text && strstr(text, "Server listening on 127.0.0.1");
		free(text);
		if (up)
			return true;
		if (!test_qemu_running(t.sshd))
			break;
		nanosleep(&ts, NULL);
	}
	/* Another process took the port meanwhile: the caller tries another one. */
	t.sshd = test_qemu_free(t.sshd);
	return false;
}

static void sshd_start(void)
{
	const char *pw;
	char *pub;
	int k;

	if (geteuid() == 0) {
		struct spwd *sp = getspnam(t.user);

		/* sshd's privilege separation directory, made by ssh.service otherwise. */
		mkdir("/run/sshd", 0755);
		/* Without PAM, sshd refuses accounts whose password is locked ("!..."). */
		ck_assert_msg(!sp || sp->sp_pwdp[0] != '!',
			      "the password of %s is locked ('!' in /etc/shadow), which sshd "
			      "with UsePAM no refuses even for keys; '*' disables it without that",
			      t.user);
	}
	keygen("host_key");
	keygen("client_key");
	keygen("other_key");
	pub = test_log_read(test_dir_file(t.dir, "client_key.pub"));
	ck_assert_ptr_nonnull(pub);
	write_file("authorized_keys", 0600, "%s", pub);
	free(pub);
	write_file("bridge.sh", 0644,
		   "printf '%%s\\n' \"$SSH_ORIGINAL_COMMAND\" >>%s/bridge.log\n"
		   "[ \"$SSH_ORIGINAL_COMMAND\" = systemd-stdio-bridge ] || {\n"
		   "\techo \"not the bridge: $SSH_ORIGINAL_COMMAND\" >&2\n"
		   "\texit 1\n"
		   "}\n"
		   "exec systemd-stdio-bridge --bus-path=%s\n",
		   test_dir_path(t.dir), t.address);
	for (k = 0; k < 3 && !sshd_try_start(); k++)
		;
	ck_assert_msg(k < 3, "sshd did not start (see %s)", test_dir_file(t.dir, "sshd.log"));
	pw = test_log_read(test_dir_file(t.dir, "host_key.pub"));
	ck_assert_ptr_nonnull(pw);
	write_file("known_hosts", 0644, "[127.0.0.1]:%u %s", t.port, pw);
	free((char *)pw);
	write_file("known_hosts_empty", 0644, "%s", "");
	client_config("ssh_config", "client_key", "known_hosts");
	client_config("ssh_config_other_key", "other_key", "known_hosts");
	client_config("ssh_config_unknown_host", "client_key", "known_hosts_empty");
}

/* $FAILOVERCTL_SSH for the ssh_config @name. */
static const char *ssh_with(const char *name)
{
	static char buf[500];

	snprintf(buf, sizeof(buf), "ssh -F %s", test_dir_file(t.dir, name));
	return buf;
}

static void setup(void)
{
	struct passwd *pw = getpwuid(geteuid());
	char nowhere[400];

	memset(&t, 0, sizeof(t));
	ck_assert_ptr_nonnull(pw);
	snprintf(t.user, sizeof(t.user), "%s", pw->pw_name);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	test_build_path(t.ctl, sizeof(t.ctl), "failoverctl");
	t.dir = test_dir_new();
	ck_assert_ptr_nonnull(t.dir);
	remote_start();
	sshd_start();
	setenv("FAILOVERCTL_SSH", ssh_with("ssh_config"), 1);
	snprintf(nowhere, sizeof(nowhere), "unix:path=%s/nobody.sock", test_dir_path(t.dir));
	setenv("FAILOVERD_BUS_ADDRESS", nowhere, 1);
}

static void teardown(void)
{
	t.monitor = test_qemu_free(t.monitor);
	t.sshd = test_qemu_free(t.sshd);
	test_host_kill(&t.host);
	t.qemu = test_qemu_free(t.qemu);
	t.dbus = test_qemu_free(t.dbus);
	reap_orphans();
	test_dir_free(t.dir);
}

/* One line on stderr, holding @needle. */
static void assert_one_line(const Run *r, const char *needle)
{
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1, "not one line: %s",
		      r->err);
	ck_assert_msg(strstr(r->err, needle), "'%s' not in: %s", needle, r->err);
}

/* ================= tests ================= */

/* First of all: nothing answers without sshd, though the local bus would. */
START_TEST(test_no_sshd_no_answer)
{
	unsigned nobody = free_port();
	char want[200];
	Run r;

	setenv("FAILOVERD_BUS_ADDRESS", t.address, 1);
	r = run("%s status", t.ctl);
	ck_assert_msg(r.status == 0, "the local bus should answer: %s", r.err);
	run_free(&r);

	r = run("%s -H %s@127.0.0.1:%u status", t.ctl, t.user, nobody);
	ck_assert_int_eq(r.status, 3);
	ck_assert_str_eq(r.out, "");
	snprintf(want, sizeof(want),
		 "failoverctl status: cannot reach failoverd on %s@127.0.0.1:%u over ssh: ssh: "
		 "connect to host 127.0.0.1 port %u: Connection refused",
		 t.user, nobody, nobody);
	assert_one_line(&r, want);
	ck_assert_int_lt(r.ms, 10000);
	run_free(&r);
	ck_assert_ptr_null(test_log_read(test_dir_file(t.dir, "bridge.log")));

	/* --json: ssh's complaint is inside the one JSON object, not beside it. */
	r = run("%s --json -H %s@127.0.0.1:%u status", t.ctl, t.user, nobody);
	ck_assert_int_eq(r.status, 3);
	{
		json_object *o = json_tokener_parse(r.err);

		ck_assert_msg(o, "not JSON: %s", r.err);
		ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "exit_code")), 3);
		ck_assert_ptr_nonnull(
			strstr(json_object_get_string(json_object_object_get(o, "message")),
			       "Connection refused"));
		json_object_put(o);
	}
	run_free(&r);
}
END_TEST

START_TEST(test_status_and_lists)
{
	const char *client = test_dir_file(t.dir, "ssh_config");
	char accepted[200], bridge[500], *log;
	json_object *o;
	Run r;

	r = run("%s -H %s status", t.ctl, t.target);
	ck_assert_msg(r.status == 0, "status: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "failoverd 0.1.0 on org.failoverd1"));
	ck_assert_ptr_nonnull(strstr(r.out, "Pools: 1 (3 of 4 VFs free)"));
	ck_assert_ptr_nonnull(strstr(r.out, "Instances: 1 (1 connected)"));
	ck_assert_ptr_nonnull(strstr(r.out, "Pairs: 1 (1 staged)"));
	ck_assert_str_eq(r.err, "");
	run_free(&r);
	/* It went through sshd, as the user, and asked for the bridge. */
	snprintf(accepted, sizeof(accepted), "Accepted publickey for %s from 127.0.0.1", t.user);
	ck_assert_int_eq(test_log_wait(test_dir_file(t.dir, "sshd.log"), accepted, 5000), 0);
	log = test_log_read(test_dir_file(t.dir, "bridge.log"));
	ck_assert_ptr_nonnull(log);
	ck_assert_str_eq(log, "systemd-stdio-bridge\n");
	free(log);

	r = run("%s --host=%s pools", t.ctl, t.target);
	ck_assert_msg(r.status == 0, "pools: %s", r.err);
	ck_assert_str_eq(r.out, "POOL  DRIVER  KIND      FREE  TOTAL\n"
				"emu   e1000e  emulated  3     4\n");
	run_free(&r);
	r = run("%s --host %s --no-legend instances", t.ctl, t.target);
	ck_assert_msg(r.status == 0, "instances: %s", r.err);
	ck_assert_ptr_eq(strstr(r.out, "vm1 "), r.out);
	run_free(&r);
	r = run("%s --json -H %s pairs vm1", t.ctl, t.target);
	ck_assert_msg(r.status == 0, "pairs: %s", r.err);
	o = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_array_length(o), 1);
	ck_assert_str_eq(json_object_get_string(
				 json_object_object_get(json_object_array_get_idx(o, 0), "state")),
			 "staged");
	json_object_put(o);
	run_free(&r);
	r = run("%s -H %s status vm1/p0", t.ctl, t.target);
	ck_assert_msg(r.status == 0, "status vm1/p0: %s", r.err);
	ck_assert_msg(strstr(r.out, "State: staged"), "%s", r.out);
	run_free(&r);

	/* Each call's ssh and its session on the "remote" side are gone with it. */
	ck_assert_int_eq(count_processes(client), 0);
	snprintf(bridge, sizeof(bridge), "systemd-stdio-bridge --bus-path=%s", t.address);
	ck_assert_int_eq(wait_no_process(bridge, 5000), 0);
	log = test_log_read(test_dir_file(t.dir, "bridge.log"));
	ck_assert_ptr_nonnull(log);
	ck_assert_str_eq(log, "systemd-stdio-bridge\nsystemd-stdio-bridge\nsystemd-stdio-bridge\n"
			      "systemd-stdio-bridge\nsystemd-stdio-bridge\n");
	free(log);
}
END_TEST

/* A mutating call, as the ssh user (root in CI): a new pool, seen through -H. */
START_TEST(test_reload)
{
	Run r;

	test_host_write_conf(&t.host, "fast.pool",
			     "[Pool]\nDriver=emulated\nModel=e1000e\nSize=2\n");
	r = run("%s -H %s reload", t.ctl, t.target);
	ck_assert_msg(r.status == 0, "reload: %s", r.err);
	run_free(&r);
	r = run("%s -H %s --no-legend pools", t.ctl, t.target);
	ck_assert_msg(r.status == 0, "pools: %s", r.err);
	ck_assert_msg(strstr(r.out, "emu   e1000e  emulated  3  4\n") &&
			      strstr(r.out, "fast  e1000e  emulated  2  2\n"),
		      "%s", r.out);
	run_free(&r);
}
END_TEST

/* monitor's signals and attach's wait, through the bridge; a lost connection ends monitor. */
START_TEST(test_attach_and_monitor)
{
	const char *mon_argv[] = { t.ctl, "-H", t.target, "monitor", NULL };
	const char *mon_log = test_dir_file(t.dir, "monitor.log");
	char reply[200], want[200];
	pid_t ssh[4];
	int status;
	Run r;

	t.monitor = test_qemu_spawn(mon_argv, mon_log);
	ck_assert_ptr_nonnull(t.monitor);
	ck_assert_int_eq(test_log_wait(mon_log, "Monitoring pair state changes", 10000), 0);

	/* attach waits until the pair settles: staged, its primary hidden by the paused guest. */
	r = run("%s -H %s attach vm1 p1 --pool=emu --mac=" MAC1 " --standby=net1", t.ctl, t.target);
	ck_assert_msg(r.status == 0, "attach: %s", r.err);
	ck_assert_msg(strstr(r.out, "Attaching vm1/p1 (now staged: primary hidden by QEMU"), "%s",
		      r.out);
	run_free(&r);
	ck_assert_int_eq(test_log_wait(mon_log, "vm1/p1  waiting -> staged", 10000), 0);

	ck_assert_int_eq(test_double_call(t.qctl, "run", reply, sizeof(reply)), 0);
	ck_assert_int_eq(test_double_call(t.qctl, "negotiate net1", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "ok");
	ck_assert_int_eq(test_log_wait(mon_log, "vm1/p1  staged -> active", 10000), 0);
	r = run("%s -H %s status vm1/p1", t.ctl, t.target);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "State: active"), "%s", r.out);
	run_free(&r);

	/* The connection goes (its ssh killed): monitor says so and exits 3. */
	ck_assert_int_eq(children_of(test_qemu_pid(t.monitor), "ssh", ssh, 4), 1);
	kill(ssh[0], SIGKILL);
	ck_assert_int_eq(test_qemu_wait_exit(t.monitor, 10000, &status), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 3);
	snprintf(want, sizeof(want),
		 "failoverctl monitor: lost the connection to failoverd on %s over ssh", t.target);
	ck_assert_int_eq(test_log_wait(mon_log, want, 1000), 0);
}
END_TEST

/* A refused key and an unknown host key: one clear line and exit 3, at once. */
START_TEST(test_refused_key_and_unknown_host_key)
{
	char refused[200];
	Run r;

	r = run("env FAILOVERCTL_SSH='%s' %s -H %s status", ssh_with("ssh_config_other_key"), t.ctl,
		t.target);
	ck_assert_int_eq(r.status, 3);
	ck_assert_str_eq(r.out, "");
	snprintf(refused, sizeof(refused),
		 "failoverctl status: cannot reach failoverd on %s over ssh: %s@127.0.0.1: "
		 "Permission denied (publickey).",
		 t.target, t.user);
	assert_one_line(&r, refused);
	ck_assert_int_lt(r.ms, 10000);
	run_free(&r);

	r = run("env FAILOVERCTL_SSH='%s' %s -H %s status", ssh_with("ssh_config_unknown_host"),
		t.ctl, t.target);
	ck_assert_int_eq(r.status, 3);
	assert_one_line(&r, "over ssh: Host key verification failed.");
	ck_assert_int_lt(r.ms, 10000);
	run_free(&r);
	ck_assert_ptr_null(test_log_read(test_dir_file(t.dir, "bridge.log")));
}
END_TEST

/* sshd and the bridge answer, failoverd does not. */
START_TEST(test_daemon_not_running)
{
	char want[200];
	Run r;

	test_host_stop(&t.host);
	r = run("%s -H %s pairs", t.ctl, t.target);
	ck_assert_int_eq(r.status, 3);
	snprintf(want, sizeof(want),
		 "failoverctl pairs: failoverd on %s is not reachable: ", t.target);
	assert_one_line(&r, want);
	run_free(&r);
}
END_TEST

/* What -H takes, what it does not combine with, and a missing ssh. */
START_TEST(test_host_errors)
{
	static const struct {
		const char *host, *why;
	} bad[] = {
		{ "root@", "invalid host 'root@': the host name is empty" },
		{ "web1:ssh", "invalid host 'web1:ssh': PORT must be a number from 1 to 65535" },
		{ "web1/c1", "HOST/MACHINE (a container on HOST) is not supported" },
		{ "fe80::1", "an IPv6 address needs brackets" },
	};
	Run r;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		r = run("%s -H '%s' status", t.ctl, bad[k].host);
		ck_assert_int_eq(r.status, 2);
		assert_one_line(&r, bad[k].why);
		run_free(&r);
	}
	r = run("%s -H %s --bus-address=%s status", t.ctl, t.target, t.address);
	ck_assert_int_eq(r.status, 2);
	assert_one_line(&r, "-H reaches the system bus of HOST: it cannot be combined with "
			    "--bus-address");
	run_free(&r);
	r = run("%s -H", t.ctl);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	r = run("env FAILOVERCTL_SSH='failoverctl-no-ssh -F x' %s -H %s status", t.ctl, t.target);
	ck_assert_int_eq(r.status, 3);
	assert_one_line(&r, "'failoverctl-no-ssh' is not in $PATH");
	run_free(&r);
	ck_assert_ptr_null(test_log_read(test_dir_file(t.dir, "bridge.log")));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dbus-remote");
	TCase *tc = tcase_create("remote");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_no_sshd_no_answer);
	tcase_add_test(tc, test_status_and_lists);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_attach_and_monitor);
	tcase_add_test(tc, test_refused_key_and_unknown_host_key);
	tcase_add_test(tc, test_daemon_not_running);
	tcase_add_test(tc, test_host_errors);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
