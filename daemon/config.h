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
 * Applies the difference between two valid configurations to a running
 * manager, and retries what @deferred holds from earlier reloads; @deferred
 * then holds what is still waiting.
 */
void config_reload(Manager *m, const ConfSet *old_set, const ConfSet *new_set,
		   ConfigDeferred *deferred);
