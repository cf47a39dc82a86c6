/* Capability probes shared by the QEMUs of one build (see probecache.h). */

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/probecache.h"
#include "daemon/process.h"

typedef struct Waiter Waiter;
struct Waiter {
	Waiter *next;
	QmpConn *conn;
	ProcessExe exe; /* the peer's executable when its probe started */
	QmpProbeFn fn;	/* NULL once cancelled */
	void *ud;
};

typedef struct Entry Entry;
struct Entry {
	Entry *next;
	ProbeCache *cache;
	ProcessExe exe;	    /* the key: which binary ... */
	QmpVersion version; /* ... claiming which version */
	char driver[64];
	bool done; /* the answer below is known */
	int r;
	QmpProbe probe;
	char reason[512];
	Waiter *leader;	 /* whose probe is in flight, or NULL */
	Waiter *waiters; /* QEMUs of this build waiting for it */
	/* Where the next waiter goes: 10,000 QEMUs connecting at once queue in O(1). */
	Waiter **waiters_tail;
};

struct ProbeCache {
	Entry *entries;
	struct event *trim;
};

/*
 * The schema reply (~240 KiB of JSON, several MiB as objects) is freed once
 * the reply callbacks return; give those pages back rather than keep them
 * as the daemon's resident size for good.
 */
static void cache_on_trim(evutil_socket_t fd, short what, void *ud)
{
	malloc_trim(0);
}

int probe_cache_new(ProbeCache **out, struct event_base *base)
{
	ProbeCache *pc = calloc(1, sizeof(ProbeCache));

	if (!pc)
		return -ENOMEM;
	pc->trim = event_new(base, -1, 0, cache_on_trim, pc);
	if (!pc->trim) {
		free(pc);
		return -ENOMEM;
	}
	*out = pc;
	return 0;
}

static void waiters_free(Waiter *w)
{
	while (w) {
		Waiter *next = w->next;

		free(w);
		w = next;
	}
}

ProbeCache *probe_cache_free(ProbeCache *pc)
{
	if (!pc)
		return NULL;
	while (pc->entries) {
		Entry *e = pc->entries;

		pc->entries = e->next;
		waiters_free(e->waiters);
		e->waiters = NULL;
		/* A probe still in flight frees its entry when it completes. */
		if (e->leader) {
			e->leader->fn = NULL;
			e->cache = NULL;
		} else {
			free(e);
		}
	}
	event_free(pc->trim);
	free(pc);
	return NULL;
}

static Entry *entry_find(ProbeCache *pc, const ProcessExe *exe, const QmpVersion *v,
			 const char *driver)
{
	for (Entry *e = pc->entries; e; e = e->next)
		if (process_exe_equal(&e->exe, exe) && e->version.major == v->major &&
		    e->version.minor == v->minor && e->version.micro == v->micro &&
		    strcmp(e->version.package, v->package) == 0 && strcmp(e->driver, driver) == 0)
			return e;
	return NULL;
}

/* The cached answer, as if @c had been probed itself. */
static void deliver(Entry *e, QmpConn *c, QmpProbeFn fn, void *ud)
{
	QmpProbe p = e->probe;

	p.version = *qmp_conn_get_version(c);
	fn(c, e->r, &p, e->r < 0 ? e->reason : NULL, ud);
}

static void entry_on_probe(QmpConn *c, int r, const QmpProbe *probe, const char *reason,
			   void *userdata);

/* @c's peer runs @exe (same binary, same process start); unknown is "no". */
static bool peer_is(QmpConn *c, const ProcessExe *exe)
{
	ProcessExe now;

	return process_get_exe(qmp_conn_get_peer_pid(c), &now) == 0 &&
	       process_exe_equal(&now, exe) && now.start == exe->start;
}

/* After a lost probe: the next waiter probes; those that cannot start fail. */
static void entry_lead(Entry *e)
{
	while (e->waiters && !e->leader) {
		Waiter *w = e->waiters;
		int r;

		e->waiters = w->next;
		w->next = NULL;
		e->leader = w;
		r = qmp_probe_start(w->conn, e->driver, entry_on_probe, e);
		if (r >= 0)
			return;
		e->leader = NULL;
		if (w->fn)
			w->fn(w->conn, r, NULL, "cannot start the capability probe", w->ud);
		free(w);
	}
}

static void entry_on_probe(QmpConn *c, int r, const QmpProbe *probe, const char *reason,
			   void *userdata)
{
	Entry *e = userdata;
	Waiter *leader = e->leader;

	e->leader = NULL;
	if (!e->cache) {
		/* The cache went away meanwhile. */
		free(leader);
		free(e);
		return;
	}
	/*
	 * Only answers about the build are shared, not a lost connection's, and
	 * only while the peer still is the process the key was taken from.
	 */
	if ((r == 0 || r == -EOPNOTSUPP) && leader && peer_is(c, &leader->exe)) {
		e->done = true;
		e->r = r;
		e->probe = *probe;
		snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	}
	/* After this reply is freed: activated events run once the callbacks return. */
	event_active(e->cache->trim, 0, 0);
	if (leader && leader->fn)
		leader->fn(c, r, probe, reason, leader->ud);
	free(leader);
	if (!e->done) {
		entry_lead(e);
		return;
	}
	/* One at a time from the list: a callback may cancel the others. */
	while (e->waiters) {
		Waiter *w = e->waiters;

		e->waiters = w->next;
		if (w->fn)
			deliver(e, w->conn, w->fn, w->ud);
		free(w);
	}
}

int probe_cache_probe(ProbeCache *pc, QmpConn *c, const char *primary_driver, QmpProbeFn fn,
		      void *ud)
{
	const QmpVersion *v = qmp_conn_get_version(c);
	ProcessExe exe;
	Entry *e;
	Waiter *w;
	int r;

	/*
	 * The version is whatever the peer claims: the key is the executable
	 * the kernel says it runs. Unknown (no peer pid, /proc hidden): no sharing.
	 */
	if (process_get_exe(qmp_conn_get_peer_pid(c), &exe) < 0 ||
	    strlen(primary_driver) >= sizeof(e->driver))
		return qmp_probe_start(c, primary_driver, fn, ud);
	e = entry_find(pc, &exe, v, primary_driver);
	if (e && e->done) {
		deliver(e, c, fn, ud);
		return 0;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->cache = pc;
		e->exe = exe;
		e->version = *v;
		snprintf(e->driver, sizeof(e->driver), "%s", primary_driver);
		e->next = pc->entries;
		pc->entries = e;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->conn = c;
	w->exe = exe;
	w->fn = fn;
	w->ud = ud;
	if (e->leader) {
		if (!e->waiters)
			e->waiters_tail = &e->waiters;
		*e->waiters_tail = w;
		e->waiters_tail = &w->next;
		return 0;
	}
	e->leader = w;
	r = qmp_probe_start(c, primary_driver, entry_on_probe, e);
	if (r < 0) {
		e->leader = NULL;
		free(w);
	}
	return r;
}

void probe_cache_cancel(ProbeCache *pc, void *ud)
{
	if (!pc)
		return;
	for (Entry *e = pc->entries; e; e = e->next) {
		if (e->leader && e->leader->ud == ud)
			e->leader->fn = NULL;
		Waiter **w = &e->waiters;

		while (*w) {
			if ((*w)->ud == ud) {
				Waiter *dead = *w;

				*w = dead->next;
				free(dead);
			} else {
				w = &(*w)->next;
			}
		}
		e->waiters_tail = w;
	}
}
