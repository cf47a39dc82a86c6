/*
 * migration: the destination's degraded window, measured on real QEMUs
 * under TCG with the failover test guest (tests/guest/build-guest.sh).
 *
 * One guest is booted once and live-migrated back and forth between two
 * "hosts" (a and b, each a QEMU and, where the mode needs it, a failoverd),
 * ROUNDS times in each of three modes (rounded up to a multiple of 3),
 * interleaved so that slow drifts of the machine hit all modes alike:
 *
 *   baseline   no failoverd: the primary is on the destination's command
 *              line (as libvirt does it), QEMU's own best case;
 *   prestaged  failoverd with PrepareIncoming=yes device_adds the primary
 *              on the -incoming destination before the stream arrives;
 *   postplug   failoverd with PrepareIncoming=no plugs the primary once the
 *              migration has completed and the guest has negotiated.
 *
 * The window runs from the destination's RESUME (QEMU's own QMP event
 * timestamp) to the primary realized and seen by the guest: its ACPI
 * hotplug handler reading the slot bitmap with the primary's bit set (from
 * QEMU's trace with -msg timestamp=on: the same wall clock as QMP
 * timestamps). Before RESUME the vCPUs do not run, so nothing of the guest
 * can be earlier. When the guest's driver bound the primary is reported too.
 *
 * With --together N, N guests (prestaged, both daemons kept running as on a
 * host being evacuated) migrate from a to b at once, then back one at a
 * time, CYCLES times: their windows at once against alone, the same guests
 * in the same run.
 *
 *   migration DAEMON_BINARY WORKDIR [ROUNDS]
 *   migration --together N DAEMON_BINARY WORKDIR [CYCLES]
 *
 * (both need FOVD_GUEST_* from build-guest.sh failover)
 */

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "tests/lib/harness.h"

#define MAX_EVENTS    256
#define MAX_MIGRATION 90
#define MAX_VMS	      4

typedef enum Mode { MODE_BASELINE, MODE_PRESTAGED, MODE_POSTPLUG, _MODE_MAX } Mode;
static const char *const mode_names[_MODE_MAX] = { "baseline", "prestaged", "postplug" };

/*
 * Trace events of the destination QEMU, in the order a guest goes through
 * them. The guest sees the primary when its ACPI hotplug handler reads the
 * slot bitmap with the primary's bit set; its e1000e driver has bound it when
 * it enables bus mastering (QEMU's e1000e_write_config starts the receiver).
 */
static const struct {
	const char *event;
	bool bit_set; /* only with a non-zero argument (the slot bitmap) */
	const char *key;
} milestones[] = {
	{ "e1000e_cb_pci_realize", false, "realized" }, /* QEMU realized the primary */
	{ "acpi_pci_up_read", true, "seen" },		/* the guest sees it: window ends */
	{ "e1000e_rx_start_recv", false, "driver" },	/* its driver enabled it */
	{ "e1000e_core_ctrl_write", false, "reset" },	/* ... and reset it (probe) */
};
#define N_MILESTONES	 (sizeof(milestones) / sizeof(milestones[0]))
#define WINDOW_MILESTONE 1
#define DRIVER_MILESTONE 2

typedef struct Event {
	char name[32];
	char data[160];
	double ts_ms; /* QEMU's timestamp, wall clock */
} Event;

typedef struct Host Host;

/* One guest's QEMU on one host (vm1..vmN, the same names on both). */
typedef struct Vm {
	Host *host;
	char name[8], mac[18];
	char qmp[600], bqmp[600], mig[600], serial[600], trace[600];
	unsigned gen;
	TestQemu *qemu;
	QmpConn *conn; /* the benchmark's own monitor */
	bool ready;
	Event events[MAX_EVENTS];
	int n_events;
} Vm;

struct Host {
	char name[8];
	char dir[512], state[600], etc[600], log[600];
	TestQemu *daemon;
	Vm vms[MAX_VMS];
};

static struct {
	struct event_base *base;
	const char *daemon;
	Host hosts[2];
	size_t n_vms;
	int r, n_done;
	char ret[4096];
	QmpError err;
} b;

