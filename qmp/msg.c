/*
 * A received QMP message, parsed in place.
 *
 * The message bytes are validated as strict RFC 8259 JSON into a flat
 * array of tokens; strings are decoded where they stand (a decoded string
 * and its NUL never outgrow the quoted text). Nothing is allocated per
 * message once the token array has grown to fit: an event is read and
 * acted on without building a tree (docs/performance.md, "The decide
 * path"), and so is a reply: its callback gets a QmpValue view of the
 * "return" member (arrays walked with QmpIter). A json-c tree is made only
 * on request (qmp_value_to_json()), for callers that keep one.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"

/* QEMU's deepest reply (query-qmp-schema) nests 6 levels. */
#define MSG_MAX_DEPTH 64
/* A token array grown past this for one big reply is not kept. */
#define MSG_KEEP_TOKENS 4096

typedef struct MsgTok {
	uint32_t start; /* strings: the decoded text (NUL-terminated) starts here */
	uint32_t len;	/* strings: decoded length; numbers and literals: raw length */
	uint32_t end;	/* index of the first token after this value and its members */
	json_type type;
} MsgTok;

struct QmpMsg {
	char *buf;
	size_t len, pos;
	MsgTok *toks;
	size_t n_toks, cap_toks;
	const char *why;
};

int qmp_msg_new(QmpMsg **out)
{
	QmpMsg *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	*out = m;
	return 0;
}

QmpMsg *qmp_msg_free(QmpMsg *m)
{
	if (!m)
		return NULL;
	free(m->toks);
	free(m);
	return NULL;
}

static int msg_fail(QmpMsg *m, const char *why)
{
	m->why = why;
	return -EBADMSG;
}

