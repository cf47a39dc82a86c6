/* A QEMU instance: connection set-up, event dispatch, port bookkeeping. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conf/conf.h"
#include "daemon/instance.h"
#include "daemon/messages.h"
#include "daemon/probecache.h"
#include "daemon/process.h"
#include "daemon/strcopy.h"

static void log_instance_v(const Instance *i, int level, const char *message_id, const char *fmt,
			   va_list ap)
{
	char f_inst[160], prefix[160];
	const char *fields[] = { f_inst, message_id, NULL };

	snprintf(f_inst, sizeof(f_inst), "FAILOVERD_INSTANCE=%s", i->name);
	snprintf(prefix, sizeof(prefix), "instance %s", i->name);
	log_objectv(i->env->log, level, fields, prefix, fmt, ap);
}

void log_instance_full(const Instance *i, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_instance_v(i, level, NULL, fmt, ap);
	va_end(ap);
}

void log_instance_event(const Instance *i, int level, const char *message_id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_instance_v(i, level, message_id, fmt, ap);
	va_end(ap);
}

int instance_call(Instance *i, const char *command, const QmpArgs *args, json_type expect,
		  QmpReplyFn fn, void *ud)
{
	if (!i->conn)
		return -ENOTCONN;
	return qmp_conn_call_args(i->conn, command, args, expect, 0, fn, ud);
}

Pair *instance_find_pair(Instance *i, const char *name)
{
	for (Pair *p = i->pairs; p; p = p->next)
		if (strcmp(p->config.name, name) == 0)
			return p;
	return NULL;
}

int instance_add_pair(Instance *i, const PairConfig *config, Pair **out)
{
	Pair *p, **tail = &i->pairs;
	int r;

	if (instance_find_pair(i, config->name))
		return -EEXIST;
	r = pair_new(&p, i, config);
	if (r < 0)
		return r;
	while (*tail)
		tail = &(*tail)->next;
	*tail = p;
	if (out)
		*out = p;
	return 0;
}

static void instance_on_pair_gone(evutil_socket_t fd, short what, void *ud)
{
	pair_unref(ud);
}

void instance_remove_pair(Instance *i, Pair *p)
{
	for (Pair **pp = &i->pairs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			struct timeval now = { 0, 0 };

			*pp = p->next;
			/*
			 * Forgotten at once, freed once the current dispatch is over:
			 * callers up the stack (and loops over the list) may still
			 * hold it. Without the loop's help it goes now.
			 */
			pair_ref(p);
			pair_free(p);
			if (event_base_once(i->env->base, -1, EV_TIMEOUT, instance_on_pair_gone, p,
					    &now) < 0)
				pair_unref(p);
			return;
		}
}

/* --- free pcie-root-port search --- */

typedef struct PortSearch {
	Instance *instance;
	const char *own; /* the asking pair's port buffer */
	InstancePortFn fn;
	void *ud;
	char ports[64][80];
	bool busy[64];
	size_t n, pending;
	int error;
	char cause[160]; /* the first bad reply, "" for a plain errno */
} PortSearch;

Pair *instance_port_holder(Instance *i, const char *port, const char *own)
{
	for (Pair *p = i->pairs; p; p = p->next) {
		if (p->primary_bus != own && strcmp(p->primary_bus, port) == 0)
			return p;
		if (p->standby_bus != own && strcmp(p->standby_bus, port) == 0)
			return p;
		/* Ports an admin gave to a pair stay its own, plugged or not. */
		if (p->primary_bus != own && p->standby_bus != own &&
		    (strcmp(p->config.primary_bus, port) == 0 ||
		     (p->config.standby_netdev[0] && strcmp(p->config.standby_bus, port) == 0)))
			return p;
	}
	return NULL;
}

