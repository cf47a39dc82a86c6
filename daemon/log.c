/* Levelled logging to stderr, or to the journal with fields under systemd. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "daemon/log.h"

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

/* One event's lines: a transition or two and their reasons. */
#define LOG_HELD_MAX 8

typedef struct LogLine {
	int level;
	size_t n_fields;
	char msg[2048];
	char fields[1024]; /* n_fields NUL-terminated "KEY=value" strings */
} LogLine;

struct LogHeld {
	bool holding;
	size_t n;
	LogLine lines[LOG_HELD_MAX];
};

static void log_emit(const Log *log, int level, const char *const *fields, const char *msg);

void log_init(Log *log, int max_level)
{
	const char *stream = getenv("JOURNAL_STREAM");

	log->held = NULL;
	log->max_level = max_level;
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal. */
	log->to_journal = stream && *stream && !getenv("FAILOVERD_LOG_STDERR");
}

int log_parse_level(const char *s)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "error") == 0)
		return LOG_ERR;
	if (s[0] >= '3' && s[0] <= '7' && s[1] == 0)
		return s[0] - '0';
	return -1;
}

void log_objectv(const Log *log, int level, const char *const *fields, const char *prefix,
		 const char *fmt, va_list ap)
{
	char msg[1800];

	if (level > log->max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_full(log, level, fields, "%s: %s", prefix, msg);
}

void log_done(Log *log)
{
	log_release(log);
	free(log->held);
	log->held = NULL;
}

void log_hold(Log *log)
{
	/* Allocated once; without it lines simply go at once. */
	if (!log->held)
		log->held = calloc(1, sizeof(*log->held));
	if (log->held)
		log->held->holding = true;
}

static void log_flush(LogHeld *h, const Log *log)
{
	size_t n = h->n;

	h->n = 0;
	for (size_t k = 0; k < n; k++) {
		LogLine *l = &h->lines[k];
		const char *fields[24];
		const char *f = l->fields;

		for (size_t i = 0; i < l->n_fields; i++, f += strlen(f) + 1)
			fields[i] = f;
		fields[l->n_fields] = NULL;
		log_emit(log, l->level, fields, l->msg);
	}
}

void log_release(Log *log)
{
	if (!log->held)
		return;
	log->held->holding = false;
	log_flush(log->held, log);
}

/* Keeps the line for log_release(); false where it must go now. */
static bool log_keep(const Log *log, int level, const char *const *fields, const char *msg)
{
	LogHeld *h = log->held;
	LogLine *l;
	size_t used = 0;

	if (!h || !h->holding)
		return false;
	if (level <= LOG_WARNING || h->n == LOG_HELD_MAX) {
		log_flush(h, log); /* what was held goes first */
		return false;
	}
	l = &h->lines[h->n];
	l->level = level;
	l->n_fields = 0;
	snprintf(l->msg, sizeof(l->msg), "%s", msg);
	for (size_t i = 0; fields && fields[i] && l->n_fields < 23; i++) {
		size_t len = strlen(fields[i]) + 1;

		if (used + len > sizeof(l->fields))
			break; /* the message itself is kept whole */
		memcpy(l->fields + used, fields[i], len);
		used += len;
		l->n_fields++;
	}
	h->n++;
	return true;
}

void log_fullv(const Log *log, int level, const char *const *fields, const char *fmt, va_list ap)
{
	char msg[2048];

	if (level > log->max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_keep(log, level, fields, msg))
		log_emit(log, level, fields, msg);
}

static void log_emit(const Log *log, int level, const char *const *fields, const char *msg)
{
	if (log->to_journal) {
		struct iovec iov[24];
		char mbuf[2100], pbuf[32];
		size_t n = 0;

		snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", msg);
		snprintf(pbuf, sizeof(pbuf), "PRIORITY=%d", level);
		iov[n++] = (struct iovec){ mbuf, strlen(mbuf) };
		iov[n++] = (struct iovec){ pbuf, strlen(pbuf) };
		for (size_t i = 0; fields && fields[i] && n < 24; i++)
			iov[n++] = (struct iovec){ (void *)fields[i], strlen(fields[i]) };
		if (sd_journal_sendv(iov, (int)n) >= 0)
			return;
	}

	/*
	 * One write per line: stderr is unbuffered, and a character at a time
	 * costs a system call each (and interleaves with other writers).
	 */
	char line[4096];
	size_t n =
		(size_t)snprintf(line, sizeof(line), "failoverd[%s]: %s", level_names[level], msg);

	for (size_t i = 0; fields && fields[i] && n < sizeof(line); i++) {
		const char *eq = strchr(fields[i], '=');

		/* The MESSAGE_ID is for the journal's tooling, noise on a terminal. */
		if (!eq || strncmp(fields[i], "MESSAGE_ID=", 11) == 0)
			continue;
		/* FAILOVERD_PAIR=x -> pair=x: short keys read better on a terminal. */
		const char *key = fields[i];
		size_t klen = (size_t)(eq - key);

		if (strncmp(key, "FAILOVERD_", 10) == 0) {
			key += 10;
			klen -= 10;
		}
		line[n++] = ' ';
		for (size_t k = 0; k < klen && n < sizeof(line); k++)
			line[n++] = key[k] >= 'A' && key[k] <= 'Z' ? key[k] - 'A' + 'a' : key[k];
		if (n < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n, "=%s", eq + 1);
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}

void log_full(const Log *log, int level, const char *const *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_fullv(log, level, fields, fmt, ap);
	va_end(ap);
}
