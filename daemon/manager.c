/* Manager: owns the loop, signals, instances, pools and persisted state. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/manager.h"
#include "daemon/messages.h"
#include "daemon/metrics.h"
#include "daemon/namemap.h"
#include "daemon/pairfile.h"
#include "daemon/pools.h"
#include "daemon/probecache.h"
#include "daemon/process.h"
#include "daemon/statefile.h"
#include "daemon/steer.h"
#include "qmp/qmp.h"

struct Manager {
	Pools *pools;
	Steer *steer; /* the data path's records (daemon/steer.h) */
	struct event_base *base;
	Log log;
	struct event *sig_term, *sig_int;
	QmpListener *listener;
	Instance *instances;
	NameMap *by_name; /* the instances by name; NULL: walk the list */
	char state_dir[256];
	ManagerPairFn pair_hook;
	void *pair_hook_ud;
	ManagerInstanceFn instance_hook;
	void *instance_hook_ud;
	ManagerStartedFn started_hook;
	void *started_hook_ud;
	unsigned n_settling; /* instances start-up still waits for */
	bool started;
	unsigned n_transient;
	Metrics metrics;
	ProbeCache *probes;	/* capability probes per QEMU build */
	struct event *sig_usr1; /* dumps the metrics to metrics_file */
	char metrics_file[256];
	char stop_at[64];
	int lock_fd; /* flock()ed: one daemon per state directory */
	unsigned command_timeout_ms;
	InstanceEnv env; /* what every instance shares; its ops are below */
	/* Saves an event asked for, written once its reaction is sent (manager_save_pair()). */
	bool in_event;
	size_t n_deferred;
	Pair *deferred[8];
	/* Pair hook calls an event caused, made once its reaction is sent (manager_notify()). */
	size_t n_notes;
	struct {
		Pair *pair;
		PairState from, to;
		char reason[sizeof(((Pair *)0)->reason)];
	} notes[8];
};

static void manager_flush_saves(Manager *m);

/* --- instances --- */

Instance *manager_find_instance(Manager *m, const char *name)
{
	if (m->by_name)
		return name_map_get(m->by_name, name);
	for (Instance *i = m->instances; i; i = i->next)
		if (strcmp(i->name, name) == 0)
			return i;
	return NULL;
}

/* An index that could not take a name is dropped: lookups walk the list again. */
static void manager_index_instance(Manager *m, Instance *i)
{
	if (m->by_name && name_map_put(m->by_name, i->name, i) < 0)
		m->by_name = name_map_free(m->by_name);
}

static void manager_link_instance(Manager *m, Instance *i)
{
	instance_link(&m->instances, i);
	manager_index_instance(m, i);
}

static void manager_unindex_instance(Manager *m, Instance *i)
{
	if (m->by_name)
		name_map_remove(m->by_name, i->name, i);
}

static void manager_unlink_instance(Manager *m, Instance *i)
{
	manager_unindex_instance(m, i);
	instance_unlink(&m->instances, i);
}

Instance *manager_get_instances(Manager *m)
{
	return m->instances;
}

void manager_set_instance_hook(Manager *m, ManagerInstanceFn fn, void *ud)
{
	m->instance_hook = fn;
	m->instance_hook_ud = ud;
}

static void manager_instance_changed(Manager *m, Instance *i)
{
	if (m->instance_hook)
		m->instance_hook(m, i, m->instance_hook_ud);
}

void manager_set_started_hook(Manager *m, ManagerStartedFn fn, void *ud)
{
	m->started_hook = fn;
	m->started_hook_ud = ud;
}

static void manager_check_started(Manager *m)
{
	if (m->started || m->n_settling > 0)
		return;
	m->started = true;
	log_full(&m->log, LOG_INFO, (const char *const[]){ MESSAGE_STARTED, NULL },
		 "start-up complete: every running QEMU reconciled");
	if (m->started_hook)
		m->started_hook(m, m->started_hook_ud);
}

static void manager_on_instance_settled(void *ud, Instance *i)
{
	Manager *m = ud;

	if (!i->settling)
		return;
	instance_set_settling(i, false);
	m->n_settling--;
	manager_check_started(m);
}

static void manager_on_instance_ready(void *ud, Instance *i)
{
	Manager *m = ud;

	manager_instance_changed(m, i);
	metrics_instance_ready(&m->metrics);
}

static void manager_on_instance_lost(void *ud, Instance *i)
{
	Manager *m = ud;

	manager_instance_changed(m, i);
	/* Configured instances wait for QEMU to come back; others go away. */
	if (i->configured)
		return;
	manager_unlink_instance(m, i);
	manager_flush_saves(m); /* before its pairs go */
	instance_free(i);
}

