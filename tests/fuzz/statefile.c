/*
 * Every parser of the key=value state that survives a restart, on the same
 * bytes: the generic reader (daemon/statefile.c), a pair's state file
 * (STATE/pairs/INSTANCE@PAIR), a VF save file (STATE/saved/VF) and the
 * pool allocation records (STATE/alloc/VF and POOL@emuN, sriov/pool.c),
 * and a data-path steering record (STATE/steer/INSTANCE@PAIR).
 *
 * Whatever a reader accepts must survive its own writer: write it back,
 * read it again, get the same thing.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pair.h"
#include "daemon/pairfile.h"
#include "daemon/statefile.h"
#include "daemon/steer.h"
#include "daemon/vf.h"
#include "sriov/sriov.h"
#include "tests/fuzz/fuzz.h"

/* --- the generic reader --- */

typedef struct Entries {
	StateEntry *items;
	size_t n;
} Entries;

static int collect(const char *key, const char *value, void *userdata)
{
	Entries *e = userdata;
	StateEntry *items;

	FUZZ_ASSERT(*key && strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(key));
	FUZZ_ASSERT(!strchr(value, '\n'));
	items = realloc(e->items, (e->n + 1) * sizeof(*items));
	FUZZ_ASSERT(items);
	e->items = items;
	e->items[e->n].key = strdup(key);
	e->items[e->n].value = strdup(value);
	FUZZ_ASSERT(e->items[e->n].key && e->items[e->n].value);
	e->n++;
	return 0;
}

static void entries_free(Entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free((char *)e->items[i].key);
		free((char *)e->items[i].value);
	}
	free(e->items);
	*e = (Entries){ 0 };
}

/* The writer keeps values on one line: a carriage return becomes a space. */
static bool same_value(const char *written, const char *read)
{
	for (; *written && *read; written++, read++)
		if ((*written == '\r' ? ' ' : *written) != *read)
			return false;
	return !*written && !*read;
}

static void fuzz_statefile(const char *path)
{
	Entries first = { 0 }, second = { 0 };
	unsigned line = 0;
	const char *copy;
	int r;

	r = statefile_read(path, collect, &first, &line);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	FUZZ_ASSERT(r == 0 || line >= 1);
	if (r == 0) {
		copy = fuzz_write("copy", "", 0);
		FUZZ_ASSERT(statefile_write(copy, first.items, first.n) == 0);
		FUZZ_ASSERT(statefile_read(copy, collect, &second, NULL) == 0);
		FUZZ_ASSERT(first.n == second.n);
		for (size_t i = 0; i < first.n; i++) {
			FUZZ_ASSERT(strcmp(first.items[i].key, second.items[i].key) == 0);
			FUZZ_ASSERT(same_value(first.items[i].value, second.items[i].value));
		}
	}
	entries_free(&first);
	entries_free(&second);
}

/* --- a pair's state --- */

static void fuzz_pair_state(const char *path)
{
	PairRecord first, second, third;
	char copy[512];
	unsigned line = 0;
	int r;

	r = pair_file_read(path, &first, &line);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	if (r < 0)
		return;
	FUZZ_ASSERT(strlen(first.reason) < sizeof(first.reason));
	FUZZ_ASSERT(strlen(first.vf.id) < sizeof(first.vf.id));
	pair_state_from_string(first.state);
	/* Written and read back once (the writer normalises), it stays the same. */
	snprintf(copy, sizeof(copy), "%s/pair-copy", fuzz_dir());
	FUZZ_ASSERT(pair_file_write(copy, &first) == 0);
	FUZZ_ASSERT(pair_file_read(copy, &second, &line) == 0);
	FUZZ_ASSERT(pair_file_write(copy, &second) == 0);
	FUZZ_ASSERT(pair_file_read(copy, &third, &line) == 0);
	FUZZ_ASSERT(memcmp(&second, &third, sizeof(second)) == 0);
}

/* --- a VF save file --- */

static void fuzz_vf_saved(const char *path)
{
	VfSaved first, second;
	char err[512], copy[512];

	if (vf_saved_read(path, &first, err, sizeof(err)) < 0) {
		FUZZ_ASSERT(err[0]);
		return;
	}
	snprintf(copy, sizeof(copy), "%s/saved-copy", fuzz_dir());
	FUZZ_ASSERT(vf_saved_write(copy, &first) == 0);
	/* The writer turns carriage returns into spaces, by design. */
	for (char *f[] = { first.pool, first.pf, first.driver, first.driver_override, NULL },
		  **s = f;
	     *s; s++)
		for (char *c = *s; *c; c++)
			if (*c == '\r')
				*c = ' ';
	FUZZ_ASSERT(vf_saved_read(copy, &second, err, sizeof(err)) == 0);
	FUZZ_ASSERT(memcmp(&first, &second, sizeof(first)) == 0);
}

