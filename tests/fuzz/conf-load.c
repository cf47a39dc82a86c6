/*
 * The configuration loader (conf/) the way the daemon runs it: real files
 * below a root, search directories, drop-ins, masking, cross-checks.
 *
 * Input: up to six files separated by form feeds ('\f'), written to the
 * fixed places below; an empty part leaves its file out. Then conf_load(),
 * the dump, and checks: errors are diagnosed with a file, a set only comes
 * without errors, it equals itself and a second load, and every name in it
 * is what the key tables promise.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "daemon/validate.h"
#include "tests/fuzz/fuzz.h"

static const char *const files[] = {
	"etc/failoverd/failoverd.conf",
	"etc/failoverd/fast.pool",
	"etc/failoverd/fast.pool.d/10-fuzz.conf", /* drop-in next to its file */
	"etc/failoverd/web.vm",
	"run/failoverd/web.vm.d/20-fuzz.conf",	   /* drop-ins from two directories, */
	"usr/lib/failoverd/web.vm.d/10-fuzz.conf", /* applied in lexical order */
};
#define N_FILES (sizeof(files) / sizeof(files[0]))

static void check_set(const ConfSet *s)
{
	FUZZ_ASSERT(conf_daemon_equal(&s->daemon, &s->daemon));
	FUZZ_ASSERT(s->daemon.state_directory[0] == '/');
	for (size_t i = 0; i < s->n_pools; i++) {
		const ConfPool *p = &s->pools[i];

		FUZZ_ASSERT(validate_name(p->name));
		FUZZ_ASSERT(conf_set_find_pool(s, p->name) == p);
		FUZZ_ASSERT(p->n_pfs <= CONF_MAX_PFS && p->n_ranges <= CONF_MAX_RANGES);
		for (size_t k = 0; k < p->n_ranges; k++)
			FUZZ_ASSERT(p->ranges[k].first <= p->ranges[k].last);
		FUZZ_ASSERT(p->driver != CONF_POOL_VFIO || p->n_pfs > 0);
		FUZZ_ASSERT(p->driver != CONF_POOL_EMULATED || p->model[0]);
	}
	for (size_t i = 0; i < s->n_instances; i++) {
		const ConfInstance *in = &s->instances[i];

		/* What D-Bus callers will pass back must pass the D-Bus checks. */
		FUZZ_ASSERT(validate_instance_name(in->name));
		FUZZ_ASSERT(in->n_pairs <= CONF_MAX_PAIRS);
		for (size_t k = 0; k < in->n_pairs; k++) {
			const ConfPair *p = &in->pairs[k];

			FUZZ_ASSERT(validate_name(p->name) && validate_name(p->pool));
			FUZZ_ASSERT(conf_set_find_pool(s, p->pool));
			FUZZ_ASSERT(p->has_mac && !(p->mac[0] & 1));
			FUZZ_ASSERT(!p->standby[0] != !p->standby_netdev[0]);
			FUZZ_ASSERT(!p->standby[0] || validate_qemu_id(p->standby));
			FUZZ_ASSERT(!p->standby_netdev[0] || validate_qemu_id(p->standby_netdev));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ConfDiags diags = { 0 }, again_diags = { 0 };
	ConfSet *set = NULL, *again = NULL;
	const uint8_t *part;
	size_t pos = 0, len;
	char *dump = NULL;
	size_t dump_len = 0;
	FILE *f;
	int r;

	for (size_t i = 0; i < N_FILES; i++) {
		if (fuzz_next_part(data, size, &pos, '\f', &part, &len) && len > 0)
			fuzz_write(files[i], part, len);
		else
			fuzz_unlink(files[i]);
	}

	r = conf_load(fuzz_dir(), &set, &diags);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	FUZZ_ASSERT((r == 0) == (set != NULL));
	FUZZ_ASSERT((r == 0) == (diags.n_errors == 0));
	for (size_t i = 0; i < diags.n; i++) {
		char line[1024];

		FUZZ_ASSERT(diags.items[i].file[0]);
		conf_diag_format(&diags.items[i], line, sizeof(line));
	}

	if (set) {
		check_set(set);
		f = open_memstream(&dump, &dump_len);
		FUZZ_ASSERT(f);
		conf_set_dump(set, f);
		fclose(f);
		free(dump);

		/* Loading is deterministic, and a set has no changes against itself. */
		FUZZ_ASSERT(conf_set_diff(set, set, NULL, NULL) == 0);
		FUZZ_ASSERT(conf_load(fuzz_dir(), &again, &again_diags) == 0);
		FUZZ_ASSERT(again_diags.n == diags.n);
		FUZZ_ASSERT(conf_set_diff(set, again, NULL, NULL) == 0);
		conf_set_free(again);
		conf_diags_clear(&again_diags);
	}
	conf_set_free(set);
	conf_diags_clear(&diags);
	return 0;
}
