/*
 * failoverd --check-config, as an operator runs it before a reload: the
 * configuration dumped and exit 0 when it is valid; exit 1 and every error
 * with its file and line when it is not - a typo'd section header among
 * them, which would otherwise drop the pair below it.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/lib/conf-tree.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

#define ETC "etc/failoverd/"

static const char *const pool = "[Pool]\nDriver=emulated\nModel=e1000e\nSize=2\n";

/* Runs failoverd --check-config under @t's root; its exit status, its output in @out. */
static int check_config(ConfTree *t, char **out)
{
	char bin[4096], log[4096];
	const char *argv[] = { test_build_path(bin, sizeof(bin), "failoverd"), "--root", t->root,
			       "--check-config", NULL };
	TestQemu *q;
	int status = -1;

	snprintf(log, sizeof(log), "%s/check-config.log", t->root);
	q = test_qemu_spawn(argv, log);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(test_qemu_wait_exit(q, 10000, &status), 0);
	test_qemu_free(q);
	*out = test_log_read(log);
	ck_assert_ptr_nonnull(*out);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_valid_configuration_passes)
{
	ConfTree *t = conf_tree_new();
	char *out;

	conf_tree_write(t, ETC "fast.pool", pool);
	conf_tree_write(t, ETC "web1.vm",
			"[Instance]\nQMP=/run/web1.qmp\n[Pair]\nName=uplink\nPool=fast\n"
			"MACAddress=52:54:00:aa:bb:01\nStandby=net0\n");
	ck_assert_int_eq(check_config(t, &out), 0);
	ck_assert_msg(strstr(out, "configuration is valid"), "%s", out);
	/* The pair is there: the dump shows what the daemon would run. */
	ck_assert_msg(strstr(out, "uplink"), "%s", out);
	free(out);
	conf_tree_free(t);
}
END_TEST

START_TEST(test_typoed_section_fails)
{
	ConfTree *t = conf_tree_new();
	char *out;

	conf_tree_write(t, ETC "fast.pool", pool);
	conf_tree_write(t, ETC "web1.vm",
			"[Instance]\nQMP=/run/web1.qmp\n[Pairs]\nName=uplink\nPool=fast\n"
			"MACAddress=52:54:00:aa:bb:01\nStandby=net0\n");
	ck_assert_int_eq(check_config(t, &out), 1);
	ck_assert_msg(strstr(out, "web1.vm:3: error: unknown section [Pairs] (this file may have "
				  "[Instance], [Pair])"),
		      "%s", out);
	ck_assert_msg(strstr(out, "configuration is invalid"), "%s", out);
	free(out);
	conf_tree_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("main");
	TCase *tc = tcase_create("check-config");

	tcase_add_test(tc, test_valid_configuration_passes);
	tcase_add_test(tc, test_typoed_section_fails);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
