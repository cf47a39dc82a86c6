/*
 * The model tier (docs/model-tier.md): random operation sequences over two
 * hosts — two failoverd daemons, each on its own private dbus-daemon, and
 * QEMU test doubles (tests/model/qemu-double.c) that know which VF they
 * hold — with an invariant audit after every step, at quiescence. A failing
 * sequence is replayed with fresh hosts and shrunk (delta debugging) to a
 * short operation list that still breaks the same invariant.
 *
 *   model [--seed N] [--sequences N] [--steps M] [--minutes N] [--ops 'OP; OP; ...']
 *
 * Environment: MODEL_EXCLUDE=kind,kind (op kinds never generated),
 * MODEL_MIX=kind:weight,... (weights; 0 excludes), MODEL_SHRINK=N (how many
 * distinct violations to shrink, default 3), MODEL_IGNORE=I5:...,I2:... (signature
 * prefixes not reported, the audit goes on), MODEL_SHRINK_SECONDS=N (budget
 * per violation, default 15), MODEL_VERBOSE=1 (every op and its outcome).
 */

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "daemon/pair.h"
#include "netlink/nlfdb.h"
#include "tests/lib/cluster.h"
#include "tests/lib/double.h"
#include "tests/lib/harness.h"

#define N_HOSTS	      2
#define N_VMS	      3 /* vm1, vm2: QMP= in a .vm file; vm3: zero-config (ListenQMP) */
#define N_PAIRS	      2 /* p0 on standby net0, p1 on net1 */
#define MAX_OPS	      256
#define QUIET_MS      30
#define SETTLE_MAX_MS 1500
#define BUS_NAME      "org.failoverd1"
#define BUS_PATH      "/org/failoverd1"
#define IFACE_MANAGER "org.failoverd1.Manager"

/* --- operations --- */

typedef enum OpKind {
	OP_ATTACH,
	OP_DETACH,
	OP_REMOVE,
	OP_PREPARE,
	OP_CONF_PAIR_ADD,
	OP_CONF_PAIR_DEL,
	OP_CONF_VM_DEL,
	OP_POOL_RESIZE,
	OP_RELOAD,
	OP_DAEMON_TERM,
	OP_DAEMON_KILL,
	OP_DAEMON_STOPAT,
	OP_QEMU_START,
	OP_QEMU_EXIT,
	OP_QEMU_CRASH,
	OP_QEMU_DUP,
	OP_NEGOTIATE,
	OP_REBOOT,
	OP_PAUSE,
	OP_RUN,
	OP_EJECT_OFF,
	OP_EJECT_ON,
	OP_DROP_MONITOR,
	OP_MONITOR_OFF,
	OP_MONITOR_ON,
	OP_MIG_START,
	OP_MIG_COMPLETE,
	OP_MIG_CANCEL,
	OP_MIG_FAIL,
	OP_MIG_POSTCOPY,
	OP_MIG_PAUSE,
	OP_MIG_RECOVER,
	OP_MIG_DEST_KILL,
	OP_WAIT,
	OP_EXPECT, /* never generated: an explicit sequence's expected outcome */
	_OP_MAX,
} OpKind;

static const struct {
	const char *name;
	unsigned weight;
	char args; /* h: host, v: host vm, p: host vm pair, n: host number, s: host point */
} kinds[_OP_MAX] = {
	[OP_ATTACH] = { "attach", 10, 'p' },
	[OP_DETACH] = { "detach", 5, 'p' },
	[OP_REMOVE] = { "remove", 2, 'p' },
	[OP_PREPARE] = { "prepare", 3, 'v' },
	[OP_CONF_PAIR_ADD] = { "conf-pair-add", 4, 'p' },
	[OP_CONF_PAIR_DEL] = { "conf-pair-del", 2, 'p' },
	[OP_CONF_VM_DEL] = { "conf-vm-del", 1, 'v' },
	[OP_POOL_RESIZE] = { "pool-resize", 2, 'n' },
	[OP_RELOAD] = { "reload", 1, 'h' },
	[OP_DAEMON_TERM] = { "daemon-term", 3, 'h' },
	[OP_DAEMON_KILL] = { "daemon-kill", 3, 'h' },
	[OP_DAEMON_STOPAT] = { "daemon-stopat", 2, 's' },
	[OP_QEMU_START] = { "qemu-start", 8, 'v' },
	[OP_QEMU_EXIT] = { "qemu-exit", 2, 'v' },
	[OP_QEMU_CRASH] = { "qemu-crash", 2, 'v' },
	[OP_QEMU_DUP] = { "qemu-dup", 1, 'v' },
	[OP_NEGOTIATE] = { "negotiate", 8, 'v' },
	[OP_REBOOT] = { "reboot", 2, 'v' },
	[OP_PAUSE] = { "pause", 2, 'v' },
	[OP_EJECT_OFF] = { "eject-off", 1, 'v' },
	[OP_EJECT_ON] = { "eject-on", 1, 'v' },
	[OP_RUN] = { "run", 3, 'v' },
	[OP_DROP_MONITOR] = { "drop-monitor", 3, 'v' },
	[OP_MONITOR_OFF] = { "monitor-off", 2, 'v' },
	[OP_MONITOR_ON] = { "monitor-on", 2, 'v' },
	[OP_MIG_START] = { "mig-start", 5, 'v' },
	[OP_MIG_COMPLETE] = { "mig-complete", 4, 'v' },
	[OP_MIG_CANCEL] = { "mig-cancel", 2, 'v' },
	[OP_MIG_FAIL] = { "mig-fail", 1, 'v' },
	[OP_MIG_POSTCOPY] = { "mig-postcopy", 2, 'v' },
	[OP_MIG_PAUSE] = { "mig-pause", 1, 'v' },
	[OP_MIG_RECOVER] = { "mig-recover", 1, 'v' },
	[OP_MIG_DEST_KILL] = { "mig-dest-kill", 1, 'v' },
	[OP_WAIT] = { "wait", 2, 'h' },
	[OP_EXPECT] = { "expect", 0, 'e' },
};

/* expect's second argument: what the pair's QEMU holds under the primary's id. */
static const char *const held_names[] = { "none", "hidden", "held" };

static const char *const stop_points[] = { "reserved",	     "primary-added",	 "state:staged",
					   "state:active",   "state:unplugging", "state:migrating",
					   "state:migrated", "state:incoming",	 "state:released",
					   "state:waiting" };
#define N_STOP_POINTS (sizeof(stop_points) / sizeof(stop_points[0]))

typedef struct Op {
	OpKind kind;
	int host, vm, pair, arg;
	int arg2; /* expect: index in held_names[] */
} Op;

static void op_format(const Op *o, char *buf, size_t size)
{
	char h = (char)('A' + o->host);

	switch (kinds[o->kind].args) {
	case 'p':
		snprintf(buf, size, "%s %c vm%d p%d", kinds[o->kind].name, h, o->vm + 1, o->pair);
		break;
	case 'v':
		snprintf(buf, size, "%s %c vm%d%s", kinds[o->kind].name, h, o->vm + 1,
			 o->kind == OP_QEMU_START && o->arg ? " paused" : "");
		break;
	case 'n':
		snprintf(buf, size, "%s %c %d", kinds[o->kind].name, h, o->arg);
		break;
	case 's':
		snprintf(buf, size, "%s %c %s", kinds[o->kind].name, h, stop_points[o->arg]);
		break;
	case 'e':
		snprintf(buf, size, "%s %c vm%d p%d %s %s", kinds[o->kind].name, h, o->vm + 1,
			 o->pair,
			 o->arg == _PAIR_STATE_MAX ? "gone"
						   : pair_state_to_string((PairState)o->arg),
			 held_names[o->arg2]);
		break;
	default:
		snprintf(buf, size, "%s %c", kinds[o->kind].name, h);
	}
}

static int op_parse(const char *text, Op *o)
{
	char name[64] = "", h = 0, a[64] = "", b[64] = "", c[64] = "", d[64] = "";
	int n = sscanf(text, " %63s %c %63s %63s %63s %63s", name, &h, a, b, c, d);

	memset(o, 0, sizeof(*o));
	if (n < 2 || h < 'A' || h >= 'A' + N_HOSTS)
		return -EINVAL;
	o->host = h - 'A';
	for (int k = 0; k < _OP_MAX; k++) {
		if (strcmp(kinds[k].name, name) != 0)
			continue;
		o->kind = (OpKind)k;
		switch (kinds[k].args) {
		case 'e':
			/* expect H vmN pN STATE|gone none|hidden|held */
			o->arg = n < 6			  ? -1
				 : strcmp(c, "gone") == 0 ? _PAIR_STATE_MAX
							  : pair_state_from_string(c);
			o->arg2 = -1;
			for (int j = 0; n >= 6 && j < 3; j++)
				if (strcmp(d, held_names[j]) == 0)
					o->arg2 = j;
			if (o->arg < 0 || o->arg2 < 0)
				return -EINVAL;
			/* fall through */
		case 'p':
			if (n < 4 || sscanf(b, "p%d", &o->pair) != 1 || o->pair < 0 ||
			    o->pair >= N_PAIRS)
				return -EINVAL;
			/* fall through */
		case 'v':
			if (n < 3 || sscanf(a, "vm%d", &o->vm) != 1 || o->vm < 1 || o->vm > N_VMS)
				return -EINVAL;
			o->vm--;
			if (o->kind == OP_QEMU_START)
				o->arg = strcmp(b, "paused") == 0;
			return 0;
		case 'n':
			return n >= 3 && sscanf(a, "%d", &o->arg) == 1 && o->arg > 0 ? 0 : -EINVAL;
		case 's':
			for (size_t j = 0; n >= 3 && j < N_STOP_POINTS; j++)
				if (strcmp(a, stop_points[j]) == 0) {
					o->arg = (int)j;
					return 0;
				}
			return -EINVAL;
		default:
			return 0;
		}
	}
	return -EINVAL;
}

/* --- the world --- */

typedef enum Mig { MIG_NONE, MIG_PRE, MIG_POST, MIG_DONE } Mig;

typedef struct Qemu {
	TestQemu *proc;
	char ctl[300];
	bool incoming;
	bool source; /* the outgoing end of the migration the runner drives */
	Mig mig;     /* the runner's view, for generating ops */
} Qemu;

typedef struct SigPair {
	bool used, known;
	char key[200]; /* instance/pair */
	char state[32], vf[64];
	bool negotiated;
} SigPair;

typedef struct Host {
	char name;
	char root[300], state[300], listen[300], bus_addr[400];
	TestQemu *dbus;
	sd_bus *bus;
	TestQemu *daemon;
	unsigned n_starts;
	char log[400];
	int pool_size;
	bool vm_file[N_VMS];
	bool conf_pair[N_VMS][N_PAIRS];
	bool fresh;		       /* (re)started: the next audit takes the signal baseline */
	bool detached[N_VMS][N_PAIRS]; /* DetachPair succeeded, nothing re-added it since */
	SigPair sig[64];
} Host;

typedef struct World {
	TestDir *dir;
	Host hosts[N_HOSTS];
	Qemu qemu[N_VMS][N_HOSTS], dup[N_VMS][N_HOSTS];
	unsigned n_doubles;
} World;

typedef struct Violation {
	int invariant; /* 1..6, 7: an explicit sequence's expectation */
	char sig[96];  /* what kind of violation: groups equal defects */
	char text[1024];
} Violation;

static struct {
	bool verbose;
	bool excluded[_OP_MAX];
	unsigned weight[_OP_MAX];
	char ignore[16][96];
	size_t n_ignore;
	char bus_dir[300];
	TestQemu *dbus[N_HOSTS];
	char bus_addr[N_HOSTS][400];
} g;

