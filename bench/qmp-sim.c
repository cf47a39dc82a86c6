/*
 * qmp-sim: a QMP peer SIMULATOR for benchmarks — a test double, not QEMU.
 *
 * Serves N unix sockets DIR/vmK.qmp (K = F..F+N-1, F from --first, else 0) from one libevent loop
 * and answers what failoverd sends during attach and reconcile the way QEMU 10 does (measured
 * against qemu-system-x86_64 10.0, see docs/performance.md): greeting, qmp_capabilities,
 * query-name/-status/-migrate, migration capabilities, device-list-properties, query-qmp-schema
 * (replayed from a real QEMU with --replies), qom-list/qom-get of a q35 machine with a
 * virtio-net-pci failover standby "net0" on rp1 and free ports rp2 and rp3,
 * device_add/device_del of the primary (hidden until the "guest"
 * negotiates). Each simulated VM keeps its state across reconnections, as
 * a QEMU process would.
 *
 * On request (control socket) it drives an event storm: per VM in turn it
 * emits FAILOVER_NEGOTIATED (the daemon must verify the primary: qom-list)
 * or DEVICE_DELETED of the primary (the daemon must re-plug it: qom-get,
 * ... device_add, qom-list), with a bounded number of VMs in flight, and
 * measures from the event's write to the first command read back.
 *
 * With --pairs P each VM has standbys net0..netP-1 (on rp1..rpP) and primaries
 * fo-p0..; with --incoming-from K the VMs from K on are -incoming
 * destinations ("inmigrate") named as VM 0, 1, ... and 'evacuate N' migrates
 * VM k to VM K + k for k < N, every VM at once (see evac_on_timer()).
 *
 *   qmp-sim --dir DIR --count N --control SOCK [--replies DIR] [--negotiated]
 *           [--pairs P] [--first F] [--incoming-from K]
 *   qmp-sim --ctl SOCK 'storm EVENTS CONCURRENCY' | 'evacuate N' | evac-stats |
 *           status | negotiate | quit
 */

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

#define PRIMARY_ID	"fo-p0" /* the storm's pair */
#define STANDBY_ID	"net0"
#define MAX_PAIRS	4
#define STEP_TIMEOUT_MS 2000

typedef struct Sim Sim;

typedef enum StormStep {
	STEP_IDLE,
	STEP_NEGOTIATED, /* FAILOVER_NEGOTIATED sent: done at the presence qom-list */
	STEP_DELETED,	 /* DEVICE_DELETED sent: done at the qom-list after device_add */
} StormStep;

typedef struct Vm {
	Sim *sim;
	unsigned index;
	char name[32];
	char mac[MAX_PAIRS][18]; /* of standby netJ */
	struct evconnlistener *listener;
	struct bufferevent *bev; /* the one client, as with QEMU's -qmp server */
	bool caps;		 /* qmp_capabilities done */
	bool events_cap;	 /* migrate-set-capabilities events=on */
	bool negotiated;	 /* the "guest" negotiated VIRTIO_NET_F_STANDBY */
	bool incoming;		 /* -incoming: "inmigrate" until the migration's RESUME */
	/* Primary fo-pJ of standby netJ; the storm uses pair 0 only. */
	bool added[MAX_PAIRS];	  /* device_add of fo-pJ accepted */
	bool realized[MAX_PAIRS]; /* fo-pJ visible in qom-list (plugged) */
	char bus[MAX_PAIRS][16];
	/* storm */
	StormStep step;
	bool saw_device_add;
	bool got_command;
	uint64_t emitted_ns;
	struct event *step_timer;
} Vm;

typedef struct Canned {
	char *schema;	   /* query-qmp-schema "return" JSON */
	char *props_net;   /* device-list-properties virtio-net-pci */
	char *props_e1000; /* device-list-properties e1000e */
	char *migrate_caps;
} Canned;

struct Sim {
	struct event_base *base;
	Vm *vms;
	unsigned n;
	Canned canned;
	unsigned pairs;		/* standbys netJ / primaries fo-pJ per VM */
	unsigned incoming_from; /* VMs from this index on are -incoming destinations */
	/* evacuation: VM k < evac_n migrates to VM incoming_from + k */
	struct bufferevent *evac_waiter;
	struct event *evac_timer;
	unsigned evac_n, evac_phase;
	uint64_t evac_events, evac_last_completed_ns, evac_cpu_ns;
	/* storm */
	struct bufferevent *ctl_waiter;
	uint64_t target, emitted, reactions, timeouts, started_ns;
	unsigned concurrency, in_flight, next_vm;
	uint32_t *samples_ns;
	size_t n_samples, cap_samples;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "qmp-sim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	char chunk[65536];
	size_t n;

