/*
 * qemu-double: a TEST DOUBLE of one QEMU process for the model tier
 * (docs/model-tier.md). It is not QEMU and runs no guest.
 *
 * One double process stands for one QEMU process: failoverd checks
 * /proc/PID/comm (it must start with "qemu") and the start time, so pid and
 * start time are real. It speaks QMP the way QEMU 10 does for virtio-net
 * failover (hidden primaries, FAILOVER_NEGOTIATED, UNPLUG_PRIMARY and the
 * migration states on both ends, migrate_cancel with a guest that does not
 * eject, RESET), and it knows at every instant which primaries it holds and
 * with which VF. An emulated primary's device_add names no host address, so
 * the double reads the daemon's allocation record of the pair (owner
 * "<instance>/<pair>", the pair being the primary id minus "fo-") at the
 * moment it accepts the device_add: that slot is what it holds from then on.
 *
 * The guest is simulated too: it negotiates VIRTIO_NET_F_STANDBY, reboots,
 * pauses and runs when told to over the control socket, and a running guest
 * ejects a primary --eject-ms after QEMU asked it to.
 *
 *   qemu-double --name NAME --ctl SOCK --state-dir DIR (--qmp SOCK | --dial SOCK)
 *               [--standby ID=MAC@PORT]... [--ports N] [--incoming] [--paused]
 *               [--cancel-ms MS] [--eject-ms MS] [--reconnect-ms MS]
 *
 * Control protocol: one command line per connection, one reply line (JSON
 * for "status", else "ok ..." or "error ..."). Commands: status, negotiate
 * [STANDBY], reboot, pause, run, eject-off, eject-on (the running guest's
 * driver stops or starts answering unplug requests), drop-monitor, monitor-off, monitor-on,
 * migrate-start, migrate-complete, migrate-cancel, migrate-fail, migrate-postcopy, migrate-pause,
 * migrate-recover, incoming-start, incoming-load IDS, incoming-postcopy IDS, incoming-complete,
 * commands, exit. IDS: the standbys whose guest had negotiated on the source, comma-separated, or
 * "-". "commands": the QMP commands received since set-up or the last "commands", in order and
 * space-separated (device_add and device_del as "device_add:ID"), or "-".
 */

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cluster.h"

#define MAX_DEVS     16
#define MAX_STANDBYS 8
#define MAX_PORTS    16

typedef enum DevState {
	DEV_HIDDEN,   /* added before the guest negotiated: QEMU keeps only its options */
	DEV_REALIZED, /* plugged, in qom-list */
	DEV_DELETING, /* device_del sent, the guest has not ejected it yet */
	DEV_PARTIAL,  /* unplugged for an outgoing migration, still holding its VF */
	DEV_STALE,    /* cancel without re-plug: the guest's eject is still due */
} DevState;

static const char *const dev_state_names[] = { "hidden", "realized", "deleting", "partial",
					       "stale" };

typedef struct Dev {
	bool used;
	char id[80], driver[32], bus[80], standby[80];
	char slot[200]; /* what it holds: "host:BDF" or "POOL@SLOT"; "" unknown */
	char owner[200];
	DevState state;
	bool eject_pending; /* the guest was asked to eject it */
	bool ejected;	    /* PARTIAL: the guest has let it go */
} Dev;

typedef struct Standby {
	bool used;
	char id[80], mac[18], bus[80];
	char netdev[80], tap[16]; /* its -netdev: a tap named TAP, or user networking ("") */
	bool negotiated;	  /* the guest negotiated STANDBY since its last reset */
	bool primary_visible;	  /* QEMU's own flag: primaries are no longer hidden */
	char primary[80];	  /* the one primary id QEMU accepts from now on */
	bool link_down;		  /* set_link up=false (a new process starts with it up) */
} Standby;

typedef struct Double {
	struct event_base *base;
	char name[128];
	char state_dir[512];
	char qmp_path[108], dial_path[108];
	unsigned n_ports;
	Standby standbys[MAX_STANDBYS];
	Dev devs[MAX_DEVS];
	char run[32];	    /* query-status */
	char mig[32];	    /* "" or the migration status */
	bool incoming;	    /* -incoming: a destination */
	unsigned cancel_ms; /* QEMU's hard-coded 30 s, shortened */
	unsigned eject_ms, reconnect_ms;
	bool eject_off; /* the guest's driver ignores unplug requests, although it runs */
	/* the monitor */
	struct evconnlistener *qmp_listener;
	struct bufferevent *mon;
	bool caps, setup_done;
	bool monitor_off; /* the monitor is away: no listening, no dialling */
	int64_t last_io_ms;
	struct event *ev_eject, *ev_cancel, *ev_redial;
	bool eject_armed, cancel_armed;
	unsigned n_conns;
	/* after set-up: the commands received ("device_add:ID", "qom-list", ...), for "commands" */
	char journal[4096];
} Double;

static Double d;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "qemu-double: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* --- QMP output --- */

static void mon_write(const char *s)
{
	if (!d.mon)
		return;
	bufferevent_write(d.mon, s, strlen(s));
	bufferevent_write(d.mon, "\r\n", 2);
	d.last_io_ms = now_ms();
}

static void reply_raw(const char *ret, const char *id)
{
	char *buf;

	if (asprintf(&buf, "{\"return\": %s%s%s}", ret, id ? ", \"id\": " : "", id ? id : "") < 0)
		die("out of memory");
	mon_write(buf);
	free(buf);
}

static void reply_obj(json_object *ret, const char *id)
{
	reply_raw(json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN), id);
	json_object_put(ret);
}