static World w;
static int64_t prof_ms[_OP_MAX];
static unsigned prof_n[_OP_MAX];

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...)
{
	va_list ap;

	if (!g.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void violate(Violation *v, int inv, const char *sig, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void violate(Violation *v, int inv, const char *sig, const char *fmt, ...)
{
	va_list ap;

	char full[96];

	if (v->invariant)
		return; /* the first one found tells the story */
	snprintf(full, sizeof(full), "I%d:%s", inv, sig);
	/* MODEL_IGNORE: known findings that should not hide the others. */
	for (size_t k = 0; k < g.n_ignore; k++)
		if (strncmp(full, g.ignore[k], strlen(g.ignore[k])) == 0)
			return;
	v->invariant = inv;
	snprintf(v->sig, sizeof(v->sig), "%s", full);
	va_start(ap, fmt);
	vsnprintf(v->text, sizeof(v->text), fmt, ap);
	va_end(ap);
}

static void write_file(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void write_file(const char *path, const char *fmt, ...)
{
	char tmp[600];
	va_list ap;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f) {
		fprintf(stderr, "model: cannot write %s: %s\n", tmp, strerror(errno));
		exit(2);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	rename(tmp, path);
}

static void mac_of(int vm, int pair, char *buf, size_t size)
{
	snprintf(buf, size, "52:54:00:%02x:00:%02x", vm + 1, pair + 1);
}

/* --- the data path (docs/traffic.md): p0 of every VM has TrafficHandling=yes --- */

/*
 * The run's own network namespace holds a bridge per host (fmbrA, fmbrB)
 * and, as the standby's tap of vmN/p0 on host H, a veth port fmHNp0 (its
 * peer fmHNp0w): what the master entries land on.
 */
#define TRAFFIC_PAIR 0

static void tap_of(const Host *h, int vm, char *buf, size_t size)
{
	snprintf(buf, size, "fm%c%dp0", h->name, vm + 1);
}

/*
 * vm2's p0 leaves StandbyTap= out: the daemon asks its QEMU (qom-get
 * netdev, then `info network`), which reports the same tap.
 */
static bool tap_configured(int vm)
{
	return vm != 1;
}

/*
 * vm1's p0 also has PrimaryNetdev=vfn0 and PrimaryTap=fmH1v0, the
 * emulated primary's netdev and its port on the host's stand-in NIC
 * switch (bridge fmswH): failoverd keeps a static entry for the MAC there
 * while the pair holds its "VF" (a PF assigning its VF's MAC), removed
 * while steered away.
 */
#define PRIMARY_TAP_VM 0

static void primary_tap_of(const Host *h, char *buf, size_t size)
{
	snprintf(buf, size, "fm%c%dv0", h->name, PRIMARY_TAP_VM + 1);
}

/* --- control sockets of the doubles --- */

static bool qemu_alive(Qemu *q)
{
	return q->proc && test_qemu_running(q->proc);
}

static int qemu_cmd(Qemu *q, const char *cmd, char *reply, size_t size)
{
	char buf[256];

	if (!qemu_alive(q))
		return -ESRCH;
	if (!reply) {
		reply = buf;
		size = sizeof(buf);
	}
	test_double_call(q->ctl, cmd, reply, size);
	vlog("      %s: %s -> %.120s\n", q->ctl, cmd, reply);
	return strncmp(reply, "ok", 2) == 0 ? 0 : -EIO;
}

static json_object *qemu_status(Qemu *q)
{
	char *buf = malloc(65536);
	json_object *o = NULL;

	if (!buf)
		abort();
	if (qemu_alive(q) && test_double_call(q->ctl, "status", buf, 65536) == 0)
		o = json_tokener_parse(buf);
	free(buf);
	return o;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static bool jbool(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static json_object *jarr(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array)
		       ? v
		       : NULL;
}

static void qemu_stop(Qemu *q)
{
	if (q->proc)
		q->proc = test_qemu_free(q->proc);
	q->incoming = q->source = false;
	q->mig = MIG_NONE;
}

static int qemu_start(int vm, int h, bool incoming, bool paused, bool dup)
{
	Host *host = &w.hosts[h];
	Qemu *q = dup ? &w.dup[vm][h] : &w.qemu[vm][h];
	char bin[300], name[16], qmp[320], sb0[80], sb1[64], mac[18], log[400], tap[16];
	const char *argv[24];
	int n = 0;

	if (qemu_alive(q))
		return -EEXIST;
	qemu_stop(q);
	snprintf(name, sizeof(name), "vm%d", vm + 1);
	snprintf(q->ctl, sizeof(q->ctl), "%s/q%u.ctl", test_dir_path(w.dir), ++w.n_doubles);
	snprintf(log, sizeof(log), "%s/q%u.log", test_dir_path(w.dir), w.n_doubles);
	mac_of(vm, 0, mac, sizeof(mac));
	tap_of(host, vm, tap, sizeof(tap));
	snprintf(sb0, sizeof(sb0), "net0=%s@rp1+%s", mac, tap);
	mac_of(vm, 1, mac, sizeof(mac));
	snprintf(sb1, sizeof(sb1), "net1=%s@rp2", mac);
	argv[n++] = test_build_path(bin, sizeof(bin), "tests/model/qemu-double");
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--ctl";
	argv[n++] = q->ctl;
	argv[n++] = "--state-dir";
	argv[n++] = host->state;
	if (vm == 2) {
		argv[n++] = "--dial";
		argv[n++] = host->listen;
	} else {
		snprintf(qmp, sizeof(qmp), "%s/vm%d.qmp", host->root, vm + 1);
		argv[n++] = "--qmp";
		argv[n++] = qmp;
	}
	argv[n++] = "--standby";
	argv[n++] = sb0;
	argv[n++] = "--standby";
	argv[n++] = sb1;
	if (incoming)
		argv[n++] = "--incoming";
	if (paused)
		argv[n++] = "--paused";
	argv[n] = NULL;
	q->proc = test_double_spawn(argv, q->ctl, log);
	if (!q->proc) {
		fprintf(stderr, "model: qemu-double did not come up (see %s)\n", log);
		return -EIO;
	}
	q->incoming = incoming;
	q->mig = MIG_NONE;
	return 0;
}

/* --- the data path's network namespace --- */

static int net_run(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		fprintf(stderr, "model: %s: exit status %d\n", cmd, r);
	return r == 0 ? 0 : -EIO;
}

/* Fresh ports for every sequence: deleting a port drops every entry on it. */
static int net_reset(void)
{
	char cmd[4096];
	size_t len = 0;

	for (int k = 0; k < N_HOSTS; k++) {
		char host = (char)('A' + k);

		len += (size_t)snprintf(
			cmd + len, sizeof(cmd) - len,
			"ip link show fmbr%c >/dev/null 2>&1 || "
			"{ ip link add fmbr%c type bridge && ip link set fmbr%c up; } "
			"&& ",
			host, host, host);
		for (int vm = 0; vm < N_VMS; vm++)
			len += (size_t)snprintf(
				cmd + len, sizeof(cmd) - len,
				"{ ip link del fm%c%dp0 2>/dev/null; true; } && "
				"ip link add fm%c%dp0 type veth peer name fm%c%dp0w && "
				"ip link set fm%c%dp0 master fmbr%c up && ",
				host, vm + 1, host, vm + 1, host, vm + 1, host, vm + 1, host);
		/* The stand-in NIC switch is a bridge of its own, as in the traffic tier. */
		len += (size_t)snprintf(
			cmd + len, sizeof(cmd) - len,
			"ip link show fmsw%c >/dev/null 2>&1 || "
			"{ ip link add fmsw%c type bridge && ip link set fmsw%c up; } "
			"&& { ip link del fm%c%dv0 2>/dev/null; true; } && "
			"ip link add fm%c%dv0 type veth peer name fm%c%dv0w && "
			"ip link set fm%c%dv0 master fmsw%c up && ",
			host, host, host, host, PRIMARY_TAP_VM + 1, host, PRIMARY_TAP_VM + 1, host,
			PRIMARY_TAP_VM + 1, host, PRIMARY_TAP_VM + 1, host);
	}
	snprintf(cmd + len, sizeof(cmd) - len, "true");
	return net_run(cmd);
}

/* The run's bridges and ports are its own: nothing of the host's network is touched. */
static int net_init(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "model: unshare(CLONE_NEWNET): %s (the tier runs as root)\n",
			strerror(errno));
		return -errno;
	}
	return net_run("ip link set lo up");
}

/* 1: the bridge of @port sends vmN/p0's MAC to @port (a static master entry). */
static int net_has_entry(const char *port, int vm)
{
	uint8_t mac[6] = { 0x52, 0x54, 0x00, (uint8_t)(vm + 1), 0, TRAFFIC_PAIR + 1 };
	static NlFdbSocket *s;
	NlFdbError e;

	if (!s && nl_fdb_socket_new(&s) < 0)
		return -EIO;
	return nl_fdb_has(s, port, mac, NL_FDB_MASTER, &e);
}

/* 1: the bridge sends vmN/p0's MAC to its standby's tap on host @h. */
static int net_steered(const Host *h, int vm)
{
	char tap[16];

	tap_of(h, vm, tap, sizeof(tap));
	return net_has_entry(tap, vm);
}

/* --- hosts: configuration, daemon, bus --- */

static void host_write_vm(Host *h, int vm)
{
	char path[400], body[2048], mac[18];
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/etc/failoverd/vm%d.vm", h->root, vm + 1);
	if (!h->vm_file[vm]) {
		unlink(path);
		return;
	}
	len += (size_t)snprintf(body + len, sizeof(body) - len,
				"[Instance]\nName=vm%d\nUnplugTimeoutSec=300ms\n"
				"NegotiateTimeoutSec=400ms\n",
				vm + 1);
	/* vm3 is the zero-config VM: a .vm file without QMP= configures it anyway. */
	if (vm != 2)
		len += (size_t)snprintf(body + len, sizeof(body) - len, "QMP=%s/vm%d.qmp\n",
					h->root, vm + 1);
	for (int p = 0; p < N_PAIRS; p++) {
		if (!h->conf_pair[vm][p])
			continue;
		mac_of(vm, p, mac, sizeof(mac));
		len += (size_t)snprintf(
			body + len, sizeof(body) - len,
			"\n[Pair]\nName=p%d\nPool=emu\nMACAddress=%s\nStandby=net%d\n", p, mac, p);
		if (p == TRAFFIC_PAIR) {
			char tap[16];

			tap_of(h, vm, tap, sizeof(tap));
			len += (size_t)snprintf(body + len, sizeof(body) - len,
						"TrafficHandling=yes\nStandbyLinkDown=yes\n");
			if (tap_configured(vm))
				len += (size_t)snprintf(body + len, sizeof(body) - len,
							"StandbyTap=%s\n", tap);
			if (vm == PRIMARY_TAP_VM) {
				primary_tap_of(h, tap, sizeof(tap));
				len += (size_t)snprintf(body + len, sizeof(body) - len,
							"PrimaryNetdev=vfn0\nPrimaryTap=%s\n", tap);
			}
		}
	}
	write_file(path, "%s", body);
}

static void host_write_pool(Host *h)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/etc/failoverd/emu.pool", h->root);
	write_file(path, "[Pool]\nDriver=emulated\nModel=e1000e\nSize=%d\n", h->pool_size);
}

static bool bus_name_owned(Host *h)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int owned = 0, r;

	r = sd_bus_call_method(h->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "NameHasOwner", &e, &reply, "s", BUS_NAME);
	if (r >= 0)
		sd_bus_message_read(reply, "b", &owned);
	sd_bus_message_unref(reply);
	sd_bus_error_free(&e);
	return owned;
}

static bool daemon_alive(Host *h)
{
	return h->daemon && test_qemu_running(h->daemon);
}

static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')) || p[1] != ' ')
		return 0;
	return p[2];
}

