/* inotify on the runtime configuration directory, debounced into one reload. */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "daemon/watch.h"

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF |   \
	 IN_ONLYDIR)
/* A writer's write + rename + drop-in arrive within this; one reload for all. */
#define WATCH_QUIET_MS 200

struct ConfWatch {
	int fd;
	char dir[PATH_MAX];
	struct event *ev_read, *ev_quiet;
	ConfWatchFn fn;
	void *userdata;
};

static bool is_dropin_dir(const char *name)
{
	size_t n = strlen(name);

	return n > 2 && strcmp(name + n - 2, ".d") == 0;
}

static void watch_add_dir(ConfWatch *w, const char *name)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	/* Best effort: a drop-in directory that vanished meanwhile needs no watch. */
	(void)inotify_add_watch(w->fd, path, WATCH_MASK & ~IN_DELETE_SELF);
}

static void watch_on_quiet(evutil_socket_t fd, short what, void *ud)
{
	ConfWatch *w = ud;

	w->fn(w->userdata);
}

static void watch_on_read(evutil_socket_t fd, short what, void *ud)
{
	static const struct timeval quiet = { 0, WATCH_QUIET_MS * 1000 };
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ConfWatch *w = ud;
	bool changed = false;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			/* Editors' and atomic writers' temporary files are not configuration. */
			if (e->len && e->name[0] != '.' &&
			    ((e->mask & IN_ISDIR) ? is_dropin_dir(e->name) : true)) {
				if ((e->mask & (IN_CREATE | IN_MOVED_TO)) && (e->mask & IN_ISDIR))
					watch_add_dir(w, e->name);
				changed = true;
			}
			p += sizeof(*e) + e->len;
		}
	}
	if (changed)
		event_add(w->ev_quiet, &quiet);
}

int conf_watch_new(ConfWatch **out, struct event_base *base, const char *dir, ConfWatchFn fn,
		   void *userdata)
{
	ConfWatch *w = calloc(1, sizeof(*w));
	struct dirent *de;
	DIR *d;
	int r;

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->userdata = userdata;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0 || inotify_add_watch(w->fd, dir, WATCH_MASK) < 0) {
		r = -errno;
		conf_watch_free(w);
		return r;
	}
	d = opendir(dir);
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && is_dropin_dir(de->d_name))
			watch_add_dir(w, de->d_name);
	if (d)
		closedir(d);
	w->ev_read = event_new(base, w->fd, EV_READ | EV_PERSIST, watch_on_read, w);
	w->ev_quiet = evtimer_new(base, watch_on_quiet, w);
	if (!w->ev_read || !w->ev_quiet || event_add(w->ev_read, NULL) < 0) {
		conf_watch_free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

ConfWatch *conf_watch_free(ConfWatch *w)
{
	if (!w)
		return NULL;
	if (w->ev_read)
		event_free(w->ev_read);
	if (w->ev_quiet)
		event_free(w->ev_quiet);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	return NULL;
}
