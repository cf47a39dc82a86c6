/* Listening socket that QEMU instances connect to (zero-config mode). */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp/qmp.h"

struct QmpListener {
	struct event_base *base;
	char *path;
	bool owned; /* we made the socket file (else socket activation did) */
	int fd;
	struct event *ev;
	QmpAcceptFn fn;
	void *userdata;
};

static void listener_on_readable(evutil_socket_t fd, short what, void *userdata)
{
	QmpListener *l = userdata;

	/* Bounded: a connect storm must not monopolise the loop. */
	for (int i = 0; i < 64; i++) {
		int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return; /* EAGAIN, or a peer that went away already */
		l->fn(l, cfd, l->userdata);
	}
}

/* Only ever remove a leftover *socket*; anything else at @path is an error. */
/* -EADDRINUSE when a live process still accepts on @path: it is not stale. */
static int unlink_stale_socket(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

/* Watches the listening @fd (taken); @path is unlinked on free when @owned. */
static int listener_start(QmpListener **out, struct event_base *base, int fd, const char *path,
			  bool owned, QmpAcceptFn fn, void *userdata)
{
	QmpListener *l = calloc(1, sizeof(*l));

	if (!l || !(l->path = strdup(path)))
		goto oom;
	l->base = base;
	l->fd = fd;
	l->owned = owned;
	l->fn = fn;
	l->userdata = userdata;
	l->ev = event_new(base, fd, EV_READ | EV_PERSIST, listener_on_readable, l);
	if (!l->ev)
		goto oom;
	event_add(l->ev, NULL);
	*out = l;
	return 0;
oom:
	if (l)
		free(l->path);
	free(l);
	return -ENOMEM;
}

int qmp_listener_new(QmpListener **out, struct event_base *base, const char *path, unsigned mode,
		     gid_t gid, QmpAcceptFn fn, void *userdata)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (!path || path[0] != '/')
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	r = unlink_stale_socket(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Mode and group before listen(): nobody connects through wider rights. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, mode) < 0 ||
	    listen(fd, 128) < 0) {
		r = -errno;
		unlink(path);
		close(fd);
		return r;
	}
	r = listener_start(out, base, fd, path, true, fn, userdata);
	if (r < 0) {
		unlink(path);
		close(fd);
	}
	return r;
}

int qmp_listener_new_fd(QmpListener **out, struct event_base *base, int fd, QmpAcceptFn fn,
			void *userdata)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int type = 0, listening = 0, r;
	socklen_t tl = sizeof(type), ll = sizeof(listening);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0)
		return -errno;
	if (sa.sun_family != AF_UNIX || type != SOCK_STREAM || !listening ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] != '/')
		return -ENOTSOCK;
	sa.sun_path[sizeof(sa.sun_path) - 1] = 0;
	r = fcntl(fd, F_GETFL);
	if (r < 0 || fcntl(fd, F_SETFL, r | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	/* Its owner made the socket file, and removes it. */
	return listener_start(out, base, fd, sa.sun_path, false, fn, userdata);
}

const char *qmp_listener_get_path(const QmpListener *l)
{
	return l->path;
}

QmpListener *qmp_listener_free(QmpListener *l)
{
	if (!l)
		return NULL;
	if (l->ev)
		event_free(l->ev);
	close(l->fd);
	if (l->owned)
		unlink(l->path);
	free(l->path);
	free(l);
	return NULL;
}
