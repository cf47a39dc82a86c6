/* failoverctl: the command-line client of failoverd's D-Bus API (README.md, "D-Bus API"). */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "ctl/remote.h"
#include "ctl/table.h"
#include "ctl/text.h"
#include "daemon/bus-api.h"

/* The ssh command of -H, as words (docs/man/failoverctl.1). */
#define SSH_ENV "FAILOVERCTL_SSH"
/* -H: how long ssh may take to log in and bring up the bridge (a password typed included). */
#define REMOTE_CONNECT_SEC 60

/* Exit codes, documented in --help and the README. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,      /* the daemon refused or the operation failed */
	EXIT_USAGE = 2,	      /* bad command line, or InvalidArgs from the daemon */
	EXIT_UNREACHABLE = 3, /* no bus, or failoverd not running */
	EXIT_DENIED = 4,      /* AccessDenied */
	EXIT_NOT_FOUND = 5,   /* no such instance, pair or pool */
};

typedef struct Ctl {
	const char *command;
	bool json;
	bool legend;
	const char *address;
	const char *host; /* -H: the system bus of this machine, over ssh */
	int ssh_log;	  /* what ssh wrote to its stderr, or -1 */
	const char *pool, *mac, *standby, *standby_netdev, *standby_bus, *primary_bus;
	const char *primary_netdev, *primary_tap, *standby_tap, *uplink; /* docs/traffic.md */
	bool traffic, standby_link_down;
	bool no_block;
	sd_bus *bus;
} Ctl;

static void message_unrefp(sd_bus_message **m)
{
	sd_bus_message_unref(*m);
}

static void json_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}

#define _cleanup_msg_  __attribute__((cleanup(message_unrefp)))
#define _cleanup_json_ __attribute__((cleanup(json_putp)))
#define _cleanup_err_  __attribute__((cleanup(sd_bus_error_free)))

/* --- errors: one line for people, a JSON object for programs --- */

static const struct {
	const char *name;
	int code;
} error_codes[] = {
	{ SD_BUS_ERROR_ACCESS_DENIED, EXIT_DENIED },
	{ SD_BUS_ERROR_INVALID_ARGS, EXIT_USAGE },
	{ BUS_ERROR_NOT_FOUND, EXIT_NOT_FOUND },
	{ SD_BUS_ERROR_UNKNOWN_OBJECT, EXIT_NOT_FOUND },
	{ SD_BUS_ERROR_SERVICE_UNKNOWN, EXIT_UNREACHABLE },
	{ SD_BUS_ERROR_NAME_HAS_NO_OWNER, EXIT_UNREACHABLE },
	{ SD_BUS_ERROR_NO_REPLY, EXIT_UNREACHABLE },
	{ SD_BUS_ERROR_DISCONNECTED, EXIT_UNREACHABLE },
	{ SD_BUS_ERROR_TIMEOUT, EXIT_UNREACHABLE },
};

static int fail(Ctl *c, int code, const char *name, const char *message)
{
	if (c->json) {
		_cleanup_json_ json_object *o = json_object_new_object();

		json_object_object_add(o, "command", json_object_new_string(c->command));
		json_object_object_add(o, "error", json_object_new_string(name));
		json_object_object_add(o, "message", json_object_new_string(message));
		json_object_object_add(o, "exit_code", json_object_new_int(code));
		fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	} else {
		fprintf(stderr, "failoverctl %s: ", c->command);
		text_print(message, stderr);
		fputc('\n', stderr);
	}
	return code;
}

/*
 * -H: the connection did not come up or went away; ssh's own last line
 * (host key, authentication, no systemd-stdio-bridge on HOST) says why.
 */
static int fail_remote(Ctl *c, const char *what, int r)
{
	char said[300], msg[700];
	int n = remote_last_line(c->ssh_log, said, sizeof(said));

	if (r == -ETIMEDOUT)
		snprintf(msg, sizeof(msg), "%s %s over ssh: no answer in %d s%s%s%s", what, c->host,
			 REMOTE_CONNECT_SEC, n > 0 ? " (ssh: " : "", n > 0 ? said : "",
			 n > 0 ? ")" : "");
	else
		snprintf(msg, sizeof(msg), "%s %s over ssh: %s", what, c->host,
			 n > 0 ? said
			       : "the connection closed without a word from ssh "
				 "(systemd-stdio-bridge logs to the journal of HOST)");
	return fail(c, EXIT_UNREACHABLE, "org.freedesktop.DBus.Error.NoServer", msg);
}

static int fail_bus(Ctl *c, const sd_bus_error *e, int r)
{
	char msg[512];

	if (c->host && sd_bus_is_open(c->bus) <= 0)
		return fail_remote(c, "cannot reach failoverd on", r);
	if (!sd_bus_error_is_set(e)) {
		snprintf(msg, sizeof(msg), "%s", strerror(-r));
		return fail(c,
			    r == -ETIMEDOUT || r == -ECONNREFUSED || r == -ENOENT ? EXIT_UNREACHABLE
										  : EXIT_FAILED,
			    "org.freedesktop.DBus.Error.Failed", msg);
	}
	for (size_t k = 0; k < sizeof(error_codes) / sizeof(error_codes[0]); k++)
		if (strcmp(error_codes[k].name, e->name) == 0) {
			const char *m = e->message ? e->message : e->name;

			if (error_codes[k].code == EXIT_UNREACHABLE) {
				snprintf(msg, sizeof(msg), "failoverd%s%s is not reachable: %s",
					 c->host ? " on " : "", c->host ? c->host : "", m);
				m = msg;
			}
			return fail(c, error_codes[k].code, e->name, m);
		}
	return fail(c, EXIT_FAILED, e->name, e->message ? e->message : e->name);
}

static int usage_error(Ctl *c, const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	if (c->command && c->json)
		return fail(c, EXIT_USAGE, "usage", msg);
	fprintf(stderr, "failoverctl%s%s: %s (see --help)\n", c->command ? " " : "",
		c->command ? c->command : "", msg);
	return EXIT_USAGE;
}

/* --- bus --- */

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * -H: until the bridge on HOST answered Hello. sd-bus would give up on a
 * silent ssh only after its own authentication timeout, and not say so.
 */
