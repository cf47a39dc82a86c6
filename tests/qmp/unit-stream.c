/* QMP stream parser: framing must not depend on how bytes arrive. */

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"
#include "tests/lib/suite.h"

typedef struct Seen {
	int n;
	char names[16][64];
} Seen;

static int on_msg(const QmpMsg *msg, void *userdata)
{
	Seen *s = userdata;
	const char *event = qmp_value_get_string(qmp_msg_root(msg), "event");

	if (s->n < 16 && event)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", event);
	else if (s->n < 16)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", "(other)");
	s->n++;
	return 0;
}

static const char three[] =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, "
	"\"package\": \"Debian\"}, \"capabilities\": [\"oob\"]}}\r\n"
	"{\"timestamp\": {\"seconds\": 1764345600, \"microseconds\": 123}, "
	"\"event\": \"UNPLUG_PRIMARY\", \"data\": {\"device-id\": \"hostdev0\"}}\r\n"
	"{\"return\": {\"status\": \"wait-unplug\", \"note\": \"brace } in \\\"string{\"}, "
	"\"id\": 7}\r\n";

static void assert_three(const Seen *s)
{
	ck_assert_int_eq(s->n, 3);
	ck_assert_str_eq(s->names[0], "(other)");
	ck_assert_str_eq(s->names[1], "UNPLUG_PRIMARY");
	ck_assert_str_eq(s->names[2], "(other)");
}

START_TEST(test_whole_buffer)
{
	Seen seen = { 0 };
	QmpStream *s;

	ck_assert_int_eq(qmp_stream_new(&s, QMP_MESSAGE_MAX, on_msg, &seen), 0);
	ck_assert_int_eq(qmp_stream_feed(s, three, strlen(three)), 0);
	assert_three(&seen);
	qmp_stream_free(s);
}
END_TEST

START_TEST(test_byte_by_byte)
{
	Seen seen = { 0 };
	QmpStream *s;

	ck_assert_int_eq(qmp_stream_new(&s, QMP_MESSAGE_MAX, on_msg, &seen), 0);
	for (size_t i = 0; i < strlen(three); i++)
		ck_assert_int_eq(qmp_stream_feed(s, three + i, 1), 0);
	assert_three(&seen);
	qmp_stream_free(s);
}
END_TEST

START_TEST(test_random_splits)
{
	unsigned seed = 12345;

	for (int round = 0; round < 2000; round++) {
		Seen seen = { 0 };
		QmpStream *s;
		size_t off = 0, len = strlen(three);

		ck_assert_int_eq(qmp_stream_new(&s, QMP_MESSAGE_MAX, on_msg, &seen), 0);
		while (off < len) {
			size_t n = 1 + (size_t)rand_r(&seed) % 40;

			if (n > len - off)
				n = len - off;
			ck_assert_int_eq(qmp_stream_feed(s, three + off, n), 0);
			off += n;
		}
		assert_three(&seen);
		qmp_stream_free(s);
	}
}
END_TEST

START_TEST(test_garbage_is_rejected)
{
	static const char *const bad[] = {
		"hello\n",	   "[1,2]\n",	      "{\"a\": }\n",	    "{\"a\": 1}} \n",
		"{'single': 1}\n", "{\"a\": 1} 42\n", "{\"a\": \"\\x\"}\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Seen seen = { 0 };
		QmpStream *s;
		int r;

		ck_assert_int_eq(qmp_stream_new(&s, QMP_MESSAGE_MAX, on_msg, &seen), 0);
		r = qmp_stream_feed(s, bad[i], strlen(bad[i]));
		ck_assert_msg(r == -EBADMSG, "input %zu accepted (r=%d)", i, r);
		ck_assert_ptr_nonnull(qmp_stream_get_error(s));
		ck_assert_msg(strstr(qmp_stream_get_error(s), "byte") != NULL,
			      "error does not say where: %s", qmp_stream_get_error(s));
		qmp_stream_free(s);
	}
}
END_TEST

/* Feeds @text whole or a byte at a time; the error, if any, into @err. */
static int feed(const char *text, bool bytewise, Seen *seen, char err[200])
{
	QmpStream *s;
	int r = 0;

	ck_assert_int_eq(qmp_stream_new(&s, QMP_MESSAGE_MAX, on_msg, seen), 0);
	if (!bytewise)
		r = qmp_stream_feed(s, text, strlen(text));
	for (size_t k = 0; bytewise && k < strlen(text) && r == 0; k++)
		r = qmp_stream_feed(s, text + k, 1);
	snprintf(err, 200, "%s", qmp_stream_get_error(s) ? qmp_stream_get_error(s) : "");
	qmp_stream_free(s);
	return r;
}

/*
 * A line that is one whole message is taken at once; a line that is not
 * (two messages, one message over several lines, a message and garbage)
 * reads exactly as it does a byte at a time: same messages, same error.
 */