	if (!f)
		return NULL;
	mem = open_memstream(&buf, &len);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, mem);
	fclose(f);
	fclose(mem);
	/* Strip the trailing newline: the text is spliced into a reply. */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = 0;
	return buf;
}

/* Replies recorded from a real QEMU (bench/qmp-rtt --capture), else a minimum. */
static void canned_load(Canned *c, const char *dir)
{
	char path[4096];

	if (dir) {
		snprintf(path, sizeof(path), "%s/query-qmp-schema.json", dir);
		c->schema = read_file(path);
		snprintf(path, sizeof(path), "%s/device-list-properties-virtio-net-pci.json", dir);
		c->props_net = read_file(path);
		snprintf(path, sizeof(path), "%s/device-list-properties-e1000e.json", dir);
		c->props_e1000 = read_file(path);
		snprintf(path, sizeof(path), "%s/query-migrate-capabilities.json", dir);
		c->migrate_caps = read_file(path);
		if (!c->schema || !c->props_net || !c->props_e1000 || !c->migrate_caps)
			die("incomplete replies in %s", dir);
		return;
	}
	c->schema = strdup("[{\"name\": \"UNPLUG_PRIMARY\", \"meta-type\": \"event\", "
			   "\"arg-type\": \"1\"}, {\"name\": \"FAILOVER_NEGOTIATED\", "
			   "\"meta-type\": \"event\", \"arg-type\": \"2\"}]");
	c->props_net = strdup("[{\"name\": \"failover\", \"type\": \"bool\"}, "
			      "{\"name\": \"failover_pair_id\", \"type\": \"str\"}]");
	c->props_e1000 = strdup("[{\"name\": \"failover_pair_id\", \"type\": \"str\"}]");
	c->migrate_caps = strdup("[{\"state\": false, \"capability\": \"events\"}]");
}

/* --- output --- */

static void vm_send(Vm *v, const char *s, size_t len)
{
	if (v->bev)
		bufferevent_write(v->bev, s, len);
}

/* {"return": RET, "id": ID} with @ret already serialized. */
static void vm_reply_raw(Vm *v, const char *ret, const char *id)
{
	struct evbuffer *out;

	if (!v->bev)
		return;
	out = bufferevent_get_output(v->bev);
	evbuffer_add_printf(out, "{\"return\": ");
	evbuffer_add(out, ret, strlen(ret));
	if (id)
		evbuffer_add_printf(out, ", \"id\": %s", id);
	evbuffer_add(out, "}\r\n", 3);
}

static void vm_reply(Vm *v, json_object *ret, const char *id)
{
	vm_reply_raw(v, json_object_to_json_string_ext(ret, JSON_C_TO_STRING_SPACED), id);
	json_object_put(ret);
}

static void vm_error(Vm *v, const char *klass, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void vm_error(Vm *v, const char *klass, const char *id, const char *fmt, ...)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	char desc[512];
	const char *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	json_object_object_add(e, "class", json_object_new_string(klass));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	if (id)
		json_object_object_add(o, "id", json_tokener_parse(id));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED);
	vm_send(v, s, strlen(s));
	vm_send(v, "\r\n", 2);
	json_object_put(o);
}

static void vm_event(Vm *v, const char *name, json_object *data)
{
	struct timeval tv;
	char head[160];
	const char *d = data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_SPACED) : NULL;
	struct evbuffer *out;

	if (!v->bev) {
		if (data)
			json_object_put(data);
		return;
	}
	gettimeofday(&tv, NULL);
	out = bufferevent_get_output(v->bev);
	snprintf(head, sizeof(head),
		 "{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %lld}, \"event\": \"%s\"",
		 (long long)tv.tv_sec, (long long)tv.tv_usec, name);
	evbuffer_add(out, head, strlen(head));
	if (d) {
		evbuffer_add(out, ", \"data\": ", 10);
		evbuffer_add(out, d, strlen(d));
	}
	evbuffer_add(out, "}\r\n", 3);
	if (data)
		json_object_put(data);
}

/* --- the machine's QOM tree, as qom-list shows it --- */

static json_object *prop(const char *name, const char *type)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "type", json_object_new_string(type));
	return o;
}

/* Standby netJ sits on rpJ+1; ports rpP+1..rp2P+1 are free (P pairs). */
static unsigned n_ports(const Vm *v);

