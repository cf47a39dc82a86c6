/* One QMP connection: socket I/O, handshake, command/reply matching, events. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event_struct.h>

#include "qmp/qmp.h"

typedef struct QmpCall QmpCall;
struct QmpCall {
	QmpConn *conn;
	QmpCall *prev, *next;
	int64_t id;
	char command[64];
	json_type expect;
	unsigned timeout_ms;
	QmpReplyFn fn;
	void *userdata;
	struct event
		timer; /* in the call: one allocation per command, not two; armed while linked */
};

typedef struct OutChunk OutChunk;
struct OutChunk {
	OutChunk *next;
	size_t len, off;
	int fd; /* sent as SCM_RIGHTS with the chunk's first byte, -1 if none */
	char data[];
};

struct QmpConn {
	unsigned n_ref;
	bool freed;
	struct event_base *base;
	char *path; /* NULL for adopted fds */
	bool reconnect;
	int fd;
	QmpConnState state;
	QmpConnOps ops;
	void *userdata;
	QmpStream *stream;
	struct event *ev_read, *ev_write, *ev_timer;
	struct event *ev_overflow; /* closes the connection from the loop, not inside a call */
	OutChunk *out_head, *out_tail;
	size_t out_bytes; /* queued and not yet written */
	QmpCall *calls;
	size_t n_calls;
	int64_t next_id;
	QmpVersion version;
	unsigned greeting_ms, command_ms;
	unsigned backoff_min_ms, backoff_max_ms, backoff_ms;
	uint64_t rx_ns, tx_ns, tx_start_ns;
	int peer_pid;
};

