#pragma once

/* The one manager object: the event loop and everything the daemon owns. */

#include <event2/event.h>
#include <stddef.h>

#include "conf/conf.h"
#include "daemon/instance.h"
#include "daemon/log.h"
#include "daemon/pair.h"
#include "daemon/pools.h"
#include "netlink/nlvf.h"
#include "sriov/sriov.h"

typedef struct Manager Manager;

typedef struct ManagerOptions {
	int log_level;
	const char *listen_qmp;	     /* zero-config socket, or NULL */
	unsigned listen_qmp_mode;    /* its mode; 0: CONF_DEFAULT_LISTEN_QMP_MODE */
	gid_t listen_qmp_gid;	     /* its group, (gid_t)-1: ours */
	int listen_qmp_fd;	     /* >= 0: that socket, passed by systemd (listen_qmp unused) */
	const char *state_dir;	     /* default /var/lib/failoverd */
	const char *metrics_file;    /* SIGUSR1 writes daemon/metrics.h's snapshot here, or NULL */
	const char *stop_at;	     /* fault injection: SIGSTOP at this checkpoint, or NULL */
	unsigned command_timeout_ms; /* [Daemon] CommandTimeoutSec=; 0: the default */
} ManagerOptions;

/*
 * A transition @from -> @to for @reason (what the pair was at that moment:
 * during a QMP event the call comes after the event's command went out, and
 * the pair may have moved on). @from is _PAIR_STATE_MAX when only a
 * property other than the state changed.
 */
typedef void (*ManagerPairFn)(Manager *m, Pair *p, PairState from, PairState to, const char *reason,
			      void *ud);
/* Connected, run or migration status, or the set of pairs changed. */
typedef void (*ManagerInstanceFn)(Manager *m, Instance *i, void *ud);

int manager_new(Manager **out, const ManagerOptions *opts);
Manager *manager_free(Manager *m);
/* Runs the loop until SIGTERM/SIGINT; returns 0 or a negative errno. */
int manager_run(Manager *m);
struct event_base *manager_get_event_base(Manager *m);
const Log *manager_get_log(const Manager *m);
const char *manager_get_state_dir(const Manager *m);
void manager_set_pair_hook(Manager *m, ManagerPairFn fn, void *ud);
void manager_set_instance_hook(Manager *m, ManagerInstanceFn fn, void *ud);

/* Pools come from configuration; @settings are its [SR-IOV] values. */
int manager_add_pool(Manager *m, const SriovPoolConfig *config, const NlVfConfig *settings);

typedef struct ManagerInstanceConfig {
	const char *name;
	const char *qmp_path; /* NULL: zero-config, QEMU connects to us */
	bool prepare_incoming;
	unsigned unplug_timeout_ms, negotiate_timeout_ms; /* 0: defaults */
	const PairConfig *pairs;
	size_t n_pairs;
} ManagerInstanceConfig;

int manager_add_instance(Manager *m, const ManagerInstanceConfig *c, Instance **out);
/*
 * Called once start-up is complete: state restored, pools recovered, and
 * every configured QEMU that answered its socket set up and reconciled
 * (the ones that are not running do not hold it up). Set before start.
 */
typedef void (*ManagerStartedFn)(Manager *m, void *ud);
void manager_set_started_hook(Manager *m, ManagerStartedFn fn, void *ud);
/* After pools and instances are added: restore state, recover, connect. */
int manager_start(Manager *m);

bool manager_pool_in_use(Manager *m, const char *pool);
int manager_remove_pool(Manager *m, const char *name);
int manager_connect_instance(Manager *m, Instance *i);
/* Back in the configuration (it was retired, or held ad-hoc pairs only). */
void manager_revive_instance(Manager *m, Instance *i, const char *qmp_path);
/* Removed from the configuration: its pairs are detached, then forgotten. */
void manager_retire_instance(Manager *m, Instance *i);

/* --- control operations (D-Bus, failoverctl); @err gets one readable line --- */

/* Adds a pair to a known instance and starts attaching it. */
int manager_attach_pair(Manager *m, const char *instance, const PairConfig *c, char *err,
			size_t size);
/* Unplugs the primary and gives the VF back; the pair is then forgotten. */
int manager_detach_pair(Manager *m, const char *instance, const char *pair, char *err, size_t size);
/*
 * Forgets an ad-hoc pair that holds nothing any more (released, or failed
 * or waiting without a VF): its state file goes, and it is not re-created.
 * -EBUSY while it holds a VF or QEMU may hold its primary; -EINVAL for a
 * pair of the configuration (it would come back: remove it from its file).
 */
int manager_remove_pair(Manager *m, const char *instance, const char *pair, char *err, size_t size);
/* Pre-stages every pair of an -incoming instance now (zero degraded window). */
int manager_prepare_incoming(Manager *m, const char *instance, char *err, size_t size);

size_t manager_get_n_pools(Manager *m);
int manager_get_pool_info(Manager *m, size_t index, PoolInfo *info);

Instance *manager_find_instance(Manager *m, const char *name);
Instance *manager_get_instances(Manager *m);

/*
 * A step has just been made durable ("reserved", "saved", "programmed",
 * "bound", "primary-added", "state:<name>"). With --debug-stop-at=POINT the
 * daemon stops itself there, so fault tests can kill it or its QEMU at
 * exactly that step; otherwise this costs one comparison.
 */
void manager_checkpoint(Manager *m, const char *point);
/* The QEMU driver of @pool's primaries, NULL for an unknown pool. */
const char *manager_pool_driver(Manager *m, const char *pool);

static inline void manager_freep(Manager **m)
{
	manager_free(*m);
}