static json_object *qom_list(Vm *v, const char *path)
{
	json_object *a = json_object_new_array();
	unsigned np = v->sim->pairs;
	char name[32], bus[80];

	if (strcmp(path, "/machine/peripheral") == 0) {
		json_object_array_add(a, prop("type", "string"));
		for (unsigned k = 1; k <= n_ports(v); k++) {
			snprintf(name, sizeof(name), "rp%u", k);
			json_object_array_add(a, prop(name, "child<pcie-root-port>"));
			if (k <= np) {
				snprintf(name, sizeof(name), "net%u", k - 1);
				json_object_array_add(a, prop(name, "child<virtio-net-pci>"));
			}
		}
		for (unsigned j = 0; j < np; j++)
			if (v->realized[j]) {
				snprintf(name, sizeof(name), "fo-p%u", j);
				json_object_array_add(a, prop(name, "child<e1000e>"));
			}
		return a;
	}
	for (unsigned k = 1; k <= n_ports(v); k++) {
		bool child = k <= np;

		snprintf(bus, sizeof(bus), "/machine/peripheral/rp%u/rp%u", k, k);
		if (strcmp(path, bus) != 0)
			continue;
		snprintf(name, sizeof(name), "rp%u", k);
		json_object_array_add(a, prop("type", "string"));
		json_object_array_add(a, prop("realized", "bool"));
		json_object_array_add(a, prop("acpi-pcihp-bsel", "uint32"));
		for (unsigned j = 0; j < np && !child; j++)
			child = v->realized[j] && strcmp(v->bus[j], name) == 0;
		if (k <= np)
			json_object_array_add(a, prop("child[0]", "link<virtio-net-pci>"));
		else if (child)
			json_object_array_add(a, prop("child[0]", "link<e1000e>"));
		json_object_array_add(a, prop("hotplug-handler", "link<hotplug-handler>"));
		return a;
	}
	json_object_put(a);
	return NULL;
}

static unsigned n_ports(const Vm *v)
{
	return 2 * v->sim->pairs + 1;
}

/* J for "PREFIXJ" (netJ, fo-pJ) of a configured pair, else -1. */
static int pair_index(const Vm *v, const char *id, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	unsigned long j;

	if (!id || strncmp(id, prefix, n) != 0 || !id[n])
		return -1;
	j = strtoul(id + n, &end, 10);
	return *end || j >= v->sim->pairs ? -1 : (int)j;
}

