/*
 * The pair state machine. QEMU is the truth: every step that matters is
 * verified over QMP (qom-list) rather than assumed from a reply.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/instance.h"
#include "daemon/manager.h"
#include "daemon/pair.h"

static const char *const state_names[_PAIR_STATE_MAX] = {
	[PAIR_WAITING] = "waiting",	[PAIR_STAGED] = "staged",
	[PAIR_ACTIVE] = "active",	[PAIR_UNPLUGGING] = "unplugging",
	[PAIR_MIGRATING] = "migrating", [PAIR_MIGRATED] = "migrated",
	[PAIR_INCOMING] = "incoming",	[PAIR_RELEASED] = "released",
	[PAIR_FAILED] = "failed",
};

const char *pair_state_to_string(PairState s)
{
	return s < _PAIR_STATE_MAX ? state_names[s] : "invalid";
}

int pair_state_from_string(const char *s)
{
	for (int i = 0; i < _PAIR_STATE_MAX; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -EINVAL;
}

static Manager *pair_manager(Pair *p)
{
	return p->instance->manager;
}

static const Log *pair_log(Pair *p)
{
	return manager_get_log(pair_manager(p));
}

static void pair_set_state(Pair *p, PairState to, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pair_set_state(Pair *p, PairState to, const char *fmt, ...)
{
	PairState from = p->state;
	char reason[sizeof(p->reason)] = "";
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
		manager_save_pair(pair_manager(p), p);
		return;
	}
	memcpy(p->reason, reason, sizeof(reason));
	p->state = to;
	manager_pair_changed(pair_manager(p), p, from);
}

static void pair_timer_stop(Pair *p)
{
	if (p->timer)
		evtimer_del(p->timer);
}

static void pair_timer_start(Pair *p, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(p->timer, &tv);
}

/* Gives the VF back to its pool; logs and keeps going on failure. */
static void pair_release_vf(Pair *p)
{
	char err[256] = "";
	int r;

	if (!p->has_vf)
		return;
	r = manager_release_vf(pair_manager(p), p, err, sizeof(err));
	if (r < 0)
		log_error(pair_log(p), "pair %s/%s: releasing VF %s failed: %s", p->instance->name,
			  p->config.name, p->vf.id, err);
	p->has_vf = false;
	memset(&p->vf, 0, sizeof(p->vf));
	manager_save_pair(pair_manager(p), p);
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
	if (!p->primary_added)
		pair_release_vf(p);
	pair_set_state(p, PAIR_FAILED, "%s", why);
}

/* --- verification: is the primary realized in QEMU? --- */

typedef void (*PresenceFn)(Pair *p, int r, bool present);

typedef struct Presence {
	Pair *pair;
	PresenceFn fn;
} Presence;

static void presence_on_list(QmpConn *c, int r, json_object *ret, const QmpError *err, void *ud)
{
	Presence *q = ud;
	bool present = false;

	if (r == -ECANCELED) {
		free(q);
		return;
	}
	if (r == -EBADMSG) {
		pair_fail(q->pair, "qom-list /machine/peripheral: %s", err->desc);
		free(q);
		return;
	}
	if (r == 0) {
		size_t n = json_object_array_length(ret);

		for (size_t k = 0; k < n && !present; k++) {
			const char *name =
				qmp_json_get_string(json_object_array_get_idx(ret, k), "name");

			/* An answer we cannot read proves nothing either way. */
			if (!name) {
				pair_fail(q->pair,
					  "qom-list /machine/peripheral: entry %zu has no string "
					  "'name'",
					  k);
				free(q);
				return;
			}
			present = strcmp(name, q->pair->primary_id) == 0;
		}
	}
	q->fn(q->pair, r, present);
	free(q);
}

static void pair_check_presence(Pair *p, PresenceFn fn)
{
	Presence *q = calloc(1, sizeof(*q));
	json_object *args = json_object_new_object();
	int r;

	if (!q) {
		json_object_put(args);
		fn(p, -ENOMEM, false);
		return;
	}
	q->pair = p;
	q->fn = fn;
	json_object_object_add(args, "path", json_object_new_string("/machine/peripheral"));
	r = instance_call(p->instance, "qom-list", args, json_type_array, presence_on_list, q);
	if (r < 0) {
		free(q);
		fn(p, r, false);
	}
}

/* --- attach --- */

