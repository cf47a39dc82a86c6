/*
 * failoverctl's human output never hands QEMU- or configuration-supplied
 * bytes to the terminal raw (ctl/text.c, ctl/table.c); --json output is
 * escaped by json-c, checked here too.
 */

#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/table.h"
#include "ctl/text.h"
#include "tests/lib/suite.h"

static const struct {
	const char *in, *out;
} cases[] = {
	{ "primary hidden by QEMU", "primary hidden by QEMU" },
	{ "", "" },
	{ "\x1b[2Jgone", "\\e[2Jgone" },
	{ "two\nlines\r\tand", "two\\nlines\\r\\tand" },
	{ "bell\a del\x7f nul-less \x01", "bell\\x07 del\\x7f nul-less \\x01" },
	{ "back\\slash", "back\\\\slash" },
	{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" }, /* valid UTF-8 stays */
	{ "csi\xc2\x9b"
	  "31m",
	  "csi\\xc2\\x9b31m" },					 /* C1 control */
	{ "cut\xc3", "cut\\xc3" },				 /* truncated */
	{ "bad\xff\xfe ok", "bad\\xff\\xfe ok" },		 /* never UTF-8 */
	{ "over\xc0\xaflong", "over\\xc0\\xaflong" },		 /* overlong '/' */
	{ "surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80" }, /* UTF-16 half */
};

START_TEST(test_escape)
{
	char *e = text_escape(cases[_i].in);

	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e, cases[_i].out);
	free(e);
}
END_TEST

static bool has_raw_control(const char *s, bool newlines_ok)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && !(newlines_ok && *p == '\n')) || *p == 0x7f)
			return true;
	return false;
}

START_TEST(test_table_cells_escaped)
{
	static const char *const head[] = { "PAIR", "REASON" };
	const char *row[] = { "p0\x1b]0;owned\a", "QEMU said:\x1b[31m no\nsecond line\xff" };
	Table *t = table_new(2, head);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(table_add_row(t, row), 0);
	table_print(t, f, true);
	fclose(f);
	ck_assert_msg(!has_raw_control(out, true), "raw control character in: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "p0\\e]0;owned\\x07"));
	ck_assert_ptr_nonnull(strstr(out, "said:\\e[31m no\\nsecond line\\xff\n"));
	/* Header plus one row: the newline in the reason did not split the row. */
	ck_assert_ptr_eq(strchr(strchr(out, '\n') + 1, '\n'), out + len - 1);
	free(out);
	table_free(t);
}
END_TEST

/* failoverctl --json prints with these flags: json-c escapes controls itself. */
START_TEST(test_json_output_escaped)
{
	json_object *o = json_object_new_object();
	const char *s;

	json_object_object_add(o, "last_error", json_object_new_string("x\x1b[2J\n\a\x01y"));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	ck_assert_msg(!has_raw_control(s, true), "raw control character in: %s", s);
	ck_assert_ptr_nonnull(strstr(s, "x\\u001b[2J\\n\\u0007\\u0001y"));
	json_object_put(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl-text");
	TCase *tc = tcase_create("escape");

	tcase_add_loop_test(tc, test_escape, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_table_cells_escaped);
	tcase_add_test(tc, test_json_output_escaped);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
