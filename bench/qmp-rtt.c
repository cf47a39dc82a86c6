/*
 * qmp-rtt: the raw QMP round trip of a QEMU, with nothing of failoverd in
 * the way — the baseline the daemon's reaction time is compared with.
 * Blocking unix socket, one command in flight, CLOCK_MONOTONIC from just
 * before write() to the reply's last byte read.
 *
 *   qmp-rtt SOCKET [COUNT]            key=value results on stdout
 *   qmp-rtt --capture DIR SOCKET      records replies for bench/qmp-sim
 *   qmp-rtt --floor                   the kernel's share of any reaction: one
 *                                     sendmsg() of a command-sized message to
 *                                     a peer asleep in epoll_wait (which it
 *                                     must wake), no QEMU involved; and the
 *                                     library's share: json-c parsing an event
 *                                     and building and serialising a command
 */

#include <errno.h>
#include <json-c/json.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"

typedef struct Client {
	int fd;
	char buf[1 << 16];
	size_t len;
} Client;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "qmp-rtt: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
	exit(1);
}

/* One line (QEMU ends each message with \r\n), malloc'ed; events are skipped. */
static char *client_read_message(Client *c)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf) + 1;
			char *line = strndup(c->buf, n);

			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			if (strncmp(line, "{\"timestamp\"", 12) == 0) {
				free(line);
				continue;
			}
			return line;
		}
		if (c->len == sizeof(c->buf)) {
			/* Longer than the buffer (the schema): grow into a heap copy. */
			char *big = NULL;
			size_t blen = 0;
			FILE *mem = open_memstream(&big, &blen);

			do {
				fwrite(c->buf, 1, c->len, mem);
				c->len = 0;
				ssize_t r = read(c->fd, c->buf, sizeof(c->buf));

				if (r <= 0)
					die("read");
				c->len = (size_t)r;
				nl = memchr(c->buf, '\n', c->len);
			} while (!nl);
			size_t n = (size_t)(nl - c->buf) + 1;

			fwrite(c->buf, 1, n, mem);
			fclose(mem);
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return big;
		}
		ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

		if (r <= 0)
			die("read");
		c->len += (size_t)r;
	}
}

static void client_send(Client *c, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(c->fd, s, len);

		if (n < 0)
			die("write");
		s += n;
		len -= (size_t)n;
	}
}

static char *client_call(Client *c, const char *json)
{
	client_send(c, json);
	return client_read_message(c);
}

static void client_open(Client *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *m;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->len = 0;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(path);
	m = client_read_message(c);
	if (!strstr(m, "\"QMP\""))
		die("greeting");
	free(m);
	m = client_call(c, "{\"execute\": \"qmp_capabilities\"}\n");
	if (!strstr(m, "\"return\""))
		die("qmp_capabilities");
	free(m);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n);

	return (double)v[k >= n ? n - 1 : k] / 1000.0;
}

static void measure(Client *c, const char *key, const char *json, size_t count)
{
	uint64_t *rtt = calloc(count, sizeof(uint64_t));

	if (!rtt)
		die("calloc");
	for (size_t k = 0; k < count + 50; k++) {
		uint64_t t0 = now_ns();
		char *m = client_call(c, json);

		/* The first 50 warm up caches on both sides. */
		if (k >= 50)
			rtt[k - 50] = now_ns() - t0;
		if (!strstr(m, "\"return\""))
			die(json);
		free(m);
	}
	qsort(rtt, count, sizeof(uint64_t), cmp_u64);
	printf("%s_p50_us=%.1f %s_p99_us=%.1f %s_min_us=%.1f %s_n=%zu\n", key,
	       pct_us(rtt, count, 0.5), key, pct_us(rtt, count, 0.99), key, (double)rtt[0] / 1000,
	       key, count);
	free(rtt);
}