static void attach_on_presence(Pair *p, int r, bool present)
{
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
		/* The guest had negotiated already: QEMU plugged it at once. */
		p->guest_negotiated = true;
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
	pair_timer_start(p, p->instance->negotiate_timeout_ms);
}

static void attach_on_device_add(QmpConn *c, int r, json_object *ret, const QmpError *err, void *ud)
{
	Pair *p = ud;

	if (r == -ECANCELED)
		return;
	if (r < 0) {
		/* "Duplicate ID": this QEMU still holds our primary (hidden). */
		if (r == -EREMOTEIO && strstr(err->desc, "Duplicate ID")) {
			p->primary_added = true;
			pair_check_presence(p, attach_on_presence);
			return;
		}
		pair_fail(p, "device_add of primary %s (%s %s) on %s failed: %s", p->primary_id,
			  p->vf.driver, p->vf.id, p->primary_bus, err->desc);
		return;
	}
	p->primary_added = true;
	manager_save_pair(pair_manager(p), p);
	manager_checkpoint(pair_manager(p), "primary-added");
	pair_check_presence(p, attach_on_presence);
}

static void attach_add_primary(Pair *p)
{
	json_object *args = json_object_new_object();
	int r;

	json_object_object_add(args, "driver", json_object_new_string(p->vf.driver));
	json_object_object_add(args, "id", json_object_new_string(p->primary_id));
	json_object_object_add(args, "bus", json_object_new_string(p->primary_bus));
	json_object_object_add(args, "failover_pair_id", json_object_new_string(p->standby_id));
	if (p->vf.emulated) {
		/* SPEC §4: no netdev and no ROM, or migration breaks. */
		json_object_object_add(args, "mac", json_object_new_string(p->mac_str));
		json_object_object_add(args, "romfile", json_object_new_string(""));
	} else {
		json_object_object_add(args, "host", json_object_new_string(p->vf.id));
	}
	r = instance_call(p->instance, "device_add", args, json_type_object, attach_on_device_add,
			  p);
	if (r < 0)
		pair_fail(p, "cannot send device_add: %s", strerror(-r));
}

static void attach_on_port(Instance *i, int r, const char *port, const char *why, void *ud)
{
	Pair *p = ud;

	if (r == -ECANCELED)
		return;
	if (r < 0) {
		pair_fail(p, "%s", why);
		return;
	}
	attach_add_primary(p);
}

static void attach_on_standby_mac(QmpConn *c, int r, json_object *ret, const QmpError *err,
				  void *ud)
{
	Pair *p = ud;

	if (r == -ECANCELED)
		return;
	if (r < 0) {
		pair_fail(p, "cannot read the MAC of standby %s: qom-get mac: %s", p->standby_id,
			  err->desc);
		return;
	}
	if (strcasecmp(json_object_get_string(ret), p->mac_str) != 0) {
		pair_fail(p, "MAC mismatch: standby %s has %s, pair %s wants %s", p->standby_id,
			  json_object_get_string(ret), p->config.name, p->mac_str);
		return;
	}
	if (p->config.primary_bus[0]) {
		/* The admin chose the port: use it as is, QEMU will say if it is taken. */
		snprintf(p->primary_bus, sizeof(p->primary_bus), "%s", p->config.primary_bus);
		attach_add_primary(p);
		return;
	}
	r = instance_find_free_port(p->instance, p->primary_bus, sizeof(p->primary_bus),
				    attach_on_port, p);
	if (r < 0)
		pair_fail(p, "cannot look for a free pcie-root-port: %s", strerror(-r));
}

static void attach_on_standby_failover(QmpConn *c, int r, json_object *ret, const QmpError *err,
				       void *ud)
{
	Pair *p = ud;
	json_object *args;

	if (r == -ECANCELED)
		return;
	if (r < 0) {
		pair_fail(p, "standby %s is not usable: qom-get failover: %s", p->standby_id,
			  err->desc);
		return;
	}
	if (!json_object_get_boolean(ret)) {
		pair_fail(p, "standby %s is a virtio-net-pci without failover=on", p->standby_id);
		return;
	}
	args = json_object_new_object();
	json_object_object_add(args, "path", json_object_new_string(p->standby_path));
	json_object_object_add(args, "property", json_object_new_string("mac"));
	r = instance_call(p->instance, "qom-get", args, json_type_string, attach_on_standby_mac, p);
	if (r < 0)
		pair_fail(p, "cannot query standby %s: %s", p->standby_id, strerror(-r));
}

