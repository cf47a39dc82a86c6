/*
 * A synchronous, blocking QMP client for tests only. It shares nothing with
 * qmp/ so that tests can check the project's QMP layer against it.
 */

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define CMD_TIMEOUT_MS 30000

struct TestQmp {
	int fd;
	char *buf;
	size_t len, cap;
	json_object **events;
	size_t n_events, cap_events;
	int64_t next_id;
};

static char *to_json(json_object *o)
{
	char *s = strdup(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "{}");

	if (!s)
		abort();
	return s;
}

/* Next complete message, waiting until @deadline (-1: do not wait). */
static int read_message(TestQmp *t, int64_t deadline, json_object **out)
{
	for (;;) {
		/* The buffer is still NULL before the first read. */
		char *nl = t->len ? memchr(t->buf, '\n', t->len) : NULL;
		struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
		int64_t left;
		ssize_t n;

		if (nl) {
			size_t used = (size_t)(nl - t->buf) + 1;

			*nl = '\0';
			*out = json_tokener_parse(t->buf);
			memmove(t->buf, t->buf + used, t->len - used);
			t->len -= used;
			if (*out)
				return 0;
			continue; /* blank line */
		}
		left = deadline < 0 ? 0 : deadline - test_now_ms();
		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		if (t->cap - t->len < 4096) {
			t->cap = t->cap ? 2 * t->cap : 65536;
			t->buf = realloc(t->buf, t->cap);
			if (!t->buf)
				abort();
		}
		n = read(t->fd, t->buf + t->len, t->cap - t->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		t->len += (size_t)n;
	}
}

static void queue_event(TestQmp *t, json_object *ev)
{
	if (t->n_events == t->cap_events) {
		t->cap_events = t->cap_events ? 2 * t->cap_events : 16;
		t->events = realloc(t->events, t->cap_events * sizeof(*t->events));
		if (!t->events)
			abort();
	}
	t->events[t->n_events++] = ev;
}

static bool is_event(json_object *msg)
{
	return json_object_object_get_ex(msg, "event", NULL);
}

static int send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EPIPE ? -ECONNRESET : -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int test_qmp_cmd(TestQmp *t, const char *json, char **reply)
{
	int64_t deadline = test_now_ms() + CMD_TIMEOUT_MS, id = ++t->next_id;
	json_object *cmd = json_tokener_parse(json);
	int r;

	if (reply)
		*reply = NULL;
	if (!cmd || !json_object_is_type(cmd, json_type_object)) {
		json_object_put(cmd);
		return -EINVAL;
	}
	/* The id pairs replies with commands, so a late reply to a command
	 * that timed out is never taken for the next one's. */
	json_object_object_add(cmd, "id", json_object_new_int64(id));
	r = send_all(t->fd, json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN));
	if (r == 0)
		r = send_all(t->fd, "\n");
	json_object_put(cmd);
	if (r < 0)
		return r;
	for (;;) {
		json_object *msg, *v;

		r = read_message(t, deadline, &msg);
		if (r < 0)
			return r;
		if (is_event(msg)) {
			queue_event(t, msg);
			continue;
		}
		if (!json_object_object_get_ex(msg, "id", &v) || json_object_get_int64(v) != id) {
			json_object_put(msg);
			continue;
		}
		if (json_object_object_get_ex(msg, "return", &v)) {
			r = 0;
		} else {
			json_object_object_get_ex(msg, "error", &v);
			r = -EREMOTEIO;
		}
		if (reply)
			*reply = to_json(v);
		json_object_put(msg);
		return r;
	}
}

int test_qmp_cmdf(TestQmp *t, char **reply, const char *fmt, ...)
{
	va_list ap;
	char *json;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&json, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = test_qmp_cmd(t, json, reply);
	free(json);
	return r;
}

static bool event_is(json_object *ev, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(ev, "event", &v) &&
	       strcmp(json_object_get_string(v), name) == 0;
}

/* Takes queued event @i out of the queue. */
static void take_event(TestQmp *t, size_t i, char **data)
{
	json_object *ev = t->events[i], *v = NULL;

	if (data) {
		json_object_object_get_ex(ev, "data", &v);
		*data = to_json(v);
	}
	json_object_put(ev);
	memmove(&t->events[i], &t->events[i + 1], (t->n_events - i - 1) * sizeof(*t->events));
	t->n_events--;
}

int test_qmp_wait_event(TestQmp *t, const char *name, int timeout_ms, char **data)
{
	int64_t deadline = test_now_ms() + timeout_ms;

	if (data)
		*data = NULL;
	for (size_t i = 0; i < t->n_events; i++)
		if (event_is(t->events[i], name)) {
			take_event(t, i, data);
			return 0;
		}
	for (;;) {
		json_object *msg;
		int r = read_message(t, deadline, &msg);

		if (r < 0)
			return r;
		if (!is_event(msg)) {
			json_object_put(msg); /* a stale reply */
			continue;
		}
		queue_event(t, msg);
		if (event_is(msg, name)) {
			take_event(t, t->n_events - 1, data);
			return 0;
		}
	}
}

size_t test_qmp_count_events(TestQmp *t, const char *name)
{
	json_object *msg;
	size_t n = 0;

	while (read_message(t, -1, &msg) == 0) {
		if (is_event(msg))
			queue_event(t, msg);
		else
			json_object_put(msg);
	}
	for (size_t i = 0; i < t->n_events; i++)
		n += event_is(t->events[i], name);
	return n;
}

TestQmp *test_qmp_free(TestQmp *t)
{
	if (!t)
		return NULL;
	if (t->fd >= 0)
		close(t->fd);
	for (size_t i = 0; i < t->n_events; i++)
		json_object_put(t->events[i]);
	free(t->events);
	free(t->buf);
	free(t);
	return NULL;
}

static int connect_unix(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = test_now_ms() + timeout_ms;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct timespec ts = { 0, 20 * 1000000 };

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (test_now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
}

TestQmp *test_qmp_open(const char *path, int timeout_ms)
{
	int64_t deadline = test_now_ms() + timeout_ms;
	TestQmp *t = calloc(1, sizeof(*t));
	json_object *greeting = NULL;
	int r;

	if (!t)
		return NULL;
	t->fd = connect_unix(path, timeout_ms);
	if (t->fd < 0) {
		r = t->fd;
		goto fail;
	}
	r = read_message(t, deadline, &greeting);
	if (r == 0 && !json_object_object_get_ex(greeting, "QMP", NULL))
		r = -EPROTO;
	json_object_put(greeting);
	if (r == 0)
		r = test_qmp_cmd(t, "{\"execute\": \"qmp_capabilities\"}", NULL);
	if (r == 0)
		return t;
fail:
	test_qmp_free(t);
	errno = -r;
	return NULL;
}
