#pragma once

/*
 * A failover pair: a virtio-net standby plus a primary (a VF through
 * vfio-pci, or an emulated NIC) with the same MAC, and its life across hot
 * plug, guest negotiation and live migration (docs/pairs.md, docs/qemu-failover.md).
 */

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "qmp/qmp.h"

typedef struct Instance Instance;
typedef struct Pair Pair;
typedef struct PairRecord PairRecord;

typedef enum PairState {
	PAIR_WAITING,	 /* instance not connected, or guest has not negotiated */
	PAIR_STAGED,	 /* VF reserved and programmed, primary added, hidden */
	PAIR_ACTIVE,	 /* primary realized, guest bonded */
	PAIR_UNPLUGGING, /* UNPLUG_PRIMARY seen, migration in wait-unplug */
	PAIR_MIGRATING,	 /* source: guest released the primary, stream flowing */
	PAIR_MIGRATED,	 /* source: completed, VF still held by source QEMU */
	PAIR_INCOMING,	 /* destination: primary pre-staged before the stream */
	PAIR_RELEASED,	 /* VF given back */
	PAIR_FAILED,	 /* see reason */
	PAIR_DETACHING,	 /* detach asked; the VF stays held while QEMU may hold the primary */
	_PAIR_STATE_MAX,
} PairState;

/* Where the pair's MAC is steered while its VF is away (docs/traffic.md). */
typedef enum PairSteer {
	PAIR_STEER_NONE,
	PAIR_STEER_SOURCE,	/* VF MAC zeroed, entries on this host's uplink and tap */
	PAIR_STEER_DESTINATION, /* entries only: the VF keeps the MAC the guest will find */
} PairSteer;

/* The standby's link as failoverd last set it (StandbyLinkDown=). */
typedef enum PairLink {
	PAIR_LINK_UNKNOWN,
	PAIR_LINK_UP,
	PAIR_LINK_DOWN,
} PairLink;

/* A pair's deadlines, one timer each: a stale one cannot act for another. */
typedef enum PairTimer {
	PAIR_TIMER_NEGOTIATE, /* staged: NegotiateTimeoutSec for the guest */
	PAIR_TIMER_UNPLUG,    /* unplugging: UnplugTimeoutSec, then migrate_cancel */
	PAIR_TIMER_DETACH,    /* detaching: UnplugTimeoutSec for the guest's eject */
	_PAIR_TIMER_MAX,
} PairTimer;

/* One transition as the pair's recent history keeps it (failoverctl status). */
#define PAIR_HISTORY_MAX 8
typedef struct PairHistory {
	uint64_t usec; /* CLOCK_REALTIME */
	PairState from, to;
	char reason[160];
} PairHistory;

/* What a pool handed out for a pair's primary. */
typedef struct PairVf {
	char id[64];	 /* PCI address of the VF, or an emulated slot name */
	char driver[32]; /* QEMU driver of the primary: vfio-pci, e1000e, ... */
	bool emulated;
} PairVf;

typedef struct PairConfig {
	char name[65];
	char pool[65];
	uint8_t mac[6];
	char standby[65];	 /* existing standby id, or "" */
	char standby_netdev[65]; /* or: hotplug a standby on this netdev */
	char standby_bus[65];
	char primary_bus[65];	 /* "": a free pcie-root-port */
	char primary_netdev[65]; /* emulated pools: the stand-in primary's netdev */
	char primary_tap[16]; /* ...and its host tap, where its "VF MAC" lives (docs/traffic.md) */
	/* docs/traffic.md: steer the MAC's frames to the standby while the VF is away. */
	bool traffic;
	bool standby_link_down; /* the standby's link is down while the VF is active */
	char standby_tap[16];	/* host netdev of the standby, a bridge port */
	char uplink[16];	/* the bridge's uplink on the NIC; "": the VF's PF */
	bool adhoc;		/* created over D-Bus (AttachPair), not by a .vm file */
	bool retired;		/* gone from the configuration while holding a VF: detach */
} PairConfig;

const char *pair_state_to_string(PairState s);
/* "none", "source", "destination" */
const char *pair_steer_to_string(PairSteer s);

