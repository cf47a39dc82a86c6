/*
 * The pair state machine, cell by cell (docs/pairs.md §transitions): for
 * every state a pair can be in and every fact that can reach it there -
 * what QEMU reports, what the operator asks, what the pool does, a restart
 * of the daemon - the state it goes to, what the QEMU then holds of its
 * primary and the QMP commands it was sent.
 *
 * One Instance with one Pair runs in this process, on its own event loop,
 * against the QEMU TEST DOUBLE (tests/model/qemu-double.c), which knows at
 * every instant which VF it holds. The pool is a FAKE POOL (this file): one
 * VF, 0000:01:10.0, handed out and taken back through the InstanceOps the
 * daemon's manager implements for real; it records a violation when the VF
 * is taken back while the double still holds it, or handed out twice.
 *
 * A restart is the daemon's own start-up path done in process: the instance
 * is freed (the VF stays reserved, as across a daemon restart), a new one
 * gets the pair back from its last persisted record and reconnects.
 */

#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/instance.h"
#include "daemon/pairfile.h"
#include "daemon/probecache.h"
#include "tests/lib/double.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

#define VF_ID	  "0000:01:10.0"
#define MAC	  "52:54:00:aa:bb:01"
#define TIMEOUT	  300u	/* UnplugTimeoutSec= and NegotiateTimeoutSec= */
#define RETRY_MS  1000u /* pair.c's first backoff after a failed release */
#define SETTLE_MS 5000

typedef enum Setup {
	S_WAITING,	/* the guest did not negotiate in time: the primary stays hidden */
	S_WAITING_AWAY, /* QEMU's monitor was never reached: nothing reserved */
	S_STAGED,
	S_ACTIVE,
	S_UNPLUGGING, /* a guest that ignores the unplug request: wait-unplug lasts */
	S_MIGRATING,
	S_MIGRATED,
	S_INCOMING,
	S_RELEASED,  /* a configured pair, detached */
	S_FAILED,    /* the VF vanished under an active pair */
	S_DETACHING, /* a detach of a hidden primary */
	_S_MAX,
} Setup;

static const char *const setup_names[_S_MAX] = {
	"waiting",  "waiting(away)", "staged",	 "active", "unplugging", "migrating",
	"migrated", "incoming",	     "released", "failed", "detaching",
};

typedef enum Fact {
	F_NEGOTIATE,	 /* the guest's driver negotiates VIRTIO_NET_F_STANDBY */
	F_REBOOT,	 /* guest reset */
	F_DETACH,	 /* operator: DetachPair */
	F_REATTACH,	 /* operator: AttachPair of the existing pair */
	F_RETIRE,	 /* reload: the pair is gone from the configuration */
	F_VF_GONE,	 /* the PF was removed */
	F_RELEASE_FAILS, /* a detach whose first VF release fails (a full state directory) */
	F_QEMU_CRASH,	 /* SIGKILL */
	F_DROP_MONITOR,	 /* the monitor connection breaks, QEMU stays */
	F_MONITOR_OFF,	 /* the monitor goes away for longer */
	F_MONITOR_ON,	 /* ... and comes back */
	F_MIG_START,
	F_MIG_COMPLETE,
	F_MIG_CANCEL,
	F_MIG_FAIL,
	F_MIG_POSTCOPY,
	F_MIG_START_PAUSED, /* a migration started with the guest paused (virsh save does) */
	F_INCOMING_LOAD,    /* destination: the stream loads (the source guest had negotiated) */
	F_WAIT,		    /* time passes: every deadline that is armed expires */
	F_RESTART,	    /* the daemon restarts */
	_F_MAX,
} Fact;

