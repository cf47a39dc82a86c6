/* The data path's steering records and steps (docs/traffic.md). */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "daemon/statefile.h"
#include "daemon/steer.h"
#include "netlink/nlfdb.h"
#include "netlink/nlvf.h"
#include "sriov/sriov.h"

typedef struct SteerRecord {
	struct SteerRecord *next;
	char owner[200];
	SteerPlan plan;
	unsigned bad_line; /* unreadable (owner: the file's name): it cannot say what to undo */
} SteerRecord;

struct Steer {
	char dir[256];
	SteerRecord *records;
	NlFdbSocket *fdb;
	NlVfSocket *vf;
	SteerCheckpointFn checkpoint;
	void *checkpoint_ud;
};

void steer_set_checkpoint(Steer *s, SteerCheckpointFn fn, void *ud)
{
	s->checkpoint = fn;
	s->checkpoint_ud = ud;
}

static void steer_checkpoint(Steer *s, const char *point)
{
	if (s->checkpoint)
		s->checkpoint(point, s->checkpoint_ud);
}

/* Opened on first use: a daemon whose pairs never steer needs no rtnetlink socket. */
static int steer_sockets(Steer *s, char *err, size_t size)
{
	int r;

	if (!s->fdb && (r = nl_fdb_socket_new(&s->fdb)) < 0) {
		snprintf(err, size, "cannot open an rtnetlink socket: %s", strerror(-r));
		return r;
	}
	if (!s->vf && (r = nl_vf_socket_new(&s->vf)) < 0) {
		snprintf(err, size, "cannot open an rtnetlink socket: %s", strerror(-r));
		return r;
	}
	return 0;
}

static void record_path(const Steer *s, const char *owner, char *buf, size_t size)
{
	char name[200];

	/* "instance/pair": neither name may hold a '/', the file name takes an '@'. */
	snprintf(name, sizeof(name), "%s", owner);
	for (char *c = name; *c; c++)
		if (*c == '/')
			*c = '@';
	snprintf(buf, size, "%s/%s", s->dir, name);
}

static SteerRecord *record_find(const Steer *s, const char *owner)
{
	for (SteerRecord *r = s->records; r; r = r->next)
		if (!r->bad_line && strcmp(r->owner, owner) == 0)
			return r;
	return NULL;
}

static void record_drop(Steer *s, SteerRecord *rec)
{
	char path[512];

	record_path(s, rec->owner, path, sizeof(path));
	(void)statefile_remove(path);
	for (SteerRecord **at = &s->records; *at; at = &(*at)->next)
		if (*at == rec) {
			*at = rec->next;
			break;
		}
	free(rec);
}

static int record_write(const Steer *s, const SteerRecord *rec)
{
	const uint8_t *m = rec->plan.mac;
	char path[512], mac[18], index[16];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		 m[5]);
	snprintf(index, sizeof(index), "%u", rec->plan.vf_index);
	record_path(s, rec->owner, path, sizeof(path));
	/*
	 * Atomic, not fsync()ed: what it guards (entries, a VF's MAC) does not
	 * outlive a host crash either (docs/reliability.md).
	 */
	return statefile_write_full(path,
				    (StateEntry[]){ { "owner", rec->owner },
						    { "mac", mac },
						    { "tap", rec->plan.tap },
						    { "uplink", rec->plan.uplink },
						    { "pf", rec->plan.pf },
						    { "vf_index", index },
						    { "vf_port", rec->plan.vf_port } },
				    7, 0);
}

static int record_entry(const char *key, const char *value, void *ud)
{
	SteerRecord *rec = ud;
	char *end;

	if (strcmp(key, "owner") == 0)
		snprintf(rec->owner, sizeof(rec->owner), "%s", value);
	else if (strcmp(key, "mac") == 0)
		return conf_parse_mac(value, rec->plan.mac) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "tap") == 0)
		snprintf(rec->plan.tap, sizeof(rec->plan.tap), "%s", value);
	else if (strcmp(key, "uplink") == 0)
		snprintf(rec->plan.uplink, sizeof(rec->plan.uplink), "%s", value);
	else if (strcmp(key, "pf") == 0)
		snprintf(rec->plan.pf, sizeof(rec->plan.pf), "%s", value);
	else if (strcmp(key, "vf_port") == 0)
		snprintf(rec->plan.vf_port, sizeof(rec->plan.vf_port), "%s", value);
	else if (strcmp(key, "vf_index") == 0) {
		rec->plan.vf_index = (unsigned)strtoul(value, &end, 10);
		if (*end)
			return -EBADMSG;
	}
	return 0;
}