/* All answers are in: decide in one synchronous step so reservations hold. */
static void port_search_finish(PortSearch *s)
{
	Instance *i = s->instance;
	char why[256];

	if (s->error) {
		snprintf(why, sizeof(why), "listing pcie-root-ports of %s failed: %s", i->name,
			 s->cause[0] ? s->cause : strerror(-s->error));
		s->fn(i, s->error, NULL, why, s->ud);
		free(s);
		return;
	}
	for (size_t k = 0; k < s->n; k++) {
		if (s->busy[k] || instance_port_holder(i, s->ports[k], s->own))
			continue;
		s->fn(i, 0, s->ports[k], NULL, s->ud);
		free(s);
		return;
	}
	snprintf(why, sizeof(why),
		 "no free pcie-root-port in QEMU instance %s (%zu present, all in use): start QEMU "
		 "with spare '-device pcie-root-port' devices",
		 i->name, s->n);
	s->fn(i, -ENOSPC, NULL, why, s->ud);
	free(s);
}

typedef struct PortProbe {
	PortSearch *search;
	size_t index;
} PortProbe;

static void port_on_bus_list(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	PortProbe *pp = ud;
	PortSearch *s = pp->search;

	if (r < 0 && !s->error) {
		s->error = r;
		/* QEMU's own words (an error, a timeout, a bad reply) say most. */
		if (err && err->desc[0])
			snprintf(s->cause, sizeof(s->cause), "qom-list of %s's bus: %s",
				 s->ports[pp->index], err->desc);
	}
	if (r == 0) {
		QmpIter it;
		size_t k = 0;

		/* A plugged device shows as a child[N] link on the port's bus. */
		for (bool more = qmp_iter_init(&it, *ret); more; more = qmp_iter_next(&it), k++) {
			const char *name = qmp_value_get_string(it.v, "name");

			if (!name && !s->error) {
				s->error = -EBADMSG;
				snprintf(s->cause, sizeof(s->cause),
					 "qom-list of %s's bus: entry %zu has no string 'name'",
					 s->ports[pp->index], k);
			}
			if (name && strncmp(name, "child[", 6) == 0)
				s->busy[pp->index] = true;
		}
	}
	free(pp);
	if (--s->pending == 0) {
		if (s->error == -ECANCELED) {
			s->fn(s->instance, -ECANCELED, NULL, "cancelled", s->ud);
			free(s);
			return;
		}
		port_search_finish(s);
	}
}

static void port_on_peripheral(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
			       void *ud)
{
	PortSearch *s = ud;
	QmpIter it;
	size_t k = 0;

	if (r < 0) {
		s->error = r;
		if (r == -ECANCELED) {
			s->fn(s->instance, r, NULL, "cancelled", s->ud);
			free(s);
			return;
		}
		if (err && err->desc[0])
			snprintf(s->cause, sizeof(s->cause), "qom-list /machine/peripheral: %s",
				 err->desc);
		port_search_finish(s);
		return;
	}
	for (bool more = qmp_iter_init(&it, *ret); more && s->n < 64;
	     more = qmp_iter_next(&it), k++) {
		const char *name = qmp_value_get_string(it.v, "name");
		const char *type = qmp_value_get_string(it.v, "type");

		if (!name || !type) {
			s->error = -EBADMSG;
			snprintf(s->cause, sizeof(s->cause),
				 "qom-list /machine/peripheral: entry %zu has no string '%s'", k,
				 name ? "type" : "name");
			port_search_finish(s);
			return;
		}
		if (strcmp(type, "child<pcie-root-port>") == 0)
			snprintf(s->ports[s->n++], sizeof(s->ports[0]), "%s", name);
	}
	if (s->n == 0) {
		port_search_finish(s);
		return;
	}
	/* qom-list replies come in order; sort for a stable, readable choice. */
	qsort(s->ports, s->n, sizeof(s->ports[0]), (int (*)(const void *, const void *))strcmp);
	s->pending = s->n;
	for (k = 0; k < s->n; k++) {
		PortProbe *pp = calloc(1, sizeof(*pp));
		QmpArgs args;
		char path[200];

		snprintf(path, sizeof(path), "/machine/peripheral/%s/%s", s->ports[k], s->ports[k]);
		qmp_args_init(&args);
		qmp_args_add_string(&args, "path", path);
		r = pp ? instance_call(s->instance, "qom-list", &args, json_type_array,
				       port_on_bus_list, pp)
		       : -ENOMEM;
		if (pp) {
			pp->search = s;
			pp->index = k;
		}
		if (r < 0) {
			free(pp);
			s->error = r;
			if (--s->pending == 0)
				port_search_finish(s);
			if (k + 1 < s->n)
				s->pending -= s->n - k - 1;
			return;
		}
	}
}

