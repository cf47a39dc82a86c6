/*
 * The pair state machine. QEMU is the truth: every step that matters is
 * verified over QMP (qom-list) rather than assumed from a reply.
 */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/instance.h"
#include "daemon/pair.h"
#include "daemon/pairfile.h"
#include "daemon/strcopy.h"

static const char *const state_names[_PAIR_STATE_MAX] = {
	[PAIR_WAITING] = "waiting",	[PAIR_STAGED] = "staged",
	[PAIR_ACTIVE] = "active",	[PAIR_UNPLUGGING] = "unplugging",
	[PAIR_MIGRATING] = "migrating", [PAIR_MIGRATED] = "migrated",
	[PAIR_INCOMING] = "incoming",	[PAIR_RELEASED] = "released",
	[PAIR_FAILED] = "failed",	[PAIR_DETACHING] = "detaching",
};

const char *pair_state_to_string(PairState s)
{
	return s < _PAIR_STATE_MAX ? state_names[s] : "invalid";
}

/*
 * The transitions a pair makes while failoverd follows its QEMU (the table
 * in docs/pairs.md §transitions); a state may always be entered again with
 * a new reason. After a restart or a reconnect, QEMU may have done anything
 * meanwhile: the first transition then (the reconciliation's outcome) is
 * whatever QEMU's state says, and is not checked.
 */
#define S(x)	   (1u << PAIR_##x)
#define S_ATTACHED (S(WAITING) | S(STAGED) | S(ACTIVE) | S(INCOMING)) /* attach outcomes */
static const unsigned transitions[_PAIR_STATE_MAX] = {
	[PAIR_WAITING] = S_ATTACHED | S(FAILED) | S(RELEASED) | S(DETACHING),
	[PAIR_STAGED] = S(ACTIVE) | S(WAITING) | S(FAILED) | S(RELEASED) | S(DETACHING),
	[PAIR_INCOMING] = S(ACTIVE) | S(WAITING) | S(FAILED) | S(RELEASED) | S(DETACHING),
	/* a stale eject after a cancel re-plugs: the attach outcomes */
	[PAIR_ACTIVE] = S(UNPLUGGING) | S_ATTACHED | S(FAILED) | S(RELEASED) | S(DETACHING),
	[PAIR_UNPLUGGING] = S(MIGRATING) | S(MIGRATED) | S_ATTACHED | S(FAILED) | S(RELEASED),
	[PAIR_MIGRATING] = S(MIGRATED) | S_ATTACHED | S(FAILED) | S(RELEASED),
	/* the source QEMU holds the VF until it exits or deletes the primary */
	[PAIR_MIGRATED] = S(RELEASED) | S(FAILED),
	[PAIR_RELEASED] = S_ATTACHED | S(FAILED),
	[PAIR_FAILED] = S_ATTACHED | S(RELEASED) | S(DETACHING),
	/* held until QEMU lets go or exits: no way back but a new attach */
	[PAIR_DETACHING] = S(RELEASED) | S(FAILED),
};

static bool pair_transition_is_allowed(PairState from, PairState to)
{
	if (from >= _PAIR_STATE_MAX || to >= _PAIR_STATE_MAX)
		return false;
	return from == to || (transitions[from] & (1u << to));
}

