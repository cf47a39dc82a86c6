#pragma once

/*
 * One QEMU instance as the daemon sees it: its QMP connection (dialled or
 * accepted), what the probe found, its run and migration status, and the
 * pairs that live in it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/log.h"
#include "daemon/pair.h"
#include "qmp/qmp.h"

typedef struct ProbeCache ProbeCache;

#define INSTANCE_MAX_STANDBYS 16

/*
 * What instances and their pairs ask of the daemon above them, and tell it
 * (daemon/manager.c implements these): calls go down, these come up. Each
 * gets the InstanceEnv's userdata first.
 */
typedef struct InstanceOps {
	/* Reserves (or takes back, after a restart) @p's VF; what it is goes to @vf. */
	int (*acquire_vf)(void *ud, const Pair *p, PairVf *vf, char *err, size_t size);
	/* Gives @p's VF back to its pool (the pair forgets it only on success). */
	int (*release_vf)(void *ud, const Pair *p, char *err, size_t size);
	/*
	 * Steers @p's MAC as @to says (docs/traffic.md), undoing any other
	 * steering first; with @restore_mac an undo gives the VF its MAC back.
	 */
	int (*steer)(void *ud, const Pair *p, PairSteer to, bool restore_mac, char *err,
		     size_t size);
	/* What @p's state file says changed: persist it. */
	void (*pair_dirty)(void *ud, Pair *p);
	/*
	 * @p made a transition from @from, or (_PAIR_STATE_MAX) another property
	 * changed: persist and signal it.
	 */
	void (*pair_changed)(void *ud, Pair *p, PairState from);
	/* A released ad-hoc or retired pair is done: forget it. */
	void (*pair_done)(void *ud, Pair *p);
	/* A step has just been made durable (manager.h, manager_checkpoint()). */
	void (*checkpoint)(void *ud, const char *point);
	/* The QEMU driver of @pool's primaries, NULL for an unknown pool. */
	const char *(*pool_driver)(void *ud, const char *pool);
	/*
	 * @i's QEMU reported an event, about to be handled (may be NULL): what it
	 * asks to persist may wait until it is handled (daemon/manager.c,
	 * manager_save_pair()).
	 */
	void (*event_begin)(void *ud, Instance *i);
	/* @i's QEMU reported @event, handled in the given times (daemon/metrics.h). */
	void (*event)(void *ud, Instance *i, const char *event, uint64_t rx_ns,
		      uint64_t tx_before_ns, uint64_t tx_start_ns, uint64_t tx_ns);
	/* @i is probed and set up (its pairs are told next), or its QEMU is gone. */
	void (*ready)(void *ud, Instance *i);
	void (*lost)(void *ud, Instance *i);
	/* Start-up: @i is set up, or its first connection ended. */
	void (*settled)(void *ud, Instance *i);
	/* Zero-config: QEMU said its -name; returns who owns the connection now, or NULL. */
	Instance *(*identified)(void *ud, Instance *i, const char *name);
} InstanceOps;

/* What every instance shares: set up once by the manager, read-only below it. */
typedef struct InstanceEnv {
	struct event_base *base;
	const Log *log;
	ProbeCache *probes;
	unsigned command_timeout_ms;
	const InstanceOps *ops;
	void *userdata;
} InstanceEnv;

struct Instance {
	const InstanceEnv *env;
	Instance *prev, *next;
	char name[128];	    /* config name, or QEMU's -name in zero-config mode */
	char qmp_path[108]; /* configured socket, "" for accepted connections */
	QmpConn *conn;
	bool ready; /* probed and set up: pairs may act */
	bool prepare_incoming;
	unsigned unplug_timeout_ms;
	unsigned negotiate_timeout_ms;
	char run_status[32];	   /* query-status: running, paused, inmigrate, ... */
	char migration_status[32]; /* last MIGRATION status, "" if none */
	bool migrating_in;	   /* this QEMU was started with -incoming */
	Pair *pairs;
	pid_t pid;	       /* QEMU's pid from the socket's peer credentials, 0 if unknown */
	uint64_t pid_start;    /* its start time (/proc/PID/stat), against pid reuse */
	bool same_qemu;	       /* connected to the very QEMU process the state files name */
	struct event *ev_exit; /* pidfd: QEMU exited after its monitor closed */
	int pidfd;
	pid_t watched_pid;     /* the process ev_exit waits for */
	bool waiting_for_exit; /* a new QEMU waits until the previous one (may hold VFs) exits */
	bool configured;       /* from a .vm file, kept while QEMU is away */
	/* What this connection saw of the guest's failover negotiation
	 * (instance_guest_negotiated()). */
	bool reset_seen;			    /* a RESET since the connection came up */
	char negotiated[INSTANCE_MAX_STANDBYS][80]; /* standbys negotiated since the last RESET */
	size_t n_negotiated;
	bool settling; /* start-up: connected, not yet set up (READY=1 waits) */
};