static const char *arg_string(json_object *args, const char *key)
{
	json_object *v;

	if (args && json_object_object_get_ex(args, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* --- storm bookkeeping --- */

static void storm_next(Sim *s);

static void step_done(Vm *v, bool timed_out)
{
	Sim *s = v->sim;

	if (v->step == STEP_IDLE)
		return;
	evtimer_del(v->step_timer);
	v->step = STEP_IDLE;
	if (timed_out)
		s->timeouts++;
	s->in_flight--;
	storm_next(s);
}

static void step_on_timeout(evutil_socket_t fd, short what, void *ud)
{
	step_done(ud, true);
}

/* The first command after an event is the daemon's reaction to it. */
static void step_on_command(Vm *v, uint64_t t_ns)
{
	Sim *s = v->sim;

	if (v->step == STEP_IDLE || v->got_command)
		return;
	v->got_command = true;
	s->reactions++;
	if (s->n_samples == s->cap_samples) {
		s->cap_samples = s->cap_samples ? 2 * s->cap_samples : 16384;
		s->samples_ns = realloc(s->samples_ns, s->cap_samples * sizeof(uint32_t));
		if (!s->samples_ns)
			die("out of memory");
	}
	s->samples_ns[s->n_samples++] =
		(uint32_t)(t_ns - v->emitted_ns > UINT32_MAX ? UINT32_MAX : t_ns - v->emitted_ns);
}

/* --- commands --- */

static void cmd_qom_list(Vm *v, json_object *args, const char *id)
{
	const char *path = arg_string(args, "path");
	json_object *ret = path ? qom_list(v, path) : NULL;
	bool peripheral = path && strcmp(path, "/machine/peripheral") == 0;

	if (!ret) {
		vm_error(v, "DeviceNotFound", id, "Device '%s' not found", path ? path : "");
		return;
	}
	vm_reply(v, ret, id);
	/* The presence check closes both storm steps. */
	if (peripheral &&
	    ((v->step == STEP_NEGOTIATED) || (v->step == STEP_DELETED && v->saw_device_add)))
		step_done(v, false);
}

static void cmd_qom_get(Vm *v, json_object *args, const char *id)
{
	const char *path = arg_string(args, "path"), *property = arg_string(args, "property");
	const char *pre = "/machine/peripheral/";
	int j = path && strncmp(path, pre, strlen(pre)) == 0
			? pair_index(v, path + strlen(pre), "net")
			: -1;

	if (!property || j < 0) {
		vm_error(v, "DeviceNotFound", id, "Device '%s' not found", path ? path : "");
		return;
	}
	if (strcmp(property, "failover") == 0)
		vm_reply_raw(v, "true", id);
	else if (strcmp(property, "mac") == 0)
		vm_reply(v, json_object_new_string(v->mac[j]), id);
	else
		vm_error(v, "GenericError", id, "Property '%s.%s' not found", "virtio-net-pci",
			 property);
}

static void cmd_device_add(Vm *v, json_object *args, const char *id)
{
	const char *dev = arg_string(args, "id"), *bus = arg_string(args, "bus");
	const char *pair = arg_string(args, "failover_pair_id");
	int j = pair_index(v, dev, "fo-p");

	if (!dev || !bus) {
		vm_error(v, "GenericError", id, "Parameter 'id' is missing");
		return;
	}
	if (pair_index(v, dev, "net") >= 0 || (j >= 0 && v->realized[j])) {
		vm_error(v, "GenericError", id, "Duplicate ID '%s' for device", dev);
		return;
	}
	if (j < 0 || pair_index(v, pair, "net") != j) {
		vm_error(v, "GenericError", id, "qmp-sim models only the primaries fo-pJ of netJ");
		return;
	}
	/* QEMU 10: a hidden primary is replaced by a second device_add. */
	v->added[j] = true;
	v->realized[j] = v->negotiated;
	snprintf(v->bus[j], sizeof(v->bus[j]), "%s", bus);
	if (j == 0 && v->step == STEP_DELETED)
		v->saw_device_add = true;
	vm_reply_raw(v, "{}", id);
}

static void cmd_device_del(Vm *v, json_object *args, const char *id)
{
	const char *dev = arg_string(args, "id");
	int j = pair_index(v, dev, "fo-p");
	json_object *data;
	char path[80];

	if (j < 0 || !v->realized[j]) {
		vm_error(v, "DeviceNotFound", id, "Device '%s' not found", dev ? dev : "");
		return;
	}
	vm_reply_raw(v, "{}", id);
	/* A running guest acknowledges the unplug at once. */
	v->added[j] = v->realized[j] = false;
	data = json_object_new_object();
	snprintf(path, sizeof(path), "/machine/peripheral/%s", dev);
	json_object_object_add(data, "device", json_object_new_string(dev));
	json_object_object_add(data, "path", json_object_new_string(path));
	vm_event(v, "DEVICE_DELETED", data);
}

static void cmd_migrate_set_caps(Vm *v, json_object *args, const char *id)
{
	json_object *caps;

	if (args && json_object_object_get_ex(args, "capabilities", &caps))
		for (size_t k = 0; k < json_object_array_length(caps); k++) {
			json_object *c = json_object_array_get_idx(caps, k), *n, *st;

			if (json_object_object_get_ex(c, "capability", &n) &&
			    json_object_object_get_ex(c, "state", &st) &&
			    strcmp(json_object_get_string(n), "events") == 0)
				v->events_cap = json_object_get_boolean(st);
		}
	vm_reply_raw(v, "{}", id);
}

static void cmd_query_migrate_caps(Vm *v, json_object *args, const char *id)
{
	/* The recorded list, with "events" as this VM has it. */
	const char *off = "{\"state\": false, \"capability\": \"events\"}";
	const char *c = v->sim->canned.migrate_caps, *at = strstr(c, off);
	char *buf;

	if (!v->events_cap || !at) {
		vm_reply_raw(v, c, id);
		return;
	}
	if (asprintf(&buf, "%.*s{\"state\": true, \"capability\": \"events\"}%s", (int)(at - c), c,
		     at + strlen(off)) < 0)
		die("out of memory");
	vm_reply_raw(v, buf, id);
	free(buf);
}

static void cmd_query_status(Vm *v, json_object *args, const char *id)
{
	/* A paused QEMU (-S) until its guest has negotiated, running after. */
	vm_reply_raw(v,
		     v->incoming     ? "{\"status\": \"inmigrate\", \"running\": false}"
		     : v->negotiated ? "{\"status\": \"running\", \"running\": true}"
				     : "{\"status\": \"prelaunch\", \"running\": false}",
		     id);
}

static void cmd_query_name(Vm *v, json_object *args, const char *id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(v->name));
	vm_reply(v, o, id);
}

static void cmd_device_list_properties(Vm *v, json_object *args, const char *id)
{
	const char *t = arg_string(args, "typename");

	if (t && strcmp(t, "virtio-net-pci") == 0)
		vm_reply_raw(v, v->sim->canned.props_net, id);
	else if (t && strcmp(t, "e1000e") == 0)
		vm_reply_raw(v, v->sim->canned.props_e1000, id);
	else
		vm_error(v, "GenericError", id, "Device '%s' not found", t ? t : "");
}

static void cmd_schema(Vm *v, json_object *args, const char *id)
{
	vm_reply_raw(v, v->sim->canned.schema, id);
}

static void cmd_empty(Vm *v, json_object *args, const char *id)
{
	vm_reply_raw(v, "{}", id);
}

static void cmd_capabilities(Vm *v, json_object *args, const char *id)
{
	v->caps = true;
	vm_reply_raw(v, "{}", id);
}

/* Sorted by name: looked up with bsearch. */
static const struct {
	const char *name;
	void (*fn)(Vm *v, json_object *args, const char *id);
} commands[] = {
	{ "device-list-properties", cmd_device_list_properties },
	{ "device_add", cmd_device_add },
	{ "device_del", cmd_device_del },
	{ "migrate-set-capabilities", cmd_migrate_set_caps },
	{ "migrate_cancel", cmd_empty },
	{ "qmp_capabilities", cmd_capabilities },
	{ "qom-get", cmd_qom_get },
	{ "qom-list", cmd_qom_list },
	{ "query-migrate", cmd_empty },
	{ "query-migrate-capabilities", cmd_query_migrate_caps },
	{ "query-name", cmd_query_name },
	{ "query-qmp-schema", cmd_schema },
	{ "query-status", cmd_query_status },
};

static int command_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static void vm_on_message(Vm *v, const char *line, size_t len)
{
	json_object *msg = json_tokener_parse(line), *ex, *args = NULL, *idv;
	const char *name, *id = NULL;
	const void *e;

	if (!msg || !json_object_object_get_ex(msg, "execute", &ex)) {
		vm_error(v, "GenericError", NULL, "QMP input must be a JSON object with 'execute'");
		if (msg)
			json_object_put(msg);
		return;
	}
	name = json_object_get_string(ex);
	json_object_object_get_ex(msg, "arguments", &args);
	if (json_object_object_get_ex(msg, "id", &idv))
		id = json_object_to_json_string_ext(idv, JSON_C_TO_STRING_PLAIN);
	if (!v->caps && strcmp(name, "qmp_capabilities") != 0) {
		vm_error(v, "CommandNotFound", id,
			 "Expecting capabilities negotiation with 'qmp_capabilities'");
		json_object_put(msg);
		return;
	}
	e = bsearch(name, commands, sizeof(commands) / sizeof(commands[0]), sizeof(commands[0]),
		    command_cmp);
	if (e)
		((const __typeof__(commands[0]) *)e)->fn(v, args, id);
	else
		vm_error(v, "CommandNotFound", id, "The command %s has not been found", name);
	json_object_put(msg);
}

static void vm_drop(Vm *v)
{
	if (v->bev)
		bufferevent_free(v->bev);
	v->bev = NULL;
	v->caps = false;
	step_done(v, true);
}

static void vm_on_read(struct bufferevent *bev, void *ud)
{
	Vm *v = ud;
	uint64_t t = now_ns();
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while (v->bev && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		step_on_command(v, t);
		vm_on_message(v, line, len);
		free(line);
	}
}

static void vm_on_bev_event(struct bufferevent *bev, short what, void *ud)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		vm_drop(ud);
}

static void vm_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			 int socklen, void *ud)
{
	static const char greeting[] =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, "
		"\"package\": \"qmp-sim (simulated QEMU 10.0.2)\"}, \"capabilities\": "
		"[\"oob\"]}}\r\n";
	Vm *v = ud;

	vm_drop(v);
	v->bev = bufferevent_socket_new(v->sim->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!v->bev) {
		close(fd);
		return;
	}
	bufferevent_setcb(v->bev, vm_on_read, NULL, vm_on_bev_event, v);
	bufferevent_enable(v->bev, EV_READ | EV_WRITE);
	vm_send(v, greeting, sizeof(greeting) - 1);
}

