#pragma once

/*
 * Configuration the systemd way: failoverd.conf, NAME.pool and NAME.vm in
 * /etc/failoverd, /run/failoverd and /usr/lib/failoverd (the same name in an
 * earlier directory masks a later one; a symlink to /dev/null or an empty
 * file masks), each with drop-ins X.d/NAME.conf from all three directories
 * applied in lexical order. Keys are parsed from tables; an empty assignment
 * clears a list or restores a default. Nothing here logs: problems are
 * returned as diagnostics naming file and line (docs/configuration.md).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_NAME_MAX	     64
#define CONF_PATH_MAX	     108 /* unix socket paths */
#define CONF_MAX_PFS	     16
#define CONF_MAX_RANGES	     16
#define CONF_MAX_PAIRS	     32
#define CONF_DURATION_MAX_MS (24u * 3600 * 1000)

/* Defaults when a file does not say otherwise. */
#define CONF_DEFAULT_STATE_DIRECTORY	  "/var/lib/failoverd"
#define CONF_DEFAULT_UNPLUG_TIMEOUT_MS	  30000u
#define CONF_DEFAULT_COMMAND_TIMEOUT_MS	  10000u
#define CONF_DEFAULT_LISTEN_QMP_MODE	  0600u
#define CONF_DEFAULT_NEGOTIATE_TIMEOUT_MS 60000u
#define CONF_POOL_DEFAULT_SIZE		  8u

typedef enum ConfSeverity {
	CONF_WARNING,
	CONF_ERROR,
} ConfSeverity;

typedef struct ConfDiag {
	ConfSeverity severity;
	char file[256];
	unsigned line; /* 0: about the whole file */
	char message[256];
} ConfDiag;

typedef struct ConfDiags {
	ConfDiag *items;
	size_t n, cap;
	size_t n_errors;
} ConfDiags;

void conf_diags_clear(ConfDiags *d);
/* "file:line: error: message" */
void conf_diag_format(const ConfDiag *d, char *buf, size_t size);

typedef struct ConfDaemon {
	char state_directory[256];
	char listen_qmp[CONF_PATH_MAX];
	unsigned listen_qmp_mode;		  /* of the socket file, 0600 by default */
	char listen_qmp_group[CONF_NAME_MAX + 1]; /* its group, "" = failoverd's own */
	char admin_group[CONF_NAME_MAX + 1];
	int log_level; /* syslog level, LOG_INFO by default */
	unsigned unplug_timeout_ms;
	unsigned command_timeout_ms;
	unsigned negotiate_timeout_ms;
} ConfDaemon;

typedef enum ConfPoolDriver {
	CONF_POOL_VFIO,
	CONF_POOL_EMULATED,
} ConfPoolDriver;

/* Bits of ConfSriov.set */
enum {
	CONF_SRIOV_VLAN = 1u << 0,
	CONF_SRIOV_QOS = 1u << 1,
	CONF_SRIOV_VLAN_PROTO = 1u << 2,
	CONF_SRIOV_SPOOFCHK = 1u << 3,
	CONF_SRIOV_RSS_QUERY = 1u << 4,
	CONF_SRIOV_TRUST = 1u << 5,
	CONF_SRIOV_LINK_STATE = 1u << 6,
	CONF_SRIOV_MAX_TX_RATE = 1u << 7,
	CONF_SRIOV_MIN_TX_RATE = 1u << 8,
};

typedef enum ConfLinkState {
	CONF_LINK_AUTO,
	CONF_LINK_ENABLE,
	CONF_LINK_DISABLE,
} ConfLinkState;

/* [SR-IOV], named as systemd-networkd names its own [SR-IOV] keys. */
typedef struct ConfSriov {
	unsigned set;
	unsigned vlan_id;  /* VLANId= 1..4094 */
	unsigned qos;	   /* QualityOfService= 0..7 */
	bool vlan_802_1ad; /* VLANProtocol=802.1ad (else 802.1Q) */
	bool spoofchk;	   /* MACSpoofCheck= */
	bool rss_query;	   /* QueryReceiveSideScaling= */
	bool trust;	   /* Trust= */
	ConfLinkState link_state;
	unsigned max_tx_rate; /* MaxTxRateMbps= */
	unsigned min_tx_rate; /* MinTxRateMbps= */
} ConfSriov;

typedef struct ConfRange {
	unsigned first, last;
} ConfRange;

typedef struct ConfPool {
	char name[CONF_NAME_MAX + 1];
	char file[256];
	ConfPoolDriver driver;
	char model[32];
	unsigned size; /* emulated: slots */
	char pfs[CONF_MAX_PFS][32];
	size_t n_pfs;
	ConfRange ranges[CONF_MAX_RANGES];
	size_t n_ranges;
	ConfSriov sriov;
} ConfPool;