static void reply_error(const char *klass, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_error(const char *klass, const char *id, const char *fmt, ...)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	json_object_object_add(e, "class", json_object_new_string(klass));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	if (id)
		json_object_object_add(o, "id", json_tokener_parse(id));
	mon_write(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* Events reach only a connected monitor: a QEMU does not queue them. */
static void event_emit(const char *name, json_object *data)
{
	struct timeval tv;
	char *buf;

	gettimeofday(&tv, NULL);
	if (asprintf(&buf,
		     "{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %lld}, "
		     "\"event\": \"%s\"%s%s}",
		     (long long)tv.tv_sec, (long long)tv.tv_usec, name, data ? ", \"data\": " : "",
		     data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN) : "") < 0)
		die("out of memory");
	if (d.mon && d.caps)
		mon_write(buf);
	free(buf);
	if (data)
		json_object_put(data);
}

static void event_str(const char *name, const char *key, const char *value)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, key, json_object_new_string(value));
	event_emit(name, o);
}

static void event_migration(const char *status)
{
	snprintf(d.mig, sizeof(d.mig), "%s", status);
	event_str("MIGRATION", "status", status);
}

static void event_device_deleted(const char *id)
{
	json_object *o = json_object_new_object();
	char path[120];

	snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
	json_object_object_add(o, "device", json_object_new_string(id));
	json_object_object_add(o, "path", json_object_new_string(path));
	event_emit("DEVICE_DELETED", o);
}

/* --- the machine --- */

static Standby *find_standby(const char *id)
{
	for (int k = 0; k < MAX_STANDBYS; k++)
		if (d.standbys[k].used && strcmp(d.standbys[k].id, id) == 0)
			return &d.standbys[k];
	return NULL;
}

static Dev *find_dev(const char *id)
{
	for (int k = 0; k < MAX_DEVS; k++)
		if (d.devs[k].used && strcmp(d.devs[k].id, id) == 0)
			return &d.devs[k];
	return NULL;
}

static bool is_port(const char *id)
{
	unsigned n;
	char tail;

	return sscanf(id, "rp%u%c", &n, &tail) == 1 && n >= 1 && n <= d.n_ports;
}

/* Everything but a hidden primary exists for QOM. */
static bool dev_visible(const Dev *v)
{
	return v->used && v->state != DEV_HIDDEN;
}

static bool port_busy(const char *port)
{
	for (int k = 0; k < MAX_STANDBYS; k++)
		if (d.standbys[k].used && strcmp(d.standbys[k].bus, port) == 0)
			return true;
	for (int k = 0; k < MAX_DEVS; k++)
		if (dev_visible(&d.devs[k]) && strcmp(d.devs[k].bus, port) == 0)
			return true;
	return false;
}

static bool running(void)
{
	return strcmp(d.run, "running") == 0;
}

static void dev_remove(Dev *v)
{
	char id[80];

	snprintf(id, sizeof(id), "%s", v->id);
	memset(v, 0, sizeof(*v));
	event_device_deleted(id);
}

static bool ejects_due(void)
{
	for (int k = 0; k < MAX_DEVS; k++)
		if (d.devs[k].used && d.devs[k].eject_pending)
			return true;
	return false;
}

/* A running guest answers every pending unplug request after eject_ms. */
static void guest_schedule_eject(void)
{
	struct timeval tv = { d.eject_ms / 1000, (d.eject_ms % 1000) * 1000 };

	if (!running() || d.eject_off || !ejects_due() || d.eject_armed)
		return;
	d.eject_armed = true;
	evtimer_add(d.ev_eject, &tv);
}

static void migration_check_unplugged(void)
{
	for (int k = 0; k < MAX_DEVS; k++)
		if (d.devs[k].used && d.devs[k].state == DEV_PARTIAL && !d.devs[k].ejected)
			return;
	if (strcmp(d.mig, "wait-unplug") == 0)
		event_migration("active");
}

static void on_eject(evutil_socket_t fd, short what, void *ud)
{
	d.eject_armed = false;
	if (!running())
		return;
	for (int k = 0; k < MAX_DEVS; k++) {
		Dev *v = &d.devs[k];

		if (!v->used || !v->eject_pending)
			continue;
		v->eject_pending = false;
		if (v->state == DEV_PARTIAL)
			v->ejected = true; /* QEMU keeps the object and the VF */
		else
			dev_remove(v);
	}
	migration_check_unplugged();
}

/* The failover primaries QEMU put back after a failed or cancelled migration. */
static void migration_replug(bool keep_pending)
{
	for (int k = 0; k < MAX_DEVS; k++) {
		Dev *v = &d.devs[k];
		Standby *s;

		if (!v->used || v->state != DEV_PARTIAL)
			continue;
		s = find_standby(v->standby);
		if (keep_pending && !v->ejected) {
			v->state = DEV_STALE; /* the guest still owes the eject */
			continue;
		}
		v->state = DEV_REALIZED;
		v->eject_pending = v->ejected = false;
		if (s)
			s->primary_visible = true;
	}
}

static void on_cancel_done(evutil_socket_t fd, short what, void *ud)
{
	d.cancel_armed = false;
	migration_replug(true);
	event_migration("cancelled");
	guest_schedule_eject();
}

/* --- allocation records: what the daemon handed this primary --- */

static void slot_of_owner(const char *owner, char *slot, size_t size)
{
	char dir[600], path[1200], o[256], pool[80], id[80];
	struct dirent *de;
	DIR *dd;

	slot[0] = 0;
	snprintf(dir, sizeof(dir), "%s/alloc", d.state_dir);
	dd = opendir(dir);
	while (dd && (de = readdir(dd))) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		test_kv_get(path, "owner", o, sizeof(o));
		if (strcmp(o, owner) != 0)
			continue;
		test_kv_get(path, "pool", pool, sizeof(pool));
		test_kv_get(path, "id", id, sizeof(id));
		snprintf(slot, size, "%s@%s", pool, id);
		break;
	}
	if (dd)
		closedir(dd);
}

/* --- QMP commands --- */

