#pragma once

/*
 * Steering a guest MAC's frames to the standby while its VF is away
 * (docs/traffic.md): the VF's MAC zeroed on its PF, a static `self`
 * forwarding entry on the bridge's uplink and a static `master` entry on
 * the standby's tap. Every plan is recorded in STATE_DIR/steer/ before the
 * first change is made and forgotten only once all of it is undone, so a
 * successor undoes what a killed daemon did (docs/reliability.md).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct SteerPlan {
	uint8_t mac[6];
	char tap[16];	   /* `master` entry on this bridge port; "" none */
	char uplink[16];   /* `self` entry on this device; "" none */
	char pf[16];	   /* the VF whose MAC is zeroed: its PF... ("" none) */
	unsigned vf_index; /* ...and its index there */
	/*
	 * An emulated stand-in's "VF MAC": the master entry for the MAC on its
	 * tap, a port of the bridge that stands in for the NIC's switch. Zeroing
	 * removes it, restoring adds it back ("" none).
	 */
	char vf_port[16];
} SteerPlan;

typedef struct Steer Steer;

/* Loads the records a previous run left in @dir (created if missing). */
int steer_new(Steer **out, const char *dir, char *err, size_t size);
Steer *steer_free(Steer *s);

/*
 * Records @plan for @owner, then zeroes the VF's MAC and adds the entries.
 * Doing it again is harmless. On failure what this call changed is undone
 * (the VF's MAC set back to @plan->mac) and the record is gone.
 */
int steer_apply(Steer *s, const char *owner, const SteerPlan *plan, char *err, size_t size);
/*
 * Removes @owner's entries and, with @restore_mac, gives its VF the MAC
 * back (only while the caller still holds the VF: never for one that went
 * back to its pool). 0 when nothing is recorded. On failure the record
 * stays, for the next call.
 */
int steer_undo(Steer *s, const char *owner, bool restore_mac, char *err, size_t size);
bool steer_has(const Steer *s, const char *owner);
/* An emulated stand-in's "VF MAC" (SteerPlan.vf_port) set, or removed, outside any plan. */
int steer_port_set(Steer *s, const char *port, const uint8_t mac[6], bool present, char *err,
		   size_t size);
/*
 * Called after each step of steer_apply() is made: "steer-recorded",
 * "steer-vf-mac-zeroed", "steer-uplink-added", "steer-tap-added" (the fault
 * tier kills the daemon there).
 */
typedef void (*SteerCheckpointFn)(const char *point, void *ud);
void steer_set_checkpoint(Steer *s, SteerCheckpointFn fn, void *ud);

/* Start-up: undoes (never restoring a MAC) every record @alive says has no owner. */
typedef bool (*SteerOwnerAliveFn)(const char *owner, void *ud);
void steer_recover(Steer *s, SteerOwnerAliveFn alive, void *ud,
		   void (*report)(const char *owner, int r, const char *err, void *ud));
