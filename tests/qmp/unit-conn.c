/*
 * QmpConn against a FAKE QMP peer: the test plays QEMU on the other end of
 * a socketpair (or a listening socket) and scripts exactly what it sends.
 * The real-QEMU behaviour is covered by tests/qmp/qemu-*.c.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

#define GREETING                                                                                   \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, "         \
	"\"package\": \"Debian 1:10.0.2\"}, \"capabilities\": [\"oob\"]}}\r\n"

typedef struct Reply {
	int r;
	char klass[64];
	char desc[512];
	char ret[256];
} Reply;

typedef struct Fixture {
	struct event_base *base;
	QmpConn *conn;
	int peer; /* the fake QEMU's end */
	int n_ready, n_disconnected, disconnect_err;
	char reason[512];
	int n_events;
	char event[64];
	char event_device[64];
	QmpTimestamp ts;
	Reply replies[8];
	int n_replies;
} Fixture;

static Fixture fx;

/* Runs the loop until *@counter reaches @want or @ms pass. */
static int spin_until(int *counter, int want, unsigned ms)
{
	int64_t end = test_now_ms() + ms;

	while (*counter < want && test_now_ms() < end) {
		event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(500);
	}
	return *counter >= want ? 0 : -ETIMEDOUT;
}

static void on_ready(QmpConn *c, void *ud)
{
	fx.n_ready++;
}

static void on_disconnected(QmpConn *c, int err, const char *reason, void *ud)
{
	fx.n_disconnected++;
	fx.disconnect_err = err;
	snprintf(fx.reason, sizeof(fx.reason), "%s", reason);
}

static void on_event(QmpConn *c, const char *name, const QmpValue *data, const QmpTimestamp *ts,
		     void *ud)
{
	const char *device = data ? qmp_value_get_string(*data, "device-id") : NULL;

	fx.n_events++;
	snprintf(fx.event, sizeof(fx.event), "%s", name);
	snprintf(fx.event_device, sizeof(fx.event_device), "%s", device ? device : "(none)");
	fx.ts = *ts;
}

static const QmpConnOps ops = { on_ready, on_disconnected, on_event };

static void on_reply(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	Reply *rp = &fx.replies[(intptr_t)ud % 8];

	rp->r = r;
	if (err) {
		snprintf(rp->klass, sizeof(rp->klass), "%s", err->klass);
		snprintf(rp->desc, sizeof(rp->desc), "%s", err->desc);
	}
	if (ret)
		qmp_value_format(*ret, rp->ret, sizeof(rp->ret));
	fx.n_replies++;
}

static void peer_send(const char *s)
{
	ck_assert_int_eq(write(fx.peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads one command line from the client; returns its id, fills @execute. */
static long peer_recv_cmd(int fd, char *execute, size_t size)
{
	char line[4096];
	size_t n = 0;
	json_object *o, *v;
	long id = -1;

	while (n < sizeof(line) - 1) {
		struct pollfd p = { fd, POLLIN, 0 };

		ck_assert_int_eq(poll(&p, 1, 2000), 1);
		ck_assert_int_eq(read(fd, line + n, 1), 1);
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	o = json_tokener_parse(line);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "execute", &v));
	snprintf(execute, size, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "id", &v))
		id = json_object_get_int64(v);
	json_object_put(o);
	return id;
}

static void peer_reply(long id, const char *ret)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "{\"return\": %s, \"id\": %ld}\r\n", ret, id);
	peer_send(buf);
}

/* Greets, accepts qmp_capabilities, and waits for ready. */
static void handshake(void)
{
	char cmd[64];
	long id;

	peer_send(GREETING);
	event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	id = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
	ck_assert_str_eq(cmd, "qmp_capabilities");
	peer_reply(id, "{}");
	ck_assert_int_eq(spin_until(&fx.n_ready, 1, 2000), 0);
}

static void setup(void)
{
	int sv[2];

	memset(&fx, 0, sizeof(fx));
	fx.base = event_base_new();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fx.peer = sv[1];
	ck_assert_int_eq(qmp_conn_new_fd(&fx.conn, fx.base, sv[0], &ops, NULL), 0);
}