static const char *arg_str(json_object *args, const char *key)
{
	json_object *v;

	if (args && json_object_object_get_ex(args, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static json_object *prop(const char *name, const char *type)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "type", json_object_new_string(type));
	return o;
}

static void cmd_qom_list(json_object *args, const char *id)
{
	const char *path = arg_str(args, "path");
	json_object *a;
	char buf[200], type[80];

	if (!path) {
		reply_error("GenericError", id, "Parameter 'path' is missing");
		return;
	}
	a = json_object_new_array();
	if (strcmp(path, "/machine/peripheral") == 0) {
		json_object_array_add(a, prop("type", "string"));
		for (unsigned k = 1; k <= d.n_ports; k++) {
			snprintf(buf, sizeof(buf), "rp%u", k);
			json_object_array_add(a, prop(buf, "child<pcie-root-port>"));
		}
		for (int k = 0; k < MAX_STANDBYS; k++)
			if (d.standbys[k].used)
				json_object_array_add(
					a, prop(d.standbys[k].id, "child<virtio-net-pci>"));
		for (int k = 0; k < MAX_DEVS; k++)
			if (dev_visible(&d.devs[k])) {
				snprintf(type, sizeof(type), "child<%s>", d.devs[k].driver);
				json_object_array_add(a, prop(d.devs[k].id, type));
			}
		reply_obj(a, id);
		return;
	}
	for (unsigned k = 1; k <= d.n_ports; k++) {
		char port[16];

		snprintf(port, sizeof(port), "rp%u", k);
		snprintf(buf, sizeof(buf), "/machine/peripheral/%s/%s", port, port);
		if (strcmp(path, buf) != 0)
			continue;
		json_object_array_add(a, prop("type", "string"));
		json_object_array_add(a, prop("realized", "bool"));
		if (port_busy(port))
			json_object_array_add(a, prop("child[0]", "link<pci-device>"));
		json_object_array_add(a, prop("hotplug-handler", "link<hotplug-handler>"));
		reply_obj(a, id);
		return;
	}
	json_object_put(a);
	reply_error("DeviceNotFound", id, "Device '%s' not found", path);
}

static void cmd_qom_get(json_object *args, const char *id)
{
	const char *path = arg_str(args, "path"), *property = arg_str(args, "property");
	const char *dev = path && strncmp(path, "/machine/peripheral/", 20) == 0 ? path + 20 : NULL;
	Standby *s = dev ? find_standby(dev) : NULL;

	if (!s || !property) {
		reply_error("DeviceNotFound", id, "Device '%s' not found", path ? path : "");
		return;
	}
	if (strcmp(property, "failover") == 0)
		reply_raw("true", id);
	else if (strcmp(property, "mac") == 0)
		reply_obj(json_object_new_string(s->mac), id);
	else if (strcmp(property, "netdev") == 0)
		reply_obj(json_object_new_string(s->netdev), id);
	else
		reply_error("GenericError", id, "Property 'virtio-net-pci.%s' not found", property);
}

static bool id_taken(const char *id)
{
	return find_dev(id) || find_standby(id) || is_port(id);
}

static void add_standby(json_object *args, const char *id, const char *dev, const char *bus)
{
	const char *mac = arg_str(args, "mac"), *netdev = arg_str(args, "netdev");

	for (int k = 0; k < MAX_STANDBYS; k++) {
		Standby *s = &d.standbys[k];

		if (s->used)
			continue;
		memset(s, 0, sizeof(*s));
		s->used = true;
		snprintf(s->id, sizeof(s->id), "%s", dev);
		snprintf(s->mac, sizeof(s->mac), "%s", mac ? mac : "52:54:00:00:00:00");
		snprintf(s->bus, sizeof(s->bus), "%s", bus);
		snprintf(s->netdev, sizeof(s->netdev), "%s", netdev ? netdev : "");
		reply_raw("{}", id);
		return;
	}
	reply_error("GenericError", id, "qemu-double: too many standbys");
}

static void cmd_device_add(json_object *args, const char *id)
{
	const char *dev = arg_str(args, "id"), *driver = arg_str(args, "driver");
	const char *bus = arg_str(args, "bus"), *pair = arg_str(args, "failover_pair_id");
	const char *host = arg_str(args, "host");
	Standby *s = pair ? find_standby(pair) : NULL;
	Dev *v = NULL;
	char owner[300];

	if (!driver || !dev) {
		reply_error("GenericError", id, "Parameter '%s' is missing",
			    driver ? "id" : "driver");
		return;
	}
	if (id_taken(dev)) {
		/* Hidden or not: QEMU keeps the id of a primary it holds. */
		reply_error("GenericError", id, "Duplicate ID '%s' for device", dev);
		return;
	}
	if (!bus || !is_port(bus)) {
		reply_error("GenericError", id, "Bus '%s' not found", bus ? bus : "");
		return;
	}
	if (strcmp(driver, "virtio-net-pci") == 0) {
		if (port_busy(bus)) {
			reply_error("GenericError", id, "Bus '%s' is full", bus);
			return;
		}
		add_standby(args, id, dev, bus);
		return;
	}
	if (s && s->primary[0] && strcmp(s->primary, dev) != 0) {
		reply_error("GenericError", id,
			    "Cannot attach more than one primary device to '%s': '%s' and '%s'",
			    s->id, s->primary, dev);
		return;
	}
	for (int k = 0; k < MAX_DEVS && !v; k++)
		if (!d.devs[k].used)
			v = &d.devs[k];
	if (!v) {
		reply_error("GenericError", id, "qemu-double: too many devices");
		return;
	}
	if (!(s && !s->primary_visible) && port_busy(bus)) {
		reply_error("GenericError", id,
			    "PCI: slot 0 function 0 not available for %s, in use by another device",
			    driver);
		return;
	}
	memset(v, 0, sizeof(*v));
	v->used = true;
	snprintf(v->id, sizeof(v->id), "%s", dev);
	snprintf(v->driver, sizeof(v->driver), "%s", driver);
	snprintf(v->bus, sizeof(v->bus), "%s", bus);
	snprintf(v->standby, sizeof(v->standby), "%s", s ? s->id : "");
	snprintf(owner, sizeof(owner), "%s/%s", d.name,
		 strncmp(dev, "fo-", 3) == 0 ? dev + 3 : dev);
	snprintf(v->owner, sizeof(v->owner), "%s", owner);
	if (host)
		snprintf(v->slot, sizeof(v->slot), "host:%s", host);
	else
		slot_of_owner(owner, v->slot, sizeof(v->slot));
	if (s)
		snprintf(s->primary, sizeof(s->primary), "%s", dev);
	/* Not a failover primary (no such standby): created normally. */
	v->state = !s || (s->primary_visible && !d.incoming) ? DEV_REALIZED : DEV_HIDDEN;
	reply_raw("{}", id);
}

static void cmd_device_del(json_object *args, const char *id)
{
	const char *dev = arg_str(args, "id");
	Dev *v = dev ? find_dev(dev) : NULL;

	if (!v || v->state == DEV_HIDDEN) {
		reply_error("DeviceNotFound", id, "Device '%s' not found", dev ? dev : "");
		return;
	}
	if (v->state != DEV_REALIZED) {
		reply_error("GenericError", id, "Device '%s' is already in the process of unplug",
			    dev);
		return;
	}
	v->state = DEV_DELETING;
	v->eject_pending = true;
	reply_raw("{}", id);
	guest_schedule_eject();
}

static void cmd_migrate_cancel(json_object *args, const char *id);

static void cmd_query_status(json_object *args, const char *id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "status", json_object_new_string(d.run));
	json_object_object_add(o, "running", json_object_new_boolean(running()));
	reply_obj(o, id);
}