int instance_find_free_port(Instance *i, const char *own, InstancePortFn fn, void *ud)
{
	PortSearch *s = calloc(1, sizeof(*s));
	QmpArgs args;
	int r;

	if (!s)
		return -ENOMEM;
	s->instance = i;
	s->own = own;
	s->fn = fn;
	s->ud = ud;
	qmp_args_init(&args);
	qmp_args_add_string(&args, "path", "/machine/peripheral");
	r = instance_call(i, "qom-list", &args, json_type_array, port_on_peripheral, s);
	if (r < 0)
		free(s);
	return r;
}

/* --- events --- */

static const char *data_string(const QmpValue *data, const char *key)
{
	return data ? qmp_value_get_string(*data, key) : NULL;
}

/*
 * What the guest negotiated is known again only from @reset on: after a
 * RESET it negotiates anew (none yet, for certain); after the monitor was
 * away, events were missed and nothing is known.
 */
static void instance_forget_guest(Instance *i, bool reset)
{
	i->reset_seen = reset;
	i->n_negotiated = 0;
}

int instance_guest_negotiated(const Instance *i, const char *standby)
{
	for (size_t k = 0; k < i->n_negotiated; k++)
		if (strcmp(i->negotiated[k], standby) == 0)
			return 1;
	return i->reset_seen ? 0 : -1;
}

static void on_failover_negotiated(Instance *i, const QmpValue *data, const QmpTimestamp *ts)
{
	const char *id = data_string(data, "device-id");

	if (id && instance_guest_negotiated(i, id) != 1 && i->n_negotiated < INSTANCE_MAX_STANDBYS)
		str_copy(i->negotiated[i->n_negotiated++], sizeof(i->negotiated[0]), id);

	for (Pair *p = i->pairs; id && p; p = p->next)
		if (strcmp(p->standby_id, id) == 0)
			pair_on_failover_negotiated(p, ts);
}

static void on_unplug_primary(Instance *i, const QmpValue *data, const QmpTimestamp *ts)
{
	const char *id = data_string(data, "device-id");

	for (Pair *p = i->pairs; id && p; p = p->next)
		if (strcmp(p->primary_id, id) == 0)
			pair_on_unplug_primary(p, ts);
}

static void on_device_deleted(Instance *i, const QmpValue *data, const QmpTimestamp *ts)
{
	const char *id = data_string(data, "device");

	for (Pair *p = i->pairs; id && p; p = p->next)
		if (strcmp(p->primary_id, id) == 0)
			pair_on_device_deleted(p, ts);
}

static void on_migration(Instance *i, const QmpValue *data, const QmpTimestamp *ts)
{
	const char *status = data_string(data, "status");

	if (!status)
		return;
	snprintf(i->migration_status, sizeof(i->migration_status), "%s", status);
	for (Pair *p = i->pairs; p; p = p->next)
		pair_on_migration(p, status, ts);
	if (strcmp(status, "completed") == 0)
		i->migrating_in = false;
}

static void on_reset(Instance *i, const QmpValue *data, const QmpTimestamp *ts)
{
	instance_forget_guest(i, true);
	for (Pair *p = i->pairs; p; p = p->next)
		pair_on_reset(p);
}