static int remote_wait_ready(Ctl *c)
{
	uint64_t deadline = now_usec() + REMOTE_CONNECT_SEC * 1000000ull;
	int r;

	while ((r = sd_bus_is_ready(c->bus)) == 0) {
		uint64_t now = now_usec();

		if (now >= deadline)
			return -ETIMEDOUT;
		r = sd_bus_process(c->bus, NULL);
		if (r == 0)
			r = sd_bus_wait(c->bus, deadline - now);
		if (r < 0 && r != -EINTR)
			return r;
	}
	return r < 0 ? r : 0;
}

/*
 * -H: sd-bus runs ssh (unixexec:), which runs systemd-stdio-bridge on HOST,
 * as systemctl -H does. ssh's stderr goes to a file for fail_remote(): its
 * complaint becomes part of our one error line, and --json's stderr stays JSON.
 */
static int ctl_connect_remote(Ctl *c)
{
	char **argv = NULL, *address = NULL, msg[600];
	const char *why;
	RemoteHost h;
	int r, saved = -1;

	if (remote_parse(c->host, &h, &why) < 0) {
		snprintf(msg, sizeof(msg), "invalid host '%s': %s", c->host, why);
		return usage_error(c, "%s", msg);
	}
	r = remote_ssh_argv(getenv(SSH_ENV), &h, &argv);
	if (r >= 0 && !remote_program_found(argv[0])) {
		snprintf(msg, sizeof(msg), "cannot reach %s: '%s' is not in $PATH (openssh-client)",
			 c->host, argv[0]);
		remote_strv_free(argv);
		return fail(c, EXIT_UNREACHABLE, "org.freedesktop.DBus.Error.NoServer", msg);
	}
	if (r >= 0)
		r = remote_exec_address(argv, &address);
	remote_strv_free(argv);
	if (r >= 0)
		r = sd_bus_new(&c->bus);
	if (r >= 0)
		r = sd_bus_set_address(c->bus, address);
	free(address);
	if (r >= 0)
		r = sd_bus_set_bus_client(c->bus, 1);
	if (r >= 0) {
		c->ssh_log = memfd_create("failoverctl-ssh", MFD_CLOEXEC);
		if (c->ssh_log >= 0)
			saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (saved >= 0 && dup2(c->ssh_log, STDERR_FILENO) < 0)
			saved = (close(saved), -1);
		/* Forks ssh, which keeps this stderr. */
		r = sd_bus_start(c->bus);
		if (saved >= 0) {
			dup2(saved, STDERR_FILENO);
			close(saved);
		}
	}
	if (r < 0) {
		c->bus = sd_bus_unref(c->bus);
		snprintf(msg, sizeof(msg), "cannot reach %s over ssh: %s", c->host, strerror(-r));
		return fail(c, EXIT_UNREACHABLE, "org.freedesktop.DBus.Error.NoServer", msg);
	}
	r = remote_wait_ready(c);
	return r < 0 ? fail_remote(c, "cannot reach failoverd on", r) : 0;
}

static int ctl_connect(Ctl *c)
{
	const char *address = c->address ? c->address : getenv(BUS_ADDRESS_ENV);
	char msg[600];
	int r;

	if (c->host)
		return ctl_connect_remote(c);
	if (address && *address) {
		r = sd_bus_new(&c->bus);
		if (r >= 0)
			r = sd_bus_set_address(c->bus, address);
		if (r >= 0)
			r = sd_bus_set_bus_client(c->bus, 1);
		if (r >= 0)
			r = sd_bus_start(c->bus);
	} else {
		address = "the system bus";
		r = sd_bus_open_system(&c->bus);
	}
	if (r < 0) {
		c->bus = sd_bus_unref(c->bus); /* sd_bus_new() succeeded, the start did not */
		snprintf(msg, sizeof(msg), "cannot connect to %s: %s", address, strerror(-r));
		return fail(c, EXIT_UNREACHABLE, "org.freedesktop.DBus.Error.NoServer", msg);
	}
	return 0;
}

static int ctl_call(Ctl *c, const char *method, sd_bus_message **reply, const char *types, ...)
{
	_cleanup_msg_ sd_bus_message *m = NULL;
	_cleanup_err_ sd_bus_error e = SD_BUS_ERROR_NULL;
	va_list ap;
	int r;

	r = sd_bus_message_new_method_call(c->bus, &m, BUS_NAME, BUS_PATH, BUS_IFACE_MANAGER,
					   method);
	if (r >= 0 && types) {
		va_start(ap, types);
		r = sd_bus_message_appendv(m, types, ap);
		va_end(ap);
	}
	if (r >= 0)
		r = sd_bus_call(c->bus, m, 0, &e, reply);
	if (r < 0)
		return fail_bus(c, &e, r);
	return 0;
}

static int parse_error(Ctl *c, int r)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "cannot parse the daemon's reply: %s", strerror(-r));
	return fail(c, EXIT_FAILED, "org.freedesktop.DBus.Error.InvalidSignature", msg);
}