static double now_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void cleanup(void)
{
	for (int k = 0; k < 2; k++) {
		Host *h = &b.hosts[k];

		for (size_t i = 0; i < MAX_VMS; i++) {
			h->vms[i].conn = qmp_conn_free(h->vms[i].conn);
			h->vms[i].qemu = test_qemu_free(h->vms[i].qemu);
		}
		h->daemon = test_qemu_free(h->daemon);
	}
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "migration: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	cleanup();
	exit(1);
}

static void on_ready(QmpConn *c, void *ud)
{
	((Vm *)ud)->ready = true;
}

static void on_disconnected(QmpConn *c, int err, const char *reason, void *ud)
{
}

static void on_event(QmpConn *c, const char *name, const QmpValue *data, const QmpTimestamp *ts,
		     void *ud)
{
	Vm *v = ud;
	Event *e;

	if (v->n_events >= MAX_EVENTS)
		return;
	e = &v->events[v->n_events++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (data)
		qmp_value_format(*data, e->data, sizeof(e->data));
	else
		e->data[0] = 0;
	e->ts_ms = (double)ts->seconds * 1000.0 + (double)ts->microseconds / 1000.0;
}

static const QmpConnOps ops = { on_ready, on_disconnected, on_event };

static void on_reply(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	b.r = r;
	b.ret[0] = 0;
	if (ret)
		qmp_value_format(*ret, b.ret, sizeof(b.ret));
	if (err)
		b.err = *err;
	b.n_done++;
}

static void spin(unsigned ms)
{
	int64_t end = test_now_ms() + ms;

	do {
		event_base_loop(b.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	} while (test_now_ms() < end);
}

static int call(Vm *v, const char *command, const char *args_json)
{
	int before = b.n_done;
	int64_t end = test_now_ms() + 60000;
	json_object *args = args_json ? json_tokener_parse(args_json) : NULL;

	if (qmp_conn_call(v->conn, command, args, QMP_RETURN_ANY, 60000, on_reply, NULL) < 0)
		fail("host %s: %s: cannot send %s", v->host->name, v->name, command);
	while (b.n_done == before && test_now_ms() < end)
		event_base_loop(b.base, EVLOOP_ONCE);
	if (b.r < 0)
		fail("host %s: %s: %s failed: %s", v->host->name, v->name, command, b.err.desc);
	return b.r;
}

static const Event *find_event(Vm *v, const char *name, const char *data_substr)
{
	for (int k = 0; k < v->n_events; k++)
		if (strcmp(v->events[k].name, name) == 0 &&
		    (!data_substr || strstr(v->events[k].data, data_substr)))
			return &v->events[k];
	return NULL;
}

static const Event *wait_event(Vm *v, const char *name, const char *data_substr, unsigned ms)
{
	int64_t end = test_now_ms() + ms;
	const Event *e;

	while (!(e = find_event(v, name, data_substr)) && test_now_ms() < end)
		spin(5);
	if (!e)
		fail("host %s: %s: no %s event within %u ms", v->host->name, v->name, name, ms);
	return e;
}

/* --- the daemon, through its files --- */

static void write_file(const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void write_file(const char *dir, const char *name, const char *fmt, ...)
{
	char path[1200];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		fail("cannot write %s: %s", path, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void pair_state(const Vm *v, char *buf, size_t size)
{
	char path[1200], line[512];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "%s/pairs/%s@p0", v->host->state, v->name);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "state=", 6) == 0) {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, size, "%s", line + 6);
		}
	fclose(f);
}

static void wait_pair(const Vm *v, const char *want, unsigned ms)
{
	int64_t end = test_now_ms() + ms;
	char cur[64];

	do {
		pair_state(v, cur, sizeof(cur));
		if (strcmp(cur, want) == 0)
			return;
		spin(10);
	} while (test_now_ms() < end);
	test_log_dump(v->host->log, 3000);
	fail("host %s: pair %s/p0 is '%s', not '%s' after %u ms", v->host->name, v->name, cur, want,
	     ms);
}

static void daemon_stop(Host *h)
{
	if (!h->daemon)
		return;
	kill(test_qemu_pid(h->daemon), SIGTERM);
	test_qemu_wait_exit(h->daemon, 5000, NULL);
	h->daemon = test_qemu_free(h->daemon);
}

static void daemon_start(Host *h, bool prepare_incoming)
{
	const char *argv[] = {
		b.daemon, "--no-bus", "--root", h->dir, "--state-dir", h->state, NULL
	};
	char cmd[1400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->state);
	if (system(cmd) != 0)
		fail("cannot clear %s", h->state);
	write_file(h->etc, "emu.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=%d\n",
		   2 * MAX_VMS);
	for (size_t k = 0; k < b.n_vms; k++) {
		const Vm *v = &h->vms[k];
		char name[16];

		snprintf(name, sizeof(name), "%s.vm", v->name);
		write_file(h->etc, name,
			   "[Instance]\nName=%s\nQMP=%s\nPrepareIncoming=%s\n\n"
			   "[Pair]\nName=p0\nPool=emu\nMACAddress=%s\nStandby=net0\n",
			   v->name, v->qmp, prepare_incoming ? "yes" : "no", v->mac);
	}
	h->daemon = test_qemu_spawn(argv, h->log);
	if (!h->daemon)
		fail("cannot start %s: %s", b.daemon, strerror(errno));
}

/* --- QEMU --- */

static void qemu_start(Vm *v, bool incoming, bool primary_on_cmdline)
{
	char qmp2[700], dev[200];
	const char *extra[32];
	TestGuestOptions o = { 0 };
	size_t n = 0;

	v->gen++;
	snprintf(v->serial, sizeof(v->serial), "%s/%s-serial-%u.log", v->host->dir, v->name,
		 v->gen);
	snprintf(v->trace, sizeof(v->trace), "%s/%s-trace-%u.log", v->host->dir, v->name, v->gen);
	snprintf(qmp2, sizeof(qmp2), "unix:%s,server=on,wait=off", v->bqmp);
	/* The kernel ourselves: o.boot would check the environment with Check asserts. */
	extra[n++] = "-kernel";
	extra[n++] = getenv("FOVD_GUEST_KERNEL");
	extra[n++] = "-initrd";
	extra[n++] = getenv("FOVD_GUEST_INITRD");
	extra[n++] = "-append";
	extra[n++] = "console=ttyS0 quiet panic=-1";
	extra[n++] = "-qmp";
	extra[n++] = qmp2;
	extra[n++] = "-msg";
	extra[n++] = "timestamp=on";
	extra[n++] = "-D";
	extra[n++] = v->trace;
	for (size_t k = 0; k < N_MILESTONES; k++) {
		extra[n++] = "-trace";
		extra[n++] = milestones[k].event;
	}
	if (primary_on_cmdline) {
		snprintf(dev, sizeof(dev),
			 "e1000e,id=fo-p0,mac=%s,bus=rp2,failover_pair_id=net0,romfile=", v->mac);
		extra[n++] = "-device";
		extra[n++] = dev;
	}
	extra[n] = NULL;
	o.qmp_path = v->qmp;
	o.serial_log = v->serial;
	o.name = v->name;
	o.mac = v->mac;
	o.standby = true;
	o.incoming = incoming;
	o.n_root_ports = 3;
	o.extra_args = extra;
	v->n_events = 0;
	v->ready = false;
	v->qemu = test_guest_spawn(&o, v->host->dir);
	if (!v->qemu)
		fail("cannot start QEMU: %s", strerror(errno));
	if (test_qemu_wait_socket(v->qemu, v->bqmp, 20000) < 0)
		fail("host %s: %s: QEMU did not start", v->host->name, v->name);
	if (qmp_conn_new_connect(&v->conn, b.base, v->bqmp, true, &ops, v) < 0)
		fail("host %s: cannot connect to %s", v->host->name, v->bqmp);
	while (!v->ready)
		event_base_loop(b.base, EVLOOP_ONCE);
	call(v, "migrate-set-capabilities",
	     "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}");
}

static void qemu_quit(Vm *v)
{
	call(v, "quit", NULL);
	test_qemu_wait_exit(v->qemu, 10000, NULL);
	v->conn = qmp_conn_free(v->conn);
	v->qemu = test_qemu_free(v->qemu);
}

/* First trace @event at or after @after_ms (wall clock), or -1. */
static double trace_find(const char *path, size_t milestone, double after_ms)
{
	const char *event = milestones[milestone].event;
	char *text = test_log_read(path), *line, *save = NULL;
	double found = -1;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line && found < 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char *at = strchr(line, '@'), *colon;
		double ts;

		if (!at || !(colon = strchr(at, ':')))
			continue;
		if (strncmp(colon + 1, event, strlen(event)) != 0 ||
		    (colon[1 + strlen(event)] != ' ' && colon[1 + strlen(event)] != 0))
			continue;
		ts = strtod(at + 1, NULL) * 1000.0;
		if (milestones[milestone].bit_set &&
		    strtoul(colon + 1 + strlen(event), NULL, 0) == 0)
			continue;
		if (ts >= after_ms)
			found = ts;
	}
	free(text);
	return found;
}

