/* Escaping daemon-supplied text for the terminal (see text.h). */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "ctl/text.h"

/* C1 controls (U+0080..U+009F) are two bytes, 0xc2 0x80..0x9f, in UTF-8. */
static bool is_c1(const char *s, size_t n)
{
	return n == 2 && (unsigned char)s[0] == 0xc2 && (unsigned char)s[1] < 0xa0;
}

char *text_escape(const char *s)
{
	/* At most 4 output bytes per input byte ("\xHH"). */
	char *out = malloc(strlen(s) * 4 + 1), *d = out;

	if (!out)
		return NULL;
	while (*s) {
		unsigned char ch = (unsigned char)*s;
		size_t n = conf_utf8_char_len(s);

		if (n > 1 && !is_c1(s, n)) {
			memcpy(d, s, n);
			d += n, s += n;
			continue;
		}
		if (n == 1 && ch >= 0x20 && ch != 0x7f && ch != '\\') {
			*d++ = *s++;
			continue;
		}
		if (n == 0)
			n = 1; /* a broken byte: escape it alone, resync on the next */
		for (size_t k = 0; k < n; k++, s++) {
			ch = (unsigned char)*s;
			switch (ch) {
			case '\\':
				d += sprintf(d, "\\\\");
				break;
			case '\n':
				d += sprintf(d, "\\n");
				break;
			case '\t':
				d += sprintf(d, "\\t");
				break;
			case '\r':
				d += sprintf(d, "\\r");
				break;
			case 0x1b:
				d += sprintf(d, "\\e");
				break;
			default:
				d += sprintf(d, "\\x%02x", ch);
				break;
			}
		}
	}
	*d = 0;
	return out;
}

void text_print(const char *s, FILE *f)
{
	char *e = text_escape(s);

	fputs(e ? e : "?", f);
	free(e);
}
