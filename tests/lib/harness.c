/*
 * Test harness: temporary directories, process groups, the failover test
 * guest's command line and its serial console. See harness.h.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define POLL_MS 20

int64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	return s;
}

/* --- TestDir --- */

typedef struct TestDirFile {
	struct TestDirFile *next;
	char *path;
} TestDirFile;

struct TestDir {
	char *path;
	TestDirFile *files;
};

TestDir *test_dir_new(void)
{
	const char *tmp = getenv("TMPDIR");
	TestDir *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->path = xasprintf("%s/failoverd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d->path)) {
		free(d->path);
		free(d);
		return NULL;
	}
	return d;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

TestDir *test_dir_free(TestDir *d)
{
	const char *keep = getenv("FOVD_KEEP_TEST_DIR");

	if (!d)
		return NULL;
	if (keep && strcmp(keep, "1") == 0)
		fprintf(stderr, "test: keeping %s\n", d->path);
	else
		nftw(d->path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	while (d->files) {
		TestDirFile *f = d->files;

		d->files = f->next;
		free(f->path);
		free(f);
	}
	free(d->path);
	free(d);
	return NULL;
}

const char *test_dir_path(const TestDir *d)
{
	return d->path;
}

const char *test_dir_file(TestDir *d, const char *name)
{
	TestDirFile *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->path = xasprintf("%s/%s", d->path, name);
	f->next = d->files;
	d->files = f;
	return f->path;
}

const char *test_build_dir(void)
{
	const char *dir = getenv("FOVD_BUILD_DIR");

	return dir && *dir ? dir : "build";
}

const char *test_build_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", test_build_dir(), name);
	return buf;
}

/* --- TestQemu: one process group --- */

struct TestQemu {
	pid_t pid;
	bool reaped;
	int status;
	char *serial_log;
};

/* The child side of test_qemu_spawn(); reports exec failure on @err_fd. */
static void __attribute__((noreturn))
spawn_child(const char *const *argv, const char *log_path, pid_t parent, int err_fd,
	    TestPreExecFn pre_exec, void *ud)
{
	sigset_t none;
	int fd, e;

	setpgid(0, 0);
	/* Dies with the test, even if the test is SIGKILLed. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	if (pre_exec && pre_exec(ud) < 0) {
		e = errno;
		goto fail;
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) {
		e = errno;
		goto fail;
	}
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	execvp(argv[0], (char *const *)argv);
	e = errno;
fail:
	if (write(err_fd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

TestQemu *test_qemu_spawn(const char *const *argv, const char *log_path)
{
	return test_qemu_spawn_with(argv, log_path, NULL, NULL);
}

TestQemu *test_qemu_spawn_with(const char *const *argv, const char *log_path,
			       TestPreExecFn pre_exec, void *ud)
{
	pid_t parent = getpid();
	TestQemu *q;
	int p[2], e = 0;
	ssize_t n;

	if (!argv || !argv[0]) {
		errno = EINVAL;
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(q);
		return NULL;
	}
	q->pid = fork();
	if (q->pid < 0) {
		e = errno;
		close(p[0]);
		close(p[1]);
		free(q);
		errno = e;
		return NULL;
	}
	if (q->pid == 0) {
		close(p[0]);
		spawn_child(argv, log_path, parent, p[1], pre_exec, ud);
	}
	close(p[1]);
	/* Both sides set the group so no signal can race the child's setpgid. */
	setpgid(q->pid, q->pid);
	do
		n = read(p[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == sizeof(e)) {
		waitpid(q->pid, NULL, 0);
		free(q);
		errno = e;
		return NULL;
	}
	return q;
}

/* Non-blocking: has the leader exited? If so, kill the rest of its group
 * while the zombie leader still holds the group id, then reap. */
static bool leader_exited(TestQemu *q)
{
	siginfo_t si = { 0 };

	if (q->reaped)
		return true;
	if (waitid(P_PID, q->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		q->reaped = true;
		return true;
	}
	if (si.si_pid == 0)
		return false;
	kill(-q->pid, SIGKILL);
	while (waitpid(q->pid, &q->status, 0) < 0 && errno == EINTR)
		;
	q->reaped = true;
	return true;
}

void test_qemu_kill(TestQemu *q)
{
	if (!q || q->reaped)
		return;
	kill(-q->pid, SIGKILL);
	kill(q->pid, SIGKILL);
	while (waitpid(q->pid, &q->status, 0) < 0 && errno == EINTR)
		;
	q->reaped = true;
}

TestQemu *test_qemu_free(TestQemu *q)
{
	if (!q)
		return NULL;
	test_qemu_kill(q);
	free(q->serial_log);
	free(q);
	return NULL;
}

pid_t test_qemu_pid(const TestQemu *q)
{
	return q->pid;
}

const char *test_qemu_serial_log(const TestQemu *q)
{
	return q->serial_log;
}

bool test_qemu_running(TestQemu *q)
{
	return !leader_exited(q);
}

int test_qemu_wait_exit(TestQemu *q, int timeout_ms, int *status)
{
	int64_t deadline = test_now_ms() + timeout_ms;

	while (!leader_exited(q)) {
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(POLL_MS);
	}
	if (status)
		*status = q->status;
	return 0;
}

int test_qemu_wait_socket(TestQemu *q, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = test_now_ms() + timeout_ms;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r;

		if (fd < 0)
			return -errno;
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (r == 0)
			return 0;
		if (q && leader_exited(q))
			return -ECHILD;
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(POLL_MS);
	}
}

/* --- the failover test guest --- */

void test_require_env(const char *variant)
{
	static const char *const vars[] = { "FOVD_GUEST_KERNEL", "FOVD_GUEST_INITRD" };
	const char *v = getenv("FOVD_GUEST_VARIANT");

	ck_assert_msg(v && *v,
		      "the %s test guest is not set up: run make check-qemu, or "
		      "eval \"$(tests/guest/build-guest.sh %s)\" before running this test",
		      variant, variant);
	ck_assert_msg(strcmp(v, variant) == 0,
		      "FOVD_GUEST_VARIANT is %s but this test needs the %s guest: "
		      "eval \"$(tests/guest/build-guest.sh %s)\"",
		      v, variant, variant);
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *path = getenv(vars[i]);

		ck_assert_msg(path && access(path, R_OK) == 0,
			      "%s=%s is not readable: rebuild with tests/guest/build-guest.sh %s",
			      vars[i], path ? path : "(unset)", variant);
	}
}

typedef struct Strv {
	char **v;
	size_t n, cap;
} Strv;

static void strv_add(Strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void strv_add(Strv *s, const char *fmt, ...)
{
	va_list ap;
	char *str;

	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? 2 * s->cap : 32;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	va_start(ap, fmt);
	if (vasprintf(&str, fmt, ap) < 0)
		abort();
	va_end(ap);
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

char **test_strv_free(char **strv)
{
	if (!strv)
		return NULL;
	for (char **p = strv; *p; p++)
		free(*p);
	free(strv);
	return NULL;
}

static void add_words(Strv *s, const char *const *words)
{
	for (; *words; words++)
		strv_add(s, "%s", *words);
}

char **test_guest_argv(const TestGuestOptions *o, const char *dir)
{
	static const char *const base[] = { "-accel",	   "tcg",      "-M",   "q35",
					    "-m",	   "256",      "-smp", "1",
					    "-nodefaults", "-display", "none", NULL };
	const char *qemu = getenv("FOVD_QEMU");
	unsigned n_ports = o->n_root_ports ? o->n_root_ports : 2;
	const char *mac = o->mac ? o->mac : TEST_GUEST_MAC;
	Strv s = { 0 };

	strv_add(&s, "%s", qemu && *qemu ? qemu : "qemu-system-x86_64");
	add_words(&s, base);
	if (o->name)
		add_words(&s, (const char *const[]){ "-name", o->name, NULL });
	if (o->paused)
		strv_add(&s, "-S");
	if (o->boot) {
		test_require_env("failover");
		add_words(&s,
			  (const char *const[]){ "-kernel", getenv("FOVD_GUEST_KERNEL"), "-initrd",
						 getenv("FOVD_GUEST_INITRD"), "-append", NULL });
		strv_add(&s, "console=ttyS0 quiet panic=-1%s%s%s",
			 o->nofailover ? " fovd.nofailover" : "", o->append ? " " : "",
			 o->append ? o->append : "");
	}
	strv_add(&s, "-serial");
	if (o->serial_log)
		strv_add(&s, "file:%s", o->serial_log);
	else
		strv_add(&s, "file:%s/guest.log", dir);
	strv_add(&s, "-qmp");
	strv_add(&s, "unix:%s,server=on,wait=off", o->qmp_path);
	for (unsigned i = 1; i <= n_ports; i++) {
		strv_add(&s, "-device");
		strv_add(&s, "pcie-root-port,id=rp%u,chassis=%u,slot=%u", i, i, i);
	}
	if (o->standby) {
		add_words(&s, (const char *const[]){ "-netdev",
						     o->standby_netdev ? o->standby_netdev
								       : "user,id=hn0",
						     "-device", NULL });
		strv_add(&s, "virtio-net-pci,id=net0,netdev=hn0,mac=%s,bus=rp1,failover=on", mac);
	}
	if (o->incoming)
		add_words(&s, (const char *const[]){ "-incoming", "defer", NULL });
	if (o->extra_args)
		add_words(&s, o->extra_args);
	return s.v;
}

TestQemu *test_guest_spawn(const TestGuestOptions *o, const char *dir)
{
	char **argv = test_guest_argv(o, dir);
	char *serial, *qemu_log;
	TestQemu *q;

	serial = o->serial_log ? strdup(o->serial_log) : xasprintf("%s/guest.log", dir);
	qemu_log = o->qemu_log ? strdup(o->qemu_log) : xasprintf("%s.qemu", serial);
	if (!serial || !qemu_log)
		abort();
	q = test_qemu_spawn_with((const char *const *)argv, qemu_log, o->pre_exec, o->pre_exec_ud);
	test_strv_free(argv);
	free(qemu_log);
	if (!q) {
		free(serial);
		return NULL;
	}
	q->serial_log = serial;
	return q;
}

/* --- the guest's network view --- */

typedef struct NicField {
	const char *key;
	size_t offset, size;
} NicField;

#define NIC_FIELD(k, m)                                                                            \
	{                                                                                          \
		k, offsetof(TestGuestNic, m), sizeof(((TestGuestNic *)0)->m)                       \
	}
static const NicField nic_fields[] = {
	NIC_FIELD("drv", driver), NIC_FIELD("master", master), NIC_FIELD("slaves", slaves),
	NIC_FIELD("mac", mac),	  NIC_FIELD("state", state),
};

/* "FOVD-NET eth0 drv=net_failover master=- slaves=eth1,eth2 ..." */
static void parse_nic(const char *line, TestGuestNic *nic)
{
	char buf[512], *save = NULL, *tok;

	memset(nic, 0, sizeof(*nic));
	snprintf(buf, sizeof(buf), "%s", line + strlen("FOVD-NET "));
	tok = strtok_r(buf, " ", &save);
	if (!tok)
		return;
	snprintf(nic->name, sizeof(nic->name), "%s", tok);
	while ((tok = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		for (size_t i = 0; i < sizeof(nic_fields) / sizeof(nic_fields[0]); i++)
			if (strcmp(tok, nic_fields[i].key) == 0 && strcmp(eq + 1, "-") != 0)
				snprintf((char *)nic + nic_fields[i].offset, nic_fields[i].size,
					 "%s", eq + 1);
	}
}

void test_guest_net_parse(const char *text, TestGuestNet *net)
{
	TestGuestNet pending = { 0 };
	bool in_snapshot = false;

	memset(net, 0, sizeof(*net));
	while (text && *text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		char line[512];

		/* The serial console ends lines with \r\n. */
		while (len > 0 && text[len - 1] == '\r')
			len--;
		if (len < sizeof(line) && end) {
			memcpy(line, text, len);
			line[len] = '\0';
			if (strncmp(line, "FOVD-NET-BEGIN seq=", 19) == 0) {
				memset(&pending, 0, sizeof(pending));
				pending.seq = (unsigned)strtoul(line + 19, NULL, 10);
				in_snapshot = true;
			} else if (strncmp(line, "FOVD-NET-END", 12) == 0 && in_snapshot) {
				*net = pending;
				in_snapshot = false;
			} else if (strncmp(line, "FOVD-NET ", 9) == 0 && in_snapshot &&
				   pending.n_nics <
					   sizeof(pending.nics) / sizeof(pending.nics[0])) {
				parse_nic(line, &pending.nics[pending.n_nics++]);
			}
		}
		if (!end)
			break;
		text = end + 1;
	}
}

const TestGuestNic *test_guest_net_find(const TestGuestNet *net, const char *name)
{
	for (size_t i = 0; i < net->n_nics; i++)
		if (strcmp(net->nics[i].name, name) == 0)
			return &net->nics[i];
	return NULL;
}

bool test_guest_net_failover(const TestGuestNet *net, const char *primary_driver)
{
	for (size_t i = 0; i < net->n_nics; i++) {
		const TestGuestNic *m = &net->nics[i];
		bool virtio = false, primary = false;
		unsigned n_slaves = 0;
		char slaves[sizeof(m->slaves)], *save = NULL, *name;

		if (strcmp(m->driver, "net_failover") != 0)
			continue;
		memcpy(slaves, m->slaves, sizeof(slaves));
		for (name = strtok_r(slaves, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
			const TestGuestNic *s = test_guest_net_find(net, name);

			n_slaves++;
			if (!s || strcmp(s->master, m->name) != 0)
				continue;
			if (strcmp(s->driver, "virtio_net") == 0)
				virtio = true;
			else if (primary_driver && strcmp(s->driver, primary_driver) == 0)
				primary = true;
		}
		if (primary_driver ? virtio && primary : virtio && n_slaves == 1)
			return true;
	}
	return false;
}

int test_guest_wait_failover(const char *serial_log, const char *primary_driver, int timeout_ms)
{
	int64_t deadline = test_now_ms() + timeout_ms;

	for (;;) {
		char *text = test_log_read(serial_log);
		TestGuestNet net;
		bool ok;

		test_guest_net_parse(text, &net);
		free(text);
		ok = test_guest_net_failover(&net, primary_driver);
		if (ok)
			return 0;
		if (test_now_ms() >= deadline)
			break;
		sleep_ms(50);
	}
	fprintf(stderr, "test: no net_failover master with the virtio standby and %s in %s:\n",
		primary_driver ? primary_driver : "no primary", serial_log);
	test_log_dump(serial_log, 3000);
	return -ETIMEDOUT;
}

int test_guest_wait_bonded(TestQemu *q, int timeout_ms)
{
	if (!q->serial_log)
		return -EINVAL;
	return test_guest_wait_failover(q->serial_log, "e1000e", timeout_ms);
}

/* --- log files --- */

char *test_log_read(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 16384;
			buf = realloc(buf, cap + 1);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

int test_log_wait(const char *path, const char *needle, int timeout_ms)
{
	int64_t deadline = test_now_ms() + timeout_ms;

	for (;;) {
		char *text = test_log_read(path);
		bool found = text && strstr(text, needle);

		free(text);
		if (found)
			return 0;
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(50);
	}
}

/* Whether @n lines of @text satisfy @pred. */
static bool n_lines(char *text, bool (*pred)(const char *line, void *userdata), void *userdata,
		    int n)
{
	char *save = NULL;
	int found = 0;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(l);

		while (len > 0 && l[len - 1] == '\r')
			l[--len] = '\0';
		if (pred(l, userdata) && ++found >= n)
			return true;
	}
	return false;
}

int test_log_wait_line(const char *path, bool (*pred)(const char *line, void *userdata),
		       void *userdata, int timeout_ms)
{
	return test_log_wait_lines(path, pred, userdata, 1, timeout_ms);
}

int test_log_wait_lines(const char *path, bool (*pred)(const char *line, void *userdata),
			void *userdata, int n, int timeout_ms)
{
	int64_t deadline = test_now_ms() + timeout_ms;

	for (;;) {
		char *text = test_log_read(path);
		bool found = text && n_lines(text, pred, userdata, n);

		free(text);
		if (found)
			return 0;
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(50);
	}
}

void test_log_dump(const char *path, size_t max_bytes)
{
	char *text = test_log_read(path);
	size_t len;

	if (!text) {
		fprintf(stderr, "--- %s: unreadable\n", path);
		return;
	}
	len = strlen(text);
	fprintf(stderr, "--- last %zu bytes of %s\n%s\n---\n", len > max_bytes ? max_bytes : len,
		path, len > max_bytes ? text + len - max_bytes : text);
	free(text);
}
