/* systemd service integration: sd_notify and a loop-driven watchdog. */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "daemon/service.h"

struct Service {
	Manager *manager;
	Config *config;
	struct event *watchdog;
	struct event *sighup;
	struct timeval interval;
};

static void service_on_watchdog(evutil_socket_t fd, short what, void *ud)
{
	sd_notify(0, "WATCHDOG=1");
}

static void service_on_sighup(evutil_socket_t sig, short what, void *ud)
{
	char err[256];

	/* Failure is logged by the configuration; the last good one stays. */
	service_reload(ud, err, sizeof(err));
}

int service_new(Service **out, Manager *m, Config *config)
{
	Service *s = calloc(1, sizeof(*s));
	uint64_t usec = 0;

	if (!s)
		return -ENOMEM;
	s->manager = m;
	s->config = config;
	/* ExecReload= sends SIGHUP; systemd waits for RELOADING=1 ... READY=1. */
	s->sighup = evsignal_new(manager_get_event_base(m), SIGHUP, service_on_sighup, s);
	if (!s->sighup || evsignal_add(s->sighup, NULL) < 0) {
		service_free(s);
		return -ENOMEM;
	}
	/* Ping at half the interval: one late loop iteration must not kill us. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		usec /= 2;
		s->interval.tv_sec = (time_t)(usec / 1000000u);
		s->interval.tv_usec = (suseconds_t)(usec % 1000000u);
		s->watchdog = event_new(manager_get_event_base(m), -1, EV_PERSIST,
					service_on_watchdog, s);
		if (!s->watchdog) {
			service_free(s);
			return -ENOMEM;
		}
		event_add(s->watchdog, &s->interval);
		log_debug(manager_get_log(m), "watchdog enabled, pinging every %llu ms",
			  (unsigned long long)(usec / 1000));
	}
	*out = s;
	return 0;
}

Service *service_free(Service *s)
{
	if (!s)
		return NULL;
	if (s->watchdog)
		event_free(s->watchdog);
	if (s->sighup)
		event_free(s->sighup);
	free(s);
	return NULL;
}

void service_ready(Service *s)
{
	if (s)
		sd_notify(0, "READY=1\nSTATUS=Managing failover pairs");
}

void service_reloading(Service *s)
{
	if (s)
		sd_notify(0, "RELOADING=1\nSTATUS=Reloading configuration");
}

int service_reload(Service *s, char *err, size_t size)
{
	int r;

	service_reloading(s);
	r = config_reload(s->config, s->manager, err, size);
	service_ready(s);
	return r;
}

void service_stopping(Service *s)
{
	if (s)
		sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
}