static Instance *manager_on_instance_identified(void *ud, Instance *i, const char *name)
{
	Manager *m = ud;
	Instance *known;

	if (!name || !name[0] || i->configured)
		return i;
	known = manager_find_instance(m, name);
	if (known && known != i) {
		/*
		 * A live monitor of its own, or one it dials itself: this is a
		 * second QEMU claiming the name. A dropped accepted connection
		 * is replaced (the same QEMU reconnecting, or its successor:
		 * the instance tells them apart by pid).
		 */
		if (known->qmp_path[0] ||
		    (known->conn && qmp_conn_get_state(known->conn) != QMP_CONN_DISCONNECTED)) {
			log_warning(&m->log,
				    "a second QEMU named %s connected while the first is still "
				    "attached; ignoring it",
				    name);
			manager_unlink_instance(m, i);
			manager_flush_saves(m); /* before its pairs go */
			instance_free(i);
			return NULL;
		}
		instance_take_conn(known, i);
		manager_unlink_instance(m, i);
		manager_flush_saves(m); /* before its pairs go */
		instance_free(i);
		log_info(&m->log, "instance %s: QEMU connected to the listening socket", name);
		return known;
	}
	manager_unindex_instance(m, i);
	instance_set_name(i, name);
	manager_index_instance(m, i);
	return i;
}

static void manager_on_accept(QmpListener *l, int fd, void *userdata)
{
	Manager *m = userdata;
	Instance *i;
	char name[64];
	int r;

	snprintf(name, sizeof(name), "unidentified-%u", ++m->n_transient);
	r = instance_new(&i, &m->env, name);
	if (r < 0) {
		close(fd);
		return;
	}
	r = instance_adopt(i, fd);
	if (r < 0) {
		log_warning(&m->log, "cannot adopt QEMU connection: %s", strerror(-r));
		manager_flush_saves(m); /* before its pairs go */
		instance_free(i);
		return;
	}
	manager_link_instance(m, i);
}

/* --- pools (daemon/pools.c) --- */

static bool manager_owner_alive(const char *owner, void *ud)
{
	Manager *m = ud;
	char inst[128];
	const char *slash = strchr(owner, '/');
	Instance *i;

	if (!slash || (size_t)(slash - owner) >= sizeof(inst))
		return false;
	memcpy(inst, owner, (size_t)(slash - owner));
	inst[slash - owner] = 0;
	i = manager_find_instance(m, inst);
	/* Owned by a configured pair: the pair's own state decides later. */
	return i && instance_find_pair(i, slash + 1);
}

static void owner_of(const Pair *p, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", p->instance->name, p->config.name);
}

static Pair *manager_find_owner(Manager *m, const char *owner)
{
	for (Instance *i = m->instances; i; i = i->next)
		for (Pair *p = i->pairs; p; p = p->next) {
			char o[200];

			owner_of(p, o, sizeof(o));
			if (strcmp(o, owner) == 0)
				return p;
		}
	return NULL;
}

static void manager_on_vf_gone(const char *owner, const char *reason, void *ud)
{
	Pair *p = manager_find_owner(ud, owner);

	if (p)
		pair_vf_gone(p, reason);
}

static void manager_vf_checkpoint(const char *point, void *ud)
{
	manager_checkpoint(ud, point);
}

static const PoolsOps pools_ops = {
	.owner_alive = manager_owner_alive,
	.vf_gone = manager_on_vf_gone,
	.checkpoint = manager_vf_checkpoint,
};

int manager_add_pool(Manager *m, const SriovPoolConfig *config, const NlVfConfig *settings)
{
	return pools_add(m->pools, config, settings);
}

static void manager_write_pair(Manager *m, Pair *p);

static void manager_flush_notes(Manager *m);

/* Writes what manager_save_pair() deferred during an event, in order. */
static void manager_flush_saves(Manager *m)
{
	size_t n = m->n_deferred;

	m->n_deferred = 0;
	for (size_t k = 0; k < n; k++)
		manager_write_pair(m, m->deferred[k]);
	manager_flush_notes(m); /* the pairs may go next */
}

static void manager_forget_save(Manager *m, Pair *p)
{
	size_t o = 0;

	for (size_t k = 0; k < m->n_deferred; k++)
		if (m->deferred[k] != p)
			m->deferred[o++] = m->deferred[k];
	m->n_deferred = o;
}

void manager_checkpoint(Manager *m, const char *point)
{
	if (!m->stop_at[0] || strcmp(m->stop_at, point) != 0)
		return;
	manager_flush_saves(m); /* a checkpoint is a durable step */
	/* Everything up to here is in the log (and on the bus) when the test looks. */
	log_release(&m->log);
	log_notice(&m->log, "checkpoint %s reached: stopping (--debug-stop-at)", point);
	if (m->in_event)
		log_hold(&m->log);
	raise(SIGSTOP);
}

bool manager_pool_in_use(Manager *m, const char *pool)
{
	for (Instance *i = m->instances; i; i = i->next)
		for (Pair *p = i->pairs; p; p = p->next)
			if (p->has_vf && strcmp(p->config.pool, pool) == 0)
				return true;
	return false;
}

int manager_remove_pool(Manager *m, const char *name)
{
	if (!pools_has(m->pools, name))
		return -ENOENT;
	if (manager_pool_in_use(m, name))
		return -EBUSY;
	return pools_remove(m->pools, name);
}

const char *manager_pool_driver(Manager *m, const char *pool)
{
	return pools_get_driver(m->pools, pool);
}

