#pragma once

/*
 * SR-IOV VF settings through rtnetlink on the PF (IFLA_VFINFO_LIST), with
 * libnl-route. Every setting goes in a request of its own, so a failure
 * names exactly one setting; what was set is read back (RTEXT_FILTER_VF)
 * and compared.
 *
 * The header is not called netlink.h: with -I. that name would shadow
 * libnl's own <netlink/netlink.h>.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum NlVfSetting {
	NL_VF_MAC,
	NL_VF_VLAN, /* VLAN id, QoS and protocol travel in one attribute */
	NL_VF_SPOOFCHK,
	NL_VF_TRUST,
	NL_VF_MAX_TX_RATE,
	NL_VF_MIN_TX_RATE,
	NL_VF_LINK_STATE,
	NL_VF_RSS_QUERY,
	_NL_VF_SETTING_MAX,
} NlVfSetting;

#define NL_VF_BIT(s) (1u << (s))

typedef enum NlVfLinkState {
	NL_VF_LINK_AUTO = 0, /* IFLA_VF_LINK_STATE_* values */
	NL_VF_LINK_ENABLE = 1,
	NL_VF_LINK_DISABLE = 2,
} NlVfLinkState;

#define NL_VF_PROTO_8021Q  0x8100
#define NL_VF_PROTO_8021AD 0x88a8

typedef struct NlVfConfig {
	uint32_t set; /* NL_VF_BIT()s of the fields that mean something */
	uint8_t mac[6];
	uint16_t vlan;
	uint8_t qos;
	uint16_t vlan_proto; /* NL_VF_PROTO_*; 0 is read as 802.1Q */
	bool spoofchk;
	bool trust;
	uint32_t max_tx_rate; /* Mbit/s, 0 = unlimited */
	uint32_t min_tx_rate;
	NlVfLinkState link_state;
	bool rss_query;
} NlVfConfig;

/* Names as in `ip link set DEV vf N ...`: "mac", "vlan", "spoofchk", ... */
const char *nl_vf_setting_to_string(NlVfSetting s);
int nl_vf_setting_from_string(const char *s);
const char *nl_vf_link_state_to_string(NlVfLinkState s);
int nl_vf_link_state_from_string(const char *s);

/* The value of one setting of @c as text ("52:54:00:..", "10 qos 3 proto 802.1Q", "on"). */
int nl_vf_config_format(const NlVfConfig *c, NlVfSetting s, char *buf, size_t size);
/* Whether the setting @s holds the same value in @a and @b. */
bool nl_vf_config_equal(const NlVfConfig *a, const NlVfConfig *b, NlVfSetting s);

/* A human-readable reason for the last failure, naming PF, VF, setting and value. */
typedef struct NlVfError {
	NlVfSetting setting; /* _NL_VF_SETTING_MAX if not about one setting */
	char message[320];
} NlVfError;

typedef struct NlVfSocket NlVfSocket;

int nl_vf_socket_new(NlVfSocket **ret);
NlVfSocket *nl_vf_socket_free(NlVfSocket *s);

/*
 * Reads VF @vf of the PF netdev @pf. @ret->set tells which settings the
 * driver reported (e.g. igb reports no rss_query).
 * -ENODEV: no such PF; -ENOENT: the PF has no VF @vf.
 */
int nl_vf_get(NlVfSocket *s, const char *pf, unsigned vf, NlVfConfig *ret, NlVfError *err);

/* Number of VFs the PF reports (IFLA_NUM_VF); 0 when none. */
int nl_vf_count(NlVfSocket *s, const char *pf, unsigned *ret);

/*
 * Applies one setting of @want. The kernel's errno is returned as is:
 * EOPNOTSUPP, EINVAL, EPROTONOSUPPORT for what the driver refuses.
 */
int nl_vf_set_one(NlVfSocket *s, const char *pf, unsigned vf, const NlVfConfig *want,
		  NlVfSetting setting, NlVfError *err);

/*
 * Applies every setting in @want->set in a fixed order (one request each),
 * stopping at the first failure, then reads back and verifies them all:
 * -EIO (with the setting in @err) if the kernel kept another value.
 */
int nl_vf_set(NlVfSocket *s, const char *pf, unsigned vf, const NlVfConfig *want, NlVfError *err);

/* Compares @want against the device: 0, or -EIO naming the first mismatch. */
int nl_vf_verify(NlVfSocket *s, const char *pf, unsigned vf, const NlVfConfig *want,
		 NlVfError *err);

static inline void nl_vf_socket_freep(NlVfSocket **s)
{
	nl_vf_socket_free(*s);
}
