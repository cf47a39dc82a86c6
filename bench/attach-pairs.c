/*
 * attach-pairs: attaches INSTANCES x PAIRS failover pairs through
 * org.failoverd1.Manager.AttachPair, all calls in flight at once as an
 * orchestrator starting many VMs would issue them, and waits for every pair
 * to reach STATE (PairStateChanged signals). Prints attach_s, from the
 * first call sent to the last pair in STATE.
 *
 *   attach-pairs BUS_ADDRESS INSTANCES PAIRS POOL STATE TIMEOUT_S
 *
 * Instance k is "vmK"; pair j is "pJ" on the standby "netJ", with the MAC
 * 52:54:00:01:K:J.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

static struct {
	const char *want;
	unsigned n_want, n_reached, n_failed, n_replies;
	double t_last;
} a;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_state(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	const char *instance, *pair, *from, *to, *reason;

	if (sd_bus_message_read(m, "sssss", &instance, &pair, &from, &to, &reason) < 0)
		return 0;
	if (strcmp(to, a.want) == 0) {
		a.n_reached++;
		a.t_last = now_s();
	} else if (strcmp(to, "failed") == 0) {
		fprintf(stderr, "attach-pairs: %s/%s failed: %s\n", instance, pair, reason);
		a.n_failed++;
	}
	return 0;
}

static int on_reply(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	const sd_bus_error *e = sd_bus_message_get_error(m);

	a.n_replies++;
	if (e) {
		fprintf(stderr, "attach-pairs: AttachPair: %s\n", e->message);
		a.n_failed++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	sd_bus *bus = NULL;
	unsigned n_inst, n_pairs;
	double t0, deadline;
	int r;

	if (argc != 7) {
		fprintf(stderr,
			"usage: attach-pairs BUS_ADDRESS INSTANCES PAIRS POOL STATE TIMEOUT_S\n");
		return 2;
	}
	n_inst = (unsigned)atoi(argv[2]);
	n_pairs = (unsigned)atoi(argv[3]);
	a.want = argv[5];
	a.n_want = n_inst * n_pairs;
	if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, argv[1])) < 0 ||
	    (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0) {
		fprintf(stderr, "attach-pairs: cannot connect to %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	r = sd_bus_match_signal(bus, NULL, "org.failoverd1", "/org/failoverd1",
				"org.failoverd1.Manager", "PairStateChanged", on_state, NULL);
	if (r < 0) {
		fprintf(stderr, "attach-pairs: cannot subscribe: %s\n", strerror(-r));
		return 1;
	}
	t0 = now_s();
	for (unsigned k = 0; k < n_inst; k++)
		for (unsigned j = 0; j < n_pairs; j++) {
			char inst[32], pair[32], mac[32], standby[32];

			snprintf(inst, sizeof(inst), "vm%u", k);
			snprintf(pair, sizeof(pair), "p%u", j);
			snprintf(standby, sizeof(standby), "net%u", j);
			snprintf(mac, sizeof(mac), "52:54:00:01:%02x:%02x", k & 0xff, j & 0xff);
			r = sd_bus_call_method_async(bus, NULL, "org.failoverd1", "/org/failoverd1",
						     "org.failoverd1.Manager", "AttachPair",
						     on_reply, NULL, "sssssa{sv}", inst, pair,
						     argv[4], mac, standby, 0);
			if (r < 0) {
				fprintf(stderr, "attach-pairs: AttachPair: %s\n", strerror(-r));
				return 1;
			}
		}
	deadline = t0 + atof(argv[6]);
	while (a.n_reached + a.n_failed < a.n_want && now_s() < deadline) {
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			break;
		if (r == 0)
			sd_bus_wait(bus, 100000);
	}
	sd_bus_flush_close_unref(bus);
	if (a.n_reached < a.n_want) {
		fprintf(stderr, "attach-pairs: %u of %u pairs reached %s (%u failed)\n",
			a.n_reached, a.n_want, a.want, a.n_failed);
		return 1;
	}
	printf("attach_s=%.4f pairs=%u\n", a.t_last - t0, a.n_reached);
	return 0;
}
