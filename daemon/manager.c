/* Manager: owns the loop, signals, instances, pools and persisted state. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/manager.h"
#include "daemon/statefile.h"
#include "qmp/qmp.h"

struct Manager {
	struct event_base *base;
	Log log;
	struct event *sig_term, *sig_int;
	QmpListener *listener;
	Instance *instances;
	char state_dir[256];
	char config_root[256];
	ManagerPairFn pair_hook;
	void *pair_hook_ud;
	unsigned n_transient;
};

/* --- instances --- */

static void manager_link_instance(Manager *m, Instance *i)
{
	i->next = m->instances;
	if (m->instances)
		m->instances->prev = i;
	m->instances = i;
}

static void manager_unlink_instance(Manager *m, Instance *i)
{
	if (i->prev)
		i->prev->next = i->next;
	else
		m->instances = i->next;
	if (i->next)
		i->next->prev = i->prev;
	i->prev = i->next = NULL;
}

Instance *manager_find_instance(Manager *m, const char *name)
{
	for (Instance *i = m->instances; i; i = i->next)
		if (strcmp(i->name, name) == 0)
			return i;
	return NULL;
}

Instance *manager_get_instances(Manager *m)
{
	return m->instances;
}

void manager_instance_ready(Manager *m, Instance *i)
{
}

void manager_instance_lost(Manager *m, Instance *i)
{
	/* Configured instances wait for QEMU to come back; others go away. */
	if (i->configured)
		return;
	manager_unlink_instance(m, i);
	instance_free(i);
}

Instance *manager_instance_identified(Manager *m, Instance *i, const char *name)
{
	Instance *known;

	if (!name || !name[0] || i->configured)
		return i;
	known = manager_find_instance(m, name);
	if (known && known != i) {
		if (known->conn) {
			log_warning(&m->log,
				    "a second QEMU named %s connected while the first is still "
				    "attached; ignoring it",
				    name);
			manager_unlink_instance(m, i);
			instance_free(i);
			return NULL;
		}
		instance_take_conn(known, i);
		manager_unlink_instance(m, i);
		instance_free(i);
		log_info(&m->log, "instance %s: QEMU connected to the listening socket", name);
		return known;
	}
	snprintf(i->name, sizeof(i->name), "%s", name);
	return i;
}

const char *manager_primary_driver(Manager *m, Instance *i)
{
	/* Probe for the primary driver the first pair will use. */
	for (Pair *p = i->pairs; p; p = p->next) {
		const char *d = manager_pool_driver(m, p->config.pool);

		if (d)
			return d;
	}
	return "vfio-pci";
}

static void manager_on_accept(QmpListener *l, int fd, void *userdata)
{
	Manager *m = userdata;
	Instance *i;
	char name[64];
	int r;

	snprintf(name, sizeof(name), "unidentified-%u", ++m->n_transient);
	r = instance_new(&i, m, name);
	if (r < 0) {
		close(fd);
		return;
	}
	r = instance_adopt(i, fd);
	if (r < 0) {
		log_warning(&m->log, "cannot adopt QEMU connection: %s", strerror(-r));
		instance_free(i);
		return;
	}
	manager_link_instance(m, i);
}

/* --- pools --- */

const char *manager_pool_driver(Manager *m, const char *pool)
{
	return NULL;
}

int manager_acquire_vf(Manager *m, Pair *p, char *err, size_t size)
{
	snprintf(err, size, "pool %s is not configured", p->config.pool);
	return -ENOENT;
}

int manager_release_vf(Manager *m, Pair *p, char *err, size_t size)
{
	snprintf(err, size, "pool %s is not configured", p->config.pool);
	return -ENOENT;
}

/* --- pairs: logging, hook, persistence --- */

void manager_set_pair_hook(Manager *m, ManagerPairFn fn, void *ud)
{
	m->pair_hook = fn;
	m->pair_hook_ud = ud;
}

void manager_pair_changed(Manager *m, Pair *p, PairState from)
{
	char f_inst[160], f_pair[100], f_vf[100], f_from[40], f_to[40], f_reason[300];
	const char *fields[] = { f_inst, f_pair, f_vf, f_from, f_to, f_reason, NULL };
	int level = p->state == PAIR_FAILED ? LOG_WARNING : LOG_INFO;

	snprintf(f_inst, sizeof(f_inst), "FAILOVERD_INSTANCE=%s", p->instance->name);
	snprintf(f_pair, sizeof(f_pair), "FAILOVERD_PAIR=%s", p->config.name);
	snprintf(f_vf, sizeof(f_vf), "FAILOVERD_VF=%s", p->has_vf ? p->vf.id : "-");
	snprintf(f_from, sizeof(f_from), "FAILOVERD_FROM=%s", pair_state_to_string(from));
	snprintf(f_to, sizeof(f_to), "FAILOVERD_TO=%s", pair_state_to_string(p->state));
	snprintf(f_reason, sizeof(f_reason), "FAILOVERD_REASON=%s", p->reason);
	if (!p->reason[0])
		fields[5] = NULL;
	log_full(&m->log, level, fields, "pair %s/%s: %s -> %s", p->instance->name, p->config.name,
		 pair_state_to_string(from), pair_state_to_string(p->state));
	manager_save_pair(m, p);
	if (m->pair_hook)
		m->pair_hook(m, p, from, m->pair_hook_ud);
}