/* --- storm --- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(Sim *s, double q)
{
	size_t k;

	if (!s->n_samples)
		return 0;
	k = (size_t)(q * (double)s->n_samples);
	if (k >= s->n_samples)
		k = s->n_samples - 1;
	return s->samples_ns[k] / 1000.0;
}

static void storm_finish(Sim *s)
{
	double secs = (double)(now_ns() - s->started_ns) / 1e9;
	char buf[512];

	qsort(s->samples_ns, s->n_samples, sizeof(uint32_t), cmp_u32);
	snprintf(buf, sizeof(buf),
		 "events=%llu reactions=%llu timeouts=%llu concurrency=%u seconds=%.3f "
		 "e2e_p50_us=%.1f e2e_p90_us=%.1f e2e_p99_us=%.1f e2e_max_us=%.1f\n",
		 (unsigned long long)s->emitted, (unsigned long long)s->reactions,
		 (unsigned long long)s->timeouts, s->concurrency, secs, pct_us(s, 0.5),
		 pct_us(s, 0.9), pct_us(s, 0.99),
		 s->n_samples ? s->samples_ns[s->n_samples - 1] / 1000.0 : 0.0);
	if (s->ctl_waiter) {
		bufferevent_write(s->ctl_waiter, buf, strlen(buf));
		s->ctl_waiter = NULL; /* freed once flushed */
	}
	s->target = 0;
}

