#pragma once

/*
 * Asynchronous QMP client on libevent.
 *
 * One QmpConn per QEMU monitor. A connection either dials a unix socket
 * (with reconnect and backoff) or adopts an fd accepted by a QmpListener
 * (zero-config mode: QEMU connects to us). Nothing here logs: failures are
 * negative errno values plus a human-readable reason the caller may print.
 */

#include <event2/event.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Hard cap for one QMP message; query-qmp-schema of QEMU 10 is ~200 KiB. */
#define QMP_MESSAGE_MAX (8u * 1024 * 1024)
/*
 * Hard cap for commands written but not yet taken by the peer (beyond what
 * the socket buffer holds). Commands are a few hundred bytes: a QEMU that
 * stops reading its monitor reaches this, one that is merely slow does not.
 * Over it the connection is closed with -ENOBUFS.
 */
#define QMP_OUTPUT_MAX (1u * 1024 * 1024)
/* Expected reply type for callers that only print or forward the value (tests, tools). */
#define QMP_RETURN_ANY ((json_type)-1)

typedef struct QmpConn QmpConn;
typedef struct QmpListener QmpListener;
typedef struct QmpStream QmpStream;
typedef struct QmpMsg QmpMsg;

/*
 * A value inside a received message (qmp/msg.c): valid only while the
 * callback that was handed it runs. Reading one allocates nothing.
 */
typedef struct QmpValue {
	const QmpMsg *msg;
	uint32_t tok;
} QmpValue;

/*
 * Command arguments written straight as JSON text (no tree is built):
 * members added in order; a value that does not fit sets @overflow, and
 * the call is then refused with -EMSGSIZE.
 */
typedef struct QmpArgs {
	char text[2048];
	size_t len;
	bool overflow;
} QmpArgs;

typedef enum QmpConnState {
	QMP_CONN_DISCONNECTED,
	QMP_CONN_CONNECTING, /* socket connected, greeting/capabilities pending */
	QMP_CONN_READY,
} QmpConnState;

typedef struct QmpError {
	char klass[64]; /* QMP error class, e.g. "GenericError" */
	char desc[512];
} QmpError;

typedef struct QmpTimestamp {
	int64_t seconds;
	int64_t microseconds;
} QmpTimestamp;

typedef struct QmpVersion {
	int major, minor, micro;
	char package[64];
} QmpVersion;

/*
 * Reply callback. r == 0: @ret is the "return" member, of the type the
 * call expected, a view valid only while the callback runs (NULL when
 * r < 0). r == -EREMOTEIO: QEMU answered with an error,
 * described by @err. r == -EBADMSG: the reply was malformed or of another
 * type (@err->desc e.g. "reply is an object, expected an array").
 * r == -ETIMEDOUT, -ECONNRESET (connection lost), -ECANCELED (connection
 * freed): @err->desc says why. Called exactly once per accepted call.
 */
typedef void (*QmpReplyFn)(QmpConn *c, int r, const QmpValue *ret, const QmpError *err,
			   void *userdata);

typedef struct QmpConnOps {
	/* Greeting parsed and qmp_capabilities accepted: commands may be sent. */
	void (*ready)(QmpConn *c, void *userdata);
	/*
	 * Connection lost or refused; @reason is one readable line. -EBADMSG:
	 * the peer broke the protocol; -ENOBUFS: it stopped reading commands.
	 */
	void (*disconnected)(QmpConn *c, int err, const char *reason, void *userdata);
	/* Asynchronous event; @data is NULL or an object (else the connection closes). */
	void (*event)(QmpConn *c, const char *name, const QmpValue *data, const QmpTimestamp *ts,
		      void *userdata);
} QmpConnOps;

/* --- connections --- */

/* Dial @path; when @reconnect, retry with exponential backoff after loss. */
int qmp_conn_new_connect(QmpConn **out, struct event_base *base, const char *path, bool reconnect,
			 const QmpConnOps *ops, void *userdata);
/* Adopt an already connected socket (takes ownership of @fd, even on error). */
int qmp_conn_new_fd(QmpConn **out, struct event_base *base, int fd, const QmpConnOps *ops,
		    void *userdata);
/* Pending calls complete with -ECANCELED. */
QmpConn *qmp_conn_free(QmpConn *c);