static void print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void format_time(uint64_t usec, char *buf, size_t size)
{
	time_t t = (time_t)(usec / 1000000u);
	struct tm tm;

	if (!usec || !localtime_r(&t, &tm)) {
		snprintf(buf, size, "-");
		return;
	}
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/* --- commands --- */

typedef struct PoolRow {
	const char *name, *driver, *path;
	int emulated;
	uint32_t total, free;
} PoolRow;

static int read_pool(sd_bus_message *m, PoolRow *p)
{
	return sd_bus_message_read(m, BUS_SIGNATURE_POOL, &p->name, &p->driver, &p->emulated,
				   &p->total, &p->free, &p->path);
}

static int cmd_pools(Ctl *c, int argc, char **argv)
{
	static const char *const head[] = { "POOL", "DRIVER", "KIND", "FREE", "TOTAL" };
	__attribute__((cleanup(table_freep))) Table *t = table_new(5, head);
	_cleanup_msg_ sd_bus_message *reply = NULL;
	_cleanup_json_ json_object *arr = json_object_new_array();
	PoolRow p;
	int r;

	r = ctl_call(c, "ListPools", &reply, NULL);
	if (r)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', BUS_SIGNATURE_POOL);
	while (r >= 0 && (r = read_pool(reply, &p)) > 0) {
		char total[16], free_[16];
		const char *row[] = { p.name, p.driver, p.emulated ? "emulated" : "vfio", free_,
				      total };
		json_object *o = json_object_new_object();

		snprintf(total, sizeof(total), "%u", p.total);
		snprintf(free_, sizeof(free_), "%u", p.free);
		table_add_row(t, row);
		json_object_object_add(o, "name", json_object_new_string(p.name));
		json_object_object_add(o, "driver", json_object_new_string(p.driver));
		json_object_object_add(o, "emulated", json_object_new_boolean(p.emulated));
		json_object_object_add(o, "free", json_object_new_int64(p.free));
		json_object_object_add(o, "total", json_object_new_int64(p.total));
		json_object_object_add(o, "path", json_object_new_string(p.path));
		json_object_array_add(arr, o);
	}
	if (r < 0)
		return parse_error(c, r);
	if (c->json)
		print_json(arr);
	else
		table_print(t, stdout, c->legend);
	return 0;
}

typedef struct InstanceRow {
	const char *name, *qmp, *run, *migration, *path;
	int connected;
	uint32_t n_pairs;
} InstanceRow;

static int read_instance(sd_bus_message *m, InstanceRow *i)
{
	return sd_bus_message_read(m, BUS_SIGNATURE_INSTANCE, &i->name, &i->qmp, &i->connected,
				   &i->run, &i->migration, &i->n_pairs, &i->path);
}

static int cmd_instances(Ctl *c, int argc, char **argv)
{
	static const char *const head[] = { "INSTANCE",	 "CONNECTED", "STATUS",
					    "MIGRATION", "PAIRS",     "QMP" };
	__attribute__((cleanup(table_freep))) Table *t = table_new(6, head);
	_cleanup_msg_ sd_bus_message *reply = NULL;
	_cleanup_json_ json_object *arr = json_object_new_array();
	InstanceRow i;
	int r;

	r = ctl_call(c, "ListInstances", &reply, NULL);
	if (r)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', BUS_SIGNATURE_INSTANCE);
	while (r >= 0 && (r = read_instance(reply, &i)) > 0) {
		char n[16];
		const char *row[] = { i.name, i.connected ? "yes" : "no",
				      i.run,  i.migration,
				      n,      i.qmp[0] ? i.qmp : "(connected to us)" };
		json_object *o = json_object_new_object();

		snprintf(n, sizeof(n), "%u", i.n_pairs);
		table_add_row(t, row);
		json_object_object_add(o, "name", json_object_new_string(i.name));
		json_object_object_add(o, "connected", json_object_new_boolean(i.connected));
		json_object_object_add(o, "run_status", json_object_new_string(i.run));
		json_object_object_add(o, "migration_status", json_object_new_string(i.migration));
		json_object_object_add(o, "pairs", json_object_new_int64(i.n_pairs));
		json_object_object_add(o, "qmp_socket", json_object_new_string(i.qmp));
		json_object_object_add(o, "path", json_object_new_string(i.path));
		json_object_array_add(arr, o);
	}
	if (r < 0)
		return parse_error(c, r);
	if (c->json)
		print_json(arr);
	else
		table_print(t, stdout, c->legend);
	return 0;
}

typedef struct PairRow {
	const char *instance, *name, *state, *pool, *vf, *mac, *reason, *path;
	int negotiated;
	uint64_t changed_usec;
} PairRow;

static int read_pair(sd_bus_message *m, PairRow *p)
{
	return sd_bus_message_read(m, BUS_SIGNATURE_PAIR, &p->instance, &p->name, &p->state,
				   &p->pool, &p->vf, &p->mac, &p->reason, &p->negotiated,
				   &p->changed_usec, &p->path);
}

static json_object *pair_json(const PairRow *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "instance", json_object_new_string(p->instance));
	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "state", json_object_new_string(p->state));
	json_object_object_add(o, "pool", json_object_new_string(p->pool));
	json_object_object_add(o, "vf", json_object_new_string(p->vf));
	json_object_object_add(o, "mac_address", json_object_new_string(p->mac));
	json_object_object_add(o, "guest_negotiated", json_object_new_boolean(p->negotiated));
	json_object_object_add(o, "last_error", json_object_new_string(p->reason));
	json_object_object_add(o, "state_changed_usec", json_object_new_uint64(p->changed_usec));
	json_object_object_add(o, "path", json_object_new_string(p->path));
	return o;
}

static int cmd_pairs(Ctl *c, int argc, char **argv)
{
	static const char *const head[] = { "INSTANCE", "PAIR",	 "STATE", "POOL",  "VF",
					    "MAC",	"GUEST", "SINCE", "REASON" };
	__attribute__((cleanup(table_freep))) Table *t = table_new(9, head);
	_cleanup_msg_ sd_bus_message *reply = NULL;
	_cleanup_json_ json_object *arr = json_object_new_array();
	const char *only = argc > 0 ? argv[0] : NULL;
	PairRow p;
	int r;

	r = ctl_call(c, "ListPairs", &reply, NULL);
	if (r)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', BUS_SIGNATURE_PAIR);
	while (r >= 0 && (r = read_pair(reply, &p)) > 0) {
		char since[32];
		const char *row[] = { p.instance,
				      p.name,
				      p.state,
				      p.pool,
				      p.vf,
				      p.mac,
				      p.negotiated ? "negotiated" : "no",
				      since,
				      p.reason };

		if (only && strcmp(only, p.instance) != 0)
			continue;
		format_time(p.changed_usec, since, sizeof(since));
		table_add_row(t, row);
		json_object_array_add(arr, pair_json(&p));
	}
	if (r < 0)
		return parse_error(c, r);
	if (c->json)
		print_json(arr);
	else
		table_print(t, stdout, c->legend);
	return 0;
}

/* Text output, unless --json (@out NULL): then only @o is filled. */
#define OUT(...)                                                                                   \
	do {                                                                                       \
		if (out)                                                                           \
			fprintf(out, __VA_ARGS__);                                                 \
	} while (0)
#define TEXT_OUT(s)                                                                                \
	do {                                                                                       \
		if (out)                                                                           \
			text_print((s), out);                                                      \
	} while (0)

