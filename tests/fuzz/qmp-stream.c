/*
 * The incremental QMP parser (qmp/stream.c) on arbitrary bytes.
 *
 * Input: byte 0 seeds the chunk sizes, byte 1 picks the message size limit,
 * the rest is the stream. It is parsed twice, in one piece and cut into
 * chunks as a socket might deliver it: the messages, their order and the
 * result must not depend on the cuts. After an error, a reset stream must
 * parse a fresh message again.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qmp/qmp.h"
#include "tests/fuzz/fuzz.h"

typedef struct Seen {
	size_t n;
	uint64_t hash; /* FNV-1a over the messages as plain JSON */
} Seen;

static void hash_bytes(uint64_t *h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		*h ^= (unsigned char)s[i];
		*h *= 0x100000001b3ULL;
	}
}

static int on_message(json_object *msg, void *userdata)
{
	Seen *seen = userdata;
	const char *text;

	FUZZ_ASSERT(json_object_is_type(msg, json_type_object));
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	hash_bytes(&seen->hash, text, strlen(text));
	hash_bytes(&seen->hash, "\n", 1);
	seen->n++;
	/* The callback may stop the feed, as the connection does when it is freed. */
	return json_object_object_get_ex(msg, "fuzz-stop", NULL) ? -ECANCELED : 0;
}

static int parse(const char *buf, size_t len, size_t limit, unsigned seed, Seen *seen)
{
	_qmp_cleanup_(qmp_stream_freep) QmpStream *s = NULL;
	Seen before;
	int r;

	*seen = (Seen){ 0, 0xcbf29ce484222325ULL };
	FUZZ_ASSERT(qmp_stream_new(&s, limit, on_message, seen) == 0);
	if (seed == 0)
		r = qmp_stream_feed(s, buf, len);
	else {
		/* Chunk sizes 1..seed, varied by a small LCG. */
		unsigned x = seed;

		r = 0;
		for (size_t off = 0; off < len && r == 0;) {
			size_t n;

			x = x * 1103515245u + 12345u;
			n = 1 + (x >> 16) % seed;
			if (n > len - off)
				n = len - off;
			r = qmp_stream_feed(s, buf + off, n);
			off += n;
		}
	}
	if (r == -EBADMSG || r == -EMSGSIZE)
		FUZZ_ASSERT(qmp_stream_get_error(s) != NULL);
	else
		FUZZ_ASSERT(r == 0 || r == -ECANCELED);

	/* Whatever happened, a reset stream parses a good message. */
	before = *seen;
	qmp_stream_reset(s);
	FUZZ_ASSERT(qmp_stream_get_error(s) == NULL);
	FUZZ_ASSERT(qmp_stream_feed(s, "{\"return\": {}}\r\n", 16) == 0);
	FUZZ_ASSERT(seen->n == before.n + 1);
	*seen = before;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Seen whole, chunked;
	size_t limit;
	unsigned seed;
	int r1, r2;

	if (size < 2)
		return 0;
	seed = 1 + data[0] % 64;
	/* Mostly the real limit; sometimes a small one, to reach -EMSGSIZE. */
	limit = data[1] & 1 ? QMP_MESSAGE_MAX : 16 + (size_t)data[1] * 2;
	data += 2;
	size -= 2;

	r1 = parse((const char *)data, size, limit, 0, &whole);
	r2 = parse((const char *)data, size, limit, seed, &chunked);
	FUZZ_ASSERT(r1 == r2);
	FUZZ_ASSERT(whole.n == chunked.n);
	FUZZ_ASSERT(whole.hash == chunked.hash);
	return 0;
}
