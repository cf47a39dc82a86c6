/* org.failoverd1 on D-Bus: objects, methods, signals and who may call what. */

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "conf/conf.h"
#include "daemon/bus.h"
#include "daemon/validate.h"

#define RETRY_SEC 2
/* How often a wait for the bus daemon that a handled signal cut short is tried again. */
#define BUS_EINTR_RETRIES 100

typedef struct BusPoolFree {
	char name[66];
	unsigned free;
} BusPoolFree;

struct Bus {
	Manager *manager;
	const Log *log;
	Service *service;
	sd_bus *bus;
	char address[512];
	char admin_group[66];
	struct event *ev_read, *ev_write, *ev_time, *ev_retry;
	bool write_armed;
	BusPoolFree *pools; /* Free last announced per pool */
	size_t n_pools;
};

static void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))

static void message_unrefp(sd_bus_message **m)
{
	sd_bus_message_unref(*m);
}

/*
 * Text that came from QEMU, the configuration or a state file: sd-bus will
 * not send a message holding broken UTF-8 at all (a cut multi-byte error
 * message from QEMU would make ListPairs fail for every pair).
 */
#define TEXT(s, buf) validate_utf8_repair((s), (buf), sizeof(buf))

/* --- names and paths --- */

static int pool_path(const char *name, char **out)
{
	return sd_bus_path_encode(BUS_PATH_POOL, name, out);
}

static int instance_path(const Instance *i, char **out)
{
	return sd_bus_path_encode(BUS_PATH_INSTANCE, i->name, out);
}

static int pair_path(const Pair *p, char **out)
{
	char key[256];

	snprintf(key, sizeof(key), "%s/%s", p->instance->name, p->config.name);
	return sd_bus_path_encode(BUS_PATH_PAIR, key, out);
}

static int bus_find_pool(Bus *b, const char *name, PoolInfo *info)
{
	size_t n = manager_get_n_pools(b->manager);

	for (size_t k = 0; k < n; k++)
		if (manager_get_pool_info(b->manager, k, info) == 0 &&
		    strcmp(info->name, name) == 0)
			return 0;
	return -ENOENT;
}

static Pair *bus_find_pair_by_path(Bus *b, const char *path)
{
	_cleanup_free_ char *key = NULL;
	Instance *i;
	char *slash;

	if (sd_bus_path_decode(path, BUS_PATH_PAIR, &key) <= 0)
		return NULL;
	/* Pair names never hold '/', instance names neither. */
	slash = strrchr(key, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	i = manager_find_instance(b->manager, key);
	return i ? instance_find_pair(i, slash + 1) : NULL;
}

/* --- errors --- */

static const struct {
	int errnum;
	const char *name;
} errno_names[] = {
	{ ENOENT, BUS_ERROR_NOT_FOUND },       { EEXIST, BUS_ERROR_EXISTS },
	{ ENOTCONN, BUS_ERROR_NOT_CONNECTED }, { EBUSY, BUS_ERROR_BUSY },
	{ ENOSPC, BUS_ERROR_NO_SPACE },	       { EOPNOTSUPP, SD_BUS_ERROR_NOT_SUPPORTED },
	{ EINVAL, BUS_ERROR_WRONG_STATE },
};

/* One readable line from the manager, under a name clients can act on. */
static int bus_error_errno(sd_bus_error *error, int r, const char *msg, const char *einval_name)
{
	const char *name = BUS_ERROR_FAILED;
	char buf[512];

	for (size_t k = 0; k < sizeof(errno_names) / sizeof(errno_names[0]); k++)
		if (errno_names[k].errnum == -r)
			name = errno_names[k].name;
	if (-r == EINVAL && einval_name)
		name = einval_name;
	return sd_bus_error_setf(error, name, "%s", msg[0] ? TEXT(msg, buf) : strerror(-r));
}

static int invalid_arg(sd_bus_error *error, const ValidateError *e)
{
	return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "argument %s: %s", e->arg,
				 e->message);
}

/* --- authorization --- */

#define MAX_GROUPS 64

typedef struct BusCaller {
	uid_t uid;
	gid_t gids[MAX_GROUPS]; /* primary and supplementary */
	size_t n_gids;
	bool has_uid, has_gids;
} BusCaller;

/*
 * Asks the bus daemon who sent @msg (GetConnectionCredentials: it took the
 * uid and groups from the socket when the caller connected). sd-bus 252
 * does not return UnixGroupIDs itself, and augmenting from /proc would be
 * racy, hence the explicit call.
 */