/* One property's value: "Name: value" on @out, and added to @o for --json. */
static int status_value(sd_bus_message *m, const char *name, const char *type, json_object *o,
			FILE *out)
{
	union {
		const char *s;
		int b;
		uint32_t u;
		uint64_t t;
		int64_t x;
	} v;
	char when[40];
	int r;

	if (strcmp(type, "a(tsss)") == 0) {
		/* A pair's History: one line per transition, oldest first. */
		json_object *a = json_object_new_array();
		const char *from, *to, *reason;
		uint64_t usec;

		json_object_object_add(o, name, a);
		OUT("%18s:\n", name);
		r = sd_bus_message_enter_container(m, 'a', "(tsss)");
		while (r >= 0 &&
		       (r = sd_bus_message_read(m, "(tsss)", &usec, &from, &to, &reason)) > 0) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "time_usec", json_object_new_uint64(usec));
			json_object_object_add(e, "from", json_object_new_string(from));
			json_object_object_add(e, "to", json_object_new_string(to));
			json_object_object_add(e, "reason", json_object_new_string(reason));
			json_object_array_add(a, e);
			format_time(usec, when, sizeof(when));
			OUT("%20s%s  ", "", when);
			TEXT_OUT(from);
			OUT(" -> ");
			TEXT_OUT(to);
			OUT("%s", reason[0] ? "  " : "");
			TEXT_OUT(reason);
			OUT("\n");
		}
		return r < 0 ? r : sd_bus_message_exit_container(m);
	}
	if (strcmp(type, "ao") == 0) {
		/* An instance's Pairs: their names. */
		json_object *a = json_object_new_array();
		const char *path;
		char *key = NULL;

		json_object_object_add(o, name, a);
		OUT("%18s:", name);
		r = sd_bus_message_enter_container(m, 'a', "o");
		while (r >= 0 && (r = sd_bus_message_read(m, "o", &path)) > 0) {
			if (sd_bus_path_decode(path, BUS_PATH_PAIR, &key) <= 0 || !key)
				continue;
			json_object_array_add(a, json_object_new_string(key));
			OUT(" ");
			TEXT_OUT(strchr(key, '/') ? strchr(key, '/') + 1 : key);
			free(key);
			key = NULL;
		}
		OUT("\n");
		return r < 0 ? r : sd_bus_message_exit_container(m);
	}
	OUT("%18s: ", name);
	if (!type[0] || type[1] || !strchr("sobutx", type[0])) {
		OUT("(%s)\n", type);
		return sd_bus_message_skip(m, type);
	}
	r = sd_bus_message_read_basic(m, type[0], &v);
	if (r < 0)
		return r;
	switch (type[0]) {
	case 's':
	case 'o':
		json_object_object_add(o, name, json_object_new_string(v.s));
		TEXT_OUT(v.s[0] ? v.s : "-");
		break;
	case 'b':
		json_object_object_add(o, name, json_object_new_boolean(v.b));
		OUT("%s", v.b ? "yes" : "no");
		break;
	case 'u':
		json_object_object_add(o, name, json_object_new_int64(v.u));
		OUT("%u", v.u);
		break;
	case 't':
		json_object_object_add(o, name, json_object_new_uint64(v.t));
		/* ...USec: a point in time. */
		format_time(v.t, when, sizeof(when));
		if (strstr(name, "USec"))
			OUT("%s", v.t ? when : "-");
		else
			OUT("%" PRIu64, v.t);
		break;
	case 'x':
		json_object_object_add(o, name, json_object_new_int64(v.x));
		OUT("%" PRId64, v.x);
		break;
	}
	OUT("\n");
	return r;
}