static bool daemon_stopped(Host *h)
{
	return daemon_alive(h) && proc_state(test_qemu_pid(h->daemon)) == 'T';
}

static int daemon_start(Host *h, const char *stop_at, Violation *v)
{
	char bin[300], bus_arg[450], listen_arg[350], stop_arg[100];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"),
			       "--log-level=debug",
			       "--root",
			       h->root,
			       "--state-dir",
			       h->state,
			       bus_arg,
			       listen_arg,
			       stop_at ? stop_arg : NULL,
			       NULL };
	int64_t end;

	/* The bus must have let go of the previous daemon's name. */
	for (int k = 0; k < 500 && bus_name_owned(h); k++)
		sleep_ms(2);
	snprintf(bus_arg, sizeof(bus_arg), "--bus=%s", h->bus_addr);
	snprintf(listen_arg, sizeof(listen_arg), "--listen-qmp=%s", h->listen);
	snprintf(stop_arg, sizeof(stop_arg), "--debug-stop-at=%s", stop_at ? stop_at : "");
	snprintf(h->log, sizeof(h->log), "%s/failoverd.%u.log", h->root, ++h->n_starts);
	h->daemon = test_qemu_spawn(argv, h->log);
	if (!h->daemon) {
		violate(v, 6, "daemon-spawn", "host %c: cannot start failoverd: %s", h->name,
			strerror(errno));
		return -EIO;
	}
	end = test_now_ms() + 5000;
	while (test_now_ms() < end) {
		char *text = test_log_read(h->log);
		bool up = text && strstr(text, "failoverd started");

		free(text);
		/* Named on the bus too: D-Bus calls go to this daemon from now on. */
		if (up && bus_name_owned(h)) {
			h->fresh = true;
			memset(h->detached, 0, sizeof(h->detached));
			for (int k = 0; k < 64; k++)
				h->sig[k].known = false;
			return 0;
		}
		if (!test_qemu_running(h->daemon))
			break;
		sleep_ms(3);
	}
	violate(v, 6, "daemon-start", "host %c: failoverd did not start (see %s)", h->name, h->log);
	return -EIO;
}

static void daemon_kill(Host *h)
{
	if (h->daemon)
		h->daemon = test_qemu_free(h->daemon);
}

static void daemon_term(Host *h)
{
	int64_t end = test_now_ms() + 5000;

	if (!daemon_alive(h)) {
		daemon_kill(h);
		return;
	}
	kill(test_qemu_pid(h->daemon), SIGCONT);
	kill(test_qemu_pid(h->daemon), SIGTERM);
	while (test_qemu_running(h->daemon) && test_now_ms() < end)
		sleep_ms(2);
	daemon_kill(h);
}

/* How many pidfds the daemon holds: at most one per instance is of any use. */
static int daemon_pidfds(Host *h)
{
	char dir[64], path[400], target[128];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)test_qemu_pid(h->daemon));
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = 0;
			n += strstr(target, "pidfd") != NULL;
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* A daemon that died without being told to: never acceptable. */
static void daemon_check_death(Host *h, Violation *v)
{
	int status = 0;

	if (!h->daemon || test_qemu_running(h->daemon))
		return;
	test_qemu_wait_exit(h->daemon, 0, &status);
	if (WIFSIGNALED(status))
		violate(v, 6, "daemon-crash", "host %c: failoverd died of signal %d (%s) (see %s)",
			h->name, WTERMSIG(status), strsignal(WTERMSIG(status)), h->log);
	else
		violate(v, 6, "daemon-exit", "host %c: failoverd exited with status %d (see %s)",
			h->name, WEXITSTATUS(status), h->log);
	daemon_kill(h);
}

/* --- D-Bus --- */

static int bus_call(Host *h, const char *member, sd_bus_message **reply, const char *types, ...)
{
	sd_bus_message *m = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	va_list ap;
	int r;

	r = sd_bus_message_new_method_call(h->bus, &m, BUS_NAME, BUS_PATH, IFACE_MANAGER, member);
	if (r >= 0 && types) {
		va_start(ap, types);
		r = sd_bus_message_appendv(m, types, ap);
		va_end(ap);
	}
	if (r >= 0)
		r = sd_bus_call(h->bus, m, 2 * 1000000ULL, &e, reply);
	if (r < 0)
		vlog("      host %c %s: %s\n", h->name, member,
		     e.message ? e.message : strerror(-r));
	sd_bus_message_unref(m);
	sd_bus_error_free(&e);
	return r;
}

typedef struct PairRow {
	char instance[128], pair[80], state[32], pool[80], vf[64];
	bool negotiated;
} PairRow;

typedef struct HostView {
	bool up; /* the daemon answered */
	PairRow pairs[64];
	size_t n_pairs;
	char connected[N_VMS]; /* 1: the instance is connected */
	bool known[N_VMS];
} HostView;

static int list_pairs(Host *h, HostView *hv)
{
	sd_bus_message *reply = NULL;
	const char *inst, *pair, *state, *pool, *vf, *mac, *reason, *path;
	uint64_t changed;
	int neg, r;

	hv->n_pairs = 0;
	r = bus_call(h, "ListPairs", &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "(sssssssbto)");
	while (r >= 0 &&
	       (r = sd_bus_message_read(reply, "(sssssssbto)", &inst, &pair, &state, &pool, &vf,
					&mac, &reason, &neg, &changed, &path)) > 0) {
		PairRow *p;

		if (hv->n_pairs >= 64)
			continue;
		p = &hv->pairs[hv->n_pairs++];
		snprintf(p->instance, sizeof(p->instance), "%s", inst);
		snprintf(p->pair, sizeof(p->pair), "%s", pair);
		snprintf(p->state, sizeof(p->state), "%s", state);
		snprintf(p->pool, sizeof(p->pool), "%s", pool);
		snprintf(p->vf, sizeof(p->vf), "%s", vf);
		p->negotiated = neg;
	}
	sd_bus_message_unref(reply);
	reply = NULL;
	memset(hv->connected, 0, sizeof(hv->connected));
	memset(hv->known, 0, sizeof(hv->known));
	r = bus_call(h, "ListInstances", &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "(ssbssuo)");
	while (r >= 0) {
		const char *name, *qmp, *run, *mig;
		uint32_t np;
		int conn;
		int vm;

		r = sd_bus_message_read(reply, "(ssbssuo)", &name, &qmp, &conn, &run, &mig, &np,
					&path);
		if (r <= 0)
			break;
		if (sscanf(name, "vm%d", &vm) == 1 && vm >= 1 && vm <= N_VMS) {
			hv->known[vm - 1] = true;
			hv->connected[vm - 1] = (char)conn;
		}
	}
	sd_bus_message_unref(reply);
	return 0;
}

static SigPair *sig_find(Host *h, const char *key, bool create)
{
	for (int k = 0; k < 64; k++)
		if (h->sig[k].used && strcmp(h->sig[k].key, key) == 0)
			return &h->sig[k];
	for (int k = 0; create && k < 64; k++)
		if (!h->sig[k].used) {
			memset(&h->sig[k], 0, sizeof(h->sig[k]));
			h->sig[k].used = true;
			snprintf(h->sig[k].key, sizeof(h->sig[k].key), "%s", key);
			return &h->sig[k];
		}
	return NULL;
}

static unsigned n_signals;

static int on_state_changed(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	Host *h = ud;
	const char *inst, *pair, *from, *to, *reason;
	char key[200];
	SigPair *s;

	n_signals++;
	if (sd_bus_message_read(m, "sssss", &inst, &pair, &from, &to, &reason) < 0)
		return 0;
	snprintf(key, sizeof(key), "%s/%s", inst, pair);
	s = sig_find(h, key, true);
	if (!s)
		return 0;
	vlog("      host %c signal %s: %s -> %s (%s)\n", h->name, key, from, to, reason);
	if (!s->known) {
		s->known = true;
		s->vf[0] = 0;
		s->negotiated = false;
	}
	snprintf(s->state, sizeof(s->state), "%s", to);
	return 0;
}

static int on_props_changed(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	Host *h = ud;
	char *key = NULL;
	const char *iface;
	SigPair *s;
	int r;

	n_signals++;
	if (sd_bus_path_decode(sd_bus_message_get_path(m), BUS_PATH "/pair", &key) <= 0)
		return 0;
	s = sig_find(h, key, true);
	free(key);
	if (!s || sd_bus_message_read(m, "s", &iface) < 0 ||
	    strcmp(iface, "org.failoverd1.Pair") != 0)
		return 0;
	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *prop, *sval;
		int b;

		if (sd_bus_message_read(m, "s", &prop) < 0)
			break;
		if (strcmp(prop, "State") == 0 && sd_bus_message_read(m, "v", "s", &sval) >= 0) {
			s->known = true;
			snprintf(s->state, sizeof(s->state), "%s", sval);
		} else if (strcmp(prop, "VF") == 0 &&
			   sd_bus_message_read(m, "v", "s", &sval) >= 0) {
			s->known = true;
			snprintf(s->vf, sizeof(s->vf), "%s", sval);
		} else if (strcmp(prop, "GuestNegotiated") == 0 &&
			   sd_bus_message_read(m, "v", "b", &b) >= 0) {
			s->known = true;
			s->negotiated = b;
		} else if (sd_bus_message_skip(m, "v") < 0) {
			break;
		}
		if (sd_bus_message_exit_container(m) < 0)
			break;
	}
	return 0;
}

static void bus_drain(Host *h)
{
	while (sd_bus_process(h->bus, NULL) > 0)
		;
}

static int bus_connect(Host *h)
{
	int r = sd_bus_new(&h->bus);

	if (r >= 0)
		r = sd_bus_set_address(h->bus, h->bus_addr);
	if (r >= 0)
		r = sd_bus_set_bus_client(h->bus, 1);
	if (r >= 0)
		r = sd_bus_start(h->bus);
	if (r < 0)
		fprintf(stderr, "model: bus %s: %s\n", h->bus_addr, strerror(-r));
	if (r >= 0)
		r = sd_bus_match_signal(h->bus, NULL, NULL, BUS_PATH, IFACE_MANAGER,
					"PairStateChanged", on_state_changed, h);
	if (r >= 0)
		r = sd_bus_add_match(
			h->bus, NULL,
			"type='signal',interface='org.freedesktop.DBus.Properties',"
			"member='PropertiesChanged',path_namespace='/org/failoverd1/pair'",
			on_props_changed, h);
	if (r < 0)
		fprintf(stderr, "model: bus %s: match: %s\n", h->bus_addr, strerror(-r));
	return r;
}