static void teardown(void)
{
	qmp_conn_free(fx.conn);
	if (fx.peer >= 0)
		close(fx.peer);
	event_base_free(fx.base);
}

START_TEST(test_handshake_and_version)
{
	ck_assert_int_eq(qmp_conn_get_state(fx.conn), QMP_CONN_CONNECTING);
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "query-status", NULL, json_type_object, 0, on_reply, 0),
		-ENOTCONN);
	handshake();
	ck_assert_int_eq(qmp_conn_get_state(fx.conn), QMP_CONN_READY);
	ck_assert_int_eq(qmp_conn_get_version(fx.conn)->major, 10);
	ck_assert_int_eq(qmp_conn_get_version(fx.conn)->micro, 2);
	ck_assert_str_eq(qmp_conn_get_version(fx.conn)->package, "Debian 1:10.0.2");
}
END_TEST

START_TEST(test_replies_matched_out_of_order)
{
	char cmd[64];
	long id0, id1;

	handshake();
	ck_assert_int_eq(qmp_conn_call(fx.conn, "query-name", NULL, json_type_object, 0, on_reply,
				       (void *)0),
			 0);
	ck_assert_int_eq(qmp_conn_call(fx.conn, "query-status", NULL, json_type_object, 0, on_reply,
				       (void *)1),
			 0);
	id0 = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
	ck_assert_str_eq(cmd, "query-name");
	id1 = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
	ck_assert_str_eq(cmd, "query-status");
	ck_assert_int_ne(id0, id1);
	peer_reply(id1, "{\"status\":\"running\"}");
	peer_reply(id0, "{\"name\":\"vm1\"}");
	ck_assert_int_eq(spin_until(&fx.n_replies, 2, 2000), 0);
	ck_assert_int_eq(fx.replies[0].r, 0);
	ck_assert_str_eq(fx.replies[0].ret, "{\"name\":\"vm1\"}");
	ck_assert_str_eq(fx.replies[1].ret, "{\"status\":\"running\"}");
	ck_assert_int_eq(qmp_conn_get_n_pending(fx.conn), 0);
}
END_TEST

START_TEST(test_error_reply_has_class_and_desc)
{
	char cmd[64], buf[256];
	long id;

	handshake();
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "device_del", NULL, json_type_object, 0, on_reply, 0), 0);
	id = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
	snprintf(buf, sizeof(buf),
		 "{\"id\": %ld, \"error\": {\"class\": \"DeviceNotFound\", \"desc\": "
		 "\"Device 'hostdev0' not found\"}}\r\n",
		 id);
	peer_send(buf);
	ck_assert_int_eq(spin_until(&fx.n_replies, 1, 2000), 0);
	ck_assert_int_eq(fx.replies[0].r, -EREMOTEIO);
	ck_assert_str_eq(fx.replies[0].klass, "DeviceNotFound");
	ck_assert_str_eq(fx.replies[0].desc, "Device 'hostdev0' not found");
}
END_TEST

START_TEST(test_event_with_timestamp)
{
	handshake();
	peer_send("{\"timestamp\": {\"seconds\": 1764345600, \"microseconds\": 250001}, "
		  "\"event\": \"FAILOVER_NEGOTIATED\", \"data\": {\"device-id\": \"net0\"}}\r\n");
	ck_assert_int_eq(spin_until(&fx.n_events, 1, 2000), 0);
	ck_assert_str_eq(fx.event, "FAILOVER_NEGOTIATED");
	ck_assert_int_eq(fx.ts.seconds, 1764345600);
	ck_assert_int_eq(fx.ts.microseconds, 250001);
}
END_TEST

/* Ids are the user's: whatever QEMU escaped reaches the handler as it was named. */
START_TEST(test_event_data_decoded)
{
	handshake();
	peer_send("{\"event\": \"UNPLUG_PRIMARY\", \"data\": {\"device-id\": "
		  "\"fo-\\\"p\\u00e9\\/0\"}}\r\n");
	ck_assert_int_eq(spin_until(&fx.n_events, 1, 2000), 0);
	ck_assert_str_eq(fx.event_device, "fo-\"p\xc3\xa9/0");
	/* A member of another type is absent to the handler, not misread. */
	peer_send("{\"event\": \"UNPLUG_PRIMARY\", \"data\": {\"device-id\": 7}}\r\n");
	ck_assert_int_eq(spin_until(&fx.n_events, 2, 2000), 0);
	ck_assert_str_eq(fx.event_device, "(none)");
	ck_assert_int_eq(fx.n_disconnected, 0);
}
END_TEST

