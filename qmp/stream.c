/* Incremental QMP message parser: bytes in, one json object per message out. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"

struct QmpStream {
	json_tokener *tok;
	size_t max_message;
	size_t in_message; /* bytes of the current message fed so far, 0 between messages */
	size_t offset;	   /* total bytes consumed, for error messages */
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
	s->max_message = max_message;
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

int qmp_stream_feed(QmpStream *s, const char *buf, size_t len)
{
	while (len > 0) {
		json_object *msg;
		enum json_tokener_error jerr;
		size_t chunk, used;

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

		/* Never hand the tokener more than the message budget allows. */
		chunk = len;
		if (chunk > s->max_message - s->in_message + 1)
			chunk = s->max_message - s->in_message + 1;
		if (chunk > 1u << 30)
			chunk = 1u << 30;
		chunk = stream_scan(s, buf, chunk);
		if (chunk == 0)
			return stream_fail(s, -EBADMSG, "invalid JSON from peer: %s at byte %zu",
					   "single-quoted string");

		msg = json_tokener_parse_ex(s->tok, buf, (int)chunk);
		jerr = json_tokener_get_error(s->tok);
		if (!msg && jerr == json_tokener_continue) {
			s->in_message += chunk;
			s->offset += chunk;
			buf += chunk;
			len -= chunk;
			if (s->in_message > s->max_message)
				return stream_fail(s, -EMSGSIZE,
						   "invalid QMP stream: %s at byte %zu",
						   "message exceeds the size limit");
			continue;
		}
		if (!msg) {
			/* A "null" literal also parses to NULL: treat like garbage. */
			const char *why = jerr == json_tokener_success
						  ? "not a JSON object"
						  : json_tokener_error_desc(jerr);
			return stream_fail(s, -EBADMSG, "invalid JSON from peer: %s at byte %zu",
					   why);
		}

		used = (size_t)json_tokener_get_parse_end(s->tok);
		if (used > chunk)
			used = chunk;
		buf += used;
		len -= used;
		s->offset += used;
		s->in_message = 0;
		s->depth = 0;
		s->in_string = s->escaped = false;
		json_tokener_reset(s->tok);

		if (!json_object_is_type(msg, json_type_object)) {
			json_object_put(msg);
			return stream_fail(s, -EBADMSG, "invalid QMP stream: %s at byte %zu",
					   "top-level value is not an object");
		}

		int r = s->fn(msg, s->userdata);
		json_object_put(msg);
		if (r < 0)
			return r;
	}
	return 0;
}
