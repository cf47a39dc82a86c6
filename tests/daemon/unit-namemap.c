/*
 * The manager's index of instances by name: every one of many names is
 * found, a removed one is not, and a stale removal leaves a newer holder.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>

#include "daemon/namemap.h"
#include "tests/lib/suite.h"

START_TEST(test_ten_thousand_names)
{
	static int objs[10000];
	NameMap *m = NULL;
	char name[32];

	ck_assert_int_eq(name_map_new(&m), 0);
	for (int k = 0; k < 10000; k++) {
		snprintf(name, sizeof(name), "vm%d", k);
		ck_assert_int_eq(name_map_put(m, name, &objs[k]), 0);
	}
	ck_assert_int_eq(name_map_put(m, "vm17", &objs[0]), -EEXIST);
	for (int k = 0; k < 10000; k++) {
		snprintf(name, sizeof(name), "vm%d", k);
		ck_assert_ptr_eq(name_map_get(m, name), &objs[k]);
	}
	ck_assert_ptr_null(name_map_get(m, "vm10000"));
	ck_assert_ptr_null(name_map_get(m, ""));
	for (int k = 0; k < 10000; k += 2) {
		snprintf(name, sizeof(name), "vm%d", k);
		name_map_remove(m, name, &objs[k]);
	}
	for (int k = 0; k < 10000; k++) {
		snprintf(name, sizeof(name), "vm%d", k);
		ck_assert_ptr_eq(name_map_get(m, name), k % 2 ? &objs[k] : NULL);
	}
	name_map_free(m);
	ck_assert_ptr_null(name_map_free(NULL));
}
END_TEST

/* A QEMU that took over a name: removing the old holder keeps the new one. */
START_TEST(test_remove_needs_the_holder)
{
	int a, b;
	NameMap *m = NULL;

	ck_assert_int_eq(name_map_new(&m), 0);
	ck_assert_int_eq(name_map_put(m, "vm1", &a), 0);
	name_map_remove(m, "vm1", &b);
	ck_assert_ptr_eq(name_map_get(m, "vm1"), &a);
	name_map_remove(m, "vm1", &a);
	name_map_remove(m, "vm1", &a); /* twice is fine */
	ck_assert_int_eq(name_map_put(m, "vm1", &b), 0);
	ck_assert_ptr_eq(name_map_get(m, "vm1"), &b);
	name_map_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("namemap");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, test_ten_thousand_names);
	tcase_add_test(tc, test_remove_needs_the_holder);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