static void on_stop(Instance *i, const QmpValue *data, const QmpTimestamp *ts)
{
	snprintf(i->run_status, sizeof(i->run_status), "paused");
}

static void on_resume(Instance *i, const QmpValue *data, const QmpTimestamp *ts)
{
	snprintf(i->run_status, sizeof(i->run_status), "running");
}

/* Sorted by name: looked up with bsearch. */
static const struct {
	const char *name;
	void (*fn)(Instance *i, const QmpValue *data, const QmpTimestamp *ts);
} event_table[] = {
	{ "DEVICE_DELETED", on_device_deleted },
	{ "FAILOVER_NEGOTIATED", on_failover_negotiated },
	{ "MIGRATION", on_migration },
	{ "RESET", on_reset },
	{ "RESUME", on_resume },
	{ "STOP", on_stop },
	{ "UNPLUG_PRIMARY", on_unplug_primary },
};

static int event_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static void instance_on_event(QmpConn *c, const char *name, const QmpValue *data,
			      const QmpTimestamp *ts, void *ud)
{
	Instance *i = ud;
	const void *e = bsearch(name, event_table, sizeof(event_table) / sizeof(event_table[0]),
				sizeof(event_table[0]), event_cmp);
	uint64_t tx = qmp_conn_get_tx_ns(c); /* a later write was caused by this event */

	/* Not even formatted unless wanted: this is the reaction's hot path. */
	if (i->env->log->max_level >= LOG_DEBUG) {
		char text[512] = "";

		if (data)
			qmp_value_format(*data, text, sizeof(text));
		log_instance_debug(i, "event %s %s", name, text);
	}
	if (i->env->ops->event_begin)
		i->env->ops->event_begin(i->env->userdata, i);
	if (e)
		((const __typeof__(event_table[0]) *)e)->fn(i, data, ts);
	i->env->ops->event(i->env->userdata, i, name, qmp_conn_get_rx_ns(c), tx,
			   qmp_conn_get_tx_start_ns(c), qmp_conn_get_tx_ns(c));
}

/* --- connection set-up: probe, events on, identify, status --- */

/* A set-up step failed: this QEMU is not usable as it answers; try it afresh later. */
static void setup_fail(Instance *i, QmpConn *c, int r, const char *command, const char *cause)
{
	char why[600];

	snprintf(why, sizeof(why), "%s failed: %s", command, cause ? cause : strerror(-r));
	if (r == -EBADMSG)
		log_instance_error(i, "%s", why);
	qmp_conn_disconnect(c, r, why);
}

static void instance_go_ready(Instance *i)
{
	i->ready = true;
	log_instance_event(i, LOG_INFO, MESSAGE_QEMU_READY, "QEMU %d.%d.%d ready (%s%s)",
			   qmp_conn_get_version(i->conn)->major,
			   qmp_conn_get_version(i->conn)->minor,
			   qmp_conn_get_version(i->conn)->micro, i->run_status,
			   i->migrating_in ? ", awaiting incoming migration" : "");
	i->env->ops->ready(i->env->userdata, i);
	for (Pair *p = i->pairs; p && i->ready; p = p->next)
		pair_instance_ready(p);
	i->env->ops->settled(i->env->userdata, i);
}

static void setup_on_migrate(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Instance *i = ud;
	const char *status;

	if (r < 0) {
		if (r != -ECANCELED && r != -ECONNRESET)
			setup_fail(i, c, r, "query-migrate", err ? err->desc : NULL);
		return;
	}
	/* No "status" member at all means no migration ever ran. */
	status = qmp_value_get_string(*ret, "status");
	snprintf(i->migration_status, sizeof(i->migration_status), "%s", status ? status : "");
	instance_go_ready(i);
}