/* Writes the "return" value of @json's reply to DIR/NAME.json. */
static void capture(Client *c, const char *dir, const char *name, const char *json)
{
	char *m = client_call(c, json), path[4096];
	json_object *o = json_tokener_parse(m), *ret;
	FILE *f;

	if (!o || !json_object_object_get_ex(o, "return", &ret))
		die(json);
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	f = fopen(path, "we");
	if (!f)
		die(path);
	fprintf(f, "%s\n", json_object_to_json_string_ext(ret, JSON_C_TO_STRING_SPACED));
	fclose(f);
	json_object_put(o);
	free(m);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* @peer_cpu: the sleeping peer's CPU; the sender runs on CPU 0. */
static void floor_sendmsg(const char *key, int peer_cpu, size_t count)
{
	uint64_t *t = calloc(count, sizeof(uint64_t));
	char msg[80], buf[4096];
	int sv[2], back[2];
	pid_t pid;

	memset(msg, 'x', sizeof(msg));
	if (!t || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, back) < 0)
		die("socketpair");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* The peer: asleep in epoll_wait like a QEMU main loop, echoes a byte. */
		struct epoll_event ev = { .events = EPOLLIN };
		int ep = epoll_create1(0);

		pin(peer_cpu);
		epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
		for (;;) {
			if (epoll_wait(ep, &ev, 1, -1) < 0)
				continue;
			ssize_t n = read(sv[1], buf, sizeof(buf));

			if (n <= 0)
				_exit(0);
			if (write(back[1], "k", 1) < 0)
				_exit(1);
		}
	}
	pin(0);
	for (size_t k = 0; k < count + 50; k++) {
		uint64_t t0 = now_ns();

		if (send(sv[0], msg, sizeof(msg), MSG_NOSIGNAL) < 0)
			die("send");
		if (k >= 50)
			t[k - 50] = now_ns() - t0;
		if (read(back[0], buf, 1) != 1)
			die("read");
		usleep(300); /* the peer goes back to sleep */
	}
	close(sv[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	qsort(t, count, sizeof(uint64_t), cmp_u64);
	printf("%s_p50_us=%.1f %s_p99_us=%.1f\n", key, pct_us(t, count, 0.5), key,
	       pct_us(t, count, 0.99));
	free(t);
	close(back[0]);
	close(back[1]);
	close(sv[1]);
}

/*
 * What reading a DEVICE_DELETED as QEMU sends it and writing the qom-get
 * the daemon answers with cost, each after a pause as an isolated event
 * finds its caches: with json-c (a tree per message: the daemon's way until
 * 2026-12-03, kept as the baseline) and with qmp/msg.c and QmpArgs (its
 * way since), in the same run.
 */
static void floor_json(size_t count)
{
	static const char ev[] = "{\"timestamp\": {\"seconds\": 1764700000, \"microseconds\": "
				 "123456}, \"event\": \"DEVICE_DELETED\", \"data\": {\"path\": "
				 "\"/machine/peripheral/fo-p0\", \"device\": \"fo-p0\"}}";
	uint64_t *parse = calloc(count, sizeof(uint64_t)), *build = calloc(count, sizeof(uint64_t));
	uint64_t *ours_parse = calloc(count, sizeof(uint64_t));
	uint64_t *ours_build = calloc(count, sizeof(uint64_t));
	json_tokener *tok = json_tokener_new();
	QmpMsg *msg = NULL;

	if (!parse || !build || !ours_parse || !ours_build || !tok || qmp_msg_new(&msg) < 0)
		die("json floor");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	pin(0);
	for (size_t k = 0; k < count + 50; k++) {
		uint64_t t0 = now_ns(), t1, t2;
		json_object *o, *cmd, *args;
		char buf[sizeof(ev)], cmd_text[64];
		QmpValue data;
		QmpArgs qargs;
		size_t where;
		const char *why;

		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, ev, (int)sizeof(ev) - 1);
		t1 = now_ns();
		cmd = json_object_new_object();
		args = json_object_new_object();
		json_object_object_add(args, "path",
				       json_object_new_string("/machine/peripheral/net0"));
		json_object_object_add(args, "property", json_object_new_string("failover"));
		json_object_object_add(cmd, "execute", json_object_new_string("qom-get"));
		json_object_object_add(cmd, "arguments", args);
		json_object_object_add(cmd, "id", json_object_new_int64((int64_t)k));
		if (!o || !json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN))
			die("json floor");
		t2 = now_ns();
		json_object_put(cmd);
		json_object_put(o);
		if (k >= 50) {
			parse[k - 50] = t1 - t0;
			build[k - 50] = t2 - t1;
		}
		usleep(300);

		memcpy(buf, ev, sizeof(ev));
		t0 = now_ns();
		if (qmp_msg_parse(msg, buf, sizeof(ev) - 1, &where, &why) < 0 ||
		    !qmp_value_member(qmp_msg_root(msg), "data", &data) ||
		    !qmp_value_get_string(data, "device"))
			die("msg floor");
		t1 = now_ns();
		qmp_args_init(&qargs);
		qmp_args_add_string(&qargs, "path", "/machine/peripheral/net0");
		qmp_args_add_string(&qargs, "property", "failover");
		qmp_json_write_string(cmd_text, sizeof(cmd_text), "qom-get");
		t2 = now_ns();
		if (qargs.overflow)
			die("msg floor");
		if (k >= 50) {
			ours_parse[k - 50] = t1 - t0;
			ours_build[k - 50] = t2 - t1;
		}
		usleep(300);
	}
	qsort(parse, count, sizeof(uint64_t), cmp_u64);
	qsort(build, count, sizeof(uint64_t), cmp_u64);
	qsort(ours_parse, count, sizeof(uint64_t), cmp_u64);
	qsort(ours_build, count, sizeof(uint64_t), cmp_u64);
	printf("json_parse_event_p50_us=%.2f json_build_command_p50_us=%.2f "
	       "msg_parse_event_p50_us=%.2f args_build_command_p50_us=%.2f\n",
	       pct_us(parse, count, 0.5), pct_us(build, count, 0.5), pct_us(ours_parse, count, 0.5),
	       pct_us(ours_build, count, 0.5));
	json_tokener_free(tok);
	qmp_msg_free(msg);
	free(parse);
	free(build);
	free(ours_parse);
	free(ours_build);
}