/* One private dbus-daemon per host for the whole run: each failoverd owns org.failoverd1. */
static int bus_daemon_start(int k)
{
	char conf[400], sock[400], arg[450];
	const char *argv[] = { "dbus-daemon", "--nofork", "--nopidfile", arg, NULL };

	snprintf(conf, sizeof(conf), "%s/bus%c.conf", g.bus_dir, 'A' + k);
	snprintf(sock, sizeof(sock), "%s/bus%c.sock", g.bus_dir, 'A' + k);
	snprintf(g.bus_addr[k], sizeof(g.bus_addr[k]), "unix:path=%s", sock);
	write_file(
		conf,
		"<busconfig>\n  <listen>%s</listen>\n  <auth>EXTERNAL</auth>\n"
		"  <policy context=\"default\">\n    <allow user=\"*\"/>\n"
		"    <allow own=\"*\"/>\n    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
		"    <allow eavesdrop=\"true\"/>\n"
		"  </policy>\n</busconfig>\n",
		g.bus_addr[k]);
	snprintf(arg, sizeof(arg), "--config-file=%s", conf);
	snprintf(sock + strlen(sock) - 4, 5, "%s", "log");
	g.dbus[k] = test_qemu_spawn(argv, sock);
	snprintf(sock + strlen(sock) - 3, 5, "%s", "sock");
	if (!g.dbus[k])
		return -errno;
	return test_qemu_wait_socket(g.dbus[k], sock, 10000);
}

/* --- sequence set-up and teardown --- */

static int world_init(Violation *v)
{
	memset(&w, 0, sizeof(w));
	if (net_reset() < 0)
		return -EIO;
	w.dir = test_dir_new();
	if (!w.dir)
		return -errno;
	for (int k = 0; k < N_HOSTS; k++) {
		Host *h = &w.hosts[k];
		char etc[400];

		h->name = (char)('A' + k);
		snprintf(h->root, sizeof(h->root), "%s/h%c", test_dir_path(w.dir), h->name);
		snprintf(h->state, sizeof(h->state), "%s/state", h->root);
		snprintf(h->listen, sizeof(h->listen), "%s/listen.qmp", h->root);
		snprintf(h->bus_addr, sizeof(h->bus_addr), "%s", g.bus_addr[k]);
		snprintf(etc, sizeof(etc), "%s/etc/failoverd", h->root);
		test_mkdirs(etc);
		write_file(strcat(etc, "/failoverd.conf"),
			   "[Daemon]\nUnplugTimeoutSec=300ms\nNegotiateTimeoutSec=400ms\n");
		h->pool_size = 3;
		host_write_pool(h);
		h->vm_file[0] = h->vm_file[1] = true;
		host_write_vm(h, 0);
		host_write_vm(h, 1);
		if (bus_connect(h) < 0) {
			fprintf(stderr, "model: cannot connect to %s\n", h->bus_addr);
			return -EIO;
		}
	}
	for (int k = 0; k < N_HOSTS; k++)
		if (daemon_start(&w.hosts[k], NULL, v) < 0)
			return -EIO;
	return 0;
}

static void world_free(void)
{
	for (int vm = 0; vm < N_VMS; vm++)
		for (int k = 0; k < N_HOSTS; k++) {
			qemu_stop(&w.qemu[vm][k]);
			qemu_stop(&w.dup[vm][k]);
		}
	for (int k = 0; k < N_HOSTS; k++) {
		daemon_kill(&w.hosts[k]);
		if (w.hosts[k].bus)
			w.hosts[k].bus = sd_bus_flush_close_unref(w.hosts[k].bus);
	}
	w.dir = test_dir_free(w.dir);
}

/* --- applying an operation --- */

static int other(int h)
{
	return (h + 1) % N_HOSTS;
}

static void reload(Host *h)
{
	if (daemon_alive(h) && !daemon_stopped(h))
		bus_call(h, "Reload", NULL, NULL);
}

/* The standbys whose guest had negotiated, for the destination's load. */
static void negotiated_list(Qemu *src, char *buf, size_t size)
{
	json_object *st = qemu_status(src), *a = jarr(st, "standbys");
	size_t len = 0;

	buf[0] = 0;
	for (size_t k = 0; a && k < json_object_array_length(a); k++) {
		json_object *e = json_object_array_get_idx(a, k);

		if (jbool(e, "negotiated"))
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "",
						jstr(e, "id"));
	}
	if (!buf[0])
		snprintf(buf, size, "-");
	json_object_put(st);
}

static void op_apply(const Op *o, Violation *v)
{
	Host *h = &w.hosts[o->host];
	Qemu *q = &w.qemu[o->vm][o->host], *dst = &w.qemu[o->vm][other(o->host)];
	char inst[16], pair[16], mac[18], standby[16], cmd[600];

	snprintf(inst, sizeof(inst), "vm%d", o->vm + 1);
	snprintf(pair, sizeof(pair), "p%d", o->pair);
	snprintf(standby, sizeof(standby), "net%d", o->pair);
	mac_of(o->vm, o->pair, mac, sizeof(mac));
	/* The configuration, or an attach, may bring a detached pair back. */
	if (o->kind == OP_ATTACH)
		h->detached[o->vm][o->pair] = false;
	else if (o->kind >= OP_CONF_PAIR_ADD && o->kind <= OP_RELOAD)
		memset(h->detached, 0, sizeof(h->detached));
	switch (o->kind) {
	case OP_ATTACH:
		if (daemon_alive(h) && !daemon_stopped(h) && o->pair == TRAFFIC_PAIR) {
			char tap[16];

			tap_of(h, o->vm, tap, sizeof(tap));
			if (o->vm == PRIMARY_TAP_VM) {
				char port[16];

				primary_tap_of(h, port, sizeof(port));
				bus_call(h, "AttachPair", NULL, "sssssa{sv}", inst, pair, "emu",
					 mac, standby, 5, "TrafficHandling", "b", 1, "StandbyTap",
					 "s", tap, "StandbyLinkDown", "b", 1, "PrimaryNetdev", "s",
					 "vfn0", "PrimaryTap", "s", port);
			} else if (tap_configured(o->vm))
				bus_call(h, "AttachPair", NULL, "sssssa{sv}", inst, pair, "emu",
					 mac, standby, 3, "TrafficHandling", "b", 1, "StandbyTap",
					 "s", tap, "StandbyLinkDown", "b", 1);
			else
				bus_call(h, "AttachPair", NULL, "sssssa{sv}", inst, pair, "emu",
					 mac, standby, 2, "TrafficHandling", "b", 1,
					 "StandbyLinkDown", "b", 1);
		} else if (daemon_alive(h) && !daemon_stopped(h)) {
			bus_call(h, "AttachPair", NULL, "sssssa{sv}", inst, pair, "emu", mac,
				 standby, 0);
		}
		break;
	case OP_DETACH:
		if (daemon_alive(h) && !daemon_stopped(h) &&
		    bus_call(h, "DetachPair", NULL, "ss", inst, pair) >= 0)
			h->detached[o->vm][o->pair] = true;
		break;
	case OP_REMOVE:
		/* Refused while it holds a VF or belongs to the configuration. */
		if (daemon_alive(h) && !daemon_stopped(h))
			bus_call(h, "RemovePair", NULL, "ss", inst, pair);
		break;
	case OP_PREPARE:
		if (daemon_alive(h) && !daemon_stopped(h))
			bus_call(h, "PrepareIncoming", NULL, "s", inst);
		break;
	case OP_CONF_PAIR_ADD:
		h->vm_file[o->vm] = true;
		h->conf_pair[o->vm][o->pair] = true;
		host_write_vm(h, o->vm);
		reload(h);
		break;
	case OP_CONF_PAIR_DEL:
		h->conf_pair[o->vm][o->pair] = false;
		host_write_vm(h, o->vm);
		reload(h);
		break;
	case OP_CONF_VM_DEL:
		h->vm_file[o->vm] = false;
		memset(h->conf_pair[o->vm], 0, sizeof(h->conf_pair[o->vm]));
		host_write_vm(h, o->vm);
		reload(h);
		break;
	case OP_POOL_RESIZE:
		h->pool_size = o->arg;
		host_write_pool(h);
		reload(h);
		break;
	case OP_RELOAD:
		reload(h);
		break;
	case OP_DAEMON_TERM:
		daemon_term(h);
		daemon_start(h, NULL, v);
		break;
	case OP_DAEMON_KILL:
		daemon_kill(h);
		daemon_start(h, NULL, v);
		break;
	case OP_DAEMON_STOPAT:
		daemon_term(h);
		daemon_start(h, stop_points[o->arg], v);
		break;
	case OP_QEMU_START:
		/* Half of them start paused (-S): the guest runs when told to. */
		qemu_start(o->vm, o->host, false, o->arg, false);
		break;
	case OP_QEMU_EXIT:
		if (qemu_cmd(q, "exit", NULL, 0) == 0)
			test_qemu_wait_exit(q->proc, 2000, NULL);
		qemu_stop(q);
		break;
	case OP_QEMU_CRASH:
		qemu_stop(q);
		break;
	case OP_QEMU_DUP:
		if (qemu_alive(q))
			qemu_start(o->vm, o->host, false, false, true);
		break;
	case OP_NEGOTIATE:
	case OP_REBOOT:
	case OP_PAUSE:
	case OP_RUN:
	case OP_EJECT_OFF:
	case OP_EJECT_ON:
	case OP_DROP_MONITOR:
	case OP_MONITOR_OFF:
	case OP_MONITOR_ON:
		/* The guest's or the monitor's: the op is the double's control command. */
		qemu_cmd(q, kinds[o->kind].name, NULL, 0);
		break;
	case OP_MIG_START:
		if (!qemu_alive(q) || q->incoming || q->mig != MIG_NONE)
			break;
		if (!qemu_alive(dst) && qemu_start(o->vm, other(o->host), true, false, false) < 0)
			break;
		if (!dst->incoming || qemu_cmd(dst, "incoming-start", NULL, 0) < 0)
			break;
		if (qemu_cmd(q, "migrate-start", NULL, 0) == 0) {
			q->mig = dst->mig = MIG_PRE;
			q->source = true;
		}
		break;
	case OP_MIG_COMPLETE:
		if (!q->source)
			break;
		if (q->mig == MIG_PRE && qemu_cmd(q, "migrate-complete", NULL, 0) == 0) {
			negotiated_list(q, standby, sizeof(standby));
			snprintf(cmd, sizeof(cmd), "incoming-load %s", standby);
			qemu_cmd(dst, cmd, NULL, 0);
		} else if (q->mig == MIG_POST && qemu_cmd(q, "migrate-complete", NULL, 0) == 0) {
			qemu_cmd(dst, "incoming-complete", NULL, 0);
		} else {
			break;
		}
		/* The destination is an ordinary running VM now; the source waits to exit. */
		q->mig = MIG_DONE;
		dst->mig = MIG_NONE;
		dst->incoming = false;
		break;
	case OP_MIG_CANCEL:
	case OP_MIG_FAIL:
		if (q->mig != MIG_PRE || !q->source)
			break;
		qemu_cmd(q, o->kind == OP_MIG_CANCEL ? "migrate-cancel" : "migrate-fail", NULL, 0);
		/* An -incoming QEMU whose stream broke exits. */
		qemu_stop(dst);
		q->mig = MIG_NONE;
		q->source = false;
		break;
	case OP_MIG_POSTCOPY:
		if (q->mig != MIG_PRE || !q->source || qemu_cmd(q, "migrate-postcopy", NULL, 0) < 0)
			break;
		{
			char list[64];

			negotiated_list(q, list, sizeof(list));
			snprintf(cmd, sizeof(cmd), "incoming-postcopy %s", list);
		}
		qemu_cmd(dst, cmd, NULL, 0);
		q->mig = dst->mig = MIG_POST;
		dst->incoming = false;
		break;
	case OP_MIG_PAUSE:
		if (q->mig == MIG_POST && q->source) {
			qemu_cmd(q, "migrate-pause", NULL, 0);
			qemu_cmd(dst, "incoming-pause", NULL, 0);
		}
		break;
	case OP_MIG_RECOVER:
		if (q->mig == MIG_POST && q->source) {
			qemu_cmd(q, "migrate-recover", NULL, 0);
			qemu_cmd(dst, "incoming-recover", NULL, 0);
		}
		break;
	case OP_MIG_DEST_KILL:
		if ((q->mig != MIG_PRE && q->mig != MIG_POST) || !q->source)
			break;
		qemu_stop(dst);
		/* Precopy: the source fails and re-plugs; postcopy: it can only pause. */
		if (q->mig == MIG_PRE) {
			qemu_cmd(q, "migrate-fail", NULL, 0);
			q->mig = MIG_NONE;
			q->source = false;
		} else {
			/* The guest's memory is split and half of it is gone: stuck for good. */
			qemu_cmd(q, "migrate-pause", NULL, 0);
			q->mig = MIG_DONE;
		}
		break;
	case OP_WAIT:
		/* Past the 300/400 ms unplug and negotiation timeouts; settling waits for the rest.
		 */
		sleep_ms(450);
		break;
	default:
		break;
	}
}