static const char *const fact_names[_F_MAX] = {
	"negotiate",
	"reboot",
	"detach",
	"reattach",
	"retire",
	"vf-gone",
	"release-fails",
	"qemu-crash",
	"drop-monitor",
	"monitor-off",
	"monitor-on",
	"migrate-start",
	"migrate-complete",
	"migrate-cancel",
	"migrate-fail",
	"migrate-postcopy",
	"migrate-start-paused",
	"incoming-load",
	"wait",
	"restart",
};

/* What a cell expects: one line of tests/daemon/pair-cells.txt (its header says what each means).
 */
typedef struct Cell {
	Setup setup;
	Fact fact;
	bool cannot; /* the double refuses the fact in that state */
	char state[32], holds[32], commands[512], then[32];
	unsigned line;
} Cell;

#define CELLS_FILE "tests/daemon/pair-cells.txt"
#define MAX_CELLS  (_S_MAX * _F_MAX)

static Cell cells[MAX_CELLS];
static size_t n_cells;

static int name_index(const char *const *names, int n, const char *name)
{
	for (int k = 0; k < n; k++)
		if (strcmp(names[k], name) == 0)
			return k;
	return -1;
}

/* One line into @c; NULL, or what is wrong with it. */
static const char *cell_parse(const char *line, Cell *c)
{
	char setup[32], fact[32], rest[600] = "";
	const char *q, *end;
	int s, f, n = 0;

	if (sscanf(line, "%31s %31s %31s %n", setup, fact, c->state, &n) != 3)
		return "want SETUP FACT NEXT HOLDS \"COMMANDS\", or SETUP FACT cannot";
	if ((s = name_index(setup_names, _S_MAX, setup)) < 0)
		return "unknown setup";
	if ((f = name_index(fact_names, _F_MAX, fact)) < 0)
		return "unknown fact";
	c->setup = (Setup)s;
	c->fact = (Fact)f;
	c->cannot = strcmp(c->state, "cannot") == 0;
	snprintf(rest, sizeof(rest), "%s", line + n);
	rest[strcspn(rest, "\n")] = 0;
	if (c->cannot)
		return rest[0] ? "nothing may follow 'cannot'" : NULL;
	if (sscanf(rest, "%31s", c->holds) != 1 || !(q = strchr(rest, '"')) ||
	    !(end = strchr(q + 1, '"')) || (size_t)(end - q - 1) >= sizeof(c->commands))
		return "want HOLDS \"COMMANDS\" after NEXT";
	snprintf(c->commands, sizeof(c->commands), "%.*s", (int)(end - q - 1), q + 1);
	if (sscanf(end + 1, " then %31s", c->then) != 1 && end[1 + strspn(end + 1, " \t")])
		return "only 'then STATE' may follow the commands";
	return NULL;
}

static int cells_load(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	unsigned no = 0;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		const char *why;

		no++;
		if (line[strspn(line, " \t")] == '#' || line[strspn(line, " \t\n")] == 0)
			continue;
		if (n_cells == MAX_CELLS) {
			fprintf(stderr, "%s:%u: more cells than states x facts\n", path, no);
			fclose(f);
			return -E2BIG;
		}
		memset(&cells[n_cells], 0, sizeof(cells[0]));
		if ((why = cell_parse(line, &cells[n_cells]))) {
			fprintf(stderr, "%s:%u: %s\n", path, no, why);
			fclose(f);
			return -EINVAL;
		}
		cells[n_cells++].line = no;
	}
	fclose(f);
	return 0;
}

/* --- the fixture: one instance, one pair, one double, a FAKE POOL --- */

typedef struct Fix {
	TestDir *dir;
	char ctl[4096], qmp[4096], log[4096];
	TestQemu *q;
	bool incoming;
	struct event_base *base;
	Log log_cfg;
	ProbeCache *probes;
	InstanceEnv env;
	Instance *i;
	Pair *p;
	unsigned n_ready;
	bool monitor_off; /* the double's monitor is away */
	/* the FAKE POOL */
	bool reserved;		/* VF_ID is out, not given back */
	unsigned fail_releases; /* the next releases that fail */
	char violations[512];	/* what broke the promise, "" if nothing */
	PairRecord rec;		/* the pair's state file, as last persisted */
	/* the FAKE DATA PATH (TrafficHandling=yes): what failoverd steered */
	PairSteer steer;
	bool vf_mac_zero; /* the VF's MAC is zeroed on its PF */
	bool done;	  /* the pair was forgotten */
} Fix;