/* Arguments written as text arrive as the JSON the caller meant; too long ones never leave. */
START_TEST(test_text_args)
{
	char line[4096], big[3000];
	size_t n = 0;
	json_object *o, *v;
	QmpArgs a;

	handshake();
	qmp_args_init(&a);
	qmp_args_add_string(&a, "id", "fo-\"p0\\");
	qmp_args_add_bool(&a, "failover", true);
	ck_assert_int_eq(
		qmp_conn_call_args(fx.conn, "device_add", &a, json_type_object, 0, on_reply, 0), 0);
	while (n < sizeof(line) - 1 && read(fx.peer, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = 0;
	o = json_tokener_parse(line);
	ck_assert_msg(o != NULL, "not JSON: %s", line);
	ck_assert_str_eq(qmp_json_get_string(o, "execute"), "device_add");
	ck_assert(json_object_object_get_ex(o, "arguments", &v));
	ck_assert_str_eq(qmp_json_get_string(v, "id"), "fo-\"p0\\");
	ck_assert(json_object_object_get_ex(o, "id", &v));
	ck_assert(json_object_is_type(v, json_type_int));
	json_object_put(o);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	qmp_args_init(&a);
	qmp_args_add_string(&a, "host", big);
	ck_assert_int_eq(
		qmp_conn_call_args(fx.conn, "device_add", &a, json_type_object, 0, on_reply, 0),
		-EMSGSIZE);
	ck_assert_int_eq(qmp_conn_get_n_pending(fx.conn), 1);
}
END_TEST

START_TEST(test_timeout_then_late_reply_ignored)
{
	char cmd[64];
	long id;

	handshake();
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "query-migrate", NULL, json_type_object, 50, on_reply, 0),
		0);
	id = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
	ck_assert_int_eq(spin_until(&fx.n_replies, 1, 2000), 0);
	ck_assert_int_eq(fx.replies[0].r, -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(fx.replies[0].desc, "query-migrate"));
	peer_reply(id, "{}");
	spin_until(&fx.n_replies, 2, 200);
	ck_assert_int_eq(fx.n_replies, 1);
	ck_assert_int_eq(fx.n_disconnected, 0);
}
END_TEST

START_TEST(test_eof_fails_each_pending_once)
{
	handshake();
	for (intptr_t i = 0; i < 3; i++)
		ck_assert_int_eq(qmp_conn_call(fx.conn, "query-status", NULL, json_type_object, 0,
					       on_reply, (void *)i),
				 0);
	close(fx.peer);
	fx.peer = -1;
	ck_assert_int_eq(spin_until(&fx.n_disconnected, 1, 2000), 0);
	spin_until(&fx.n_replies, 4, 200);
	ck_assert_int_eq(fx.n_replies, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(fx.replies[i].r, -ECONNRESET);
		ck_assert_ptr_nonnull(strstr(fx.replies[i].desc, "closed"));
	}
	ck_assert_int_eq(fx.n_disconnected, 1);
	ck_assert_int_eq(qmp_conn_get_state(fx.conn), QMP_CONN_DISCONNECTED);
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "query-status", NULL, json_type_object, 0, on_reply, 0),
		-ENOTCONN);
}
END_TEST

START_TEST(test_garbage_closes_connection)
{
	handshake();
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "query-status", NULL, json_type_object, 0, on_reply, 0), 0);
	peer_send("{\"return\": {}, \"id\": oops}\r\n");
	ck_assert_int_eq(spin_until(&fx.n_disconnected, 1, 2000), 0);
	ck_assert_ptr_nonnull(strstr(fx.reason, "invalid JSON"));
	ck_assert_int_eq(fx.n_replies, 1);
	ck_assert_int_eq(fx.replies[0].r, -ECONNRESET);
}
END_TEST