static int manager_on_acquire_vf(void *ud, const Pair *p, PairVf *vf, char *err, size_t size)
{
	Manager *m = ud;
	char owner[200], why[320];
	int r;

	owner_of(p, owner, sizeof(owner));
	r = pools_acquire(m->pools, p->config.pool, owner, p->config.mac, vf, err, size);
	if (r < 0 || !vf->emulated || !p->config.primary_tap[0])
		return r;
	/* The stand-in's "VF MAC" (docs/traffic.md): what a PF does for a VF, on its switch port.
	 */
	r = steer_port_set(m->steer, p->config.primary_tap, p->config.mac, true, why, sizeof(why));
	if (r < 0) {
		snprintf(err, size, "PrimaryTap %s: %s", p->config.primary_tap, why);
		pools_release(m->pools, p->config.pool, vf->id, why, sizeof(why));
	}
	return r;
}

static int manager_on_release_vf(void *ud, const Pair *p, char *err, size_t size)
{
	Manager *m = ud;
	int r;

	if (p->vf.emulated && p->config.primary_tap[0]) {
		r = steer_port_set(m->steer, p->config.primary_tap, p->config.mac, false, err,
				   size);
		if (r < 0)
			return r;
	}
	return pools_release(m->pools, p->config.pool, p->vf.id, err, size);
}

/* docs/traffic.md: a pair's steering as its state asks, built from its configuration and VF. */
static int manager_on_steer(void *ud, const Pair *p, PairSteer to, bool restore_mac, char *err,
			    size_t size)
{
	Manager *m = ud;
	SteerPlan plan = { 0 };
	char owner[200], pf[16] = "";
	unsigned index = 0;
	bool have_pf;
	int r;

	owner_of(p, owner, sizeof(owner));
	if (to == PAIR_STEER_NONE)
		return steer_undo(m->steer, owner, restore_mac, err, size);
	have_pf =
		pools_vf_location(m->pools, p->config.pool, p->vf.id, pf, sizeof(pf), &index) == 0;
	memcpy(plan.mac, p->config.mac, 6);
	snprintf(plan.tap, sizeof(plan.tap), "%s", p->standby_tap); /* StandbyTap=, or found */
	/* The uplink defaults to the VF's own PF: its switch then hands the MAC to the host. */
	snprintf(plan.uplink, sizeof(plan.uplink), "%s",
		 p->config.uplink[0] ? p->config.uplink : pf);
	if (to == PAIR_STEER_SOURCE && have_pf) {
		snprintf(plan.pf, sizeof(plan.pf), "%s", pf);
		plan.vf_index = index;
	} else if (to == PAIR_STEER_SOURCE && p->vf.emulated) {
		snprintf(plan.vf_port, sizeof(plan.vf_port), "%s", p->config.primary_tap);
	}
	r = steer_apply(m->steer, owner, &plan, err, size);
	if (r == 0)
		log_pair_info(p, "traffic handling: frames for %s steered to %s%s%s%s", p->mac_str,
			      plan.tap, plan.uplink[0] ? " (self entry on " : "", plan.uplink,
			      plan.uplink[0] ? (plan.pf[0] ? "; VF MAC zeroed)" : ")")
					     : (plan.pf[0] ? " (VF MAC zeroed)" : ""));
	return r;
}

static void manager_steer_checkpoint(const char *point, void *ud)
{
	manager_checkpoint(ud, point);
}

static void manager_steer_report(const char *owner, int r, const char *err, void *ud)
{
	Manager *m = ud;

	if (r < 0)
		log_error(&m->log, "traffic handling of %s, left by a previous run: %s", owner,
			  err);
	else
		log_notice(&m->log, "traffic handling of %s, left by a previous run, undone",
			   owner);
}

/* --- pairs: logging, hook, persistence --- */

/* Makes the pair hook calls an event deferred, in order. */
static void manager_flush_notes(Manager *m)
{
	size_t n = m->n_notes;

	m->n_notes = 0;
	for (size_t k = 0; k < n && m->pair_hook; k++)
		m->pair_hook(m, m->notes[k].pair, m->notes[k].from, m->notes[k].to,
			     m->notes[k].reason, m->pair_hook_ud);
}

/*
 * The D-Bus signals of a change: during an event, after its reaction, as
 * with saves and log lines (a signal is a message to dbus-daemon, whose
 * wakeup would otherwise come before the command to QEMU).
 */
static void manager_notify(Manager *m, Pair *p, PairState from)
{
	if (!m->pair_hook)
		return;
	if (m->in_event && m->n_notes < sizeof(m->notes) / sizeof(m->notes[0])) {
		m->notes[m->n_notes].pair = p;
		m->notes[m->n_notes].from = from;
		m->notes[m->n_notes].to = p->state;
		memcpy(m->notes[m->n_notes].reason, p->reason, sizeof(p->reason));
		m->n_notes++;
		return;
	}
	manager_flush_notes(m);
	m->pair_hook(m, p, from, p->state, p->reason, m->pair_hook_ud);
}

void manager_set_pair_hook(Manager *m, ManagerPairFn fn, void *ud)
{
	m->pair_hook = fn;
	m->pair_hook_ud = ud;
}

static void manager_save_pair(Manager *m, Pair *p);