START_TEST(test_lines_that_are_not_one_message)
{
	static const char *const texts[] = {
		"{\"event\": \"A\"}{\"event\": \"B\"}\r\n",
		"{\n \"event\":\n \"A\"\n}\r\n{\"event\": \"B\"}\r\n",
		"{\"event\": \"A\"}\r\n{\"event\": \"B\"} x\r\n",
		"{\"event\": \"A\", \"data\": {\"s\": \"\\n\"}}\r\n{\"event\": 1\r\n",
		"   \r\n{\"event\": \"A\"}   {\"event\": \"B\"}\n\n{\"event\": \"C\"}\n",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		Seen whole = { 0 }, bytes = { 0 };
		char err_whole[200], err_bytes[200];
		int r_whole = feed(texts[i], false, &whole, err_whole);
		int r_bytes = feed(texts[i], true, &bytes, err_bytes);

		ck_assert_msg(r_whole == r_bytes, "text %zu: %d whole, %d bytewise", i, r_whole,
			      r_bytes);
		ck_assert_int_eq(whole.n, bytes.n);
		ck_assert_int_ge(whole.n, 1);
		for (int k = 0; k < whole.n && k < 16; k++)
			ck_assert_str_eq(whole.names[k], bytes.names[k]);
		ck_assert_str_eq(err_whole, err_bytes);
	}
}
END_TEST

START_TEST(test_oversized_message)
{
	Seen seen = { 0 };
	QmpStream *s;
	char buf[4096];
	int r = 0;

	/* An endless string inside an object must hit the cap, not eat memory. */
	ck_assert_int_eq(qmp_stream_new(&s, 64 * 1024, on_msg, &seen), 0);
	ck_assert_int_eq(qmp_stream_feed(s, "{\"return\": \"", 12), 0);
	memset(buf, 'a', sizeof(buf));
	for (int i = 0; i < 64 && r == 0; i++)
		r = qmp_stream_feed(s, buf, sizeof(buf));
	ck_assert_int_eq(r, -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(qmp_stream_get_error(s), "size limit"));
	ck_assert_int_eq(seen.n, 0);
	qmp_stream_free(s);
}
END_TEST

START_TEST(test_large_message_under_cap)
{
	Seen seen = { 0 };
	QmpStream *s;
	size_t n = 1024 * 1024;
	char *big = malloc(n + 32);

	/* query-qmp-schema replies are large; they must pass in pieces. */
	memcpy(big, "{\"return\": \"", 12);
	memset(big + 12, 'x', n);
	memcpy(big + 12 + n, "\", \"id\": 1}\n", 12);
	ck_assert_int_eq(qmp_stream_new(&s, QMP_MESSAGE_MAX, on_msg, &seen), 0);
	for (size_t off = 0; off < n + 24; off += 65536) {
		size_t len = n + 24 - off < 65536 ? n + 24 - off : 65536;

		ck_assert_int_eq(qmp_stream_feed(s, big + off, len), 0);
	}
	ck_assert_int_eq(seen.n, 1);
	qmp_stream_free(s);
	free(big);
}
END_TEST

/*
 * Found by tests/fuzz/qmp-stream.c: with the bytes cut inside a number,
 * json-c accepted "1234567-300" as 1234567; in one piece it was an error.
 */
START_TEST(test_invalid_number_rejected_at_any_cut)
{
	static const char bad[] = "{\"return\": 1234567-300}\r\n";

	for (size_t cut = 0; cut <= strlen(bad); cut++) {
		Seen seen = { 0 };
		QmpStream *s;
		int r;

		ck_assert_int_eq(qmp_stream_new(&s, QMP_MESSAGE_MAX, on_msg, &seen), 0);
		r = qmp_stream_feed(s, bad, cut);
		if (r == 0)
			r = qmp_stream_feed(s, bad + cut, strlen(bad) - cut);
		ck_assert_msg(r == -EBADMSG, "cut at %zu: r=%d", cut, r);
		ck_assert_int_eq(seen.n, 0);
		ck_assert_ptr_nonnull(strstr(qmp_stream_get_error(s), "at byte 18"));
		qmp_stream_free(s);
	}
}
END_TEST

static int stop_after_first(const QmpMsg *msg, void *userdata)
{
	(*(int *)userdata)++;
	return -ECANCELED;
}

START_TEST(test_callback_stops_feed)
{
	QmpStream *s;
	int n = 0;

	ck_assert_int_eq(qmp_stream_new(&s, QMP_MESSAGE_MAX, stop_after_first, &n), 0);
	ck_assert_int_eq(qmp_stream_feed(s, three, strlen(three)), -ECANCELED);
	ck_assert_int_eq(n, 1);
	qmp_stream_free(s);
}
END_TEST

START_TEST(test_free_null)
{
	ck_assert_ptr_null(qmp_stream_free(NULL));
	ck_assert_ptr_null(qmp_conn_free(NULL));
	ck_assert_ptr_null(qmp_listener_free(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qmp-stream");
	TCase *tc = tcase_create("parser");

	tcase_add_test(tc, test_whole_buffer);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_invalid_number_rejected_at_any_cut);
	tcase_add_test(tc, test_random_splits);
	tcase_add_test(tc, test_garbage_is_rejected);
	tcase_add_test(tc, test_lines_that_are_not_one_message);
	tcase_add_test(tc, test_oversized_message);
	tcase_add_test(tc, test_large_message_under_cap);
	tcase_add_test(tc, test_callback_stops_feed);
	tcase_add_test(tc, test_free_null);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