/* --- quiescence --- */

/*
 * The source may have been cancelled behind the runner's back (failoverd's
 * unplug timeout sends migrate_cancel): its -incoming peer then exits.
 */
static void follow_cancelled_sources(void)
{
	for (int vm = 0; vm < N_VMS; vm++)
		for (int k = 0; k < N_HOSTS; k++) {
			Qemu *q = &w.qemu[vm][k], *dst = &w.qemu[vm][other(k)];
			json_object *st;
			const char *m;

			if (q->mig != MIG_PRE || !qemu_alive(q))
				continue;
			st = qemu_status(q);
			m = jstr(st, "migration");
			if (strcmp(m, "cancelled") == 0 || strcmp(m, "failed") == 0) {
				vlog("      vm%d on %c: %s by failoverd; destination exits\n",
				     vm + 1, 'A' + k, m);
				qemu_stop(dst);
				q->mig = MIG_NONE;
				q->source = false;
			}
			json_object_put(st);
		}
}

static bool views_equal(const HostView *a, const HostView *b)
{
	if (a->up != b->up || a->n_pairs != b->n_pairs ||
	    memcmp(a->connected, b->connected, sizeof(a->connected)) != 0)
		return false;
	for (size_t k = 0; k < a->n_pairs; k++)
		if (memcmp(&a->pairs[k], &b->pairs[k], sizeof(a->pairs[k])) != 0)
			return false;
	return true;
}

static void host_view(Host *h, HostView *hv)
{
	memset(hv, 0, sizeof(*hv));
	if (!daemon_alive(h) || daemon_stopped(h))
		return;
	hv->up = list_pairs(h, hv) == 0;
}

/* Doubles the daemon should follow, but is not yet set up with, keep us waiting. */
static bool doubles_quiet(bool want_setup)
{
	for (int vm = 0; vm < N_VMS; vm++)
		for (int k = 0; k < N_HOSTS; k++) {
			Qemu *q = &w.qemu[vm][k];
			json_object *st;
			bool quiet;

			if (!qemu_alive(q))
				continue;
			st = qemu_status(q);
			quiet = st && !jbool(st, "busy") && jint(st, "idle_ms") >= QUIET_MS;
			/*
			 * A QEMU the daemon should follow (zero-config: the double
			 * dials every 100 ms; configured: the daemon dials with its
			 * back-off) is not quiet before the daemon set it up.
			 */
			if (want_setup && daemon_alive(&w.hosts[k]) && !jbool(st, "setup") &&
			    !jbool(st, "monitor_off") && (vm == 2 || w.hosts[k].vm_file[vm]))
				quiet = false;
			json_object_put(st);
			if (!quiet)
				return false;
		}
	return true;
}

/*
 * Until no QMP line moved for QUIET_MS on any double, none has a timer of
 * its own pending, and both daemons' D-Bus views stayed the same. A daemon
 * that stopped at its --debug-stop-at checkpoint is SIGKILLed and
 * restarted here, as a crash at that exact step.
 */
static bool settle(HostView views[N_HOSTS], Violation *v)
{
	int64_t end = test_now_ms() + SETTLE_MAX_MS;
	HostView prev[N_HOSTS];
	bool have_prev = false;

	for (;;) {
		bool stable = true;

		for (int k = 0; k < N_HOSTS; k++) {
			Host *h = &w.hosts[k];

			daemon_check_death(h, v);
			if (v->invariant)
				return false;
			if (daemon_stopped(h)) {
				vlog("      host %c: stopped at its checkpoint: SIGKILL + "
				     "restart\n",
				     h->name);
				daemon_kill(h);
				if (daemon_start(h, NULL, v) < 0)
					return false;
				end = test_now_ms() + SETTLE_MAX_MS;
				have_prev = false;
			}
		}
		follow_cancelled_sources();
		if (doubles_quiet(true)) {
			for (int k = 0; k < N_HOSTS; k++) {
				host_view(&w.hosts[k], &views[k]);
				bus_drain(&w.hosts[k]);
				if (!have_prev || !views_equal(&views[k], &prev[k]))
					stable = false;
				prev[k] = views[k];
			}
			have_prev = true;
			if (stable && doubles_quiet(true))
				return true;
		} else {
			have_prev = false;
		}
		if (test_now_ms() >= end)
			break;
		sleep_ms(QUIET_MS / 2);
	}
	for (int k = 0; k < N_HOSTS; k++) {
		host_view(&w.hosts[k], &views[k]);
		bus_drain(&w.hosts[k]);
	}
	return false;
}

/* --- the invariants --- */

typedef struct Alloc {
	char file[200], pool[80], id[64], owner[200], state[32];
} Alloc;

