#pragma once

/* Turns the conf/ model into daemon objects: pools, instances, pairs. */

#include "conf/conf.h"
#include "daemon/manager.h"

/* Logs every diagnostic; returns conf_load()'s result. */
int config_load(const char *root, const Log *log, ConfSet **out);
/* Adds the pools and instances of @s to a manager that has none yet. */
int config_apply(Manager *m, const ConfSet *s);
int config_add_instance(Manager *m, const ConfInstance *in, const ConfDaemon *d, Instance **out);
/* Applies the difference between two valid configurations to a running manager. */
void config_reload(Manager *m, const ConfSet *old_set, const ConfSet *new_set);
