#pragma once

/*
 * Daemon logging. The log state lives in the manager (no globals); library
 * layers never log, they return errors for the daemon to report here.
 */

#include <stdarg.h>
#include <syslog.h>

typedef struct LogHeld LogHeld;

typedef struct Log {
	int max_level; /* LOG_ERR .. LOG_DEBUG */
	int to_journal;
	LogHeld *held; /* lines waiting for log_release(); NULL until first held */
} Log;

void log_init(Log *log, int max_level);
void log_done(Log *log);

/*
 * Between log_hold() and log_release() (a QMP event's handling) info,
 * notice and debug lines are formatted but written only at the release,
 * in order: the write (and, under systemd, the journal's wakeup) stays off
 * the path from an event to the command it causes. Warnings and errors go
 * at once, after whatever was held. docs/performance.md, "The decide path".
 */
void log_hold(Log *log);
void log_release(Log *log);
/* Accepts err, warning, notice, info, debug (and numeric 3..7). */
int log_parse_level(const char *s);

/*
 * @fields is NULL or a NULL-terminated list of "KEY=value" strings, kept as
 * structured journal fields and appended as key=value on stderr.
 */
void log_full(const Log *log, int level, const char *const *fields, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void log_fullv(const Log *log, int level, const char *const *fields, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/* "PREFIX: message": the object a message is about, named the same way every time. */
void log_objectv(const Log *log, int level, const char *const *fields, const char *prefix,
		 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

#define log_error(l, ...)   log_full((l), LOG_ERR, NULL, __VA_ARGS__)
#define log_warning(l, ...) log_full((l), LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(l, ...)  log_full((l), LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(l, ...)    log_full((l), LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(l, ...)   log_full((l), LOG_DEBUG, NULL, __VA_ARGS__)