typedef struct Result {
	Mode mode;
	double window_ms;	       /* RESUME -> guest driver drives the primary */
	double rel_ms[N_MILESTONES];   /* each milestone relative to RESUME */
	double resume_after_unplug_ms; /* source UNPLUG_PRIMARY -> destination RESUME */
	double bonded_serial_ms;       /* the guest's own console shows the bond (0.2 s polling) */
	double daemons_cpu_ms;	       /* both failoverds, over the whole set (migrate_set) */
} Result;

/* Result fields by index: the milestones, then these. */
enum { F_WINDOW = N_MILESTONES, F_MIGRATION, F_DAEMONS_CPU };

static double result_field(const Result *r, size_t field)
{
	return field == F_WINDOW	? r->window_ms
	       : field == F_MIGRATION	? r->resume_after_unplug_ms
	       : field == F_DAEMONS_CPU ? r->daemons_cpu_ms
					: r->rel_ms[field];
}

/* CPU time both failoverds have used (the first field of schedstat, ns). */
static double daemons_cpu_ms(void)
{
	double ms = 0;

	for (int k = 0; k < 2; k++) {
		char path[64];
		unsigned long long ns = 0;
		FILE *f;

		if (!b.hosts[k].daemon)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/schedstat",
			 (int)test_qemu_pid(b.hosts[k].daemon));
		f = fopen(path, "re");
		if (f && fscanf(f, "%llu", &ns) == 1)
			ms += (double)ns / 1e6;
		if (f)
			fclose(f);
	}
	return ms;
}