static void fix_violation(Fix *f, const char *what)
{
	size_t len = strlen(f->violations);

	snprintf(f->violations + len, sizeof(f->violations) - len, "%s%s", len ? "; " : "", what);
}

static json_object *fix_status(Fix *f)
{
	char reply[16384];

	if (!f->q || !test_qemu_running(f->q) ||
	    test_double_call(f->ctl, "status", reply, sizeof(reply)) < 0)
		return NULL;
	return json_tokener_parse(reply);
}

/* What the double holds of the pair's primary: a device state, "none" or "exited". */
static void fix_holds(Fix *f, char *buf, size_t size)
{
	json_object *st = fix_status(f), *devs;

	snprintf(buf, size, "%s", st ? "none" : "exited");
	if (st && json_object_object_get_ex(st, "devices", &devs))
		for (size_t k = 0; k < json_object_array_length(devs); k++) {
			json_object *e = json_object_array_get_idx(devs, k);

			if (strcmp(qmp_json_get_string(e, "id") ?: "", "fo-p0") == 0)
				snprintf(buf, size, "%s", qmp_json_get_string(e, "state") ?: "?");
		}
	json_object_put(st);
}

static bool fix_double_holds_vf(Fix *f)
{
	json_object *st = fix_status(f), *devs;
	bool held = false;

	if (st && json_object_object_get_ex(st, "devices", &devs))
		for (size_t k = 0; k < json_object_array_length(devs); k++)
			held = held || strcmp(qmp_json_get_string(
						      json_object_array_get_idx(devs, k), "slot")
						      ?: "",
					      "host:" VF_ID) == 0;
	json_object_put(st);
	return held;
}

static int fake_acquire_vf(void *ud, const Pair *p, PairVf *vf, char *err, size_t size)
{
	Fix *f = ud;

	if (f->reserved)
		fix_violation(f, "FAKE POOL: VF handed out a second time");
	f->reserved = true;
	memset(vf, 0, sizeof(*vf));
	snprintf(vf->id, sizeof(vf->id), VF_ID);
	snprintf(vf->driver, sizeof(vf->driver), "vfio-pci");
	return 0;
}

static int fake_release_vf(void *ud, const Pair *p, char *err, size_t size)
{
	Fix *f = ud;

	if (fix_double_holds_vf(f))
		fix_violation(f, "FAKE POOL: VF taken back while the QEMU double holds it");
	if (f->fail_releases) {
		f->fail_releases--;
		snprintf(err, size, "FAKE POOL: injected release failure");
		return -EIO;
	}
	if (!f->reserved)
		fix_violation(f, "FAKE POOL: VF given back that was not out");
	f->reserved = false;
	return 0;
}

/* Every cell runs a second time with TrafficHandling=yes (test_cell_traffic). */
static bool traffic_on;

static int fake_steer(void *ud, const Pair *p, PairSteer to, bool restore_mac, char *err,
		      size_t size)
{
	Fix *f = ud;

	if (!traffic_on && to != PAIR_STEER_NONE)
		fix_violation(f, "FAKE DATA PATH: steered a pair without TrafficHandling=");
	if (to == PAIR_STEER_SOURCE && !f->reserved)
		fix_violation(f, "FAKE DATA PATH: zeroed the MAC of a VF back in its pool");
	if (to == PAIR_STEER_NONE && restore_mac && f->vf_mac_zero && !f->reserved)
		fix_violation(f, "FAKE DATA PATH: set the MAC of a VF back in its pool");
	if (to == PAIR_STEER_SOURCE)
		f->vf_mac_zero = true;
	else if (restore_mac || !f->reserved)
		f->vf_mac_zero = false; /* given back: the pool restores the VF */
	f->steer = to;
	return 0;
}