static void manager_on_pair_changed(void *ud, Pair *p, PairState from)
{
	Manager *m = ud;
	char f_inst[160], f_pair[100], f_vf[100], f_from[40], f_to[40], f_reason[300];
	const char *fields[] = { p->state == PAIR_FAILED ? MESSAGE_PAIR_FAILED : MESSAGE_PAIR_STATE,
				 f_inst,
				 f_pair,
				 f_vf,
				 f_from,
				 f_to,
				 f_reason,
				 NULL };
	int level = p->state == PAIR_FAILED ? LOG_WARNING : LOG_INFO;

	if (from == _PAIR_STATE_MAX) {
		/* Not a transition: a property (GuestNegotiated) to persist and show. */
		manager_save_pair(m, p);
		manager_notify(m, p, from);
		return;
	}
	snprintf(f_inst, sizeof(f_inst), "FAILOVERD_INSTANCE=%s", p->instance->name);
	snprintf(f_pair, sizeof(f_pair), "FAILOVERD_PAIR=%s", p->config.name);
	snprintf(f_vf, sizeof(f_vf), "FAILOVERD_VF=%s", p->has_vf ? p->vf.id : "-");
	snprintf(f_from, sizeof(f_from), "FAILOVERD_FROM=%s", pair_state_to_string(from));
	snprintf(f_to, sizeof(f_to), "FAILOVERD_TO=%s", pair_state_to_string(p->state));
	snprintf(f_reason, sizeof(f_reason), "FAILOVERD_REASON=%s", p->reason);
	if (!p->reason[0])
		fields[6] = NULL;
	log_full(&m->log, level, fields, "pair %s/%s: %s -> %s", p->instance->name, p->config.name,
		 pair_state_to_string(from), pair_state_to_string(p->state));
	manager_save_pair(m, p);
	metrics_transition(&m->metrics);
	if (m->stop_at[0]) {
		char point[64];

		snprintf(point, sizeof(point), "state:%s", pair_state_to_string(p->state));
		manager_checkpoint(m, point);
	}
	manager_notify(m, p, from);
}

static void manager_on_pair_done(void *ud, Pair *p)
{
	Manager *m = ud;
	Instance *i = p->instance;
	char path[512];
	int r;

	if (pair_file_path(path, sizeof(path), m->state_dir, i->name, p->config.name) == 0 &&
	    (r = statefile_remove(path)) < 0)
		log_pair_warning(p, "cannot remove %s: %s", path, strerror(-r));
	log_pair_info(p, "detached and forgotten");
	manager_flush_notes(m); /* its last transitions, while it exists */
	manager_forget_save(m, p);
	instance_remove_pair(i, p);
	manager_instance_changed(m, i);
}

static void manager_on_event(void *ud, Instance *i, const char *event, uint64_t rx_ns,
			     uint64_t tx_before_ns, uint64_t tx_start_ns, uint64_t tx_ns)
{
	Manager *m = ud;
	/* Only these change what an instance shows; the rest are pair business. */
	static const char *const changes[] = { "MIGRATION", "RESUME", "STOP" };

	metrics_event(&m->metrics, rx_ns, tx_before_ns, tx_start_ns, tx_ns);
	m->in_event = false;
	manager_flush_saves(m);
	log_release(&m->log);

	for (size_t k = 0; k < sizeof(changes) / sizeof(changes[0]); k++)
		if (strcmp(event, changes[k]) == 0) {
			manager_instance_changed(m, i);
			return;
		}
}

static void manager_on_event_begin(void *ud, Instance *i)
{
	Manager *m = ud;

	m->in_event = true;
	log_hold(&m->log);
}

/*
 * While an event is handled, a save waits until the event's reaction (the
 * command it caused) is sent, before the next message is read: off the
 * reaction's path, never batched across events. A record that says QEMU may
 * now hold the primary is the exception: it is written before device_add is
 * sent, at once (docs/architecture.md, "State files are written at once").
 * A record that waited can only say less than the truth about the past
 * (a successor re-checks with QEMU), never that QEMU holds nothing.
 */
static void manager_save_pair(Manager *m, Pair *p)
{
	if (m->in_event && !p->primary_pending &&
	    m->n_deferred < sizeof(m->deferred) / sizeof(m->deferred[0])) {
		for (size_t k = 0; k < m->n_deferred; k++)
			if (m->deferred[k] == p)
				return; /* the record is read when written */
		m->deferred[m->n_deferred++] = p;
		return;
	}
	manager_forget_save(m, p);
	manager_write_pair(m, p);
}

static void manager_write_pair(Manager *m, Pair *p)
{
	PairRecord rec;
	char path[4096];
	int r;

	if (!p->instance->configured || p->removed)
		return;
	pair_get_record(p, &rec);
	r = pair_file_path(path, sizeof(path), m->state_dir, p->instance->name, p->config.name);
	if (r >= 0)
		r = pair_file_write(path, &rec);
	if (r < 0)
		log_pair_error(p, "cannot persist state to %s: %s", path, strerror(-r));
}

static bool manager_owns_vf(Manager *m, Pair *p, const char *vf)
{
	char owner[200];

	owner_of(p, owner, sizeof(owner));
	return pools_owns(m->pools, p->config.pool, vf, owner);
}