/* Both ends told: the destination listens, the source sends (and returns at once). */
static void migration_start(Vm *src, Vm *dst)
{
	char uri[700];

	snprintf(uri, sizeof(uri), "{\"uri\": \"unix:%s\"}", dst->mig);
	call(dst, "migrate-incoming", uri);
	src->n_events = 0;
	call(src, "migrate", uri);
}

/* Waits for @dst to resume and its guest to see and bond the primary: @res. */
static void migration_finish(Vm *src, Vm *dst, Mode mode, Result *res)
{
	const Event *resume, *unplug;
	double bonded_at;
	int64_t end;

	resume = wait_event(dst, "RESUME", NULL, 120000);
	wait_event(src, "MIGRATION", "completed", 60000);
	unplug = find_event(src, "UNPLUG_PRIMARY", NULL);

	memset(res, 0, sizeof(*res));
	res->mode = mode;
	res->resume_after_unplug_ms = unplug ? resume->ts_ms - unplug->ts_ms : -1;
	end = test_now_ms() + 60000;
	for (;;) {
		double t = trace_find(dst->trace, WINDOW_MILESTONE, resume->ts_ms);

		if (t >= 0) {
			res->window_ms = t - resume->ts_ms;
			break;
		}
		if (test_now_ms() > end)
			fail("host %s: %s: the guest never drove the primary (%s)", dst->host->name,
			     dst->name, dst->trace);
		spin(20);
	}
	/* The guest's own view, and a settled source for the next round. */
	if (test_guest_wait_failover(dst->serial, "e1000e", 60000) < 0)
		fail("host %s: %s: guest did not bond on the destination", dst->host->name,
		     dst->name);
	bonded_at = now_wall_ms();
	res->bonded_serial_ms = bonded_at - resume->ts_ms;
	for (size_t k = 0; k < N_MILESTONES; k++) {
		/* Realization happens at load, before RESUME, except when plugged after. */
		double t = trace_find(dst->trace, k, resume->ts_ms - 10000);

		res->rel_ms[k] = t >= 0 ? t - resume->ts_ms : 0;
	}
	if (mode != MODE_BASELINE)
		wait_pair(dst, "active", 30000);
}