/* One object in detail, as networkctl status does: every property of @iface at @path. */
static int status_object(Ctl *c, const char *path, const char *iface)
{
	_cleanup_msg_ sd_bus_message *reply = NULL;
	_cleanup_err_ sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_json_ json_object *o = json_object_new_object();
	int r;

	r = sd_bus_call_method(c->bus, BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
			       &e, &reply, "s", iface);
	if (r < 0)
		return fail_bus(c, &e, r);
	r = sd_bus_message_enter_container(reply, 'a', "{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
		const char *name, *type;
		char t;

		r = sd_bus_message_read(reply, "s", &name);
		if (r >= 0)
			r = sd_bus_message_peek_type(reply, &t, &type);
		if (r >= 0)
			r = sd_bus_message_enter_container(reply, 'v', type);
		if (r >= 0)
			r = status_value(reply, name, type, o, c->json ? NULL : stdout);
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	if (r < 0)
		return parse_error(c, r);
	if (c->json)
		print_json(o);
	return 0;
}

static int cmd_status_of(Ctl *c, const char *what)
{
	const char *slash = strchr(what, '/');
	char *path = NULL;
	int r = sd_bus_path_encode(slash ? BUS_PATH_PAIR : BUS_PATH_INSTANCE, what, &path);

	if (r < 0)
		return parse_error(c, r);
	r = status_object(c, path, slash ? BUS_IFACE_PAIR : BUS_IFACE_INSTANCE);
	free(path);
	return r;
}

/* The daemon as a whole: counts of pools, VFs, instances and pairs by state. */
static int status_summary(Ctl *c)
{
	_cleanup_msg_ sd_bus_message *pools = NULL, *instances = NULL, *pairs = NULL;
	_cleanup_err_ sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *by_state = json_object_new_object();
	char *version = NULL, *state_dir = NULL, *group = NULL;
	unsigned n_pools = 0, n_inst = 0, n_conn = 0, n_pairs = 0, vf_free = 0, vf_total = 0;
	InstanceRow i;
	PoolRow pl;
	PairRow p;
	int r;

	json_object_object_add(o, "pairs_by_state", by_state);
	r = sd_bus_get_property_string(c->bus, BUS_NAME, BUS_PATH, BUS_IFACE_MANAGER, "Version", &e,
				       &version);
	if (r < 0)
		return fail_bus(c, &e, r);
	sd_bus_get_property_string(c->bus, BUS_NAME, BUS_PATH, BUS_IFACE_MANAGER, "StateDirectory",
				   NULL, &state_dir);
	sd_bus_get_property_string(c->bus, BUS_NAME, BUS_PATH, BUS_IFACE_MANAGER, "AdminGroup",
				   NULL, &group);
	r = ctl_call(c, "ListPools", &pools, NULL);
	if (!r)
		r = ctl_call(c, "ListInstances", &instances, NULL);
	if (!r)
		r = ctl_call(c, "ListPairs", &pairs, NULL);
	if (r)
		goto out;
	r = sd_bus_message_enter_container(pools, 'a', BUS_SIGNATURE_POOL);
	while (r >= 0 && (r = read_pool(pools, &pl)) > 0)
		n_pools++, vf_free += pl.free, vf_total += pl.total;
	if (r >= 0)
		r = sd_bus_message_enter_container(instances, 'a', BUS_SIGNATURE_INSTANCE);
	while (r >= 0 && (r = read_instance(instances, &i)) > 0)
		n_inst++, n_conn += i.connected ? 1 : 0;
	if (r >= 0)
		r = sd_bus_message_enter_container(pairs, 'a', BUS_SIGNATURE_PAIR);
	while (r >= 0 && (r = read_pair(pairs, &p)) > 0) {
		json_object *n;

		n_pairs++;
		if (json_object_object_get_ex(by_state, p.state, &n))
			json_object_int_inc(n, 1);
		else
			json_object_object_add(by_state, p.state, json_object_new_int(1));
	}
	if (r < 0) {
		r = parse_error(c, r);
		goto out;
	}
	r = 0;
	if (c->json) {
		json_object_object_add(o, "version", json_object_new_string(version));
		json_object_object_add(o, "state_directory",
				       json_object_new_string(state_dir ? state_dir : ""));
		json_object_object_add(o, "admin_group",
				       json_object_new_string(group ? group : ""));
		json_object_object_add(o, "pools", json_object_new_int64(n_pools));
		json_object_object_add(o, "vfs_free", json_object_new_int64(vf_free));
		json_object_object_add(o, "vfs_total", json_object_new_int64(vf_total));
		json_object_object_add(o, "instances", json_object_new_int64(n_inst));
		json_object_object_add(o, "instances_connected", json_object_new_int64(n_conn));
		json_object_object_add(o, "pairs", json_object_new_int64(n_pairs));
		print_json(o);
		goto out;
	}
	printf("failoverd ");
	text_print(version, stdout);
	printf(" on %s\n  State directory: ", BUS_NAME);
	text_print(state_dir ? state_dir : "-", stdout);
	printf("\n      Admin group: ");
	text_print(group && group[0] ? group : "- (root only)", stdout);
	printf("\n");
	printf("            Pools: %u (%u of %u VFs free)\n", n_pools, vf_free, vf_total);
	printf("        Instances: %u (%u connected)\n", n_inst, n_conn);
	printf("            Pairs: %u", n_pairs);
	{
		const char *sep = " (";

		json_object_object_foreach(by_state, key, val)
		{
			printf("%s%d ", sep, json_object_get_int(val));
			text_print(key, stdout);
			sep = ", ";
		}
		printf("%s\n", n_pairs ? ")" : "");
	}
out:
	free(version);
	free(state_dir);
	free(group);
	return r;
}

static int cmd_status(Ctl *c, int argc, char **argv)
{
	return argc == 1 ? cmd_status_of(c, argv[0]) : status_summary(c);
}

/*
 * Until the attach has an outcome: the primary staged, plugged or
 * pre-staged, a reason to wait (QEMU away, destination not prepared), or a
 * failure (-EIO). With --no-block, the state right after the call.
 */
#define ATTACH_WAIT_MS 60000

static int attach_wait(Ctl *c, const char *path, char **state, char **reason)
{
	static const char *const settled[] = { "staged", "active",   "incoming",
					       "failed", "released", "detaching" };
	uint64_t deadline = now_usec() + ATTACH_WAIT_MS * 1000ull;

	for (;;) {
		bool done = false;

		free(*state);
		free(*reason);
		*state = *reason = NULL;
		char *again = NULL;
		bool moved;

		/*
		 * Two reads are no snapshot: the state is read again after the
		 * reason, and a pair that moved meanwhile is read once more.
		 */
		if (sd_bus_get_property_string(c->bus, BUS_NAME, path, BUS_IFACE_PAIR, "State",
					       NULL, state) < 0 ||
		    sd_bus_get_property_string(c->bus, BUS_NAME, path, BUS_IFACE_PAIR, "LastError",
					       NULL, reason) < 0 ||
		    sd_bus_get_property_string(c->bus, BUS_NAME, path, BUS_IFACE_PAIR, "State",
					       NULL, &again) < 0) {
			free(again);
			return 0; /* gone or unreadable: the call itself succeeded */
		}
		moved = strcmp(again, *state) != 0;
		free(again);
		if (moved)
			continue;
		for (size_t k = 0; k < sizeof(settled) / sizeof(settled[0]); k++)
			done = done || strcmp(*state, settled[k]) == 0;
		/* "waiting" with a reason waits for something outside failoverd. */
		done = done || (strcmp(*state, "waiting") == 0 && (*reason)[0]);
		/* --no-block, as with systemctl: the call was accepted, its outcome is not awaited.
		 */
		if (c->no_block)
			return 0;
		if (done || now_usec() >= deadline)
			return strcmp(*state, "failed") == 0 ? -EIO : 0;
		sd_bus_wait(c->bus, 100000);
		while (sd_bus_process(c->bus, NULL) > 0)
			;
	}
}

static int cmd_attach(Ctl *c, int argc, char **argv)
{
	_cleanup_msg_ sd_bus_message *m = NULL, *reply = NULL;
	_cleanup_err_ sd_bus_error e = SD_BUS_ERROR_NULL;
	_cleanup_json_ json_object *o = NULL;
	const char *path;
	char *state = NULL, *reason = NULL;
	int r;

	if (!c->pool || !c->mac)
		return usage_error(c, "%s", "--pool= and --mac= are required");
	if (!c->standby && !c->standby_netdev)
		return usage_error(c, "%s", "give --standby=ID or --standby-netdev=NETDEV");
	r = sd_bus_message_new_method_call(c->bus, &m, BUS_NAME, BUS_PATH, BUS_IFACE_MANAGER,
					   "AttachPair");
	if (r >= 0)
		r = sd_bus_message_append(m, "sssss", argv[0], argv[1], c->pool, c->mac,
					  c->standby ? c->standby : "");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0 && c->standby_netdev)
		r = sd_bus_message_append(m, "{sv}", "StandbyNetdev", "s", c->standby_netdev);
	if (r >= 0 && c->standby_bus)
		r = sd_bus_message_append(m, "{sv}", "StandbyBus", "s", c->standby_bus);
	if (r >= 0 && c->primary_bus)
		r = sd_bus_message_append(m, "{sv}", "PrimaryBus", "s", c->primary_bus);
	if (r >= 0 && c->primary_netdev)
		r = sd_bus_message_append(m, "{sv}", "PrimaryNetdev", "s", c->primary_netdev);
	if (r >= 0 && c->primary_tap)
		r = sd_bus_message_append(m, "{sv}", "PrimaryTap", "s", c->primary_tap);
	if (r >= 0 && c->traffic)
		r = sd_bus_message_append(m, "{sv}", "TrafficHandling", "b", 1);
	if (r >= 0 && c->standby_tap)
		r = sd_bus_message_append(m, "{sv}", "StandbyTap", "s", c->standby_tap);
	if (r >= 0 && c->uplink)
		r = sd_bus_message_append(m, "{sv}", "Uplink", "s", c->uplink);
	if (r >= 0 && c->standby_link_down)
		r = sd_bus_message_append(m, "{sv}", "StandbyLinkDown", "b", 1);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_call(c->bus, m, 0, &e, &reply);
	if (r < 0)
		return fail_bus(c, &e, r);
	r = sd_bus_message_read(reply, "o", &path);
	if (r < 0)
		return parse_error(c, r);
	r = attach_wait(c, path, &state, &reason);
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "instance", json_object_new_string(argv[0]));
		json_object_object_add(o, "name", json_object_new_string(argv[1]));
		json_object_object_add(o, "state", json_object_new_string(state ? state : ""));
		json_object_object_add(o, "reason", json_object_new_string(reason ? reason : ""));
		json_object_object_add(o, "path", json_object_new_string(path));
		print_json(o);
	} else if (r < 0) {
		fprintf(stderr, "Pair %s/%s failed: %s\n", argv[0], argv[1],
			reason && reason[0] ? reason : "(no reason given)");
	} else {
		printf("Attaching %s/%s (now %s%s%s); follow with 'failoverctl monitor'\n", argv[0],
		       argv[1], state ? state : "?", reason && reason[0] ? ": " : "",
		       reason ? reason : "");
	}
	free(state);
	free(reason);
	return r < 0 ? EXIT_FAILED : 0;
}