void manager_event_seen(Manager *m, Instance *i, const char *event)
{
}

static int pair_state_path(Manager *m, Pair *p, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/pairs/%s@%s", m->state_dir, p->instance->name,
			 p->config.name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void manager_save_pair(Manager *m, Pair *p)
{
	char path[512], bools[4][2];
	StateEntry e[] = {
		{ "state", pair_state_to_string(p->state) },
		{ "reason", p->reason },
		{ "vf", p->has_vf ? p->vf.id : "" },
		{ "vf_driver", p->has_vf ? p->vf.driver : "" },
		{ "vf_emulated", bools[0] },
		{ "primary_added", bools[1] },
		{ "primary_bus", p->primary_bus },
		{ "standby_bus", p->standby_bus },
		{ "guest_negotiated", bools[2] },
		{ "pool", p->config.pool },
		{ "mac", p->mac_str },
	};
	int r;

	if (!p->instance->configured)
		return;
	snprintf(bools[0], 2, "%d", p->vf.emulated);
	snprintf(bools[1], 2, "%d", p->primary_added);
	snprintf(bools[2], 2, "%d", p->guest_negotiated);
	r = pair_state_path(m, p, path, sizeof(path));
	if (r >= 0)
		r = statefile_write(path, e, sizeof(e) / sizeof(e[0]));
	if (r < 0)
		log_error(&m->log, "pair %s/%s: cannot persist state to %s: %s", p->instance->name,
			  p->config.name, path, strerror(-r));
}

/* --- loop --- */

static void manager_on_signal(evutil_socket_t sig, short what, void *userdata)
{
	Manager *m = userdata;

	log_info(&m->log, "received %s, shutting down", strsignal((int)sig));
	event_base_loopbreak(m->base);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int manager_new(Manager **out, const ManagerOptions *opts)
{
	Manager *m = calloc(1, sizeof(*m));
	char path[512];
	int r;

	if (!m)
		return -ENOMEM;
	log_init(&m->log, opts->log_level);
	snprintf(m->state_dir, sizeof(m->state_dir), "%s",
		 opts->state_dir ? opts->state_dir : "/var/lib/failoverd");
	snprintf(m->config_root, sizeof(m->config_root), "%s",
		 opts->config_root ? opts->config_root : "");
	m->base = event_base_new();
	if (!m->base) {
		free(m);
		return -ENOMEM;
	}
	m->sig_term = evsignal_new(m->base, SIGTERM, manager_on_signal, m);
	m->sig_int = evsignal_new(m->base, SIGINT, manager_on_signal, m);
	if (!m->sig_term || !m->sig_int) {
		manager_free(m);
		return -ENOMEM;
	}
	evsignal_add(m->sig_term, NULL);
	evsignal_add(m->sig_int, NULL);
	signal(SIGPIPE, SIG_IGN);

	snprintf(path, sizeof(path), "%s/pairs", m->state_dir);
	r = mkdir_p(path, 0700);
	if (r < 0) {
		log_error(&m->log, "cannot create state directory %s: %s", path, strerror(-r));
		manager_free(m);
		return r;
	}

	if (opts->listen_qmp) {
		r = qmp_listener_new(&m->listener, m->base, opts->listen_qmp, 0600,
				     manager_on_accept, m);
		if (r < 0) {
			log_error(&m->log, "cannot listen on %s: %s", opts->listen_qmp,
				  strerror(-r));
			manager_free(m);
			return r;
		}
		log_info(&m->log, "listening for QEMU monitors on %s", opts->listen_qmp);
	}
	log_info(&m->log, "failoverd started (state in %s)", m->state_dir);
	*out = m;
	return 0;
}

Manager *manager_free(Manager *m)
{
	if (!m)
		return NULL;
	while (m->instances) {
		Instance *i = m->instances;

		manager_unlink_instance(m, i);
		instance_free(i);
	}
	qmp_listener_free(m->listener);
	if (m->sig_term)
		event_free(m->sig_term);
	if (m->sig_int)
		event_free(m->sig_int);
	event_base_free(m->base);
	free(m);
	return NULL;
}

int manager_run(Manager *m)
{
	if (event_base_dispatch(m->base) < 0)
		return -EIO;
	return 0;
}

struct event_base *manager_get_event_base(Manager *m)
{
	return m->base;
}

const Log *manager_get_log(const Manager *m)
{
	return &m->log;
}