/* One guest, the destination's failoverd started afresh for @mode. */
static void migrate_once(Host *src, Host *dst, Mode mode, Result *res)
{
	Vm *s = &src->vms[0], *d = &dst->vms[0];

	daemon_stop(dst);
	qemu_start(d, true, mode == MODE_BASELINE);
	if (mode != MODE_BASELINE) {
		daemon_start(dst, mode == MODE_PRESTAGED);
		wait_pair(d, mode == MODE_PRESTAGED ? "incoming" : "waiting", 30000);
	}
	migration_start(s, d);
	migration_finish(s, d, mode, res);
	qemu_quit(s);
}

/*
 * Guests [first, first + n) of @src to @dst at once, both failoverds
 * running throughout (each reconnects to the QEMUs that come and go): the
 * destination QEMUs first, every migration started back to back, then
 * each one followed to its end.
 */
static void migrate_set(Host *src, Host *dst, size_t first, size_t n, Result *res)
{
	double cpu0 = daemons_cpu_ms();

	for (size_t k = first; k < first + n; k++)
		qemu_start(&dst->vms[k], true, false);
	for (size_t k = first; k < first + n; k++)
		wait_pair(&dst->vms[k], "incoming", 30000);
	for (size_t k = first; k < first + n; k++)
		migration_start(&src->vms[k], &dst->vms[k]);
	for (size_t k = first; k < first + n; k++)
		migration_finish(&src->vms[k], &dst->vms[k], MODE_PRESTAGED, &res[k - first]);
	for (size_t k = first; k < first + n; k++) {
		qemu_quit(&src->vms[k]);
		wait_pair(&src->vms[k], "released", 10000);
	}
	for (size_t k = 0; k < n; k++)
		res[k].daemons_cpu_ms = daemons_cpu_ms() - cpu0;
}

static int cmp_double(const void *a, const void *b2)
{
	double x = *(const double *)a, y = *(const double *)b2;

	return x < y ? -1 : x > y;
}

/* Quantile @q (0.5: the median) of a field over the migrations of @mode. */
static double quantile(const Result *r, size_t n, Mode mode, size_t field, double q)
{
	double v[MAX_MIGRATION], pos;
	size_t k = 0, lo;

	for (size_t i = 0; i < n; i++)
		if (r[i].mode == mode)
			v[k++] = result_field(&r[i], field);
	if (!k)
		return 0;
	qsort(v, k, sizeof(double), cmp_double);
	pos = q * (double)(k - 1);
	lo = (size_t)pos;
	return lo + 1 < k ? v[lo] + (pos - (double)lo) * (v[lo + 1] - v[lo]) : v[lo];
}

static double median(const Result *r, size_t n, Mode mode, size_t field)
{
	return quantile(r, n, mode, field, 0.5);
}

static void print_result(size_t n, const Host *src, const Host *dst, const char *vm,
			 const char *label, const Result *r)
{
	fprintf(stderr,
		"migration %2zu %s->%s %s %-9s window %6.1f ms (after RESUME: realized %+6.1f, "
		"seen by the guest %+6.1f, driver %+6.1f, reset %+6.1f ms; console shows the "
		"bond %+6.0f ms; RESUME %.0f ms after UNPLUG_PRIMARY)\n",
		n, src->name, dst->name, vm, label, r->window_ms, r->rel_ms[0], r->rel_ms[1],
		r->rel_ms[2], r->rel_ms[3], r->bonded_serial_ms, r->resume_after_unplug_ms);
}