/* A method on one pair: (instance, pair) in, nothing out; @done says what happened. */
static int pair_call(Ctl *c, const char *method, const char *done, char **argv)
{
	_cleanup_msg_ sd_bus_message *reply = NULL;
	int r = ctl_call(c, method, &reply, "ss", argv[0], argv[1]);

	if (!r && !c->json)
		printf("%s %s/%s\n", done, argv[0], argv[1]);
	return r;
}

static int cmd_detach(Ctl *c, int argc, char **argv)
{
	return pair_call(c, "DetachPair", "Detaching", argv);
}

static int cmd_remove(Ctl *c, int argc, char **argv)
{
	return pair_call(c, "RemovePair", "Removed", argv);
}

static int cmd_prepare_incoming(Ctl *c, int argc, char **argv)
{
	_cleanup_msg_ sd_bus_message *reply = NULL;
	int r = ctl_call(c, "PrepareIncoming", &reply, "s", argv[0]);

	if (!r && !c->json)
		printf("Pre-staging the pairs of %s for the incoming migration\n", argv[0]);
	return r;
}

static int cmd_reload(Ctl *c, int argc, char **argv)
{
	_cleanup_msg_ sd_bus_message *reply = NULL;

	return ctl_call(c, "Reload", &reply, NULL);
}

