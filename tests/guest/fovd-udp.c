/*
 * A steady UDP stream with sequence numbers, both ways, for the traffic
 * tier (docs/traffic.md): built static into the failover test guest's
 * initramfs, and run as the peer on the host side.
 *
 *   fovd-udp PORT PEER_IP RATE SECONDS TAG
 *
 * Sends RATE datagrams per second to PEER_IP:PORT, each an 8-byte sequence
 * number, receives the peer's on PORT, and prints once a second (and at
 * the end) what it received so far:
 *
 *   FOVD-UDP TAG tx=N rx=N unique=N first=N last=N lost=N dup=N gaps=AT+LEN,...
 *
 * lost counts the sequence numbers missing between the first and the last
 * one received, gaps the four longest runs of them (where, how long); dup
 * the datagrams received more than once. SECONDS=0 runs
 * for ever (the guest).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEQ (1u << 22) /* 70 minutes at 1,000 per second */

static uint8_t seen[MAX_SEQ / 8];

typedef struct Stats {
	uint64_t tx, rx, unique, dup, first, last;
} Stats;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void note(Stats *s, uint64_t seq)
{
	if (seq >= MAX_SEQ)
		return;
	s->rx++;
	if (seen[seq / 8] & (1u << (seq % 8))) {
		s->dup++;
		return;
	}
	seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	if (!s->unique || seq < s->first)
		s->first = seq;
	if (!s->unique || seq > s->last)
		s->last = seq;
	s->unique++;
}

#define N_GAPS 4

typedef struct Gap {
	uint64_t at, len;
} Gap;

/* The N_GAPS longest runs of missing sequence numbers between first and last, longest first. */
static void longest_gaps(const Stats *s, Gap gaps[N_GAPS])
{
	uint64_t run = 0;

	memset(gaps, 0, N_GAPS * sizeof(Gap));
	for (uint64_t q = s->first; s->unique && q <= s->last + 1; q++) {
		Gap g;

		if (q <= s->last && !(seen[q / 8] & (1u << (q % 8)))) {
			run++;
			continue;
		}
		g = (Gap){ q - run, run };
		for (int k = 0; run && k < N_GAPS; k++)
			if (g.len > gaps[k].len) {
				Gap t = gaps[k];

				gaps[k] = g;
				g = t;
			}
		run = 0;
	}
}

static void report(const Stats *s, const char *tag)
{
	uint64_t span = s->unique ? s->last - s->first + 1 : 0;
	Gap g[N_GAPS];

	longest_gaps(s, g);
	printf("FOVD-UDP %s tx=%llu rx=%llu unique=%llu first=%llu last=%llu lost=%llu dup=%llu "
	       "gaps=",
	       tag, (unsigned long long)s->tx, (unsigned long long)s->rx,
	       (unsigned long long)s->unique, (unsigned long long)s->first,
	       (unsigned long long)s->last, (unsigned long long)(span - s->unique),
	       (unsigned long long)s->dup);
	for (int k = 0; k < N_GAPS; k++)
		printf("%s%llu+%llu", k ? "," : "", (unsigned long long)g[k].at,
		       (unsigned long long)g[k].len);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_in local = { .sin_family = AF_INET }, peer = { .sin_family = AF_INET };
	int64_t period, next, end, next_report;
	unsigned rate, seconds;
	Stats s = { 0 };
	int fd;

	if (argc != 6) {
		fprintf(stderr, "usage: fovd-udp PORT PEER_IP RATE SECONDS TAG\n");
		return 2;
	}
	local.sin_port = peer.sin_port = htons((uint16_t)atoi(argv[1]));
	rate = (unsigned)atoi(argv[3]);
	seconds = (unsigned)atoi(argv[4]);
	if (inet_pton(AF_INET, argv[2], &peer.sin_addr) != 1 || rate == 0 || rate > 100000) {
		fprintf(stderr, "fovd-udp: bad peer address or rate\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		perror("fovd-udp: socket");
		return 1;
	}
	period = 1000000000 / rate;
	next = next_report = now_ns();
	end = seconds ? next + (int64_t)seconds * 1000000000 : INT64_MAX;
	while (now_ns() < end) {
		uint64_t seq;
		ssize_t n;

		/* Everything that arrived, then the datagrams that are due. */
		while ((n = recv(fd, &seq, sizeof(seq), 0)) == (ssize_t)sizeof(seq))
			note(&s, seq);
		while (now_ns() >= next) {
			/* A datagram the stack refuses (no neighbour yet) is a lost one. */
			seq = s.tx++;
			if (sendto(fd, &seq, sizeof(seq), 0, (struct sockaddr *)&peer,
				   sizeof(peer)) < 0 &&
			    errno != EAGAIN && errno != ENETUNREACH && errno != EHOSTUNREACH)
				perror("fovd-udp: sendto");
			next += period;
		}
		if (now_ns() >= next_report) {
			report(&s, argv[5]);
			next_report += 1000000000;
		}
		{
			int64_t wait = next - now_ns();
			struct timespec ts = { 0, wait > 0 ? (long)(wait < 200000 ? wait : 200000)
							   : 0 };

			nanosleep(&ts, NULL);
		}
	}
	report(&s, argv[5]);
	return 0;
}
