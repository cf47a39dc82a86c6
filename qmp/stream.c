/* Incremental QMP message parser: bytes in, one json object per message out. */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"

struct QmpStream {
	json_tokener *tok;
	size_t max_message;
	/*
	 * The current message, collected until complete and only then handed
	 * to the tokener in one piece: json-c judges a number cut across two
	 * buffers more leniently ("1234" then "-5}" passes as 1234), so
	 * feeding it piecewise made the verdict depend on how bytes arrived.
	 */
	char *msg;
	size_t in_message; /* bytes of the current message so far, 0 between messages */
	size_t msg_cap;
	size_t offset; /* total bytes consumed, for error messages */
	/*
	 * A tiny pre-scanner finds where the top-level object ends, so the
	 * strict tokener only ever sees exactly one message (json-c's strict
	 * mode rejects anything after the value in the same buffer).
	 */
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
	s->tok = json_tokener_new();
	if (!s->tok) {
		free(s);
		return -ENOMEM;
	}
	json_tokener_set_flags(s->tok, JSON_TOKENER_STRICT);
	/* The tokener takes an int length. */
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
	json_tokener_free(s->tok);
	free(s->msg);
	free(s);
	return NULL;
}

void qmp_stream_reset(QmpStream *s)
{
	json_tokener_reset(s->tok);
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
 * single quote outside a string: json-c accepts those even in strict mode,
 * QEMU never sends them, and they would confuse the scan.
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

/* Parses the complete message collected so far and passes it on. */
static int stream_dispatch(QmpStream *s)
{
	size_t start = s->offset - s->in_message, len = s->in_message;
	enum json_tokener_error jerr;
	json_object *msg;
	size_t used;
	int r;

	json_tokener_reset(s->tok);
	msg = json_tokener_parse_ex(s->tok, s->msg, (int)s->in_message);
	jerr = json_tokener_get_error(s->tok);
	used = (size_t)json_tokener_get_parse_end(s->tok);
	s->in_message = 0;
	if (s->msg_cap > 65536) { /* a rare big reply: do not keep its buffer */
		free(s->msg);
		s->msg = NULL;
		s->msg_cap = 0;
	}
	s->depth = 0;
	s->in_string = s->escaped = false;
	if (!msg) {
		/* A "null" literal also parses to NULL: treat like garbage. */
		const char *why = jerr == json_tokener_success	  ? "not a JSON object"
				  : jerr == json_tokener_continue ? "unexpected end of message"
								  : json_tokener_error_desc(jerr);

		s->offset = start + used;
		return stream_fail(s, -EBADMSG, "invalid JSON from peer: %s at byte %zu", why);
	}
	if (used != len) { /* the tokener stopped before the brace the scanner saw */
		json_object_put(msg);
		s->offset = start + used;
		return stream_fail(s, -EBADMSG, "invalid JSON from peer: %s at byte %zu",
				   "unexpected data in the message");
	}
	if (!json_object_is_type(msg, json_type_object)) {
		json_object_put(msg);
		s->offset = start;
		return stream_fail(s, -EBADMSG, "invalid QMP stream: %s at byte %zu",
				   "top-level value is not an object");
	}
	r = s->fn(msg, s->userdata);
	json_object_put(msg);
	return r;
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
