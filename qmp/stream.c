/* Incremental QMP message parser: bytes in, one parsed message (qmp/msg.c) per object out. */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"

struct QmpStream {
	QmpMsg *parsed;
	size_t max_message;
	/*
	 * The current message, collected until complete and only then parsed
	 * in one piece, so the verdict never depends on how bytes arrived.
	 */
	char *msg;
	size_t in_message; /* bytes of the current message so far, 0 between messages */
	size_t msg_cap;
	size_t offset; /* total bytes consumed, for error messages */
	/* A tiny pre-scanner finds where the top-level object ends. */
	unsigned depth;
	bool in_string, escaped;
	QmpStreamFn fn;
	void *userdata;
	char error[160];
};

int qmp_stream_new(QmpStream **out, size_t max_message, QmpStreamFn fn, void *userdata)
{
	QmpStream *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	/* Strict: QEMU emits RFC 8259 JSON; anything else is a broken peer. */
	if (qmp_msg_new(&s->parsed) < 0) {
		free(s);
		return -ENOMEM;
	}
	/* Token offsets are 32-bit. */
	s->max_message = max_message < INT_MAX ? max_message : INT_MAX;
	s->fn = fn;
	s->userdata = userdata;
	*out = s;
	return 0;
}

QmpStream *qmp_stream_free(QmpStream *s)
{
	if (!s)
		return NULL;
	qmp_msg_free(s->parsed);
	free(s->msg);
	free(s);
	return NULL;
}

void qmp_stream_reset(QmpStream *s)
{
	s->in_message = 0;
	s->offset = 0;
	s->depth = 0;
	s->in_string = s->escaped = false;
	s->error[0] = 0;
}

const char *qmp_stream_get_error(const QmpStream *s)
{
	return s->error[0] ? s->error : NULL;
}

static int stream_fail(QmpStream *s, int r, const char *fmt, const char *detail)
{
	snprintf(s->error, sizeof(s->error), fmt, detail, s->offset);
	return r;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Returns how many of @len bytes belong to the current message, or 0 on a
 * single quote outside a string: not JSON, and a brace quoted in one
 * would confuse the scan.
 */
static size_t stream_scan(QmpStream *s, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (s->in_string) {
			if (s->escaped)
				s->escaped = false;
			else if (c == '\\')
				s->escaped = true;
			else if (c == '"')
				s->in_string = false;
			continue;
		}
		if (c == '"')
			s->in_string = true;
		else if (c == '\'')
			return 0;
		else if (c == '{' || c == '[')
			s->depth++;
		else if ((c == '}' || c == ']') && s->depth > 0 && --s->depth == 0)
			return i + 1;
	}
	return len;
}

/* Appends @len bytes to the current message; -EMSGSIZE past the limit. */
static int stream_collect(QmpStream *s, const char *buf, size_t len)
{
	if (len > s->max_message - s->in_message)
		return -EMSGSIZE;
	if (s->in_message + len > s->msg_cap) {
		size_t cap = s->msg_cap ? s->msg_cap : 4096;
		char *n;

		while (cap < s->in_message + len)
			cap = cap > s->max_message / 2 ? s->max_message : cap * 2;
		n = realloc(s->msg, cap);
		if (!n)
			return -ENOMEM;
		s->msg = n;
		s->msg_cap = cap;
	}
	memcpy(s->msg + s->in_message, buf, len);
	s->in_message += len;
	return 0;
}

/* Passes the parsed message on. */
static int stream_deliver(QmpStream *s)
{
	int r = s->fn(s->parsed, s->userdata);

	if (s->msg_cap > 65536) { /* a rare big reply: do not keep its buffer */
		free(s->msg);
		s->msg = NULL;
		s->msg_cap = 0;
	}
	return r;
}

/* Parses the complete message collected so far and passes it on. */
static int stream_dispatch(QmpStream *s)
{
	size_t start = s->offset - s->in_message, where;
	const char *why;
	int r;

	r = qmp_msg_parse(s->parsed, s->msg, s->in_message, &where, &why);
	s->in_message = 0;
	s->depth = 0;
	s->in_string = s->escaped = false;
	if (r < 0) {
		s->offset = start + where;
		return stream_fail(s, r,
				   r == -EBADMSG ? "invalid JSON from peer: %s at byte %zu"
						 : "%s at byte %zu",
				   why);
	}
	return stream_deliver(s);
}

/*
 * QEMU ends every message with a newline, and a JSON string holds none: a
 * line that parses as one object (and whitespace) is that message, found
 * without scanning byte by byte. Anything else - two messages on a line,
 * one over several lines, not JSON - returns 0 and goes the scanning way,
 * which then decides as if this had never been tried. Returns the bytes
 * taken when delivered, or the callback's error.
 */
static int stream_try_line(QmpStream *s, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t line, where;
	const char *why;
	int r;

	if (!nl || (line = (size_t)(nl - buf) + 1) > s->max_message ||
	    stream_collect(s, buf, line) < 0)
		return 0;
	r = qmp_msg_parse(s->parsed, s->msg, line, &where, &why);
	s->in_message = 0;
	if (r < 0)
		return 0;
	s->offset += line;
	r = stream_deliver(s);
	return r < 0 ? r : (int)line;
}

int qmp_stream_feed(QmpStream *s, const char *buf, size_t len)
{
	while (len > 0) {
		size_t chunk;
		int r;

		if (s->in_message == 0) {
			/* Between messages: only whitespace, then an object. */
			while (len > 0 && is_ws(*buf)) {
				buf++;
				len--;
				s->offset++;
			}
			if (len == 0)
				break;
			if (*buf != '{')
				return stream_fail(s, -EBADMSG,
						   "invalid QMP stream: %s at byte %zu",
						   "expected a JSON object");
			r = stream_try_line(s, buf, len);
			if (r < 0)
				return r;
			if (r > 0) {
				buf += r;
				len -= (size_t)r;
				continue;
			}
		}

		/* Never scan or keep more than the message budget allows. */
		chunk = len;
		if (chunk > s->max_message - s->in_message + 1)
			chunk = s->max_message - s->in_message + 1;
		chunk = stream_scan(s, buf, chunk);
		if (chunk == 0)
			return stream_fail(s, -EBADMSG, "invalid JSON from peer: %s at byte %zu",
					   "single-quoted string");
		r = stream_collect(s, buf, chunk);
		if (r == -EMSGSIZE)
			return stream_fail(s, r, "invalid QMP stream: %s at byte %zu",
					   "message exceeds the size limit");
		if (r < 0)
			return stream_fail(s, r, "%s at byte %zu", "out of memory");
		buf += chunk;
		len -= chunk;
		s->offset += chunk;
		/* The opening brace made depth 1: back at 0, the object is complete. */
		if (s->depth == 0) {
			r = stream_dispatch(s);
			if (r < 0)
				return r;
		}
	}
	return 0;
}
