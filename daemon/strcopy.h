#pragma once

/*
 * A bounded string copy for the paths that run on every event or save,
 * where snprintf("%s") would be most of the cost (docs/performance.md).
 */

#include <string.h>

/* @src into @dst of @size (> 0) bytes, cut to fit and always terminated. */
static inline void str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}