static void host_init(Host *h, const char *work, const char *name)
{
	char cmd[1400];

	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->dir, sizeof(h->dir), "%s/host-%s", work, name);
	snprintf(h->etc, sizeof(h->etc), "%s/etc/failoverd", h->dir);
	snprintf(h->state, sizeof(h->state), "%s/state", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/failoverd.log", h->dir);
	for (size_t k = 0; k < MAX_VMS; k++) {
		Vm *v = &h->vms[k];

		v->host = h;
		snprintf(v->name, sizeof(v->name), "vm%zu", k + 1);
		snprintf(v->mac, sizeof(v->mac), "52:54:00:aa:bb:%02zx", k + 1);
		snprintf(v->qmp, sizeof(v->qmp), "%s/%s.qmp", h->dir, v->name);
		snprintf(v->bqmp, sizeof(v->bqmp), "%s/%s-bench.qmp", h->dir, v->name);
		snprintf(v->mig, sizeof(v->mig), "%s/%s-migrate.sock", h->dir, v->name);
	}
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", h->etc);
	if (system(cmd) != 0)
		fail("cannot create %s", h->etc);
}

static void on_fatal_signal(int sig)
{
	/* Children die with us (PR_SET_PDEATHSIG); exit so that they do now. */
	_exit(128 + sig);
}

/* Boots guests [0, b.n_vms) on host a under its failoverd; waits for every bond. */
static void boot_on_a(bool prepare_incoming)
{
	Host *a = &b.hosts[0];

	fprintf(stderr, "migration: booting %zu test guest%s on host a\n", b.n_vms,
		b.n_vms > 1 ? "s" : "");
	for (size_t k = 0; k < b.n_vms; k++)
		qemu_start(&a->vms[k], false, false);
	daemon_start(a, prepare_incoming);
	for (size_t k = 0; k < b.n_vms; k++) {
		wait_pair(&a->vms[k], "active", 180000);
		if (test_guest_wait_failover(a->vms[k].serial, "e1000e", 180000) < 0)
			fail("%s did not bond on host a", a->vms[k].name);
	}
}

/* The modes of one guest, interleaved (see the top). */
static void run_modes(unsigned rounds)
{
	Result res[MAX_MIGRATION];
	size_t n = 0;
	int cur = 0;

	rounds = (rounds + 2) / 3 * 3; /* whole cycles of the order below */
	if (rounds * _MODE_MAX > MAX_MIGRATION)
		rounds = MAX_MIGRATION / _MODE_MAX;
	b.n_vms = 1;
	boot_on_a(true);

	/*
	 * A de Bruijn order: in every cycle of nine each mode follows each mode
	 * (itself included) exactly once. The source of a migration is the
	 * previous destination, with or without its failoverd, and the guest
	 * carries what the previous mode did to it: neither may favour one
	 * mode. (A rotation of 0 1 2 lets each mode follow one other mode two
	 * times in three.) The guest gets a second of quiet before each one.
	 */
	static const Mode order[] = { 0, 0, 1, 0, 2, 1, 1, 2, 2 };

	for (unsigned k = 0; k < rounds * _MODE_MAX; k++, n++) {
		Host *src = &b.hosts[cur], *dst = &b.hosts[1 - cur];
		Mode m = order[k % (sizeof(order) / sizeof(order[0]))];

		spin(1000);
		migrate_once(src, dst, m, &res[n]);
		print_result(n + 1, src, dst, "vm1", mode_names[m], &res[n]);
		cur = 1 - cur;
	}
	cleanup();

	for (Mode m = 0; m < _MODE_MAX; m++) {
		printf("%s_window_ms=%.2f %s_window_p25_ms=%.2f %s_window_p75_ms=%.2f",
		       mode_names[m], median(res, n, m, F_WINDOW), mode_names[m],
		       quantile(res, n, m, F_WINDOW, 0.25), mode_names[m],
		       quantile(res, n, m, F_WINDOW, 0.75));
		for (size_t k = 0; k < N_MILESTONES; k++)
			printf(" %s_%s_ms=%.2f", mode_names[m], milestones[k].key,
			       median(res, n, m, k));
		printf("\n");
	}
	printf("prestaged_window_minus_baseline_ms=%.2f\n",
	       median(res, n, MODE_PRESTAGED, F_WINDOW) - median(res, n, MODE_BASELINE, F_WINDOW));
	/* Each milestone compared alike; "realized" is QEMU's side alone, free of guest noise. */
	for (size_t k = 0; k < N_MILESTONES; k++)
		printf("%sprestaged_%s_minus_baseline_ms=%.2f postplug_%s_minus_baseline_ms=%.2f",
		       k ? " " : "", milestones[k].key,
		       median(res, n, MODE_PRESTAGED, k) - median(res, n, MODE_BASELINE, k),
		       milestones[k].key,
		       median(res, n, MODE_POSTPLUG, k) - median(res, n, MODE_BASELINE, k));
	printf("\n");
	printf("migrations_per_mode=%u\n", rounds);
}