static void setup_on_status(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Instance *i = ud;
	const char *status;

	if (r < 0) {
		if (r != -ECANCELED && r != -ECONNRESET)
			setup_fail(i, c, r, "query-status", err ? err->desc : NULL);
		return;
	}
	status = qmp_value_get_string(*ret, "status");
	snprintf(i->run_status, sizeof(i->run_status), "%s", status ? status : "unknown");
	i->migrating_in = strcmp(i->run_status, "inmigrate") == 0;
	r = instance_call(i, "query-migrate", NULL, json_type_object, setup_on_migrate, i);
	if (r < 0)
		log_instance_warning(i, "query-migrate: %s", strerror(-r));
}

static void setup_on_name(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Instance *i = ud;
	const char *name;

	if (r < 0) {
		if (r != -ECANCELED && r != -ECONNRESET)
			setup_fail(i, c, r, "query-name", err ? err->desc : NULL);
		return;
	}
	name = qmp_value_get_string(*ret, "name");
	/* May hand the connection over to a configured instance of that name. */
	i = i->env->ops->identified(i->env->userdata, i, name);
	if (!i || i->waiting_for_exit)
		return;
	r = instance_call(i, "query-status", NULL, json_type_object, setup_on_status, i);
	if (r < 0)
		log_instance_warning(i, "query-status: %s", strerror(-r));
}

static void setup_identify(Instance *i)
{
	int r = instance_call(i, "query-name", NULL, json_type_object, setup_on_name, i);

	if (r < 0)
		log_instance_warning(i, "query-name: %s", strerror(-r));
}

static void setup_on_events_cap(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				void *ud)
{
	Instance *i = ud;

	if (r == -ECANCELED || r == -ECONNRESET)
		return;
	if (r == -EBADMSG) {
		setup_fail(i, c, r, "migrate-set-capabilities", err->desc);
		return;
	}
	/*
	 * QEMU refuses capability changes while a migration runs (e.g. we
	 * restarted mid-migration on a QEMU that had them off): go on and
	 * reconcile from query-migrate, but say that events will be missed.
	 */
	if (r < 0)
		log_instance_error(
			i,
			"cannot enable migration events (%s): this migration is followed "
			"only through query-migrate on reconnection",
			err->desc);
	setup_identify(i);
}

static void setup_on_caps(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Instance *i = ud;
	QmpArgs args;
	QmpIter it;
	size_t k = 0;

	if (r == -ECANCELED || r == -ECONNRESET)
		return;
	if (r == -EBADMSG) {
		setup_fail(i, c, r, "query-migrate-capabilities", err->desc);
		return;
	}
	/* Already on (set by us before a restart, or by the orchestrator)? */
	for (bool more = r == 0 && qmp_iter_init(&it, *ret); more; more = qmp_iter_next(&it), k++) {
		const char *name = qmp_value_get_string(it.v, "capability");
		bool state;

		if (!name || qmp_value_get_bool(it.v, "state", &state) < 0) {
			char why[128];

			snprintf(why, sizeof(why),
				 "entry %zu lacks a string 'capability' or a boolean 'state'", k);
			setup_fail(i, c, -EBADMSG, "query-migrate-capabilities", why);
			return;
		}
		if (strcmp(name, "events") == 0 && state) {
			setup_identify(i);
			return;
		}
	}
	qmp_args_init(&args);
	qmp_args_add_json(&args, "capabilities", "[{\"capability\":\"events\",\"state\":true}]");
	r = instance_call(i, "migrate-set-capabilities", &args, json_type_object,
			  setup_on_events_cap, i);
	if (r < 0)
		log_instance_warning(i, "%s", strerror(-r));
}