static void cmd_query_migrate(json_object *args, const char *id)
{
	json_object *o = json_object_new_object();

	if (d.mig[0])
		json_object_object_add(o, "status", json_object_new_string(d.mig));
	reply_obj(o, id);
	/* The last step of failoverd's set-up: from here it follows this QEMU. */
	d.setup_done = true;
}

static bool events_cap;

static void cmd_query_migrate_caps(json_object *args, const char *id)
{
	reply_raw(events_cap ? "[{\"state\": true, \"capability\": \"events\"}]"
			     : "[{\"state\": false, \"capability\": \"events\"}]",
		  id);
}

static void cmd_set_caps(json_object *args, const char *id)
{
	json_object *caps;

	if (d.mig[0] && strcmp(d.mig, "completed") != 0 && strcmp(d.mig, "cancelled") != 0 &&
	    strcmp(d.mig, "failed") != 0) {
		reply_error("GenericError", id, "There's a migration process in progress");
		return;
	}
	if (args && json_object_object_get_ex(args, "capabilities", &caps))
		for (size_t k = 0; k < json_object_array_length(caps); k++) {
			json_object *c = json_object_array_get_idx(caps, k), *n, *st;

			if (json_object_object_get_ex(c, "capability", &n) &&
			    json_object_object_get_ex(c, "state", &st) &&
			    strcmp(json_object_get_string(n), "events") == 0)
				events_cap = json_object_get_boolean(st);
		}
	reply_raw("{}", id);
}

static void cmd_query_name(json_object *args, const char *id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(d.name));
	reply_obj(o, id);
}

static void cmd_dlp(json_object *args, const char *id)
{
	const char *t = arg_str(args, "typename");

	if (t && strcmp(t, "virtio-net-pci") == 0)
		reply_raw("[{\"name\": \"failover\", \"type\": \"bool\"}, {\"name\": "
			  "\"failover_pair_id\", \"type\": \"str\"}, {\"name\": \"mac\", "
			  "\"type\": \"str\"}]",
			  id);
	else if (t && (strcmp(t, "e1000e") == 0 || strcmp(t, "vfio-pci") == 0))
		reply_raw("[{\"name\": \"failover_pair_id\", \"type\": \"str\"}, {\"name\": "
			  "\"romfile\", \"type\": \"str\"}]",
			  id);
	else
		reply_error("GenericError", id, "Device '%s' not found", t ? t : "");
}

static void cmd_schema(json_object *args, const char *id)
{
	reply_raw("[{\"name\": \"UNPLUG_PRIMARY\", \"meta-type\": \"event\", \"arg-type\": "
		  "\"1\"}, {\"name\": \"FAILOVER_NEGOTIATED\", \"meta-type\": \"event\", "
		  "\"arg-type\": \"2\"}]",
		  id);
}

/* set_link on a standby: its link as the guest sees it (StandbyLinkDown=). */
static void cmd_set_link(json_object *args, const char *id)
{
	const char *name = arg_str(args, "name");
	json_object *up;
	Standby *s = name ? find_standby(name) : NULL;

	if (!json_object_object_get_ex(args, "up", &up) ||
	    !json_object_is_type(up, json_type_boolean)) {
		reply_error("GenericError", id, "Parameter 'up' is missing");
		return;
	}
	if (!s) {
		reply_error("GenericError", id, "Device '%s' not found", name ? name : "");
		return;
	}
	s->link_down = !json_object_get_boolean(up);
	reply_raw("{}", id);
}

/* HMP as QEMU prints it: each NIC, then its peer " \ NETDEV: ...". */
static void cmd_hmp(json_object *args, const char *id)
{
	const char *line = arg_str(args, "command-line");
	char out[4096] = "";
	size_t len = 0;

	if (!line) {
		reply_error("GenericError", id, "Parameter 'command-line' is missing");
		return;
	}
	if (strcmp(line, "info network") != 0) {
		reply_obj(json_object_new_string("unknown command\r\n"), id);
		return;
	}
	for (int k = 0; k < MAX_STANDBYS; k++) {
		const Standby *sb = &d.standbys[k];

		if (!sb->used)
			continue;
		len += (size_t)snprintf(out + len, sizeof(out) - len,
					"%s: index=0,type=nic,model=virtio-net-pci,macaddr=%s\r\n",
					sb->id, sb->mac);
		if (len < sizeof(out) && sb->netdev[0] && sb->tap[0])
			len += (size_t)snprintf(out + len, sizeof(out) - len,
						" \\ %s: index=0,type=tap,ifname=%s,script=no,"
						"downscript=no\r\n",
						sb->netdev, sb->tap);
		else if (len < sizeof(out) && sb->netdev[0])
			len += (size_t)snprintf(
				out + len, sizeof(out) - len,
				" \\ %s: index=0,type=user,net=10.0.2.0,restrict=off\r\n",
				sb->netdev);
		if (len >= sizeof(out))
			break;
	}
	reply_obj(json_object_new_string(out), id);
}

