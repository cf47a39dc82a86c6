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
	struct event *timer;
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
	if (call->timer) {
		event_free(call->timer);
		call->timer = NULL;
	}
}

/* Completes and frees @call; it must already be unlinked. */
static void call_complete(QmpCall *call, int r, json_object *ret, const QmpError *err)
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

/* Returns 0 when everything is written or would block, <0 on a dead socket. */
static int out_flush(QmpConn *c)
{
	while (c->out_head) {
		OutChunk *o = c->out_head;
		struct iovec iov = { o->data + o->off, o->len - o->off };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (o->fd >= 0 && o->off == 0) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = sizeof(ctl.buf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &o->fd, sizeof(int));
		}
		c->tx_start_ns = now_ns();
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		c->tx_ns = now_ns();
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

static int conn_send(QmpConn *c, json_object *msg, int fd)
{
	size_t len;
	const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
	OutChunk *o;
	int r;

	if (!s)
		return -ENOMEM;
	/*
	 * A peer that stopped reading would have us queue commands forever. The
	 * call is refused now, the connection closed from the loop (callbacks
	 * never run inside qmp_conn_call()).
	 */
	if (c->out_bytes + len + 1 > QMP_OUTPUT_MAX) {
		event_active(c->ev_overflow, 0, 0);
		return -ENOBUFS;
	}
	o = malloc(sizeof(*o) + len + 1);
	if (!o)
		return -ENOMEM;
	memcpy(o->data, s, len);
	o->data[len] = '\n';
	o->len = len + 1;
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
	c->out_bytes += o->len;
	/*
	 * Write through: the common case never waits for the loop. A dead
	 * socket is left to the read handler, so no reply callback ever runs
	 * before qmp_conn_call() has returned.
	 */
	r = out_flush(c);
	if (r < 0)
		event_active(c->ev_read, EV_READ, 0);
	return 0;
}

static int call_start(QmpConn *c, const char *command, json_object *args, int fd, json_type expect,
		      unsigned timeout_ms, QmpReplyFn fn, void *userdata)
{
	_qmp_cleanup_(json_object_putp) json_object *msg = NULL;
	QmpCall *call;
	struct timeval tv;
	int r;

	if (c->fd < 0) {
		if (args)
			json_object_put(args);
		return -ENOTCONN;
	}
	msg = json_object_new_object();
	call = calloc(1, sizeof(*call));
	if (!msg || !call) {
		free(call);
		if (args)
			json_object_put(args);
		return -ENOMEM;
	}
	call->conn = c;
	call->id = ++c->next_id;
	snprintf(call->command, sizeof(call->command), "%s", command);
	call->expect = expect;
	call->timeout_ms = timeout_ms ? timeout_ms : c->command_ms;
	call->fn = fn;
	call->userdata = userdata;
	call->timer = evtimer_new(c->base, call_on_timeout, call);
	if (!call->timer) {
		free(call);
		if (args)
			json_object_put(args);
		return -ENOMEM;
	}

	json_object_object_add(msg, "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(msg, "arguments", args);
	json_object_object_add(msg, "id", json_object_new_int64(call->id));

	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	c->n_calls++;
	ms_to_tv(call->timeout_ms, &tv);
	evtimer_add(call->timer, &tv);

	r = conn_send(c, msg, fd);
	if (r < 0) {
		call_unlink(call);
		free(call);
		return r;
	}
	return 0;
}

int qmp_conn_call(QmpConn *c, const char *command, json_object *args, json_type expect,
		  unsigned timeout_ms, QmpReplyFn fn, void *userdata)
{
	if (c->state != QMP_CONN_READY) {
		if (args)
			json_object_put(args);
		return -ENOTCONN;
	}
	return call_start(c, command, args, -1, expect, timeout_ms, fn, userdata);
}

int qmp_conn_call_with_fd(QmpConn *c, const char *command, json_object *args, int fd,
			  json_type expect, unsigned timeout_ms, QmpReplyFn fn, void *userdata)
{
	if (fd < 0) {
		if (args)
			json_object_put(args);
		return -EBADF;
	}
	if (c->state != QMP_CONN_READY) {
		if (args)
			json_object_put(args);
		return -ENOTCONN;
	}
	return call_start(c, command, args, fd, expect, timeout_ms, fn, userdata);
}

/* --- input --- */

int qmp_parse_error(json_object *error, QmpError *out)
{
	json_object *v;

	memset(out, 0, sizeof(*out));
	if (!error || !json_object_is_type(error, json_type_object))
		return -EBADMSG;
	if (json_object_object_get_ex(error, "class", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(out->klass, sizeof(out->klass), "%s", json_object_get_string(v));
	else
		snprintf(out->klass, sizeof(out->klass), "GenericError");
	if (json_object_object_get_ex(error, "desc", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(out->desc, sizeof(out->desc), "%s", json_object_get_string(v));
	else
		snprintf(out->desc, sizeof(out->desc), "(no description)");
	return 0;
}

int qmp_parse_greeting(json_object *msg, QmpVersion *out)
{
	json_object *qmp, *version, *qemu, *v;

	memset(out, 0, sizeof(*out));
	if (!json_object_object_get_ex(msg, "QMP", &qmp) ||
	    !json_object_is_type(qmp, json_type_object))
		return -EBADMSG;
	if (!json_object_object_get_ex(qmp, "version", &version) ||
	    !json_object_object_get_ex(version, "qemu", &qemu) ||
	    !json_object_is_type(qemu, json_type_object))
		return -EBADMSG;
	if (json_object_object_get_ex(qemu, "major", &v) && json_object_is_type(v, json_type_int))
		out->major = json_object_get_int(v);
	if (json_object_object_get_ex(qemu, "minor", &v) && json_object_is_type(v, json_type_int))
		out->minor = json_object_get_int(v);
	if (json_object_object_get_ex(qemu, "micro", &v) && json_object_is_type(v, json_type_int))
		out->micro = json_object_get_int(v);
	if (json_object_object_get_ex(version, "package", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(out->package, sizeof(out->package), "%s", json_object_get_string(v));
	if (out->major <= 0)
		return -EBADMSG;
	return 0;
}

static void conn_on_capabilities(QmpConn *c, int r, json_object *ret, const QmpError *err,
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

static int conn_on_greeting(QmpConn *c, json_object *msg)
{
	int r = qmp_parse_greeting(msg, &c->version);

	if (r < 0) {
		conn_close(c, -EPROTO, "peer is not a QMP monitor: bad or missing greeting");
		return -EPROTO;
	}
	evtimer_del(c->ev_timer);
	r = call_start(c, "qmp_capabilities", NULL, -1, json_type_object, 0, conn_on_capabilities,
		       NULL);
	if (r < 0 && r != -ENOTCONN) {
		conn_close(c, r, "sending qmp_capabilities failed: %s", strerror(-r));
		return r;
	}
	return 0;
}

static void conn_on_reply(QmpConn *c, json_object *msg, json_object *idv)
{
	json_object *ret = NULL, *error = NULL;
	QmpCall *call;
	int64_t id;

	/* Ids are ours; a reply we no longer wait for (timed out) is dropped. */
	if (!json_object_is_type(idv, json_type_int))
		return;
	id = json_object_get_int64(idv);
	for (call = c->calls; call; call = call->next)
		if (call->id == id)
			break;
	if (!call)
		return;
	call_unlink(call);
	if (json_object_object_get_ex(msg, "return", &ret)) {
		QmpError err = { .klass = "ProtocolError" };

		/* Checked here once, so no callback ever meets a type it did not ask for. */
		if (call->expect == QMP_RETURN_ANY || json_object_is_type(ret, call->expect)) {
			call_complete(call, 0, ret, NULL);
			return;
		}
		snprintf(err.desc, sizeof(err.desc), "reply is %s, expected %s",
			 qmp_json_type_name(json_object_get_type(ret)),
			 qmp_json_type_name(call->expect));
		call_complete(call, -EBADMSG, NULL, &err);
	} else if (json_object_object_get_ex(msg, "error", &error)) {
		QmpError err;

		if (qmp_parse_error(error, &err) < 0) {
			snprintf(err.klass, sizeof(err.klass), "ProtocolError");
			snprintf(err.desc, sizeof(err.desc),
				 "error member is %s, expected an object",
				 qmp_json_type_name(json_object_get_type(error)));
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

static void conn_on_event(QmpConn *c, json_object *msg, json_object *name)
{
	json_object *data = NULL, *ts, *v;
	QmpTimestamp stamp = { 0, 0 };

	if (!json_object_is_type(name, json_type_string))
		return;
	/* QEMU's events carry an object or nothing: anything else is not QEMU. */
	if (json_object_object_get_ex(msg, "data", &data) &&
	    !json_object_is_type(data, json_type_object)) {
		conn_close(c, -EBADMSG, "event %.64s: data is %s, expected an object",
			   json_object_get_string(name),
			   qmp_json_type_name(json_object_get_type(data)));
		return;
	}
	if (json_object_object_get_ex(msg, "timestamp", &ts) &&
	    json_object_is_type(ts, json_type_object)) {
		if (json_object_object_get_ex(ts, "seconds", &v) &&
		    json_object_is_type(v, json_type_int))
			stamp.seconds = json_object_get_int64(v);
		if (json_object_object_get_ex(ts, "microseconds", &v) &&
		    json_object_is_type(v, json_type_int))
			stamp.microseconds = json_object_get_int64(v);
	}
	if (c->ops.event)
		c->ops.event(c, json_object_get_string(name), data, &stamp, c->userdata);
}

static int conn_on_message(json_object *msg, void *userdata)
{
	QmpConn *c = userdata;
	json_object *v;

	if (c->state == QMP_CONN_CONNECTING && c->version.major == 0)
		return conn_on_greeting(c, msg);
	if (json_object_object_get_ex(msg, "event", &v))
		conn_on_event(c, msg, v);
	else if (json_object_object_get_ex(msg, "id", &v))
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