static size_t read_allocs(Host *h, Alloc *out, size_t max)
{
	char dir[400], path[700], line[512];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/alloc", h->state);
	d = opendir(dir);
	while (d && (de = readdir(d)) && n < max) {
		Alloc *a = &out[n];
		FILE *f;

		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp"))
			continue;
		memset(a, 0, sizeof(*a));
		snprintf(a->file, sizeof(a->file), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *eq = strchr(line, '=');

			if (!eq)
				continue;
			*eq = 0;
			eq[strcspn(eq + 1, "\n") + 1] = 0;
			if (strcmp(line, "pool") == 0)
				snprintf(a->pool, sizeof(a->pool), "%s", eq + 1);
			else if (strcmp(line, "id") == 0)
				snprintf(a->id, sizeof(a->id), "%s", eq + 1);
			else if (strcmp(line, "owner") == 0)
				snprintf(a->owner, sizeof(a->owner), "%s", eq + 1);
			else if (strcmp(line, "state") == 0)
				snprintf(a->state, sizeof(a->state), "%s", eq + 1);
		}
		fclose(f);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

static const Alloc *alloc_find(const Alloc *a, size_t n, const char *pool, const char *id)
{
	for (size_t k = 0; k < n; k++)
		if (strcmp(a[k].pool, pool) == 0 && strcmp(a[k].id, id) == 0)
			return &a[k];
	return NULL;
}

static json_object *find_device(json_object *st, const char *id)
{
	json_object *a = jarr(st, "devices");

	for (size_t k = 0; a && k < json_object_array_length(a); k++) {
		json_object *e = json_object_array_get_idx(a, k);

		if (strcmp(jstr(e, "id"), id) == 0)
			return e;
	}
	return NULL;
}

static json_object *find_standby(json_object *st, const char *id)
{
	json_object *a = jarr(st, "standbys");

	for (size_t k = 0; a && k < json_object_array_length(a); k++) {
		json_object *e = json_object_array_get_idx(a, k);

		if (strcmp(jstr(e, "id"), id) == 0)
			return e;
	}
	return NULL;
}

static bool in_set(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static void audit(HostView views[N_HOSTS], bool settled, Violation *v)
{
	static const char *const mig_running[] = {
		"setup",	   "wait-unplug",     "active",		  "device", "cancelling",
		"postcopy-active", "postcopy-paused", "postcopy-recover", NULL
	};

	for (int k = 0; k < N_HOSTS && !v->invariant; k++) {
		Host *h = &w.hosts[k];
		HostView *hv = &views[k];
		Alloc allocs[64];
		size_t n_allocs = read_allocs(h, allocs, 64);
		static HostView fresh;
		json_object *st[N_VMS] = { 0 };

		for (int vm = 0; vm < N_VMS; vm++)
			st[vm] = qemu_alive(&w.qemu[vm][k]) ? qemu_status(&w.qemu[vm][k]) : NULL;

		/* (6) A running daemon answers D-Bus. */
		if (daemon_alive(h) && !daemon_stopped(h) && !hv->up)
			violate(v, 6, "dbus-hang", "host %c: failoverd does not answer ListPairs",
				h->name);

		/*
		 * (6) Watches do not pile up: a pidfd only for a live QEMU that is
		 * not the one on the instance's connected monitor (whose closing
		 * tells): one descriptor per QEMU on a big host.
		 */
		{
			int unwatched = 0, fds;

			for (int vm = 0; vm < N_VMS; vm++) {
				int live = qemu_alive(&w.qemu[vm][k]) + qemu_alive(&w.dup[vm][k]);

				unwatched += hv->connected[vm] && live > 0 ? live - 1 : live;
			}
			fds = hv->up && settled ? daemon_pidfds(h) : 0;
			if (fds > unwatched)
				violate(v, 6, "pidfd-leak",
					"host %c: failoverd holds %d pidfds for %d live QEMU "
					"processes off a connected monitor",
					h->name, fds, unwatched);
		}

		/* (1) No VF owned twice, nor reported without its allocation. */
		for (size_t a = 0; hv->up && a < hv->n_pairs; a++) {
			PairRow *p = &hv->pairs[a];
			const Alloc *al;
			char owner[220];

			if (!p->vf[0])
				continue;
			for (size_t b = a + 1; b < hv->n_pairs; b++)
				if (hv->pairs[b].vf[0] && strcmp(p->vf, hv->pairs[b].vf) == 0 &&
				    strcmp(p->pool, hv->pairs[b].pool) == 0)
					violate(v, 1, "vf-two-pairs",
						"host %c: VF %s reported for %s/%s and %s/%s",
						h->name, p->vf, p->instance, p->pair,
						hv->pairs[b].instance, hv->pairs[b].pair);
			snprintf(owner, sizeof(owner), "%s/%s", p->instance, p->pair);
			al = alloc_find(allocs, n_allocs, p->pool, p->vf);
			if (!al)
				violate(v, 1, "vf-without-allocation",
					"host %c: %s reports VF %s@%s, which has no allocation "
					"record",
					h->name, owner, p->pool, p->vf);
			else if (strcmp(al->owner, owner) != 0)
				violate(v, 1, "vf-owned-by-other",
					"host %c: %s reports VF %s@%s, allocated to %s", h->name,
					owner, p->pool, p->vf, al->owner);
		}

		/* (2) What a live QEMU holds is allocated to the pair it was added for. */
		for (int vm = 0; vm < N_VMS; vm++) {
			json_object *a = jarr(st[vm], "devices");

			for (size_t j = 0; a && j < json_object_array_length(a); j++) {
				json_object *e = json_object_array_get_idx(a, j);
				const char *slot = jstr(e, "slot"), *owner = jstr(e, "owner");
				char pool[80] = "", id[64] = "";
				const Alloc *al;

				if (sscanf(slot, "%79[^@]@%63s", pool, id) != 2) {
					violate(v, 2, "plugged-without-allocation",
						"host %c: QEMU vm%d (pid %lld) got primary %s (%s) "
						"while no VF was allocated to %s",
						h->name, vm + 1, (long long)jint(st[vm], "pid"),
						jstr(e, "id"), jstr(e, "state"), owner);
					continue;
				}
				al = alloc_find(allocs, n_allocs, pool, id);
				if (!al)
					violate(v, 2,
						strcmp(jstr(e, "state"), "hidden") == 0
							? "released-while-held-hidden"
							: "released-while-held",
						"host %c: QEMU vm%d (pid %lld) holds %s as %s (%s) "
						"but "
						"%s was given back to its pool",
						h->name, vm + 1, (long long)jint(st[vm], "pid"),
						slot, jstr(e, "id"), jstr(e, "state"), slot);
				else if (strcmp(al->owner, owner) != 0)
					violate(v, 2, "handed-over-while-held",
						"host %c: QEMU vm%d (pid %lld) holds %s for %s "
						"(%s) but "
						"it is allocated to %s",
						h->name, vm + 1, (long long)jint(st[vm], "pid"),
						slot, owner, jstr(e, "state"), al->owner);
			}
		}

		/* (3) At convergence every allocation is held for a live QEMU. */
		for (size_t j = 0; settled && hv->up && j < n_allocs; j++) {
			const Alloc *al = &allocs[j];
			char inst[128] = "";
			bool reported = false;
			int vm = 0;

			if (strcmp(al->state, "reserved") != 0) {
				violate(v, 3, "allocation-stuck",
					"host %c: allocation %s stuck in '%s'", h->name, al->file,
					al->state);
				continue;
			}
			sscanf(al->owner, "%127[^/]", inst);
			for (size_t p = 0; p < hv->n_pairs; p++) {
				char owner[220];

				snprintf(owner, sizeof(owner), "%s/%s", hv->pairs[p].instance,
					 hv->pairs[p].pair);
				reported = reported || (strcmp(owner, al->owner) == 0 &&
							strcmp(hv->pairs[p].vf, al->id) == 0);
			}
			if (!reported)
				violate(v, 3, "allocation-unreported",
					"host %c: %s@%s is allocated to %s, which the daemon does "
					"not "
					"report holding it",
					h->name, al->pool, al->id, al->owner);
			else if (sscanf(inst, "vm%d", &vm) == 1 && vm >= 1 && vm <= N_VMS &&
				 !qemu_alive(&w.qemu[vm - 1][k]))
				violate(v, 3, "leaked-after-qemu-exit",
					"host %c: %s@%s still allocated to %s, whose QEMU is gone",
					h->name, al->pool, al->id, al->owner);
		}

		/* (4) The reported pair state matches the QEMU it is about. */
		for (size_t j = 0; settled && hv->up && j < hv->n_pairs; j++) {
			PairRow *p = &hv->pairs[j];
			char prim[96], sb[32];
			json_object *s, *dev, *standby;
			const char *ds, *mig;
			int vm = 0, pn = 0;

			if (sscanf(p->instance, "vm%d", &vm) != 1 || vm < 1 || vm > N_VMS ||
			    sscanf(p->pair, "p%d", &pn) != 1)
				continue;
			s = st[vm - 1];
			/* Only while the daemon follows this QEMU: set up on its monitor now. */
			if (!s || !jbool(s, "setup") || !hv->connected[vm - 1])
				continue;
			snprintf(prim, sizeof(prim), "fo-%s", p->pair);
			snprintf(sb, sizeof(sb), "net%d", pn);
			dev = find_device(s, prim);
			ds = dev ? jstr(dev, "state") : "absent";
			mig = jstr(s, "migration");
			standby = find_standby(s, sb);
			if (strcmp(p->state, "active") == 0 && strcmp(ds, "realized") != 0 &&
			    strcmp(ds, "deleting") != 0 && strcmp(ds, "stale") != 0)
				violate(v, 4, "active-but-not-plugged",
					"host %c: %s/%s is active but QEMU's primary %s is %s "
					"(migration '%s')",
					h->name, p->instance, p->pair, prim, ds, mig);
			else if ((strcmp(p->state, "staged") == 0 ||
				  strcmp(p->state, "incoming") == 0) &&
				 strcmp(ds, "hidden") != 0)
				violate(v, 4, "staged-but-not-hidden",
					"host %c: %s/%s is %s but QEMU's primary %s is %s", h->name,
					p->instance, p->pair, p->state, prim, ds);
			else if (strcmp(p->state, "migrated") == 0 && strcmp(mig, "completed") != 0)
				violate(v, 4, "migrated-but-not-completed",
					"host %c: %s/%s is migrated but QEMU's migration is '%s'",
					h->name, p->instance, p->pair, mig);
			else if ((strcmp(p->state, "unplugging") == 0 ||
				  strcmp(p->state, "migrating") == 0) &&
				 !in_set(mig, mig_running))
				violate(v, 4, "migrating-but-no-migration",
					"host %c: %s/%s is %s but QEMU's migration is '%s'",
					h->name, p->instance, p->pair, p->state, mig);
			else if (h->detached[vm - 1][pn % N_PAIRS] &&
				 (strcmp(p->state, "active") == 0 ||
				  strcmp(p->state, "staged") == 0 ||
				  strcmp(p->state, "incoming") == 0) &&
				 strcmp(ds, "deleting") != 0 && strcmp(ds, "stale") != 0)
				violate(v, 4, "reattached-after-detach",
					"host %c: %s/%s was detached (DetachPair succeeded) and is "
					"%s "
					"again with nothing asking for it (primary %s)",
					h->name, p->instance, p->pair, p->state, ds);
			/* Before its stream arrives a destination has no guest state to judge. */
			else if (p->negotiated && standby && !jbool(standby, "negotiated") &&
				 !jbool(s, "incoming"))
				violate(v, 4, "negotiated-after-reset",
					"host %c: %s/%s reports GuestNegotiated=true but the guest "
					"has "
					"not negotiated %s since its last reset",
					h->name, p->instance, p->pair, sb);
		}

		/*
		 * (8) The data path (docs/traffic.md): vmN/p0's frames are steered
		 * to its standby's tap while, and only while, a migration of that
		 * QEMU needs it; its standby's link is down only while its
		 * primary is plugged.
		 */
		for (int vm = 0; settled && hv->up && vm < N_VMS; vm++) {
			json_object *s = st[vm], *standby = s ? find_standby(s, "net0") : NULL;
			json_object *dev = s ? find_device(s, "fo-p0") : NULL;
			bool following = s && jbool(s, "setup") && hv->connected[vm];
			const char *mig = s ? jstr(s, "migration") : "";
			bool needed = s && (in_set(mig, mig_running) ||
					    strcmp(jstr(s, "run"), "inmigrate") == 0);
			int steered = net_steered(h, vm);
			const char *state = "";
			char tap[16], inst[16];

			tap_of(h, vm, tap, sizeof(tap));
			snprintf(inst, sizeof(inst), "vm%d", vm + 1);
			for (size_t j = 0; j < hv->n_pairs; j++)
				if (strcmp(hv->pairs[j].instance, inst) == 0 &&
				    strcmp(hv->pairs[j].pair, "p0") == 0)
					state = hv->pairs[j].state;
			if (steered < 0)
				violate(v, 8, "fdb-unreadable",
					"host %c: cannot read the FDB of %s", h->name, tap);
			else if (steered && !needed && (following || !s))
				violate(v, 8, "steered-without-migration",
					"host %c: vm%d/p0's MAC is still steered to %s, but %s "
					"(pair %s)",
					h->name, vm + 1, tap,
					s ? "its QEMU is in no migration" : "its QEMU is gone",
					state[0] ? state : "gone");
			else if (!steered && following &&
				 (strcmp(state, "migrating") == 0 ||
				  strcmp(state, "incoming") == 0))
				violate(v, 8, "migrating-not-steered",
					"host %c: vm%d/p0 is %s but its MAC is not steered to %s",
					h->name, vm + 1, state, tap);
			else if (following && standby && jbool(standby, "link_down") &&
				 (!dev || strcmp(jstr(dev, "state"), "realized") != 0))
				violate(v, 8, "standby-down-without-primary",
					"host %c: vm%d's standby net0 has its link down, but its "
					"primary is %s (pair %s)",
					h->name, vm + 1, dev ? jstr(dev, "state") : "absent",
					state[0] ? state : "gone");
		}

		/*
		 * (9) PrimaryTap= (docs/traffic.md): vm1/p0's MAC has its static
		 * entry on the emulated primary's port while, and only while, the
		 * pair holds its "VF" and has not steered it away.
		 */
		if (settled && hv->up) {
			const PairRow *row = NULL;
			json_object *s = st[PRIMARY_TAP_VM];
			bool following = s && jbool(s, "setup") && hv->connected[PRIMARY_TAP_VM];
			char port[16];
			int set;

			primary_tap_of(h, port, sizeof(port));
			set = net_has_entry(port, PRIMARY_TAP_VM);
			for (size_t j = 0; j < hv->n_pairs; j++)
				if (strcmp(hv->pairs[j].instance, "vm1") == 0 &&
				    strcmp(hv->pairs[j].pair, "p0") == 0)
					row = &hv->pairs[j];
			if (set < 0)
				violate(v, 9, "fdb-unreadable",
					"host %c: cannot read the FDB of %s", h->name, port);
			else if (set && (!row || !row->vf[0]))
				violate(v, 9, "primary-port-without-vf",
					"host %c: vm1/p0's MAC still has its entry on %s, but %s",
					h->name, port,
					row ? "the pair holds no VF" : "the pair is gone");
			else if (!set && following && row && row->vf[0] &&
				 strcmp(row->state, "active") == 0)
				violate(v, 9, "active-without-primary-port",
					"host %c: vm1/p0 is active with %s but its MAC has no "
					"entry "
					"on %s",
					h->name, row->vf, port);
			else if (set && following && row && strcmp(row->state, "migrating") == 0)
				violate(v, 9, "primary-port-while-steered",
					"host %c: vm1/p0 is migrating (the guest released its "
					"primary) but its MAC still has its entry on %s",
					h->name, port);
		}

		/* (4) Every [Pair] of the applied configuration is a pair of the daemon. */
		for (int vm = 0; settled && hv->up && vm < N_VMS; vm++)
			for (int pn = 0; h->vm_file[vm] && pn < N_PAIRS; pn++) {
				char inst[16], pair[16];
				bool there = false;

				if (!h->conf_pair[vm][pn])
					continue;
				snprintf(inst, sizeof(inst), "vm%d", vm + 1);
				snprintf(pair, sizeof(pair), "p%d", pn);
				for (size_t j = 0; j < hv->n_pairs; j++)
					there = there ||
						(strcmp(hv->pairs[j].instance, inst) == 0 &&
						 strcmp(hv->pairs[j].pair, pair) == 0);
				if (!there)
					violate(v, 4, "configured-pair-missing",
						"host %c: vm%d.vm has [Pair] %s, but failoverd has "
						"no "
						"pair %s/%s after the configuration was applied",
						h->name, vm + 1, pair, inst, pair);
			}

		/*
		 * (5) Every reported change was signalled. Compared with a view
		 * after which no signal came in: the signals of every change it
		 * shows arrived before its reply, and none of a later change.
		 */
		for (int tries = 0; hv->up && tries < 20; tries++) {
			unsigned before;

			bus_drain(h);
			before = n_signals;
			if (list_pairs(h, &fresh) < 0) {
				fresh.n_pairs = 0;
				break;
			}
			bus_drain(h);
			if (n_signals == before)
				break;
			sleep_ms(5);
		}
		for (size_t j = 0; hv->up && j < fresh.n_pairs; j++) {
			PairRow *p = &fresh.pairs[j];
			char key[220];
			SigPair *s;

			snprintf(key, sizeof(key), "%s/%s", p->instance, p->pair);
			s = sig_find(h, key, true);
			if (!s)
				continue;
			if (h->fresh || !s->known) {
				/* A new daemon or a new pair: what it reports first is the
				 * baseline. */
				s->known = true;
				snprintf(s->state, sizeof(s->state), "%s", p->state);
				snprintf(s->vf, sizeof(s->vf), "%s", p->vf);
				s->negotiated = p->negotiated;
				continue;
			}
			if (strcmp(s->state, p->state) != 0)
				violate(v, 5, "state-unsignalled",
					"host %c: %s is %s but the last signal said %s", h->name,
					key, p->state, s->state);
			else if (strcmp(s->vf, p->vf) != 0)
				violate(v, 5, "vf-unsignalled",
					"host %c: %s reports VF '%s' but the last signal said '%s'",
					h->name, key, p->vf, s->vf);
			else if (s->negotiated != p->negotiated)
				violate(v, 5, "negotiated-unsignalled",
					"host %c: %s reports GuestNegotiated=%d but the last "
					"signal "
					"said %d",
					h->name, key, p->negotiated, s->negotiated);
		}
		if (hv->up)
			h->fresh = false;

		/* (6) A zero-config QEMU dialling a running daemon gets managed. */
		if (settled == false && hv->up && qemu_alive(&w.qemu[2][k]) && st[2] &&
		    !jbool(st[2], "setup") && !jbool(st[2], "monitor_off") &&
		    jint(st[2], "conns") > 0)
			violate(v, 6, "zero-config-not-managed",
				"host %c: QEMU vm3 (pid %lld) keeps dialling ListenQMP (%lld "
				"connections) but failoverd does not set it up",
				h->name, (long long)jint(st[2], "pid"),
				(long long)jint(st[2], "conns"));
		for (int vm = 0; vm < N_VMS; vm++)
			json_object_put(st[vm]);
	}
}

/* --- generating operations --- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	/* splitmix64: small, fast, and the same on every machine. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int rng_below(int n)
{
	return n > 0 ? (int)(rng_next() % (uint64_t)n) : 0;
}

/* The runner's own view is enough: doubles it started and migrations it drove. */
static bool op_useful(const Op *o)
{
	Qemu *q = &w.qemu[o->vm][o->host];
	bool alive = q->proc != NULL;

	switch (o->kind) {
	case OP_QEMU_START:
		return !alive;
	case OP_QEMU_EXIT:
	case OP_QEMU_CRASH:
	case OP_NEGOTIATE:
	case OP_REBOOT:
	case OP_PAUSE:
	case OP_RUN:
	case OP_EJECT_OFF:
	case OP_EJECT_ON:
	case OP_DROP_MONITOR:
	case OP_MONITOR_OFF:
	case OP_MONITOR_ON:
		return alive;
	case OP_QEMU_DUP:
		return alive && o->vm == 2;
	case OP_PREPARE:
		return alive && q->incoming;
	case OP_MIG_START:
		return alive && !q->incoming && q->mig == MIG_NONE &&
		       !w.qemu[o->vm][other(o->host)].proc;
	case OP_MIG_COMPLETE:
		return alive && (q->mig == MIG_PRE || q->mig == MIG_POST) && q->source;
	case OP_MIG_CANCEL:
	case OP_MIG_FAIL:
	case OP_MIG_POSTCOPY:
		return alive && q->mig == MIG_PRE && q->source;
	case OP_MIG_PAUSE:
	case OP_MIG_RECOVER:
		return alive && q->mig == MIG_POST && q->source;
	case OP_MIG_DEST_KILL:
		return alive && (q->mig == MIG_PRE || q->mig == MIG_POST) && q->source;
	default:
		return true;
	}
}

static void op_generate(Op *o)
{
	unsigned total = 0;

	for (int k = 0; k < _OP_MAX; k++)
		total += g.excluded[k] ? 0 : g.weight[k];
	for (int tries = 0; tries < 200; tries++) {
		int pick = rng_below((int)total), k = 0;

		for (; k < _OP_MAX; k++) {
			int wgt = g.excluded[k] ? 0 : (int)g.weight[k];

			if (pick < wgt)
				break;
			pick -= wgt;
		}
		memset(o, 0, sizeof(*o));
		o->kind = (OpKind)(k < _OP_MAX ? k : OP_WAIT);
		o->host = rng_below(N_HOSTS);
		o->vm = rng_below(N_VMS);
		o->pair = rng_below(N_PAIRS);
		if (o->kind == OP_POOL_RESIZE)
			o->arg = 1 + rng_below(3);
		else if (o->kind == OP_DAEMON_STOPAT)
			o->arg = rng_below((int)N_STOP_POINTS);
		else if (o->kind == OP_QEMU_START)
			o->arg = rng_below(2);
		if (op_useful(o))
			return;
	}
	memset(o, 0, sizeof(*o));
	o->kind = OP_WAIT;
}

/* An excluded kind never appears, not even in the warm start. */
static void pre_add(Op *out, size_t *n, OpKind kind, int host, int vm, int pair)
{
	Op *o = &out[*n];

	if (g.excluded[kind] || !g.weight[kind])
		return;
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->host = host;
	o->vm = vm;
	o->pair = pair;
	(*n)++;
}

/*
 * A warm start, so that short sequences reach deep states: some VMs get
 * pairs (configured, or attached for the zero-config one), a running QEMU
 * and a negotiated guest. Plain ops, so shrinking drops what is not needed.
 */
static size_t prelude_generate(Op *out, size_t max)
{
	size_t n = 0;

	for (int vm = 0; vm < N_VMS && n + 5 <= max; vm++) {
		int h = rng_below(N_HOSTS);
		bool attach;

		if (rng_below(10) >= 6)
			continue;
		if (vm != 2) {
			pre_add(out, &n, OP_CONF_PAIR_ADD, h, vm, 0);
			if (rng_below(10) < 3)
				pre_add(out, &n, OP_CONF_PAIR_ADD, h, vm, 1);
		}
		/* vm3: a .vm file before its QEMU dials in, or AttachPair once it did. */
		attach = vm == 2 && rng_below(2);
		if (vm == 2 && !attach)
			pre_add(out, &n, OP_CONF_PAIR_ADD, h, vm, 0);
		pre_add(out, &n, OP_QEMU_START, h, vm, 0);
		if (attach)
			pre_add(out, &n, OP_ATTACH, h, vm, 0);
		if (rng_below(10) < 7)
			pre_add(out, &n, OP_NEGOTIATE, h, vm, 0);
	}
	return n;
}

/* --- running a sequence --- */

typedef struct Seq {
	Op ops[MAX_OPS];
	size_t n;
} Seq;

static void seq_format(const Seq *s, size_t n, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t k = 0; k < n && k < s->n; k++) {
		char one[128];

		op_format(&s->ops[k], one, sizeof(one));
		len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? "; " : "", one);
		if (len >= size)
			break;
	}
}

/*
 * Runs @s (or, with @seed set, generates @steps ops into it as it goes) on
 * fresh hosts. Returns the number of steps done; @v says what broke.
 */
/*
 * An explicit sequence's "expect H vmN pN STATE HELD": once settled, host H
 * shows the pair in STATE and the double holds its primary as HELD says
 * (the table of tests/model/pair-table.txt, docs/model-tier.md).
 */
static void expect_check(const Op *o, const HostView *views, Violation *v)
{
	const HostView *hv = &views[o->host];
	const char *want =
		o->arg == _PAIR_STATE_MAX ? "gone" : pair_state_to_string((PairState)o->arg);
	const char *got = "gone";
	char inst[16], pair[16], id[32], text[128];
	const char *held = "none";
	json_object *st, *dev;

	snprintf(inst, sizeof(inst), "vm%d", o->vm + 1);
	snprintf(pair, sizeof(pair), "p%d", o->pair);
	snprintf(id, sizeof(id), "fo-%s", pair);
	for (size_t k = 0; k < hv->n_pairs; k++)
		if (strcmp(hv->pairs[k].instance, inst) == 0 &&
		    strcmp(hv->pairs[k].pair, pair) == 0)
			got = hv->pairs[k].state;
	st = qemu_alive(&w.qemu[o->vm][o->host]) ? qemu_status(&w.qemu[o->vm][o->host]) : NULL;
	dev = st ? find_device(st, id) : NULL;
	if (dev)
		held = strcmp(jstr(dev, "state"), "hidden") == 0 ? "hidden" : "held";
	json_object_put(st);
	op_format(o, text, sizeof(text));
	if (strcmp(got, want) != 0 || strcmp(held, held_names[o->arg2]) != 0)
		violate(v, 7, "expect", "%s: the pair is %s and its QEMU's primary %s", text, got,
			held);
}

static size_t run_sequence(Seq *s, bool generate, uint64_t seed, size_t steps, Violation *v)
{
	HostView views[N_HOSTS];
	size_t done = 0;

	memset(v, 0, sizeof(*v));
	rng_state = seed;
	if (world_init(v) < 0) {
		world_free();
		return 0;
	}
	Op pre[16];
	size_t n_pre = 0;

	if (generate) {
		s->n = 0;
		n_pre = prelude_generate(pre, 16);
	}
	for (size_t k = 0; k < (generate ? steps : s->n) && k < MAX_OPS; k++) {
		char text[128];
		bool settled;
		int64_t t_step;

		if (generate) {
			if (k < n_pre)
				s->ops[k] = pre[k];
			else
				op_generate(&s->ops[k]);
			s->n = k + 1;
		}
		op_format(&s->ops[k], text, sizeof(text));
		vlog("  step %zu: %s\n", k + 1, text);
		t_step = test_now_ms();
		op_apply(&s->ops[k], v);
		settled = settle(views, v);
		prof_ms[s->ops[k].kind] += test_now_ms() - t_step;
		prof_n[s->ops[k].kind]++;
		done = k + 1;
		if (!v->invariant)
			audit(views, settled, v);
		if (!v->invariant && s->ops[k].kind == OP_EXPECT)
			expect_check(&s->ops[k], views, v);
		if (v->invariant) {
			/* Which kind of step broke it tells defects with one symptom apart. */
			const char *name = kinds[s->ops[k].kind].name;

			if (strncmp(name, "daemon-", 7) == 0)
				name = "daemon-restart";
			snprintf(v->sig + strlen(v->sig), sizeof(v->sig) - strlen(v->sig), "@%s",
				 name);
			break;
		}
	}
	world_free();
	return done;
}

/* Delta debugging (ddmin) over the op list: fresh hosts for every try. */
static size_t shrink(Seq *s, const Violation *target, int64_t budget_ms)
{
	int64_t end = test_now_ms() + budget_ms;
	size_t granularity = 2;
	unsigned tries = 0;

	while (s->n >= 2 && test_now_ms() < end) {
		size_t chunk = (s->n + granularity - 1) / granularity;
		bool reduced = false;

		for (size_t start = 0; start < s->n && test_now_ms() < end; start += chunk) {
			Seq cand = { .n = 0 };
			Violation v;

			/* The complement of one chunk. */
			for (size_t k = 0; k < s->n; k++)
				if (k < start || k >= start + chunk)
					cand.ops[cand.n++] = s->ops[k];
			if (cand.n == 0)
				continue;
			tries++;
			run_sequence(&cand, false, 0, 0, &v);
			if (v.invariant && strcmp(v.sig, target->sig) == 0) {
				*s = cand;
				granularity = granularity > 2 ? granularity - 1 : 2;
				reduced = true;
				break;
			}
		}
		if (!reduced) {
			if (granularity >= s->n)
				break;
			granularity = granularity * 2 > s->n ? s->n : granularity * 2;
		}
	}
	return tries;
}

/* --- main --- */

typedef struct Found {
	char sig[96];
	char text[1024];
	uint64_t seed;
	size_t steps;
	char shrunk[4096];
	unsigned count;
} Found;

static void parse_env(void)
{
	const char *ex = getenv("MODEL_EXCLUDE"), *mix = getenv("MODEL_MIX");
	char buf[2048], *save = NULL;

	g.verbose = getenv("MODEL_VERBOSE") && strcmp(getenv("MODEL_VERBOSE"), "0") != 0;
	for (int k = 0; k < _OP_MAX; k++)
		g.weight[k] = kinds[k].weight;
	snprintf(buf, sizeof(buf), "%s", ex ? ex : "");
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		bool hit = false;

		for (int k = 0; k < _OP_MAX; k++)
			/* A trailing '*' excludes a family: mig-*, daemon-*, conf-*. */
			if (strcmp(kinds[k].name, t) == 0 ||
			    (t[strlen(t) - 1] == '*' &&
			     strncmp(kinds[k].name, t, strlen(t) - 1) == 0)) {
				g.excluded[k] = true;
				hit = true;
			}
		if (!hit) {
			fprintf(stderr, "model: MODEL_EXCLUDE: unknown op kind '%s'\n", t);
			exit(2);
		}
	}
	snprintf(buf, sizeof(buf), "%s", getenv("MODEL_IGNORE") ? getenv("MODEL_IGNORE") : "");
	for (char *t = strtok_r(buf, ", ", &save); t && g.n_ignore < 16;
	     t = strtok_r(NULL, ", ", &save))
		snprintf(g.ignore[g.n_ignore++], sizeof(g.ignore[0]), "%s", t);
	snprintf(buf, sizeof(buf), "%s", mix ? mix : "");
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		char name[64];
		unsigned wgt;
		bool hit = false;

		if (sscanf(t, "%63[^:]:%u", name, &wgt) != 2) {
			fprintf(stderr, "model: MODEL_MIX: '%s' is not KIND:WEIGHT\n", t);
			exit(2);
		}
		for (int k = 0; k < _OP_MAX; k++)
			if (strcmp(kinds[k].name, name) == 0) {
				g.weight[k] = wgt;
				hit = true;
			}
		if (!hit) {
			fprintf(stderr, "model: MODEL_MIX: unknown op kind '%s'\n", name);
			exit(2);
		}
	}
}