static void cmd_capabilities(json_object *args, const char *id)
{
	d.caps = true;
	reply_raw("{}", id);
}

static const struct {
	const char *name;
	void (*fn)(json_object *args, const char *id);
} commands[] = {
	{ "device-list-properties", cmd_dlp },
	{ "device_add", cmd_device_add },
	{ "device_del", cmd_device_del },
	{ "human-monitor-command", cmd_hmp },
	{ "migrate-set-capabilities", cmd_set_caps },
	{ "migrate_cancel", cmd_migrate_cancel },
	{ "qmp_capabilities", cmd_capabilities },
	{ "qom-get", cmd_qom_get },
	{ "qom-list", cmd_qom_list },
	{ "query-migrate", cmd_query_migrate },
	{ "query-migrate-capabilities", cmd_query_migrate_caps },
	{ "query-name", cmd_query_name },
	{ "query-qmp-schema", cmd_schema },
	{ "query-status", cmd_query_status },
	{ "set_link", cmd_set_link },
};

/* What failoverd asked for once it follows this QEMU; device commands name their device. */
static void journal_add(const char *name, json_object *args)
{
	const char *dev = strncmp(name, "device_", 7) == 0 ? arg_str(args, "id") : NULL;
	size_t len = strlen(d.journal);

	snprintf(d.journal + len, sizeof(d.journal) - len, "%s%s%s%s", len ? " " : "", name,
		 dev ? ":" : "", dev ? dev : "");
}

static void on_qmp_line(const char *line)
{
	json_object *msg = json_tokener_parse(line), *ex, *args = NULL, *idv;
	const char *name, *id = NULL;

	d.last_io_ms = now_ms();
	if (!msg || !json_object_object_get_ex(msg, "execute", &ex)) {
		reply_error("GenericError", NULL, "QMP input must be a JSON object with 'execute'");
		if (msg)
			json_object_put(msg);
		return;
	}
	name = json_object_get_string(ex);
	json_object_object_get_ex(msg, "arguments", &args);
	if (json_object_object_get_ex(msg, "id", &idv))
		id = json_object_to_json_string_ext(idv, JSON_C_TO_STRING_PLAIN);
	if (!d.caps && strcmp(name, "qmp_capabilities") != 0) {
		reply_error("CommandNotFound", id,
			    "Expecting capabilities negotiation with 'qmp_capabilities'");
		json_object_put(msg);
		return;
	}
	if (d.setup_done)
		journal_add(name, args);
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(commands[k].name, name) == 0) {
			commands[k].fn(args, id);
			json_object_put(msg);
			return;
		}
	reply_error("CommandNotFound", id, "The command %s has not been found", name);
	json_object_put(msg);
}

/* --- the monitor connection --- */

static void mon_close(void);

static void on_mon_read(struct bufferevent *bev, void *ud)
{
	char *line;

	while (d.mon &&
	       (line = evbuffer_readln(bufferevent_get_input(bev), NULL, EVBUFFER_EOL_CRLF))) {
		on_qmp_line(line);
		free(line);
	}
}

static void schedule_redial(void)
{
	struct timeval tv = { d.reconnect_ms / 1000, (d.reconnect_ms % 1000) * 1000 };

	if (d.dial_path[0] && !d.monitor_off)
		evtimer_add(d.ev_redial, &tv);
}

static void on_mon_event(struct bufferevent *bev, short what, void *ud)
{
	if (what & BEV_EVENT_CONNECTED) {
		static const char greeting[] =
			"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, "
			"\"major\": 10}, \"package\": \"qemu-double (test double of QEMU "
			"10.0)\"}, \"capabilities\": [\"oob\"]}}";

		mon_write(greeting);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		mon_close();
		schedule_redial();
	}
}

static void mon_close(void)
{
	if (d.mon)
		bufferevent_free(d.mon);
	d.mon = NULL;
	d.caps = d.setup_done = false;
	d.last_io_ms = now_ms();
}

static void mon_attach(int fd, bool connected)
{
	d.mon = bufferevent_socket_new(d.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!d.mon)
		die("out of memory");
	d.n_conns++;
	bufferevent_setcb(d.mon, on_mon_read, NULL, on_mon_event, NULL);
	bufferevent_enable(d.mon, EV_READ | EV_WRITE);
	if (connected)
		on_mon_event(d.mon, BEV_EVENT_CONNECTED, NULL);
}

static void on_qmp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int len, void *ud)
{
	/* One client at a time, as QEMU's -qmp server. */
	if (d.mon) {
		close(fd);
		return;
	}
	mon_attach(fd, true);
}

static void on_redial(evutil_socket_t fd, short what, void *ud)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if (d.mon)
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.dial_path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (s >= 0)
			close(s);
		schedule_redial(); /* reconnect-ms=, as QEMU's chardev does */
		return;
	}
	mon_attach(s, true);
}

static struct evconnlistener *listen_unix(const char *path, evconnlistener_cb cb)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct evconnlistener *l;

	if (strlen(path) >= sizeof(sa.sun_path))
		die("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	unlink(path);
	l = evconnlistener_new_bind(d.base, cb, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				    16, (struct sockaddr *)&sa, sizeof(sa));
	if (!l)
		die("cannot listen on %s: %s", path, strerror(errno));
	return l;
}

/* --- migration --- */

static bool mig_in(const char *const *states)
{
	for (; *states; states++)
		if (strcmp(d.mig, *states) == 0)
			return true;
	return false;
}

static const char *const precopy[] = { "setup", "wait-unplug", "active", NULL };
static const char *const postcopy[] = { "postcopy-active", "postcopy-paused", "postcopy-recover",
					NULL };

