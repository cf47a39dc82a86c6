/* In-daemon measurements: a reaction-time histogram, counters, a JSON dump. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/metrics.h"

uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_histogram_add(MetricsHistogram *h, uint64_t ns)
{
	h->buckets[metrics_bucket_index(ns)]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void metrics_init(Metrics *mt)
{
	memset(mt, 0, sizeof(*mt));
	mt->start_ns = metrics_now_ns();
}

void metrics_event(Metrics *mt, uint64_t rx_ns, uint64_t tx_before_ns, uint64_t tx_start_ns,
		   uint64_t tx_after_ns)
{
	mt->events++;
	/* Only commands written while this event was being handled count. */
	if (tx_after_ns == tx_before_ns || tx_start_ns < rx_ns)
		return;
	mt->reactions++;
	metrics_histogram_add(&mt->reaction, tx_after_ns - rx_ns);
	metrics_histogram_add(&mt->decide, tx_start_ns - rx_ns);
}

void metrics_transition(Metrics *mt)
{
	mt->transitions++;
	mt->last_transition_ns = metrics_now_ns();
}

void metrics_instance_ready(Metrics *mt)
{
	mt->last_ready_ns = metrics_now_ns();
}

static void dump_histogram(FILE *f, const char *name, const MetricsHistogram *h)
{
	bool first = true;

	fprintf(f,
		"  \"%s\": {\"count\": %llu, \"sum_ns\": %llu, \"max_ns\": %llu, \"p50_ns\": %llu, "
		"\"p99_ns\": %llu,\n    \"buckets\": [",
		name, (unsigned long long)h->count, (unsigned long long)h->sum_ns,
		(unsigned long long)h->max_ns,
		(unsigned long long)metrics_histogram_quantile(h, 0.50),
		(unsigned long long)metrics_histogram_quantile(h, 0.99));
	/* Sparse: [index, count] for non-empty buckets (metrics.h has the bounds). */
	for (unsigned i = 0; i < METRICS_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		fprintf(f, "%s[%u, %llu]", first ? "" : ", ", i, (unsigned long long)h->buckets[i]);
		first = false;
	}
	fprintf(f, "]},\n");
}

int metrics_dump(Metrics *mt, const MetricsCensus *c, const char *path)
{
	char tmp[4096];
	FILE *f;
	int r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "{\n  \"seq\": %llu, \"pid\": %d, \"now_ns\": %llu, \"start_ns\": %llu,\n",
		(unsigned long long)++mt->seq, (int)getpid(), (unsigned long long)metrics_now_ns(),
		(unsigned long long)mt->start_ns);
	fprintf(f,
		"  \"instances\": %u, \"instances_connected\": %u, \"instances_ready\": %u, "
		"\"calls_pending\": %llu,\n",
		c->instances, c->connected, c->ready, (unsigned long long)c->calls_pending);
	fprintf(f, "  \"pairs\": %u, \"pairs_busy\": %u, \"pair_states\": {", c->pairs,
		c->pairs_busy);
	for (int s = 0; s < _PAIR_STATE_MAX; s++)
		fprintf(f, "%s\"%s\": %u", s ? ", " : "", pair_state_to_string((PairState)s),
			c->states[s]);
	fprintf(f, "},\n");
	fprintf(f,
		"  \"events\": %llu, \"reactions\": %llu, \"transitions\": %llu,\n"
		"  \"last_transition_ns\": %llu, \"last_ready_ns\": %llu, \"last_rx_ns\": %llu,\n",
		(unsigned long long)mt->events, (unsigned long long)mt->reactions,
		(unsigned long long)mt->transitions, (unsigned long long)mt->last_transition_ns,
		(unsigned long long)mt->last_ready_ns, (unsigned long long)c->last_rx_ns);
	dump_histogram(f, "reaction", &mt->reaction);
	dump_histogram(f, "decide", &mt->decide);
	fprintf(f, "  \"histogram\": {\"sub_bits\": %u, \"buckets\": %u}\n}\n", METRICS_SUB_BITS,
		METRICS_BUCKETS);
	if (fflush(f) != 0 || ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}