static void print_set(const char *key, const Result *r, size_t n)
{
	printf("%s_window_ms=%.2f %s_window_p25_ms=%.2f %s_window_p75_ms=%.2f %s_migration_ms=%.2f "
	       "%s_driver_ms=%.2f %s_daemons_cpu_ms=%.2f\n",
	       key, median(r, n, MODE_PRESTAGED, F_WINDOW), key,
	       quantile(r, n, MODE_PRESTAGED, F_WINDOW, 0.25), key,
	       quantile(r, n, MODE_PRESTAGED, F_WINDOW, 0.75), key,
	       median(r, n, MODE_PRESTAGED, F_MIGRATION), key,
	       median(r, n, MODE_PRESTAGED, DRIVER_MILESTONE), key,
	       median(r, n, MODE_PRESTAGED, F_DAEMONS_CPU));
}

/*
 * @n_vms guests on host a, both failoverds pre-staging: per cycle all of
 * them a -> b at once, then each alone b -> a (the others idle on their
 * hosts, as in any evacuation's aftermath).
 */
static void run_together(size_t n_vms, unsigned cycles)
{
	Result together[MAX_MIGRATION], alone[MAX_MIGRATION];
	size_t n = 0;

	if (cycles * n_vms > MAX_MIGRATION)
		cycles = (unsigned)(MAX_MIGRATION / n_vms);
	b.n_vms = n_vms;
	boot_on_a(true);
	daemon_start(&b.hosts[1], true);
	for (unsigned c = 0; c < cycles; c++, n += n_vms) {
		spin(1000);
		migrate_set(&b.hosts[0], &b.hosts[1], 0, n_vms, &together[n]);
		for (size_t k = 0; k < n_vms; k++)
			print_result(n + k + 1, &b.hosts[0], &b.hosts[1], b.hosts[0].vms[k].name,
				     "together", &together[n + k]);
		for (size_t k = 0; k < n_vms; k++) {
			spin(1000);
			migrate_set(&b.hosts[1], &b.hosts[0], k, 1, &alone[n + k]);
			print_result(n + k + 1, &b.hosts[1], &b.hosts[0], b.hosts[0].vms[k].name,
				     "alone", &alone[n + k]);
		}
	}
	cleanup();

	print_set("together", together, n);
	print_set("alone", alone, n);
	printf("together_vs_alone_window_ratio=%.3f\n",
	       median(together, n, MODE_PRESTAGED, F_WINDOW) /
		       median(alone, n, MODE_PRESTAGED, F_WINDOW));
	printf("together_vms=%zu together_migrations=%zu\n", n_vms, n);
}

int main(int argc, char **argv)
{
	bool by_set = argc > 2 && strcmp(argv[1], "--together") == 0;
	size_t together = 0;

	if (by_set) {
		together = strtoul(argv[2], NULL, 10);
		argc -= 2;
		argv += 2;
	}
	if (argc < 3 || (by_set && (together < 1 || together > MAX_VMS))) {
		fprintf(stderr,
			"usage: migration [--together N<=%d] DAEMON_BINARY WORKDIR "
			"[ROUNDS|CYCLES]\n",
			MAX_VMS);
		return 2;
	}
	if (!getenv("FOVD_GUEST_KERNEL") || !getenv("FOVD_GUEST_INITRD")) {
		fprintf(stderr,
			"migration: eval \"$(tests/guest/build-guest.sh failover)\" first\n");
		return 2;
	}
	signal(SIGTERM, on_fatal_signal);
	signal(SIGINT, on_fatal_signal);
	signal(SIGPIPE, SIG_IGN);
	b.daemon = argv[1];
	b.base = event_base_new();
	host_init(&b.hosts[0], argv[2], "a");
	host_init(&b.hosts[1], argv[2], "b");
	if (together)
		run_together(together, argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2);
	else
		run_modes(argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 5);
	event_base_free(b.base);
	return 0;
}