static void cmd_migrate_cancel(json_object *args, const char *id)
{
	struct timeval tv;
	bool pending = false, silent;

	if (mig_in(postcopy)) {
		reply_error("GenericError", id, "Postcopy already started, cannot cancel");
		return;
	}
	if (id)
		reply_raw("{}", id);
	if (d.incoming || !mig_in(precopy))
		return;
	event_migration("cancelling");
	for (int k = 0; k < MAX_DEVS; k++)
		if (d.devs[k].used && d.devs[k].state == DEV_PARTIAL && !d.devs[k].ejected)
			pending = true;
	/* A guest that does not answer the unplug keeps QEMU cancelling for 30 s. */
	silent = pending && (!running() || d.eject_off);
	tv.tv_sec = silent ? d.cancel_ms / 1000 : 0;
	tv.tv_usec = silent ? (d.cancel_ms % 1000) * 1000 : 10000;
	d.cancel_armed = true;
	evtimer_add(d.ev_cancel, &tv);
}

static const char *ctl_migrate_start(void)
{
	bool any = false;

	if (d.incoming)
		return "error a destination cannot migrate out";
	if (mig_in(precopy) || mig_in(postcopy) || strcmp(d.mig, "cancelling") == 0 ||
	    strcmp(d.run, "postmigrate") == 0)
		return "error a migration is running or done";
	event_migration("setup");
	for (int k = 0; k < MAX_DEVS; k++) {
		Dev *v = &d.devs[k];
		Standby *s = v->used ? find_standby(v->standby) : NULL;

		if (!s || v->state != DEV_REALIZED)
			continue;
		v->state = DEV_PARTIAL;
		v->eject_pending = true;
		v->ejected = false;
		s->primary_visible = false;
		event_str("UNPLUG_PRIMARY", "device-id", v->id);
		any = true;
	}
	if (any) {
		event_migration("wait-unplug");
		guest_schedule_eject();
	} else {
		event_migration("active");
	}
	return "ok";
}

static const char *ctl_migrate_complete(void)
{
	if (strcmp(d.mig, "active") != 0 && strcmp(d.mig, "postcopy-active") != 0)
		return "error not in active or postcopy-active";
	if (running())
		event_emit("STOP", NULL);
	snprintf(d.run, sizeof(d.run), "postmigrate");
	if (strcmp(d.mig, "active") == 0)
		event_migration("device");
	event_migration("completed");
	return "ok";
}

static const char *ctl_migrate_fail(void)
{
	if (!mig_in(precopy) && strcmp(d.mig, "cancelling") != 0)
		return "error no precopy migration";
	if (d.cancel_armed) {
		evtimer_del(d.ev_cancel);
		d.cancel_armed = false;
	}
	for (int k = 0; k < MAX_DEVS; k++)
		if (d.devs[k].used && d.devs[k].state == DEV_PARTIAL)
			d.devs[k].eject_pending = false;
	migration_replug(false);
	event_migration("failed");
	return "ok";
}

static const char *ctl_migrate_postcopy(void)
{
	if (strcmp(d.mig, "active") != 0)
		return "error not active";
	event_migration("postcopy-active");
	if (running())
		event_emit("STOP", NULL);
	snprintf(d.run, sizeof(d.run), "finish-migrate");
	return "ok";
}

static const char *ctl_migrate_pause(void)
{
	if (strcmp(d.mig, "postcopy-active") != 0 && strcmp(d.mig, "postcopy-recover") != 0)
		return "error not in postcopy";
	event_migration("postcopy-paused");
	return "ok";
}

static const char *ctl_migrate_recover(void)
{
	if (strcmp(d.mig, "postcopy-paused") != 0)
		return "error not postcopy-paused";
	event_migration("postcopy-recover");
	event_migration("postcopy-active");
	return "ok";
}

static bool in_list(const char *list, const char *id)
{
	char buf[512], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strcmp(t, id) == 0)
			return true;
	return false;
}

/* The stream brought the guest: its negotiation, and QEMU plugs hidden primaries. */
static void incoming_load(const char *negotiated)
{
	for (int k = 0; k < MAX_STANDBYS; k++) {
		Standby *s = &d.standbys[k];

		if (!s->used || !in_list(negotiated, s->id))
			continue;
		s->negotiated = s->primary_visible = true;
		for (int j = 0; j < MAX_DEVS; j++)
			if (d.devs[j].used && d.devs[j].state == DEV_HIDDEN &&
			    strcmp(d.devs[j].standby, s->id) == 0)
				d.devs[j].state = DEV_REALIZED;
		event_str("FAILOVER_NEGOTIATED", "device-id", s->id);
	}
	d.incoming = false;
}

static const char *ctl_incoming(const char *what, const char *arg)
{
	if (strcmp(what, "start") == 0) {
		if (!d.incoming || d.mig[0])
			return "error not waiting for a stream";
		event_migration("setup");
		event_migration("active");
		return "ok";
	}
	if (strcmp(what, "load") == 0 || strcmp(what, "postcopy") == 0) {
		if (!d.incoming || strcmp(d.mig, "active") != 0)
			return "error no stream";
		if (strcmp(what, "postcopy") == 0)
			event_migration("postcopy-active");
		incoming_load(arg);
		snprintf(d.run, sizeof(d.run), "running");
		event_emit("RESUME", NULL);
		if (strcmp(what, "load") == 0)
			event_migration("completed");
		return "ok";
	}
	if (strcmp(what, "complete") == 0) {
		if (!mig_in(postcopy))
			return "error not in postcopy";
		event_migration("completed");
		return "ok";
	}
	return "error unknown incoming step";
}

/* --- the guest --- */

static const char *ctl_negotiate(const char *which)
{
	unsigned n = 0;

	if (!running())
		return "error the guest is not running";
	for (int k = 0; k < MAX_STANDBYS; k++) {
		Standby *s = &d.standbys[k];

		if (!s->used || s->negotiated || (which && which[0] && strcmp(which, s->id) != 0))
			continue;
		s->negotiated = s->primary_visible = true;
		event_str("FAILOVER_NEGOTIATED", "device-id", s->id);
		for (int j = 0; j < MAX_DEVS; j++)
			if (d.devs[j].used && d.devs[j].state == DEV_HIDDEN &&
			    strcmp(d.devs[j].standby, s->id) == 0)
				d.devs[j].state = DEV_REALIZED;
		n++;
	}
	return n ? "ok" : "ok nothing to negotiate";
}