QmpConnState qmp_conn_get_state(const QmpConn *c);
const QmpVersion *qmp_conn_get_version(const QmpConn *c);
void qmp_conn_set_userdata(QmpConn *c, void *userdata);
/* Milliseconds to wait for the greeting and per-command default. */
void qmp_conn_set_timeouts(QmpConn *c, unsigned greeting_ms, unsigned command_ms);
/* Reconnect backoff bounds (defaults 100 ms .. 5 s). */
void qmp_conn_set_backoff(QmpConn *c, unsigned min_ms, unsigned max_ms);
/* CLOCK_MONOTONIC ns when the bytes of the message being dispatched arrived. */
uint64_t qmp_conn_get_rx_ns(const QmpConn *c);
/* CLOCK_MONOTONIC ns when the last command's bytes were written to the socket. */
uint64_t qmp_conn_get_tx_ns(const QmpConn *c);
/* ... and when that write started (the rest is the kernel's, waking the peer). */
uint64_t qmp_conn_get_tx_start_ns(const QmpConn *c);
/* The peer's pid from SO_PEERCRED, 0 when not connected or unknown. */
int qmp_conn_get_peer_pid(const QmpConn *c);
/* Closes the socket now (as on EOF); reconnects later if configured. */
void qmp_conn_disconnect(QmpConn *c, int err, const char *reason);

/*
 * Send @command with @args (ownership taken, may be NULL). @expect is the
 * JSON type "return" must have (json_type_object for commands returning
 * {}): any other type completes the call with -EBADMSG before @fn sees a
 * value, so callbacks never handle a type they did not ask for. @timeout_ms
 * 0 uses the connection default. Returns 0 (the callback will run exactly
 * once) or a negative errno (the callback will not run): -ENOTCONN when not
 * READY, -ENOBUFS when the peer has stopped reading (the connection is then
 * closed from the event loop).
 */
int qmp_conn_call(QmpConn *c, const char *command, json_object *args, json_type expect,
		  unsigned timeout_ms, QmpReplyFn fn, void *userdata);
/* Same, with @fd attached as SCM_RIGHTS (for getfd / add-fd); @fd is dup'ed. */
int qmp_conn_call_with_fd(QmpConn *c, const char *command, json_object *args, int fd,
			  json_type expect, unsigned timeout_ms, QmpReplyFn fn, void *userdata);
/* Same, with @args as text (NULL: none); -EMSGSIZE if they overflowed. */
int qmp_conn_call_args(QmpConn *c, const char *command, const QmpArgs *args, json_type expect,
		       unsigned timeout_ms, QmpReplyFn fn, void *userdata);
size_t qmp_conn_get_n_pending(const QmpConn *c);

/* --- listening socket for QEMU-initiated connections --- */

typedef void (*QmpAcceptFn)(QmpListener *l, int fd, void *userdata);

/*
 * Replaces a stale socket at @path; the socket gets @mode and, unless it is
 * (gid_t)-1, group @gid before it listens. Removed again on free.
 */
int qmp_listener_new(QmpListener **out, struct event_base *base, const char *path, unsigned mode,
		     gid_t gid, QmpAcceptFn fn, void *userdata);
/*
 * Adopts @fd, a listening AF_UNIX stream socket bound to a path (systemd
 * socket activation); -ENOTSOCK for anything else. Its file is left alone.
 */
int qmp_listener_new_fd(QmpListener **out, struct event_base *base, int fd, QmpAcceptFn fn,
			void *userdata);
const char *qmp_listener_get_path(const QmpListener *l);
QmpListener *qmp_listener_free(QmpListener *l);

/* --- capability probe --- */

typedef struct QmpProbe {
	QmpVersion version;
	bool standby_failover;	   /* virtio-net-pci has "failover" */
	bool primary_pair_id;	   /* primary driver has "failover_pair_id" */
	bool event_unplug_primary; /* UNPLUG_PRIMARY in query-qmp-schema */
	bool event_failover_negotiated;
	char missing[256]; /* empty when everything needed is there */
} QmpProbe;

/* r == 0 and probe->missing empty: usable. r == -EOPNOTSUPP: see missing. */
typedef void (*QmpProbeFn)(QmpConn *c, int r, const QmpProbe *probe, const char *reason,
			   void *userdata);