/* Next event on the next VM whose pair can react: hidden -> negotiate, plugged -> delete. */
static bool storm_emit(Sim *s, Vm *v)
{
	json_object *data = json_object_new_object();
	struct timeval tv = { STEP_TIMEOUT_MS / 1000, (STEP_TIMEOUT_MS % 1000) * 1000 };

	if (!v->bev || !v->caps || v->step != STEP_IDLE || !v->added[0]) {
		json_object_put(data);
		return false;
	}
	v->got_command = v->saw_device_add = false;
	if (!v->realized[0]) {
		/* The guest negotiates: QEMU plugs the hidden primary at once. */
		v->negotiated = v->realized[0] = true;
		v->step = STEP_NEGOTIATED;
		json_object_object_add(data, "device-id", json_object_new_string(STANDBY_ID));
		v->emitted_ns = now_ns();
		vm_event(v, "FAILOVER_NEGOTIATED", data);
	} else {
		/* The guest ejected the primary (a stale eject after a cancel). */
		v->negotiated = v->realized[0] = v->added[0] = false;
		v->step = STEP_DELETED;
		json_object_object_add(data, "device", json_object_new_string(PRIMARY_ID));
		json_object_object_add(data, "path",
				       json_object_new_string("/machine/peripheral/" PRIMARY_ID));
		v->emitted_ns = now_ns();
		vm_event(v, "DEVICE_DELETED", data);
	}
	evtimer_add(v->step_timer, &tv);
	s->emitted++;
	s->in_flight++;
	return true;
}

static void storm_next(Sim *s)
{
	unsigned tried = 0;

	if (!s->target)
		return;
	while (s->in_flight < s->concurrency && s->emitted < s->target && tried < s->n) {
		Vm *v = &s->vms[s->next_vm];

		s->next_vm = (s->next_vm + 1) % s->n;
		tried++;
		if (storm_emit(s, v))
			tried = 0;
	}
	if (s->in_flight == 0)
		storm_finish(s); /* done, or nothing could react */
}

/* --- host evacuation --- */

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void evac_event(Vm *v, const char *name, const char *key, const char *value)
{
	json_object *data = NULL;

	if (key) {
		data = json_object_new_object();
		json_object_object_add(data, key, json_object_new_string(value));
	}
	vm_event(v, name, data);
	v->sim->evac_events++;
}

static void evac_migration(Vm *v, const char *status)
{
	evac_event(v, "MIGRATION", "status", status);
}

/*
 * One phase for every VM in turn, as QEMU would emit them when every guest of
 * a host migrates at once; between phases the loop answers what the daemons
 * sent. Source: setup, UNPLUG_PRIMARY per primary, wait-unplug; the guest
 * releases the primaries, active; STOP, completed. Destination: setup,
 * active; on the source's completed, FAILOVER_NEGOTIATED per standby (the
 * loaded guest state), completed, RESUME.
 */