/* --- pool allocation records --- */

static bool same_alloc(const SriovAlloc *a, const SriovAlloc *b)
{
	return strcmp(a->pool, b->pool) == 0 && strcmp(a->id, b->id) == 0 &&
	       strcmp(a->owner, b->owner) == 0 && a->state == b->state &&
	       same_value(a->reason, b->reason) && a->emulated == b->emulated &&
	       strcmp(a->pf_bdf, b->pf_bdf) == 0 && strcmp(a->pf_ifname, b->pf_ifname) == 0 &&
	       a->vf_index == b->vf_index && strcmp(a->qemu_driver, b->qemu_driver) == 0;
}

static void fuzz_alloc(const uint8_t *data, size_t size, bool emulated)
{
	static const char *const pfs[] = { "eth0" };
	const char *sub = emulated ? "emu" : "vfio";
	char state_dir[300], record[300];
	SriovPoolConfig c = {
		.name = "fast",
		.driver = emulated ? SRIOV_POOL_EMULATED : SRIOV_POOL_VFIO,
		.pfs = pfs,
		.n_pfs = emulated ? 0 : 1,
		.size = 4,
		.state_dir = state_dir,
		.sysfs = "/nonexistent",
	};
	SriovPool *p = NULL, *again = NULL;
	SriovAlloc *a, *b, saved;
	SriovError err = { "" };
	int r;

	snprintf(state_dir, sizeof(state_dir), "%s/%s", fuzz_dir(), sub);
	snprintf(record, sizeof(record), "%s/alloc/%s", sub,
		 emulated ? "fast@emu0" : "0000:01:10.0");
	fuzz_write(record, data, size);
	r = sriov_pool_new(&p, &c, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EBADMSG && err.message[0]);
		return;
	}
	FUZZ_ASSERT(sriov_pool_get_n_allocs(p) <= 1);
	a = sriov_pool_get_alloc(p, 0);
	if (a) {
		FUZZ_ASSERT(a->emulated == emulated);
		FUZZ_ASSERT(sriov_pool_find(p, a->id) == a);
		FUZZ_ASSERT(sriov_pool_find_owner(p, a->owner));
		/* Rewritten by the pool itself, the record reads back the same. */
		saved = *a;
		FUZZ_ASSERT(sriov_pool_set_state(p, a, a->state, a->reason, &err) == 0);
		FUZZ_ASSERT(sriov_pool_new(&again, &c, &err) == 0);
		b = sriov_pool_get_alloc(again, 0);
		FUZZ_ASSERT(b && same_alloc(&saved, b));
		sriov_pool_free(again);
	}
	sriov_pool_free(p);
}

/* A steering record (STATE/steer/INSTANCE@PAIR): loaded, or kept as unreadable. */
static bool fuzz_alive(const char *owner, void *ud)
{
	return true;
}

static void fuzz_report(const char *owner, int r, const char *err, void *ud)
{
	FUZZ_ASSERT(r == -EBADMSG && strstr(err, "unreadable"));
	(*(unsigned *)ud)++;
}

static void fuzz_steer(const uint8_t *data, size_t size)
{
	char dir[300], err[320] = "";
	unsigned bad = 0;
	Steer *s = NULL;

	fuzz_write("steer/vm1@p0", data, size);
	snprintf(dir, sizeof(dir), "%s/steer", fuzz_dir());
	FUZZ_ASSERT(steer_new(&s, dir, err, sizeof(err)) == 0);
	steer_recover(s, fuzz_alive, &bad, fuzz_report);
	FUZZ_ASSERT(bad <= 1);
	steer_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write("state", data, size);
	char copy[512];

	snprintf(copy, sizeof(copy), "%s", path);
	fuzz_statefile(copy);
	fuzz_pair_state(copy);
	fuzz_vf_saved(copy);
	fuzz_alloc(data, size, true);
	fuzz_alloc(data, size, false);
	fuzz_steer(data, size);
	return 0;
}
