#pragma once

/* Turns the conf/ model into daemon objects: pools, instances, pairs. */

#include "conf/conf.h"
#include "daemon/manager.h"

/*
 * Logs every diagnostic; returns conf_load()'s result. The errors also go
 * to @errors (one "file:line: message" per line; may be NULL).
 */
int config_load(const char *root, const Log *log, ConfSet **out, char *errors, size_t size);
/* Adds the pools and instances of @s to a manager that has none yet. */
int config_apply(Manager *m, const ConfSet *s);
int config_add_instance(Manager *m, const ConfInstance *in, const ConfDaemon *d, Instance **out);
/* Changes a reload could not apply yet (a pool or pair in use): tried on every reload. */
#define CONFIG_MAX_DEFERRED 64
typedef struct ConfigDeferredItem {
	ConfObject what; /* CONF_OBJECT_POOL, or CONF_OBJECT_INSTANCE for one of its pairs */
	char instance[128];
	char name[65];
} ConfigDeferredItem;

typedef struct ConfigDeferred {
	size_t n;
	ConfigDeferredItem items[CONFIG_MAX_DEFERRED];
} ConfigDeferred;

/*
 * The configuration a running daemon follows: the last good set read from
 * the files under a root, and the changes of earlier reloads still waiting.
 * Owned here; the manager only receives what they turn into (pools,
 * instances, pairs).
 */
typedef struct Config Config;

int config_new(Config **out, const char *root, const Log *log);
Config *config_free(Config *c);
/* Start-up: applies @set (a valid one, from config_load()) to @m, and keeps it. */
int config_start(Config *c, Manager *m, ConfSet *set);
/*
 * SIGHUP / D-Bus Reload: reads the files again and applies only what
 * changed, retrying what earlier reloads had to defer. An invalid set
 * changes nothing and keeps the last good one; @err then says why, with
 * the file:line diagnostics.
 */
int config_reload(Config *c, Manager *m, char *err, size_t size);

static inline void config_freep(Config **c)
{
	config_free(*c);
}
