/* Levelled logging to stderr, or to the journal with fields under systemd. */

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

void log_init(Log *log, int max_level)
{
	const char *stream = getenv("JOURNAL_STREAM");

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

void log_fullv(const Log *log, int level, const char *const *fields, const char *fmt, va_list ap)
{
	char msg[2048];

	if (level > log->max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);

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