static void setup_on_probe(QmpConn *c, int r, const QmpProbe *probe, const char *reason, void *ud)
{
	Instance *i = ud;

	if (r == -ECANCELED || r == -ECONNRESET)
		return;
	if (r < 0) {
		log_instance_error(i, "refusing QEMU: %s", reason);
		for (Pair *p = i->pairs; p; p = p->next)
			pair_instance_refused(p, reason);
		return;
	}
	r = instance_call(i, "query-migrate-capabilities", NULL, json_type_array, setup_on_caps, i);
	if (r < 0)
		log_instance_warning(i, "%s", strerror(-r));
}

/*
 * @i now talks to the QEMU process (@pid, @start). same_qemu: it is the very
 * process the state files name, so what we did to it (a restart of ours) still
 * holds; a start time of 0 is unknown and never "the same".
 */
static bool instance_watch_exit(Instance *i, pid_t pid);

static void instance_unwatch_exit(Instance *i);

static void instance_set_qemu(Instance *i, pid_t pid, uint64_t start)
{
	/*
	 * Its monitor now tells when it goes (the connection closes): a pidfd
	 * is only needed while the monitor is away, so a host of 10,000 QEMUs
	 * costs one descriptor each (docs/performance.md, "File descriptors").
	 */
	i->same_qemu = pid > 0 && pid == i->pid && start && start == i->pid_start;
	if (i->same_qemu && pid == i->watched_pid)
		instance_unwatch_exit(i);
	i->pid = pid;
	i->pid_start = start;
}

/* What the probe checks: the primary driver the first pair with a known pool will use. */
static const char *instance_primary_driver(Instance *i)
{
	for (Pair *p = i->pairs; p; p = p->next) {
		const char *d = i->env->ops->pool_driver(i->env->userdata, p->config.pool);

		if (d)
			return d;
	}
	return "vfio-pci";
}

static void instance_setup(Instance *i)
{
	int r = probe_cache_probe(i->env->probes, i->conn, instance_primary_driver(i),
				  setup_on_probe, i);

	if (r < 0)
		log_instance_warning(i, "cannot probe: %s", strerror(-r));
}

static bool instance_holds_vfs(Instance *i)
{
	for (Pair *p = i->pairs; p; p = p->next)
		if (p->has_vf && pair_qemu_may_hold(p))
			return true;
	return false;
}

/*
 * @i's monitor now leads to QEMU process (@pid, @start). Another process
 * under this name while the previous one lives and may hold our primaries
 * must wait: those VFs are not ours to reuse until the old one exits.
 */
static bool instance_use_qemu(Instance *i, pid_t pid, uint64_t start)
{
	pid_t old = i->pid;

	if (old > 0 && pid != old && instance_holds_vfs(i) &&
	    process_is_same_qemu(old, i->pid_start) && instance_watch_exit(i, old)) {
		log_instance_warning(
			i,
			"a new QEMU (pid %d) connected while the previous one (pid %d) "
			"still runs and may hold its VFs; waiting for pid %d to exit",
			(int)pid, (int)old, (int)old);
		i->waiting_for_exit = true;
		return false;
	}
	instance_set_qemu(i, pid, start);
	return true;
}

static void instance_on_ready(QmpConn *c, void *ud)
{
	Instance *i = ud;
	pid_t pid = qmp_conn_get_peer_pid(c);
	uint64_t start = 0;

	(void)process_get_start(pid, &start); /* stays 0 when unknown */
	instance_forget_guest(i, false);
	if (instance_use_qemu(i, pid, start))
		instance_setup(i);
}

static void instance_unwatch_exit(Instance *i)
{
	if (i->ev_exit) {
		event_free(i->ev_exit);
		i->ev_exit = NULL;
	}
	if (i->pidfd >= 0) {
		close(i->pidfd);
		i->pidfd = -1;
	}
	i->watched_pid = 0;
}

static void instance_lost(Instance *i, const char *why)
{
	instance_unwatch_exit(i);
	for (Pair *p = i->pairs; p; p = p->next)
		pair_instance_lost(p, why);
	i->env->ops->lost(i->env->userdata, i);
}

