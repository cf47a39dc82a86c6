#pragma once

/*
 * A pair's state file, STATE/pairs/INSTANCE@PAIR (docs/pairs.md §persistence):
 * what the pair was doing, a hint that reconciliation checks against QEMU,
 * and for pairs that exist nowhere else (created over D-Bus, or retired from
 * the configuration while they held a VF) what re-creates them. Only values:
 * the pair module turns a record into a pair and back.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/pair.h"

typedef struct PairRecord {
	/* the pair as it was */
	char state[32]; /* a pair_state_to_string() name, or what a newer failoverd wrote */
	char reason[256];
	PairVf vf;	    /* vf.id "": none */
	bool vf_gone;	    /* the host lost that VF */
	bool primary_added; /* QEMU may hold the primary (a device_add in flight counts) */
	bool guest_negotiated;
	bool detach; /* the operator asked for a detach */
	char primary_bus[80];
	char standby_bus[80];
	char standby_tap[16]; /* the standby's host tap as found, "" if not */
	pid_t qemu_pid;	      /* the QEMU process it was in, 0 if unknown */
	uint64_t qemu_start;  /* that process's start time */
	uint64_t changed_us;
	int64_t degraded_ms; /* -1: none measured */
	/* what re-creates it: config.name comes from the file name, not from the file */
	PairConfig config;
	bool has_mac;
	char qmp[108]; /* its instance's configured socket, "" if none */
} PairRecord;

/* STATE_DIR/pairs/INSTANCE@PAIR; -ENAMETOOLONG when it does not fit. */
int pair_file_path(char *buf, size_t size, const char *state_dir, const char *instance,
		   const char *pair);

/*
 * Unknown keys are skipped (a newer failoverd wrote them); -EBADMSG on a
 * malformed line (its number in *@bad_line) or a value of the wrong form.
 */
int pair_file_read(const char *path, PairRecord *rec, unsigned *bad_line);
/* Atomic; a file that already says the same is not rewritten. */
int pair_file_write(const char *path, const PairRecord *rec);