int pair_state_from_string(const char *s)
{
	for (int i = 0; i < _PAIR_STATE_MAX; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -EINVAL;
}

/* Up to the daemon through the instance's ops (daemon/instance.h): calls go down, these come up. */
static const InstanceEnv *pair_env(const Pair *p)
{
	return p->instance->env;
}

/* What the state file says changed. */
static void pair_dirty(Pair *p)
{
	pair_env(p)->ops->pair_dirty(pair_env(p)->userdata, p);
}

static void pair_notify(Pair *p, PairState from)
{
	pair_env(p)->ops->pair_changed(pair_env(p)->userdata, p, from);
}

void log_pair_full(const Pair *p, int level, const char *fmt, ...)
{
	char f_inst[160], f_pair[100], prefix[240];
	const char *fields[] = { f_inst, f_pair, NULL };
	va_list ap;

	snprintf(f_inst, sizeof(f_inst), "FAILOVERD_INSTANCE=%s", p->instance->name);
	snprintf(f_pair, sizeof(f_pair), "FAILOVERD_PAIR=%s", p->config.name);
	snprintf(prefix, sizeof(prefix), "pair %s/%s", p->instance->name, p->config.name);
	va_start(ap, fmt);
	log_objectv(pair_env(p)->log, level, fields, prefix, fmt, ap);
	va_end(ap);
}

/*
 * Every QMP call a pair makes holds a reference, so that a pair forgotten
 * meanwhile (DetachPair of an ad-hoc pair) is never touched by a late
 * reply: its callback is skipped as if cancelled.
 */
typedef struct PairCall {
	Pair *pair;
	QmpReplyFn fn;
} PairCall;

static void pair_call_done(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	PairCall *pc = ud;
	Pair *p = pc->pair;

	if (!p->removed)
		pc->fn(c, r, ret, err, p);
	pair_unref(p);
	free(pc);
}

static int pair_call(Pair *p, const char *command, const QmpArgs *args, json_type expect,
		     QmpReplyFn fn)
{
	PairCall *pc = malloc(sizeof(*pc));
	int r;

	if (!pc)
		return -ENOMEM;
	pc->pair = pair_ref(p);
	pc->fn = fn;
	r = instance_call(p->instance, command, args, expect, pair_call_done, pc);
	if (r < 0) {
		pair_unref(p);
		free(pc);
	}
	return r;
}

Pair *pair_ref(Pair *p)
{
	p->n_ref++;
	return p;
}

Pair *pair_unref(Pair *p)
{
	if (!p || --p->n_ref > 0)
		return NULL;
	for (int k = 0; k < _PAIR_TIMER_MAX; k++)
		if (p->timers[k])
			event_free(p->timers[k]);
	if (p->retry)
		event_free(p->retry);
	free(p);
	return NULL;
}

bool pair_qemu_may_hold(const Pair *p)
{
	return p->primary_added || p->primary_pending;
}

static void pair_set_state(Pair *p, PairState to, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* --- the data path while the VF is away (docs/traffic.md) --- */

const char *pair_steer_to_string(PairSteer s)
{
	static const char *const names[] = {
		[PAIR_STEER_NONE] = "none",
		[PAIR_STEER_SOURCE] = "source",
		[PAIR_STEER_DESTINATION] = "destination",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static PairSteer pair_steer_wanted(const Pair *p)
{
	if (!p->config.traffic || !p->standby_tap[0] || !p->has_vf || p->vf_gone)
		return PAIR_STEER_NONE;
	if (p->state == PAIR_MIGRATING)
		return PAIR_STEER_SOURCE;
	if (p->state == PAIR_INCOMING)
		return PAIR_STEER_DESTINATION;
	return PAIR_STEER_NONE;
}

/*
 * What the state asks of the data path against what it is: entries and
 * the VF's MAC follow every transition. A failure never stops the
 * migration (only frames are at stake): it is logged, and an undo that
 * failed is tried again at the next transition.
 */
static void pair_update_steering(Pair *p)
{
	PairSteer want = pair_steer_wanted(p);
	char err[320] = "";
	int r;

	/* Giving the VF back: its pool restores it; the entries go first. */
	if (p->has_vf && p->releasing)
		want = PAIR_STEER_NONE;
	if (want == p->steered && !p->steer_unknown)
		return;
	/* A VF that went back to its pool is never touched; after `completed` it stays zeroed. */
	r = pair_env(p)->ops->steer(pair_env(p)->userdata, p, want,
				    p->has_vf && !p->vf_gone && !p->releasing &&
					    p->state != PAIR_MIGRATED,
				    err, sizeof(err));
	if (r < 0) {
		log_pair_warning(p, "traffic handling: %s", err);
		if (want != PAIR_STEER_NONE)
			p->steered = PAIR_STEER_NONE; /* undone by the failed step itself */
		return;
	}
	p->steered = want;
	p->steer_unknown = false;
}

static void link_on_set(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Pair *p = ud;

	if (r >= 0 && !err)
		return;
	p->standby_link = PAIR_LINK_UNKNOWN; /* set again at the next transition */
	log_pair_warning(p, "set_link %s failed: %s", p->standby_id,
			 err ? err->desc : strerror(-r));
}

/*
 * StandbyLinkDown=: the standby's link is down only while the primary is
 * active; in every other state the guest's frames need it. So is an active
 * primary with an eject still due (a migration cancelled before a paused
 * guest ejected it): the guest drops it the moment it runs.
 */
static void pair_update_standby_link(Pair *p)
{
	PairLink want =
		p->state == PAIR_ACTIVE && !p->eject_pending ? PAIR_LINK_DOWN : PAIR_LINK_UP;
	QmpArgs args;

	if (!p->config.traffic || !p->config.standby_link_down || want == p->standby_link ||
	    !p->instance->ready || !p->standby_id[0])
		return;
	qmp_args_init(&args);
	qmp_args_add_string(&args, "name", p->standby_id);
	qmp_args_add_bool(&args, "up", want == PAIR_LINK_UP);
	if (pair_call(p, "set_link", &args, json_type_object, link_on_set) == 0)
		p->standby_link = want;
}

static void pair_update_data_path(Pair *p)
{
	if (!p->config.traffic && !p->steer_unknown && p->steered == PAIR_STEER_NONE)
		return;
	pair_update_steering(p);
	pair_update_standby_link(p);
}

static void pair_set_state(Pair *p, PairState to, const char *fmt, ...)
{
	PairState from = p->state;
	char reason[sizeof(p->reason)] = "";
	struct timespec now;
	PairHistory *h;
	va_list ap;

	/* Via a copy: callers may pass the current reason as an argument. */
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
	}
	/*
	 * Not a transition (a reconcile confirming what the state file said):
	 * no log line, no signal, no new timestamp; other fields may still
	 * need persisting.
	 */
	if (to == from && strcmp(reason, p->reason) == 0) {
		pair_dirty(p);
		pair_update_data_path(p);
		return;
	}
	if (!p->reconciling && !pair_transition_is_allowed(from, to)) {
		/* A defect in this file: loud in the log, fatal where tests run. */
		log_pair_error(p, "BUG: %s -> %s is not an allowed transition (%s)",
			       pair_state_to_string(from), pair_state_to_string(to), reason);
		assert(!"pair transition outside the table");
	}
	p->reconciling = false;
	memcpy(p->reason, reason, sizeof(reason));
	p->state = to;
	clock_gettime(CLOCK_REALTIME, &now);
	p->changed_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
	h = &p->history[p->n_history++ % PAIR_HISTORY_MAX];
	*h = (PairHistory){ .usec = p->changed_us, .from = from, .to = to };
	snprintf(h->reason, sizeof(h->reason), "%s", reason);
	pair_update_data_path(p);
	pair_notify(p, from);
}

size_t pair_history_size(const Pair *p)
{
	return p->n_history < PAIR_HISTORY_MAX ? p->n_history : PAIR_HISTORY_MAX;
}

const PairHistory *pair_history_entry(const Pair *p, size_t k)
{
	size_t first = p->n_history - pair_history_size(p);

	return k < pair_history_size(p) ? &p->history[(first + k) % PAIR_HISTORY_MAX] : NULL;
}

/*
 * Every deadline: a pair waits for at most one thing at a time, what its
 * state says. Every event stops them; mostly none runs, and then nothing is
 * asked of libevent (timers_armed).
 */
static void pair_timer_stop(Pair *p)
{
	for (int k = 0; p->timers_armed && k < _PAIR_TIMER_MAX; k++)
		if (p->timers_armed & (1u << k)) {
			evtimer_del(p->timers[k]);
			p->timers_armed &= ~(1u << k);
		}
}

static void pair_timer_start(Pair *p, PairTimer which, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (evtimer_add(p->timers[which], &tv) == 0)
		p->timers_armed |= 1u << which;
}

/* A timer that fired is no longer armed. */
static void pair_timer_fired(Pair *p, PairTimer which)
{
	p->timers_armed &= ~(1u << which);
}

/*
 * Gives the VF back to its pool. Only once no QEMU can hold the primary
 * (callers check pair_qemu_may_hold()). A release that fails (a full or
 * read-only state directory, a driver that will not rebind) keeps the VF
 * ours and is retried with a backoff: the VF is never forgotten half-way.
 */
static int pair_release_vf(Pair *p)
{
	char err[256] = "";
	int r;

	if (!p->has_vf)
		return 0;
	r = pair_env(p)->ops->release_vf(pair_env(p)->userdata, p, err, sizeof(err));
	if (r < 0) {
		unsigned ms = p->retry_ms ? p->retry_ms : 1000;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

		log_pair_error(p, "releasing VF %s failed: %s; retrying in %u s", p->vf.id, err,
			       ms / 1000);
		p->retry_ms = ms * 2 > 60000 ? 60000 : ms * 2;
		evtimer_add(p->retry, &tv);
		return r;
	}
	p->retry_ms = 0;
	evtimer_del(p->retry);
	p->has_vf = p->vf_gone = false;
	memset(&p->vf, 0, sizeof(p->vf));
	pair_dirty(p);
	return 0;
}

static void pair_check_state(Pair *p);

/*
 * The primary is out of every QEMU: the VF goes back and the pair is
 * released, or failed with the release error (retried by the retry timer).
 */
static void pair_finish_release(Pair *p, const char *why)
{
	p->busy = false;
	pair_timer_stop(p);
	if (why != p->release_reason)
		snprintf(p->release_reason, sizeof(p->release_reason), "%s", why);
	p->releasing = true;
	pair_update_steering(p);
	p->releasing = false;
	if (pair_release_vf(p) < 0) {
		pair_set_state(p, PAIR_FAILED, "%s; giving VF %s back failed (retrying)",
			       p->release_reason, p->vf.id);
		return;
	}
	pair_set_state(p, PAIR_RELEASED, "%s", p->release_reason);
	pair_check_state(p);
}

static void pair_on_retry(evutil_socket_t fd, short what, void *ud)
{
	Pair *p = ud;

	/* Not under a chain: pair_attach() finishes a pending release itself. */
	if (!p->has_vf || p->busy || pair_qemu_may_hold(p))
		return;
	pair_finish_release(p, p->release_reason); /* an attach waiting for it goes on from there */
}

static void pair_fail(Pair *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void pair_fail(Pair *p, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	p->busy = false;
	/* A primary QEMU never saw needs no unplug; the VF goes straight back. */
	if (!pair_qemu_may_hold(p))
		pair_release_vf(p);
	pair_set_state(p, PAIR_FAILED, "%s", why);
	pair_check_state(p);
}

/*
 * The connection went (-ECONNRESET) or the call was cancelled: the chain
 * stops here, and the instance's lost or ready handling takes over.
 */
static bool pair_call_aborted(Pair *p, int r)
{
	if (r != -ECANCELED && r != -ECONNRESET)
		return false;
	p->busy = false;
	return true;
}

static int64_t ts_ms(const QmpTimestamp *ts)
{
	return ts->seconds * 1000 + ts->microseconds / 1000;
}

/*
 * Destination: the guest ran without its primary from the end of the
 * migration (QEMU's `completed`, same host clock) until now; a primary
 * pre-staged and plugged at load costs nothing.
 */
static void pair_note_plugged(Pair *p)
{
	struct timespec now;
	int64_t d;

	if (p->instance->migrating_in && !p->ts_incoming.seconds) {
		p->degraded_ms = 0;
		return;
	}
	if (!p->ts_incoming.seconds)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	d = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - ts_ms(&p->ts_incoming);
	p->degraded_ms = d > 0 ? d : 0;
	p->ts_incoming = (QmpTimestamp){ 0, 0 };
}

/* --- persistence --- */

void pair_get_record(const Pair *p, PairRecord *rec)
{
	memset(rec, 0, sizeof(*rec));
	str_copy(rec->state, sizeof(rec->state), pair_state_to_string(p->state));
	str_copy(rec->reason, sizeof(rec->reason), p->reason);
	if (p->has_vf)
		rec->vf = p->vf;
	rec->vf_gone = p->has_vf && p->vf_gone;
	/* A device_add in flight counts: a successor must assume QEMU has it. */
	rec->primary_added = pair_qemu_may_hold(p);
	rec->guest_negotiated = p->guest_negotiated;
	rec->detach = p->detach_requested;
	str_copy(rec->primary_bus, sizeof(rec->primary_bus), p->primary_bus);
	str_copy(rec->standby_bus, sizeof(rec->standby_bus), p->standby_bus);
	str_copy(rec->standby_tap, sizeof(rec->standby_tap), p->standby_tap);
	rec->qemu_pid = p->instance->pid;
	rec->qemu_start = p->instance->pid_start;
	rec->changed_us = p->changed_us;
	rec->degraded_ms = p->degraded_ms;
	rec->config = p->config;
	rec->has_mac = true;
	str_copy(rec->qmp, sizeof(rec->qmp), p->instance->qmp_path);
}

void pair_restore(Pair *p, const PairRecord *rec, bool vf_ours, bool qemu_alive)
{
	int s = pair_state_from_string(rec->state);

	p->state = s >= 0 ? (PairState)s : PAIR_WAITING;
	snprintf(p->reason, sizeof(p->reason), "%s", rec->reason);
	p->has_vf = vf_ours && rec->vf.id[0];
	if (p->has_vf)
		p->vf = rec->vf;
	p->vf_gone = p->has_vf && rec->vf_gone;
	p->primary_added = rec->primary_added;
	p->guest_negotiated = rec->guest_negotiated;
	p->detach_requested = p->config.retired || rec->detach;
	snprintf(p->primary_bus, sizeof(p->primary_bus), "%s", rec->primary_bus);
	snprintf(p->standby_bus, sizeof(p->standby_bus), "%s", rec->standby_bus);
	if (!p->config.standby_tap[0])
		snprintf(p->standby_tap, sizeof(p->standby_tap), "%s", rec->standby_tap);
	p->degraded_ms = rec->degraded_ms;
	/* StateChangedUSec survives a restart (and the file is not rewritten). */
	p->changed_us = rec->changed_us;
	p->reconciling = true; /* the state file is a hint: QEMU decides */
	p->steer_unknown = true;
	if (p->has_vf && !qemu_alive) {
		/* Its QEMU is gone, and the primary with it: a transition like any other. */
		p->primary_added = p->guest_negotiated = false;
		pair_finish_release(p, "QEMU exited while failoverd was down");
	}
}

/* --- verification: is the primary realized in QEMU? --- */

typedef void (*PresenceFn)(Pair *p, int r, bool present);

typedef struct Presence {
	Pair *pair;
	PresenceFn fn;
} Presence;

static void presence_on_list(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Presence *q = ud;
	Pair *p = q->pair;
	bool present = false;

	if (r == -EBADMSG && !p->removed) {
		pair_fail(p, "qom-list /machine/peripheral: %s", err->desc);
		r = -ECANCELED; /* decided here: the caller's step does not run */
	}
	if (r == 0) {
		QmpIter it;
		size_t k = 0;

		for (bool more = qmp_iter_init(&it, *ret); more && !present;
		     more = qmp_iter_next(&it), k++) {
			const char *name = qmp_value_get_string(it.v, "name");

			/* An answer we cannot read proves nothing either way. */
			if (!name) {
				if (!p->removed)
					pair_fail(p,
						  "qom-list /machine/peripheral: entry %zu has no "
						  "string 'name'",
						  k);
				r = -ECANCELED;
				break;
			}
			present = strcmp(name, p->primary_id) == 0;
		}
	}
	if (!p->removed && r != -ECANCELED)
		q->fn(p, r, present);
	pair_unref(p);
	free(q);
}

static void pair_check_presence(Pair *p, PresenceFn fn)
{
	Presence *q = calloc(1, sizeof(*q));
	QmpArgs args;
	int r;

	if (!q) {
		fn(p, -ENOMEM, false);
		return;
	}
	q->pair = pair_ref(p);
	q->fn = fn;
	qmp_args_init(&args);
	qmp_args_add_json(&args, "path", "\"/machine/peripheral\""); /* constant: no escaping */
	r = instance_call(p->instance, "qom-list", &args, json_type_array, presence_on_list, q);
	if (r < 0) {
		pair_unref(p);
		free(q);
		fn(p, r, false);
	}
}

/* --- attach --- */

static void attach_on_presence(Pair *p, int r, bool present)
{
	if (pair_call_aborted(p, r))
		return;
	p->busy = false;
	if (r < 0) {
		pair_set_state(p, PAIR_WAITING, "cannot verify the primary: %s", strerror(-r));
		return;
	}
	if (p->detach_requested) {
		pair_detach(p);
		return;
	}
	if (present) {
		/*
		 * QEMU plugged it at once: the guest negotiated at some point. Since
		 * its last reset? Only if nothing says otherwise (docs/pairs.md).
		 */
		p->guest_negotiated = instance_guest_negotiated(p->instance, p->standby_id) != 0;
		pair_note_plugged(p);
		pair_set_state(p, PAIR_ACTIVE, NULL);
		return;
	}
	if (p->instance->migrating_in) {
		pair_set_state(p, PAIR_INCOMING,
			       "primary pre-staged on %s; QEMU plugs it when the stream loads",
			       p->primary_bus);
		return;
	}
	pair_set_state(p, PAIR_STAGED, "primary hidden by QEMU until the guest negotiates");
	pair_timer_start(p, PAIR_TIMER_NEGOTIATE, p->instance->negotiate_timeout_ms);
}

static void attach_on_device_add(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				 void *ud)
{
	Pair *p = ud;

	p->primary_pending = false;
	if (r == -ECANCELED || r == -ECONNRESET || r == -ETIMEDOUT) {
		/* No answer: QEMU may have plugged it; the VF stays until QEMU says. */
		p->primary_added = true;
		pair_dirty(p);
		if (r == -ETIMEDOUT)
			pair_fail(p, "device_add of primary %s got no answer in time",
				  p->primary_id);
		else
			p->busy = false;
		return;
	}
	if (r < 0) {
		/* "Duplicate ID": this QEMU still holds our primary (hidden). */
		if (r == -EREMOTEIO && strstr(err->desc, "Duplicate ID")) {
			p->primary_added = true;
			pair_check_presence(p, attach_on_presence);
			return;
		}
		pair_dirty(p);
		pair_fail(p, "device_add of primary %s (%s %s) on %s failed: %s", p->primary_id,
			  p->vf.driver, p->vf.id, p->primary_bus, err->desc);
		return;
	}
	p->primary_added = true;
	pair_dirty(p);
	pair_env(p)->ops->checkpoint(pair_env(p)->userdata, "primary-added");
	pair_check_presence(p, attach_on_presence);
}

static void attach_add_primary(Pair *p)
{
	QmpArgs args;
	int r;

	qmp_args_init(&args);
	qmp_args_add_string(&args, "driver", p->vf.driver);
	qmp_args_add_string(&args, "id", p->primary_id);
	qmp_args_add_string(&args, "bus", p->primary_bus);
	qmp_args_add_string(&args, "failover_pair_id", p->standby_id);
	if (p->vf.emulated) {
		/* docs/qemu-failover.md §emulated: no ROM and no slirp netdev, or migration breaks.
		 */
		qmp_args_add_string(&args, "mac", p->mac_str);
		qmp_args_add_string(&args, "romfile", "");
		if (p->config.primary_netdev[0])
			qmp_args_add_string(&args, "netdev", p->config.primary_netdev);
	} else {
		qmp_args_add_string(&args, "host", p->vf.id);
	}
	/* Persisted before it is sent: a successor must assume QEMU may hold it. */
	p->primary_pending = true;
	pair_dirty(p);
	r = pair_call(p, "device_add", &args, json_type_object, attach_on_device_add);
	if (r < 0) {
		p->primary_pending = false;
		pair_dirty(p);
		pair_fail(p, "cannot send device_add: %s", strerror(-r));
	}
}

static void attach_on_port(Instance *i, int r, const char *port, const char *why, void *ud)
{
	Pair *p = ud;

	if (p->removed || pair_call_aborted(p, r)) {
		pair_unref(p);
		return;
	}
	if (r < 0) {
		pair_fail(p, "%s", why);
	} else {
		snprintf(p->primary_bus, sizeof(p->primary_bus), "%s", port);
		attach_add_primary(p);
	}
	pair_unref(p);
}

/* @slot: the pair's own primary_bus or standby_bus, empty while the search runs. */
static void attach_find_port(Pair *p, char *slot, InstancePortFn fn)
{
	int r;

	slot[0] = 0;
	r = instance_find_free_port(p->instance, slot, fn, pair_ref(p));
	if (r < 0) {
		pair_unref(p);
		pair_fail(p, "cannot look for a free pcie-root-port: %s", strerror(-r));
	}
}

static void attach_primary_port(Pair *p)
{
	if (p->config.primary_bus[0]) {
		/* The admin chose the port: use it as is, QEMU will say if it is taken. */
		snprintf(p->primary_bus, sizeof(p->primary_bus), "%s", p->config.primary_bus);
		attach_add_primary(p);
		return;
	}
	attach_find_port(p, p->primary_bus, attach_on_port);
}

/*
 * The tap behind netdev @netdev in HMP's `info network`, whose lines for a
 * NIC's peer read " \ hn0: index=0,type=tap,ifname=vnet3,script=...".
 */
static bool tap_of_netdev(const char *info, const char *netdev, char tap[16])
{
	size_t n = strlen(netdev);

	for (const char *l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *at = l, *end = strchr(l, '\n'), *f;
		size_t len;

		while (*at == ' ' || *at == '\\')
			at++;
		if (strncmp(at, netdev, n) != 0 || at[n] != ':')
			continue;
		f = strstr(at, "ifname=");
		if (!f || (end && f > end) || !strstr(at, "type=tap"))
			return false;
		f += strlen("ifname=");
		len = strcspn(f, ",\r\n");
		if (len == 0 || len > 15)
			return false;
		memcpy(tap, f, len);
		tap[len] = 0;
		return true;
	}
	return false;
}

/* Never fails the attach: without a tap the pair works, only its frames are not steered. */
static void tap_not_found(Pair *p, const char *why)
{
	log_pair_warning(p,
			 "TrafficHandling=yes, but the standby's tap is unknown (%s): set "
			 "StandbyTap=; frames are not steered",
			 why);
	attach_primary_port(p);
}

static void attach_on_info_network(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				   void *ud)
{
	Pair *p = ud;

	if (pair_call_aborted(p, r))
		return;
	if (r < 0 ||
	    !tap_of_netdev(qmp_value_string(*ret), p->standby_netdev_found, p->standby_tap)) {
		tap_not_found(p, r < 0 ? err->desc : "its netdev is no tap");
		return;
	}
	log_pair_info(p, "standby %s is on tap %s", p->standby_id, p->standby_tap);
	pair_dirty(p);
	attach_primary_port(p);
}

static void attach_ask_info_network(Pair *p)
{
	QmpArgs args;

	qmp_args_init(&args);
	qmp_args_add_string(&args, "command-line", "info network");
	if (pair_call(p, "human-monitor-command", &args, json_type_string, attach_on_info_network) <
	    0)
		tap_not_found(p, "cannot ask QEMU");
}

static void attach_on_standby_netdev(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				     void *ud)
{
	Pair *p = ud;

	if (pair_call_aborted(p, r))
		return;
	if (r < 0 || !*qmp_value_string(*ret)) {
		tap_not_found(p, r < 0 ? err->desc : "it has no netdev");
		return;
	}
	snprintf(p->standby_netdev_found, sizeof(p->standby_netdev_found), "%s",
		 qmp_value_string(*ret));
	attach_ask_info_network(p);
}

/* docs/traffic.md: TrafficHandling=yes without StandbyTap=: QEMU says which tap it is. */
static void attach_find_tap(Pair *p)
{
	QmpArgs args;

	if (!p->config.traffic || p->config.standby_tap[0]) {
		attach_primary_port(p);
		return;
	}
	p->standby_tap[0] = 0; /* a new QEMU may have a new tap: found again on each attach */
	if (p->config.standby_netdev[0]) {
		snprintf(p->standby_netdev_found, sizeof(p->standby_netdev_found), "%s",
			 p->config.standby_netdev);
		attach_ask_info_network(p);
		return;
	}
	qmp_args_init(&args);
	qmp_args_add_string(&args, "path", p->standby_path);
	qmp_args_add_string(&args, "property", "netdev");
	if (pair_call(p, "qom-get", &args, json_type_string, attach_on_standby_netdev) < 0)
		tap_not_found(p, "cannot ask QEMU");
}

static void attach_on_standby_mac(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				  void *ud)
{
	Pair *p = ud;

	if (pair_call_aborted(p, r))
		return;
	if (r < 0) {
		pair_fail(p, "cannot read the MAC of standby %s: qom-get mac: %s", p->standby_id,
			  err->desc);
		return;
	}
	if (strcasecmp(qmp_value_string(*ret), p->mac_str) != 0) {
		pair_fail(p, "MAC mismatch: standby %s has %s, pair %s wants %s", p->standby_id,
			  qmp_value_string(*ret), p->config.name, p->mac_str);
		return;
	}
	attach_find_tap(p);
}

static void attach_on_standby_failover(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				       void *ud)
{
	Pair *p = ud;
	QmpArgs args;
	bool on = false;

	if (pair_call_aborted(p, r))
		return;
	if (r < 0) {
		pair_fail(p, "standby %s is not usable: qom-get failover: %s", p->standby_id,
			  err->desc);
		return;
	}
	/* The connection checked the type: a boolean. */
	if (qmp_value_bool(*ret, &on) < 0 || !on) {
		pair_fail(p, "standby %s is a virtio-net-pci without failover=on", p->standby_id);
		return;
	}
	qmp_args_init(&args);
	qmp_args_add_string(&args, "path", p->standby_path);
	qmp_args_add_string(&args, "property", "mac");
	r = pair_call(p, "qom-get", &args, json_type_string, attach_on_standby_mac);
	if (r < 0)
		pair_fail(p, "cannot query standby %s: %s", p->standby_id, strerror(-r));
}

static void attach_check_standby(Pair *p)
{
	QmpArgs args;
	int r;

	qmp_args_init(&args);
	qmp_args_add_string(&args, "path", p->standby_path);
	qmp_args_add_string(&args, "property", "failover");
	r = pair_call(p, "qom-get", &args, json_type_boolean, attach_on_standby_failover);
	if (r < 0)
		pair_fail(p, "cannot query standby %s: %s", p->standby_id, strerror(-r));
}

static void standby_on_device_add(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				  void *ud)
{
	Pair *p = ud;

	if (pair_call_aborted(p, r))
		return;
	if (r < 0 && !(r == -EREMOTEIO && strstr(err->desc, "Duplicate ID"))) {
		pair_fail(p, "hotplugging standby %s failed: %s", p->standby_id, err->desc);
		return;
	}
	attach_check_standby(p);
}

static void standby_add(Pair *p)
{
	QmpArgs args;
	int r;

	qmp_args_init(&args);
	qmp_args_add_string(&args, "driver", "virtio-net-pci");
	qmp_args_add_string(&args, "id", p->standby_id);
	qmp_args_add_string(&args, "netdev", p->config.standby_netdev);
	qmp_args_add_string(&args, "mac", p->mac_str);
	qmp_args_add_bool(&args, "failover", true);
	qmp_args_add_string(&args, "bus", p->standby_bus);
	r = pair_call(p, "device_add", &args, json_type_object, standby_on_device_add);
	if (r < 0)
		pair_fail(p, "cannot send device_add: %s", strerror(-r));
}

static void standby_on_port(Instance *i, int r, const char *port, const char *why, void *ud)
{
	Pair *p = ud;

	if (p->removed || pair_call_aborted(p, r)) {
		pair_unref(p);
		return;
	}
	if (r < 0) {
		pair_fail(p, "no port for the standby: %s", why);
	} else {
		snprintf(p->standby_bus, sizeof(p->standby_bus), "%s", port);
		standby_add(p);
	}
	pair_unref(p);
}

/* The attach chain; started only by pair_check_state(). */
static void attach_start(Pair *p)
{
	char err[256] = "";
	int r;

	if (p->busy || p->removed || p->detach_requested)
		return;
	p->attach_wanted = false;
	if (!p->instance->ready) {
		pair_set_state(p, PAIR_WAITING, "QEMU instance %s is not connected",
			       p->instance->name);
		return;
	}
	if (p->instance->migrating_in && !p->instance->prepare_incoming && !p->guest_negotiated) {
		pair_set_state(p, PAIR_WAITING,
			       "destination not prepared: plugging when the guest negotiates");
		return;
	}
	if (p->has_vf && p->retry_ms && !pair_qemu_may_hold(p)) {
		/* Its release failed half-way: never plug a VF in that state; finish it first. */
		pair_finish_release(p, p->release_reason);
		if (p->has_vf) {
			p->attach_wanted = true; /* pair_check_state() attaches once it is back */
			return;
		}
	}
	p->busy = true;
	if (!p->has_vf) {
		r = pair_env(p)->ops->acquire_vf(pair_env(p)->userdata, p, &p->vf, err,
						 sizeof(err));
		if (r < 0) {
			p->busy = false;
			pair_set_state(p, PAIR_FAILED, "%s", err);
			return;
		}
		p->has_vf = true;
		pair_dirty(p);
	}
	if (p->config.standby[0]) {
		attach_check_standby(p);
		return;
	}
	if (p->config.standby_bus[0]) {
		/* The admin chose the port: use it as is, QEMU will say if it is taken. */
		snprintf(p->standby_bus, sizeof(p->standby_bus), "%s", p->config.standby_bus);
		standby_add(p);
		return;
	}
	attach_find_port(p, p->standby_bus, standby_on_port);
}

void pair_attach(Pair *p)
{
	if (p->busy || p->removed || p->detach_requested)
		return;
	p->attach_wanted = true;
	pair_check_state(p);
}

/*
 * The one place that decides what a pair does next once nothing is in
 * flight (a chain, a migration, an unplug): called wherever one ends and
 * wherever an attach is asked for. What is wanted (detach_requested,
 * attach_wanted) against what is (state, VF, QEMU's hold): a detach asked
 * meanwhile goes on, a released ad-hoc or retired pair is forgotten, an
 * attach starts - at once, or once a failed VF release has finished.
 */
static void pair_check_state(Pair *p)
{
	if (p->removed || p->busy)
		return;
	if (!p->detach_requested) {
		if (p->attach_wanted)
			attach_start(p);
		return;
	}
	p->attach_wanted = false;
	switch (p->state) {
	case PAIR_RELEASED:
		if (!p->has_vf && p->config.adhoc)
			pair_env(p)->ops->pair_done(pair_env(p)->userdata, p);
		break;
	case PAIR_UNPLUGGING:
	case PAIR_MIGRATING:
	case PAIR_MIGRATED:
	case PAIR_DETACHING:
		break; /* the migration or the unplug in flight decides */
	default:
		pair_detach(p);
		break;
	}
}

static void detach_on_device_del(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				 void *ud)
{
	Pair *p = ud;

	if (pair_call_aborted(p, r))
		return;
	p->busy = false;
	if (r == -EREMOTEIO && strcmp(err->klass, "DeviceNotFound") == 0) {
		/*
		 * docs/qemu-failover.md §hidden: a hidden primary cannot be deleted, and
		 * QEMU plugs it (with our VF) as soon as the guest negotiates.
		 */
		pair_set_state(p, PAIR_DETACHING,
			       "primary %s is hidden by QEMU (the guest has not negotiated) and "
			       "cannot be removed: VF %s stays held until the guest negotiates "
			       "or QEMU exits",
			       p->primary_id, p->vf.id);
		return;
	}
	if (r < 0) {
		pair_set_state(p, PAIR_DETACHING, "device_del of %s failed: %s; VF %s stays held",
			       p->primary_id, err ? err->desc : strerror(-r), p->vf.id);
		return;
	}
	/* Wait for DEVICE_DELETED: the guest must release the device first. */
	pair_timer_start(p, PAIR_TIMER_DETACH, p->instance->unplug_timeout_ms);
}

static void detach_send(Pair *p)
{
	QmpArgs args;
	int r;

	qmp_args_init(&args);
	qmp_args_add_string(&args, "id", p->primary_id);
	p->busy = true;
	r = pair_call(p, "device_del", &args, json_type_object, detach_on_device_del);
	if (r < 0) {
		p->busy = false;
		pair_set_state(p, PAIR_DETACHING, "cannot send device_del: %s; VF %s stays held",
			       strerror(-r), p->vf.id);
		return;
	}
	pair_set_state(p, PAIR_DETACHING, "waiting for the guest to release primary %s",
		       p->primary_id);
}

void pair_detach(Pair *p)
{
	if (p->removed)
		return;
	if (!p->detach_requested) {
		p->detach_requested = true;
		pair_dirty(p);
	}
	if (p->busy)
		return; /* the running chain ends in pair_check_state() */
	switch (p->state) {
	case PAIR_UNPLUGGING:
	case PAIR_MIGRATING:
	case PAIR_MIGRATED:
		return; /* a migration holds the primary: decided when it ends */
	default:
		break;
	}
	if (!pair_qemu_may_hold(p)) {
		pair_finish_release(p, p->instance->ready ? "detached"
							  : "detached while QEMU was away");
		return;
	}
	if (!p->instance->ready) {
		pair_set_state(p, PAIR_DETACHING,
			       "detach waits for QEMU's monitor: VF %s stays held while QEMU may "
			       "hold primary %s",
			       p->vf.id, p->primary_id);
		return;
	}
	detach_send(p);
}

static void pair_set_config(Pair *p, const PairConfig *config);

void pair_reattach(Pair *p, const PairConfig *config)
{
	if (p->removed || p->has_vf)
		return;
	if (config)
		pair_set_config(p, config); /* a new MAC or standby: names derived anew */
	p->detach_requested = false;
	pair_dirty(p);
	pair_attach(p);
}

void pair_retire(Pair *p)
{
	/* Persisted like an ad-hoc pair until QEMU lets go of its VF, then forgotten. */
	p->config.adhoc = p->config.retired = true;
	pair_detach(p);
}

/* --- events --- */

static void negotiated_on_presence(Pair *p, int r, bool present)
{
	if (r < 0 || p->state == PAIR_DETACHING)
		return;
	if (present) {
		pair_note_plugged(p);
		pair_set_state(p, PAIR_ACTIVE, NULL);
		return;
	}
	/* A bad host address only shows as a QEMU stderr warning (docs/qemu-failover.md §hidden).
	 */
	pair_fail(p, "guest negotiated but primary %s (%s %s) did not appear in QEMU",
		  p->primary_id, p->vf.driver, p->vf.id);
}

void pair_on_failover_negotiated(Pair *p, const QmpTimestamp *ts)
{
	p->guest_negotiated = true;
	switch (p->state) {
	case PAIR_STAGED:
	case PAIR_INCOMING:
		pair_timer_stop(p);
		pair_check_presence(p, negotiated_on_presence);
		break;
	case PAIR_WAITING:
		pair_timer_stop(p);
		/* Destination without preparation, or a late-negotiating guest. */
		if (p->primary_added)
			pair_check_presence(p, negotiated_on_presence);
		else if (!p->instance->migrating_in)
			pair_attach(p);
		break;
	case PAIR_DETACHING:
		/* The hidden primary is realized now: it can be unplugged at last. */
		if (!p->busy && p->instance->ready && pair_qemu_may_hold(p))
			detach_send(p);
		break;
	default:
		/* Not a state change, but GuestNegotiated is shown. */
		pair_notify(p, _PAIR_STATE_MAX);
		break;
	}
}

void pair_on_reset(Pair *p)
{
	/* The guest starts over: it negotiates again when its driver loads. */
	if (!p->guest_negotiated)
		return;
	p->guest_negotiated = false;
	pair_notify(p, _PAIR_STATE_MAX);
}

void pair_on_unplug_primary(Pair *p, const QmpTimestamp *ts)
{
	const char *run = p->instance->run_status;

	if (p->state != PAIR_ACTIVE)
		return;
	p->ts_unplug = *ts;
	p->eject_pending = true;
	if (strcmp(run, "running") != 0) {
		/*
		 * Only a running guest can release the primary, and QEMU's
		 * wait-unplug has no end of its own: waiting for UnplugTimeoutSec=
		 * would only delay the same outcome (docs/pairs.md, "A migration
		 * that starts with the guest paused").
		 */
		pair_set_state(p, PAIR_UNPLUGGING,
			       "migration started with the guest %s: it cannot release the "
			       "primary, so the migration cannot complete; cancelled at once "
			       "(pause the guest only after the primary is unplugged)",
			       run);
		log_pair_warning(p, "%s", p->reason);
		instance_call(p->instance, "migrate_cancel", NULL, json_type_object, NULL, NULL);
		return;
	}
	pair_set_state(p, PAIR_UNPLUGGING, "migration started: guest is unplugging the primary");
	pair_timer_start(p, PAIR_TIMER_UNPLUG, p->instance->unplug_timeout_ms);
}

static void cancelled_on_presence(Pair *p, int r, bool present)
{
	if (r < 0)
		return;
	if (present) {
		pair_set_state(p, PAIR_ACTIVE, "%s", p->reason);
		pair_check_state(p);
		return;
	}
	if (p->detach_requested) {
		/* Gone for good and not wanted back: the VF is free. */
		p->primary_added = false;
		pair_finish_release(p, "detached after the migration ended");
		return;
	}
	/* Gone for good: plug it again under the same id (docs/qemu-failover.md §one-primary). */
	p->primary_added = false;
	pair_attach(p);
}

void pair_on_migration(Pair *p, const char *status, const QmpTimestamp *ts)
{
	if (strcmp(status, "active") == 0) {
		if (p->state == PAIR_UNPLUGGING) {
			pair_timer_stop(p);
			p->eject_pending = false;
			pair_set_state(p, PAIR_MIGRATING, "guest released the primary");
		}
	} else if (strcmp(status, "completed") == 0) {
		if (p->state == PAIR_MIGRATING || p->state == PAIR_UNPLUGGING) {
			pair_timer_stop(p);
			if (p->ts_unplug.seconds)
				p->degraded_ms = ts_ms(ts) - ts_ms(&p->ts_unplug);
			pair_set_state(p, PAIR_MIGRATED,
				       "migration completed; VF held until the source QEMU exits");
		} else if (p->instance->migrating_in) {
			p->ts_incoming = *ts;
			if (p->state == PAIR_WAITING && p->guest_negotiated && !p->has_vf)
				pair_attach(p);
		}
	} else if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
		if (p->state == PAIR_UNPLUGGING || p->state == PAIR_MIGRATING) {
			pair_timer_stop(p);
			if (!p->reason[0] || p->state == PAIR_MIGRATING)
				snprintf(p->reason, sizeof(p->reason), "migration %s", status);
			pair_check_presence(p, cancelled_on_presence);
		} else if (p->state == PAIR_DETACHING && !p->busy && p->instance->ready) {
			/* The source plugged its primary back: unplug it again. */
			detach_send(p);
		}
	}
}

void pair_on_device_deleted(Pair *p, const QmpTimestamp *ts)
{
	pair_timer_stop(p);
	p->primary_added = false;
	p->eject_pending = false;
	pair_dirty(p);
	if (p->detach_requested) {
		pair_finish_release(p, "detached");
		return;
	}
	if (p->state == PAIR_MIGRATED) {
		pair_finish_release(p, "primary removed after migration");
		return;
	}
	/* A stale eject finished after a cancel: re-plug under the same id. */
	if (p->state == PAIR_ACTIVE || p->state == PAIR_UNPLUGGING) {
		p->busy = false;
		pair_attach(p);
	}
}

void pair_vf_gone(Pair *p, const char *why)
{
	/* The pool already marked it; QEMU's device is now a dead VF. */
	pair_timer_stop(p);
	p->busy = false;
	p->vf_gone = true;
	pair_set_state(p, PAIR_FAILED, "VF %s disappeared: %s", p->vf.id, why);
}

void pair_instance_refused(Pair *p, const char *why)
{
	pair_timer_stop(p);
	p->busy = false;
	if (!pair_qemu_may_hold(p))
		pair_release_vf(p);
	pair_set_state(p, PAIR_FAILED, "%s", why);
	pair_check_state(p);
}

void pair_instance_lost(Pair *p, const char *why)
{
	/* The QEMU process is gone, and every device it had with it, and its guest. */
	pair_timer_stop(p);
	p->busy = p->attach_wanted = false;
	p->primary_added = p->primary_pending = p->eject_pending = false;
	if (p->guest_negotiated) {
		p->guest_negotiated = false;
		pair_notify(p, _PAIR_STATE_MAX);
	}
	if (p->has_vf) {
		pair_finish_release(p, why);
	} else if (p->state != PAIR_RELEASED && p->state != PAIR_WAITING) {
		pair_set_state(p, p->detach_requested ? PAIR_RELEASED : PAIR_WAITING, "%s", why);
		pair_check_state(p);
	} else {
		pair_check_state(p);
	}
}

/*
 * Migration statuses in which the source's primary is (being) unplugged
 * and the guest may already run elsewhere: never "active" on this side.
 */
static bool migration_in_flight(const char *status)
{
	static const char *const busy[] = {
		"setup",
		"active",
		"device",
		"pre-switchover",
		"wait-unplug",
		"cancelling",
		"postcopy-active",
		"postcopy-paused",
		"postcopy-recover",
		"postcopy-recover-setup",
	};

	for (size_t k = 0; k < sizeof(busy) / sizeof(busy[0]); k++)
		if (strcmp(status, busy[k]) == 0)
			return true;
	return false;
}

/* After a daemon restart: QEMU is the truth, the state file only a hint. */
static void reconcile_decide(Pair *p, bool present)
{
	Instance *i = p->instance;
	const char *ms = i->migration_status;

	if (p->detach_requested) {
		pair_detach(p);
		return;
	}
	if (p->vf_gone) {
		/* Realized or not, QEMU's device is a dead VF: failed until detached or QEMU exits.
		 */
		pair_set_state(p, PAIR_FAILED, "%s", p->reason);
		return;
	}
	if (!present && i->same_qemu && (p->state == PAIR_STAGED || p->state == PAIR_INCOMING)) {
		/*
		 * The QEMU process we added it to still holds our hidden primary:
		 * nothing removes a hidden device (device_del cannot see it). A
		 * pair still "waiting" may have died mid-attach: that one redoes it.
		 */
		if (p->state == PAIR_STAGED)
			pair_timer_start(p, PAIR_TIMER_NEGOTIATE, i->negotiate_timeout_ms);
		return;
	}
	if (!present && !i->migrating_in && migration_in_flight(ms)) {
		/* Unplugged for a migration that is still running: not ours to re-plug. */
		pair_set_state(p, PAIR_MIGRATING, "found migrating (%s) after restart", ms);
		return;
	}
	if (!present) {
		/* Hidden (re-adding the same id replaces it) or QEMU restarted. */
		p->primary_added = false;
		pair_attach(p);
		return;
	}
	if (strcmp(ms, "wait-unplug") == 0) {
		if (p->state != PAIR_UNPLUGGING)
			pair_set_state(p, PAIR_UNPLUGGING, "found in wait-unplug after restart");
		pair_timer_start(p, PAIR_TIMER_UNPLUG, i->unplug_timeout_ms);
	} else if (!i->migrating_in && migration_in_flight(ms)) {
		pair_set_state(p, PAIR_MIGRATING, "found migrating (%s) after restart", ms);
	} else if (strcmp(ms, "completed") == 0 && strcmp(i->run_status, "postmigrate") == 0) {
		if (p->state != PAIR_MIGRATED)
			pair_set_state(p, PAIR_MIGRATED,
				       "migration completed; VF held until the source QEMU exits");
	} else {
		/*
		 * Hidden when we last looked, realized now: the guest negotiated
		 * meanwhile. Realized before: what we saw stands (a RESET while
		 * failoverd was down cannot be seen; docs/pairs.md).
		 */
		if (p->state == PAIR_STAGED || p->state == PAIR_INCOMING ||
		    p->state == PAIR_WAITING)
			p->guest_negotiated = true;
		if (p->state != PAIR_ACTIVE)
			pair_set_state(p, PAIR_ACTIVE, "primary found realized after restart");
	}
}

static void reconcile_on_presence(Pair *p, int r, bool present)
{
	if (r < 0)
		return; /* reconciled when the monitor is back */
	reconcile_decide(p, present);
	if (!p->busy)
		p->reconciling = false; /* decided; a chain it started decides with its outcome */
}

void pair_instance_ready(Pair *p)
{
	if (p->has_vf && pair_qemu_may_hold(p)) {
		p->reconciling = true; /* the monitor was away: QEMU decides */
		pair_check_presence(p, reconcile_on_presence);
		return;
	}
	if (p->detach_requested) {
		pair_detach(p);
		return;
	}
	pair_attach(p);
}

/* A timeout as configuration files write it: "2" seconds, or "300ms". */
static const char *timeout_text(unsigned ms, char buf[24])
{
	snprintf(buf, 24, ms % 1000 ? "%ums" : "%u", ms % 1000 ? ms : ms / 1000);
	return buf;
}

static void pair_on_unplug_timeout(evutil_socket_t fd, short what, void *ud)
{
	Pair *p = ud;
	char t[24];

	pair_timer_fired(p, PAIR_TIMER_UNPLUG);
	if (p->state != PAIR_UNPLUGGING)
		return;
	snprintf(p->reason, sizeof(p->reason),
		 "guest did not finish unplugging the primary within UnplugTimeoutSec=%s; "
		 "migration cancelled",
		 timeout_text(p->instance->unplug_timeout_ms, t));
	log_pair_warning(p, "%s", p->reason);
	instance_call(p->instance, "migrate_cancel", NULL, json_type_object, NULL, NULL);
}

static void pair_on_negotiate_timeout(evutil_socket_t fd, short what, void *ud)
{
	Pair *p = ud;

	pair_timer_fired(p, PAIR_TIMER_NEGOTIATE);
	if (p->state != PAIR_STAGED)
		return;
	p->guest_negotiated = false;
	pair_set_state(p, PAIR_WAITING,
		       "guest has not negotiated VIRTIO_NET_F_STANDBY on %s: it lacks net_failover "
		       "or has not loaded virtio_net; the primary stays hidden",
		       p->standby_id);
	log_pair_warning(p, "%s", p->reason);
}

static void pair_on_detach_timeout(evutil_socket_t fd, short what, void *ud)
{
	Pair *p = ud;
	char t[24];

	pair_timer_fired(p, PAIR_TIMER_DETACH);
	if (p->state != PAIR_DETACHING)
		return;
	/* QEMU still has the device: the VF is not ours to give back yet. */
	pair_set_state(p, PAIR_DETACHING,
		       "the guest has not released primary %s within UnplugTimeoutSec=%s: VF %s "
		       "stays held until it does or QEMU exits",
		       p->primary_id, timeout_text(p->instance->unplug_timeout_ms, t), p->vf.id);
	log_pair_warning(p, "%s", p->reason);
}

/* The configuration, and the names QEMU knows the pair's devices and MAC by. */
static void pair_set_config(Pair *p, const PairConfig *config)
{
	const uint8_t *m = config->mac;

	p->config = *config;
	snprintf(p->standby_tap, sizeof(p->standby_tap), "%s", config->standby_tap);
	snprintf(p->mac_str, sizeof(p->mac_str), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
	snprintf(p->primary_id, sizeof(p->primary_id), "fo-%s", config->name);
	if (config->standby[0])
		snprintf(p->standby_id, sizeof(p->standby_id), "%s", config->standby);
	else
		snprintf(p->standby_id, sizeof(p->standby_id), "fo-%s-standby", config->name);
	snprintf(p->standby_path, sizeof(p->standby_path), "/machine/peripheral/%s", p->standby_id);
}

int pair_new(Pair **out, Instance *instance, const PairConfig *config)
{
	Pair *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->n_ref = 1;
	p->instance = instance;
	pair_set_config(p, config);
	p->detach_requested = config->retired;
	p->state = PAIR_WAITING;
	p->degraded_ms = -1;
	{
		struct event_base *base = instance->env->base;
		static const event_callback_fn fire[_PAIR_TIMER_MAX] = {
			[PAIR_TIMER_NEGOTIATE] = pair_on_negotiate_timeout,
			[PAIR_TIMER_UNPLUG] = pair_on_unplug_timeout,
			[PAIR_TIMER_DETACH] = pair_on_detach_timeout,
		};
		bool ok = true;

		for (int k = 0; k < _PAIR_TIMER_MAX; k++)
			ok = (p->timers[k] = evtimer_new(base, fire[k], p)) && ok;
		p->retry = evtimer_new(base, pair_on_retry, p);
		if (!ok || !p->retry) {
			pair_unref(p); /* frees what was made */
			return -ENOMEM;
		}
	}
	*out = p;
	return 0;
}

/* Unlinked from its instance: nothing may act on it any more. */
Pair *pair_free(Pair *p)
{
	if (!p)
		return NULL;
	p->removed = true;
	pair_timer_stop(p);
	evtimer_del(p->retry);
	return pair_unref(p);
}