/*
 * QEMU's virtio-net reset leaves the failover state alone: a realized
 * primary stays plugged and nothing is hidden again; only the guest's
 * negotiated features are gone until its driver negotiates again.
 */
static const char *ctl_reboot(void)
{
	json_object *o;

	if (!running())
		return "error the guest is not running";
	o = json_object_new_object();
	json_object_object_add(o, "guest", json_object_new_boolean(true));
	json_object_object_add(o, "reason", json_object_new_string("guest-reset"));
	event_emit("RESET", o);
	for (int k = 0; k < MAX_STANDBYS; k++)
		d.standbys[k].negotiated = false;
	return "ok";
}

static const char *ctl_pause(void)
{
	if (!running())
		return "error not running";
	snprintf(d.run, sizeof(d.run), "paused");
	event_emit("STOP", NULL);
	return "ok";
}

static const char *ctl_run(void)
{
	if (strcmp(d.run, "paused") != 0 && strcmp(d.run, "prelaunch") != 0)
		return "error cannot run now";
	snprintf(d.run, sizeof(d.run), "running");
	event_emit("RESUME", NULL);
	guest_schedule_eject();
	return "ok";
}

static char *status_json(void)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	int64_t idle = now_ms() - d.last_io_ms;
	char *s;

	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "monitor", json_object_new_boolean(d.mon != NULL));
	json_object_object_add(o, "setup", json_object_new_boolean(d.mon && d.setup_done));
	json_object_object_add(o, "monitor_off", json_object_new_boolean(d.monitor_off));
	json_object_object_add(o, "conns", json_object_new_int((int)d.n_conns));
	json_object_object_add(
		o, "busy",
		json_object_new_boolean(d.cancel_armed ||
					(running() && !d.eject_off && ejects_due())));
	json_object_object_add(o, "eject_off", json_object_new_boolean(d.eject_off));
	json_object_object_add(o, "idle_ms", json_object_new_int64(idle));
	json_object_object_add(o, "run", json_object_new_string(d.run));
	json_object_object_add(o, "migration", json_object_new_string(d.mig));
	json_object_object_add(o, "incoming", json_object_new_boolean(d.incoming));
	for (int k = 0; k < MAX_STANDBYS; k++) {
		Standby *sb = &d.standbys[k];
		json_object *e;

		if (!sb->used)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "id", json_object_new_string(sb->id));
		json_object_object_add(e, "negotiated", json_object_new_boolean(sb->negotiated));
		json_object_object_add(e, "primary", json_object_new_string(sb->primary));
		json_object_object_add(e, "link_down", json_object_new_boolean(sb->link_down));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "standbys", a);
	a = json_object_new_array();
	for (int k = 0; k < MAX_DEVS; k++) {
		Dev *v = &d.devs[k];
		json_object *e;

		if (!v->used)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "id", json_object_new_string(v->id));
		json_object_object_add(e, "state",
				       json_object_new_string(dev_state_names[v->state]));
		json_object_object_add(e, "slot", json_object_new_string(v->slot));
		json_object_object_add(e, "owner", json_object_new_string(v->owner));
		json_object_object_add(e, "standby", json_object_new_string(v->standby));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "devices", a);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* --- control socket --- */

static void ctl_on_write(struct bufferevent *bev, void *ud)
{
	bufferevent_free(bev);
	if (ud)
		event_base_loopbreak(d.base);
}

static void ctl_on_read(struct bufferevent *bev, void *ud)
{
	char *line = evbuffer_readln(bufferevent_get_input(bev), NULL, EVBUFFER_EOL_LF);
	char cmd[64] = "", arg[512] = "";
	const char *r = "error unknown command";
	char *json = NULL;
	bool quit = false;

	if (!line)
		return;
	sscanf(line, "%63s %511s", cmd, arg);
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "holds?") == 0)
		r = json = status_json();
	else if (strcmp(cmd, "commands") == 0) {
		/* Since the last "commands": read once. */
		r = json = strdup(d.journal[0] ? d.journal : "-");
		d.journal[0] = 0;
	} else if (strcmp(cmd, "negotiate") == 0)
		r = ctl_negotiate(arg);
	else if (strcmp(cmd, "reboot") == 0)
		r = ctl_reboot();
	else if (strcmp(cmd, "pause") == 0)
		r = ctl_pause();
	else if (strcmp(cmd, "eject-off") == 0 || strcmp(cmd, "eject-on") == 0) {
		d.eject_off = strcmp(cmd, "eject-off") == 0;
		guest_schedule_eject();
		r = "ok";
	} else if (strcmp(cmd, "run") == 0)
		r = ctl_run();
	else if (strcmp(cmd, "drop-monitor") == 0) {
		mon_close();
		schedule_redial();
		r = "ok";
	} else if (strcmp(cmd, "monitor-off") == 0) {
		/* Away for longer: nobody can connect until monitor-on. */
		d.monitor_off = true;
		mon_close();
		evtimer_del(d.ev_redial);
		if (d.qmp_listener) {
			evconnlistener_free(d.qmp_listener);
			d.qmp_listener = NULL;
			unlink(d.qmp_path);
		}
		r = "ok";
	} else if (strcmp(cmd, "monitor-on") == 0) {
		if (d.monitor_off) {
			d.monitor_off = false;
			if (d.qmp_path[0])
				d.qmp_listener = listen_unix(d.qmp_path, on_qmp_accept);
			else
				on_redial(-1, 0, NULL);
		}
		r = "ok";
	} else if (strcmp(cmd, "migrate-start") == 0)
		r = ctl_migrate_start();
	else if (strcmp(cmd, "migrate-complete") == 0)
		r = ctl_migrate_complete();
	else if (strcmp(cmd, "migrate-cancel") == 0) {
		if (mig_in(precopy)) {
			cmd_migrate_cancel(NULL, NULL);
			r = "ok";
		} else {
			r = "error no precopy migration to cancel";
		}
	} else if (strcmp(cmd, "migrate-fail") == 0)
		r = ctl_migrate_fail();
	else if (strcmp(cmd, "migrate-postcopy") == 0)
		r = ctl_migrate_postcopy();
	else if (strcmp(cmd, "migrate-pause") == 0 || strcmp(cmd, "incoming-pause") == 0)
		r = ctl_migrate_pause();
	else if (strcmp(cmd, "migrate-recover") == 0 || strcmp(cmd, "incoming-recover") == 0)
		r = ctl_migrate_recover();
	else if (strncmp(cmd, "incoming-", 9) == 0)
		r = ctl_incoming(cmd + 9, arg);
	else if (strcmp(cmd, "exit") == 0) {
		r = "ok";
		quit = true;
	}
	evbuffer_add_printf(bufferevent_get_output(bev), "%s\n", r);
	bufferevent_setcb(bev, NULL, ctl_on_write, NULL, quit ? bev : NULL);
	free(json);
	free(line);
}

