/*
 * Frames through a live migration (docs/traffic.md §The traffic tier): the
 * test guest's UDP stream to and from a peer on the "wire", counted in
 * sequence numbers, while failoverd migrates its pair from host A to host
 * B — once with TrafficHandling=no (what every orchestrator does today),
 * once with TrafficHandling=yes.
 *
 * Everything lives in the test's own network namespace:
 *
 *   peer pe0 10.77.0.1 ── brW (the wire) ── upA ── esA ─┬─ tpA  primary (e1000e stand-in)
 *                                  │                    └─ pfA ── pfAb ── brA ── tsA  standby
 *                                  └──── upB ── esB ─ ... (the same for host B)
 *
 * esX stands for the NIC's switch: the stand-in primary's port tpX gets
 * frames only through the static entry failoverd makes for the pair's MAC
 * (PrimaryTap=, what a PF does for a VF's MAC), never by flooding; what the
 * switch does not know goes to the PF's port pfX (and the wire). Like a
 * NIC's switch it learns nothing: a Linux bridge would otherwise move even
 * a static entry to the port a frame from that MAC came in on. brX is the
 * host's bridge with the standby's tap tsX.
 *
 * Prints one FOVD-TRAFFIC line per migration; TRAFFIC_DEBUG=1 also prints
 * the bridges' tables after it. TRAFFIC_RUNS=N migrates N times each way
 * (make bench).
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/kernel.h"
#include "tests/lib/lab.h"
#include "tests/lib/suite.h"

#define RATE	     500 /* datagrams per second, each way */
#define PEER_SECONDS 15	 /* the window: 1 s before the migration, the rest after it */
#define RATE_TEXT    "500"
#define PEER_IP	     "10.77.0.1"
#define GUEST_IP     "10.77.0.2"

typedef struct Stream {
	unsigned long long tx, rx, unique, lost, dup; /* as the program counted them */
	unsigned long long gap_at[4], gap_len[4];     /* its longest runs of missing ones */
} Stream;

typedef struct Outcome {
	Stream to_guest, to_peer;
	long long downtime_ms;
	/* Milliseconds after UNPLUG_PRIMARY: the source released the VF, the destination resumed.
	 */
	double released_ms, resumed_ms;
	/* Frames lost to the guest before the destination resumed (the source's part), and after.
	 */
	unsigned long long lost_source, lost_destination;
	unsigned long long via_vf, via_standby; /* frames to the guest, by tap */
} Outcome;

static void sh(const char *cmd)
{
	char out[2048];

	ck_assert_msg(test_run(cmd, out, sizeof(out)) == 0, "%s: %s", cmd, out);
}

static void net_up(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	sh("ip link set lo up && ip link add brW type bridge && ip link set brW up && "
	   "ip link add pe0 type veth peer name wP && ip link set wP master brW up && "
	   "ip addr add " PEER_IP "/24 dev pe0 && ip link set pe0 up && "
	   "for h in A B; do "
	   "ip link add es$h type bridge && ip link set es$h up && "
	   "ip link add br$h type bridge && ip link set br$h up && "
	   "ip link add up$h type veth peer name w$h && ip link set w$h master brW up && "
	   "ip link set up$h master es$h up && "
	   "ip link add pf$h type veth peer name pf${h}b && ip link set pf$h master es$h up && "
	   "ip link set pf${h}b master br$h up && bridge link set dev pf$h learning off && "
	   "bridge link set dev up$h learning off; done");
}

/* QEMU made its taps: into the bridges, the primary's as a VF port of the NIC's switch. */
static void taps_up(char h)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd),
		 "ip link set ts%c master br%c up && ip link set tp%c master es%c up && "
		 "bridge link set dev tp%c learning off flood off mcast_flood off",
		 h, h, h, h, h);
	sh(cmd);
}

/*
 * Frames the tap @tap@h handed to its QEMU, i.e. to the guest. From
 * /proc/net/dev: /sys shows the devices of the namespace it was mounted in.
 */
static unsigned long long tap_to_guest(const char *tap, char h)
{
	char line[512], want[24];
	unsigned long long n = 0;
	FILE *f = fopen("/proc/net/dev", "r");

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), "%s%c:", tap, h);
	while (fgets(line, sizeof(line), f)) {
		char *at = strstr(line, want);

		/* receive: bytes packets errs drop fifo frame compressed multicast; then transmit
		 */
		if (at &&
		    sscanf(at + strlen(want), "%*u %*u %*u %*u %*u %*u %*u %*u %*u %llu", &n) != 1)
			n = 0;
	}
	fclose(f);
	return n;
}

static void vm_up(TestLab *l, TestVm *v, const char *name, char h, bool incoming)
{
	char netdev[160], primary[160];
	const char *extra[] = { "-netdev", primary, NULL };
	TestVmOptions o = { .boot = true,
			    .incoming = incoming,
			    .standby_netdev = netdev,
			    .append = "fovd.traffic=" GUEST_IP "/24," PEER_IP "," RATE_TEXT,
			    .extra_args = extra };

	snprintf(netdev, sizeof(netdev), "tap,id=hn0,ifname=ts%c,script=no,downscript=no", h);
	snprintf(primary, sizeof(primary), "tap,id=vfn0,ifname=tp%c,script=no,downscript=no", h);
	test_lab_vm_start(l, v, name, &o);
	taps_up(h);
}