typedef struct ConfPair {
	char name[CONF_NAME_MAX + 1];
	char pool[CONF_NAME_MAX + 1];
	uint8_t mac[6];
	bool has_mac;
	char standby[CONF_NAME_MAX + 1];
	char standby_netdev[CONF_NAME_MAX + 1];
	char standby_bus[CONF_NAME_MAX + 1];
	char primary_bus[CONF_NAME_MAX + 1];	/* "": a free pcie-root-port */
	char primary_netdev[CONF_NAME_MAX + 1]; /* emulated pools: the stand-in's netdev */
	char primary_tap[16]; /* ...its host tap, a port of the switch that stands in for the NIC */
	/* docs/traffic.md: the MAC's frames steered to the standby while the VF is away. */
	bool traffic;
	bool standby_link_down;
	char standby_tap[16]; /* host netdevs: at most IFNAMSIZ - 1 bytes */
	char uplink[16];
	unsigned line; /* where its [Pair] section started */
	char file[256];
} ConfPair;

typedef struct ConfInstance {
	char name[128];
	char file[256];
	char qmp[CONF_PATH_MAX];
	unsigned unplug_timeout_ms; /* 0: the daemon's default */
	unsigned negotiate_timeout_ms;
	bool prepare_incoming;
	ConfPair pairs[CONF_MAX_PAIRS];
	size_t n_pairs;
} ConfInstance;

typedef struct ConfSet {
	ConfDaemon daemon;
	ConfPool *pools;
	size_t n_pools;
	ConfInstance *instances;
	size_t n_instances;
} ConfSet;

/*
 * Loads everything below @root ("" or NULL for /). Returns 0 with *@out
 * set, or -EINVAL when any error diagnostic was recorded (then *@out is
 * NULL and the caller keeps its last good configuration). -ENOMEM.
 */
int conf_load(const char *root, ConfSet **out, ConfDiags *diags);
ConfSet *conf_set_free(ConfSet *s);

/* Prints the effective configuration, in the files' own syntax: one block per
 * file, each starting with a "# NAME (PATH)" comment. */
void conf_set_dump(const ConfSet *s, FILE *f);

const ConfPool *conf_set_find_pool(const ConfSet *s, const char *name);
const ConfInstance *conf_set_find_instance(const ConfSet *s, const char *name);
/* Equality of the effective settings; where they came from (file, line) is ignored. */
bool conf_daemon_equal(const ConfDaemon *a, const ConfDaemon *b);
bool conf_pool_equal(const ConfPool *a, const ConfPool *b);
bool conf_pair_equal(const ConfPair *a, const ConfPair *b);
bool conf_instance_equal(const ConfInstance *a, const ConfInstance *b);

/* What a reload changed, per object (pools and instances by name). */
typedef enum ConfObject {
	CONF_OBJECT_DAEMON,
	CONF_OBJECT_POOL,
	CONF_OBJECT_INSTANCE,
} ConfObject;

typedef enum ConfChange {
	CONF_ADDED,
	CONF_REMOVED,
	CONF_CHANGED,
} ConfChange;

typedef void (*ConfDiffFn)(ConfObject what, const char *name, ConfChange change, void *userdata);

/*
 * Calls @fn (may be NULL) for the daemon settings if they changed, then for
 * every pool and instance added, removed or changed from @old_set to
 * @new_set. Returns the number of changes.
 */
size_t conf_set_diff(const ConfSet *old_set, const ConfSet *new_set, ConfDiffFn fn, void *userdata);

/* --- building blocks, exposed for tests --- */

bool conf_parse_bool(const char *s, bool *ret);
/* A network interface name the kernel would accept (at most 15 bytes). */
bool conf_ifname_is_valid(const char *s);
/* Seconds with an optional unit: "30", "2.5s", "500ms", "1min"; at most 24 h. */
int conf_parse_duration_ms(const char *s, unsigned *ret);
/* "0000:01:00.0" */
bool conf_parse_pci_address(const char *s);
int conf_parse_mac(const char *s, uint8_t mac[6]);
/* Any MAC in the xx:xx:xx:xx:xx:xx form (a VF's admin MAC may be all zero): -EINVAL. */
int conf_parse_mac_any(const char *s, uint8_t mac[6]);
/* "0-3,6" */
int conf_parse_ranges(const char *s, ConfRange *ranges, size_t max, size_t *n);
/* Bytes of the well-formed UTF-8 character at @s (RFC 3629), 0 when broken or at the end. */
size_t conf_utf8_char_len(const char *s);
/* Names reach D-Bus, whose strings must be UTF-8. */
bool conf_utf8_is_valid(const char *s);
/* Pool and pair names: [A-Za-z0-9_.-], 1 to CONF_NAME_MAX characters. */
bool conf_name_is_valid(const char *s);
/* [Instance] Name=, QEMU's -name: printable UTF-8 without '/', at most 127 bytes. */
bool conf_instance_name_is_valid(const char *s);
/* A QEMU device or netdev id: a letter, then letters, digits, '-', '.', '_'. */
bool conf_qemu_id_is_valid(const char *s);

static inline void conf_set_freep(ConfSet **s)
{
	conf_set_free(*s);
}