int main(int argc, char **argv)
{
	Client c;

	if (argc == 2 && strcmp(argv[1], "--floor") == 0) {
		cpu_set_t all;

		sched_getaffinity(0, sizeof(all), &all);
		floor_sendmsg("sendmsg_wakeup_same_cpu", 0, 3000);
		if (CPU_COUNT(&all) > 1)
			floor_sendmsg("sendmsg_wakeup_other_cpu", 1, 3000);
		floor_json(2000);
		return 0;
	}

	if (argc == 4 && strcmp(argv[1], "--capture") == 0) {
		client_open(&c, argv[3]);
		capture(&c, argv[2], "query-qmp-schema", "{\"execute\": \"query-qmp-schema\"}\n");
		capture(&c, argv[2], "device-list-properties-virtio-net-pci",
			"{\"execute\": \"device-list-properties\", \"arguments\": "
			"{\"typename\": \"virtio-net-pci\"}}\n");
		capture(&c, argv[2], "device-list-properties-e1000e",
			"{\"execute\": \"device-list-properties\", \"arguments\": "
			"{\"typename\": \"e1000e\"}}\n");
		capture(&c, argv[2], "query-migrate-capabilities",
			"{\"execute\": \"query-migrate-capabilities\"}\n");
		close(c.fd);
		return 0;
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: qmp-rtt SOCKET [COUNT] | qmp-rtt --capture DIR SOCKET\n");
		return 2;
	}
	client_open(&c, argv[1]);
	measure(&c, "qmp_rtt", "{\"execute\": \"query-status\", \"id\": 1}\n",
		argc == 3 ? strtoul(argv[2], NULL, 10) : 2000);
	/* The command failoverd sends most, for comparison. */
	measure(&c, "qmp_rtt_qom_list",
		"{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/machine/peripheral\"}, "
		"\"id\": 2}\n",
		argc == 3 ? strtoul(argv[2], NULL, 10) : 2000);
	close(c.fd);
	return 0;
}
