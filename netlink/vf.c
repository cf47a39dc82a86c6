/*
 * VF programming over rtnetlink. Requests are built with libnl's message
 * API, one IFLA_VF_* attribute each, so that byte order and content are
 * exactly what the kernel expects (libnl-route's change request would put
 * the VLAN protocol in host order and always pair min with max rate).
 * Replies are parsed by libnl-route's link parser.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <netlink/route/link/sriov.h>
#include <netlink/socket.h>

#include "netlink/nlvf.h"
#include "netlink/route.h"

struct NlVfSocket {
	struct nl_sock *sk;
};

static const char *const setting_names[_NL_VF_SETTING_MAX] = {
	[NL_VF_MAC] = "mac",
	[NL_VF_VLAN] = "vlan",
	[NL_VF_SPOOFCHK] = "spoofchk",
	[NL_VF_TRUST] = "trust",
	[NL_VF_MAX_TX_RATE] = "max_tx_rate",
	[NL_VF_MIN_TX_RATE] = "min_tx_rate",
	[NL_VF_LINK_STATE] = "state",
	[NL_VF_RSS_QUERY] = "query_rss",
};

static const char *const link_state_names[] = {
	[NL_VF_LINK_AUTO] = "auto",
	[NL_VF_LINK_ENABLE] = "enable",
	[NL_VF_LINK_DISABLE] = "disable",
};

const char *nl_vf_setting_to_string(NlVfSetting s)
{
	return s < _NL_VF_SETTING_MAX ? setting_names[s] : NULL;
}

int nl_vf_setting_from_string(const char *s)
{
	for (int i = 0; i < _NL_VF_SETTING_MAX; i++)
		if (strcmp(setting_names[i], s) == 0)
			return i;
	return -EINVAL;
}

const char *nl_vf_link_state_to_string(NlVfLinkState s)
{
	return (unsigned)s < sizeof(link_state_names) / sizeof(link_state_names[0])
		       ? link_state_names[s]
		       : NULL;
}

int nl_vf_link_state_from_string(const char *s)
{
	for (unsigned i = 0; i < sizeof(link_state_names) / sizeof(link_state_names[0]); i++)
		if (strcmp(link_state_names[i], s) == 0)
			return (int)i;
	return -EINVAL;
}

static const char *proto_name(uint16_t proto)
{
	switch (proto) {
	case 0:
	case NL_VF_PROTO_8021Q:
		return "802.1Q";
	case NL_VF_PROTO_8021AD:
		return "802.1ad";
	default:
		return NULL;
	}
}

int nl_vf_config_format(const NlVfConfig *c, NlVfSetting s, char *buf, size_t size)
{
	const char *p;
	int n;

	switch (s) {
	case NL_VF_MAC:
		n = snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0], c->mac[1],
			     c->mac[2], c->mac[3], c->mac[4], c->mac[5]);
		break;
	case NL_VF_VLAN:
		p = proto_name(c->vlan_proto);
		if (p)
			n = snprintf(buf, size, "%u qos %u proto %s", c->vlan, c->qos, p);
		else
			n = snprintf(buf, size, "%u qos %u proto 0x%04x", c->vlan, c->qos,
				     c->vlan_proto);
		break;
	case NL_VF_SPOOFCHK:
		n = snprintf(buf, size, "%s", c->spoofchk ? "on" : "off");
		break;
	case NL_VF_TRUST:
		n = snprintf(buf, size, "%s", c->trust ? "on" : "off");
		break;
	case NL_VF_MAX_TX_RATE:
		n = snprintf(buf, size, "%u", c->max_tx_rate);
		break;
	case NL_VF_MIN_TX_RATE:
		n = snprintf(buf, size, "%u", c->min_tx_rate);
		break;
	case NL_VF_LINK_STATE:
		p = nl_vf_link_state_to_string(c->link_state);
		n = p ? snprintf(buf, size, "%s", p) : snprintf(buf, size, "%u", c->link_state);
		break;
	case NL_VF_RSS_QUERY:
		n = snprintf(buf, size, "%s", c->rss_query ? "on" : "off");
		break;
	default:
		return -EINVAL;
	}
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

static uint16_t norm_proto(uint16_t p)
{
	return p ? p : NL_VF_PROTO_8021Q;
}

bool nl_vf_config_equal(const NlVfConfig *a, const NlVfConfig *b, NlVfSetting s)
{
	switch (s) {
	case NL_VF_MAC:
		return memcmp(a->mac, b->mac, 6) == 0;
	case NL_VF_VLAN:
		/* Without a VLAN the protocol means nothing. */
		return a->vlan == b->vlan && a->qos == b->qos &&
		       ((a->vlan == 0 && a->qos == 0) ||
			norm_proto(a->vlan_proto) == norm_proto(b->vlan_proto));
	case NL_VF_SPOOFCHK:
		return a->spoofchk == b->spoofchk;
	case NL_VF_TRUST:
		return a->trust == b->trust;
	case NL_VF_MAX_TX_RATE:
		return a->max_tx_rate == b->max_tx_rate;
	case NL_VF_MIN_TX_RATE:
		return a->min_tx_rate == b->min_tx_rate;
	case NL_VF_LINK_STATE:
		return a->link_state == b->link_state;
	case NL_VF_RSS_QUERY:
		return a->rss_query == b->rss_query;
	default:
		return false;
	}
}