/* Restores what a previous run knew about @p, from its state file. */
static int manager_load_pair(Manager *m, Pair *p)
{
	PairRecord rec;
	char path[4096];
	unsigned line = 0;
	bool ours;
	int r;

	r = pair_file_path(path, sizeof(path), m->state_dir, p->instance->name, p->config.name);
	if (r < 0)
		return r;
	r = pair_file_read(path, &rec, &line);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		log_pair_error(p, "state file %s is corrupt (line %u), ignoring it", path, line);
		return r;
	}
	/* The pool's record is the truth about ownership, not this file. */
	ours = rec.vf.id[0] && manager_owns_vf(m, p, rec.vf.id);
	if (rec.vf.id[0] && !ours)
		log_pair_error(p,
			       "state file names VF %s, but the pool does not record it as this "
			       "pair's; not using it",
			       rec.vf.id);
	instance_restore_qemu(p->instance, rec.qemu_pid, rec.qemu_start);
	pair_restore(p, &rec, ours, process_is_same_qemu(rec.qemu_pid, rec.qemu_start));
	return 0;
}

/*
 * Pairs created over D-Bus exist only in their state files: re-create them
 * (and, where no configuration names it, their instance) before anything
 * looks at the pools, so that their VFs are never taken for leftovers. So
 * are configured pairs that left the configuration while they held a VF
 * (a .vm file removed during a migration): they are detached once QEMU
 * lets go, and then forgotten.
 */
static void manager_restore_adhoc_pairs(Manager *m)
{
	char dir[512];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/pairs", m->state_dir);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[1024], inst[128], *at;
		PairRecord sp;
		Pair *p;
		unsigned line = 0;
		Instance *i;
		int r;

		at = strrchr(de->d_name, '@'); /* instance names may hold '@', pair names not */
		if (de->d_name[0] == '.' || !at || (size_t)(at - de->d_name) >= sizeof(inst))
			continue;
		memcpy(inst, de->d_name, (size_t)(at - de->d_name));
		inst[at - de->d_name] = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		r = pair_file_read(path, &sp, &line);
		if (r < 0)
			continue;
		snprintf(sp.config.name, sizeof(sp.config.name), "%s", at + 1);
		i = manager_find_instance(m, inst);
		if (!sp.config.adhoc) {
			if (i && instance_find_pair(i, sp.config.name))
				continue; /* configured: loaded with its configuration */
			if (!sp.vf.id[0]) {
				/* a pair removed from the configuration, done */
				(void)statefile_remove(path);
				continue;
			}
			sp.config.adhoc = sp.config.retired = true;
		}
		if (!sp.has_mac || !conf_name_is_valid(sp.config.name) ||
		    !conf_instance_name_is_valid(inst) || !pools_has(m->pools, sp.config.pool)) {
			log_error(&m->log,
				  "pair %s/%s: state file %s does not describe a usable pair "
				  "(line %u); its VF is treated as a leftover",
				  inst, at + 1, path, line);
			continue;
		}
		if (!i) {
			ManagerInstanceConfig c = { .name = inst,
						    .qmp_path = sp.qmp[0] ? sp.qmp : NULL };

			if (manager_add_instance(m, &c, &i) < 0)
				continue;
		}
		if (instance_find_pair(i, sp.config.name))
			continue; /* the configuration has a pair of that name now: it wins */
		if (instance_add_pair(i, &sp.config, &p) == 0) {
			instance_set_configured(i, NULL);
			log_pair_info(p, "restored (%s)",
				      sp.config.retired ? "no longer configured; detaching it"
							: "created over D-Bus");
		}
	}
	closedir(d);
}

int manager_add_instance(Manager *m, const ManagerInstanceConfig *c, Instance **out)
{
	Instance *i;
	int r;

	if (manager_find_instance(m, c->name))
		return -EEXIST;
	r = instance_new(&i, &m->env, c->name);
	if (r < 0)
		return r;
	instance_set_configured(i, c->qmp_path ? c->qmp_path : "");
	instance_set_settings(i, c->prepare_incoming, c->unplug_timeout_ms,
			      c->negotiate_timeout_ms);
	for (size_t k = 0; k < c->n_pairs; k++) {
		Pair *p;

		r = instance_add_pair(i, &c->pairs[k], &p);
		if (r < 0) {
			manager_flush_saves(m); /* before its pairs go */
			instance_free(i);
			return r;
		}
	}
	manager_link_instance(m, i);
	if (out)
		*out = i;
	return 0;
}

/*
 * Everything configured is in place: restore pair state, finish what a
 * killed predecessor left half done, then start talking to QEMU.
 */
int manager_start(Manager *m)
{
	int r;

	manager_restore_adhoc_pairs(m);
	for (Instance *i = m->instances; i; i = i->next)
		for (Pair *p = i->pairs, *next; p; p = next) {
			next = p->next; /* a detached pair whose QEMU is gone is forgotten */
			manager_load_pair(m, p);
		}
	pools_recover(m->pools);
	/* A pair that is still configured undoes its own steering once QEMU is reconciled. */
	steer_recover(m->steer, manager_owner_alive, m, manager_steer_report);
	r = pools_start_monitor(m->pools);
	if (r < 0)
		log_warning(&m->log, "cannot watch for PF/VF removal (udev): %s", strerror(-r));
	for (Instance *i = m->instances; i; i = i->next) {
		manager_connect_instance(m, i); /* zero-config ones: QEMU connects to us */
		/* A QEMU that answered is reconciled before start-up is complete. */
		if (i->conn && qmp_conn_get_state(i->conn) != QMP_CONN_DISCONNECTED) {
			instance_set_settling(i, true);
			m->n_settling++;
		}
		instance_follow_recorded_qemu(i); /* after the connect: it may make it needless */
	}
	log_info(&m->log, "failoverd started (state in %s)", m->state_dir);
	manager_check_started(m);
	return 0;
}

