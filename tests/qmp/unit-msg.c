/*
 * The in-place QMP message parser and the command text writer: what QEMU
 * sends reads back exactly, anything that is not strict JSON is refused
 * with the byte it broke at, and what we write parses as what we meant.
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"
#include "tests/lib/suite.h"

typedef struct Parsed {
	QmpMsg *msg;
	char buf[4096];
	size_t where;
	const char *why;
	int r;
} Parsed;

static Parsed *parse(const char *text)
{
	Parsed *p = calloc(1, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	ck_assert_int_lt(strlen(text), sizeof(p->buf));
	ck_assert_int_eq(qmp_msg_new(&p->msg), 0);
	memcpy(p->buf, text, strlen(text));
	p->r = qmp_msg_parse(p->msg, p->buf, strlen(text), &p->where, &p->why);
	return p;
}

static void parsed_free(Parsed *p)
{
	qmp_msg_free(p->msg);
	free(p);
}

START_TEST(test_event_reads_back)
{
	Parsed *p = parse("{\"timestamp\": {\"seconds\": 1764700000, \"microseconds\": 123456}, "
			  "\"event\": \"DEVICE_DELETED\", \"data\": {\"path\": "
			  "\"/machine/peripheral/fo-p0\", \"device\": \"fo-p0\"}}");
	QmpValue root, data, ts, v;
	int64_t n;
	char text[256];

	ck_assert_int_eq(p->r, 0);
	root = qmp_msg_root(p->msg);
	ck_assert_str_eq(qmp_value_get_string(root, "event"), "DEVICE_DELETED");
	ck_assert(qmp_value_member(root, "data", &data));
	ck_assert_str_eq(qmp_value_get_string(data, "device"), "fo-p0");
	ck_assert_ptr_null(qmp_value_get_string(data, "missing"));
	ck_assert(qmp_value_member(root, "timestamp", &ts));
	ck_assert(qmp_value_member(ts, "microseconds", &v));
	ck_assert_int_eq(qmp_value_int64(v, &n), 0);
	ck_assert_int_eq(n, 123456);
	/* A string is not an integer, and a member of a string is nothing. */
	ck_assert_int_eq(qmp_value_int64(data, &n), -EBADMSG);
	ck_assert(!qmp_value_member(v, "x", &v));
	ck_assert_int_eq(qmp_value_format(data, text, sizeof(text)),
			 strlen("{\"path\":\"/machine/peripheral/fo-p0\",\"device\":\"fo-p0\"}"));
	ck_assert_str_eq(text, "{\"path\":\"/machine/peripheral/fo-p0\",\"device\":\"fo-p0\"}");
	parsed_free(p);
}
END_TEST

START_TEST(test_escapes_decode_and_reencode)
{
	/* \u00e9 is é, \ud83d\ude00 one 4-byte character; \/ is a plain slash. */
	Parsed *p = parse("{\"id\": \"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\\u0001\"}");
	const char *id;
	char text[128];

	ck_assert_int_eq(p->r, 0);
	id = qmp_value_get_string(qmp_msg_root(p->msg), "id");
	ck_assert_str_eq(id, "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80\x01");
	qmp_value_format(qmp_msg_root(p->msg), text, sizeof(text));
	ck_assert_str_eq(text, "{\"id\":\"a\\\"b\\\\c/d\\u000a\xc3\xa9\xf0\x9f\x98\x80\\u0001\"}");
	parsed_free(p);
}
END_TEST

START_TEST(test_duplicate_name_last_wins)
{
	Parsed *p = parse("{\"device\": \"first\", \"device\": \"second\"}");
	json_object *tree;

	ck_assert_int_eq(p->r, 0);
	ck_assert_str_eq(qmp_value_get_string(qmp_msg_root(p->msg), "device"), "second");
	ck_assert_int_eq(qmp_value_to_json(qmp_msg_root(p->msg), &tree), 0);
	ck_assert_str_eq(qmp_json_get_string(tree, "device"), "second");
	json_object_put(tree);
	parsed_free(p);
}
END_TEST