static int bus_query_caller(Bus *b, sd_bus_message *msg, BusCaller *c)
{
	__attribute__((cleanup(message_unrefp))) sd_bus_message *reply = NULL;
	__attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;
	const char *key;
	int r;

	/* A handled signal (SIGUSR1, SIGHUP) cuts the wait short: asked again. */
	for (int tries = 0;; tries++) {
		sd_bus_error_free(&e);
		r = sd_bus_call_method(b->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				       "org.freedesktop.DBus", "GetConnectionCredentials", &e,
				       &reply, "s", sd_bus_message_get_sender(msg));
		if (r != -EINTR || tries >= BUS_EINTR_RETRIES)
			break;
	}
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
		r = sd_bus_message_read(reply, "s", &key);
		if (r >= 0 && strcmp(key, "UnixUserID") == 0) {
			uint32_t u;

			r = sd_bus_message_read(reply, "v", "u", &u);
			c->uid = (uid_t)u;
			c->has_uid = r >= 0;
		} else if (r >= 0 && strcmp(key, "UnixGroupIDs") == 0) {
			uint32_t g;

			r = sd_bus_message_enter_container(reply, 'v', "au");
			if (r >= 0)
				r = sd_bus_message_enter_container(reply, 'a', "u");
			while (r >= 0 && (r = sd_bus_message_read(reply, "u", &g)) > 0)
				if (c->n_gids < MAX_GROUPS)
					c->gids[c->n_gids++] = (gid_t)g;
			if (r >= 0)
				r = sd_bus_message_exit_container(reply);
			if (r >= 0)
				r = sd_bus_message_exit_container(reply);
			c->has_gids = r >= 0;
		} else if (r >= 0) {
			r = sd_bus_message_skip(reply, "v");
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	return r < 0 ? r : 0;
}

/* Mutating methods: uid 0 or the admin group, as the bus daemon vouches for them. */
static int bus_check_admin(Bus *b, sd_bus_message *msg, sd_bus_error *error)
{
	const char *member = sd_bus_message_get_member(msg);
	BusCaller c = { 0 };
	char list[128] = "";
	int r;

	r = bus_query_caller(b, msg, &c);
	if (r >= 0 && c.has_uid && c.uid == 0)
		return 0;
	if (r >= 0 && c.has_uid && b->admin_group[0]) {
		struct group *gr = getgrnam(b->admin_group);

		for (size_t k = 0; gr && k < c.n_gids; k++)
			if (c.gids[k] == gr->gr_gid)
				return 0;
	}
	for (size_t k = 0; k < c.n_gids && strlen(list) < sizeof(list) - 12; k++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%u", k ? "," : "",
			 (unsigned)c.gids[k]);
	if (r < 0 || !c.has_uid)
		log_notice(b->log, "D-Bus: %s() denied: cannot get the credentials of %s: %s",
			   member, sd_bus_message_get_sender(msg) ?: "?",
			   r < 0 ? strerror(-r) : "no UnixUserID");
	else
		log_notice(b->log, "D-Bus: %s() denied to uid %u (groups %s%s)", member,
			   (unsigned)c.uid, c.has_gids ? list : "unknown",
			   c.has_gids ? "" : ": the bus does not report them");
	if (b->admin_group[0])
		return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
					 "%s() needs root or membership in group '%s'", member,
					 b->admin_group);
	return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "%s() needs root", member);
}

/* --- generic property getters: userdata points at the field (vtable offset) --- */

static int get_str(sd_bus *bus, const char *path, const char *iface, const char *prop,
		   sd_bus_message *reply, void *field, sd_bus_error *error)
{
	char buf[512];

	return sd_bus_message_append(reply, "s", TEXT(field, buf));
}

static int get_bool(sd_bus *bus, const char *path, const char *iface, const char *prop,
		    sd_bus_message *reply, void *field, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "b", (int)*(bool *)field);
}

static int get_u64(sd_bus *bus, const char *path, const char *iface, const char *prop,
		   sd_bus_message *reply, void *field, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "t", *(uint64_t *)field);
}

static int get_i64(sd_bus *bus, const char *path, const char *iface, const char *prop,
		   sd_bus_message *reply, void *field, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "x", *(int64_t *)field);
}

/* --- Manager --- */

static int property_get_version(sd_bus *bus, const char *path, const char *iface, const char *prop,
				sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", FAILOVERD_VERSION);
}

static int property_get_state_dir(sd_bus *bus, const char *path, const char *iface,
				  const char *prop, sd_bus_message *reply, void *ud,
				  sd_bus_error *error)
{
	char buf[512];

	return sd_bus_message_append(reply, "s",
				     TEXT(manager_get_state_dir(((Bus *)ud)->manager), buf));
}