static int on_state_changed(sd_bus_message *m, void *ud, sd_bus_error *error)
{
	Ctl *c = ud;
	const char *instance, *pair, *from, *to, *reason;
	struct timespec ts;
	uint64_t usec;
	char when[40];

	if (sd_bus_message_read(m, "sssss", &instance, &pair, &from, &to, &reason) < 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (c->json) {
		_cleanup_json_ json_object *o = json_object_new_object();

		json_object_object_add(o, "time_usec", json_object_new_uint64(usec));
		json_object_object_add(o, "instance", json_object_new_string(instance));
		json_object_object_add(o, "pair", json_object_new_string(pair));
		json_object_object_add(o, "from", json_object_new_string(from));
		json_object_object_add(o, "to", json_object_new_string(to));
		json_object_object_add(o, "reason", json_object_new_string(reason));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	} else {
		const char *raw[] = { instance, pair, from, to, reason };
		char *e[5];

		for (size_t k = 0; k < 5; k++)
			e[k] = text_escape(raw[k]);
		format_time(usec, when, sizeof(when));
		/* Same state, new reason: say what changed, not a transition. */
		if (!e[0] || !e[1] || !e[2] || !e[3] || !e[4])
			printf("%s.%03u  (out of memory)\n", when,
			       (unsigned)(usec / 1000u % 1000u));
		else if (strcmp(from, to) == 0)
			printf("%s.%03u  %s/%s  still %s%s%s\n", when,
			       (unsigned)(usec / 1000u % 1000u), e[0], e[1], e[3],
			       reason[0] ? ": " : "", e[4]);
		else
			printf("%s.%03u  %s/%s  %s -> %s%s%s\n", when,
			       (unsigned)(usec / 1000u % 1000u), e[0], e[1], e[2], e[3],
			       reason[0] ? "  " : "", e[4]);
		for (size_t k = 0; k < 5; k++)
			free(e[k]);
	}
	fflush(stdout);
	return 0;
}

static int cmd_monitor(Ctl *c, int argc, char **argv)
{
	_cleanup_err_ sd_bus_error e = SD_BUS_ERROR_NULL;
	int r;

	r = sd_bus_match_signal(c->bus, NULL, BUS_NAME, BUS_PATH, BUS_IFACE_MANAGER,
				"PairStateChanged", on_state_changed, c);
	if (r < 0)
		return fail_bus(c, &e, r);
	/* Only now are changes delivered: tell whoever waits for us. */
	fprintf(stderr, "Monitoring pair state changes of %s (Ctrl-C to stop)\n", BUS_NAME);
	for (;;) {
		r = sd_bus_process(c->bus, NULL);
		if (r > 0)
			continue;
		if (r == 0)
			r = sd_bus_wait(c->bus, UINT64_MAX);
		if (r < 0 && r != -EINTR && c->host)
			return fail_remote(c, "lost the connection to failoverd on", r);
		if (r < 0 && r != -EINTR)
			return fail(c, EXIT_UNREACHABLE, SD_BUS_ERROR_DISCONNECTED,
				    "lost the connection to the bus");
	}
}

/* --- command line --- */

enum {
	OPT_NONE = 0,
	OPT_ATTACH = 1 << 0,   /* options only attach takes */
	OPT_NO_BLOCK = 1 << 1, /* only attach waits for an outcome */
};

typedef struct Command {
	const char *name;
	int min_args, max_args;
	unsigned options;
	int (*run)(Ctl *c, int argc, char **argv);
	const char *args, *summary, *help;
} Command;

static const Command commands[] = {
	{ "status", 0, 1, OPT_NONE, cmd_status, "[INSTANCE[/PAIR]]",
	  "Show the daemon, or one instance or pair in detail",
	  "Without an argument: counts pools, VFs, instances and pairs (by state).\n"
	  "With INSTANCE: its connection, QEMU's status and its pairs. With\n"
	  "INSTANCE/PAIR: every property of the pair and its recent transitions\n"
	  "(since failoverd started).\n" },
	{ "pools", 0, 0, OPT_NONE, cmd_pools, "", "List the VF pools",
	  "One line per pool: its QEMU driver, vfio or emulated, free and total VFs.\n" },
	{ "instances", 0, 0, OPT_NONE, cmd_instances, "", "List the QEMU instances",
	  "One line per instance: whether its monitor is connected, QEMU's run\n"
	  "and migration status, its number of pairs and its QMP socket.\n" },
	{ "pairs", 0, 1, OPT_NONE, cmd_pairs, "[INSTANCE]", "List the failover pairs",
	  "One line per pair (of INSTANCE only, if given): state, pool, VF, MAC,\n"
	  "whether the guest negotiated failover, since when, and the last reason.\n" },
	{ "attach", 2, 2, OPT_ATTACH | OPT_NO_BLOCK, cmd_attach,
	  "INSTANCE PAIR --pool=POOL --mac=MAC "
	  "{--standby=ID | --standby-netdev=NETDEV [--standby-bus=BUS]} [--primary-bus=BUS] "
	  "[--primary-netdev=ID [--primary-tap=IF]] [--traffic-handling --standby-tap=IF "
	  "[--uplink=IF] "
	  "[--standby-link-down]]",
	  "Add a pair to an instance and start attaching it",
	  "Reserves a VF from POOL, programs MAC on it and plugs it as the primary\n"
	  "of the standby virtio-net device ID (which must have failover=on), or of a\n"
	  "standby that failoverd hotplugs on NETDEV.\n\n"
	  "      --pool=POOL            Pool to take the VF from\n"
	  "      --mac=MAC              MAC address of the pair (unicast)\n"
	  "      --standby=ID           Existing virtio-net-pci,failover=on device id\n"
	  "      --standby-netdev=NETDEV  Hotplug a standby on this netdev instead\n"
	  "      --standby-bus=BUS      ... on this PCIe root port\n"
	  "      --primary-bus=BUS      Plug the primary on this PCIe root port (default:\n"
	  "                             the first free one)\n"
	  "      --primary-netdev=ID    Emulated pools: the stand-in primary's netdev\n"
	  "      --primary-tap=IF       ... and its host tap (its MAC lives on that port)\n"
	  "      --traffic-handling     Steer the MAC's frames to the standby while the\n"
	  "                             VF is away for a migration (docs/traffic.md)\n"
	  "      --standby-tap=IF       ... the host's tap of the standby\n"
	  "      --uplink=IF            ... the bridge's uplink on the NIC (default: the PF)\n"
	  "      --standby-link-down    ... the standby's link is down while the VF is active\n"
	  "      --no-block             Return at once instead of waiting for the outcome\n"
	  "Waits until the primary is staged, plugged or pre-staged (or the pair waits\n"
	  "for QEMU); exits 1 with the reason when the pair ends failed.\n" },
	{ "detach", 2, 2, OPT_NONE, cmd_detach, "INSTANCE PAIR",
	  "Unplug a pair's primary and give its VF back", "" },
	{ "remove", 2, 2, OPT_NONE, cmd_remove, "INSTANCE PAIR",
	  "Forget a pair made with attach that holds nothing any more",
	  "For a pair released (its QEMU exited, say) or failed without a VF. A pair\n"
	  "that holds a VF must be detached first; a pair of a .vm file is removed\n"
	  "from that file (and the configuration reloaded).\n" },
	{ "prepare-incoming", 1, 1, OPT_NONE, cmd_prepare_incoming, "INSTANCE",
	  "Pre-stage the primaries of an -incoming QEMU",
	  "Reserves VFs and adds the hidden primaries before the migration stream\n"
	  "arrives, so QEMU plugs them at load (no added degraded window).\n" },
	{ "reload", 0, 0, OPT_NONE, cmd_reload, "", "Reload the configuration",
	  "A configuration with errors is refused and the running one kept.\n" },
	{ "monitor", 0, 0, OPT_NONE, cmd_monitor, "", "Print pair state changes as they happen",
	  "One line per transition (one JSON object per line with --json) until\n"
	  "interrupted.\n" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void help(void)
{
	printf("Usage: failoverctl [OPTIONS] COMMAND [ARGS...]\n\n"
	       "Control failoverd, the SR-IOV failover pair daemon, over D-Bus.\n\n"
	       "Commands:\n");
	for (size_t k = 0; k < N_COMMANDS; k++)
		printf("  %-18s %s\n", commands[k].name, commands[k].summary);
	printf("\nOptions:\n"
	       "  -h --help                Show this help (COMMAND --help: that command's)\n"
	       "     --version            Show the version\n"
	       "     --json               Machine-readable output (errors too, on stderr)\n"
	       "     --no-legend          Omit table headers\n"
	       "     --bus-address=ADDR   Talk to this D-Bus instead of the system bus\n"
	       "                          (also $" BUS_ADDRESS_ENV ")\n"
	       "  -H --host=[USER@]HOST[:PORT]\n"
	       "                          The system bus of HOST, over ssh (the ssh\n"
	       "                          command: $" SSH_ENV ", default ssh)\n\n"
	       "Exit status: 0 success, 1 the operation failed, 2 invalid arguments,\n"
	       "3 failoverd not reachable, 4 access denied, 5 no such object.\n");
}

static void command_help(const Command *cmd)
{
	printf("Usage: failoverctl [OPTIONS] %s%s%s\n\n%s.\n%s%s", cmd->name,
	       cmd->args[0] ? " " : "", cmd->args, cmd->summary, cmd->help[0] ? "\n" : "",
	       cmd->help);
	printf("\nGlobal options: --json, --no-legend, --bus-address=ADDR, -H HOST (see "
	       "failoverctl --help).\n");
}

int main(int argc, char **argv)
{
	enum {
		ARG_VERSION = 0x100,
		ARG_JSON,
		ARG_NO_LEGEND,
		ARG_BUS,
		ARG_POOL,
		ARG_MAC,
		ARG_STANDBY,
		ARG_STANDBY_NETDEV,
		ARG_STANDBY_BUS,
		ARG_PRIMARY_BUS,
		ARG_PRIMARY_NETDEV,
		ARG_PRIMARY_TAP,
		ARG_TRAFFIC,
		ARG_STANDBY_TAP,
		ARG_UPLINK,
		ARG_STANDBY_LINK_DOWN,
		ARG_NO_BLOCK,
	};
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "no-legend", no_argument, NULL, ARG_NO_LEGEND },
		{ "bus-address", required_argument, NULL, ARG_BUS },
		{ "host", required_argument, NULL, 'H' },
		{ "pool", required_argument, NULL, ARG_POOL },
		{ "mac", required_argument, NULL, ARG_MAC },
		{ "standby", required_argument, NULL, ARG_STANDBY },
		{ "standby-netdev", required_argument, NULL, ARG_STANDBY_NETDEV },
		{ "standby-bus", required_argument, NULL, ARG_STANDBY_BUS },
		{ "primary-bus", required_argument, NULL, ARG_PRIMARY_BUS },
		{ "primary-netdev", required_argument, NULL, ARG_PRIMARY_NETDEV },
		{ "primary-tap", required_argument, NULL, ARG_PRIMARY_TAP },
		{ "traffic-handling", no_argument, NULL, ARG_TRAFFIC },
		{ "standby-tap", required_argument, NULL, ARG_STANDBY_TAP },
		{ "uplink", required_argument, NULL, ARG_UPLINK },
		{ "standby-link-down", no_argument, NULL, ARG_STANDBY_LINK_DOWN },
		{ "no-block", no_argument, NULL, ARG_NO_BLOCK },
		{},
	};
	Ctl c = { .legend = true, .ssh_log = -1 };
	const Command *cmd = NULL;
	bool want_help = false;
	unsigned used = OPT_NONE;
	int opt, r, n_args;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hH:", options, NULL)) >= 0) {
		switch (opt) {
		case 'h':
			want_help = true;
			break;
		case ARG_VERSION:
			printf("failoverctl %s\n", FAILOVERD_VERSION);
			return 0;
		case ARG_JSON:
			c.json = true;
			break;
		case ARG_NO_LEGEND:
			c.legend = false;
			break;
		case ARG_BUS:
			c.address = optarg;
			break;
		case 'H':
			c.host = optarg;
			break;
		case ARG_POOL:
			c.pool = optarg, used |= OPT_ATTACH;
			break;
		case ARG_MAC:
			c.mac = optarg, used |= OPT_ATTACH;
			break;
		case ARG_STANDBY:
			c.standby = optarg, used |= OPT_ATTACH;
			break;
		case ARG_STANDBY_NETDEV:
			c.standby_netdev = optarg, used |= OPT_ATTACH;
			break;
		case ARG_STANDBY_BUS:
			c.standby_bus = optarg, used |= OPT_ATTACH;
			break;
		case ARG_PRIMARY_BUS:
			c.primary_bus = optarg, used |= OPT_ATTACH;
			break;
		case ARG_PRIMARY_NETDEV:
			c.primary_netdev = optarg, used |= OPT_ATTACH;
			break;
		case ARG_PRIMARY_TAP:
			c.primary_tap = optarg, used |= OPT_ATTACH;
			break;
		case ARG_TRAFFIC:
			c.traffic = true, used |= OPT_ATTACH;
			break;
		case ARG_STANDBY_TAP:
			c.standby_tap = optarg, used |= OPT_ATTACH;
			break;
		case ARG_UPLINK:
			c.uplink = optarg, used |= OPT_ATTACH;
			break;
		case ARG_STANDBY_LINK_DOWN:
			c.standby_link_down = true, used |= OPT_ATTACH;
			break;
		case ARG_NO_BLOCK:
			c.no_block = true, used |= OPT_NO_BLOCK;
			break;
		default:
			if (optopt)
				fprintf(stderr,
					"failoverctl: option -%c is unknown or needs a value (see "
					"--help)\n",
					optopt);
			else
				fprintf(stderr, "failoverctl: unknown option '%s' (see --help)\n",
					argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		if (want_help) {
			help();
			return 0;
		}
		fprintf(stderr, "failoverctl: missing command (see --help)\n");
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < N_COMMANDS; k++)
		if (strcmp(commands[k].name, argv[optind]) == 0)
			cmd = &commands[k];
	if (!cmd) {
		fprintf(stderr, "failoverctl: unknown command '%s' (see --help)\n", argv[optind]);
		return EXIT_USAGE;
	}
	c.command = cmd->name;
	if (want_help) {
		command_help(cmd);
		return 0;
	}
	n_args = argc - optind - 1;
	if (n_args < cmd->min_args)
		return usage_error(&c, "%s", "missing arguments");
	if (n_args > cmd->max_args)
		return usage_error(&c, "unexpected argument '%s'",
				   argv[optind + 1 + cmd->max_args]);
	if (used & ~cmd->options & OPT_ATTACH)
		return usage_error(&c, "%s", "--pool, --mac and --standby* are options of attach");
	if (used & ~cmd->options & OPT_NO_BLOCK)
		return usage_error(&c, "%s",
				   "--no-block is an option of attach: this command returns once "
				   "failoverd has taken the request");
	/* Only a system bus is there to reach on HOST ($FAILOVERD_BUS_ADDRESS is for here). */
	if (c.host && c.address)
		return usage_error(&c, "%s",
				   "-H reaches the system bus of HOST: it cannot be combined with "
				   "--bus-address");
	r = ctl_connect(&c);
	if (!r)
		r = cmd->run(&c, n_args, argv + optind + 1);
	/* Also ends ssh, for -H. */
	sd_bus_flush_close_unref(c.bus);
	if (c.ssh_log >= 0)
		close(c.ssh_log);
	return r;
}
