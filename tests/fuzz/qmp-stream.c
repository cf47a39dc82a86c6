/*
 * The incremental QMP parser (qmp/stream.c) on arbitrary bytes.
 *
 * Input: byte 0 seeds the chunk sizes, byte 1 picks the message size limit,
 * the rest is the stream. It is parsed twice, in one piece and cut into
 * chunks as a socket might deliver it: the messages, their order and the
 * result must not depend on the cuts. Every message read must mean to
 * json-c what it means to us. After an error, a reset stream must
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

/*
 * What the parser read, written out again, is JSON that json-c reads as
 * the same value as the tree the parser builds for reply callbacks.
 */
static void check_against_json_c(QmpValue root, const char *text, size_t len)
{
	json_tokener *tok = json_tokener_new_ex(80);
	json_object *theirs, *ours;

	FUZZ_ASSERT(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	theirs = json_tokener_parse_ex(tok, text, (int)len);
	FUZZ_ASSERT(json_tokener_get_error(tok) == json_tokener_success);
	FUZZ_ASSERT(qmp_value_to_json(root, &ours) == 0);
	FUZZ_ASSERT(json_object_equal(ours, theirs));
	json_object_put(ours);
	json_object_put(theirs);
	json_tokener_free(tok);
}

static int on_message(const QmpMsg *msg, void *userdata)
{
	Seen *seen = userdata;
	QmpValue root = qmp_msg_root(msg), v;
	static char text[1 << 16];
	size_t len;

	FUZZ_ASSERT(qmp_value_type(root) == json_type_object);
	len = qmp_value_format(root, text, sizeof(text));
	hash_bytes(&seen->hash, text, len < sizeof(text) ? len : sizeof(text) - 1);
	if (len < sizeof(text))
		check_against_json_c(root, text, len);
	hash_bytes(&seen->hash, "\n", 1);
	seen->n++;
	/* The callback may stop the feed, as the connection does when it is freed. */
	return qmp_value_member(root, "fuzz-stop", &v) ? -ECANCELED : 0;
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