/* --- control operations --- */

static Instance *manager_require_instance(Manager *m, const char *name, char *err, size_t size)
{
	Instance *i = manager_find_instance(m, name);

	if (!i)
		snprintf(err, size, "no QEMU instance named '%s'", name);
	return i;
}

static Pair *manager_require_pair(Manager *m, const char *instance, const char *pair, char *err,
				  size_t size)
{
	Instance *i = manager_require_instance(m, instance, err, size);
	Pair *p = i ? instance_find_pair(i, pair) : NULL;

	if (i && !p)
		snprintf(err, size, "instance %s has no pair named '%s'", instance, pair);
	return p;
}

int manager_attach_pair(Manager *m, const char *instance, const PairConfig *c, char *err,
			size_t size)
{
	Instance *i = manager_require_instance(m, instance, err, size);
	PairConfig adhoc = *c;
	Pair *p, *holder;
	int r;

	if (!i)
		return -ENOENT;
	if (!pools_has(m->pools, c->pool)) {
		snprintf(err, size, "no pool named '%s'", c->pool);
		return -ENOENT;
	}
	if ((c->primary_netdev[0] || c->primary_tap[0]) &&
	    strcmp(pools_get_driver(m->pools, c->pool), "vfio-pci") == 0) {
		snprintf(err, size,
			 "%s applies to emulated pools only (pool %s hands out VFs, which carry "
			 "their own frames)",
			 c->primary_netdev[0] ? "PrimaryNetdev" : "PrimaryTap", c->pool);
		return -EINVAL;
	}
	p = instance_find_pair(i, c->name);
	if (p && !p->config.adhoc && p->detach_requested) {
		/* A configured pair the operator detached: attach it again, as configured. */
		if (strcmp(p->config.pool, c->pool) != 0 || memcmp(p->config.mac, c->mac, 6) != 0) {
			snprintf(err, size,
				 "pair %s/%s is configured with pool %s and MAC %s: attach it with "
				 "those, or change its configuration file",
				 instance, c->name, p->config.pool, p->mac_str);
			return -EEXIST;
		}
		if (p->state == PAIR_DETACHING || p->has_vf) {
			snprintf(err, size, "pair %s/%s is still being detached (%s)", instance,
				 c->name, p->reason);
			return -EBUSY;
		}
		pair_reattach(p, NULL);
		return 0;
	}
	for (Instance *j = m->instances; j; j = j->next)
		for (Pair *q = j->pairs; q; q = q->next)
			if (memcmp(q->config.mac, c->mac, 6) == 0) {
				snprintf(err, size, "MAC address already used by pair %s/%s",
					 j->name, q->config.name);
				return -EEXIST;
			}
	holder = c->primary_bus[0] ? instance_port_holder(i, c->primary_bus, NULL) : NULL;
	if (holder) {
		snprintf(err, size, "PrimaryBus %s is already used by pair %s/%s", c->primary_bus,
			 instance, holder->config.name);
		return -EEXIST;
	}
	adhoc.adhoc = true;
	r = instance_add_pair(i, &adhoc, &p);
	if (r == -EEXIST) {
		snprintf(err, size, "instance %s already has a pair named '%s'", instance, c->name);
		return r;
	}
	if (r < 0) {
		snprintf(err, size, "cannot create pair %s: %s", c->name, strerror(-r));
		return r;
	}
	/* Ad-hoc pairs are persisted like configured ones, with what re-creates them. */
	instance_set_configured(i, NULL);
	manager_save_pair(m, p);
	manager_instance_changed(m, i);
	pair_attach(p);
	return 0;
}

int manager_detach_pair(Manager *m, const char *instance, const char *pair, char *err, size_t size)
{
	Pair *p = manager_require_pair(m, instance, pair, err, size);

	if (!p)
		return -ENOENT;
	pair_detach(p);
	return 0;
}

int manager_remove_pair(Manager *m, const char *instance, const char *pair, char *err, size_t size)
{
	Pair *p = manager_require_pair(m, instance, pair, err, size);

	if (!p)
		return -ENOENT;
	if (!p->config.adhoc) {
		snprintf(err, size,
			 "pair %s/%s comes from %s.vm: remove its [Pair] there and reload",
			 instance, pair, instance);
		return -EINVAL;
	}
	if (p->has_vf || pair_qemu_may_hold(p) || p->busy) {
		snprintf(err, size, "pair %s/%s is %s%s%s: detach it first", instance, pair,
			 pair_state_to_string(p->state), p->has_vf ? " and holds VF " : "",
			 p->has_vf ? p->vf.id : "");
		return -EBUSY;
	}
	manager_on_pair_done(m, p);
	return 0;
}