static void attach_check_standby(Pair *p)
{
	json_object *args = json_object_new_object();
	int r;

	snprintf(p->standby_path, sizeof(p->standby_path), "/machine/peripheral/%s", p->standby_id);
	json_object_object_add(args, "path", json_object_new_string(p->standby_path));
	json_object_object_add(args, "property", json_object_new_string("failover"));
	r = instance_call(p->instance, "qom-get", args, json_type_boolean,
			  attach_on_standby_failover, p);
	if (r < 0)
		pair_fail(p, "cannot query standby %s: %s", p->standby_id, strerror(-r));
}

static void standby_on_device_add(QmpConn *c, int r, json_object *ret, const QmpError *err,
				  void *ud)
{
	Pair *p = ud;

	if (r == -ECANCELED)
		return;
	if (r < 0 && !(r == -EREMOTEIO && strstr(err->desc, "Duplicate ID"))) {
		pair_fail(p, "hotplugging standby %s failed: %s", p->standby_id, err->desc);
		return;
	}
	attach_check_standby(p);
}

static void standby_on_port(Instance *i, int r, const char *port, const char *why, void *ud)
{
	Pair *p = ud;
	json_object *args;

	if (r == -ECANCELED)
		return;
	if (r < 0) {
		pair_fail(p, "no port for the standby: %s", why);
		return;
	}
	args = json_object_new_object();
	json_object_object_add(args, "driver", json_object_new_string("virtio-net-pci"));
	json_object_object_add(args, "id", json_object_new_string(p->standby_id));
	json_object_object_add(args, "netdev", json_object_new_string(p->config.standby_netdev));
	json_object_object_add(args, "mac", json_object_new_string(p->mac_str));
	json_object_object_add(args, "failover", json_object_new_boolean(true));
	json_object_object_add(args, "bus", json_object_new_string(p->standby_bus));
	r = instance_call(p->instance, "device_add", args, json_type_object, standby_on_device_add,
			  p);
	if (r < 0)
		pair_fail(p, "cannot send device_add: %s", strerror(-r));
}

void pair_attach(Pair *p)
{
	char err[256] = "";
	int r;

	if (p->busy)
		return;
	p->detach_requested = false;
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
	p->busy = true;
	if (!p->has_vf) {
		r = manager_acquire_vf(pair_manager(p), p, err, sizeof(err));
		if (r < 0) {
			p->busy = false;
			pair_set_state(p, PAIR_FAILED, "%s", err);
			return;
		}
		p->has_vf = true;
		manager_save_pair(pair_manager(p), p);
	}
	if (p->config.standby[0]) {
		attach_check_standby(p);
		return;
	}
	if (p->config.standby_bus[0]) {
		/* The admin chose the port: use it as is, QEMU will say if it is taken. */
		snprintf(p->standby_bus, sizeof(p->standby_bus), "%s", p->config.standby_bus);
		standby_on_port(p->instance, 0, p->standby_bus, NULL, p);
		return;
	}
	r = instance_find_free_port(p->instance, p->standby_bus, sizeof(p->standby_bus),
				    standby_on_port, p);
	if (r < 0)
		pair_fail(p, "cannot look for a free pcie-root-port: %s", strerror(-r));
}

/* --- detach --- */

static void detach_finish(Pair *p, const char *why)
{
	p->busy = false;
	p->primary_added = false;
	pair_timer_stop(p);
	pair_release_vf(p);
	pair_set_state(p, PAIR_RELEASED, "%s", why);
}

static void detach_on_device_del(QmpConn *c, int r, json_object *ret, const QmpError *err, void *ud)
{
	Pair *p = ud;

	if (r == -ECANCELED)
		return;
	if (r == -EREMOTEIO && strcmp(err->klass, "DeviceNotFound") == 0) {
		/* SPEC §4: a hidden primary cannot be deleted; nothing holds the VF. */
		detach_finish(p, "primary was hidden (guest never negotiated); QEMU keeps its id");
		return;
	}
	if (r < 0) {
		p->busy = false;
		pair_set_state(p, p->state, "device_del of %s failed: %s", p->primary_id,
			       err ? err->desc : strerror(-r));
		return;
	}
	/* Wait for DEVICE_DELETED: the guest must release the device first. */
	pair_timer_start(p, p->instance->unplug_timeout_ms);
}

