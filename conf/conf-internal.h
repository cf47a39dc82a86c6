#pragma once

/* Shared between the conf/ sources; not part of the module's interface. */

#include "conf/conf.h"

typedef enum ConfKind {
	CONF_KIND_DAEMON,
	CONF_KIND_POOL,
	CONF_KIND_INSTANCE,
} ConfKind;

typedef struct ConfCtx {
	ConfDiags *diags;
	ConfKind kind;
	void *object;	      /* ConfDaemon, ConfPool or ConfInstance */
	const void *defaults; /* same type as object: what an empty assignment restores */
	ConfPair *pair;	      /* the current [Pair] */
	const char *file;
	unsigned line;
	char section[32];
	bool section_known;
} ConfCtx;

void conf_diag(ConfCtx *c, ConfSeverity sev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Applies one file to c->object; a missing file is an error diagnostic. */
int conf_parse_file(ConfCtx *c, const char *path);