static void fake_pair_dirty(void *ud, Pair *p)
{
	pair_get_record(p, &((Fix *)ud)->rec);
}

static void fake_pair_changed(void *ud, Pair *p, PairState from)
{
	pair_get_record(p, &((Fix *)ud)->rec);
}

static void fake_pair_done(void *ud, Pair *p)
{
	Fix *f = ud;

	f->done = true;
	f->p = NULL;
	instance_remove_pair(p->instance, p);
}

static void fake_checkpoint(void *ud, const char *point)
{
}

static const char *fake_pool_driver(void *ud, const char *pool)
{
	return "vfio-pci";
}

static void fake_event(void *ud, Instance *i, const char *event, uint64_t rx_ns,
		       uint64_t tx_before_ns, uint64_t tx_start_ns, uint64_t tx_ns)
{
}

static void fake_ready(void *ud, Instance *i)
{
	((Fix *)ud)->n_ready++;
}

static void fake_instance(void *ud, Instance *i)
{
}

static Instance *fake_identified(void *ud, Instance *i, const char *name)
{
	return i;
}

static const InstanceOps fake_ops = {
	.acquire_vf = fake_acquire_vf,
	.release_vf = fake_release_vf,
	.steer = fake_steer,
	.pair_dirty = fake_pair_dirty,
	.pair_changed = fake_pair_changed,
	.pair_done = fake_pair_done,
	.checkpoint = fake_checkpoint,
	.pool_driver = fake_pool_driver,
	.event = fake_event,
	.ready = fake_ready,
	.lost = fake_instance,
	.settled = fake_instance,
	.identified = fake_identified,
};

static PairConfig fix_config(void)
{
	PairConfig c = { .name = "p0", .pool = "pool0", .standby = "net0", .primary_bus = "rp2" };
	const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x01 };

	memcpy(c.mac, mac, sizeof(mac));
	c.traffic = traffic_on;
	snprintf(c.standby_tap, sizeof(c.standby_tap), "%s", traffic_on ? "tap0" : "");
	return c;
}

static void fix_instance_new(Fix *f)
{
	ck_assert_int_eq(instance_new(&f->i, &f->env, "vm1"), 0);
	instance_set_settings(f->i, true, TIMEOUT, TIMEOUT);
	instance_set_configured(f->i, f->qmp);
}

static void fix_spawn(Fix *f)
{
	char bin[4096], state[4096];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "tests/model/qemu-double"),
			       "--name",
			       "vm1",
			       "--ctl",
			       f->ctl,
			       "--state-dir",
			       state,
			       "--qmp",
			       f->qmp,
			       "--standby",
			       "net0=" MAC "@rp1",
			       "--ports",
			       "3",
			       "--eject-ms",
			       "20",
			       "--cancel-ms",
			       "100",
			       f->incoming ? "--incoming" : NULL,
			       NULL };

	snprintf(state, sizeof(state), "%s", test_dir_file(f->dir, "state"));
	f->q = test_double_spawn(argv, f->ctl, f->log);
	ck_assert_msg(f->q, "the QEMU double did not start (see %s)", f->log);
}