/* "pair INSTANCE/PAIR: ..." with the journal fields FAILOVERD_INSTANCE and FAILOVERD_PAIR. */
void log_pair_full(const Pair *p, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define log_pair_error(p, ...)	 log_pair_full((p), LOG_ERR, __VA_ARGS__)
#define log_pair_warning(p, ...) log_pair_full((p), LOG_WARNING, __VA_ARGS__)
#define log_pair_info(p, ...)	 log_pair_full((p), LOG_INFO, __VA_ARGS__)
#define log_pair_debug(p, ...)	 log_pair_full((p), LOG_DEBUG, __VA_ARGS__)
int pair_state_from_string(const char *s);

struct Pair {
	Instance *instance;
	Pair *next;
	PairConfig config;
	char mac_str[18];
	char primary_id[80]; /* stable per pair (docs/qemu-failover.md §one-primary) */
	char standby_id[80];
	char primary_bus[80];
	char standby_bus[80];
	char standby_path[128];
	char standby_tap[16]; /* the standby's host tap: StandbyTap=, or found (docs/traffic.md) */
	char standby_netdev_found[65]; /* while finding it: the standby's netdev */
	PairState state;
	char reason[256];
	bool guest_negotiated;
	bool has_vf;
	PairVf vf;
	bool vf_gone;	    /* the host lost the VF: QEMU's device is dead, the pair stays failed */
	bool busy;	    /* an attach/detach chain is in flight */
	bool primary_added; /* device_add accepted by this QEMU */
	bool primary_pending;  /* device_add sent, no answer yet: QEMU may hold it */
	bool detach_requested; /* the operator wants it detached (persisted) */
	bool removed;	       /* forgotten: unlinked, freed when the last reference goes */
	unsigned n_ref;	       /* the instance's list + every call in flight */
	struct event *timers[_PAIR_TIMER_MAX]; /* one deadline per purpose */
	unsigned timers_armed;		       /* bit per PairTimer: stopping none costs nothing */
	struct event *retry;		       /* a failed VF release, tried again */
	unsigned retry_ms;		       /* its next backoff */
	bool attach_wanted;		       /* an attach is due (pair_check_state() starts it) */
	bool reconciling; /* restored or reconnected: the next transition is QEMU's word */
	char release_reason[256];
	QmpTimestamp ts_unplug;	  /* QEMU's time of UNPLUG_PRIMARY */
	QmpTimestamp ts_incoming; /* destination: QEMU's time of `completed` */
	int64_t degraded_ms;	  /* last measured degraded window, -1 if none */
	PairSteer steered;	  /* what the data path is known to be */
	bool steer_unknown;	  /* restored: a previous run may have steered it */
	bool releasing;		  /* pair_finish_release() is giving the VF back */
	PairLink standby_link;
	bool eject_pending;  /* QEMU asked the guest to eject the primary; not done yet */
	uint64_t changed_us; /* CLOCK_REALTIME of the last transition */
	/* The last transitions since this daemon started: a ring, n_history in all. */
	PairHistory history[PAIR_HISTORY_MAX];
	unsigned n_history;
};

int pair_new(Pair **out, Instance *instance, const PairConfig *config);
/* Drops the instance's reference: frees now, or when the last call in flight returns. */
Pair *pair_free(Pair *p);
Pair *pair_ref(Pair *p);
Pair *pair_unref(Pair *p);

/* The recent transitions, oldest first: how many, and the @k-th. */
size_t pair_history_size(const Pair *p);
const PairHistory *pair_history_entry(const Pair *p, size_t k);

/* What @p's state file is to say (daemon/pairfile.h). */
void pair_get_record(const Pair *p, PairRecord *rec);
/*
 * Start-up: what a previous run knew. @vf_ours: the pool records the VF as
 * this pair's (else the record's VF is not used); @qemu_alive: the QEMU
 * process the record names still runs (else the VF goes back at once:
 * nobody else would ever release it).
 */
void pair_restore(Pair *p, const PairRecord *rec, bool vf_ours, bool qemu_alive);

/* May a QEMU process hold this pair's primary (hidden, plugged or partly unplugged)? */
bool pair_qemu_may_hold(const Pair *p);

/*
 * Reserve, program and plug; INCOMING when the instance awaits a migration.
 * Not while a chain runs or a detach is asked for; after a failed VF release,
 * once that release has been finished.
 */
void pair_attach(Pair *p);
/*
 * Unplug the primary and give the VF back once no QEMU can hold it: a
 * hidden primary, a guest that never confirms the unplug or a monitor that
 * is away keep the VF held (state detaching) until QEMU lets go or exits.
 */
void pair_detach(Pair *p);
/*
 * Attach again a pair without a VF that was detached or failed, with
 * @config (NULL: as it is) and the detach request dropped.
 */
void pair_reattach(Pair *p, const PairConfig *config);
/* Gone from the configuration: detached, then forgotten once its VF is back. */
void pair_retire(Pair *p);
/* The QEMU guest was reset: its failover negotiation starts over. */
void pair_on_reset(Pair *p);
/* The instance's QEMU cannot do failover (probe): the pair cannot work there. */
void pair_instance_refused(Pair *p, const char *why);
/* The instance's QEMU is gone: give the VF back now. */
void pair_instance_lost(Pair *p, const char *why);
/* The VF vanished from the host (PF removed, sriov_numvfs changed). */
void pair_vf_gone(Pair *p, const char *why);
/* The instance (re)connected and was probed: attach or reconcile. */
void pair_instance_ready(Pair *p);

/* Event handlers, dispatched by the instance. */
void pair_on_failover_negotiated(Pair *p, const QmpTimestamp *ts);
void pair_on_unplug_primary(Pair *p, const QmpTimestamp *ts);
void pair_on_migration(Pair *p, const char *status, const QmpTimestamp *ts);
void pair_on_device_deleted(Pair *p, const QmpTimestamp *ts);