/*
 * "NAME: OP; OP; ...; expect ..." per line; '#' starts a comment, a line
 * ending in '\\' goes on on the next one.
 */
static int table_read(const char *path, char rows[][2][1024], size_t max, size_t *n)
{
	char line[1024], row[1024] = "";
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\n");
		bool more;
		char *colon;

		line[len] = 0;
		more = len > 0 && line[len - 1] == '\\';
		if (more)
			line[len - 1] = 0;
		if (line[0] == '#' && !row[0])
			continue;
		snprintf(row + strlen(row), sizeof(row) - strlen(row), "%s", line);
		if (more)
			continue;
		colon = strchr(row, ':');
		if (colon && *n < max) {
			*colon = 0;
			snprintf(rows[*n][0], sizeof(rows[0][0]), "%s", row);
			snprintf(rows[*n][1], sizeof(rows[0][1]), "%s", colon + 1);
			(*n)++;
		}
		row[0] = 0;
	}
	fclose(f);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: model [--seed N] [--sequences N] [--steps M] [--minutes N] "
			"[--ops 'OP; OP; ...']\nop kinds:");
	for (int k = 0; k < _OP_MAX; k++)
		fprintf(stderr, " %s", kinds[k].name);
	fprintf(stderr, "\n");
	exit(2);
}