/* A qom-list reply read in place: every entry once, in order, nested values skipped whole. */
START_TEST(test_reply_array_walks_in_order)
{
	Parsed *p = parse("{\"return\": [{\"name\": \"rp1\", \"type\": \"child<pcie-root-port>\"}, "
			  "[1, [2, 3], {\"x\": [4]}], \"fo-p0\", {\"name\": \"rp2\", \"on\": true, "
			  "\"off\": false}], \"id\": 7}");
	const char *want[] = { "rp1", NULL, NULL, "rp2" };
	QmpValue root, ret, empty, last = { 0 };
	QmpIter it;
	size_t n = 0;
	bool b = true;

	ck_assert_int_eq(p->r, 0);
	root = qmp_msg_root(p->msg);
	ck_assert(qmp_value_member(root, "return", &ret));
	for (bool more = qmp_iter_init(&it, ret); more; more = qmp_iter_next(&it), n++) {
		ck_assert_int_lt(n, 4);
		if (want[n])
			ck_assert_str_eq(qmp_value_get_string(it.v, "name"), want[n]);
		else
			ck_assert_ptr_null(qmp_value_get_string(it.v, "name"));
		last = it.v;
	}
	ck_assert_int_eq(n, 4);
	/* The last entry's booleans; a missing or non-boolean member is -EBADMSG. */
	ck_assert_int_eq(qmp_value_get_bool(last, "on", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(qmp_value_get_bool(last, "off", &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(qmp_value_get_bool(last, "name", &b), -EBADMSG);
	ck_assert_int_eq(qmp_value_get_bool(last, "missing", &b), -EBADMSG);
	/* Not an array, and an empty one: nothing to walk. */
	ck_assert(!qmp_iter_init(&it, root));
	parsed_free(p);
	p = parse("{\"return\": [], \"id\": 8}");
	ck_assert_int_eq(p->r, 0);
	ck_assert(qmp_value_member(qmp_msg_root(p->msg), "return", &empty));
	ck_assert(!qmp_iter_init(&it, empty));
	parsed_free(p);
}
END_TEST

START_TEST(test_integer_range)
{
	Parsed *p = parse("{\"max\": 9223372036854775807, \"min\": -9223372036854775808, "
			  "\"over\": 9223372036854775808, \"huge\": 18446744073709551616, "
			  "\"frac\": 1.5, \"exp\": 1e3}");
	QmpValue root, v;
	int64_t n;

	ck_assert_int_eq(p->r, 0);
	root = qmp_msg_root(p->msg);
	ck_assert(qmp_value_member(root, "max", &v));
	ck_assert_int_eq(qmp_value_int64(v, &n), 0);
	ck_assert(n == INT64_MAX);
	ck_assert(qmp_value_member(root, "min", &v));
	ck_assert_int_eq(qmp_value_int64(v, &n), 0);
	ck_assert(n == INT64_MIN);
	/* Past int64 it is never read as a wrapped or clamped integer. */
	ck_assert(qmp_value_member(root, "over", &v));
	ck_assert_int_eq(qmp_value_type(v), json_type_int);
	ck_assert_int_eq(qmp_value_int64(v, &n), -ERANGE);
	ck_assert(qmp_value_member(root, "huge", &v));
	ck_assert_int_eq(qmp_value_int64(v, &n), -ERANGE);
	ck_assert(qmp_value_member(root, "frac", &v));
	ck_assert_int_eq(qmp_value_type(v), json_type_double);
	ck_assert(qmp_value_member(root, "exp", &v));
	ck_assert_int_eq(qmp_value_type(v), json_type_double);
	parsed_free(p);
}
END_TEST

/* Every reply shape turned into a json-c tree equals json-c's own reading. */
START_TEST(test_tree_equals_json_c)
{
	static const char *const texts[] = {
		"{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, {\"name\": "
		"\"child[0]\", \"type\": \"child<virtio-net-pci>\"}], \"id\": 3}",
		"{\"return\": {\"status\": \"active\", \"ram\": {\"total\": 134217728, "
		"\"mbps\": 1.5e3, \"x\": null, \"y\": true, \"z\": false, \"e\": [], \"o\": {}}}}",
		"{\"return\": \"caf\\u00e9 \\\"quoted\\\"\", \"id\": -7}",
		"{\"return\": 12345678901234567890, \"f\": -1.5e-300}",
		"{\"a\": 23345678901234567890, \"b\": -9223372036854775809}",
	};

	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		Parsed *p = parse(texts[k]);
		json_object *ours, *theirs = json_tokener_parse(texts[k]);

		ck_assert_int_eq(p->r, 0);
		ck_assert_int_eq(qmp_value_to_json(qmp_msg_root(p->msg), &ours), 0);
		ck_assert_msg(json_object_equal(ours, theirs), "text %zu: %s", k,
			      json_object_to_json_string(ours));
		json_object_put(ours);
		json_object_put(theirs);
		parsed_free(p);
	}
}
END_TEST

START_TEST(test_not_json_is_refused_where_it_breaks)
{
	static const struct {
		const char *text;
		size_t where;
		const char *why;
	} bad[] = {
		{ "{\"a\": 01}", 7, "expected ',' or '}'" },
		{ "{\"a\": 1.}", 8, "invalid number" },
		{ "{\"a\": -}", 7, "invalid number" },
		{ "{\"a\": 1e}", 8, "invalid number" },
		{ "{\"a\": 1,}", 8, "expected a member name" },
		{ "{\"a\": tru}", 6, "invalid literal" },
		{ "{\"a\": \"x\ty\"}", 8, "control character in string" },
		{ "{\"a\": \"\\ud800\"}", 13, "unpaired surrogate in string" },
		{ "{\"a\": \"\\udc00\"}", 13, "unpaired surrogate in string" },
		{ "{\"a\": \"\\q\"}", 8, "invalid escape in string" },
		{ "{\"a\" 1}", 5, "expected ':'" },
		{ "{\"a\": [1 2]}", 9, "expected ',' or ']'" },
		{ "{\"a\": 1} x", 9, "unexpected data after the value" },
		{ "[1]", 0, "top-level value is not an object" },
		{ "{\"a\": \"open", 11, "unterminated string" },
	};

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		Parsed *p = parse(bad[k].text);

		ck_assert_msg(p->r == -EBADMSG, "%s accepted", bad[k].text);
		ck_assert_str_eq(p->why, bad[k].why);
		ck_assert_msg(p->where == bad[k].where, "%s: at %zu, expected %zu", bad[k].text,
			      p->where, bad[k].where);
		parsed_free(p);
	}
}
END_TEST

START_TEST(test_nesting_is_bounded)
{
	char text[512] = "{\"a\":";
	Parsed *p;
	size_t n = strlen(text);

	for (int k = 0; k < 100; k++)
		text[n++] = '[';
	for (int k = 0; k < 100; k++)
		text[n++] = ']';
	text[n++] = '}';
	text[n] = 0;
	p = parse(text);
	ck_assert_int_eq(p->r, -EBADMSG);
	ck_assert_str_eq(p->why, "nested too deeply");
	parsed_free(p);
}
END_TEST

START_TEST(test_args_are_json)
{
	QmpArgs a;
	json_object *o;

	qmp_args_init(&a);
	ck_assert_str_eq(a.text, "{}");
	qmp_args_add_string(&a, "id", "fo\"p\\0\n");
	qmp_args_add_bool(&a, "failover", true);
	qmp_args_add_json(&a, "caps", "[{\"capability\":\"events\",\"state\":true}]");
	ck_assert(!a.overflow);
	ck_assert_int_eq(a.len, strlen(a.text));
	o = json_tokener_parse(a.text);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(qmp_json_get_string(o, "id"), "fo\"p\\0\n");
	json_object_put(o);
}
END_TEST

START_TEST(test_args_overflow_is_flagged_and_text_stays_json)
{
	char big[4096];
	QmpArgs a;
	json_object *o;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	qmp_args_init(&a);
	qmp_args_add_string(&a, "id", "fo-p0");
	qmp_args_add_string(&a, "host", big);
	ck_assert(a.overflow);
	/* What did fit is still a closed object (never sent, but never torn). */
	o = json_tokener_parse(a.text);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(qmp_json_get_string(o, "id"), "fo-p0");
	json_object_put(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qmp-msg");
	TCase *tc = tcase_create("msg");

	tcase_add_test(tc, test_event_reads_back);
	tcase_add_test(tc, test_escapes_decode_and_reencode);
	tcase_add_test(tc, test_duplicate_name_last_wins);
	tcase_add_test(tc, test_reply_array_walks_in_order);
	tcase_add_test(tc, test_integer_range);
	tcase_add_test(tc, test_tree_equals_json_c);
	tcase_add_test(tc, test_not_json_is_refused_where_it_breaks);
	tcase_add_test(tc, test_nesting_is_bounded);
	tcase_add_test(tc, test_args_are_json);
	tcase_add_test(tc, test_args_overflow_is_flagged_and_text_stays_json);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