int nl_vf_socket_new(NlVfSocket **ret)
{
	NlVfSocket *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	r = nl_route_socket_open(&s->sk);
	if (r < 0) {
		free(s);
		return r;
	}
	/* A PF with many VFs answers with a large message: size by peeking. */
	nl_socket_enable_msg_peek(s->sk);
	*ret = s;
	return 0;
}

NlVfSocket *nl_vf_socket_free(NlVfSocket *s)
{
	if (s) {
		nl_socket_free(s->sk);
		free(s);
	}
	return NULL;
}

static void set_error(NlVfError *err, NlVfSetting setting, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(NlVfError *err, NlVfSetting setting, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->setting = setting;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

typedef struct Transaction {
	bool done;
	int error; /* the kernel's errno, negative */
	struct rtnl_link *link;
} Transaction;

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	Transaction *t = arg;

	t->error = e->error < 0 ? e->error : -e->error;
	t->done = true;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	Transaction *t = arg;

	t->done = true;
	return NL_STOP;
}

static void on_object(struct nl_object *obj, void *arg)
{
	Transaction *t = arg;

	if (t->link)
		return;
	nl_object_get(obj);
	t->link = (struct rtnl_link *)obj;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	Transaction *t = arg;
	int r;

	r = nl_msg_parse(msg, on_object, t);
	if (r < 0 && !t->error)
		t->error = r == -NLE_NOMEM ? -ENOMEM : -EBADMSG;
	return NL_OK;
}

/* Sends @msg (taking it) and waits for the ack; a RTM_NEWLINK reply goes to *@link. */
static int transact(NlVfSocket *s, struct nl_msg *msg, struct rtnl_link **link)
{
	Transaction t = {};
	struct nl_cb *cb;
	int r;

	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &t);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &t);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &t);

	r = nl_send_auto(s->sk, msg);
	nlmsg_free(msg);
	if (r < 0) {
		nl_cb_put(cb);
		return -EIO;
	}
	while (!t.done) {
		r = nl_recvmsgs(s->sk, cb);
		if (r < 0 && !t.done) {
			t.error = r == -NLE_NOMEM ? -ENOMEM : -EIO;
			break;
		}
	}
	nl_cb_put(cb);
	if (t.error < 0) {
		if (t.link)
			rtnl_link_put(t.link);
		return t.error;
	}
	if (link)
		*link = t.link;
	else if (t.link)
		rtnl_link_put(t.link);
	return 0;
}