int steer_new(Steer **out, const char *dir, char *err, size_t size)
{
	Steer *s = calloc(1, sizeof(*s));
	struct dirent *de;
	DIR *d;
	int r;

	if (!s)
		return -ENOMEM;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	r = sriov_mkdir_p(dir, 0700);
	if (r < 0) {
		snprintf(err, size, "cannot create %s: %s", dir, strerror(-r));
		free(s);
		return r;
	}
	d = opendir(dir);
	if (!d) {
		r = -errno;
		snprintf(err, size, "cannot read %s: %s", dir, strerror(errno));
		free(s);
		return r;
	}
	while ((de = readdir(d))) {
		char path[512];
		unsigned bad = 0;
		SteerRecord *rec;

		if (de->d_name[0] == '.' || strchr(de->d_name, '~'))
			continue;
		rec = calloc(1, sizeof(*rec));
		if (!rec)
			break;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		r = statefile_read(path, record_entry, rec, &bad);
		if (r < 0 || !rec->owner[0]) {
			/* Kept, file and all, for the operator: steer_recover() reports it. */
			memset(rec, 0, sizeof(*rec));
			snprintf(rec->owner, sizeof(rec->owner), "%s", de->d_name);
			rec->bad_line = bad ? bad : 1;
		}
		rec->next = s->records;
		s->records = rec;
	}
	closedir(d);
	*out = s;
	return 0;
}

Steer *steer_free(Steer *s)
{
	if (!s)
		return NULL;
	while (s->records) {
		SteerRecord *rec = s->records;

		s->records = rec->next;
		free(rec);
	}
	nl_fdb_socket_free(s->fdb);
	nl_vf_socket_free(s->vf);
	free(s);
	return NULL;
}

bool steer_has(const Steer *s, const char *owner)
{
	return record_find(s, owner) != NULL;
}

static int vf_set_mac(Steer *s, const SteerPlan *p, const uint8_t mac[6], char *err, size_t size)
{
	NlVfConfig want = { .set = NL_VF_BIT(NL_VF_MAC) };
	NlVfError e;
	int r;

	memcpy(want.mac, mac, 6);
	r = nl_vf_set_one(s->vf, p->pf, p->vf_index, &want, NL_VF_MAC, &e);
	if (r < 0)
		snprintf(err, size, "%s", e.message);
	return r;
}

int steer_port_set(Steer *s, const char *port, const uint8_t mac[6], bool present, char *err,
		   size_t size)
{
	NlFdbError e;
	int r = steer_sockets(s, err, size);

	if (r < 0)
		return r;
	r = present ? nl_fdb_add(s->fdb, port, mac, NL_FDB_MASTER, &e)
		    : nl_fdb_del(s->fdb, port, mac, NL_FDB_MASTER, &e);
	if (r == -ENODEV && !present)
		r = 0; /* its QEMU is gone, and the tap with it */
	if (r < 0)
		snprintf(err, size, "%s", e.message);
	return r;
}

/*
 * Every step of @p is undone; the first failure is the result. A device
 * that is gone, or has no such table, holds no entry.
 */
static int steer_undo_plan(Steer *s, const SteerPlan *p, bool restore_mac, char *err, size_t size)
{
	static const uint8_t zero[6];
	char why[256];
	NlFdbError e;
	int r, first = 0;

	if (p->tap[0] && (r = nl_fdb_del(s->fdb, p->tap, p->mac, NL_FDB_MASTER, &e)) < 0 &&
	    r != -ENODEV && r != -EOPNOTSUPP) {
		snprintf(err, size, "%s", e.message);
		first = r;
	}
	if (p->uplink[0] && (r = nl_fdb_del(s->fdb, p->uplink, p->mac, NL_FDB_SELF, &e)) < 0 &&
	    r != -ENODEV && r != -EOPNOTSUPP && !first) {
		snprintf(err, size, "%s", e.message);
		first = r;
	}
	if (restore_mac && p->pf[0] && memcmp(p->mac, zero, 6) != 0 &&
	    (r = vf_set_mac(s, p, p->mac, why, sizeof(why))) < 0 && !first) {
		snprintf(err, size, "%s", why);
		first = r;
	}
	if (restore_mac && p->vf_port[0] &&
	    (r = nl_fdb_add(s->fdb, p->vf_port, p->mac, NL_FDB_MASTER, &e)) < 0 && r != -ENODEV &&
	    !first) {
		snprintf(err, size, "%s", e.message);
		first = r;
	}
	return first;
}