static void conn_close(QmpConn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int conn_connect(QmpConn *c);
static void conn_schedule_reconnect(QmpConn *c);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static QmpConn *conn_ref(QmpConn *c)
{
	c->n_ref++;
	return c;
}

static void conn_unref(QmpConn *c)
{
	if (--c->n_ref > 0)
		return;
	if (c->ev_timer)
		event_free(c->ev_timer);
	if (c->ev_overflow)
		event_free(c->ev_overflow);
	qmp_stream_free(c->stream);
	free(c->path);
	free(c);
}

/* --- calls --- */

static void call_unlink(QmpCall *call)
{
	QmpConn *c = call->conn;

	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
	c->n_calls--;
	event_del(&call->timer);
}

/* Completes and frees @call; it must already be unlinked. */
static void call_complete(QmpCall *call, int r, const QmpValue *ret, const QmpError *err)
{
	if (call->fn)
		call->fn(call->conn, r, ret, err, call->userdata);
	free(call);
}

static void call_fail_all(QmpConn *c, int r, const char *why)
{
	QmpError err = { .klass = "ConnectionError" };

	snprintf(err.desc, sizeof(err.desc), "%s", why);
	/* Completion may issue new calls; drain until empty, each exactly once. */
	while (c->calls) {
		QmpCall *call = c->calls;

		call_unlink(call);
		call_complete(call, r, NULL, &err);
	}
}

static void call_on_timeout(evutil_socket_t fd, short what, void *userdata)
{
	QmpCall *call = userdata;
	QmpConn *c = conn_ref(call->conn);
	QmpError err = { .klass = "Timeout" };

	snprintf(err.desc, sizeof(err.desc), "QEMU did not answer '%s' within %u ms", call->command,
		 call->timeout_ms);
	call_unlink(call);
	call_complete(call, -ETIMEDOUT, NULL, &err);
	conn_unref(c);
}

/* --- output --- */

static void out_free_all(QmpConn *c)
{
	while (c->out_head) {
		OutChunk *o = c->out_head;

		c->out_head = o->next;
		if (o->fd >= 0)
			close(o->fd);
		free(o);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
}

/* One sendmsg() of @len bytes, @fd (if >= 0) riding along: bytes taken, or -errno. */
static ssize_t out_write(QmpConn *c, const char *data, size_t len, int fd)
{
	struct iovec iov = { (void *)data, len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do {
		c->tx_start_ns = now_ns();
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	c->tx_ns = now_ns();
	return n;
}

/* Returns 0 when everything is written or would block, <0 on a dead socket. */
static int out_flush(QmpConn *c)
{
	while (c->out_head) {
		OutChunk *o = c->out_head;
		ssize_t n = out_write(c, o->data + o->off, o->len - o->off, o->off ? -1 : o->fd);

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		if (o->fd >= 0) {
			close(o->fd);
			o->fd = -1;
		}
		o->off += (size_t)n;
		c->out_bytes -= (size_t)n;
		if (o->off < o->len)
			continue;
		c->out_head = o->next;
		if (!c->out_head)
			c->out_tail = NULL;
		free(o);
	}
	if (c->out_head)
		event_add(c->ev_write, NULL);
	else
		event_del(c->ev_write);
	return 0;
}

static void conn_on_writable(evutil_socket_t fd, short what, void *userdata)
{
	QmpConn *c = userdata;
	int r = out_flush(c);

	if (r < 0)
		conn_close(c, r, "writing to QEMU monitor failed: %s", strerror(-r));
}

/* Queues @len bytes behind what waits, with a copy of @fd (if >= 0). */
static int out_queue(QmpConn *c, const char *data, size_t len, int fd)
{
	OutChunk *o = malloc(sizeof(*o) + len);
	int r;

	if (!o)
		return -ENOMEM;
	memcpy(o->data, data, len);
	o->len = len;
	o->off = 0;
	o->next = NULL;
	o->fd = -1;
	if (fd >= 0) {
		o->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (o->fd < 0) {
			r = -errno;
			free(o);
			return r;
		}
	}
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->out_bytes += len;
	return 0;
}

/* Writes {"execute": @command, "arguments": @args, "id": @id} as text. */
static int conn_send(QmpConn *c, const char *command, const char *args, size_t args_len, int64_t id,
		     int fd)
{
	char cmd[160], tail[32], digits[24], small[4096];
	size_t cmd_len = qmp_json_write_string(cmd, sizeof(cmd), command);
	size_t n_digits = 0, tail_len, len, done = 0;
	char *text, *w;
	int r = 0;

	if (cmd_len >= sizeof(cmd))
		return -ENAMETOOLONG;
	/* Ids count up from 1; written by hand, as printf is most of a call's cost. */
	do
		digits[n_digits++] = (char)('0' + (uint64_t)id % 10);
	while ((id = (int64_t)((uint64_t)id / 10)) > 0);
	memcpy(tail, "\"id\":", 5);
	for (tail_len = 5; n_digits > 0;)
		tail[tail_len++] = digits[--n_digits];
	memcpy(tail + tail_len, "}\n", 2);
	tail_len += 2;
	len = strlen("{\"execute\":") + cmd_len + 1 + tail_len;
	if (args)
		len += strlen("\"arguments\":") + args_len + 1;
	/*
	 * A peer that stopped reading would have us queue commands forever. The
	 * call is refused now, the connection closed from the loop (callbacks
	 * never run inside qmp_conn_call()).
	 */
	if (c->out_bytes + len > QMP_OUTPUT_MAX) {
		event_active(c->ev_overflow, 0, 0);
		return -ENOBUFS;
	}
	text = len <= sizeof(small) ? small : malloc(len);
	if (!text)
		return -ENOMEM;
	w = mempcpy(text, "{\"execute\":", strlen("{\"execute\":"));
	w = mempcpy(w, cmd, cmd_len);
	*w++ = ',';
	if (args) {
		w = mempcpy(w, "\"arguments\":", strlen("\"arguments\":"));
		w = mempcpy(w, args, args_len);
		*w++ = ',';
	}
	memcpy(w, tail, tail_len);
	/*
	 * Written through when nothing waits: the common case never waits for
	 * the loop, and never copies the text. Only what the socket did not
	 * take is queued. A dead socket is left to the read handler, so no reply
	 * callback ever runs before qmp_conn_call() has returned.
	 */
	if (!c->out_head && fd < 0) {
		ssize_t n = out_write(c, text, len, -1);

		if (n < 0)
			event_active(c->ev_read, EV_READ, 0);
		done = n < 0 ? len : (size_t)n;
	}
	if (done < len) {
		r = out_queue(c, text + done, len - done, fd);
		if (r == 0 && out_flush(c) < 0)
			event_active(c->ev_read, EV_READ, 0);
		if (r < 0 && done > 0) {
			/* Half a command is out: the stream is lost; the read handler closes it. */
			shutdown(c->fd, SHUT_RDWR);
			event_active(c->ev_read, EV_READ, 0);
			r = 0;
		}
	}
	if (text != small)
		free(text);
	return r;
}

/* @args: NULL or the arguments object as JSON text of @args_len bytes. */
static int call_start(QmpConn *c, const char *command, const char *args, size_t args_len, int fd,
		      json_type expect, unsigned timeout_ms, QmpReplyFn fn, void *userdata)
{
	QmpCall *call;
	struct timeval tv;
	int r;

	if (c->fd < 0)
		return -ENOTCONN;
	call = calloc(1, sizeof(*call));
	if (!call)
		return -ENOMEM;
	call->conn = c;
	call->id = ++c->next_id;
	/* Kept for the timeout's message only. */
	memccpy(call->command, command, 0, sizeof(call->command) - 1);
	call->expect = expect;
	call->timeout_ms = timeout_ms ? timeout_ms : c->command_ms;
	call->fn = fn;
	call->userdata = userdata;
	if (evtimer_assign(&call->timer, c->base, call_on_timeout, call) < 0) {
		free(call);
		return -ENOMEM;
	}

	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	c->n_calls++;

	r = conn_send(c, command, args, args_len, call->id, fd);
	if (r < 0) {
		call_unlink(call);
		free(call);
		return r;
	}
	/* Armed once the command is out: not on the way to QEMU (the loop runs no timer before). */
	ms_to_tv(call->timeout_ms, &tv);
	evtimer_add(&call->timer, &tv);
	return 0;
}

/* Consumes @args: written out as text, then dropped. */
static int call_start_json(QmpConn *c, const char *command, json_object *args, int fd,
			   json_type expect, unsigned timeout_ms, QmpReplyFn fn, void *userdata)
{
	const char *text = NULL;
	size_t len = 0;
	int r;

	if (c->state != QMP_CONN_READY)
		r = -ENOTCONN;
	else if (args &&
		 !(text = json_object_to_json_string_length(args, JSON_C_TO_STRING_PLAIN, &len)))
		r = -ENOMEM;
	else
		r = call_start(c, command, text, len, fd, expect, timeout_ms, fn, userdata);
	if (args)
		json_object_put(args);
	return r;
}

int qmp_conn_call(QmpConn *c, const char *command, json_object *args, json_type expect,
		  unsigned timeout_ms, QmpReplyFn fn, void *userdata)
{
	return call_start_json(c, command, args, -1, expect, timeout_ms, fn, userdata);
}

int qmp_conn_call_with_fd(QmpConn *c, const char *command, json_object *args, int fd,
			  json_type expect, unsigned timeout_ms, QmpReplyFn fn, void *userdata)
{
	if (fd < 0) {
		if (args)
			json_object_put(args);
		return -EBADF;
	}
	return call_start_json(c, command, args, fd, expect, timeout_ms, fn, userdata);
}

int qmp_conn_call_args(QmpConn *c, const char *command, const QmpArgs *args, json_type expect,
		       unsigned timeout_ms, QmpReplyFn fn, void *userdata)
{
	if (args && args->overflow)
		return -EMSGSIZE;
	if (c->state != QMP_CONN_READY)
		return -ENOTCONN;
	return call_start(c, command, args ? args->text : NULL, args ? args->len : 0, -1, expect,
			  timeout_ms, fn, userdata);
}

/* --- input --- */

static void copy_string(char *dst, size_t size, QmpValue obj, const char *key, const char *fallback)
{
	const char *v = qmp_value_get_string(obj, key);

	snprintf(dst, size, "%s", v ? v : fallback);
}

static int parse_error(QmpValue error, QmpError *out)
{
	memset(out, 0, sizeof(*out));
	if (qmp_value_type(error) != json_type_object)
		return -EBADMSG;
	copy_string(out->klass, sizeof(out->klass), error, "class", "GenericError");
	copy_string(out->desc, sizeof(out->desc), error, "desc", "(no description)");
	return 0;
}

static int member_int(QmpValue obj, const char *key, int64_t *out)
{
	QmpValue v;

	return qmp_value_member(obj, key, &v) ? qmp_value_int64(v, out) : -ENOENT;
}

static int parse_greeting(QmpValue msg, QmpVersion *out)
{
	QmpValue qmp, version, qemu;
	int64_t n;

	memset(out, 0, sizeof(*out));
	if (!qmp_value_member(msg, "QMP", &qmp) || !qmp_value_member(qmp, "version", &version) ||
	    !qmp_value_member(version, "qemu", &qemu) || qmp_value_type(qemu) != json_type_object)
		return -EBADMSG;
	if (member_int(qemu, "major", &n) == 0 && n > 0 && n < 1000)
		out->major = (int)n;
	if (member_int(qemu, "minor", &n) == 0 && n >= 0 && n < 1000)
		out->minor = (int)n;
	if (member_int(qemu, "micro", &n) == 0 && n >= 0 && n < 1000)
		out->micro = (int)n;
	copy_string(out->package, sizeof(out->package), version, "package", "");
	if (out->major <= 0)
		return -EBADMSG;
	return 0;
}

static void conn_on_capabilities(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
				 void *userdata)
{
	if (r < 0) {
		if (r != -ECONNRESET && r != -ECANCELED)
			conn_close(c, -EPROTO, "QEMU refused qmp_capabilities: %s", err->desc);
		return;
	}
	c->state = QMP_CONN_READY;
	c->backoff_ms = c->backoff_min_ms;
	if (c->ops.ready)
		c->ops.ready(c, c->userdata);
}

static int conn_on_greeting(QmpConn *c, QmpValue msg)
{
	int r = parse_greeting(msg, &c->version);

	if (r < 0) {
		conn_close(c, -EPROTO, "peer is not a QMP monitor: bad or missing greeting");
		return -EPROTO;
	}
	evtimer_del(c->ev_timer);
	r = call_start(c, "qmp_capabilities", NULL, 0, -1, json_type_object, 0,
		       conn_on_capabilities, NULL);
	if (r < 0 && r != -ENOTCONN) {
		conn_close(c, r, "sending qmp_capabilities failed: %s", strerror(-r));
		return r;
	}
	return 0;
}

static void conn_on_reply(QmpConn *c, QmpValue msg, QmpValue idv)
{
	QmpValue ret, error;
	QmpCall *call;
	int64_t id;

	/* Ids are ours; a reply we no longer wait for (timed out) is dropped. */
	if (qmp_value_int64(idv, &id) < 0)
		return;
	for (call = c->calls; call; call = call->next)
		if (call->id == id)
			break;
	if (!call)
		return;
	call_unlink(call);
	if (qmp_value_member(msg, "return", &ret)) {
		QmpError err = { .klass = "ProtocolError" };
		json_type type = qmp_value_type(ret);

		/* Checked here once, so no callback ever meets a type it did not ask for. */
		if (call->expect != QMP_RETURN_ANY && type != call->expect) {
			snprintf(err.desc, sizeof(err.desc), "reply is %s, expected %s",
				 qmp_json_type_name(type), qmp_json_type_name(call->expect));
			call_complete(call, -EBADMSG, NULL, &err);
			return;
		}
		/* A view into the message: the callback reads it in place, nothing is copied. */
		call_complete(call, 0, &ret, NULL);
	} else if (qmp_value_member(msg, "error", &error)) {
		QmpError err;

		if (parse_error(error, &err) < 0) {
			snprintf(err.klass, sizeof(err.klass), "ProtocolError");
			snprintf(err.desc, sizeof(err.desc),
				 "error member is %s, expected an object",
				 qmp_json_type_name(qmp_value_type(error)));
			call_complete(call, -EBADMSG, NULL, &err);
			return;
		}
		call_complete(call, -EREMOTEIO, NULL, &err);
	} else {
		QmpError err = { .klass = "ProtocolError",
				 .desc = "reply has neither return nor error" };

		call_complete(call, -EBADMSG, NULL, &err);
	}
}

static void conn_on_event(QmpConn *c, QmpValue msg, QmpValue namev)
{
	const char *name = qmp_value_string(namev);
	QmpTimestamp stamp = { 0, 0 };
	QmpValue data, ts;
	bool has_data;

	if (!name)
		return;
	/* QEMU's events carry an object or nothing: anything else is not QEMU. */
	has_data = qmp_value_member(msg, "data", &data);
	if (has_data && qmp_value_type(data) != json_type_object) {
		conn_close(c, -EBADMSG, "event %.64s: data is %s, expected an object", name,
			   qmp_json_type_name(qmp_value_type(data)));
		return;
	}
	if (qmp_value_member(msg, "timestamp", &ts)) {
		(void)member_int(ts, "seconds", &stamp.seconds);
		(void)member_int(ts, "microseconds", &stamp.microseconds);
	}
	if (c->ops.event)
		c->ops.event(c, name, has_data ? &data : NULL, &stamp, c->userdata);
}

static int conn_on_message(const QmpMsg *m, void *userdata)
{
	QmpConn *c = userdata;
	QmpValue msg = qmp_msg_root(m), v;

	if (c->state == QMP_CONN_CONNECTING && c->version.major == 0)
		return conn_on_greeting(c, msg);
	if (qmp_value_member(msg, "event", &v))
		conn_on_event(c, msg, v);
	else if (qmp_value_member(msg, "id", &v))
		conn_on_reply(c, msg, v);
	/* Anything else (id-less errors, late greetings) carries nothing for us. */

	return c->fd < 0 ? -ECONNRESET : 0;
}

static void conn_on_readable(evutil_socket_t fd, short what, void *userdata)
{
	QmpConn *c = conn_ref(userdata);
	char buf[65536];
	int rounds = 0;

	/* Bounded so one chatty QEMU cannot starve the others. */
	while (c->fd >= 0 && rounds++ < 16) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* A reset is how QEMU's exit looks when our bytes were unread. */
			if (errno == ECONNRESET)
				conn_close(c, -ECONNRESET, "QEMU closed the monitor connection");
			else if (errno != EAGAIN)
				conn_close(c, -errno, "reading from QEMU monitor failed: %s",
					   strerror(errno));
			break;
		}
		if (n == 0) {
			conn_close(c, -ECONNRESET, "QEMU closed the monitor connection");
			break;
		}
		c->rx_ns = now_ns();
		r = qmp_stream_feed(c->stream, buf, (size_t)n);
		if (r < 0 && c->fd >= 0)
			conn_close(c, r, "%s", qmp_stream_get_error(c->stream));
		if ((size_t)n < sizeof(buf))
			break;
	}
	conn_unref(c);
}

/* --- lifecycle --- */

static void conn_on_overflow(evutil_socket_t fd, short what, void *userdata)
{
	QmpConn *c = userdata;

	conn_close(c, -ENOBUFS,
		   "QEMU is not reading its monitor: %zu bytes of commands unsent (limit %u)",
		   c->out_bytes, QMP_OUTPUT_MAX);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *userdata)
{
	QmpConn *c = userdata;

	if (c->fd >= 0) {
		conn_close(c, -ETIMEDOUT, "no QMP greeting within %u ms", c->greeting_ms);
		return;
	}
	if (conn_connect(c) < 0)
		conn_schedule_reconnect(c);
}

static void conn_schedule_reconnect(QmpConn *c)
{
	struct timeval tv;

	if (!c->reconnect || c->freed || !c->path)
		return;
	ms_to_tv(c->backoff_ms, &tv);
	evtimer_add(c->ev_timer, &tv);
	c->backoff_ms =
		c->backoff_ms * 2 > c->backoff_max_ms ? c->backoff_max_ms : c->backoff_ms * 2;
}

static int conn_attach_fd(QmpConn *c, int fd)
{
	struct timeval tv;

	c->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST, conn_on_readable, c);
	c->ev_write = event_new(c->base, fd, EV_WRITE, conn_on_writable, c);
	if (!c->ev_read || !c->ev_write) {
		if (c->ev_read)
			event_free(c->ev_read);
		if (c->ev_write)
			event_free(c->ev_write);
		c->ev_read = c->ev_write = NULL;
		close(fd);
		return -ENOMEM;
	}
	{
		struct ucred cred;
		socklen_t len = sizeof(cred);

		c->peer_pid =
			getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
	}
	c->fd = fd;
	c->state = QMP_CONN_CONNECTING;
	memset(&c->version, 0, sizeof(c->version));
	qmp_stream_reset(c->stream);
	event_add(c->ev_read, NULL);
	ms_to_tv(c->greeting_ms, &tv);
	evtimer_add(c->ev_timer, &tv);
	return 0;
}

static int conn_connect(QmpConn *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(c->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->path, strlen(c->path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Unix stream connects complete at once or fail (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return conn_attach_fd(c, fd);
}

static void conn_close(QmpConn *c, int err, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	if (c->fd < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);

	conn_ref(c);
	event_free(c->ev_read);
	event_free(c->ev_write);
	c->ev_read = c->ev_write = NULL;
	evtimer_del(c->ev_timer);
	event_del(c->ev_overflow);
	close(c->fd);
	c->fd = -1;
	c->state = QMP_CONN_DISCONNECTED;
	out_free_all(c);
	qmp_stream_reset(c->stream);

	call_fail_all(c, c->freed ? -ECANCELED : -ECONNRESET, reason);
	if (!c->freed && c->ops.disconnected)
		c->ops.disconnected(c, err, reason, c->userdata);
	if (!c->freed && c->fd < 0)
		conn_schedule_reconnect(c);
	conn_unref(c);
}

void qmp_conn_disconnect(QmpConn *c, int err, const char *reason)
{
	conn_close(c, err, "%s", reason);
}

static int conn_new(QmpConn **out, struct event_base *base, const QmpConnOps *ops, void *userdata)
{
	QmpConn *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->n_ref = 1;
	c->base = base;
	c->fd = -1;
	c->ops = *ops;
	c->userdata = userdata;
	c->greeting_ms = 10000;
	c->command_ms = 10000;
	c->backoff_min_ms = c->backoff_ms = 100;
	c->backoff_max_ms = 5000;
	r = qmp_stream_new(&c->stream, QMP_MESSAGE_MAX, conn_on_message, c);
	if (r < 0) {
		free(c);
		return r;
	}
	c->ev_timer = evtimer_new(base, conn_on_timer, c);
	c->ev_overflow = event_new(base, -1, 0, conn_on_overflow, c);
	if (!c->ev_timer || !c->ev_overflow) {
		conn_unref(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

int qmp_conn_new_connect(QmpConn **out, struct event_base *base, const char *path, bool reconnect,
			 const QmpConnOps *ops, void *userdata)
{
	QmpConn *c;
	int r;

	if (!path || path[0] != '/')
		return -EINVAL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	r = conn_new(&c, base, ops, userdata);
	if (r < 0)
		return r;
	c->path = strdup(path);
	if (!c->path) {
		conn_unref(c);
		return -ENOMEM;
	}
	c->reconnect = reconnect;
	r = conn_connect(c);
	if (r < 0) {
		if (!reconnect) {
			conn_unref(c);
			return r;
		}
		conn_schedule_reconnect(c);
	}
	*out = c;
	return 0;
}

int qmp_conn_new_fd(QmpConn **out, struct event_base *base, int fd, const QmpConnOps *ops,
		    void *userdata)
{
	QmpConn *c;
	int r, flags;

	r = conn_new(&c, base, ops, userdata);
	if (r < 0) {
		close(fd);
		return r;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		conn_unref(c);
		return r;
	}
	r = conn_attach_fd(c, fd);
	if (r < 0) {
		conn_unref(c);
		return r;
	}
	*out = c;
	return 0;
}

QmpConn *qmp_conn_free(QmpConn *c)
{
	if (!c)
		return NULL;
	c->freed = true;
	evtimer_del(c->ev_timer);
	if (c->fd >= 0)
		conn_close(c, -ECANCELED, "connection closed by failoverd");
	call_fail_all(c, -ECANCELED, "connection closed by failoverd");
	conn_unref(c);
	return NULL;
}

QmpConnState qmp_conn_get_state(const QmpConn *c)
{
	return c->state;
}

const QmpVersion *qmp_conn_get_version(const QmpConn *c)
{
	return &c->version;
}

void qmp_conn_set_userdata(QmpConn *c, void *userdata)
{
	c->userdata = userdata;
}

void qmp_conn_set_timeouts(QmpConn *c, unsigned greeting_ms, unsigned command_ms)
{
	if (greeting_ms) {
		c->greeting_ms = greeting_ms;
		if (c->fd >= 0 && c->version.major == 0) {
			struct timeval tv;

			ms_to_tv(greeting_ms, &tv);
			evtimer_add(c->ev_timer, &tv);
		}
	}
	if (command_ms)
		c->command_ms = command_ms;
}

void qmp_conn_set_backoff(QmpConn *c, unsigned min_ms, unsigned max_ms)
{
	if (min_ms)
		c->backoff_min_ms = c->backoff_ms = min_ms;
	if (max_ms >= c->backoff_min_ms)
		c->backoff_max_ms = max_ms;
}

uint64_t qmp_conn_get_rx_ns(const QmpConn *c)
{
	return c->rx_ns;
}

uint64_t qmp_conn_get_tx_ns(const QmpConn *c)
{
	return c->tx_ns;
}

uint64_t qmp_conn_get_tx_start_ns(const QmpConn *c)
{
	return c->tx_start_ns;
}

int qmp_conn_get_peer_pid(const QmpConn *c)
{
	return c->fd >= 0 ? c->peer_pid : 0;
}

size_t qmp_conn_get_n_pending(const QmpConn *c)
{
	return c->n_calls;
}