static Fix *fix_new(bool incoming)
{
	Fix *f = calloc(1, sizeof(*f));
	PairConfig c = fix_config();

	ck_assert_ptr_nonnull(f);
	f->dir = test_dir_new();
	ck_assert_ptr_nonnull(f->dir);
	snprintf(f->ctl, sizeof(f->ctl), "%s", test_dir_file(f->dir, "ctl"));
	snprintf(f->qmp, sizeof(f->qmp), "%s", test_dir_file(f->dir, "qmp"));
	snprintf(f->log, sizeof(f->log), "%s", test_dir_file(f->dir, "double.log"));
	f->incoming = incoming;
	f->base = event_base_new();
	ck_assert_ptr_nonnull(f->base);
	log_init(&f->log_cfg, getenv("UNIT_PAIR_DEBUG") ? LOG_DEBUG : LOG_CRIT);
	ck_assert_int_eq(probe_cache_new(&f->probes, f->base), 0);
	f->env = (InstanceEnv){ .base = f->base,
				.log = &f->log_cfg,
				.probes = f->probes,
				.command_timeout_ms = 2000,
				.ops = &fake_ops,
				.userdata = f };
	fix_spawn(f);
	fix_instance_new(f);
	ck_assert_int_eq(instance_add_pair(f->i, &c, &f->p), 0);
	return f;
}

static void fix_free(Fix *f)
{
	instance_free(f->i);
	probe_cache_free(f->probes);
	event_base_free(f->base);
	test_qemu_free(f->q);
	test_dir_free(f->dir);
	free(f);
}

static void fix_run(Fix *f, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

/* Nothing in flight on either side for a while (and, if asked, a new set-up done). */
static bool fix_quiet(Fix *f, unsigned want_ready)
{
	json_object *st;
	bool quiet = true, b;
	int64_t idle;

	if (f->n_ready < want_ready || (f->p && f->p->busy) ||
	    (f->i->conn && qmp_conn_get_n_pending(f->i->conn)))
		return false;
	st = fix_status(f);
	if (st) {
		idle = json_object_get_int64(json_object_object_get(st, "idle_ms"));
		quiet = idle >= 30 && qmp_json_get_bool(st, "busy", &b) == 0 && !b;
		json_object_put(st);
	}
	return quiet;
}

static void fix_settle(Fix *f, unsigned want_ready)
{
	int64_t deadline = test_now_ms() + SETTLE_MS;
	int calm = 0;

	fix_run(f, 20);
	while (calm < 3) {
		ck_assert_msg(test_now_ms() < deadline, "pair did not settle (double log: %s)",
			      f->log);
		fix_run(f, 10);
		calm = fix_quiet(f, want_ready) ? calm + 1 : 0;
	}
}

static const char *fix_state(Fix *f)
{
	return f->p ? pair_state_to_string(f->p->state) : "forgotten";
}

/* A control command the double must accept; false if it refused (the fact cannot happen). */
static bool fix_ctl(Fix *f, const char *cmd)
{
	char reply[512];

	ck_assert_int_eq(test_double_call(f->ctl, cmd, reply, sizeof(reply)), 0);
	return strncmp(reply, "ok", 2) == 0;
}

/* Comma-separated control commands, in order; false at the first the double refuses. */
static bool fix_ctl_steps(Fix *f, const char *cmds)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", cmds);
	for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save))
		if (!fix_ctl(f, c))
			return false;
	return true;
}

static void fix_ctl_ok(Fix *f, const char *cmd)
{
	ck_assert_msg(fix_ctl(f, cmd), "qemu-double refused '%s'", cmd);
}

static void fix_connect(Fix *f)
{
	unsigned want = f->n_ready + 1;

	ck_assert_int_eq(instance_connect(f->i, f->qmp), 0);
	fix_settle(f, want);
}

/* The daemon's restart: the instance goes (the VF stays out), a new one gets the pair back. */
static void fix_restart(Fix *f)
{
	PairRecord rec = f->rec;
	bool alive = f->q && test_qemu_running(f->q);

	f->i = instance_free(f->i);
	f->p = NULL;
	fix_instance_new(f);
	if (f->done)
		return;
	ck_assert_int_eq(instance_add_pair(f->i, &rec.config, &f->p), 0);
	pair_restore(f->p, &rec, f->reserved && rec.vf.id[0], alive);
	instance_restore_qemu(f->i, rec.qemu_pid, rec.qemu_start);
	instance_follow_recorded_qemu(f->i);
}