int manager_prepare_incoming(Manager *m, const char *instance, char *err, size_t size)
{
	Instance *i = manager_require_instance(m, instance, err, size);

	if (!i)
		return -ENOENT;
	if (!i->ready) {
		snprintf(err, size, "instance %s is not connected", instance);
		return -ENOTCONN;
	}
	if (!i->migrating_in) {
		snprintf(err, size, "instance %s is not waiting for an incoming migration (%s)",
			 instance, i->run_status);
		return -EINVAL;
	}
	instance_set_prepare_incoming(i);
	for (Pair *p = i->pairs; p; p = p->next)
		if (!p->has_vf || !p->primary_added)
			pair_attach(p);
	return 0;
}

size_t manager_get_n_pools(Manager *m)
{
	return pools_get_n(m->pools);
}

int manager_get_pool_info(Manager *m, size_t index, PoolInfo *info)
{
	return pools_get_info(m->pools, index, info);
}

void manager_revive_instance(Manager *m, Instance *i, const char *qmp_path)
{
	if (qmp_path && !i->qmp_path[0]) {
		instance_set_configured(i, qmp_path);
		manager_connect_instance(m, i);
	} else {
		instance_set_configured(i, NULL);
	}
}

int manager_connect_instance(Manager *m, Instance *i)
{
	int r;

	if (!i->qmp_path[0] || i->conn)
		return 0;
	r = instance_connect(i, i->qmp_path);
	if (r == -EMFILE || r == -ENFILE)
		log_instance_error(i,
				   "cannot connect to %s: %s (one descriptor per QEMU: raise "
				   "LimitNOFILE=)",
				   i->qmp_path, strerror(-r));
	else if (r < 0)
		log_instance_error(i, "cannot connect to %s: %s", i->qmp_path, strerror(-r));
	return r;
}

void manager_retire_instance(Manager *m, Instance *i)
{
	/*
	 * Its pairs are detached and, once QEMU has let go of their VFs (which
	 * may outlive a restart of ours), forgotten. Until then they are
	 * persisted like ad-hoc pairs, so a successor still knows who holds
	 * what; added back, the instance gets its pairs from the configuration.
	 */
	for (Pair *p = i->pairs; p; p = p->next)
		pair_retire(p);
}

/* --- loop --- */

static void manager_on_signal(evutil_socket_t sig, short what, void *userdata)
{
	Manager *m = userdata;

	log_full(&m->log, LOG_INFO, (const char *const[]){ MESSAGE_STOPPING, NULL },
		 "received %s, shutting down", strsignal((int)sig));
	event_base_loopbreak(m->base);
}

/* Walked only here, on request: recording stays O(1). */
static void manager_census(Manager *m, MetricsCensus *c)
{
	memset(c, 0, sizeof(*c));
	for (Instance *i = m->instances; i; i = i->next) {
		c->instances++;
		if (i->conn && qmp_conn_get_state(i->conn) == QMP_CONN_READY)
			c->connected++;
		c->ready += i->ready;
		if (i->conn) {
			c->calls_pending += qmp_conn_get_n_pending(i->conn);
			if (qmp_conn_get_rx_ns(i->conn) > c->last_rx_ns)
				c->last_rx_ns = qmp_conn_get_rx_ns(i->conn);
		}
		for (Pair *p = i->pairs; p; p = p->next) {
			c->pairs++;
			c->pairs_busy += p->busy;
			if (p->state < _PAIR_STATE_MAX)
				c->states[p->state]++;
		}
	}
}

static void manager_on_sigusr1(evutil_socket_t sig, short what, void *userdata)
{
	Manager *m = userdata;
	MetricsCensus c;
	int r;

	if (!m->metrics_file[0]) {
		log_notice(&m->log, "SIGUSR1: no --metrics-file to write metrics to");
		return;
	}
	manager_census(m, &c);
	r = metrics_dump(&m->metrics, &c, m->metrics_file);
	if (r < 0)
		log_warning(&m->log, "cannot write metrics to %s: %s", m->metrics_file,
			    strerror(-r));
}

static void manager_on_pair_dirty(void *ud, Pair *p)
{
	manager_save_pair(ud, p);
}

static void manager_on_checkpoint(void *ud, const char *point)
{
	manager_checkpoint(ud, point);
}

static const char *manager_on_pool_driver(void *ud, const char *pool)
{
	return manager_pool_driver(ud, pool);
}

static const InstanceOps instance_ops = {
	.acquire_vf = manager_on_acquire_vf,
	.release_vf = manager_on_release_vf,
	.steer = manager_on_steer,
	.pair_dirty = manager_on_pair_dirty,
	.pair_changed = manager_on_pair_changed,
	.pair_done = manager_on_pair_done,
	.checkpoint = manager_on_checkpoint,
	.pool_driver = manager_on_pool_driver,
	.event_begin = manager_on_event_begin,
	.event = manager_on_event,
	.ready = manager_on_instance_ready,
	.lost = manager_on_instance_lost,
	.settled = manager_on_instance_settled,
	.identified = manager_on_instance_identified,
};

