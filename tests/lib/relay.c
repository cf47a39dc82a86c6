/* A cuttable monitor wire in front of a real QEMU (tests/lib/relay.h). */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/relay.h"

static volatile sig_atomic_t relay_cut_flag;

static void on_cut(int sig)
{
	relay_cut_flag = sig == SIGUSR1;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* QEMU creates its socket a moment after the exec: retry for a while. */
static int dial(const char *path)
{
	struct sockaddr_un sa;

	if (unix_addr(path, &sa) < 0)
		return -1;
	for (int k = 0; k < 200; k++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		usleep(50000);
	}
	return -1;
}

static void close_pair(int *a, int *b)
{
	if (*a >= 0)
		close(*a);
	if (*b >= 0)
		close(*b);
	*a = *b = -1;
}

/* Copies what @from has to @to; false on EOF or error. */
static bool forward(int from, int to)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));

	for (ssize_t off = 0; n > 0 && off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));

		if (w <= 0)
			return false;
		off += w;
	}
	return n > 0;
}

static void __attribute__((noreturn)) relay_run(TestRelay *r, int lfd)
{
	struct sigaction sa = { .sa_handler = on_cut };
	int client = -1, upstream = -1;
	bool was_cut = false;
	char hidden[320];
	FILE *f;

	snprintf(hidden, sizeof(hidden), "%s.cut", r->path);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	f = fopen(r->pid_file, "we");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	for (;;) {
		struct pollfd p[3] = { { lfd, POLLIN, 0 },
				       { client, POLLIN, 0 },
				       { upstream, POLLIN, 0 } };

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			_exit(1);
		/*
		 * Cut: the connection goes and the socket's name with it, so
		 * that a dialler is refused as by a monitor that is gone; the
		 * socket itself (QEMU's credentials) stays, renamed back later.
		 */
		if (relay_cut_flag != was_cut) {
			if (relay_cut_flag)
				close_pair(&client, &upstream);
			if (rename(relay_cut_flag ? r->path : hidden,
				   relay_cut_flag ? hidden : r->path) < 0)
				_exit(1);
		}
		was_cut = relay_cut_flag;
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && (relay_cut_flag || client >= 0)) {
				close(fd);
			} else if (fd >= 0) {
				client = fd;
				upstream = dial(r->target);
				if (upstream < 0)
					close_pair(&client, &upstream);
			}
		}
		if (client >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !forward(client, upstream))
			close_pair(&client, &upstream);
		if (upstream >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !forward(upstream, client))
			close_pair(&client, &upstream);
	}
}

void test_relay_init(TestRelay *r, const char *path, const char *target)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(r->target, sizeof(r->target), "%s", target);
	snprintf(r->pid_file, sizeof(r->pid_file), "%s.pid", path);
}

int test_relay_pre_exec(void *ud)
{
	TestRelay *r = ud;
	struct sockaddr_un sa;
	pid_t qemu = getpid();
	int lfd;

	if (unix_addr(r->path, &sa) < 0)
		return -1;
	unlink(r->path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* listen() here: the peer credentials of every connection name QEMU. */
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0)
		return -1;
	switch (fork()) {
	case -1:
		return -1;
	case 0:
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != qemu)
			_exit(1);
		/* Never exec'ed: drop what the spawner waits on (its exec-error pipe). */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != lfd)
				close(fd);
		relay_run(r, lfd);
	default:
		close(lfd);
		return 0;
	}
}

static void relay_signal(TestRelay *r, int sig)
{
	int64_t end = test_now_ms() + 5000;

	do {
		FILE *f = fopen(r->pid_file, "re");
		int pid = 0;

		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0) {
			kill(pid, sig);
			return;
		}
		usleep(20000);
	} while (test_now_ms() < end);
}

void test_relay_cut(TestRelay *r)
{
	relay_signal(r, SIGUSR1);
}

void test_relay_restore(TestRelay *r)
{
	relay_signal(r, SIGUSR2);
}
