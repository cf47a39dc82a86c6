#pragma once

/*
 * A failover pair: a virtio-net standby plus a primary (a VF through
 * vfio-pci, or an emulated NIC) with the same MAC, and its life across hot
 * plug, guest negotiation and live migration (SPEC §4).
 */

#include <stdbool.h>
#include <stdint.h>

#include "qmp/qmp.h"

typedef struct Instance Instance;
typedef struct Pair Pair;

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
	_PAIR_STATE_MAX,
} PairState;

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
	char primary_bus[65]; /* "": a free pcie-root-port */
} PairConfig;

const char *pair_state_to_string(PairState s);
int pair_state_from_string(const char *s);

struct Pair {
	Instance *instance;
	Pair *next;
	PairConfig config;
	char mac_str[18];
	char primary_id[80]; /* stable per pair: QEMU remembers it (SPEC §4) */
	char standby_id[80];
	char primary_bus[80];
	char standby_bus[80];
	char standby_path[128];
	PairState state;
	char reason[256];
	bool guest_negotiated;
	bool has_vf;
	PairVf vf;
	bool busy;	    /* an attach/detach chain is in flight */
	bool primary_added; /* device_add accepted by this QEMU */
	bool detach_requested;
	struct event *timer;	/* unplug or negotiation deadline */
	QmpTimestamp ts_unplug; /* QEMU's time of UNPLUG_PRIMARY */
	int64_t degraded_ms;	/* last measured degraded window, -1 if none */
	uint64_t changed_us;	/* CLOCK_REALTIME of the last transition */
};

int pair_new(Pair **out, Instance *instance, const PairConfig *config);
Pair *pair_free(Pair *p);

/* Reserve, program and plug; INCOMING when the instance awaits a migration. */
void pair_attach(Pair *p);
/* Unplug the primary (if QEMU can) and give the VF back. */
void pair_detach(Pair *p);
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