static int msg_push(QmpMsg *m, json_type type, size_t start, uint32_t *index)
{
	if (m->n_toks == m->cap_toks) {
		size_t cap = m->cap_toks ? m->cap_toks * 2 : 64;
		MsgTok *n;

		if (cap > UINT32_MAX)
			return -ENOMEM;
		n = realloc(m->toks, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		m->toks = n;
		m->cap_toks = cap;
	}
	*index = (uint32_t)m->n_toks++;
	m->toks[*index] = (MsgTok){ .start = (uint32_t)start, .type = type };
	return 0;
}

static void msg_skip_ws(QmpMsg *m)
{
	while (m->pos < m->len && (m->buf[m->pos] == ' ' || m->buf[m->pos] == '\t' ||
				   m->buf[m->pos] == '\n' || m->buf[m->pos] == '\r'))
		m->pos++;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int k = 0; k < 4; k++) {
		char c = s[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EBADMSG;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *w, unsigned cp)
{
	if (cp < 0x80) {
		w[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		w[0] = (char)(0xc0 | (cp >> 6));
		w[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		w[0] = (char)(0xe0 | (cp >> 12));
		w[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		w[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	w[0] = (char)(0xf0 | (cp >> 18));
	w[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	w[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	w[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* An escape after the backslash at m->pos - 1; decoded bytes go to *@w. */
static int msg_unescape(QmpMsg *m, size_t *w)
{
	static const char simple_in[] = "\"\\/bfnrt", simple_out[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned cp, lo;

	if (m->pos >= m->len)
		return msg_fail(m, "unterminated string");
	hit = strchr(simple_in, m->buf[m->pos]);
	if (hit && *hit) {
		m->buf[(*w)++] = simple_out[hit - simple_in];
		m->pos++;
		return 0;
	}
	if (m->buf[m->pos] != 'u' || m->len - m->pos < 5 || hex4(m->buf + m->pos + 1, &cp) < 0)
		return msg_fail(m, "invalid escape in string");
	m->pos += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return msg_fail(m, "unpaired surrogate in string");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (m->len - m->pos < 6 || m->buf[m->pos] != '\\' || m->buf[m->pos + 1] != 'u' ||
		    hex4(m->buf + m->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return msg_fail(m, "unpaired surrogate in string");
		m->pos += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*w += put_utf8(m->buf + *w, cp);
	return 0;
}

/* At the opening quote. The decoded text overwrites the quoted one from the quote on. */
static int msg_string(QmpMsg *m)
{
	size_t start = m->pos, w = start;
	uint32_t t;
	int r;

	m->pos++;
	for (;;) {
		unsigned char c;

		if (m->pos >= m->len)
			return msg_fail(m, "unterminated string");
		c = (unsigned char)m->buf[m->pos];
		if (c == '"')
			break;
		if (c < 0x20)
			return msg_fail(m, "control character in string");
		m->pos++;
		if (c == '\\') {
			r = msg_unescape(m, &w);
			if (r < 0)
				return r;
		} else
			m->buf[w++] = (char)c;
	}
	m->buf[w] = 0; /* at most where the closing quote was */
	m->pos++;
	r = msg_push(m, json_type_string, start, &t);
	if (r < 0)
		return r;
	m->toks[t].len = (uint32_t)(w - start);
	m->toks[t].end = t + 1;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* @s: @n bytes of validated integer syntax (no leading zeros). */
static bool fits_int64(const char *s, size_t n)
{
	bool negative = *s == '-';
	const char *limit = negative ? "9223372036854775808" : "9223372036854775807";

	s += negative;
	n -= negative;
	return n < 19 || (n == 19 && memcmp(s, limit, 19) <= 0);
}

static int msg_number(QmpMsg *m)
{
	size_t start = m->pos;
	bool integer = true;
	uint32_t t;
	int r;

	if (m->buf[m->pos] == '-')
		m->pos++;
	if (m->pos < m->len && m->buf[m->pos] == '0')
		m->pos++;
	else if (m->pos < m->len && is_digit(m->buf[m->pos]))
		while (m->pos < m->len && is_digit(m->buf[m->pos]))
			m->pos++;
	else
		return msg_fail(m, "invalid number");
	if (m->pos < m->len && m->buf[m->pos] == '.') {
		integer = false;
		if (++m->pos >= m->len || !is_digit(m->buf[m->pos]))
			return msg_fail(m, "invalid number");
		while (m->pos < m->len && is_digit(m->buf[m->pos]))
			m->pos++;
	}
	if (m->pos < m->len && (m->buf[m->pos] == 'e' || m->buf[m->pos] == 'E')) {
		integer = false;
		if (++m->pos < m->len && (m->buf[m->pos] == '+' || m->buf[m->pos] == '-'))
			m->pos++;
		if (m->pos >= m->len || !is_digit(m->buf[m->pos]))
			return msg_fail(m, "invalid number");
		while (m->pos < m->len && is_digit(m->buf[m->pos]))
			m->pos++;
	}
	r = msg_push(m, integer ? json_type_int : json_type_double, start, &t);
	if (r < 0)
		return r;
	m->toks[t].len = (uint32_t)(m->pos - start);
	m->toks[t].end = t + 1;
	return 0;
}

static int msg_literal(QmpMsg *m, const char *word, json_type type)
{
	size_t n = strlen(word);
	uint32_t t;
	int r;

	if (m->len - m->pos < n || memcmp(m->buf + m->pos, word, n) != 0)
		return msg_fail(m, "invalid literal");
	r = msg_push(m, type, m->pos, &t);
	if (r < 0)
		return r;
	m->toks[t].len = (uint32_t)n;
	m->toks[t].end = t + 1;
	m->pos += n;
	return 0;
}

static int msg_value(QmpMsg *m, unsigned depth);

/* Objects and arrays: members until @close, each a key (objects) and a value. */
static int msg_container(QmpMsg *m, unsigned depth, bool object)
{
	char close = object ? '}' : ']';
	uint32_t t;
	int r;

	if (depth >= MSG_MAX_DEPTH)
		return msg_fail(m, "nested too deeply");
	r = msg_push(m, object ? json_type_object : json_type_array, m->pos, &t);
	if (r < 0)
		return r;
	m->pos++;
	msg_skip_ws(m);
	if (m->pos < m->len && m->buf[m->pos] == close)
		m->pos++;
	else
		for (;;) {
			if (object) {
				if (m->pos >= m->len || m->buf[m->pos] != '"')
					return msg_fail(m, "expected a member name");
				r = msg_string(m);
				if (r < 0)
					return r;
				msg_skip_ws(m);
				if (m->pos >= m->len || m->buf[m->pos] != ':')
					return msg_fail(m, "expected ':'");
				m->pos++;
			}
			r = msg_value(m, depth + 1);
			if (r < 0)
				return r;
			m->toks[t].len++;
			msg_skip_ws(m);
			if (m->pos < m->len && m->buf[m->pos] == ',') {
				m->pos++;
				msg_skip_ws(m);
				continue;
			}
			if (m->pos < m->len && m->buf[m->pos] == close) {
				m->pos++;
				break;
			}
			return msg_fail(m, object ? "expected ',' or '}'" : "expected ',' or ']'");
		}
	m->toks[t].end = (uint32_t)m->n_toks;
	return 0;
}

static int msg_value(QmpMsg *m, unsigned depth)
{
	msg_skip_ws(m);
	if (m->pos >= m->len)
		return msg_fail(m, "unexpected end of message");
	switch (m->buf[m->pos]) {
	case '{':
		return msg_container(m, depth, true);
	case '[':
		return msg_container(m, depth, false);
	case '"':
		return msg_string(m);
	case 't':
		return msg_literal(m, "true", json_type_boolean);
	case 'f':
		return msg_literal(m, "false", json_type_boolean);
	case 'n':
		return msg_literal(m, "null", json_type_null);
	default:
		if (m->buf[m->pos] == '-' || is_digit(m->buf[m->pos]))
			return msg_number(m);
		return msg_fail(m, "unexpected character");
	}
}

int qmp_msg_parse(QmpMsg *m, char *buf, size_t len, size_t *where, const char **why)
{
	int r;

	if (m->cap_toks > MSG_KEEP_TOKENS) {
		free(m->toks);
		m->toks = NULL;
		m->cap_toks = 0;
	}
	*m = (QmpMsg){ .buf = buf, .len = len, .toks = m->toks, .cap_toks = m->cap_toks };
	if (len > UINT32_MAX)
		r = msg_fail(m, "message too large");
	else
		r = msg_value(m, 0);
	if (r == 0) {
		msg_skip_ws(m);
		if (m->pos != len)
			r = msg_fail(m, "unexpected data after the value");
		else if (m->toks[0].type != json_type_object) {
			m->pos = 0;
			r = msg_fail(m, "top-level value is not an object");
		}
	}
	if (r == -ENOMEM)
		m->why = "out of memory";
	if (r < 0) {
		*where = m->pos;
		*why = m->why;
		m->n_toks = 0;
	}
	return r;
}

/* --- reading a parsed message --- */

QmpValue qmp_msg_root(const QmpMsg *m)
{
	return (QmpValue){ m, 0 };
}

static const MsgTok *value_tok(QmpValue v)
{
	return v.msg && v.tok < v.msg->n_toks ? &v.msg->toks[v.tok] : NULL;
}

json_type qmp_value_type(QmpValue v)
{
	const MsgTok *t = value_tok(v);

	return t ? t->type : json_type_null;
}

bool qmp_value_member(QmpValue obj, const char *key, QmpValue *out)
{
	const MsgTok *t = value_tok(obj);
	bool found = false;

	if (!t || t->type != json_type_object)
		return false;
	/* As json-c does, the last of duplicate names counts. */
	for (uint32_t k = obj.tok + 1; k < t->end; k = obj.msg->toks[k + 1].end)
		if (strcmp(obj.msg->buf + obj.msg->toks[k].start, key) == 0) {
			*out = (QmpValue){ obj.msg, k + 1 };
			found = true;
		}
	return found;
}

const char *qmp_value_string(QmpValue v)
{
	const MsgTok *t = value_tok(v);

	return t && t->type == json_type_string ? v.msg->buf + t->start : NULL;
}

const char *qmp_value_get_string(QmpValue obj, const char *key)
{
	QmpValue v;

	return qmp_value_member(obj, key, &v) ? qmp_value_string(v) : NULL;
}

int qmp_value_bool(QmpValue v, bool *out)
{
	const MsgTok *t = value_tok(v);

	if (!t || t->type != json_type_boolean)
		return -EBADMSG;
	*out = v.msg->buf[t->start] == 't';
	return 0;
}

int qmp_value_get_bool(QmpValue obj, const char *key, bool *out)
{
	QmpValue v;

	return qmp_value_member(obj, key, &v) ? qmp_value_bool(v, out) : -EBADMSG;
}

bool qmp_iter_init(QmpIter *it, QmpValue arr)
{
	const MsgTok *t = value_tok(arr);

	if (!t || t->type != json_type_array || arr.tok + 1 >= t->end)
		return false;
	it->v = (QmpValue){ arr.msg, arr.tok + 1 };
	it->end = t->end;
	return true;
}

bool qmp_iter_next(QmpIter *it)
{
	uint32_t next = it->v.msg->toks[it->v.tok].end;

	if (next >= it->end)
		return false;
	it->v.tok = next;
	return true;
}

int qmp_value_int64(QmpValue v, int64_t *out)
{
	const MsgTok *t = value_tok(v);

	if (!t || t->type != json_type_int)
		return -EBADMSG;
	if (!fits_int64(v.msg->buf + t->start, t->len))
		return -ERANGE;
	/* Validated digits, followed by a delimiter: strtoll stops there. */
	*out = strtoll(v.msg->buf + t->start, NULL, 10);
	return 0;
}

int qmp_value_to_json(QmpValue v, json_object **out)
{
	const MsgTok *t = value_tok(v);
	json_object *o = NULL, *child;
	const char *s;
	int r;

	*out = NULL;
	if (!t)
		return -EINVAL;
	/* After a successful parse every number is followed by a delimiter. */
	s = v.msg->buf + t->start;
	switch (t->type) {
	case json_type_string:
		o = json_object_new_string_len(s, (int)t->len);
		break;
	case json_type_int:
		/* Out of range as json-c reads it: clamped (strto*() saturate alike). */
		o = fits_int64(s, t->len) || *s == '-'
			    ? json_object_new_int64(strtoll(s, NULL, 10))
			    : json_object_new_uint64(strtoull(s, NULL, 10));
		break;
	case json_type_double:
		o = json_object_new_double(strtod(s, NULL));
		break;
	case json_type_boolean:
		o = json_object_new_boolean(*s == 't');
		break;
	case json_type_null:
		*out = NULL; /* json-c's null */
		return 0;
	case json_type_array:
		o = json_object_new_array_ext((int)t->len);
		for (uint32_t k = v.tok + 1; o && k < t->end; k = v.msg->toks[k].end) {
			r = qmp_value_to_json((QmpValue){ v.msg, k }, &child);
			if (r < 0 || json_object_array_add(o, child) < 0) {
				json_object_put(child);
				json_object_put(o);
				return -ENOMEM;
			}
		}
		break;
	case json_type_object:
		o = json_object_new_object();
		for (uint32_t k = v.tok + 1; o && k < t->end; k = v.msg->toks[k + 1].end) {
			r = qmp_value_to_json((QmpValue){ v.msg, k + 1 }, &child);
			if (r < 0 || json_object_object_add(o, v.msg->buf + v.msg->toks[k].start,
							    child) < 0) {
				json_object_put(child);
				json_object_put(o);
				return -ENOMEM;
			}
		}
		break;
	}
	if (!o)
		return -ENOMEM;
	*out = o;
	return 0;
}

/* --- writing JSON as text --- */

typedef struct Out {
	char *buf;
	size_t size, len; /* len counts what did not fit, too */
} Out;

static void out_bytes(Out *o, const char *s, size_t n)
{
	if (o->len < o->size)
		memcpy(o->buf + o->len, s, o->len + n < o->size ? n : o->size - o->len);
	o->len += n;
}

static void out_string(Out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	out_bytes(o, "\"", 1);
	for (size_t k = 0; k < n;) {
		size_t run = k;
		unsigned char c;
		char esc[6];

		/* Plain runs go in one copy: ids and paths never need escaping. */
		while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
			run++;
		out_bytes(o, s + k, run - k);
		if (run == n)
			break;
		c = (unsigned char)s[run];
		esc[0] = '\\';
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			out_bytes(o, esc, 2);
		} else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			out_bytes(o, esc, 6);
		}
		k = run + 1;
	}
	out_bytes(o, "\"", 1);
}

static void out_value(Out *o, QmpValue v)
{
	const MsgTok *t = value_tok(v);
	bool object;

	if (!t)
		return;
	if (t->type != json_type_object && t->type != json_type_array) {
		if (t->type == json_type_string)
			out_string(o, v.msg->buf + t->start, t->len);
		else
			out_bytes(o, v.msg->buf + t->start, t->len);
		return;
	}
	object = t->type == json_type_object;
	out_bytes(o, object ? "{" : "[", 1);
	for (uint32_t k = v.tok + 1; k < t->end;) {
		const MsgTok *m = &v.msg->toks[k];

		if (k != v.tok + 1)
			out_bytes(o, ",", 1);
		if (object) {
			out_string(o, v.msg->buf + m->start, m->len);
			out_bytes(o, ":", 1);
			k++;
		}
		out_value(o, (QmpValue){ v.msg, k });
		k = v.msg->toks[k].end;
	}
	out_bytes(o, object ? "}" : "]", 1);
}

size_t qmp_value_format(QmpValue v, char *buf, size_t size)
{
	Out o = { buf, size, 0 };

	out_value(&o, v);
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = 0;
	return o.len;
}

void qmp_args_init(QmpArgs *a)
{
	memcpy(a->text, "{}", 3);
	a->len = 2;
	a->overflow = false;
}

/* The text is a closed object after every member: a new one goes where the brace was. */
static void args_key(QmpArgs *a, Out *o, const char *key)
{
	*o = (Out){ a->text, sizeof(a->text), a->len - 1 };
	if (a->len > 2)
		out_bytes(o, ",", 1);
	out_string(o, key, strlen(key));
	out_bytes(o, ":", 1);
}

static void args_done(QmpArgs *a, Out *o)
{
	out_bytes(o, "}", 1);
	if (o->len >= sizeof(a->text)) {
		a->overflow = true;
		a->text[a->len - 1] = '}';
	} else
		a->len = o->len;
	a->text[a->len] = 0;
}

void qmp_args_add_string(QmpArgs *a, const char *key, const char *value)
{
	Out o;

	args_key(a, &o, key);
	out_string(&o, value, strlen(value));
	args_done(a, &o);
}

void qmp_args_add_bool(QmpArgs *a, const char *key, bool value)
{
	Out o;

	args_key(a, &o, key);
	out_bytes(&o, value ? "true" : "false", value ? 4 : 5);
	args_done(a, &o);
}

void qmp_args_add_json(QmpArgs *a, const char *key, const char *json)
{
	Out o;

	args_key(a, &o, key);
	out_bytes(&o, json, strlen(json));
	args_done(a, &o);
}

size_t qmp_json_write_string(char *buf, size_t size, const char *s)
{
	Out o = { buf, size, 0 };

	out_string(&o, s, strlen(s));
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = 0;
	return o.len;
}
