/*
 * The probe cache (daemon/probecache.c) against FAKE QMP peers: a probe is
 * shared only between QEMUs running the very same executable. Any peer can
 * claim any version string in its greeting; a peer running another binary
 * (here /bin/sleep, claiming QEMU 10.0.2 "Debian 1:10.0.2") must be probed
 * itself, never handed another binary's answer.
 */

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/probecache.h"
#include "tests/lib/fake-qmp.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

typedef struct Peer {
	QmpConn *conn;
	FakeQmp *fake;
	pid_t child; /* the process the connection's credentials name, or 0 for us */
	int n_ready, n_probed, r;
	QmpProbe probe;
} Peer;

static struct event_base *base;
static ProbeCache *cache;
static TestDir *dir;
static Peer peers[3];

static void on_ready(QmpConn *c, void *ud)
{
	((Peer *)ud)->n_ready++;
}

static void on_disconnected(QmpConn *c, int err, const char *reason, void *ud)
{
}

static const QmpConnOps ops = { .ready = on_ready, .disconnected = on_disconnected };

static void on_probe(QmpConn *c, int r, const QmpProbe *probe, const char *reason, void *ud)
{
	Peer *p = ud;

	p->r = r;
	if (probe)
		p->probe = *probe;
	p->n_probed++;
}

static int spin_until(int *counter, int want, int ms)
{
	int64_t end = test_now_ms() + ms;
	FakeQmp *fakes[3];

	for (int k = 0; k < 3; k++)
		fakes[k] = peers[k].fake;
	while (*counter < want && test_now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		fake_qmp_step_all(fakes, 3, 1);
	}
	return *counter >= want ? 0 : -ETIMEDOUT;
}

/* A connection whose peer is this test process (the same executable each time). */
static void peer_open_self(Peer *p)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(qmp_conn_new_fd(&p->conn, base, sv[0], &ops, p), 0);
	p->fake = fake_qmp_new_fd(sv[1]);
}

/*
 * A connection whose credentials name a child that then becomes /bin/sleep:
 * the child connects, hands its end to us (SCM_RIGHTS) and execs.
 */
static void peer_open_other_exe(Peer *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, sv[2], fd = -1;
	char data = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { &data, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", test_dir_file(dir, "other.sock"));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->child = fork();
	ck_assert_int_ge(p->child, 0);
	if (p->child == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(1);
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &c, sizeof(int));
		if (sendmsg(sv[1], &mh, 0) != 1)
			_exit(1);
		execlp("sleep", "sleep", "600", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	ck_assert_int_eq(
		qmp_conn_new_fd(&p->conn, base, accept4(lfd, NULL, NULL, SOCK_CLOEXEC), &ops, p),
		0);
	close(lfd);
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	ck_assert_int_eq(recvmsg(sv[0], &mh, 0), 1);
	cm = CMSG_FIRSTHDR(&mh);
	ck_assert_ptr_nonnull(cm);
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	close(sv[0]);
	/* Wait for the exec: then /proc/PID/exe is sleep's binary. */
	for (int64_t end = test_now_ms() + 5000; test_now_ms() < end; usleep(1000)) {
		char exe[64], target[256];
		ssize_t n;

		snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)p->child);
		n = readlink(exe, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = 0, strstr(target, "sleep")))
			break;
	}
	p->fake = fake_qmp_new_fd(fd);
}

static void setup(void)
{
	memset(peers, 0, sizeof(peers));
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(probe_cache_new(&cache, base), 0);
	dir = test_dir_new();
	ck_assert_ptr_nonnull(dir);
}

static void teardown(void)
{
	for (int k = 0; k < 3; k++) {
		qmp_conn_free(peers[k].conn);
		fake_qmp_free(peers[k].fake);
		if (peers[k].child > 0) {
			kill(peers[k].child, SIGKILL);
			waitpid(peers[k].child, NULL, 0);
		}
	}
	probe_cache_free(cache);
	event_base_free(base);
	test_dir_free(dir);
}

static void probe(Peer *p)
{
	ck_assert_int_eq(spin_until(&p->n_ready, 1, 5000), 0);
	ck_assert_int_eq(probe_cache_probe(cache, p->conn, "e1000e", on_probe, p), 0);
	ck_assert_int_eq(spin_until(&p->n_probed, 1, 5000), 0);
}

/* This binary says "no failover" while claiming the same version. */
static const FakeQmpRule no_failover[] = {
	{ "device-list-properties", "\"typename\":\"virtio-net-pci\"", "[]" },
	{ NULL, NULL, NULL },
};

START_TEST(test_shared_only_by_the_same_executable)
{
	/* The first QEMU is probed; a second one of the same binary is not. */
	peer_open_self(&peers[0]);
	probe(&peers[0]);
	ck_assert_int_eq(peers[0].r, 0);
	ck_assert_uint_eq(fake_qmp_count(peers[0].fake, "device-list-properties"), 2);
	peer_open_self(&peers[1]);
	probe(&peers[1]);
	ck_assert_int_eq(peers[1].r, 0);
	ck_assert_uint_eq(fake_qmp_count(peers[1].fake, "device-list-properties"), 0);

	/* Same greeting, another executable: probed itself, its own answer. */
	peer_open_other_exe(&peers[2]);
	fake_qmp_set_rules(peers[2].fake, no_failover);
	probe(&peers[2]);
	ck_assert_uint_eq(fake_qmp_count(peers[2].fake, "device-list-properties"), 2);
	ck_assert_int_eq(peers[2].r, -EOPNOTSUPP);
	ck_assert(!peers[2].probe.standby_failover);
}
END_TEST

/*
 * QEMUs of one build connecting at once wait for the first one's probe; one
 * that gives up (its monitor closed) and comes back queues again, and every
 * waiter gets the one answer, once.
 */
START_TEST(test_waiters_share_one_probe)
{
	for (int k = 0; k < 3; k++)
		peer_open_self(&peers[k]);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(spin_until(&peers[k].n_ready, 1, 5000), 0);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(
			probe_cache_probe(cache, peers[k].conn, "e1000e", on_probe, &peers[k]), 0);
	probe_cache_cancel(cache, &peers[2]); /* the last in the queue, behind peers[1] */
	ck_assert_int_eq(probe_cache_probe(cache, peers[2].conn, "e1000e", on_probe, &peers[2]), 0);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(spin_until(&peers[k].n_probed, 1, 5000), 0);
		ck_assert_int_eq(peers[k].r, 0);
		ck_assert(peers[k].probe.standby_failover);
	}
	ck_assert_uint_eq(fake_qmp_count(peers[0].fake, "device-list-properties"), 2);
	for (int k = 1; k < 3; k++)
		ck_assert_uint_eq(fake_qmp_count(peers[k].fake, "device-list-properties"), 0);
	/* Nothing more arrives later. */
	spin_until(&peers[0].n_probed, 2, 200);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(peers[k].n_probed, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("probecache");
	TCase *tc = tcase_create("fake-peers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_shared_only_by_the_same_executable);
	tcase_add_test(tc, test_waiters_share_one_probe);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