int qmp_probe_start(QmpConn *c, const char *primary_driver, QmpProbeFn fn, void *userdata);

/* --- incremental message parser (exposed for tests and fuzzing) --- */

/* Called per complete top-level object; return <0 to stop feeding. */
typedef int (*QmpStreamFn)(const QmpMsg *msg, void *userdata);

int qmp_stream_new(QmpStream **out, size_t max_message, QmpStreamFn fn, void *userdata);
QmpStream *qmp_stream_free(QmpStream *s);
/*
 * Feed bytes. Returns 0, the callback's negative value, -EBADMSG (invalid
 * JSON or not an object) or -EMSGSIZE; the reason is then in
 * qmp_stream_get_error(). After an error the stream must be reset.
 */
int qmp_stream_feed(QmpStream *s, const char *buf, size_t len);
void qmp_stream_reset(QmpStream *s);
const char *qmp_stream_get_error(const QmpStream *s);

/* --- one message, parsed in place (strict RFC 8259 JSON) --- */

int qmp_msg_new(QmpMsg **out);
QmpMsg *qmp_msg_free(QmpMsg *m);
/*
 * Parses the @len bytes at @buf, which must stay until the next parse:
 * strings are decoded in them. -EBADMSG (or -ENOMEM): *@why says what and
 * *@where at which byte.
 */
int qmp_msg_parse(QmpMsg *m, char *buf, size_t len, size_t *where, const char **why);
QmpValue qmp_msg_root(const QmpMsg *m);
json_type qmp_value_type(QmpValue v);
/* Member @key of object @obj (the last one, if the name repeats). */
bool qmp_value_member(QmpValue obj, const char *key, QmpValue *out);
/* The decoded string, NULL if @v is not one. */
const char *qmp_value_string(QmpValue v);
/* @obj[@key] when @obj is an object and the member a string, else NULL. */
const char *qmp_value_get_string(QmpValue obj, const char *key);
int qmp_value_int64(QmpValue v, int64_t *out);
/* 0 and *@out, or -EBADMSG unless @v is a boolean (@obj has a boolean @key). */
int qmp_value_bool(QmpValue v, bool *out);
int qmp_value_get_bool(QmpValue obj, const char *key, bool *out);

/*
 * The elements of an array in order, with nothing allocated:
 *   for (bool more = qmp_iter_init(&it, arr); more; more = qmp_iter_next(&it))
 *           ... it.v ...
 * qmp_iter_init() is false for an empty array or a value that is none.
 */
typedef struct QmpIter {
	QmpValue v;
	uint32_t end;
} QmpIter;
bool qmp_iter_init(QmpIter *it, QmpValue arr);
bool qmp_iter_next(QmpIter *it);
/* A json-c tree of @v (*@out is NULL for null); -ENOMEM. */
int qmp_value_to_json(QmpValue v, json_object **out);
/* @v as compact JSON into @buf (truncated, NUL-terminated); returns the full length. */
size_t qmp_value_format(QmpValue v, char *buf, size_t size);

void qmp_args_init(QmpArgs *a);
void qmp_args_add_string(QmpArgs *a, const char *key, const char *value);
void qmp_args_add_bool(QmpArgs *a, const char *key, bool value);
/* @json is written as it is: for constant values the caller wrote itself. */
void qmp_args_add_json(QmpArgs *a, const char *key, const char *json);
/* @s as a JSON string literal (quoted, escaped); returns the full length. */
size_t qmp_json_write_string(char *buf, size_t size, const char *s);

/* --- typed access inside replies (json-c's getters assert or return NULL) --- */

/* "an object", "an array", "null", ...: for "reply is X, expected Y". */
const char *qmp_json_type_name(json_type type);
/* @obj[@key] when @obj is an object and the member a string, else NULL. */
const char *qmp_json_get_string(json_object *obj, const char *key);
/* 0 and *@out, or -EBADMSG unless @obj is an object with a boolean @key. */
int qmp_json_get_bool(json_object *obj, const char *key, bool *out);

#define _qmp_cleanup_(f) __attribute__((cleanup(f)))
static inline void qmp_conn_freep(QmpConn **c)
{
	qmp_conn_free(*c);
}
static inline void qmp_stream_freep(QmpStream **s)
{
	qmp_stream_free(*s);
}
static inline void json_object_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}
