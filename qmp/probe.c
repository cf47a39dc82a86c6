/* Capability probe: does this QEMU support virtio-net failover at all? */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"

typedef struct Probe {
	QmpProbe result;
	char primary_driver[64];
	QmpProbeFn fn;
	void *userdata;
} Probe;

static void probe_finish(QmpConn *c, Probe *p, int r, const char *reason)
{
	char why[512];

	if (r == 0) {
		QmpProbe *q = &p->result;
		const struct {
			bool have;
			const char *what;
		} need[] = {
			{ q->standby_failover, "virtio-net-pci property 'failover'" },
			{ q->primary_pair_id, "primary property 'failover_pair_id'" },
			{ q->event_unplug_primary, "event UNPLUG_PRIMARY" },
			{ q->event_failover_negotiated, "event FAILOVER_NEGOTIATED" },
		};
		size_t n = 0;

		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
			if (need[i].have)
				continue;
			n += (size_t)snprintf(q->missing + n,
					      n < sizeof(q->missing) ? sizeof(q->missing) - n : 0,
					      "%s%s", n ? ", " : "", need[i].what);
			if (n >= sizeof(q->missing))
				n = sizeof(q->missing) - 1;
		}
		if (q->missing[0]) {
			snprintf(why, sizeof(why),
				 "QEMU %d.%d.%d lacks failover support: missing %s",
				 q->version.major, q->version.minor, q->version.micro, q->missing);
			r = -EOPNOTSUPP;
			reason = why;
		}
	}
	p->fn(c, r, &p->result, reason, p->userdata);
	free(p);
}

/*
 * @ret (an array, checked by the connection) has an entry named @name, of
 * @meta_type unless NULL: 1 or 0; -EBADMSG with @why when an entry lacks a
 * string "name" (or "meta-type") and the answer cannot be trusted.
 */
static int list_has(const QmpValue *ret, const char *name, const char *meta_type, char *why,
		    size_t size)
{
	QmpIter it;
	size_t i = 0;
	int found = 0;

	for (bool more = qmp_iter_init(&it, *ret); more; more = qmp_iter_next(&it), i++) {
		const char *v = qmp_value_get_string(it.v, "name");
		const char *m = meta_type ? qmp_value_get_string(it.v, "meta-type") : NULL;

		if (!v || (meta_type && !m)) {
			snprintf(why, size, "entry %zu has no string '%s'", i,
				 v ? "meta-type" : "name");
			return -EBADMSG;
		}
		if (strcmp(v, name) == 0 && (!meta_type || strcmp(m, meta_type) == 0))
			found = 1;
	}
	return found;
}

static void probe_on_schema(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Probe *p = ud;
	char why[600], bad[128];
	int unplug, negotiated;

	if (r < 0) {
		snprintf(why, sizeof(why), "query-qmp-schema failed: %s", err->desc);
		probe_finish(c, p, r, why);
		return;
	}
	unplug = list_has(ret, "UNPLUG_PRIMARY", "event", bad, sizeof(bad));
	negotiated = list_has(ret, "FAILOVER_NEGOTIATED", "event", bad, sizeof(bad));
	if (unplug < 0 || negotiated < 0) {
		snprintf(why, sizeof(why), "query-qmp-schema failed: %s", bad);
		probe_finish(c, p, -EBADMSG, why);
		return;
	}
	p->result.event_unplug_primary = unplug;
	p->result.event_failover_negotiated = negotiated;
	probe_finish(c, p, 0, NULL);
}

static int probe_next(QmpConn *c, Probe *p, const char *command, json_object *args, QmpReplyFn fn)
{
	char why[128];
	int r = qmp_conn_call(c, command, args, json_type_array, 0, fn, p);

	if (r < 0) {
		snprintf(why, sizeof(why), "cannot send %s: %s", command, strerror(-r));
		probe_finish(c, p, r, why);
	}
	return r;
}

/*
 * A device-list-properties answer: 1 or 0 for whether @driver has @prop, a
 * QEMU without @driver (an error reply) counting as "no"; <0 with @why when
 * the probe cannot go on.
 */
static int props_answer(int r, const QmpValue *ret, const QmpError *err, const char *driver,
			const char *prop, char *why, size_t size)
{
	char bad[128];

	if (r == -EREMOTEIO)
		return 0;
	if (r == 0 && (r = list_has(ret, prop, NULL, bad, sizeof(bad))) >= 0)
		return r;
	snprintf(why, size, "device-list-properties %s failed: %s", driver,
		 r == -EBADMSG && !err ? bad : err->desc);
	return r;
}

/* A QEMU without the primary's driver (e.g. no vfio-pci) is a "missing". */
static void probe_on_primary(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Probe *p = ud;
	char why[600];

	r = props_answer(r, ret, err, p->primary_driver, "failover_pair_id", why, sizeof(why));
	if (r < 0) {
		probe_finish(c, p, r, why);
		return;
	}
	p->result.primary_pair_id = r;
	probe_next(c, p, "query-qmp-schema", NULL, probe_on_schema);
}

static void probe_on_standby(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Probe *p = ud;
	json_object *args;
	char why[600];

	r = props_answer(r, ret, err, "virtio-net-pci", "failover", why, sizeof(why));
	if (r < 0) {
		probe_finish(c, p, r, why);
		return;
	}
	p->result.standby_failover = r;
	args = json_object_new_object();
	json_object_object_add(args, "typename", json_object_new_string(p->primary_driver));
	probe_next(c, p, "device-list-properties", args, probe_on_primary);
}

int qmp_probe_start(QmpConn *c, const char *primary_driver, QmpProbeFn fn, void *userdata)
{
	json_object *args;
	Probe *p;
	int r;

	if (!primary_driver || strlen(primary_driver) >= sizeof(p->primary_driver))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->result.version = *qmp_conn_get_version(c);
	snprintf(p->primary_driver, sizeof(p->primary_driver), "%s", primary_driver);
	p->fn = fn;
	p->userdata = userdata;

	args = json_object_new_object();
	json_object_object_add(args, "typename", json_object_new_string("virtio-net-pci"));
	r = qmp_conn_call(c, "device-list-properties", args, json_type_array, 0, probe_on_standby,
			  p);
	if (r < 0)
		free(p);
	return r;
}
