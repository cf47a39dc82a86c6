/*
 * Pair state files (docs/pairs.md §persistence): what one run writes, the
 * next reads back exactly; files of older and newer versions still load;
 * a damaged file is refused with the line that is wrong.
 */

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/pairfile.h"
#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_record_survives_a_restart)
{
	TestDir *d = test_dir_new();
	PairRecord rec, back;
	char path[4096];
	unsigned line = 0;
	const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x01 };

	memset(&rec, 0, sizeof(rec)); /* padding too: the records are compared whole */
	ck_assert_int_eq(pair_file_path(path, sizeof(path), test_dir_path(d), "vm1", "p0"), 0);
	ck_assert(strstr(path, "/pairs/vm1@p0"));
	/* the directory is the manager's business: here it is the test dir itself */
	snprintf(path, sizeof(path), "%s/vm1@p0", test_dir_path(d));
	snprintf(rec.state, sizeof(rec.state), "migrated");
	snprintf(rec.reason, sizeof(rec.reason), "migration completed; VF held");
	snprintf(rec.vf.id, sizeof(rec.vf.id), "0000:01:10.0");
	snprintf(rec.vf.driver, sizeof(rec.vf.driver), "vfio-pci");
	rec.primary_added = rec.detach = true;
	snprintf(rec.primary_bus, sizeof(rec.primary_bus), "rp1");
	snprintf(rec.standby_bus, sizeof(rec.standby_bus), "rp0");
	rec.qemu_pid = 4242;
	rec.qemu_start = 123456789012ull;
	rec.changed_us = 1764633600000000ull;
	rec.degraded_ms = 1234;
	snprintf(rec.config.pool, sizeof(rec.config.pool), "vf");
	snprintf(rec.config.standby_netdev, sizeof(rec.config.standby_netdev), "hn0");
	memcpy(rec.config.mac, mac, 6);
	rec.has_mac = true;
	rec.config.adhoc = true;
	snprintf(rec.qmp, sizeof(rec.qmp), "/run/vm1.qmp");

	ck_assert_int_eq(pair_file_write(path, &rec), 0);
	ck_assert_int_eq(pair_file_read(path, &back, &line), 0);
	ck_assert_mem_eq(&back, &rec, sizeof(rec));
	test_dir_free(d);
}
END_TEST

/* Numbers at their extremes and a MAC with letters: written as printf would, read back. */
START_TEST(test_numbers_at_the_limits)
{
	static const uint8_t mac[6] = { 0xfe, 0x0a, 0xbc, 0x00, 0x9d, 0xef };
	const int64_t degraded[] = { -1, 0, INT64_MIN, INT64_MAX };
	TestDir *d = test_dir_new();
	char path[4096], text[8192], want[64];
	PairRecord rec = { 0 }, back;
	unsigned line = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/pairs", test_dir_path(d));
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(pair_file_path(path, sizeof(path), test_dir_path(d), "vm1", "p0"), 0);
	snprintf(rec.state, sizeof(rec.state), "active");
	memcpy(rec.config.mac, mac, 6);
	rec.has_mac = true;
	rec.qemu_pid = 2147483647;
	rec.qemu_start = UINT64_MAX;
	for (size_t k = 0; k < sizeof(degraded) / sizeof(degraded[0]); k++) {
		rec.degraded_ms = degraded[k];
		rec.changed_us = k;
		ck_assert_int_eq(pair_file_write(path, &rec), 0);
		f = fopen(path, "re");
		ck_assert_ptr_nonnull(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = 0;
		fclose(f);
		snprintf(want, sizeof(want), "\ndegraded_ms=%" PRId64 "\n", degraded[k]);
		ck_assert_msg(strstr(text, want), "no %s in:\n%s", want + 1, text);
		ck_assert(strstr(text, "\nmac=fe:0a:bc:00:9d:ef\n"));
		ck_assert(strstr(text, "\nqemu_pid=2147483647\n"));
		ck_assert(strstr(text, "\nqemu_start=18446744073709551615\n"));
		ck_assert_int_eq(pair_file_read(path, &back, &line), 0);
		ck_assert_int_eq(back.degraded_ms, degraded[k]);
		ck_assert_mem_eq(back.config.mac, mac, 6);
		ck_assert_uint_eq(back.changed_us, k);
	}
	test_dir_free(d);
}
END_TEST

/* Reads @text as a pair state file. */
static int read_text(const char *text, PairRecord *rec, unsigned *line)
{
	TestDir *d = test_dir_new();
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/vm1@p0", test_dir_path(d));
	write_text(path, text);
	r = pair_file_read(path, rec, line);
	test_dir_free(d);
	return r;
}

/* An older file lacks keys (zero, or "none measured"); a newer one has keys this one skips. */
START_TEST(test_other_versions_load)
{
	PairRecord rec;
	unsigned line = 0;

	ck_assert_int_eq(read_text("state=active\nvf=emu0\nfrom_the_future=42\norigin=retired\n",
				   &rec, &line),
			 0);
	ck_assert_str_eq(rec.state, "active");
	ck_assert_str_eq(rec.vf.id, "emu0");
	ck_assert_int_eq(rec.degraded_ms, -1);
	ck_assert(rec.config.retired && rec.config.adhoc);
	ck_assert(!rec.has_mac && !rec.primary_added);
}
END_TEST

START_TEST(test_damaged_file_names_its_line)
{
	PairRecord rec;
	unsigned line = 0;

	ck_assert_int_eq(
		read_text("state=active\nvf=emu0\nthis line has no equals sign\n", &rec, &line),
		-EBADMSG);
	ck_assert_uint_eq(line, 3);
	ck_assert_int_eq(pair_file_read("/nonexistent/vm1@p0", &rec, &line), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pairfile");
	TCase *tc = tcase_create("pairfile");

	tcase_add_test(tc, test_record_survives_a_restart);
	tcase_add_test(tc, test_numbers_at_the_limits);
	tcase_add_test(tc, test_other_versions_load);
	tcase_add_test(tc, test_damaged_file_names_its_line);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
