#pragma once

/*
 * Text from the daemon (pair reasons, run status, names) may come from QEMU
 * or from configuration files: printed raw, an escape sequence in it would
 * drive the operator's terminal. Human output goes through text_escape();
 * --json output is escaped by json-c instead.
 */

#include <stdio.h>

/*
 * A copy of @s with control characters (C0, DEL, C1) as \n, \t, \r, \e or
 * \xHH, each byte of invalid UTF-8 as \xHH and a backslash as \\; valid
 * printable UTF-8 unchanged. NULL on allocation failure.
 */
char *text_escape(const char *s);
/* fputs(text_escape(@s)); on allocation failure prints "?" rather than @s raw. */
void text_print(const char *s, FILE *f);