static void instance_on_exit(evutil_socket_t fd, short what, void *ud)
{
	Instance *i = ud;
	pid_t pid = i->watched_pid;

	log_instance_event(i, LOG_INFO, MESSAGE_QEMU_GONE, "QEMU (pid %d) exited", (int)pid);
	instance_unwatch_exit(i);
	if (i->waiting_for_exit) {
		/* A new QEMU was kept waiting for this one: the old one's VFs go now. */
		i->waiting_for_exit = false;
		i->pid = 0;
		for (Pair *p = i->pairs; p; p = p->next)
			pair_instance_lost(p, "the previous QEMU exited");
		if (i->conn && qmp_conn_get_state(i->conn) == QMP_CONN_READY) {
			uint64_t start = 0;

			pid = qmp_conn_get_peer_pid(i->conn);
			(void)process_get_start(pid, &start);
			instance_set_qemu(i, pid, start);
			instance_setup(i);
		}
		return;
	}
	i->pid = 0;
	instance_lost(i, "QEMU exited");
}

/*
 * Wait for @pid's exit on a pidfd (no polling): a VF may only go back once
 * QEMU has really let go of it. One watch per instance, for one process:
 * a monitor that comes and goes does not add watches. Returns false when
 * the process is gone already (or cannot be watched, which is logged).
 */
static bool instance_watch_exit(Instance *i, pid_t pid)
{
	int fd;

	if (i->ev_exit && i->watched_pid == pid)
		return true;
	instance_unwatch_exit(i);
	if (pid <= 0)
		return false;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		if (errno != ESRCH)
			log_instance_error(i, "cannot watch QEMU (pid %d) for its exit: %s",
					   (int)pid, strerror(errno));
		return false;
	}
	/* Checked once the pidfd pins the pid: a stranger under a recycled pid is not it. */
	if (pid == i->pid && i->pid_start) {
		uint64_t start = 0;

		if (process_get_start(pid, &start) < 0 || start != i->pid_start) {
			close(fd);
			return false;
		}
	}
	i->ev_exit = event_new(i->env->base, fd, EV_READ, instance_on_exit, i);
	if (!i->ev_exit) {
		close(fd);
		return false;
	}
	i->pidfd = fd;
	i->watched_pid = pid;
	event_add(i->ev_exit, NULL);
	return true;
}

void instance_set_settings(Instance *i, bool prepare_incoming, unsigned unplug_timeout_ms,
			   unsigned negotiate_timeout_ms)
{
	i->prepare_incoming = prepare_incoming;
	if (unplug_timeout_ms)
		i->unplug_timeout_ms = unplug_timeout_ms;
	if (negotiate_timeout_ms)
		i->negotiate_timeout_ms = negotiate_timeout_ms;
}

void instance_set_configured(Instance *i, const char *qmp_path)
{
	i->configured = true;
	if (qmp_path)
		snprintf(i->qmp_path, sizeof(i->qmp_path), "%s", qmp_path);
}

void instance_set_name(Instance *i, const char *name)
{
	snprintf(i->name, sizeof(i->name), "%s", name);
}

void instance_set_prepare_incoming(Instance *i)
{
	i->prepare_incoming = true;
}

void instance_set_settling(Instance *i, bool settling)
{
	i->settling = settling;
}

void instance_restore_qemu(Instance *i, pid_t pid, uint64_t start)
{
	if (pid <= 0)
		return;
	i->pid = pid;
	i->pid_start = start;
}

void instance_follow_recorded_qemu(Instance *i)
{
	/*
	 * It may die before we ever reach its monitor: its VFs must go back then
	 * too. A monitor that is connected (or connecting) says so itself by
	 * closing; one that is not yet reachable does not.
	 */
	if (i->conn && qmp_conn_get_state(i->conn) != QMP_CONN_DISCONNECTED)
		return;
	if (i->pid > 0 && instance_holds_vfs(i))
		instance_watch_exit(i, i->pid);
}