static void evac_on_timer(evutil_socket_t fd, short what, void *ud)
{
	Sim *s = ud;
	struct timeval gap = { 0, 1000 };
	char id[16];

	for (unsigned k = 0; k < s->evac_n; k++) {
		Vm *src = &s->vms[k], *dst = &s->vms[s->incoming_from + k];

		switch (s->evac_phase) {
		case 0:
			evac_migration(src, "setup");
			for (unsigned j = 0; j < s->pairs; j++) {
				snprintf(id, sizeof(id), "fo-p%u", j);
				evac_event(src, "UNPLUG_PRIMARY", "device-id", id);
			}
			evac_migration(src, "wait-unplug");
			evac_migration(dst, "setup");
			break;
		case 1:
			for (unsigned j = 0; j < s->pairs; j++)
				src->realized[j] = false;
			evac_migration(src, "active");
			evac_migration(dst, "active");
			break;
		default:
			evac_event(src, "STOP", NULL, NULL);
			evac_migration(src, "completed");
			s->evac_last_completed_ns = now_ns();
			if (k + 1 == s->evac_n)
				s->evac_cpu_ns = cpu_ns();
			dst->negotiated = true;
			for (unsigned j = 0; j < s->pairs; j++) {
				dst->realized[j] = dst->added[j];
				snprintf(id, sizeof(id), "net%u", j);
				evac_event(dst, "FAILOVER_NEGOTIATED", "device-id", id);
			}
			evac_migration(dst, "completed");
			dst->incoming = false;
			evac_event(dst, "RESUME", NULL, NULL);
			break;
		}
	}
	if (s->evac_phase++ < 2) {
		evtimer_add(s->evac_timer, &gap);
		return;
	}
	if (s->evac_waiter) {
		evbuffer_add_printf(bufferevent_get_output(s->evac_waiter),
				    "evac_vms=%u evac_pairs=%u evac_events=%llu "
				    "evac_last_completed_ns=%llu\n",
				    s->evac_n, s->evac_n * s->pairs,
				    (unsigned long long)s->evac_events,
				    (unsigned long long)s->evac_last_completed_ns);
		s->evac_waiter = NULL; /* freed once flushed */
	}
}

/* --- control socket --- */

static void ctl_on_write(struct bufferevent *bev, void *ud)
{
	bufferevent_free(bev);
}

static void ctl_reply(struct bufferevent *bev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ctl_reply(struct bufferevent *bev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(bev), fmt, ap);
	va_end(ap);
}

static void ctl_on_read(struct bufferevent *bev, void *ud)
{
	Sim *s = ud;
	char *line = evbuffer_readln(bufferevent_get_input(bev), NULL, EVBUFFER_EOL_LF);
	unsigned long long events;
	unsigned conc;

	if (!line)
		return;
	bufferevent_setcb(bev, NULL, ctl_on_write, NULL, s);
	if (strcmp(line, "status") == 0) {
		unsigned conn = 0, caps = 0, added = 0, realized = 0;

		for (unsigned k = 0; k < s->n; k++) {
			conn += s->vms[k].bev != NULL;
			caps += s->vms[k].caps;
			added += s->vms[k].added[0];
			realized += s->vms[k].realized[0];
		}
		ctl_reply(bev, "vms=%u connected=%u negotiated=%u primaries_added=%u realized=%u\n",
			  s->n, conn, caps, added, realized);
	} else if (strcmp(line, "negotiate") == 0) {
		unsigned n = 0;

		for (unsigned k = 0; k < s->n; k++) {
			Vm *v = &s->vms[k];
			json_object *data;

			if (v->negotiated)
				continue;
			v->negotiated = true;
			for (unsigned j = 0; j < s->pairs; j++) {
				char sb[16];

				v->realized[j] = v->added[j];
				snprintf(sb, sizeof(sb), "net%u", j);
				data = json_object_new_object();
				json_object_object_add(data, "device-id",
						       json_object_new_string(sb));
				vm_event(v, "FAILOVER_NEGOTIATED", data);
			}
			n++;
		}
		ctl_reply(bev, "negotiated=%u\n", n);
	} else if (sscanf(line, "storm %llu %u", &events, &conc) == 2 && conc > 0 && !s->target) {
		s->target = events;
		s->concurrency = conc;
		s->emitted = s->reactions = s->timeouts = 0;
		s->n_samples = 0;
		s->in_flight = 0;
		s->started_ns = now_ns();
		s->ctl_waiter = bev;
		storm_next(s);
	} else if (sscanf(line, "evacuate %u", &conc) == 1 && conc > 0 &&
		   conc <= s->n - s->incoming_from && conc <= s->incoming_from && !s->evac_waiter) {
		struct timeval now = { 0, 0 };

		s->evac_n = conc;
		s->evac_phase = 0;
		s->evac_events = 0;
		s->evac_waiter = bev;
		evtimer_add(s->evac_timer, &now);
	} else if (strcmp(line, "evac-stats") == 0) {
		/* Our own CPU since the last completed: the replies the daemons waited for. */
		ctl_reply(bev, "evac_sim_cpu_after_completed_ms=%.3f\n",
			  (double)(cpu_ns() - s->evac_cpu_ns) / 1e6);
	} else if (strcmp(line, "quit") == 0) {
		ctl_reply(bev, "bye\n");
		event_base_loopexit(s->base, NULL);
	} else {
		ctl_reply(bev, "error: unknown command '%s'\n", line);
	}
	free(line);
}

