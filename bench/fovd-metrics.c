/*
 * fovd-metrics: reads failoverd's --metrics-file snapshots (daemon/metrics.h)
 * for the benchmark driver.
 *
 *   fovd-metrics now                         CLOCK_MONOTONIC in ns
 *   fovd-metrics dump PID FILE [OUT]         SIGUSR1, wait for a fresh snapshot
 *   fovd-metrics wait-settled PID FILE INSTANCES PAIRS STATES T0_NS TIMEOUT_S
 *       polls until INSTANCES instances are set up, no command is in flight,
 *       no pair is busy and PAIRS pairs are in one of STATES (comma list);
 *       prints settle_s from T0_NS to the daemon's last transition, last
 *       instance set up or last message read, whichever is latest
 *   fovd-metrics reaction BEFORE AFTER       the reaction histogram between
 *       two snapshots: reaction_p50_us, reaction_p99_us, ...
 */

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/metrics.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* The snapshot sequence number of @pid in @path, -1 if none (or another pid's). */
static int64_t file_seq(const char *path, pid_t pid)
{
	json_object *o = json_object_from_file(path);
	int64_t seq = o && get_int(o, "pid") == pid ? get_int(o, "seq") : -1;

	if (o)
		json_object_put(o);
	return seq;
}

/*
 * A daemon still starting would die of SIGUSR1: wait until failoverd itself
 * (not the shell that forked it, which catches SIGUSR1 too) catches it.
 */
static void wait_catching(pid_t pid, uint64_t end)
{
	char path[64], line[256];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	while (now_ns() < end) {
		FILE *f = fopen(path, "re");
		unsigned long long mask = 0;
		bool daemon = false;

		if (!f)
			break;
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "SigCgt:", 7) == 0)
				mask = strtoull(line + 7, NULL, 16);
			if (strncmp(line, "Name:", 5) == 0)
				daemon = strstr(line, "failoverd") != NULL;
			if (strncmp(line, "State:", 6) == 0 && strpbrk(line + 6, "ZX")) {
				fprintf(stderr, "fovd-metrics: process %d has exited\n", (int)pid);
				exit(1);
			}
		}
		fclose(f);
		if (daemon && (mask & (1ull << (SIGUSR1 - 1))))
			return;
		usleep(1000);
	}
}

/* Asks the daemon for a snapshot and returns it once written. */
static json_object *snapshot(pid_t pid, const char *path)
{
	int64_t before = file_seq(path, pid);
	uint64_t end = now_ns() + 60000000000ull;

	wait_catching(pid, end);
	if (kill(pid, SIGUSR1) < 0) {
		fprintf(stderr, "fovd-metrics: cannot signal %d: %s\n", (int)pid, strerror(errno));
		exit(1);
	}
	while (now_ns() < end) {
		json_object *o = json_object_from_file(path);

		if (o && get_int(o, "pid") == pid && get_int(o, "seq") > before)
			return o;
		if (o)
			json_object_put(o);
		usleep(1000);
	}
	fprintf(stderr, "fovd-metrics: no snapshot from %d in %s\n", (int)pid, path);
	exit(1);
}

static void histogram_load(json_object *snap, const char *name, MetricsHistogram *h)
{
	json_object *r, *buckets;

	memset(h, 0, sizeof(*h));
	if (!json_object_object_get_ex(snap, name, &r) ||
	    !json_object_object_get_ex(r, "buckets", &buckets))
		return;
	for (size_t k = 0; k < json_object_array_length(buckets); k++) {
		json_object *e = json_object_array_get_idx(buckets, k);
		int64_t i = json_object_get_int64(json_object_array_get_idx(e, 0));
		int64_t n = json_object_get_int64(json_object_array_get_idx(e, 1));

		if (i >= 0 && i < METRICS_BUCKETS)
			h->buckets[i] = (uint64_t)n;
	}
	h->count = (uint64_t)get_int(r, "count");
	h->sum_ns = (uint64_t)get_int(r, "sum_ns");
	h->max_ns = (uint64_t)get_int(r, "max_ns");
}

static double quantile_us(const MetricsHistogram *h, double q)
{
	return (double)metrics_histogram_quantile(h, q) / 1000.0;
}

