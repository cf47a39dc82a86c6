#pragma once

/* The one manager object: the event loop and everything the daemon owns. */

#include <event2/event.h>

#include "daemon/log.h"

typedef struct Manager Manager;

typedef struct ManagerOptions {
	int log_level;
	const char *listen_qmp; /* zero-config socket, or NULL */
} ManagerOptions;

int manager_new(Manager **out, const ManagerOptions *opts);
Manager *manager_free(Manager *m);
/* Runs the loop until SIGTERM/SIGINT; returns 0 or a negative errno. */
int manager_run(Manager *m);
struct event_base *manager_get_event_base(Manager *m);
const Log *manager_get_log(const Manager *m);

static inline void manager_freep(Manager **m)
{
	manager_free(*m);
}