static void instance_on_disconnected(QmpConn *c, int err, const char *reason, void *ud)
{
	Instance *i = ud;

	i->ready = false;
	i->env->ops->settled(i->env->userdata, i);
	probe_cache_cancel(i->env->probes, i);
	log_instance_event(i, LOG_INFO, MESSAGE_QEMU_GONE, "monitor connection closed: %s", reason);
	if (i->waiting_for_exit)
		return; /* the newcomer left first: the old QEMU's exit is still awaited */
	if (instance_watch_exit(i, i->pid))
		return;
	instance_lost(i, "QEMU exited");
}

static const QmpConnOps instance_ops = {
	.ready = instance_on_ready,
	.disconnected = instance_on_disconnected,
	.event = instance_on_event,
};

/* QEMU greets at once; a socket that stays silent is not a QEMU monitor. */
#define INSTANCE_GREETING_TIMEOUT_MS 10000u

static int instance_conn_init(Instance *i, int r)
{
	/* CommandTimeoutSec=: a QEMU that stops answering fails the call, not the daemon. */
	if (r == 0)
		qmp_conn_set_timeouts(i->conn, INSTANCE_GREETING_TIMEOUT_MS,
				      i->env->command_timeout_ms);
	return r;
}

int instance_connect(Instance *i, const char *path)
{
	if (path != i->qmp_path)
		snprintf(i->qmp_path, sizeof(i->qmp_path), "%s", path);
	return instance_conn_init(
		i, qmp_conn_new_connect(&i->conn, i->env->base, path, true, &instance_ops, i));
}

int instance_adopt(Instance *i, int fd)
{
	return instance_conn_init(i, qmp_conn_new_fd(&i->conn, i->env->base, fd, &instance_ops, i));
}

bool instance_take_conn(Instance *to, Instance *from)
{
	qmp_conn_free(to->conn); /* a dropped connection of the same name */
	to->conn = from->conn;
	from->conn = NULL;
	/* What the connection saw of the guest goes with it. */
	to->reset_seen = from->reset_seen;
	to->n_negotiated = from->n_negotiated;
	memcpy(to->negotiated, from->negotiated, sizeof(to->negotiated));
	qmp_conn_set_userdata(to->conn, to);
	return instance_use_qemu(to, from->pid, from->pid_start); /* against @to's state files */
}

int instance_new(Instance **out, const InstanceEnv *env, const char *name)
{
	Instance *i = calloc(1, sizeof(*i));

	if (!i)
		return -ENOMEM;
	i->env = env;
	i->pidfd = -1;
	i->prepare_incoming = true;
	i->unplug_timeout_ms = CONF_DEFAULT_UNPLUG_TIMEOUT_MS;
	i->negotiate_timeout_ms = CONF_DEFAULT_NEGOTIATE_TIMEOUT_MS;
	snprintf(i->name, sizeof(i->name), "%s", name);
	*out = i;
	return 0;
}

void instance_link(Instance **head, Instance *i)
{
	i->next = *head;
	if (*head)
		(*head)->prev = i;
	*head = i;
}

void instance_unlink(Instance **head, Instance *i)
{
	if (i->prev)
		i->prev->next = i->next;
	else if (*head == i)
		*head = i->next;
	if (i->next)
		i->next->prev = i->prev;
	i->prev = i->next = NULL;
}

Instance *instance_free(Instance *i)
{
	if (!i)
		return NULL;
	probe_cache_cancel(i->env->probes, i);
	/* Connection first: pending calls see -ECANCELED while pairs still exist. */
	i->conn = qmp_conn_free(i->conn);
	while (i->pairs) {
		Pair *p = i->pairs;

		i->pairs = p->next;
		pair_free(p);
	}
	if (i->ev_exit)
		event_free(i->ev_exit);
	if (i->pidfd >= 0)
		close(i->pidfd);
	free(i);
	return NULL;
}