static void fix_expect(Fix *f, Setup s, const char *state, const char *holds)
{
	char h[32];

	fix_holds(f, h, sizeof(h));
	ck_assert_msg(strcmp(fix_state(f), state) == 0 && strcmp(h, holds) == 0,
		      "setting up %s: pair is %s (%s), QEMU holds %s", setup_names[s], fix_state(f),
		      f->p ? f->p->reason : "", h);
}

/* How each state is reached: from another one (or a fresh start) by one step. */
typedef enum Step {
	STEP_CONNECT, /* the monitor is reached: the pair attaches */
	STEP_AWAY,    /* the monitor is off while the daemon dials */
	STEP_CTL,     /* control commands to the double, comma-separated */
	STEP_DETACH,
	STEP_VF_GONE,
	STEP_TIMEOUT, /* the negotiation deadline passes */
} Step;

static const struct Recipe {
	Setup from; /* _S_MAX: a fresh instance */
	Step step;
	const char *ctl;
	const char *state, *holds; /* what it must have led to */
} recipes[_S_MAX] = {
	[S_WAITING_AWAY] = { _S_MAX, STEP_AWAY, NULL, "waiting", "none" },
	[S_STAGED] = { _S_MAX, STEP_CONNECT, NULL, "staged", "hidden" },
	[S_INCOMING] = { _S_MAX, STEP_CONNECT, NULL, "incoming", "hidden" },
	[S_WAITING] = { S_STAGED, STEP_TIMEOUT, NULL, "waiting", "hidden" },
	[S_DETACHING] = { S_STAGED, STEP_DETACH, NULL, "detaching", "hidden" },
	[S_ACTIVE] = { S_STAGED, STEP_CTL, "negotiate", "active", "realized" },
	/* a running guest whose driver ignores the unplug request: wait-unplug lasts */
	[S_UNPLUGGING] = { S_ACTIVE, STEP_CTL, "eject-off,migrate-start", "unplugging", "partial" },
	[S_MIGRATING] = { S_ACTIVE, STEP_CTL, "migrate-start", "migrating", "partial" },
	[S_MIGRATED] = { S_MIGRATING, STEP_CTL, "migrate-complete", "migrated", "partial" },
	[S_RELEASED] = { S_ACTIVE, STEP_DETACH, NULL, "released", "none" },
	[S_FAILED] = { S_ACTIVE, STEP_VF_GONE, NULL, "failed", "realized" },
};

static void fix_setup(Fix *f, Setup s)
{
	const struct Recipe *r = &recipes[s];

	if (r->from != _S_MAX)
		fix_setup(f, r->from);
	switch (r->step) {
	case STEP_CONNECT:
		fix_connect(f);
		break;
	case STEP_AWAY:
		fix_ctl_ok(f, "monitor-off");
		f->monitor_off = true;
		ck_assert_int_eq(instance_connect(f->i, f->qmp), 0);
		break;
	case STEP_CTL:
		ck_assert_msg(fix_ctl_steps(f, r->ctl), "qemu-double refused '%s'", r->ctl);
		break;
	case STEP_DETACH:
		pair_detach(f->p);
		break;
	case STEP_VF_GONE:
		pair_vf_gone(f->p, "FAKE POOL: the PF was removed");
		break;
	case STEP_TIMEOUT:
		fix_run(f, TIMEOUT + 100);
		break;
	}
	fix_settle(f, 0);
	fix_expect(f, s, r->state, r->holds);
}

