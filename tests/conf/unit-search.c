/*
 * The systemd search path: /etc over /run over /usr/lib, masking by name,
 * by a /dev/null symlink or by an empty file, drop-ins merged across the
 * three directories in lexical order, and the INI syntax itself (comments,
 * continuation lines, list resets, errors with their file and line).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf/conf.h"
#include "tests/lib/conf-tree.h"
#include "tests/lib/suite.h"

#define ETC "etc/failoverd/"
#define RUN "run/failoverd/"
#define LIB "usr/lib/failoverd/"

static ConfTree *t;

static void setup(void)
{
	t = conf_tree_new();
}

static void teardown(void)
{
	t = conf_tree_free(t);
}

static void load_ok(void)
{
	ck_assert_msg(conf_tree_load(t) == 0, "conf_load: %d%s", t->result, conf_tree_diags(t));
	ck_assert_ptr_nonnull(t->set);
}

static void load_fails(void)
{
	ck_assert_msg(conf_tree_load(t) < 0, "conf_load succeeded:%s", conf_tree_diags(t));
	ck_assert_ptr_null(t->set);
}

/* Asserts one diagnostic "ROOT/REL:LINE: SEV: MESSAGE" (LINE 0: without line). */
static void expect_diag(const char *rel, unsigned line, const char *sev, const char *message)
{
	char want[2048];

	if (line)
		snprintf(want, sizeof(want), "%s:%u: %s: %s", conf_tree_path(t, rel), line, sev,
			 message);
	else
		snprintf(want, sizeof(want), "%s: %s: %s", conf_tree_path(t, rel), sev, message);
	ck_assert_msg(conf_tree_count(t, want) == 1, "wanted once: %s\ngot:%s", want,
		      conf_tree_diags(t));
}

static const ConfPool *pool(const char *name)
{
	const ConfPool *p = conf_set_find_pool(t->set, name);

	ck_assert_msg(p, "no pool %s", name);
	return p;
}