static void host_up(TestHost *host, const TestVm *v, char h, bool handling)
{
	char pair[300];

	/* No StandbyTap=: failoverd finds tsX from the standby's netdev (docs/traffic.md). */
	snprintf(pair, sizeof(pair), "PrimaryNetdev=vfn0\nPrimaryTap=tp%c\nTrafficHandling=%s", h,
		 handling ? "yes" : "no");
	test_lab_config_pair(host, v, "UnplugTimeoutSec=30", pair);
	test_host_start(host);
}

/* The last FOVD-UDP line with @tag in @path; false if there is none. */
static bool stream_read(const char *path, const char *tag, Stream *s)
{
	char line[512], want[64];
	unsigned long long tx;
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "FOVD-UDP %s ", tag);
	while (fgets(line, sizeof(line), f)) {
		char *at = strstr(line, want);

		if (at &&
		    sscanf(at + strlen(want),
			   "tx=%llu rx=%llu unique=%llu first=%*u last=%*u lost=%llu dup=%llu "
			   "gaps=%llu+%llu,%llu+%llu,%llu+%llu,%llu+%llu",
			   &tx, &s->rx, &s->unique, &s->lost, &s->dup, &s->gap_at[0],
			   &s->gap_len[0], &s->gap_at[1], &s->gap_len[1], &s->gap_at[2],
			   &s->gap_len[2], &s->gap_at[3], &s->gap_len[3]) == 13) {
			s->tx = tx;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Until the guest's own count says the stream is flowing both ways. */
static bool guest_receives(const char *serial, unsigned long long at_least, int timeout_ms)
{
	Stream s;

	for (int64_t end = test_now_ms() + timeout_ms; test_now_ms() < end; usleep(100 * 1000))
		if (stream_read(serial, "guest", &s) && s.unique >= at_least)
			return true;
	return false;
}

static pid_t peer_start(const char *out, unsigned seconds)
{
	char secs[16];
	pid_t pid;

	snprintf(secs, sizeof(secs), "%u", seconds);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(127);
		execl(getenv("FOVD_GUEST_UDP"), "fovd-udp", "7700", GUEST_IP, RATE_TEXT, secs,
		      "peer", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static long long json_ll(const char *json, const char *key)
{
	char want[64];
	const char *at;

	snprintf(want, sizeof(want), "\"%s\":", key);
	at = strstr(json, want);
	return at ? strtoll(at + strlen(want), NULL, 10) : -1;
}

/* One migration from host A to host B with the handling @on; every process stopped after. */
static Outcome migrate_once(bool on)
{
	TestLab l;
	Outcome o = { .downtime_ms = -1 };
	char peer_out[600];
	unsigned long long vf0, sb0;
	struct timespec t_peer;
	double unplug;
	pid_t peer;
	int status;

	test_lab_setup(&l);
	snprintf(peer_out, sizeof(peer_out), "%s/peer.log", test_dir_path(l.dir));
	vm_up(&l, &l.src, "src", 'A', false);
	host_up(&l.a, &l.src, 'A', on);
	ck_assert_int_eq(test_host_wait_pair(&l.a, "vm1", "p0", "active", 120000), 0);
	ck_assert_msg(test_guest_wait_bonded(l.src.qemu, 60000) == 0, "guest did not bond (see %s)",
		      l.src.serial);
	if (on)
		ck_assert_int_eq(test_host_wait_log(&l.a, "standby net0 is on tap tsA", 5000), 0);

	vm_up(&l, &l.dst, "dst", 'B', true);
	host_up(&l.b, &l.dst, 'B', on);
	ck_assert_int_eq(test_host_wait_pair(&l.b, "vm1", "p0", "incoming", 60000), 0);
	/* The tap found through QEMU is the one steered to (docs/model-tier.md, finding 15). */
	if (on)
		ck_assert_int_eq(test_host_wait_log(&l.b, "steered to tsB", 5000), 0);
	/* PEER_SECONDS of stream: it must flow, through the VF, before anything moves. */
	clock_gettime(CLOCK_REALTIME, &t_peer);
	peer = peer_start(peer_out, PEER_SECONDS);
	ck_assert_msg(guest_receives(l.src.serial, RATE, 30000),
		      "the guest gets no stream from the peer (see %s)", l.src.serial);
	ck_assert_msg(tap_to_guest("tp", 'A') > 100,
		      "the stream does not use the primary (tpA sent %llu frames to the guest)",
		      tap_to_guest("tp", 'A'));
	vf0 = tap_to_guest("tp", 'A') + tap_to_guest("tp", 'B');
	sb0 = tap_to_guest("ts", 'A') + tap_to_guest("ts", 'B');

	test_vm_migrate(&l.src, &l.dst);
	ck_assert_int_ge(test_vm_wait_event(&l.src, "MIGRATION", "completed", 120000), 0);
	ck_assert_int_eq(test_vm_call(&l.src, "query-migrate", NULL), 0);
	o.downtime_ms = json_ll(l.src.ret, "downtime");
	ck_assert_int_eq(test_host_wait_pair(&l.b, "vm1", "p0", "active", 60000), 0);
	if (on)
		ck_assert_int_eq(test_host_wait_log(&l.a, "steered to tsA", 5000), 0);

	/* The peer ends its window; the guest's count then covers the same one. */
	ck_assert_int_eq(waitpid(peer, &status, 0), peer);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "peer failed");
	usleep(1500 * 1000);
	ck_assert_msg(stream_read(peer_out, "peer", &o.to_peer), "no count from the peer");
	ck_assert_msg(stream_read(l.dst.serial, "guest", &o.to_guest),
		      "no count from the guest on the destination (see %s)", l.dst.serial);
	/*
	 * Lost: what the peer sent in its window and the guest never got; and,
	 * the guest sending at the same rate meanwhile, as many minus what the
	 * peer got (to a datagram or two at the window's edges).
	 */
	o.to_guest.lost = o.to_peer.tx - o.to_guest.unique;
	unplug = test_qmp_ts_ms(&l.src.ts[test_vm_find_event(&l.src, "UNPLUG_PRIMARY", NULL)]);
	o.released_ms =
		test_qmp_ts_ms(&l.src.ts[test_vm_find_event(&l.src, "MIGRATION", "\"active\"")]) -
		unplug;
	o.resumed_ms = test_qmp_ts_ms(&l.dst.ts[test_vm_wait_event(&l.dst, "RESUME", NULL, 1000)]) -
		       unplug;
	/* A gap is the source's when its first datagram was sent before the destination resumed. */
	for (int k = 0; k < 4; k++)
		if ((double)t_peer.tv_sec * 1000 + (double)t_peer.tv_nsec / 1e6 +
			    (double)o.to_guest.gap_at[k] * 1000 / RATE <
		    unplug + o.resumed_ms)
			o.lost_source += o.to_guest.gap_len[k];
	o.lost_destination = o.to_guest.lost - o.lost_source;
	o.to_peer.lost = o.to_peer.tx > o.to_peer.unique ? o.to_peer.tx - o.to_peer.unique : 0;
	if (getenv("TRAFFIC_DEBUG")) {
		char out[16384];

		test_run("bridge fdb show | grep -v permanent; bridge link; ip -s -br link", out,
			 sizeof(out));
		fprintf(stderr, "%s\n", out);
	}
	o.via_vf = tap_to_guest("tp", 'A') + tap_to_guest("tp", 'B') - vf0;
	o.via_standby = tap_to_guest("ts", 'A') + tap_to_guest("ts", 'B') - sb0;
	ck_assert_int_eq(test_vm_call(&l.src, "quit", NULL), 0);
	test_lab_teardown(&l);
	return o;
}

static void print_outcome(const char *name, const Outcome *o)
{
	printf("FOVD-TRAFFIC handling=%s to-guest lost=%llu dup=%llu rx=%llu  to-peer lost=%llu "
	       "dup=%llu rx=%llu  downtime=%lld ms limit=%lld  frames to the guest during the "
	       "migration: via VF taps %llu, via standby taps %llu  lost before the destination "
	       "resumed %llu, after %llu (released %+.0f ms, resumed %+.0f ms after "
	       "UNPLUG_PRIMARY)\n",
	       name, o->to_guest.lost, o->to_guest.dup, o->to_guest.rx, o->to_peer.lost,
	       o->to_peer.dup, o->to_peer.rx, o->downtime_ms,
	       o->downtime_ms < 0 ? -1 : (RATE * (o->downtime_ms + 1) + 999) / 1000, o->via_vf,
	       o->via_standby, o->lost_source, o->lost_destination, o->released_ms, o->resumed_ms);
	fflush(stdout);
}

START_TEST(test_frames_lost_off_and_on)
{
	int runs = getenv("TRAFFIC_RUNS") ? atoi(getenv("TRAFFIC_RUNS")) : 1;

	net_up();
	for (int k = 0; k < runs; k++) {
		Outcome off = migrate_once(false), on;

		print_outcome("off", &off);
		on = migrate_once(true);
		print_outcome("on", &on);
		ck_assert_msg(on.via_standby > 0,
			      "with the handling on no frame reached the standby");
		/*
		 * The source's part is failoverd's to shorten (docs/traffic.md);
		 * after the switch-over the guest's own driver decides.
		 */
		ck_assert_msg(on.lost_source < off.lost_source,
			      "with the handling on the source lost %llu frames to the guest, "
			      "without it %llu",
			      on.lost_source, off.lost_source);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("traffic");
	TCase *tc = tcase_create("migration");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_frames_lost_off_and_on);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_VERBOSE);
}
