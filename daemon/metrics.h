#pragma once

/*
 * In-daemon measurements for `make bench` (docs/performance.md): how long
 * the daemon takes from a QMP event's bytes being read to the resulting
 * command being written, plus a few counters. Fixed size, no allocation and
 * no timers: recording is a clock read and an array increment. A JSON
 * snapshot is written to --metrics-file on SIGUSR1.
 */

#include <stdbool.h>
#include <stdint.h>

#include "daemon/pair.h"

/*
 * Log-linear latency histogram in nanoseconds: exact below 32 ns, then 32
 * buckets per power of two (under 3.2 % wide), up to 2^36 ns (~69 s).
 */
#define METRICS_SUB_BITS 5
#define METRICS_SUB	 (1u << METRICS_SUB_BITS)
#define METRICS_MAX_EXP	 36
#define METRICS_BUCKETS	 ((METRICS_MAX_EXP - METRICS_SUB_BITS + 1) * METRICS_SUB)

typedef struct MetricsHistogram {
	uint64_t count, sum_ns, max_ns;
	uint64_t buckets[METRICS_BUCKETS];
} MetricsHistogram;

static inline unsigned metrics_bucket_index(uint64_t ns)
{
	unsigned e;

	if (ns < METRICS_SUB)
		return (unsigned)ns;
	if (ns >= (1ull << METRICS_MAX_EXP))
		return METRICS_BUCKETS - 1;
	e = 63u - (unsigned)__builtin_clzll(ns);
	return (e - METRICS_SUB_BITS + 1) * METRICS_SUB +
	       (unsigned)((ns >> (e - METRICS_SUB_BITS)) & (METRICS_SUB - 1));
}

/* Lowest value of bucket @index; its width goes to @width. */
static inline uint64_t metrics_bucket_low(unsigned index, uint64_t *width)
{
	unsigned e, sub;

	if (index < METRICS_SUB) {
		*width = 1;
		return index;
	}
	e = index / METRICS_SUB + METRICS_SUB_BITS - 1;
	sub = index % METRICS_SUB;
	*width = 1ull << (e - METRICS_SUB_BITS);
	return (uint64_t)(METRICS_SUB + sub) << (e - METRICS_SUB_BITS);
}

void metrics_histogram_add(MetricsHistogram *h, uint64_t ns);

/*
 * The value below which a fraction @q of the samples lie (bucket midpoint,
 * capped at the maximum when one is known). Inline: bench/ applies it to
 * histograms rebuilt from the JSON snapshot.
 */
static inline uint64_t metrics_histogram_quantile(const MetricsHistogram *h, double q)
{
	uint64_t rank, seen = 0, width, mid;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (unsigned i = 0; i < METRICS_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen <= rank)
			continue;
		mid = metrics_bucket_low(i, &width) + width / 2;
		return h->max_ns && mid > h->max_ns ? h->max_ns : mid;
	}
	return h->max_ns;
}

typedef struct Metrics {
	MetricsHistogram reaction; /* event read -> resulting command written */
	MetricsHistogram decide;   /* event read -> that write started: user space only */
	uint64_t events;	   /* QMP events dispatched */
	uint64_t reactions;	   /* ... of which made the daemon send a command at once */
	uint64_t transitions;	   /* pair state changes */
	uint64_t last_transition_ns;
	uint64_t last_ready_ns; /* an instance finished its set-up */
	uint64_t start_ns;	/* manager created */
	uint64_t seq;		/* dumps written */
} Metrics;

void metrics_init(Metrics *mt);
/*
 * One dispatched event: @rx_ns when its bytes were read, @tx_before_ns and
 * @tx_after_ns the connection's last write completed before and after
 * dispatching it, @tx_start_ns when that last write started.
 */
void metrics_event(Metrics *mt, uint64_t rx_ns, uint64_t tx_before_ns, uint64_t tx_start_ns,
		   uint64_t tx_after_ns);
void metrics_transition(Metrics *mt);
void metrics_instance_ready(Metrics *mt);
/* What the objects look like at the moment of a dump: counted by their owner. */
typedef struct MetricsCensus {
	unsigned instances, connected, ready;
	uint64_t calls_pending, last_rx_ns;
	unsigned pairs, pairs_busy;
	unsigned states[_PAIR_STATE_MAX];
} MetricsCensus;

/* Writes the snapshot as JSON to @path atomically (tmp + rename). */
int metrics_dump(Metrics *mt, const MetricsCensus *c, const char *path);
uint64_t metrics_now_ns(void);
