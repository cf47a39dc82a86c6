#pragma once

/*
 * The D-Bus control plane (README.md, "D-Bus API"): org.failoverd1 on the system bus (or
 * any bus given by address), served from the manager's libevent loop — the
 * bus fd, its events and its timeout are plain libevent events, no second
 * loop and no thread.
 *
 * Objects:
 *   /org/failoverd1                        org.failoverd1.Manager
 *   /org/failoverd1/pool/<name>            org.failoverd1.Pool
 *   /org/failoverd1/instance/<name>        org.failoverd1.Instance
 *   /org/failoverd1/pair/<instance>_2f<pair> org.failoverd1.Pair
 * with names escaped by sd_bus_path_encode() ("<instance>/<pair>" for pairs).
 */

#include "daemon/bus-api.h"
#include "daemon/manager.h"
#include "daemon/service.h"

typedef struct Bus Bus;

typedef struct BusOptions {
	/* "system", "session", or a D-Bus address such as unix:path=/run/x.sock */
	const char *address;
	/* Group whose members may call mutating methods besides root; NULL or "". */
	const char *admin_group;
	Service *service; /* for RELOADING=1/READY=1 around Reload(); may be NULL */
} BusOptions;

/* Connects, exports the objects and takes the name; fails if the name is taken. */
int bus_new(Bus **out, Manager *m, const BusOptions *o);
Bus *bus_free(Bus *b);

static inline void bus_freep(Bus **b)
{
	bus_free(*b);
}