static void expect_pfs(const ConfPool *p, const char *const *want, size_t n)
{
	ck_assert_uint_eq(p->n_pfs, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(p->pfs[i], want[i]);
}

static const char emulated[] = "[Pool]\nDriver=emulated\nModel=e1000e\n";

START_TEST(test_no_configuration_is_defaults)
{
	load_ok();
	ck_assert_uint_eq(t->diags.n, 0);
	ck_assert_str_eq(t->set->daemon.state_directory, "/var/lib/failoverd");
	ck_assert_int_eq(t->set->daemon.log_level, LOG_INFO);
	ck_assert_str_eq(t->set->daemon.listen_qmp, "");
	ck_assert_str_eq(t->set->daemon.admin_group, "");
	ck_assert_uint_eq(t->set->daemon.unplug_timeout_ms, 30000);
	ck_assert_uint_eq(t->set->daemon.command_timeout_ms, 10000);
	ck_assert_uint_eq(t->set->n_pools, 0);
	ck_assert_uint_eq(t->set->n_instances, 0);
}
END_TEST

START_TEST(test_precedence_etc_run_usrlib)
{
	conf_tree_write(t, LIB "a.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=3\n");
	conf_tree_write(t, RUN "a.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=2\n");
	conf_tree_write(t, ETC "a.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=1\n");
	conf_tree_write(t, LIB "b.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=3\n");
	conf_tree_write(t, RUN "b.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=2\n");
	conf_tree_write(t, LIB "c.pool", "[Pool]\nDriver=emulated\nModel=e1000e\nSize=3\n");
	conf_tree_write(t, LIB "failoverd.conf", "[Daemon]\nLogLevel=err\nAdminGroup=lib\n");
	conf_tree_write(t, RUN "failoverd.conf", "[Daemon]\nLogLevel=debug\n");
	load_ok();
	/* Only the first file of a name is read: nothing merges from a masked one. */
	ck_assert_int_eq(t->set->daemon.log_level, LOG_DEBUG);
	ck_assert_str_eq(t->set->daemon.admin_group, "");
	ck_assert_uint_eq(t->set->n_pools, 3);
	ck_assert_str_eq(t->set->pools[0].name, "a");
	ck_assert_str_eq(t->set->pools[1].name, "b");
	ck_assert_str_eq(t->set->pools[2].name, "c");
	ck_assert_uint_eq(pool("a")->size, 1);
	ck_assert_str_eq(pool("a")->file, conf_tree_path(t, ETC "a.pool"));
	ck_assert_uint_eq(pool("b")->size, 2);
	ck_assert_str_eq(pool("b")->file, conf_tree_path(t, RUN "b.pool"));
	ck_assert_uint_eq(pool("c")->size, 3);
	ck_assert_uint_eq(t->diags.n, 0);
}
END_TEST

START_TEST(test_mask_dev_null_symlink)
{
	conf_tree_write(t, LIB "a.pool", emulated);
	conf_tree_write(t, LIB "b.vm", "[Instance]\n[Pair]\nName=x\n"); /* would be invalid */
	conf_tree_write(t, LIB "b.vm.d/more.conf", "[Pair]\nName=y\n");
	conf_tree_symlink(t, ETC "a.pool", "/dev/null");
	conf_tree_symlink(t, RUN "b.vm", "/dev/null");
	conf_tree_write(t, ETC "c.pool", emulated);
	load_ok();
	ck_assert_uint_eq(t->set->n_pools, 1);
	ck_assert_str_eq(t->set->pools[0].name, "c");
	ck_assert_uint_eq(t->set->n_instances, 0);
	ck_assert_uint_eq(t->diags.n, 0);
}
END_TEST

START_TEST(test_mask_empty_file)
{
	conf_tree_write(t, LIB "a.pool", emulated);
	conf_tree_write(t, RUN "a.pool", "");
	load_ok();
	ck_assert_uint_eq(t->set->n_pools, 0);
}
END_TEST

START_TEST(test_masked_daemon_conf_keeps_dropins)
{
	conf_tree_write(t, LIB "failoverd.conf", "[Daemon]\nLogLevel=err\n");
	conf_tree_symlink(t, ETC "failoverd.conf", "/dev/null");
	conf_tree_write(t, RUN "failoverd.conf.d/admin.conf", "[Daemon]\nAdminGroup=ops\n");
	load_ok();
	ck_assert_int_eq(t->set->daemon.log_level, LOG_INFO);
	ck_assert_str_eq(t->set->daemon.admin_group, "ops");
}
END_TEST

START_TEST(test_dropin_without_main_file)
{
	conf_tree_write(t, ETC "failoverd.conf.d/debug.conf", "[Daemon]\nLogLevel=debug\n");
	/* A pool is defined by its main file: drop-ins alone define nothing. */
	conf_tree_write(t, ETC "ghost.pool.d/x.conf", emulated);
	load_ok();
	ck_assert_int_eq(t->set->daemon.log_level, LOG_DEBUG);
	ck_assert_str_eq(t->set->daemon.state_directory, "/var/lib/failoverd");
	ck_assert_uint_eq(t->set->n_pools, 0);
}
END_TEST

START_TEST(test_dropin_order_across_dirs)
{
	static const char *const want[] = { "main", "etc05", "lib10", "run20", "lib30" };

	conf_tree_write(t, LIB "a.pool", "[Pool]\nPhysicalFunction=main\n");
	conf_tree_write(t, LIB "a.pool.d/10-x.conf", "[Pool]\nPhysicalFunction=lib10\n");
	conf_tree_write(t, LIB "a.pool.d/30-x.conf", "[Pool]\nPhysicalFunction=lib30\n");
	conf_tree_write(t, RUN "a.pool.d/20-x.conf", "[Pool]\nPhysicalFunction=run20\n");
	conf_tree_write(t, ETC "a.pool.d/05-x.conf", "[Pool]\nPhysicalFunction=etc05\n");
	/* Not drop-ins: wrong suffix, hidden, a directory. */
	conf_tree_write(t, ETC "a.pool.d/06-x.conf.bak", "[Pool]\nPhysicalFunction=bak\n");
	conf_tree_write(t, ETC "a.pool.d/.07-x.conf", "[Pool]\nPhysicalFunction=hidden\n");
	conf_tree_write(t, ETC "a.pool.d/08-x.conf/inner", "x");
	load_ok();
	expect_pfs(pool("a"), want, 5);
	ck_assert_uint_eq(t->diags.n, 0);
}
END_TEST

START_TEST(test_dropin_same_name_overrides)
{
	static const char *const want[] = { "main", "etc" };

	conf_tree_write(t, LIB "a.pool", "[Pool]\nPhysicalFunction=main\n");
	conf_tree_write(t, LIB "a.pool.d/10-x.conf", "[Pool]\nPhysicalFunction=lib\n");
	conf_tree_write(t, RUN "a.pool.d/10-x.conf", "[Pool]\nPhysicalFunction=run\n");
	conf_tree_write(t, ETC "a.pool.d/10-x.conf", "[Pool]\nPhysicalFunction=etc\n");
	conf_tree_write(t, LIB "a.pool.d/20-y.conf", "[Pool]\nPhysicalFunction=masked\n");
	conf_tree_symlink(t, RUN "a.pool.d/20-y.conf", "/dev/null");
	load_ok();
	expect_pfs(pool("a"), want, 2);
}
END_TEST

START_TEST(test_main_file_drop_in_of_the_winner_only_name)
{
	/* Drop-ins belong to the name, not to the directory of the main file. */
	conf_tree_write(t, ETC "a.pool", "[Pool]\nDriver=emulated\nModel=e1000e\n");
	conf_tree_write(t, LIB "a.pool.d/size.conf", "[Pool]\nSize=5\n");
	load_ok();
	ck_assert_uint_eq(pool("a")->size, 5);
}
END_TEST

START_TEST(test_list_reset_and_scalar_last_wins)
{
	static const char *const want[] = { "c", "d" };

	conf_tree_write(t, ETC "a.pool",
			"[Pool]\n"
			"PhysicalFunction=a\n"
			"PhysicalFunction=b\n"
			"VirtualFunctions=0-3\n"
			"VirtualFunctions=6\n"
			"Size=2\n"
			"Size=3\n");
	conf_tree_write(t, ETC "a.pool.d/reset.conf",
			"[Pool]\nPhysicalFunction=\nPhysicalFunction=c\nVirtualFunctions=\n"
			"VirtualFunctions=9-10\n");
	conf_tree_write(t, ETC "a.pool.d/z.conf", "[Pool]\nPhysicalFunction=d\n");
	load_ok();
	expect_pfs(pool("a"), want, 2);
	ck_assert_uint_eq(pool("a")->n_ranges, 1);
	ck_assert_uint_eq(pool("a")->ranges[0].first, 9);
	ck_assert_uint_eq(pool("a")->ranges[0].last, 10);
	ck_assert_uint_eq(pool("a")->size, 3);
}
END_TEST

START_TEST(test_empty_assignment_restores_default)
{
	conf_tree_write(t, ETC "failoverd.conf",
			"[Daemon]\nLogLevel=debug\nStateDirectory=/srv/fo\nListenQMP=/run/fo.sock\n"
			"UnplugTimeoutSec=5\n");
	conf_tree_write(t, ETC "failoverd.conf.d/reset.conf",
			"[Daemon]\nLogLevel=\nStateDirectory=\nListenQMP=\nUnplugTimeoutSec=\n");
	conf_tree_write(t, ETC "a.pool",
			"[Pool]\nDriver=emulated\nModel=e1000e\nSize=4\n"
			"[SR-IOV]\nVLANId=10\nTrust=yes\n");
	conf_tree_write(t, ETC "a.pool.d/reset.conf", "[Pool]\nSize=\n[SR-IOV]\nTrust=\n");
	load_ok();
	ck_assert_int_eq(t->set->daemon.log_level, LOG_INFO);
	ck_assert_str_eq(t->set->daemon.state_directory, "/var/lib/failoverd");
	ck_assert_str_eq(t->set->daemon.listen_qmp, "");
	ck_assert_uint_eq(t->set->daemon.unplug_timeout_ms, 30000);
	ck_assert_uint_eq(pool("a")->size, 8);
	ck_assert_uint_eq(pool("a")->sriov.set, CONF_SRIOV_VLAN);
}
END_TEST

START_TEST(test_syntax_comments_whitespace_continuation)
{
	static const char *const want[] = { "eth0", "eth1", "eth2" };

	conf_tree_write(t, ETC "a.pool",
			"# a comment\n"
			"; another = comment\n"
			"\n"
			"   [Pool]   \n"
			"\t PhysicalFunction =  eth0 \t\n"
			"# comment ending in a backslash does not continue \\\n"
			"PhysicalFunction=eth1\n"
			"VirtualFunctions=0-1,\\\n"
			"# comments inside a continuation are skipped\n"
			"4\n"
			"Size=9\r\n"
			"PhysicalFunction=\\\n"
			"eth2");
	load_ok();
	expect_pfs(pool("a"), want, 3);
	ck_assert_uint_eq(pool("a")->n_ranges, 2);
	ck_assert_uint_eq(pool("a")->ranges[1].first, 4);
	ck_assert_uint_eq(pool("a")->size, 9);
	ck_assert_uint_eq(t->diags.n, 0);
}
END_TEST

START_TEST(test_syntax_errors_name_file_and_line)
{
	conf_tree_write(t, ETC "failoverd.conf",
			"LogLevel=debug\n"
			"[Daemon\n"
			"[]\n"
			"[Daemon]\n"
			"just words\n"
			"LogLevel=\\\n"
			"  loud\n");
	load_fails();
	expect_diag(ETC "failoverd.conf", 1, "error", "assignment outside of any section");
	expect_diag(ETC "failoverd.conf", 2, "error", "invalid section header '[Daemon'");
	expect_diag(ETC "failoverd.conf", 3, "error", "invalid section header '[]'");
	expect_diag(ETC "failoverd.conf", 5, "error", "expected Key=Value, found 'just words'");
	/* A continued value is reported at the line where it starts. */
	expect_diag(ETC "failoverd.conf", 6, "error",
		    "invalid LogLevel=loud: expected err, warning, notice, info or debug");
	ck_assert_uint_eq(t->diags.n, 5);
}
END_TEST

START_TEST(test_unknown_keys_warn)
{
	conf_tree_write(t, ETC "a.pool",
			"[Pool]\nDriver=emulated\nModel=e1000e\nFoo=1\n[X-Inventory]\nRack=4\n"
			"[SR-IOV]\nVirtualFunction=3\n");
	load_ok();
	expect_diag(ETC "a.pool", 4, "warning", "unknown key 'Foo' in section [Pool], ignoring");
	expect_diag(ETC "a.pool", 8, "warning",
		    "unknown key 'VirtualFunction' in section [SR-IOV], ignoring");
	/* An X- section belongs to another tool: neither it nor its keys are reported. */
	ck_assert_uint_eq(t->diags.n, 2);
	ck_assert_uint_eq(conf_tree_count_sev(t, CONF_ERROR), 0);
	ck_assert_uint_eq(pool("a")->size, 8);
}
END_TEST

/* A typo'd header would drop what follows it (a pair, a pool's settings): refused. */
START_TEST(test_unknown_sections_are_errors)
{
	conf_tree_write(t, ETC "a.pool", "[Pool]\nDriver=emulated\nModel=e1000e\n[Network]\nA=x\n");
	conf_tree_write(t, ETC "failoverd.conf", "[Daemon]\nLogLevel=info\n[Pool]\nSize=3\n");
	conf_tree_write(t, ETC "web1.vm",
			"[Instance]\nQMP=/run/web1.qmp\n[Pairs]\nName=uplink\nPool=a\n"
			"MACAddress=52:54:00:aa:bb:01\nStandby=net0\n");
	load_fails();
	expect_diag(ETC "a.pool", 4, "error",
		    "unknown section [Network] (this file may have [Pool], [SR-IOV])");
	expect_diag(ETC "failoverd.conf", 3, "error",
		    "unknown section [Pool] (this file may have [Daemon])");
	expect_diag(ETC "web1.vm", 3, "error",
		    "unknown section [Pairs] (this file may have [Instance], [Pair])");
	/* Keys of an unknown section are not reported one by one. */
	ck_assert_uint_eq(t->diags.n, 3);
}
END_TEST

START_TEST(test_unreadable_file_is_an_error)
{
	conf_tree_symlink(t, ETC "a.pool", "/nonexistent/failoverd/a.pool");
	load_fails();
	expect_diag(ETC "a.pool", 0, "error", "cannot read: No such file or directory");
}
END_TEST

START_TEST(test_invalid_file_names)
{
	char name[100];

	memset(name, 'x', 65);
	snprintf(name + 65, sizeof(name) - 65, ".pool");
	conf_tree_write(t, ETC "bad name.pool", emulated);
	conf_tree_write(t, ETC "bad$.vm", "[Instance]\n");
	{
		char rel[200];

		snprintf(rel, sizeof(rel), ETC "%s", name);
		conf_tree_write(t, rel, emulated);
	}
	load_fails();
	expect_diag(ETC "bad name.pool", 0, "error",
		    "pool name 'bad name' from the file name is invalid: use letters, digits, "
		    "'_', '.', '-' (at most 64)");
	expect_diag(ETC "bad$.vm", 0, "error",
		    "instance file name 'bad$' is invalid: use letters, digits, '_', '.', '-' (at "
		    "most 64)");
	ck_assert_uint_eq(conf_tree_count_sev(t, CONF_ERROR), 3);
}
END_TEST

START_TEST(test_diag_format)
{
	ConfDiag d = { .severity = CONF_ERROR, .file = "/etc/failoverd/a.pool", .line = 7 };
	char buf[512];

	snprintf(d.message, sizeof(d.message), "invalid VLANId=5000: expected an integer 1-4094");
	conf_diag_format(&d, buf, sizeof(buf));
	ck_assert_str_eq(buf,
			 "/etc/failoverd/a.pool:7: error: invalid VLANId=5000: expected an integer "
			 "1-4094");
	d.severity = CONF_WARNING;
	d.line = 0;
	conf_diag_format(&d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "/etc/failoverd/a.pool: warning: invalid VLANId=5000: expected an "
			      "integer 1-4094");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf-search");
	TCase *tc = tcase_create("search");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_no_configuration_is_defaults);
	tcase_add_test(tc, test_precedence_etc_run_usrlib);
	tcase_add_test(tc, test_mask_dev_null_symlink);
	tcase_add_test(tc, test_mask_empty_file);
	tcase_add_test(tc, test_masked_daemon_conf_keeps_dropins);
	tcase_add_test(tc, test_dropin_without_main_file);
	tcase_add_test(tc, test_dropin_order_across_dirs);
	tcase_add_test(tc, test_dropin_same_name_overrides);
	tcase_add_test(tc, test_main_file_drop_in_of_the_winner_only_name);
	tcase_add_test(tc, test_list_reset_and_scalar_last_wins);
	tcase_add_test(tc, test_empty_assignment_restores_default);
	tcase_add_test(tc, test_syntax_comments_whitespace_continuation);
	tcase_add_test(tc, test_syntax_errors_name_file_and_line);
	tcase_add_test(tc, test_unknown_keys_warn);
	tcase_add_test(tc, test_unknown_sections_are_errors);
	tcase_add_test(tc, test_unreadable_file_is_an_error);
	tcase_add_test(tc, test_invalid_file_names);
	tcase_add_test(tc, test_diag_format);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