void pair_detach(Pair *p)
{
	json_object *args;
	int r;

	p->detach_requested = true;
	if (p->busy)
		return; /* the running chain checks detach_requested */
	if (!p->primary_added || !p->instance->ready) {
		detach_finish(p, p->instance->ready ? "detached" : "detached while QEMU was away");
		return;
	}
	p->busy = true;
	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string(p->primary_id));
	r = instance_call(p->instance, "device_del", args, json_type_object, detach_on_device_del,
			  p);
	if (r < 0) {
		p->busy = false;
		pair_set_state(p, p->state, "cannot send device_del: %s", strerror(-r));
	}
}

/* --- events --- */

static void negotiated_on_presence(Pair *p, int r, bool present)
{
	if (r < 0)
		return;
	if (present) {
		pair_set_state(p, PAIR_ACTIVE, NULL);
		return;
	}
	/* A bad host address only shows as a QEMU stderr warning (SPEC §4). */
	pair_fail(p, "guest negotiated but primary %s (%s %s) did not appear in QEMU",
		  p->primary_id, p->vf.driver, p->vf.id);
}

void pair_on_failover_negotiated(Pair *p, const QmpTimestamp *ts)
{
	p->guest_negotiated = true;
	pair_timer_stop(p);
	switch (p->state) {
	case PAIR_STAGED:
	case PAIR_INCOMING:
		pair_check_presence(p, negotiated_on_presence);
		break;
	case PAIR_WAITING:
		/* Destination without preparation, or a late-negotiating guest. */
		if (p->primary_added)
			pair_check_presence(p, negotiated_on_presence);
		else if (!p->instance->migrating_in)
			pair_attach(p);
		break;
	default:
		break;
	}
}

void pair_on_unplug_primary(Pair *p, const QmpTimestamp *ts)
{
	if (p->state != PAIR_ACTIVE)
		return;
	p->ts_unplug = *ts;
	pair_set_state(p, PAIR_UNPLUGGING, "migration started: guest is unplugging the primary");
	pair_timer_start(p, p->instance->unplug_timeout_ms);
}

static void cancelled_on_presence(Pair *p, int r, bool present)
{
	if (r < 0)
		return;
	if (present) {
		pair_set_state(p, PAIR_ACTIVE, "%s", p->reason);
		return;
	}
	/* Gone for good: plug it again under the same id (SPEC §4). */
	p->primary_added = false;
	pair_attach(p);
}

void pair_on_migration(Pair *p, const char *status, const QmpTimestamp *ts)
{
	if (strcmp(status, "active") == 0) {
		if (p->state == PAIR_UNPLUGGING) {
			pair_timer_stop(p);
			pair_set_state(p, PAIR_MIGRATING, "guest released the primary");
		}
	} else if (strcmp(status, "completed") == 0) {
		if (p->state == PAIR_MIGRATING || p->state == PAIR_UNPLUGGING) {
			pair_timer_stop(p);
			pair_set_state(p, PAIR_MIGRATED,
				       "migration completed; VF held until the source QEMU exits");
		} else if (p->instance->migrating_in) {
			p->instance->migrating_in = false;
			if (p->state == PAIR_WAITING && p->guest_negotiated && !p->has_vf)
				pair_attach(p);
		}
	} else if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
		if (p->state == PAIR_UNPLUGGING || p->state == PAIR_MIGRATING) {
			pair_timer_stop(p);
			if (!p->reason[0] || p->state == PAIR_MIGRATING)
				snprintf(p->reason, sizeof(p->reason), "migration %s", status);
			pair_check_presence(p, cancelled_on_presence);
		}
	}
}