int manager_new(Manager **out, const ManagerOptions *opts)
{
	Manager *m = calloc(1, sizeof(*m));
	char path[512], err[320] = "";
	int r;

	if (!m)
		return -ENOMEM;
	m->lock_fd = -1;
	m->command_timeout_ms = opts->command_timeout_ms ? opts->command_timeout_ms
							 : CONF_DEFAULT_COMMAND_TIMEOUT_MS;
	log_init(&m->log, opts->log_level);
	metrics_init(&m->metrics);

	snprintf(m->metrics_file, sizeof(m->metrics_file), "%s",
		 opts->metrics_file ? opts->metrics_file : "");
	snprintf(m->stop_at, sizeof(m->stop_at), "%s", opts->stop_at ? opts->stop_at : "");
	snprintf(m->state_dir, sizeof(m->state_dir), "%s",
		 opts->state_dir ? opts->state_dir : "/var/lib/failoverd");
	m->base = event_base_new();
	(void)name_map_new(&m->by_name); /* without it, lookups walk the list */
	if (!m->base || probe_cache_new(&m->probes, m->base) < 0 ||
	    pools_new(&m->pools, m->base, &m->log, &pools_ops, m) < 0) {
		m->probes = probe_cache_free(m->probes);
		m->by_name = name_map_free(m->by_name);
		if (m->base)
			event_base_free(m->base);
		free(m);
		return -ENOMEM;
	}
	m->env = (InstanceEnv){ .base = m->base,
				.log = &m->log,
				.probes = m->probes,
				.command_timeout_ms = m->command_timeout_ms,
				.ops = &instance_ops,
				.userdata = m };
	m->sig_term = evsignal_new(m->base, SIGTERM, manager_on_signal, m);
	m->sig_int = evsignal_new(m->base, SIGINT, manager_on_signal, m);
	if (!m->sig_term || !m->sig_int) {
		manager_free(m);
		return -ENOMEM;
	}
	evsignal_add(m->sig_term, NULL);
	evsignal_add(m->sig_int, NULL);
	m->sig_usr1 = evsignal_new(m->base, SIGUSR1, manager_on_sigusr1, m);
	if (m->sig_usr1)
		evsignal_add(m->sig_usr1, NULL);
	signal(SIGPIPE, SIG_IGN);

	snprintf(path, sizeof(path), "%s/pairs", m->state_dir);
	r = sriov_mkdir_p(path, 0700);
	if (r < 0) {
		log_error(&m->log, "cannot create state directory %s: %s", path, strerror(-r));
		manager_free(m);
		return r;
	}
	/* Two daemons on one state directory would each think every VF theirs. */
	snprintf(path, sizeof(path), "%s/lock", m->state_dir);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		log_error(&m->log, "%s",
			  r == -EWOULDBLOCK ? "another failoverd is running on this state directory"
					    : "cannot lock the state directory");
		log_error(&m->log, "state directory %s: %s", m->state_dir, strerror(-r));
		manager_free(m);
		return r == -EWOULDBLOCK ? -EBUSY : r;
	}
	/* Who owns which VF is nobody else's business, whoever created the directory. */
	if (chmod(m->state_dir, 0700) < 0) {
		r = -errno;
		log_error(&m->log, "cannot make state directory %s private: %s", m->state_dir,
			  strerror(-r));
		manager_free(m);
		return r;
	}
	snprintf(path, sizeof(path), "%s/steer", m->state_dir);
	r = steer_new(&m->steer, path, err, sizeof(err));
	if (r < 0) {
		log_error(&m->log, "%s", err);
		manager_free(m);
		return r;
	}
	steer_set_checkpoint(m->steer, manager_steer_checkpoint, m);

	if (opts->listen_qmp_fd >= 0) {
		r = qmp_listener_new_fd(&m->listener, m->base, opts->listen_qmp_fd,
					manager_on_accept, m);
		if (r < 0) {
			log_error(&m->log,
				  "the socket systemd passed is not a listening AF_UNIX stream "
				  "socket bound to a path: %s",
				  strerror(-r));
			manager_free(m);
			return r;
		}
		log_info(&m->log, "listening for QEMU monitors on %s (from systemd)",
			 qmp_listener_get_path(m->listener));
	} else if (opts->listen_qmp) {
		unsigned mode = opts->listen_qmp_mode ? opts->listen_qmp_mode
						      : CONF_DEFAULT_LISTEN_QMP_MODE;

		r = qmp_listener_new(&m->listener, m->base, opts->listen_qmp, mode,
				     opts->listen_qmp_gid, manager_on_accept, m);
		if (r < 0) {
			log_error(&m->log, "cannot listen on %s: %s", opts->listen_qmp,
				  r == -EADDRINUSE ? "another process is listening there"
						   : strerror(-r));
			manager_free(m);
			return r;
		}
		log_info(&m->log, "listening for QEMU monitors on %s (mode %04o)", opts->listen_qmp,
			 mode);
	}
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
		manager_flush_saves(m); /* before its pairs go */
		instance_free(i);
	}
	m->probes = probe_cache_free(m->probes);
	qmp_listener_free(m->listener);
	if (m->sig_usr1)
		event_free(m->sig_usr1);
	m->pools = pools_free(m->pools);
	m->steer = steer_free(m->steer);
	if (m->sig_term)
		event_free(m->sig_term);
	if (m->sig_int)
		event_free(m->sig_int);
	event_base_free(m->base);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	m->by_name = name_map_free(m->by_name);
	log_done(&m->log);
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

const char *manager_get_state_dir(const Manager *m)
{
	return m->state_dir;
}

const Log *manager_get_log(const Manager *m)
{
	return &m->log;
}