static void cleanup(void)
{
	world_free();
	for (int k = 0; k < N_HOSTS; k++)
		g.dbus[k] = test_qemu_free(g.dbus[k]);
	if (g.bus_dir[0]) {
		char path[400];

		for (int k = 0; k < N_HOSTS; k++) {
			snprintf(path, sizeof(path), "%s/bus%c.sock", g.bus_dir, 'A' + k);
			unlink(path);
			snprintf(path, sizeof(path), "%s/bus%c.conf", g.bus_dir, 'A' + k);
			unlink(path);
			snprintf(path, sizeof(path), "%s/bus%c.log", g.bus_dir, 'A' + k);
			unlink(path);
		}
		rmdir(g.bus_dir);
	}
}

static void on_fatal(int sig)
{
	/* Children die with us (PR_SET_PDEATHSIG); just go. */
	_exit(128 + sig);
}

int main(int argc, char **argv)
{
	uint64_t base_seed = 1;
	size_t sequences = 200, steps = 0;
	bool explicit_count = false;
	double minutes = 0;
	const char *ops = getenv("MODEL_OPS");
	bool one_seed = false;
	Found found[32];
	size_t n_found = 0;
	unsigned long long total_steps = 0, n_seq = 0, n_viol = 0;
	unsigned shrink_n = getenv("MODEL_SHRINK") ? (unsigned)atoi(getenv("MODEL_SHRINK")) : 3;
	int64_t shrink_ms =
		(getenv("MODEL_SHRINK_SECONDS") ? atoi(getenv("MODEL_SHRINK_SECONDS")) : 40) *
		1000LL;
	int64_t t0 = test_now_ms(), deadline;
	static char table[64][2][1024]; /* --table: a row's name and its ops */
	size_t n_table = 0;

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--seed") == 0 && k + 1 < argc) {
			base_seed = strtoull(argv[++k], NULL, 10);
			one_seed = true;
		} else if (strcmp(argv[k], "--sequences") == 0 && k + 1 < argc) {
			sequences = strtoul(argv[++k], NULL, 10);
			explicit_count = true;
		} else if (strcmp(argv[k], "--steps") == 0 && k + 1 < argc) {
			steps = strtoul(argv[++k], NULL, 10);
		} else if (strcmp(argv[k], "--minutes") == 0 && k + 1 < argc) {
			minutes = strtod(argv[++k], NULL);
		} else if (strcmp(argv[k], "--base-seed") == 0 && k + 1 < argc) {
			base_seed = strtoull(argv[++k], NULL, 10);
		} else if (strcmp(argv[k], "--ops") == 0 && k + 1 < argc) {
			ops = argv[++k];
		} else if (strcmp(argv[k], "--table") == 0 && k + 1 < argc) {
			int r = table_read(argv[++k], table, 64, &n_table);

			if (r < 0) {
				fprintf(stderr, "model: %s: %s\n", argv[k], strerror(-r));
				return 2;
			}
		} else {
			usage();
		}
	}
	parse_env();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_fatal);
	signal(SIGINT, on_fatal);
	atexit(cleanup);
	snprintf(g.bus_dir, sizeof(g.bus_dir), "%s/fovd-model-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(g.bus_dir)) {
		perror("model: mkdtemp");
		return 2;
	}
	if (net_init() < 0)
		return 2;
	for (int k = 0; k < N_HOSTS; k++)
		if (bus_daemon_start(k) < 0) {
			fprintf(stderr, "model: cannot start dbus-daemon\n");
			return 2;
		}
	deadline = minutes > 0 ? t0 + (int64_t)(minutes * 60000) : INT64_MAX;
	if (ops || one_seed) {
		sequences = 1;
		explicit_count = true;
	}
	if (n_table) {
		sequences = n_table;
		explicit_count = true;
		shrink_n = 0; /* a row is short already, and says what it expects */
	}
	/* By default: until both 200 sequences and 2,000 steps are done. */
	for (size_t i = 0;
	     (minutes > 0 || i < sequences || (!explicit_count && total_steps < 2000 && i < 600)) &&
	     test_now_ms() < deadline;
	     i++) {
		uint64_t seed = one_seed ? base_seed : base_seed * 100000 + i;
		size_t len = steps ? steps : (size_t)(8 + (seed * 7919) % 11);
		Seq s = { .n = 0 };
		Violation v;
		size_t done;

		if (n_table)
			ops = table[i][1];
		if (ops) {
			char buf[8192], *save = NULL;

			snprintf(buf, sizeof(buf), "%s", ops);
			for (char *t = strtok_r(buf, ";\n", &save); t && s.n < MAX_OPS;
			     t = strtok_r(NULL, ";\n", &save)) {
				while (*t == ' ')
					t++;
				if (!*t)
					continue;
				if (op_parse(t, &s.ops[s.n]) < 0) {
					fprintf(stderr, "model: cannot parse op '%s'\n", t);
					return 2;
				}
				s.n++;
			}
			vlog("sequence: %zu explicit ops\n", s.n);
			done = run_sequence(&s, false, 0, 0, &v);
		} else {
			vlog("sequence %zu: seed %llu, %zu steps\n", i, (unsigned long long)seed,
			     len);
			done = run_sequence(&s, true, seed, len, &v);
		}
		n_seq++;
		total_steps += done;
		if (n_table && (v.invariant || g.verbose))
			printf("row %s: %s\n", table[i][0], v.invariant ? "FAILED" : "ok");
		if (!v.invariant)
			continue;
		n_viol++;
		{
			char text[8192];
			Found *f = NULL;

			seq_format(&s, done, text, sizeof(text));
			printf("VIOLATION in sequence %llu (seed %llu) at step %zu: %s\n  %s\n",
			       n_seq, (unsigned long long)seed, done, v.sig, v.text);
			if (ops)
				printf("  ops: %s\n", text);
			else
				printf("  replay: make check-model SEED=%llu STEPS=%zu\n",
				       (unsigned long long)seed, done);
			for (size_t k = 0; k < n_found; k++)
				if (strcmp(found[k].sig, v.sig) == 0)
					f = &found[k];
			if (f) {
				f->count++;
				fflush(stdout);
				continue;
			}
			if (n_found >= 32) {
				fflush(stdout);
				continue;
			}
			f = &found[n_found++];
			memset(f, 0, sizeof(*f));
			snprintf(f->sig, sizeof(f->sig), "%s", v.sig);
			snprintf(f->text, sizeof(f->text), "%s", v.text);
			f->seed = seed;
			f->steps = done;
			f->count = 1;
			s.n = done;
			if (n_found <= shrink_n) {
				unsigned tries = shrink(&s, &v, shrink_ms);

				seq_format(&s, s.n, f->shrunk, sizeof(f->shrunk));
				printf("  shrunk to %zu op(s) in %u replays: make check-model "
				       "OPS='%s'\n",
				       s.n, tries, f->shrunk);
			}
			fflush(stdout);
		}
	}
	if (n_found) {
		printf("distinct violations:\n");
		for (size_t k = 0; k < n_found; k++)
			printf("  %-40s x%u  first: seed %llu steps %zu%s%s\n", found[k].sig,
			       found[k].count, (unsigned long long)found[k].seed, found[k].steps,
			       found[k].shrunk[0] ? "  shrunk: " : "", found[k].shrunk);
	}
	if (getenv("MODEL_PROFILE"))
		for (int k = 0; k < _OP_MAX; k++)
			if (prof_n[k])
				printf("  %-16s %5u steps, %6.1f ms each\n", kinds[k].name,
				       prof_n[k], (double)prof_ms[k] / prof_n[k]);
	printf("time: %.1f s\n", (double)(test_now_ms() - t0) / 1000.0);
	printf("sequences: %llu, steps: %llu, invariant violations: %llu\n", n_seq, total_steps,
	       n_viol);
	return n_viol ? 1 : 0;
}