void pair_on_device_deleted(Pair *p, const QmpTimestamp *ts)
{
	pair_timer_stop(p);
	p->primary_added = false;
	if (p->detach_requested) {
		detach_finish(p, "detached");
		return;
	}
	if (p->state == PAIR_MIGRATED) {
		pair_release_vf(p);
		pair_set_state(p, PAIR_RELEASED, "primary removed after migration");
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
	pair_set_state(p, PAIR_FAILED, "VF %s disappeared: %s", p->vf.id, why);
}

void pair_instance_refused(Pair *p, const char *why)
{
	pair_timer_stop(p);
	p->busy = false;
	if (!p->primary_added)
		pair_release_vf(p);
	pair_set_state(p, PAIR_FAILED, "%s", why);
}

void pair_instance_lost(Pair *p, const char *why)
{
	pair_timer_stop(p);
	p->busy = false;
	p->primary_added = false;
	if (p->has_vf) {
		pair_release_vf(p);
		pair_set_state(p, PAIR_RELEASED, "%s", why);
	} else if (p->state != PAIR_RELEASED && p->state != PAIR_WAITING) {
		pair_set_state(p, PAIR_WAITING, "%s", why);
	}
}

static bool migration_in_flight(const char *status)
{
	static const char *const busy[] = { "setup",	      "active",	     "device",
					    "pre-switchover", "wait-unplug", "cancelling",
					    "postcopy-active" };

	for (size_t k = 0; k < sizeof(busy) / sizeof(busy[0]); k++)
		if (strcmp(status, busy[k]) == 0)
			return true;
	return false;
}

/* After a daemon restart: QEMU is the truth, the state file only a hint. */
static void reconcile_on_presence(Pair *p, int r, bool present)
{
	Instance *i = p->instance;
	const char *ms = i->migration_status;

	if (r < 0)
		return;
	if (!present && i->same_qemu && (p->state == PAIR_STAGED || p->state == PAIR_INCOMING)) {
		/*
		 * The QEMU process we added it to still holds our hidden primary:
		 * nothing removes a hidden device (device_del cannot see it). A
		 * pair still "waiting" may have died mid-attach: that one redoes it.
		 */
		if (p->state == PAIR_STAGED)
			pair_timer_start(p, i->negotiate_timeout_ms);
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
		pair_timer_start(p, i->unplug_timeout_ms);
	} else if (migration_in_flight(ms) &&
		   (p->state == PAIR_UNPLUGGING || p->state == PAIR_MIGRATING)) {
		pair_set_state(p, PAIR_MIGRATING, "found migrating after restart");
	} else if (strcmp(ms, "completed") == 0 && strcmp(i->run_status, "postmigrate") == 0) {
		if (p->state != PAIR_MIGRATED)
			pair_set_state(p, PAIR_MIGRATED,
				       "migration completed; VF held until the source QEMU exits");
	} else {
		p->guest_negotiated = true;
		if (p->state != PAIR_ACTIVE)
			pair_set_state(p, PAIR_ACTIVE, "primary found realized after restart");
	}
}

void pair_instance_ready(Pair *p)
{
	if (p->has_vf && p->primary_added) {
		pair_check_presence(p, reconcile_on_presence);
		return;
	}
	pair_attach(p);
}

static void pair_on_timer(evutil_socket_t fd, short what, void *ud)
{
	Pair *p = ud;

	switch (p->state) {
	case PAIR_UNPLUGGING:
		snprintf(p->reason, sizeof(p->reason),
			 "guest did not finish unplugging the primary within UnplugTimeoutSec=%u; "
			 "migration cancelled",
			 p->instance->unplug_timeout_ms / 1000);
		log_warning(pair_log(p), "pair %s/%s: %s", p->instance->name, p->config.name,
			    p->reason);
		instance_call(p->instance, "migrate_cancel", NULL, json_type_object, NULL, NULL);
		break;
	case PAIR_STAGED:
		p->guest_negotiated = false;
		pair_set_state(
			p, PAIR_WAITING,
			"guest has not negotiated VIRTIO_NET_F_STANDBY on %s: it lacks "
			"net_failover or has not loaded virtio_net; the primary stays hidden",
			p->standby_id);
		log_warning(pair_log(p), "pair %s/%s: %s", p->instance->name, p->config.name,
			    p->reason);
		break;
	default:
		if (p->detach_requested && p->busy)
			detach_finish(p, "detached; guest did not confirm the unplug in time");
		break;
	}
}

int pair_new(Pair **out, Instance *instance, const PairConfig *config)
{
	Pair *p = calloc(1, sizeof(*p));
	const uint8_t *m = config->mac;

	if (!p)
		return -ENOMEM;
	p->instance = instance;
	p->config = *config;
	p->state = PAIR_WAITING;
	p->degraded_ms = -1;
	snprintf(p->mac_str, sizeof(p->mac_str), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
	snprintf(p->primary_id, sizeof(p->primary_id), "fo-%s", config->name);
	if (config->standby[0])
		snprintf(p->standby_id, sizeof(p->standby_id), "%s", config->standby);
	else
		snprintf(p->standby_id, sizeof(p->standby_id), "fo-%s-standby", config->name);
	p->timer = evtimer_new(manager_get_event_base(instance->manager), pair_on_timer, p);
	if (!p->timer) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

Pair *pair_free(Pair *p)
{
	if (!p)
		return NULL;
	event_free(p->timer);
	free(p);
	return NULL;
}