START_TEST(test_not_qmp_peer)
{
	peer_send("{\"hello\": \"world\"}\n");
	ck_assert_int_eq(spin_until(&fx.n_disconnected, 1, 2000), 0);
	ck_assert_ptr_nonnull(strstr(fx.reason, "greeting"));
	ck_assert_int_eq(fx.n_ready, 0);
}
END_TEST

START_TEST(test_greeting_timeout)
{
	qmp_conn_free(fx.conn);
	{
		int sv[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		close(fx.peer);
		fx.peer = sv[1];
		ck_assert_int_eq(qmp_conn_new_fd(&fx.conn, fx.base, sv[0], &ops, NULL), 0);
	}
	qmp_conn_set_timeouts(fx.conn, 100, 0);
	ck_assert_int_eq(spin_until(&fx.n_disconnected, 1, 2000), 0);
	ck_assert_ptr_nonnull(strstr(fx.reason, "no QMP greeting"));
}
END_TEST

START_TEST(test_free_cancels_pending)
{
	handshake();
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "query-status", NULL, json_type_object, 0, on_reply, 0), 0);
	fx.conn = qmp_conn_free(fx.conn);
	ck_assert_int_eq(fx.n_replies, 1);
	ck_assert_int_eq(fx.replies[0].r, -ECANCELED);
	ck_assert_int_eq(fx.n_disconnected, 0);
}
END_TEST

START_TEST(test_fd_passing)
{
	char path[] = "/tmp/failoverd-unit-fd-XXXXXX", cmd[64], data[4096];
	int tmp = mkstemp(path), got = -1;
	struct stat a, b;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { data, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	json_object *args = json_object_new_object();

	ck_assert_int_ge(tmp, 0);
	unlink(path);
	handshake();
	json_object_object_add(args, "fdname", json_object_new_string("tap0"));
	ck_assert_int_eq(qmp_conn_call_with_fd(fx.conn, "getfd", args, tmp, json_type_object, 0,
					       on_reply, 0),
			 0);

	/* The fd must ride on the first byte of the getfd command. */
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	ck_assert_int_eq(recvmsg(fx.peer, &mh, 0), 1);
	ck_assert_int_eq(data[0], '{');
	cm = CMSG_FIRSTHDR(&mh);
	ck_assert_ptr_nonnull(cm);
	ck_assert_int_eq(cm->cmsg_type, SCM_RIGHTS);
	memcpy(&got, CMSG_DATA(cm), sizeof(int));
	ck_assert_int_eq(fstat(tmp, &a), 0);
	ck_assert_int_eq(fstat(got, &b), 0);
	ck_assert_int_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(a.st_dev, b.st_dev);
	close(got);
	close(tmp);
	ck_assert_int_gt(read(fx.peer, data, sizeof(data)), 0);
	ck_assert_ptr_nonnull(strstr(data, "\"getfd\""));
	ck_assert_int_eq(
		qmp_conn_call_with_fd(fx.conn, "getfd", NULL, -1, json_type_object, 0, on_reply, 0),
		-EBADF);
	(void)cmd;
}
END_TEST

/* Wrong-typed replies never reach the callback: -EBADMSG and a description instead. */
static const struct {
	json_type expect;
	const char *reply, *desc;
} bad_replies[] = {
	{ json_type_array, "{}", "reply is an object, expected an array" },
	{ json_type_string, "null", "reply is null, expected a string" },
	{ json_type_object, "5", "reply is an integer, expected an object" },
	{ json_type_boolean, "\"on\"", "reply is a string, expected a boolean" },
	{ json_type_object, "[{\"name\": \"x\"}]", "reply is an array, expected an object" },
	{ json_type_array, "1.5", "reply is a number, expected an array" },
};

START_TEST(test_reply_of_wrong_type)
{
	char cmd[64];
	long id;

	handshake();
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "qom-list", NULL, bad_replies[_i].expect, 0, on_reply, 0),
		0);
	id = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
	peer_reply(id, bad_replies[_i].reply);
	ck_assert_int_eq(spin_until(&fx.n_replies, 1, 2000), 0);
	ck_assert_int_eq(fx.replies[0].r, -EBADMSG);
	ck_assert_str_eq(fx.replies[0].ret, "");
	ck_assert_str_eq(fx.replies[0].desc, bad_replies[_i].desc);
	/* Only that call failed: the connection goes on. */
	ck_assert_int_eq(fx.n_disconnected, 0);
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "qom-get", NULL, json_type_null, 0, on_reply, (void *)1), 0);
	id = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
	peer_reply(id, "null");
	ck_assert_int_eq(spin_until(&fx.n_replies, 2, 2000), 0);
	ck_assert_int_eq(fx.replies[1].r, 0);
}
END_TEST

