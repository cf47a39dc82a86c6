#pragma once

/*
 * Running as a systemd service: readiness, reload and stop notifications,
 * and watchdog pings sent from the event loop itself (so a stuck loop is
 * noticed). Without NOTIFY_SOCKET every call is a cheap no-op, and without
 * WatchdogSec= no timer exists: the daemon stays idle when nothing happens.
 */

#include "daemon/config.h"
#include "daemon/manager.h"

typedef struct Service Service;

/* @config: what a reload re-reads (daemon/config.h). */
int service_new(Service **out, Manager *m, Config *config);
Service *service_free(Service *s);

/* READY=1 once configuration is applied and pairs are reconciled. */
void service_ready(Service *s);
/* RELOADING=1 ... READY=1 around a configuration reload. */
void service_reloading(Service *s);
/* SIGHUP and D-Bus Reload: the reload wrapped in RELOADING=1 ... READY=1. */
int service_reload(Service *s, char *err, size_t size);
void service_stopping(Service *s);

static inline void service_freep(Service **s)
{
	service_free(*s);
}