static void ctl_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int len, void *ud)
{
	struct bufferevent *bev = bufferevent_socket_new(d.base, fd, BEV_OPT_CLOSE_ON_FREE);

	bufferevent_setcb(bev, ctl_on_read, NULL, NULL, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short what, void *ud)
{
	event_base_loopbreak(d.base);
}

static void add_cmdline_standby(const char *spec)
{
	char id[80] = "", mac[18] = "", bus[80] = "";

	for (int k = 0; k < MAX_STANDBYS; k++) {
		Standby *s = &d.standbys[k];

		if (s->used)
			continue;
		char *tap;

		if (sscanf(spec, "%79[^=]=%17[^@]@%79s", id, mac, bus) != 3)
			die("--standby ID=MAC@PORT[+TAP], not '%s'", spec);
		tap = strchr(bus, '+');
		if (tap)
			*tap++ = 0;
		s->used = true;
		snprintf(s->id, sizeof(s->id), "%s", id);
		snprintf(s->mac, sizeof(s->mac), "%s", mac);
		snprintf(s->bus, sizeof(s->bus), "%s", bus);
		/* As -netdev tap,id=hn-ID,ifname=TAP (or user,id=hn-ID) on QEMU's command line. */
		snprintf(s->netdev, sizeof(s->netdev), "hn-%.70s", id);
		snprintf(s->tap, sizeof(s->tap), "%.15s", tap ? tap : "");
		return;
	}
	die("too many standbys");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "qmp", required_argument, NULL, 'q' },
		{ "dial", required_argument, NULL, 'D' },
		{ "standby", required_argument, NULL, 'S' },
		{ "ports", required_argument, NULL, 'p' },
		{ "incoming", no_argument, NULL, 'i' },
		{ "paused", no_argument, NULL, 'P' },
		{ "cancel-ms", required_argument, NULL, 'C' },
		{ "eject-ms", required_argument, NULL, 'e' },
		{ "reconnect-ms", required_argument, NULL, 'r' },
		{},
	};
	const char *ctl = NULL;
	struct evconnlistener *ctl_l;
	struct event *sig_term, *sig_int;
	bool paused = false;
	int c;

	d.n_ports = 6;
	d.cancel_ms = 300;
	d.eject_ms = 20;
	d.reconnect_ms = 100;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (c) {
		case 'n':
			snprintf(d.name, sizeof(d.name), "%s", optarg);
			break;
		case 'c':
			ctl = optarg;
			break;
		case 's':
			snprintf(d.state_dir, sizeof(d.state_dir), "%s", optarg);
			break;
		case 'q':
			snprintf(d.qmp_path, sizeof(d.qmp_path), "%s", optarg);
			break;
		case 'D':
			snprintf(d.dial_path, sizeof(d.dial_path), "%s", optarg);
			break;
		case 'S':
			add_cmdline_standby(optarg);
			break;
		case 'p':
			d.n_ports = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			d.incoming = true;
			break;
		case 'P':
			paused = true;
			break;
		case 'C':
			d.cancel_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'e':
			d.eject_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			d.reconnect_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!d.name[0] || !ctl || !d.state_dir[0] || (!d.qmp_path[0] == !d.dial_path[0]) ||
	    d.n_ports < 1 || d.n_ports > MAX_PORTS)
		die("usage: qemu-double --name NAME --ctl SOCK --state-dir DIR (--qmp SOCK | "
		    "--dial SOCK) [--standby ID=MAC@PORT[+TAP]]... [--ports N] [--incoming] "
		    "[--paused]");
	/* failoverd recognises a QEMU by /proc/PID/comm: keep "qemu" in front. */
	prctl(PR_SET_NAME, "qemu-double");
	signal(SIGPIPE, SIG_IGN);
	snprintf(d.run, sizeof(d.run), "%s",
		 d.incoming ? "inmigrate"
		 : paused   ? "prelaunch"
			    : "running");
	d.base = event_base_new();
	if (!d.base)
		die("out of memory");
	d.ev_eject = evtimer_new(d.base, on_eject, NULL);
	d.ev_cancel = evtimer_new(d.base, on_cancel_done, NULL);
	d.ev_redial = evtimer_new(d.base, on_redial, NULL);
	ctl_l = listen_unix(ctl, ctl_on_accept);
	if (d.qmp_path[0])
		d.qmp_listener = listen_unix(d.qmp_path, on_qmp_accept);
	else
		on_redial(-1, 0, NULL);
	sig_term = evsignal_new(d.base, SIGTERM, on_signal, NULL);
	sig_int = evsignal_new(d.base, SIGINT, on_signal, NULL);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
	d.last_io_ms = now_ms();
	event_base_dispatch(d.base);

	mon_close();
	if (d.qmp_listener)
		evconnlistener_free(d.qmp_listener);
	evconnlistener_free(ctl_l);
	event_free(d.ev_eject);
	event_free(d.ev_cancel);
	event_free(d.ev_redial);
	event_free(sig_term);
	event_free(sig_int);
	event_base_free(d.base);
	return 0;
}