START_TEST(test_error_of_wrong_type)
{
	char cmd[64], buf[128];
	long id;

	handshake();
	ck_assert_int_eq(
		qmp_conn_call(fx.conn, "device_del", NULL, json_type_object, 0, on_reply, 0), 0);
	id = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
	snprintf(buf, sizeof(buf), "{\"id\": %ld, \"error\": \"DeviceNotFound\"}\r\n", id);
	peer_send(buf);
	ck_assert_int_eq(spin_until(&fx.n_replies, 1, 2000), 0);
	ck_assert_int_eq(fx.replies[0].r, -EBADMSG);
	ck_assert_str_eq(fx.replies[0].desc, "error member is a string, expected an object");
}
END_TEST

/* An event's data is an object or absent; anything else is not QEMU. */
START_TEST(test_event_data_not_object)
{
	handshake();
	peer_send("{\"event\": \"STOP\"}\r\n");
	ck_assert_int_eq(spin_until(&fx.n_events, 1, 2000), 0);
	peer_send("{\"event\": \"MIGRATION\", \"data\": 5}\r\n");
	ck_assert_int_eq(spin_until(&fx.n_disconnected, 1, 2000), 0);
	ck_assert_int_eq(fx.n_events, 1);
	ck_assert_int_eq(fx.disconnect_err, -EBADMSG);
	ck_assert_str_eq(fx.reason, "event MIGRATION: data is an integer, expected an object");
}
END_TEST

/* A QEMU that never reads its monitor: the queue stops growing at the cap. */
START_TEST(test_peer_not_reading_is_dropped)
{
	char pad[64 * 1024];
	int r = 0;
	size_t n;

	handshake();
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	/* Far more than the socket buffer and the cap hold; the peer reads nothing. */
	for (n = 0; n < 4 * QMP_OUTPUT_MAX / sizeof(pad) + 64 && r == 0; n++) {
		json_object *args = json_object_new_object();

		json_object_object_add(args, "pad", json_object_new_string(pad));
		r = qmp_conn_call(fx.conn, "qom-set", args, json_type_object, 600000, on_reply, 0);
	}
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_int_eq(spin_until(&fx.n_disconnected, 1, 2000), 0);
	ck_assert_ptr_nonnull(strstr(fx.reason, "not reading"));
	ck_assert_int_eq(fx.disconnect_err, -ENOBUFS);
	/* Every accepted call completed once; none after the refusal. */
	ck_assert_int_eq(fx.n_replies, (int)n - 1);
	ck_assert_int_eq(qmp_conn_get_n_pending(fx.conn), 0);
}
END_TEST

/* --- reconnect and listener, over real unix sockets in a temp dir --- */

static char sockdir[64];

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

