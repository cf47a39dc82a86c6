/* Listening socket that QEMU instances connect to (zero-config mode). */

#include <errno.h>
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

int qmp_listener_new(QmpListener **out, struct event_base *base, const char *path, unsigned mode,
		     QmpAcceptFn fn, void *userdata)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	QmpListener *l;
	int r;

	if (!path || path[0] != '/')
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->fd = -1;
	l->base = base;
	l->fn = fn;
	l->userdata = userdata;
	l->path = strdup(path);
	if (!l->path) {
		r = -ENOMEM;
		goto fail;
	}
	r = unlink_stale_socket(path, &sa);
	if (r < 0)
		goto fail;
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
	    listen(l->fd, 128) < 0) {
		r = -errno;
		unlink(path);
		goto fail;
	}
	l->ev = event_new(base, l->fd, EV_READ | EV_PERSIST, listener_on_readable, l);
	if (!l->ev) {
		r = -ENOMEM;
		unlink(path);
		goto fail;
	}
	event_add(l->ev, NULL);
	*out = l;
	return 0;
fail:
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l);
	return r;
}

QmpListener *qmp_listener_free(QmpListener *l)
{
	if (!l)
		return NULL;
	if (l->ev)
		event_free(l->ev);
	close(l->fd);
	unlink(l->path);
	free(l->path);
	free(l);
	return NULL;
}
