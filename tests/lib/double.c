/* The QEMU test double's control socket, for the tests that drive it. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/double.h"

int test_double_call(const char *ctl, const char *cmd, char *reply, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 2, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = 0;
	ssize_t n;

	if (reply && size)
		reply[0] = 0;
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || dprintf(fd, "%s\n", cmd) < 0) {
		close(fd);
		return -ECONNREFUSED;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (reply && len + 1 < size && (n = read(fd, reply + len, size - len - 1)) > 0) {
		len += (size_t)n;
		if (memchr(reply, '\n', len))
			break;
	}
	if (reply && size) {
		reply[len] = 0;
		reply[strcspn(reply, "\n")] = 0;
	}
	close(fd);
	return 0;
}

TestQemu *test_double_spawn(const char *const *argv, const char *ctl, const char *log)
{
	TestQemu *q = test_qemu_spawn(argv, log);

	/* Up when its control socket answers (a double starts in milliseconds). */
	for (int k = 0; q && k < 400; k++) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		char r[64];

		if (access(ctl, F_OK) == 0 && test_double_call(ctl, "status", r, sizeof(r)) == 0 &&
		    r[0])
			return q;
		if (!test_qemu_running(q))
			break;
		nanosleep(&ts, NULL);
	}
	return test_qemu_free(q);
}
