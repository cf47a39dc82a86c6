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

static bool props_have(json_object *ret, const char *name)
{
	size_t n;

	if (!ret || !json_object_is_type(ret, json_type_array))
		return false;
	n = json_object_array_length(ret);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(ret, i), *v;

		if (json_object_object_get_ex(e, "name", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), name) == 0)
			return true;
	}
	return false;
}

static bool schema_has_event(json_object *ret, const char *name)
{
	size_t n;

	if (!ret || !json_object_is_type(ret, json_type_array))
		return false;
	n = json_object_array_length(ret);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(ret, i), *v, *m;

		if (json_object_object_get_ex(e, "meta-type", &m) &&
		    json_object_is_type(m, json_type_string) &&
		    strcmp(json_object_get_string(m), "event") == 0 &&
		    json_object_object_get_ex(e, "name", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), name) == 0)
			return true;
	}
	return false;
}

static void probe_on_schema(QmpConn *c, int r, json_object *ret, const QmpError *err, void *ud)
{
	Probe *p = ud;
	char why[600];

	if (r < 0) {
		snprintf(why, sizeof(why), "query-qmp-schema failed: %s", err->desc);
		probe_finish(c, p, r, why);
		return;
	}
	p->result.event_unplug_primary = schema_has_event(ret, "UNPLUG_PRIMARY");
	p->result.event_failover_negotiated = schema_has_event(ret, "FAILOVER_NEGOTIATED");
	probe_finish(c, p, 0, NULL);
}

static int probe_next(QmpConn *c, Probe *p, const char *command, json_object *args, QmpReplyFn fn)
{
	char why[128];
	int r = qmp_conn_call(c, command, args, 0, fn, p);

	if (r < 0) {
		snprintf(why, sizeof(why), "cannot send %s: %s", command, strerror(-r));
		probe_finish(c, p, r, why);
	}
	return r;
}

/* A QEMU without the primary's driver (e.g. no vfio-pci) is a "missing". */
static void probe_on_primary(QmpConn *c, int r, json_object *ret, const QmpError *err, void *ud)
{
	Probe *p = ud;
	char why[600];

	if (r < 0 && r != -EREMOTEIO) {
		snprintf(why, sizeof(why), "device-list-properties %s failed: %s",
			 p->primary_driver, err->desc);
		probe_finish(c, p, r, why);
		return;
	}
	p->result.primary_pair_id = r == 0 && props_have(ret, "failover_pair_id");
	probe_next(c, p, "query-qmp-schema", NULL, probe_on_schema);
}

static void probe_on_standby(QmpConn *c, int r, json_object *ret, const QmpError *err, void *ud)
{
	Probe *p = ud;
	json_object *args;
	char why[600];

	if (r < 0 && r != -EREMOTEIO) {
		snprintf(why, sizeof(why), "device-list-properties virtio-net-pci failed: %s",
			 err->desc);
		probe_finish(c, p, r, why);
		return;
	}
	p->result.standby_failover = r == 0 && props_have(ret, "failover");
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
	r = qmp_conn_call(c, "device-list-properties", args, 0, probe_on_standby, p);
	if (r < 0)
		free(p);
	return r;
}