static int cmd_reaction(const char *before_path, const char *after_path)
{
	json_object *a = json_object_from_file(before_path), *z = json_object_from_file(after_path);
	static const char *const names[] = { "reaction", "decide" };

	if (!a || !z) {
		fprintf(stderr, "fovd-metrics: cannot read %s or %s\n", before_path, after_path);
		return 1;
	}
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const char *n = names[k];
		MetricsHistogram h0, h1;

		histogram_load(a, n, &h0);
		histogram_load(z, n, &h1);
		for (unsigned i = 0; i < METRICS_BUCKETS; i++)
			h1.buckets[i] -= h0.buckets[i];
		h1.count -= h0.count;
		h1.sum_ns -= h0.sum_ns;
		/* max is over the daemon's life: an upper bound, labelled as such. */
		printf("%s_p50_us=%.2f %s_p90_us=%.2f %s_p99_us=%.2f %s_p999_us=%.2f "
		       "%s_mean_us=%.2f %s_count=%llu %s_lifetime_max_us=%.1f ",
		       n, quantile_us(&h1, 0.5), n, quantile_us(&h1, 0.9), n,
		       quantile_us(&h1, 0.99), n, quantile_us(&h1, 0.999), n,
		       h1.count ? (double)h1.sum_ns / (double)h1.count / 1000 : 0, n,
		       (unsigned long long)h1.count, n, (double)h1.max_ns / 1000.0);
	}
	printf("events=%lld\n", (long long)(get_int(z, "events") - get_int(a, "events")));
	json_object_put(a);
	json_object_put(z);
	return 0;
}

/* Pairs in any of the comma-separated @states. */
static int64_t count_states(json_object *snap, const char *states)
{
	json_object *st;
	char buf[256], *save = NULL;
	int64_t n = 0;

	if (!json_object_object_get_ex(snap, "pair_states", &st))
		return -1;
	snprintf(buf, sizeof(buf), "%s", states);
	for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save))
		n += get_int(st, s) > 0 ? get_int(st, s) : 0;
	return n;
}

static int cmd_wait_settled(pid_t pid, const char *path, int64_t n_inst, int64_t n_pairs,
			    const char *states, uint64_t t0, double timeout_s)
{
	uint64_t end = now_ns() + (uint64_t)(timeout_s * 1e9);

	for (;;) {
		json_object *o = snapshot(pid, path);
		int64_t last;

		if (get_int(o, "instances_ready") >= n_inst && get_int(o, "calls_pending") == 0 &&
		    get_int(o, "pairs_busy") == 0 && count_states(o, states) >= n_pairs) {
			last = get_int(o, "last_transition_ns");
			if (get_int(o, "last_rx_ns") > last)
				last = get_int(o, "last_rx_ns");
			if (get_int(o, "last_ready_ns") > last)
				last = get_int(o, "last_ready_ns");
			printf("settle_s=%.4f transitions=%lld\n",
			       (double)((uint64_t)last - t0) / 1e9,
			       (long long)get_int(o, "transitions"));
			json_object_put(o);
			return 0;
		}
		if (now_ns() > end) {
			fprintf(stderr, "fovd-metrics: not settled after %.0f s: %s\n", timeout_s,
				json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
			return 1;
		}
		json_object_put(o);
		usleep(20000);
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "now") == 0) {
		printf("%llu\n", (unsigned long long)now_ns());
		return 0;
	}
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "dump") == 0) {
		json_object *o = snapshot((pid_t)atoi(argv[2]), argv[3]);

		if (argc == 5 && json_object_to_file_ext(argv[4], o, JSON_C_TO_STRING_PRETTY) < 0)
			return 1;
		json_object_put(o);
		return 0;
	}
	if (argc == 9 && strcmp(argv[1], "wait-settled") == 0)
		return cmd_wait_settled((pid_t)atoi(argv[2]), argv[3], atoll(argv[4]),
					atoll(argv[5]), argv[6], strtoull(argv[7], NULL, 10),
					atof(argv[8]));
	if (argc == 4 && strcmp(argv[1], "reaction") == 0)
		return cmd_reaction(argv[2], argv[3]);
	fprintf(stderr, "usage: fovd-metrics now | dump PID FILE [OUT] | wait-settled PID FILE "
			"INSTANCES PAIRS STATES T0_NS TIMEOUT_S | reaction BEFORE AFTER\n");
	return 2;
}