int steer_apply(Steer *s, const char *owner, const SteerPlan *plan, char *err, size_t size)
{
	static const uint8_t zero[6];
	SteerRecord *rec = record_find(s, owner);
	SteerPlan done = { .vf_index = plan->vf_index }; /* what this call changed */
	char ignored[256];
	NlFdbError e;
	int r;

	memcpy(done.mac, plan->mac, 6);
	r = steer_sockets(s, err, size);
	if (r < 0)
		return r;
	if (rec && memcmp(&rec->plan, plan, sizeof(*plan)) != 0) {
		/* Another plan of the same owner (its configuration changed): the old one goes. */
		r = steer_undo_plan(s, &rec->plan, false, err, size);
		if (r < 0)
			return r;
	}
	if (!rec) {
		rec = calloc(1, sizeof(*rec));
		if (!rec)
			return -ENOMEM;
		snprintf(rec->owner, sizeof(rec->owner), "%s", owner);
		rec->next = s->records;
		s->records = rec;
	}
	rec->plan = *plan;
	r = record_write(s, rec);
	if (r < 0) {
		snprintf(err, size, "cannot record the steering of %s in %s: %s", owner, s->dir,
			 strerror(-r));
		record_drop(s, rec);
		return r;
	}
	steer_checkpoint(s, "steer-recorded");
	if (plan->pf[0]) {
		r = vf_set_mac(s, plan, zero, err, size);
		if (r < 0)
			goto undo;
		memcpy(done.pf, plan->pf, sizeof(done.pf));
		steer_checkpoint(s, "steer-vf-mac-zeroed");
	} else if (plan->vf_port[0]) {
		r = nl_fdb_del(s->fdb, plan->vf_port, plan->mac, NL_FDB_MASTER, &e);
		if (r < 0) {
			snprintf(err, size, "%s", e.message);
			goto undo;
		}
		memcpy(done.vf_port, plan->vf_port, sizeof(done.vf_port));
		steer_checkpoint(s, "steer-vf-mac-zeroed");
	}
	if (plan->uplink[0]) {
		r = nl_fdb_add(s->fdb, plan->uplink, plan->mac, NL_FDB_SELF, &e);
		if (r < 0) {
			snprintf(err, size, "%s", e.message);
			goto undo;
		}
		memcpy(done.uplink, plan->uplink, sizeof(done.uplink));
		steer_checkpoint(s, "steer-uplink-added");
	}
	if (plan->tap[0]) {
		r = nl_fdb_add(s->fdb, plan->tap, plan->mac, NL_FDB_MASTER, &e);
		if (r < 0) {
			snprintf(err, size, "%s", e.message);
			goto undo;
		}
		steer_checkpoint(s, "steer-tap-added");
	}
	return 0;
undo:
	/* Nothing half-made stays: the record goes only once the undo worked. */
	if (steer_undo_plan(s, &done, true, ignored, sizeof(ignored)) == 0)
		record_drop(s, rec);
	return r;
}

int steer_undo(Steer *s, const char *owner, bool restore_mac, char *err, size_t size)
{
	SteerRecord *rec = record_find(s, owner);
	int r;

	if (!rec)
		return 0;
	r = steer_sockets(s, err, size);
	if (r < 0)
		return r;
	r = steer_undo_plan(s, &rec->plan, restore_mac, err, size);
	if (r < 0)
		return r;
	record_drop(s, rec);
	return 0;
}

void steer_recover(Steer *s, SteerOwnerAliveFn alive, void *ud,
		   void (*report)(const char *owner, int r, const char *err, void *ud))
{
	for (SteerRecord *rec = s->records, *next; rec; rec = next) {
		char owner[200], err[256] = "";
		int r;

		next = rec->next;
		if (rec->bad_line) {
			snprintf(err, sizeof(err),
				 "%s/%s: unreadable (line %u); undo by hand what it recorded, then "
				 "delete it",
				 s->dir, rec->owner, rec->bad_line);
			report(rec->owner, -EBADMSG, err, ud);
			continue;
		}
		if (alive(rec->owner, ud))
			continue;
		snprintf(owner, sizeof(owner), "%s", rec->owner);
		r = steer_undo(s, owner, false, err, sizeof(err));
		report(owner, r, err, ud);
	}
}