/* "instance NAME: ..." with the journal field FAILOVERD_INSTANCE. */
void log_instance_full(const Instance *i, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* As log_instance_full(), with the journal's MESSAGE_ID of the event (daemon/messages.h). */
void log_instance_event(const Instance *i, int level, const char *message_id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define log_instance_error(i, ...)   log_instance_full((i), LOG_ERR, __VA_ARGS__)
#define log_instance_warning(i, ...) log_instance_full((i), LOG_WARNING, __VA_ARGS__)
#define log_instance_info(i, ...)    log_instance_full((i), LOG_INFO, __VA_ARGS__)
#define log_instance_debug(i, ...)   log_instance_full((i), LOG_DEBUG, __VA_ARGS__)

int instance_new(Instance **out, const InstanceEnv *env, const char *name);
/* The owner's list of instances (the manager's): the list fields are written here only. */
void instance_link(Instance **head, Instance *i);
void instance_unlink(Instance **head, Instance *i);

/* What a .vm file (or a reload) sets; a timeout of 0 keeps the built-in default. */
void instance_set_settings(Instance *i, bool prepare_incoming, unsigned unplug_timeout_ms,
			   unsigned negotiate_timeout_ms);
/* Kept while QEMU is away (a .vm file, or pairs persisted for it); @qmp_path: its socket, if new.
 */
void instance_set_configured(Instance *i, const char *qmp_path);
/* Zero-config identification: the instance takes QEMU's -name. */
void instance_set_name(Instance *i, const char *name);
/* PrepareIncoming: pre-stage the pairs of this -incoming QEMU (the caller attaches them). */
void instance_set_prepare_incoming(Instance *i);
/* Start-up waits for this connected instance to be set up (true) or not any more. */
void instance_set_settling(Instance *i, bool settling);
Instance *instance_free(Instance *i);

/*
 * Start-up, after the connect was started: the QEMU process the state files
 * name holds VFs; unless its monitor is connected (whose closing tells),
 * watch for its exit at once.
 */
void instance_follow_recorded_qemu(Instance *i);
/* Start-up: the QEMU process (pid, start time) a state file names; a pid of 0 says nothing. */
void instance_restore_qemu(Instance *i, pid_t pid, uint64_t start);

/* Dial @path (with reconnect) and manage whatever QEMU listens there. */
int instance_connect(Instance *i, const char *path);
/* Adopt a connection QEMU made to our listening socket (takes @fd). */
int instance_adopt(Instance *i, int fd);

/*
 * Moves @from's live connection into @to (zero-config identification).
 * False: @to's previous QEMU still runs, and set-up waits for its exit.
 */
bool instance_take_conn(Instance *to, Instance *from);

/*
 * Has the guest negotiated failover on @standby since its last reset? 1: this
 * connection saw it do so; 0: it saw a reset and no negotiation since (QEMU
 * still plugs a primary at once then, but the guest has to negotiate again);
 * -1: nothing seen either way (the guest may have negotiated before we came).
 */
int instance_guest_negotiated(const Instance *i, const char *standby);

Pair *instance_find_pair(Instance *i, const char *name);
/* Unlinks and frees @p (once the current event's handlers are done with it). */
void instance_remove_pair(Instance *i, Pair *p);
int instance_add_pair(Instance *i, const PairConfig *config, Pair **out);

/*
 * Finds a pcie-root-port with nothing plugged and not reserved by one of our
 * pairs, and hands it to @fn, which must take it at once (into its own
 * primary_bus or standby_bus: that reserves it). @own: the asking pair's
 * buffer, as for instance_port_holder(). -ENOSPC when there is none.
 */
typedef void (*InstancePortFn)(Instance *i, int r, const char *port, const char *why, void *ud);
/*
 * The pair that holds @port (its primary or standby is there) or was given
 * it (PrimaryBus=, StandbyBus=), or NULL. @own: the asking pair's own
 * primary_bus or standby_bus buffer, not counted; NULL for a new pair.
 */
Pair *instance_port_holder(Instance *i, const char *port, const char *own);
int instance_find_free_port(Instance *i, const char *own, InstancePortFn fn, void *ud);

/*
 * QMP helpers for pairs; callbacks run exactly once. @expect: the JSON type
 * of the reply (qmp_conn_call()); any other type arrives as -EBADMSG.
 */
int instance_call(Instance *i, const char *command, const QmpArgs *args, json_type expect,
		  QmpReplyFn fn, void *ud);