static int method_list_pools(sd_bus_message *msg, void *ud, sd_bus_error *error)
{
	__attribute__((cleanup(message_unrefp))) sd_bus_message *reply = NULL;
	Bus *b = ud;
	size_t n = manager_get_n_pools(b->manager);
	int r;

	r = sd_bus_message_new_method_return(msg, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', BUS_SIGNATURE_POOL);
	for (size_t k = 0; r >= 0 && k < n; k++) {
		_cleanup_free_ char *path = NULL;
		PoolInfo info;

		if (manager_get_pool_info(b->manager, k, &info) < 0)
			continue;
		r = pool_path(info.name, &path);
		if (r >= 0)
			r = sd_bus_message_append(reply, BUS_SIGNATURE_POOL, info.name, info.driver,
						  (int)info.emulated, info.total, info.free, path);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static unsigned count_pairs(const Instance *i)
{
	unsigned n = 0;

	for (const Pair *p = i->pairs; p; p = p->next)
		n++;
	return n;
}

static int method_list_instances(sd_bus_message *msg, void *ud, sd_bus_error *error)
{
	__attribute__((cleanup(message_unrefp))) sd_bus_message *reply = NULL;
	Bus *b = ud;
	int r;

	r = sd_bus_message_new_method_return(msg, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', BUS_SIGNATURE_INSTANCE);
	for (Instance *i = manager_get_instances(b->manager); r >= 0 && i; i = i->next) {
		_cleanup_free_ char *path = NULL;
		char name[256], qmp[256], run[128], mig[128];

		r = instance_path(i, &path);
		if (r >= 0)
			r = sd_bus_message_append(
				reply, BUS_SIGNATURE_INSTANCE, TEXT(i->name, name),
				TEXT(i->qmp_path, qmp), (int)i->ready, TEXT(i->run_status, run),
				TEXT(i->migration_status, mig), count_pairs(i), path);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static const char *pair_vf(const Pair *p)
{
	return p->has_vf ? p->vf.id : "";
}

static int method_list_pairs(sd_bus_message *msg, void *ud, sd_bus_error *error)
{
	__attribute__((cleanup(message_unrefp))) sd_bus_message *reply = NULL;
	Bus *b = ud;
	int r;

	r = sd_bus_message_new_method_return(msg, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', BUS_SIGNATURE_PAIR);
	for (Instance *i = manager_get_instances(b->manager); r >= 0 && i; i = i->next)
		for (Pair *p = i->pairs; r >= 0 && p; p = p->next) {
			_cleanup_free_ char *path = NULL;
			char name[256], vf[256], reason[512];

			r = pair_path(p, &path);
			if (r >= 0)
				r = sd_bus_message_append(
					reply, BUS_SIGNATURE_PAIR, TEXT(i->name, name),
					p->config.name, pair_state_to_string(p->state),
					p->config.pool, TEXT(pair_vf(p), vf), p->mac_str,
					TEXT(p->reason, reason), (int)p->guest_negotiated,
					p->changed_us, path);
		}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

/* AttachPair's a{sv} options: strings, and booleans as 'b' or as a string. */
static int read_attach_options(sd_bus_message *msg, PairConfig *c, sd_bus_error *error)
{
	ValidateError e;
	int r;

	r = sd_bus_message_enter_container(msg, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
		const char *key, *contents, *value = NULL;
		char type;

		r = sd_bus_message_read(msg, "s", &key);
		if (r < 0)
			return r;
		r = sd_bus_message_peek_type(msg, &type, &contents);
		if (r < 0)
			return r;
		if (strcmp(contents, "s") == 0) {
			r = sd_bus_message_read(msg, "v", "s", &value);
			if (r < 0)
				return r;
		} else if (strcmp(contents, "b") == 0) {
			int b;

			r = sd_bus_message_read(msg, "v", "b", &b);
			if (r < 0)
				return r;
			value = b ? "yes" : "no";
		}
		if (validate_attach_option(key, value, c, &e) < 0)
			return invalid_arg(error, &e);
		r = sd_bus_message_exit_container(msg);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(msg);
}

static int method_attach_pair(sd_bus_message *msg, void *ud, sd_bus_error *error)
{
	const char *instance, *name, *pool, *mac, *standby;
	_cleanup_free_ char *path = NULL;
	PairConfig c = { 0 };
	ValidateError e;
	Bus *b = ud;
	char err[256] = "";
	Instance *i;
	int r;

	r = bus_check_admin(b, msg, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(msg, "sssss", &instance, &name, &pool, &mac, &standby);
	if (r < 0)
		return r;
	if (validate_attach_args(instance, name, pool, mac, standby, &c, &e) < 0)
		return invalid_arg(error, &e);
	r = read_attach_options(msg, &c, error);
	if (r < 0)
		return r;
	if (validate_attach_finish(&c, &e) < 0)
		return invalid_arg(error, &e);

	log_info(b->log, "D-Bus: AttachPair %s/%s pool=%s mac=%s", instance, name, pool, mac);
	r = manager_attach_pair(b->manager, instance, &c, err, sizeof(err));
	if (r < 0)
		return bus_error_errno(error, r, err, NULL);
	i = manager_find_instance(b->manager, instance);
	if (!i || !instance_find_pair(i, name))
		return sd_bus_error_setf(error, BUS_ERROR_FAILED, "pair %s/%s vanished", instance,
					 name);
	r = pair_path(instance_find_pair(i, name), &path);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(msg, "o", path);
}

typedef int (*ManagerPairOp)(Manager *m, const char *instance, const char *pair, char *err,
			     size_t size);

/* DetachPair and RemovePair: (instance, pair) in, nothing out. */
static int method_pair_op(sd_bus_message *msg, Bus *b, sd_bus_error *error, const char *method,
			  ManagerPairOp op)
{
	const char *instance, *name;
	ValidateError e;
	char err[256] = "";
	int r;

	r = bus_check_admin(b, msg, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(msg, "ss", &instance, &name);
	if (r < 0)
		return r;
	if (validate_instance_pair_args(instance, name, &e) < 0)
		return invalid_arg(error, &e);
	log_info(b->log, "D-Bus: %s %s/%s", method, instance, name);
	r = op(b->manager, instance, name, err, sizeof(err));
	if (r < 0)
		return bus_error_errno(error, r, err, NULL);
	return sd_bus_reply_method_return(msg, NULL);
}

static int method_detach_pair(sd_bus_message *msg, void *ud, sd_bus_error *error)
{
	return method_pair_op(msg, ud, error, "DetachPair", manager_detach_pair);
}

static int method_remove_pair(sd_bus_message *msg, void *ud, sd_bus_error *error)
{
	return method_pair_op(msg, ud, error, "RemovePair", manager_remove_pair);
}

static int method_prepare_incoming(sd_bus_message *msg, void *ud, sd_bus_error *error)
{
	const char *instance;
	ValidateError e;
	Bus *b = ud;
	char err[256] = "";
	int r;

	r = bus_check_admin(b, msg, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(msg, "s", &instance);
	if (r < 0)
		return r;
	if (validate_instance_pair_args(instance, NULL, &e) < 0)
		return invalid_arg(error, &e);
	log_info(b->log, "D-Bus: PrepareIncoming %s", instance);
	r = manager_prepare_incoming(b->manager, instance, err, sizeof(err));
	if (r < 0)
		return bus_error_errno(error, r, err, BUS_ERROR_WRONG_STATE);
	return sd_bus_reply_method_return(msg, NULL);
}

static int method_reload(sd_bus_message *msg, void *ud, sd_bus_error *error)
{
	Bus *b = ud;
	char err[256] = "";
	int r;

	r = bus_check_admin(b, msg, error);
	if (r < 0)
		return r;
	log_info(b->log, "D-Bus: Reload");
	if (b->service) {
		r = service_reload(b->service, err, sizeof(err));
	} else {
		r = -EOPNOTSUPP;
		snprintf(err, sizeof(err), "this failoverd has no configuration to reload");
	}
	if (r < 0)
		return bus_error_errno(error, r, err, BUS_ERROR_INVALID_CONFIGURATION);
	return sd_bus_reply_method_return(msg, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("StateDirectory", "s", property_get_state_dir, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("AdminGroup", "s", get_str, offsetof(Bus, admin_group),
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_METHOD_WITH_NAMES("ListPools", NULL, , BUS_SIGNATURE_LIST_POOLS, SD_BUS_PARAM(pools),
				 method_list_pools, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListInstances", NULL, , BUS_SIGNATURE_LIST_INSTANCES,
				 SD_BUS_PARAM(instances), method_list_instances,
				 SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListPairs", NULL, , BUS_SIGNATURE_LIST_PAIRS, SD_BUS_PARAM(pairs),
				 method_list_pairs, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES(
		"AttachPair", "sssssa{sv}",
		SD_BUS_PARAM(instance) SD_BUS_PARAM(pair) SD_BUS_PARAM(pool)
			SD_BUS_PARAM(mac_address) SD_BUS_PARAM(standby) SD_BUS_PARAM(options),
		"o", SD_BUS_PARAM(path), method_attach_pair, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("DetachPair", "ss", SD_BUS_PARAM(instance) SD_BUS_PARAM(pair),
				 NULL, , method_detach_pair, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("RemovePair", "ss", SD_BUS_PARAM(instance) SD_BUS_PARAM(pair),
				 NULL, , method_remove_pair, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("PrepareIncoming", "s", SD_BUS_PARAM(instance), NULL, ,
				 method_prepare_incoming, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Reload", NULL, NULL, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_NAMES("PairStateChanged", BUS_SIGNATURE_PAIR_STATE_CHANGED,
				 SD_BUS_PARAM(instance) SD_BUS_PARAM(pair) SD_BUS_PARAM(from)
					 SD_BUS_PARAM(to) SD_BUS_PARAM(reason),
				 0),
	SD_BUS_VTABLE_END,
};

/* --- Pool: userdata is the Bus, the name comes from the path --- */

static int pool_find(sd_bus *bus, const char *path, const char *iface, void *ud, void **found,
		     sd_bus_error *error)
{
	_cleanup_free_ char *name = NULL;
	PoolInfo info;

	if (sd_bus_path_decode(path, BUS_PATH_POOL, &name) <= 0 || !*name)
		return 0;
	if (bus_find_pool(ud, name, &info) < 0)
		return 0;
	*found = ud;
	return 1;
}

static int pool_get(sd_bus *bus, const char *path, const char *iface, const char *prop,
		    sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	_cleanup_free_ char *name = NULL;
	PoolInfo info;

	if (sd_bus_path_decode(path, BUS_PATH_POOL, &name) <= 0 ||
	    bus_find_pool(ud, name, &info) < 0)
		return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "no pool at %s", path);
	if (strcmp(prop, "Name") == 0)
		return sd_bus_message_append(reply, "s", info.name);
	if (strcmp(prop, "Driver") == 0)
		return sd_bus_message_append(reply, "s", info.driver);
	if (strcmp(prop, "Emulated") == 0)
		return sd_bus_message_append(reply, "b", (int)info.emulated);
	if (strcmp(prop, "Total") == 0)
		return sd_bus_message_append(reply, "u", info.total);
	return sd_bus_message_append(reply, "u", info.free);
}

static int pool_enumerate(sd_bus *bus, const char *prefix, void *ud, char ***nodes,
			  sd_bus_error *error)
{
	Bus *b = ud;
	size_t n = manager_get_n_pools(b->manager), k = 0;
	char **v = calloc(n + 1, sizeof(char *));

	if (!v)
		return -ENOMEM;
	for (size_t j = 0; j < n; j++) {
		PoolInfo info;

		if (manager_get_pool_info(b->manager, j, &info) == 0 &&
		    pool_path(info.name, &v[k]) >= 0)
			k++;
	}
	*nodes = v;
	return 0;
}

static const sd_bus_vtable pool_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Name", "s", pool_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Driver", "s", pool_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Emulated", "b", pool_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Total", "u", pool_get, 0, 0),
	SD_BUS_PROPERTY("Free", "u", pool_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_VTABLE_END,
};

/* --- Instance --- */

static int instance_find(sd_bus *bus, const char *path, const char *iface, void *ud, void **found,
			 sd_bus_error *error)
{
	_cleanup_free_ char *name = NULL;
	Instance *i;

	if (sd_bus_path_decode(path, BUS_PATH_INSTANCE, &name) <= 0 || !*name)
		return 0;
	i = manager_find_instance(((Bus *)ud)->manager, name);
	if (!i)
		return 0;
	*found = i;
	return 1;
}

static int instance_get_pid(sd_bus *bus, const char *path, const char *iface, const char *prop,
			    sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "u", (uint32_t)((Instance *)ud)->pid);
}

static int instance_get_pairs(sd_bus *bus, const char *path, const char *iface, const char *prop,
			      sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	Instance *i = ud;
	int r;

	r = sd_bus_message_open_container(reply, 'a', "o");
	for (Pair *p = i->pairs; r >= 0 && p; p = p->next) {
		_cleanup_free_ char *pp = NULL;

		r = pair_path(p, &pp);
		if (r >= 0)
			r = sd_bus_message_append(reply, "o", pp);
	}
	if (r < 0)
		return r;
	return sd_bus_message_close_container(reply);
}

static int instance_enumerate(sd_bus *bus, const char *prefix, void *ud, char ***nodes,
			      sd_bus_error *error)
{
	Bus *b = ud;
	size_t n = 0, k = 0;
	char **v;

	for (Instance *i = manager_get_instances(b->manager); i; i = i->next)
		n++;
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (Instance *i = manager_get_instances(b->manager); i && k < n; i = i->next)
		if (instance_path(i, &v[k]) >= 0)
			k++;
	*nodes = v;
	return 0;
}

#define INSTANCE_CHANGES SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
static const sd_bus_vtable instance_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Name", "s", get_str, offsetof(Instance, name),
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("QMPSocket", "s", get_str, offsetof(Instance, qmp_path),
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Connected", "b", get_bool, offsetof(Instance, ready), INSTANCE_CHANGES),
	SD_BUS_PROPERTY("RunStatus", "s", get_str, offsetof(Instance, run_status),
			INSTANCE_CHANGES),
	SD_BUS_PROPERTY("MigrationStatus", "s", get_str, offsetof(Instance, migration_status),
			INSTANCE_CHANGES),
	SD_BUS_PROPERTY("IncomingMigration", "b", get_bool, offsetof(Instance, migrating_in),
			INSTANCE_CHANGES),
	SD_BUS_PROPERTY("PrepareIncoming", "b", get_bool, offsetof(Instance, prepare_incoming), 0),
	SD_BUS_PROPERTY("PID", "u", instance_get_pid, 0, INSTANCE_CHANGES),
	SD_BUS_PROPERTY("Pairs", "ao", instance_get_pairs, 0, INSTANCE_CHANGES),
	SD_BUS_VTABLE_END,
};

/* --- Pair --- */

static int pair_find(sd_bus *bus, const char *path, const char *iface, void *ud, void **found,
		     sd_bus_error *error)
{
	Pair *p = bus_find_pair_by_path(ud, path);

	if (!p)
		return 0;
	*found = p;
	return 1;
}

static int pair_get_state(sd_bus *bus, const char *path, const char *iface, const char *prop,
			  sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", pair_state_to_string(((Pair *)ud)->state));
}

static int pair_get_instance(sd_bus *bus, const char *path, const char *iface, const char *prop,
			     sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	char buf[256];

	return sd_bus_message_append(reply, "s", TEXT(((Pair *)ud)->instance->name, buf));
}

static int pair_get_instance_path(sd_bus *bus, const char *path, const char *iface,
				  const char *prop, sd_bus_message *reply, void *ud,
				  sd_bus_error *error)
{
	_cleanup_free_ char *ip = NULL;
	int r = instance_path(((Pair *)ud)->instance, &ip);

	if (r < 0)
		return r;
	return sd_bus_message_append(reply, "o", ip);
}

static int pair_get_vf(sd_bus *bus, const char *path, const char *iface, const char *prop,
		       sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	char buf[256];

	return sd_bus_message_append(reply, "s", TEXT(pair_vf(ud), buf));
}

static int pair_get_steering(sd_bus *bus, const char *path, const char *iface, const char *prop,
			     sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	const Pair *p = ud;

	return sd_bus_message_append(reply, "s", pair_steer_to_string(p->steered));
}

static int pair_get_history(sd_bus *bus, const char *path, const char *iface, const char *prop,
			    sd_bus_message *reply, void *ud, sd_bus_error *error)
{
	char buf[256];
	int r = sd_bus_message_open_container(reply, 'a', "(tsss)");

	for (size_t k = 0; r >= 0 && k < pair_history_size(ud); k++) {
		const PairHistory *h = pair_history_entry(ud, k);

		r = sd_bus_message_append(reply, "(tsss)", h->usec, pair_state_to_string(h->from),
					  pair_state_to_string(h->to), TEXT(h->reason, buf));
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int pair_enumerate(sd_bus *bus, const char *prefix, void *ud, char ***nodes,
			  sd_bus_error *error)
{
	Bus *b = ud;
	size_t n = 0, k = 0;
	char **v;

	for (Instance *i = manager_get_instances(b->manager); i; i = i->next)
		n += count_pairs(i);
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (Instance *i = manager_get_instances(b->manager); i; i = i->next)
		for (Pair *p = i->pairs; p && k < n; p = p->next)
			if (pair_path(p, &v[k]) >= 0)
				k++;
	*nodes = v;
	return 0;
}

#define PAIR_CHANGES SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

static const sd_bus_vtable pair_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Name", "s", get_str, offsetof(Pair, config.name),
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Instance", "s", pair_get_instance, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("InstancePath", "o", pair_get_instance_path, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Pool", "s", get_str, offsetof(Pair, config.pool),
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("MACAddress", "s", get_str, offsetof(Pair, mac_str),
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Standby", "s", get_str, offsetof(Pair, standby_id), 0),
	SD_BUS_PROPERTY("Primary", "s", get_str, offsetof(Pair, primary_id), 0),
	SD_BUS_PROPERTY("State", "s", pair_get_state, 0, PAIR_CHANGES),
	SD_BUS_PROPERTY("LastError", "s", get_str, offsetof(Pair, reason), PAIR_CHANGES),
	SD_BUS_PROPERTY("VF", "s", pair_get_vf, 0, PAIR_CHANGES),
	SD_BUS_PROPERTY("GuestNegotiated", "b", get_bool, offsetof(Pair, guest_negotiated),
			PAIR_CHANGES),
	SD_BUS_PROPERTY("StateChangedUSec", "t", get_u64, offsetof(Pair, changed_us), PAIR_CHANGES),
	/* Read on demand (failoverctl status): each transition is signalled on its own. */
	SD_BUS_PROPERTY("History", "a(tsss)", pair_get_history, 0, 0),
	SD_BUS_PROPERTY("DegradedWindowMSec", "x", get_i64, offsetof(Pair, degraded_ms),
			PAIR_CHANGES),
	/* docs/traffic.md: whether, and how, the MAC's frames are steered to the standby. */
	SD_BUS_PROPERTY("TrafficHandling", "b", get_bool, offsetof(Pair, config.traffic), 0),
	SD_BUS_PROPERTY("Steering", "s", pair_get_steering, 0, PAIR_CHANGES),
	SD_BUS_VTABLE_END,
};

/* --- change notification --- */

static void bus_arm(Bus *b);

/* Announces a pool's Free count when it differs from the last announcement. */
static void bus_pool_changed(Bus *b, const char *name)
{
	_cleanup_free_ char *path = NULL;
	PoolInfo info;
	BusPoolFree *e = NULL;

	if (bus_find_pool(b, name, &info) < 0)
		return;
	for (size_t k = 0; k < b->n_pools; k++)
		if (strcmp(b->pools[k].name, name) == 0)
			e = &b->pools[k];
	if (!e) {
		BusPoolFree *v = realloc(b->pools, (b->n_pools + 1) * sizeof(*v));

		if (!v)
			return;
		b->pools = v;
		e = &v[b->n_pools++];
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->free = (unsigned)-1;
	}
	if (e->free == info.free)
		return;
	e->free = info.free;
	if (pool_path(name, &path) >= 0)
		sd_bus_emit_properties_changed(b->bus, path, BUS_IFACE_POOL, "Free", NULL);
}

static void bus_on_instance_changed(Manager *m, Instance *i, void *ud)
{
	_cleanup_free_ char *path = NULL;
	Bus *b = ud;

	if (!b->bus || instance_path(i, &path) < 0)
		return;
	sd_bus_emit_properties_changed(b->bus, path, BUS_IFACE_INSTANCE, "Connected", "RunStatus",
				       "MigrationStatus", "IncomingMigration", "PID", "Pairs",
				       NULL);
	bus_arm(b);
}

static void bus_on_pair_changed(Manager *m, Pair *p, PairState from, PairState to, const char *why,
				void *ud)
{
	_cleanup_free_ char *path = NULL;
	char name[256], reason[512];
	Bus *b = ud;
	int r;

	if (!b->bus)
		return;
	/* _PAIR_STATE_MAX: no transition, only a property (GuestNegotiated) changed. */
	r = from == _PAIR_STATE_MAX
		    ? 0
		    : sd_bus_emit_signal(b->bus, BUS_PATH, BUS_IFACE_MANAGER, "PairStateChanged",
					 BUS_SIGNATURE_PAIR_STATE_CHANGED,
					 TEXT(p->instance->name, name), p->config.name,
					 pair_state_to_string(from), pair_state_to_string(to),
					 TEXT(why, reason));
	if (r < 0)
		log_warning(b->log, "D-Bus: cannot emit PairStateChanged: %s", strerror(-r));
	if (pair_path(p, &path) >= 0)
		sd_bus_emit_properties_changed(b->bus, path, BUS_IFACE_PAIR, "State", "LastError",
					       "VF", "GuestNegotiated", "StateChangedUSec",
					       "DegradedWindowMSec", "Steering", NULL);
	bus_pool_changed(b, p->config.pool);
	bus_arm(b);
}

/* --- the connection in the libevent loop --- */

static void bus_disconnect(Bus *b);
static void bus_schedule_retry(Bus *b);

static void bus_arm(Bus *b)
{
	uint64_t until = UINT64_MAX;
	int events;

	if (!b->bus)
		return;
	events = sd_bus_get_events(b->bus);
	if (events >= 0 && (events & POLLOUT)) {
		if (!b->write_armed)
			event_add(b->ev_write, NULL);
		b->write_armed = true;
	} else if (b->write_armed) {
		event_del(b->ev_write);
		b->write_armed = false;
	}
	/* Absolute CLOCK_MONOTONIC; 0 when messages already wait in the read queue. */
	if (sd_bus_get_timeout(b->bus, &until) > 0 && until != UINT64_MAX) {
		struct timespec ts;
		uint64_t now, d;
		struct timeval tv;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
		d = until > now ? until - now : 0;
		tv.tv_sec = (time_t)(d / 1000000u);
		tv.tv_usec = (suseconds_t)(d % 1000000u);
		evtimer_add(b->ev_time, &tv);
	} else {
		evtimer_del(b->ev_time);
	}
}

static void bus_dispatch(Bus *b)
{
	int r;

	do
		r = sd_bus_process(b->bus, NULL);
	while (r > 0);
	if (r < 0) {
		log_error(b->log, "D-Bus connection lost: %s; reconnecting", strerror(-r));
		bus_disconnect(b);
		bus_schedule_retry(b);
		return;
	}
	bus_arm(b);
}

static void bus_on_io(evutil_socket_t fd, short what, void *ud)
{
	Bus *b = ud;

	if (what & EV_WRITE)
		b->write_armed = false; /* one-shot */
	bus_dispatch(b);
}

static void bus_on_time(evutil_socket_t fd, short what, void *ud)
{
	bus_dispatch(ud);
}

static int bus_open(const char *address, sd_bus **out)
{
	sd_bus *bus = NULL;
	int r;

	if (strcmp(address, "system") == 0)
		return sd_bus_open_system_with_description(out, "failoverd");
	if (strcmp(address, "session") == 0)
		return sd_bus_open_user_with_description(out, "failoverd");
	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_set_description(bus, "failoverd");
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*out = bus;
	return 0;
}

static int bus_export(Bus *b, sd_bus *bus)
{
	static const struct {
		const char *prefix, *iface;
		const sd_bus_vtable *vtable;
		sd_bus_object_find_t find;
		sd_bus_node_enumerator_t enumerate;
	} children[] = {
		{ BUS_PATH_POOL, BUS_IFACE_POOL, pool_vtable, pool_find, pool_enumerate },
		{ BUS_PATH_INSTANCE, BUS_IFACE_INSTANCE, instance_vtable, instance_find,
		  instance_enumerate },
		{ BUS_PATH_PAIR, BUS_IFACE_PAIR, pair_vtable, pair_find, pair_enumerate },
	};
	int r;

	r = sd_bus_add_object_vtable(bus, NULL, BUS_PATH, BUS_IFACE_MANAGER, manager_vtable, b);
	for (size_t k = 0; r >= 0 && k < sizeof(children) / sizeof(children[0]); k++) {
		r = sd_bus_add_fallback_vtable(bus, NULL, children[k].prefix, children[k].iface,
					       children[k].vtable, children[k].find, b);
		if (r >= 0)
			r = sd_bus_add_node_enumerator(bus, NULL, children[k].prefix,
						       children[k].enumerate, b);
	}
	return r;
}

static int bus_connect(Bus *b)
{
	struct event_base *base = manager_get_event_base(b->manager);
	sd_bus *bus = NULL;
	int r, fd;

	r = bus_open(b->address, &bus);
	if (r < 0) {
		log_error(b->log, "cannot connect to D-Bus (%s): %s", b->address, strerror(-r));
		return r;
	}
	r = bus_export(b, bus);
	if (r < 0) {
		log_error(b->log, "cannot export D-Bus objects: %s", strerror(-r));
		goto fail;
	}
	/*
	 * Interrupted by a signal, the request may still have reached the bus
	 * daemon: asked again, "already the owner" is then the answer.
	 */
	r = sd_bus_request_name(bus, BUS_NAME, 0);
	for (int tries = 0; r == -EINTR && tries < BUS_EINTR_RETRIES; tries++) {
		r = sd_bus_request_name(bus, BUS_NAME, 0);
		if (r == -EALREADY)
			r = 0;
	}
	if (r < 0) {
		log_error(b->log, "cannot own D-Bus name %s: %s", BUS_NAME,
			  r == -EEXIST ? "already owned by another process" : strerror(-r));
		goto fail;
	}
	fd = sd_bus_get_fd(bus);
	b->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, bus_on_io, b);
	b->ev_write = event_new(base, fd, EV_WRITE, bus_on_io, b);
	b->ev_time = evtimer_new(base, bus_on_time, b);
	if (!b->ev_read || !b->ev_write || !b->ev_time) {
		r = -ENOMEM;
		goto fail;
	}
	event_add(b->ev_read, NULL);
	b->bus = bus;
	b->write_armed = false;
	b->n_pools = 0;
	bus_arm(b);
	log_info(b->log, "D-Bus: serving %s on %s", BUS_NAME, b->address);
	return 0;
fail:
	if (b->ev_read)
		event_free(b->ev_read);
	if (b->ev_write)
		event_free(b->ev_write);
	if (b->ev_time)
		event_free(b->ev_time);
	b->ev_read = b->ev_write = b->ev_time = NULL;
	sd_bus_flush_close_unref(bus);
	return r;
}

static void bus_disconnect(Bus *b)
{
	if (b->ev_read)
		event_free(b->ev_read);
	if (b->ev_write)
		event_free(b->ev_write);
	if (b->ev_time)
		event_free(b->ev_time);
	b->ev_read = b->ev_write = b->ev_time = NULL;
	b->write_armed = false;
	b->bus = sd_bus_flush_close_unref(b->bus);
}

static void bus_on_retry(evutil_socket_t fd, short what, void *ud)
{
	Bus *b = ud;

	if (bus_connect(b) < 0)
		bus_schedule_retry(b);
}

/* Only while disconnected: a connected daemon has no timer of its own here. */
static void bus_schedule_retry(Bus *b)
{
	struct timeval tv = { RETRY_SEC, 0 };

	evtimer_add(b->ev_retry, &tv);
}

int bus_new(Bus **out, Manager *m, const BusOptions *o)
{
	Bus *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->manager = m;
	b->log = manager_get_log(m);
	b->service = o->service;
	snprintf(b->address, sizeof(b->address), "%s", o->address ? o->address : "system");
	snprintf(b->admin_group, sizeof(b->admin_group), "%s",
		 o->admin_group ? o->admin_group : "");
	b->ev_retry = evtimer_new(manager_get_event_base(m), bus_on_retry, b);
	if (!b->ev_retry) {
		free(b);
		return -ENOMEM;
	}
	r = bus_connect(b);
	if (r < 0) {
		bus_free(b);
		return r;
	}
	manager_set_pair_hook(m, bus_on_pair_changed, b);
	manager_set_instance_hook(m, bus_on_instance_changed, b);
	*out = b;
	return 0;
}

Bus *bus_free(Bus *b)
{
	if (!b)
		return NULL;
	manager_set_pair_hook(b->manager, NULL, NULL);
	manager_set_instance_hook(b->manager, NULL, NULL);
	bus_disconnect(b);
	event_free(b->ev_retry);
	free(b->pools);
	free(b);
	return NULL;
}