static struct nl_msg *link_msg(int type, int ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_msg *msg = nlmsg_alloc_simple(type, 0);

	if (!msg)
		return NULL;
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static int get_link(NlVfSocket *s, const char *pf, struct rtnl_link **ret, NlVfError *err)
{
	struct nl_msg *msg;
	unsigned idx = if_nametoindex(pf);
	int r;

	if (idx == 0) {
		set_error(err, _NL_VF_SETTING_MAX, "PF %s: no such network interface", pf);
		return -ENODEV;
	}
	msg = link_msg(RTM_GETLINK, (int)idx);
	if (!msg || nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_VF) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	r = transact(s, msg, ret);
	if (r == 0 && !*ret)
		r = -EBADMSG;
	if (r < 0)
		set_error(err, _NL_VF_SETTING_MAX, "PF %s: reading the VF list failed: %s", pf,
			  strerror(-r));
	return r;
}

int nl_vf_count(NlVfSocket *s, const char *pf, unsigned *ret)
{
	struct rtnl_link *link = NULL;
	uint32_t n = 0;
	int r;

	r = get_link(s, pf, &link, NULL);
	if (r < 0)
		return r;
	if (rtnl_link_get_num_vf(link, &n) < 0)
		n = 0;
	rtnl_link_put(link);
	*ret = n;
	return 0;
}

static void extract(struct rtnl_link_vf *v, NlVfConfig *c)
{
	struct nl_addr *addr;
	nl_vf_vlans_t *vlans;
	struct nl_vf_rate rate;
	uint32_t u;

	memset(c, 0, sizeof(*c));
	if (rtnl_link_vf_get_addr(v, &addr) == 0 && nl_addr_get_len(addr) >= 6) {
		memcpy(c->mac, nl_addr_get_binary_addr(addr), 6);
		c->set |= NL_VF_BIT(NL_VF_MAC);
	}
	/* The kernel always reports VLAN, rates and link state; libnl drops zeros. */
	c->set |= NL_VF_BIT(NL_VF_VLAN) | NL_VF_BIT(NL_VF_MAX_TX_RATE) |
		  NL_VF_BIT(NL_VF_MIN_TX_RATE) | NL_VF_BIT(NL_VF_LINK_STATE);
	c->vlan_proto = NL_VF_PROTO_8021Q;
	if (rtnl_link_vf_get_vlans(v, &vlans) == 0) {
		if (vlans->size > 0) {
			c->vlan = (uint16_t)vlans->vlans[0].vf_vlan;
			c->qos = (uint8_t)vlans->vlans[0].vf_vlan_qos;
			c->vlan_proto = vlans->vlans[0].vf_vlan_proto;
		}
		rtnl_link_vf_vlan_put(vlans);
	}
	if (rtnl_link_vf_get_rate(v, &rate) == 0) {
		if (rate.api == RTNL_LINK_VF_RATE_API_OLD) {
			c->max_tx_rate = rate.rate;
		} else {
			c->max_tx_rate = rate.max_tx_rate;
			c->min_tx_rate = rate.min_tx_rate;
		}
	}
	if (rtnl_link_vf_get_linkstate(v, &u) == 0)
		c->link_state = (NlVfLinkState)u;
	if (rtnl_link_vf_get_spoofchk(v, &u) == 0) {
		c->spoofchk = u;
		c->set |= NL_VF_BIT(NL_VF_SPOOFCHK);
	}
	if (rtnl_link_vf_get_trust(v, &u) == 0) {
		c->trust = u;
		c->set |= NL_VF_BIT(NL_VF_TRUST);
	}
	if (rtnl_link_vf_get_rss_query_en(v, &u) == 0) {
		c->rss_query = u;
		c->set |= NL_VF_BIT(NL_VF_RSS_QUERY);
	}
}

int nl_vf_get(NlVfSocket *s, const char *pf, unsigned vf, NlVfConfig *ret, NlVfError *err)
{
	struct rtnl_link *link = NULL;
	struct rtnl_link_vf *v;
	uint32_t n = 0;
	int r;

	r = get_link(s, pf, &link, err);
	if (r < 0)
		return r;
	/* libnl 3.7's rtnl_link_vf_get() dereferences a missing VF list. */
	if (rtnl_link_get_num_vf(link, &n) < 0 || vf >= n || !rtnl_link_has_vf_list(link)) {
		rtnl_link_put(link);
		set_error(err, _NL_VF_SETTING_MAX, "PF %s has no VF %u (it reports %u VFs)", pf, vf,
			  n);
		return -ENOENT;
	}
	v = rtnl_link_vf_get(link, vf);
	if (!v) {
		rtnl_link_put(link);
		set_error(err, _NL_VF_SETTING_MAX, "PF %s did not report VF %u", pf, vf);
		return -ENOENT;
	}
	extract(v, ret);
	rtnl_link_vf_put(v);
	rtnl_link_put(link);
	return 0;
}

static int put_setting(struct nl_msg *msg, unsigned vf, const NlVfConfig *c, NlVfSetting s)
{
	switch (s) {
	case NL_VF_MAC: {
		struct ifla_vf_mac a = { .vf = vf };

		memcpy(a.mac, c->mac, 6);
		return nla_put(msg, IFLA_VF_MAC, sizeof(a), &a);
	}
	case NL_VF_VLAN: {
		struct ifla_vf_vlan_info a = {
			.vf = vf,
			.vlan = c->vlan,
			.qos = c->qos,
			.vlan_proto = htons(norm_proto(c->vlan_proto)),
		};
		struct nlattr *list = nla_nest_start(msg, IFLA_VF_VLAN_LIST);

		if (!list || nla_put(msg, IFLA_VF_VLAN_INFO, sizeof(a), &a) < 0)
			return -NLE_NOMEM;
		return nla_nest_end(msg, list);
	}
	case NL_VF_SPOOFCHK: {
		struct ifla_vf_spoofchk a = { .vf = vf, .setting = c->spoofchk };

		return nla_put(msg, IFLA_VF_SPOOFCHK, sizeof(a), &a);
	}
	case NL_VF_TRUST: {
		struct ifla_vf_trust a = { .vf = vf, .setting = c->trust };

		return nla_put(msg, IFLA_VF_TRUST, sizeof(a), &a);
	}
	case NL_VF_MAX_TX_RATE:
	case NL_VF_MIN_TX_RATE: {
		/* The kernel takes both rates at once; the caller fills the other one in. */
		struct ifla_vf_rate a = {
			.vf = vf,
			.min_tx_rate = c->min_tx_rate,
			.max_tx_rate = c->max_tx_rate,
		};

		return nla_put(msg, IFLA_VF_RATE, sizeof(a), &a);
	}
	case NL_VF_LINK_STATE: {
		struct ifla_vf_link_state a = { .vf = vf, .link_state = c->link_state };

		return nla_put(msg, IFLA_VF_LINK_STATE, sizeof(a), &a);
	}
	case NL_VF_RSS_QUERY: {
		struct ifla_vf_rss_query_en a = { .vf = vf, .setting = c->rss_query };

		return nla_put(msg, IFLA_VF_RSS_QUERY_EN, sizeof(a), &a);
	}
	default:
		return -NLE_INVAL;
	}
}

static const char *refusal(int r)
{
	switch (r) {
	case -EOPNOTSUPP:
		return "the driver does not support this setting";
	case -EPROTONOSUPPORT:
		return "the driver does not support this VLAN protocol";
	case -EINVAL:
		return "the driver rejects this value";
	default:
		return NULL;
	}
}

static int set_one(NlVfSocket *s, const char *pf, unsigned idx, unsigned vf, const NlVfConfig *c,
		   NlVfSetting setting, NlVfError *err)
{
	struct nlattr *list, *info;
	struct nl_msg *msg;
	char value[64] = "";
	const char *why;
	int r;

	msg = link_msg(RTM_SETLINK, (int)idx);
	if (!msg)
		return -ENOMEM;
	list = nla_nest_start(msg, IFLA_VFINFO_LIST);
	info = list ? nla_nest_start(msg, IFLA_VF_INFO) : NULL;
	if (!info || put_setting(msg, vf, c, setting) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nla_nest_end(msg, info);
	nla_nest_end(msg, list);

	r = transact(s, msg, NULL);
	if (r < 0) {
		nl_vf_config_format(c, setting, value, sizeof(value));
		why = refusal(r);
		set_error(err, setting, "PF %s VF %u: setting %s %s failed: %s%s%s%s", pf, vf,
			  nl_vf_setting_to_string(setting), value, strerror(-r), why ? " (" : "",
			  why ? why : "", why ? ")" : "");
	}
	return r;
}

/* For a rate, the request must carry the other rate's current value. */
static int fill_other_rate(NlVfSocket *s, const char *pf, unsigned vf, const NlVfConfig *want,
			   NlVfSetting setting, NlVfConfig *c, NlVfError *err)
{
	NlVfConfig cur;
	int r;

	*c = *want;
	if (setting != NL_VF_MAX_TX_RATE && setting != NL_VF_MIN_TX_RATE)
		return 0;
	r = nl_vf_get(s, pf, vf, &cur, err);
	if (r < 0)
		return r;
	if (setting == NL_VF_MAX_TX_RATE)
		c->min_tx_rate = cur.min_tx_rate;
	else
		c->max_tx_rate = cur.max_tx_rate;
	return 0;
}

int nl_vf_set_one(NlVfSocket *s, const char *pf, unsigned vf, const NlVfConfig *want,
		  NlVfSetting setting, NlVfError *err)
{
	unsigned idx = if_nametoindex(pf);
	NlVfConfig c;
	int r;

	if (setting >= _NL_VF_SETTING_MAX)
		return -EINVAL;
	if (idx == 0) {
		set_error(err, setting, "PF %s: no such network interface", pf);
		return -ENODEV;
	}
	r = fill_other_rate(s, pf, vf, want, setting, &c, err);
	if (r < 0)
		return r;
	return set_one(s, pf, idx, vf, &c, setting, err);
}

int nl_vf_verify(NlVfSocket *s, const char *pf, unsigned vf, const NlVfConfig *want, NlVfError *err)
{
	NlVfConfig cur;
	char a[64], b[64];
	int r;

	r = nl_vf_get(s, pf, vf, &cur, err);
	if (r < 0)
		return r;
	for (int i = 0; i < _NL_VF_SETTING_MAX; i++) {
		if (!(want->set & NL_VF_BIT(i)))
			continue;
		if (!(cur.set & NL_VF_BIT(i))) {
			set_error(err, i, "PF %s VF %u: the driver does not report %s", pf, vf,
				  nl_vf_setting_to_string(i));
			return -EIO;
		}
		if (!nl_vf_config_equal(want, &cur, i)) {
			nl_vf_config_format(want, i, a, sizeof(a));
			nl_vf_config_format(&cur, i, b, sizeof(b));
			set_error(err, i, "PF %s VF %u: %s is %s after setting it to %s", pf, vf,
				  nl_vf_setting_to_string(i), b, a);
			return -EIO;
		}
	}
	return 0;
}

int nl_vf_set(NlVfSocket *s, const char *pf, unsigned vf, const NlVfConfig *want, NlVfError *err)
{
	int r;

	for (int i = 0; i < _NL_VF_SETTING_MAX; i++) {
		if (!(want->set & NL_VF_BIT(i)))
			continue;
		r = nl_vf_set_one(s, pf, vf, want, i, err);
		if (r < 0)
			return r;
	}
	return nl_vf_verify(s, pf, vf, want, err);
}
