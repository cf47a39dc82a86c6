#pragma once

/*
 * Capability probes shared by the QEMUs of one build. query-qmp-schema alone
 * is ~240 KiB of JSON on QEMU 10, and a daemon restart reconnects every
 * instance at once: parsing it a thousand times took seconds. A build is
 * named by what the kernel says the peer runs — the executable's device,
 * inode, size and mtime from /proc/PID/exe (PID from SO_PEERCRED) — plus the
 * greeting's version: the version alone is whatever a peer claims, and a
 * hostile or merely different binary claiming it must not get (or plant)
 * another binary's answer. A peer whose pid or executable is unknown is
 * probed each time, and an answer is kept only if the peer still runs the
 * same executable, as the same process, when it arrives. Probes of a build
 * already in flight are waited for, not repeated.
 */

#include "qmp/qmp.h"

typedef struct ProbeCache ProbeCache;

/* @base runs the heap trim after a fresh probe (its reply is megabytes of objects). */
int probe_cache_new(ProbeCache **out, struct event_base *base);
ProbeCache *probe_cache_free(ProbeCache *pc);

/*
 * Like qmp_probe_start(): @fn runs exactly once unless cancelled, possibly
 * before this returns (a cached answer). @ud names the caller for
 * probe_cache_cancel().
 */
int probe_cache_probe(ProbeCache *pc, QmpConn *c, const char *primary_driver, QmpProbeFn fn,
		      void *ud);
/* @ud's connection is gone or @ud is being freed: its callback will not run. */
void probe_cache_cancel(ProbeCache *pc, void *ud);