/* Applies @fact; false when the double refused it. */
static bool fix_fact(Fix *f, Fact fact)
{
	static const char *const ctl[_F_MAX] = {
		[F_NEGOTIATE] = "negotiate",
		[F_REBOOT] = "reboot",
		[F_DROP_MONITOR] = "drop-monitor",
		[F_MONITOR_OFF] = "monitor-off",
		[F_MONITOR_ON] = "monitor-on",
		[F_MIG_START] = "migrate-start",
		[F_MIG_COMPLETE] = "migrate-complete",
		[F_MIG_CANCEL] = "migrate-cancel",
		[F_MIG_FAIL] = "migrate-fail",
		[F_MIG_POSTCOPY] = "migrate-postcopy",
		[F_MIG_START_PAUSED] = "pause,migrate-start",
		[F_INCOMING_LOAD] = "incoming-start,incoming-load net0",
	};
	bool away = f->monitor_off;
	unsigned want = 0;

	switch (fact) {
	case F_DETACH:
		if (f->p)
			pair_detach(f->p);
		break;
	case F_REATTACH:
		if (f->p)
			pair_reattach(f->p, NULL);
		break;
	case F_RETIRE:
		if (f->p)
			pair_retire(f->p);
		break;
	case F_VF_GONE:
		/* The pool reports only VFs it handed out. */
		if (!f->p || !f->p->has_vf)
			return false;
		pair_vf_gone(f->p, "FAKE POOL: the PF was removed");
		break;
	case F_RELEASE_FAILS:
		f->fail_releases = 1;
		if (f->p)
			pair_detach(f->p);
		break;
	case F_QEMU_CRASH:
		test_qemu_kill(f->q);
		break;
	case F_WAIT:
		fix_run(f, TIMEOUT + 200);
		break;
	case F_RESTART:
		fix_restart(f);
		want = away ? 0 : f->n_ready + 1;
		ck_assert_int_eq(instance_connect(f->i, f->qmp), 0);
		break;
	default:
		/* After these the monitor comes back, and with it a new set-up. */
		if ((fact == F_DROP_MONITOR && !away) || (fact == F_MONITOR_ON && away))
			want = f->n_ready + 1;
		if (!fix_ctl_steps(f, ctl[fact]))
			return false;
		if (fact == F_MONITOR_OFF || fact == F_MONITOR_ON)
			f->monitor_off = fact == F_MONITOR_OFF;
		break;
	}
	fix_settle(f, want);
	return true;
}