static void ctl_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int socklen, void *ud)
{
	Sim *s = ud;
	struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);

	bufferevent_setcb(bev, ctl_on_read, NULL, NULL, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static struct evconnlistener *listen_unix(Sim *s, const char *path, evconnlistener_cb cb, void *ud)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct evconnlistener *l;

	if (strlen(path) >= sizeof(sa.sun_path))
		die("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	unlink(path);
	l = evconnlistener_new_bind(s->base, cb, ud, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				    128, (struct sockaddr *)&sa, sizeof(sa));
	if (!l)
		die("cannot listen on %s: %s", path, strerror(errno));
	return l;
}

/* --- client side of the control socket --- */

static int ctl_client(const char *path, const char *command)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[4096];
	ssize_t n;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect to %s: %s", path, strerror(errno));
	if (dprintf(fd, "%s\n", command) < 0)
		die("cannot send to %s", path);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *ud)
{
	event_base_loopexit(ud, NULL);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "replies", required_argument, NULL, 'r' },
		{ "control", required_argument, NULL, 'c' },
		{ "ctl", required_argument, NULL, 'C' },
		{ "negotiated", no_argument, NULL, 'g' },
		{ "pairs", required_argument, NULL, 'p' },
		{ "first", required_argument, NULL, 'f' },
		{ "incoming-from", required_argument, NULL, 'i' },
		{},
	};
	const char *dir = NULL, *replies = NULL, *control = NULL;
	bool negotiated = false;
	unsigned first = 0;
	struct event *sig_term, *sig_int;
	struct evconnlistener *ctl;
	Sim s = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			s.n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			replies = optarg;
			break;
		case 'c':
			control = optarg;
			break;
		case 'C':
			if (optind >= argc)
				die("--ctl SOCKET COMMAND");
			return ctl_client(optarg, argv[optind]);
		case 'g':
			negotiated = true;
			break;
		case 'p':
			s.pairs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			first = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			s.incoming_from = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!s.pairs)
		s.pairs = 1;
	if (!s.incoming_from)
		s.incoming_from = s.n;
	if (!dir || !s.n || !control || s.pairs > MAX_PAIRS)
		die("usage: qmp-sim --dir DIR --count N --control SOCKET [--replies DIR] "
		    "[--negotiated] [--pairs 1..%d] [--first K] [--incoming-from K] | "
		    "--ctl SOCKET COMMAND",
		    MAX_PAIRS);
	/*
	 * failoverd trusts a persisted QEMU pid across its own restart only if
	 * /proc/PID/comm starts with "qemu" (daemon/manager.c): say we stand in.
	 */
	prctl(PR_SET_NAME, "qemu-qmp-sim");
	signal(SIGPIPE, SIG_IGN);
	canned_load(&s.canned, replies);
	s.base = event_base_new();
	s.vms = calloc(s.n, sizeof(Vm));
	if (!s.base || !s.vms)
		die("out of memory");
	for (unsigned k = 0; k < s.n; k++) {
		Vm *v = &s.vms[k];
		char path[4096];

		/* A destination is named as its source, on the other "host". */
		unsigned n = first + (k < s.incoming_from ? k : k - s.incoming_from);

		v->sim = &s;
		v->index = k;
		v->incoming = k >= s.incoming_from;
		v->negotiated = negotiated && !v->incoming;
		snprintf(v->name, sizeof(v->name), "vm%u", n);
		for (unsigned j = 0; j < s.pairs; j++)
			snprintf(v->mac[j], sizeof(v->mac[j]), "52:54:%02x:%02x:%02x:%02x", j,
				 (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
		v->step_timer = evtimer_new(s.base, step_on_timeout, v);
		snprintf(path, sizeof(path), "%s/vm%u.qmp", dir, first + k);
		v->listener = listen_unix(&s, path, vm_on_accept, v);
	}
	s.evac_timer = evtimer_new(s.base, evac_on_timer, &s);
	ctl = listen_unix(&s, control, ctl_on_accept, &s);
	sig_term = evsignal_new(s.base, SIGTERM, on_signal, s.base);
	sig_int = evsignal_new(s.base, SIGINT, on_signal, s.base);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
	event_base_dispatch(s.base);

	for (unsigned k = 0; k < s.n; k++) {
		if (s.vms[k].bev)
			bufferevent_free(s.vms[k].bev);
		evconnlistener_free(s.vms[k].listener);
		event_free(s.vms[k].step_timer);
	}
	evconnlistener_free(ctl);
	event_free(s.evac_timer);
	event_free(sig_term);
	event_free(sig_int);
	event_base_free(s.base);
	free(s.vms);
	free(s.samples_ns);
	free(s.canned.schema);
	free(s.canned.props_net);
	free(s.canned.props_e1000);
	free(s.canned.migrate_caps);
	return 0;
}
