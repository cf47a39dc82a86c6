#pragma once

/*
 * Orchestrators drop files into /run/failoverd: a watch on that directory
 * (and its X.d drop-in directories) reloads the configuration by itself.
 * inotify only, no polling; a burst of changes (a file written, then
 * renamed into place, then its drop-in) becomes one reload after a short
 * quiet period.
 */

#include <event2/event.h>

typedef struct ConfWatch ConfWatch;
typedef void (*ConfWatchFn)(void *userdata);

/* Watches @dir; -ENOENT if it does not exist (nothing to watch then). */
int conf_watch_new(ConfWatch **out, struct event_base *base, const char *dir, ConfWatchFn fn,
		   void *userdata);
ConfWatch *conf_watch_free(ConfWatch *w);

static inline void conf_watch_freep(ConfWatch **w)
{
	conf_watch_free(*w);
}