static void check_cell(const Cell *c)
{
	Fix *f = fix_new(c->setup == S_INCOMING);
	char holds[32], commands[4096], name[128];

	snprintf(name, sizeof(name), "%s + %s (" CELLS_FILE ":%u)", setup_names[c->setup],
		 fact_names[c->fact], c->line);
	fix_setup(f, c->setup);
	ck_assert_int_eq(test_double_call(f->ctl, "commands", commands, sizeof(commands)), 0);
	if (c->cannot) {
		ck_assert_msg(!fix_fact(f, c->fact), "%s: the double accepted the fact", name);
		fix_expect(f, c->setup, recipes[c->setup].state, recipes[c->setup].holds);
		fix_free(f);
		return;
	}
	ck_assert_msg(fix_fact(f, c->fact), "%s: the double refused the fact", name);
	fix_holds(f, holds, sizeof(holds));
	commands[0] = 0;
	if (test_qemu_running(f->q))
		ck_assert_int_eq(test_double_call(f->ctl, "commands", commands, sizeof(commands)),
				 0);
	if (getenv("UNIT_PAIR_RECORD"))
		fprintf(stderr, "CELL %s -> %s %s \"%s\" (%s)\n", name, fix_state(f), holds,
			commands[0] ? commands : "-", f->p ? f->p->reason : "");
	ck_assert_msg(strcmp(fix_state(f), c->state) == 0 && strcmp(holds, c->holds) == 0,
		      "%s: pair is %s (%s), QEMU holds %s; expected %s, QEMU holding %s", name,
		      fix_state(f), f->p ? f->p->reason : "", holds, c->state, c->holds);
	ck_assert_msg(strcmp(commands[0] ? commands : "-", c->commands) == 0,
		      "%s: failoverd sent \"%s\", expected \"%s\"", name, commands, c->commands);
	if (c->then[0]) {
		fix_run(f, RETRY_MS + 200);
		fix_settle(f, 0);
		ck_assert_msg(strcmp(fix_state(f), c->then) == 0,
			      "%s: after the release retry the pair is %s, expected %s", name,
			      fix_state(f), c->then);
	}
	/* The promise: held by QEMU means ours; back in the pool means nobody holds it. */
	ck_assert_msg(!f->violations[0], "%s: %s", name, f->violations);
	if (strcmp(holds, "none") != 0 && strcmp(holds, "exited") != 0)
		ck_assert_msg(f->reserved && f->p && f->p->has_vf,
			      "%s: QEMU holds the primary but the VF is not the pair's", name);
	if (!f->p || (f->p->state == PAIR_RELEASED && !f->fail_releases))
		ck_assert_msg(!f->reserved, "%s: VF leaked: still reserved by a %s pair", name,
			      fix_state(f));
	/*
	 * The data path (docs/traffic.md): steered to the standby only while
	 * the stream flows, and a VF the guest has or may get keeps its MAC.
	 */
	ck_assert_msg(
		f->steer == PAIR_STEER_NONE ||
			(f->p && f->steer == PAIR_STEER_SOURCE && f->p->state == PAIR_MIGRATING) ||
			(f->p && f->steer == PAIR_STEER_DESTINATION &&
			 f->p->state == PAIR_INCOMING),
		"%s: frames still steered (%d) with the pair %s", name, f->steer, fix_state(f));
	ck_assert_msg(!f->vf_mac_zero || strcmp(holds, "partial") == 0 ||
			      strcmp(holds, "exited") == 0,
		      "%s: the VF's MAC is zeroed while QEMU holds the primary %s", name, holds);
	fix_free(f);
}

START_TEST(test_cell)
{
	check_cell(&cells[_i]);
}
END_TEST

/* The same cells with TrafficHandling=yes: the same outcome, and the data path follows. */
START_TEST(test_cell_traffic)
{
	traffic_on = true;
	check_cell(&cells[_i]);
}
END_TEST

/* The table is the state machine's: every (state, fact) cell exactly once. */
START_TEST(test_table_covers_every_cell)
{
	unsigned seen[_S_MAX][_F_MAX] = { { 0 } };

	for (size_t k = 0; k < n_cells; k++)
		seen[cells[k].setup][cells[k].fact]++;
	for (int s = 0; s < _S_MAX; s++)
		for (int fa = 0; fa < _F_MAX; fa++)
			ck_assert_msg(seen[s][fa] == 1, "cell %s + %s appears %u times",
				      setup_names[s], fact_names[fa], seen[s][fa]);
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;
	const char *only = getenv("UNIT_PAIR_CELL"); /* "SETUP/FACT": one cell */

	/* Read before the suite forks: a table that does not parse fails the binary. */
	if (cells_load(getenv("UNIT_PAIR_CELLS") ?: CELLS_FILE) < 0)
		return EXIT_FAILURE;
	s = suite_create("pair");
	tc = tcase_create("cells");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_table_covers_every_cell);
	if (only) {
		for (size_t k = 0; k < n_cells; k++) {
			char name[96];

			snprintf(name, sizeof(name), "%s/%s", setup_names[cells[k].setup],
				 fact_names[cells[k].fact]);
			if (strcmp(name, only) == 0) {
				tcase_add_loop_test(tc, test_cell, (int)k, (int)k + 1);
				tcase_add_loop_test(tc, test_cell_traffic, (int)k, (int)k + 1);
			}
		}
	} else {
		tcase_add_loop_test(tc, test_cell, 0, (int)n_cells);
		tcase_add_loop_test(tc, test_cell_traffic, 0, (int)n_cells);
	}
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