static int accept_within(int lfd, unsigned ms)
{
	int64_t end = test_now_ms() + ms;

	while (test_now_ms() < end) {
		struct pollfd p = { lfd, POLLIN, 0 };

		event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (poll(&p, 1, 5) == 1)
			return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	return -1;
}

START_TEST(test_reconnect_with_backoff)
{
	char path[128];
	int lfd;

	qmp_conn_free(fx.conn);
	close(fx.peer);
	snprintf(sockdir, sizeof(sockdir), "/tmp/failoverd-unit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sockdir));
	snprintf(path, sizeof(path), "%s/vm.qmp", sockdir);

	/* QEMU not started yet: the client keeps trying. */
	ck_assert_int_eq(qmp_conn_new_connect(&fx.conn, fx.base, path, true, &ops, NULL), 0);
	qmp_conn_set_backoff(fx.conn, 20, 100);
	ck_assert_int_eq(qmp_conn_get_state(fx.conn), QMP_CONN_DISCONNECTED);
	lfd = listen_on(path);
	fx.peer = accept_within(lfd, 3000);
	ck_assert_int_ge(fx.peer, 0);
	handshake();

	/* QEMU restarts: connection lost, then re-established by itself. */
	close(fx.peer);
	ck_assert_int_eq(spin_until(&fx.n_disconnected, 1, 2000), 0);
	fx.peer = accept_within(lfd, 3000);
	ck_assert_int_ge(fx.peer, 0);
	peer_send(GREETING);
	{
		char cmd[64];
		long id;

		event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		id = peer_recv_cmd(fx.peer, cmd, sizeof(cmd));
		peer_reply(id, "{}");
	}
	ck_assert_int_eq(spin_until(&fx.n_ready, 2, 2000), 0);
	close(lfd);
	unlink(path);
	rmdir(sockdir);
}
END_TEST

START_TEST(test_connect_without_reconnect_fails)
{
	QmpConn *c = NULL;

	ck_assert_int_eq(qmp_conn_new_connect(&c, fx.base, "/nonexistent/failoverd/vm.qmp", false,
					      &ops, NULL),
			 -ENOENT);
	ck_assert_int_eq(qmp_conn_new_connect(&c, fx.base, "relative.qmp", true, &ops, NULL),
			 -EINVAL);
}
END_TEST

static int n_accepted;
static int accepted_fd = -1;

static void on_accept(QmpListener *l, int fd, void *ud)
{
	n_accepted++;
	accepted_fd = fd;
}

START_TEST(test_listener_accepts_and_replaces_stale)
{
	char path[128];
	QmpListener *l = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, stale;

	snprintf(sockdir, sizeof(sockdir), "/tmp/failoverd-unit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sockdir));
	snprintf(path, sizeof(path), "%s/listen.qmp", sockdir);
	stale = listen_on(path); /* a previous daemon's socket */
	close(stale);

	ck_assert_int_eq(qmp_listener_new(&l, fx.base, path, 0600, (gid_t)-1, on_accept, NULL), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(spin_until(&n_accepted, 1, 2000), 0);
	ck_assert_int_ge(accepted_fd, 0);
	close(accepted_fd);
	close(fd);
	l = qmp_listener_free(l);
	ck_assert_int_ne(access(path, F_OK), 0);

	/* A regular file at the path is never deleted. */
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	ck_assert_int_eq(qmp_listener_new(&l, fx.base, path, 0600, (gid_t)-1, on_accept, NULL),
			 -EEXIST);
	ck_assert_int_eq(access(path, F_OK), 0);
	unlink(path);
	rmdir(sockdir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qmp-conn");
	TCase *tc = tcase_create("fake-peer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_handshake_and_version);
	tcase_add_test(tc, test_replies_matched_out_of_order);
	tcase_add_test(tc, test_error_reply_has_class_and_desc);
	tcase_add_test(tc, test_event_with_timestamp);
	tcase_add_test(tc, test_event_data_decoded);
	tcase_add_test(tc, test_text_args);
	tcase_add_test(tc, test_timeout_then_late_reply_ignored);
	tcase_add_test(tc, test_eof_fails_each_pending_once);
	tcase_add_test(tc, test_garbage_closes_connection);
	tcase_add_test(tc, test_not_qmp_peer);
	tcase_add_test(tc, test_greeting_timeout);
	tcase_add_test(tc, test_free_cancels_pending);
	tcase_add_test(tc, test_fd_passing);
	tcase_add_loop_test(tc, test_reply_of_wrong_type, 0,
			    sizeof(bad_replies) / sizeof(bad_replies[0]));
	tcase_add_test(tc, test_error_of_wrong_type);
	tcase_add_test(tc, test_event_data_not_object);
	tcase_add_test(tc, test_peer_not_reading_is_dropped);
	tcase_add_test(tc, test_reconnect_with_backoff);
	tcase_add_test(tc, test_connect_without_reconnect_fails);
	tcase_add_test(tc, test_listener_accepts_and_replaces_stale);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
