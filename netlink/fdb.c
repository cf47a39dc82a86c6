/*
 * Static FDB entries over rtnetlink: RTM_NEWNEIGH / RTM_DELNEIGH of family
 * AF_BRIDGE, built as libnl-route neighbour objects; the table is the
 * NTF_SELF or NTF_MASTER flag, exactly as iproute2's `bridge fdb` sends it.
 */

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/neighbour.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/neighbour.h>
#include <netlink/socket.h>

#include "netlink/nlfdb.h"
#include "netlink/route.h"

struct NlFdbSocket {
	struct nl_sock *sk;
};

static const char *const table_names[_NL_FDB_TABLE_MAX] = {
	[NL_FDB_SELF] = "self",
	[NL_FDB_MASTER] = "master",
};

static const unsigned table_flags[_NL_FDB_TABLE_MAX] = {
	[NL_FDB_SELF] = NTF_SELF,
	[NL_FDB_MASTER] = NTF_MASTER,
};

const char *nl_fdb_table_to_string(NlFdbTable t)
{
	return (unsigned)t < _NL_FDB_TABLE_MAX ? table_names[t] : NULL;
}

int nl_fdb_table_from_string(const char *s)
{
	for (int i = 0; i < _NL_FDB_TABLE_MAX; i++)
		if (strcmp(table_names[i], s) == 0)
			return i;
	return -EINVAL;
}

int nl_fdb_socket_new(NlFdbSocket **ret)
{
	NlFdbSocket *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	r = nl_route_socket_open(&s->sk);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

NlFdbSocket *nl_fdb_socket_free(NlFdbSocket *s)
{
	if (s) {
		nl_socket_free(s->sk);
		free(s);
	}
	return NULL;
}

/* libnl folds the kernel's errno into its own codes; these are the ones a caller acts on. */
static int errno_of(int nlerr)
{
	static const struct {
		int nle, err;
	} map[] = {
		{ NLE_EXIST, EEXIST },	       { NLE_OBJ_NOTFOUND, ENOENT }, { NLE_NODEV, ENODEV },
		{ NLE_OPNOTSUPP, EOPNOTSUPP }, { NLE_PERM, EPERM },	     { NLE_INVAL, EINVAL },
		{ NLE_NOMEM, ENOMEM },	       { NLE_BUSY, EBUSY },	     { NLE_AGAIN, EAGAIN },
	};
	int e = nlerr < 0 ? -nlerr : nlerr;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].nle == e)
			return -map[i].err;
	return -EIO;
}

static void set_error(NlFdbError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(NlFdbError *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static void format_mac(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

/* The neighbour object of one entry; NULL with @err set on failure. */
static struct rtnl_neigh *entry_new(const char *dev, const uint8_t mac[6], NlFdbTable table,
				    int *ret, NlFdbError *err)
{
	unsigned idx = if_nametoindex(dev);
	struct rtnl_neigh *n;
	struct nl_addr *a;
	char m[18];

	format_mac(mac, m);
	if ((unsigned)table >= _NL_FDB_TABLE_MAX) {
		*ret = -EINVAL;
		set_error(err, "FDB entry %s on %s: no such table", m, dev);
		return NULL;
	}
	if (idx == 0) {
		*ret = -ENODEV;
		set_error(err, "FDB entry %s on %s (%s): no such network interface", m, dev,
			  table_names[table]);
		return NULL;
	}
	n = rtnl_neigh_alloc();
	a = nl_addr_build(AF_LLC, mac, 6);
	if (!n || !a) {
		rtnl_neigh_put(n);
		nl_addr_put(a);
		*ret = -ENOMEM;
		return NULL;
	}
	rtnl_neigh_set_family(n, AF_BRIDGE);
	rtnl_neigh_set_ifindex(n, (int)idx);
	rtnl_neigh_set_lladdr(n, a);
	nl_addr_put(a);
	/*
	 * A bridge's entry is "static" (never aged out, never moved by
	 * learning): a "permanent" one would make the MAC the bridge's own and
	 * stop forwarding it. A NIC's table takes permanent entries only.
	 */
	rtnl_neigh_set_state(n, table == NL_FDB_MASTER ? NUD_NOARP : NUD_PERMANENT);
	rtnl_neigh_set_flags(n, table_flags[table]);
	*ret = 0;
	return n;
}

/* Adds (@add) or deletes the entry; what is already so is no error (see nlfdb.h). */
static int fdb_change(NlFdbSocket *s, const char *dev, const uint8_t mac[6], NlFdbTable table,
		      bool add, NlFdbError *err)
{
	struct rtnl_neigh *n;
	char m[18];
	int r;

	n = entry_new(dev, mac, table, &r, err);
	if (!n)
		return r;
	r = add ? rtnl_neigh_add(s->sk, n, NLM_F_CREATE | NLM_F_REPLACE)
		: rtnl_neigh_delete(s->sk, n, 0);
	rtnl_neigh_put(n);
	if (r >= 0)
		return r;
	r = errno_of(r);
	if (r == (add ? -EEXIST : -ENOENT))
		return 0;
	/* a device that is no bridge port has no master table */
	if (add && table == NL_FDB_MASTER && r == -EINVAL)
		r = -EOPNOTSUPP;
	format_mac(mac, m);
	set_error(err, "FDB entry %s on %s (%s): %s it failed: %s", m, dev, table_names[table],
		  add ? "adding" : "deleting", strerror(-r));
	return r;
}

int nl_fdb_add(NlFdbSocket *s, const char *dev, const uint8_t mac[6], NlFdbTable table,
	       NlFdbError *err)
{
	return fdb_change(s, dev, mac, table, true, err);
}

int nl_fdb_del(NlFdbSocket *s, const char *dev, const uint8_t mac[6], NlFdbTable table,
	       NlFdbError *err)
{
	return fdb_change(s, dev, mac, table, false, err);
}

typedef struct Find {
	int ifindex;
	const uint8_t *mac;
	NlFdbTable table;
	bool found;
} Find;

static void find_one(struct nl_object *o, void *ud)
{
	struct rtnl_neigh *n = (struct rtnl_neigh *)o;
	struct nl_addr *a = rtnl_neigh_get_lladdr(n);
	Find *f = ud;

	bool self = rtnl_neigh_get_flags(n) & NTF_SELF;

	/* A dump marks the device's own entries NTF_SELF and a bridge's by NDA_MASTER. */
	if (rtnl_neigh_get_family(n) != AF_BRIDGE || rtnl_neigh_get_ifindex(n) != f->ifindex ||
	    !a || nl_addr_get_len(a) != 6)
		return;
	if (f->table == NL_FDB_SELF ? !self : self || rtnl_neigh_get_master(n) <= 0)
		return;
	if (memcmp(nl_addr_get_binary_addr(a), f->mac, 6) == 0)
		f->found = true;
}

static int on_dump(struct nl_msg *msg, void *ud)
{
	nl_msg_parse(msg, find_one, ud);
	return NL_OK;
}

int nl_fdb_has(NlFdbSocket *s, const char *dev, const uint8_t mac[6], NlFdbTable table,
	       NlFdbError *err)
{
	struct ndmsg ndm = { .ndm_family = AF_BRIDGE };
	Find f = { .mac = mac };
	struct nl_cb *cb;
	char m[18];
	int r;

	format_mac(mac, m);
	if ((unsigned)table >= _NL_FDB_TABLE_MAX)
		return -EINVAL;
	f.ifindex = (int)if_nametoindex(dev);
	f.table = table;
	if (f.ifindex == 0) {
		set_error(err, "FDB entry %s on %s (%s): no such network interface", m, dev,
			  table_names[table]);
		return -ENODEV;
	}
	/* A callback set of this dump's own: @f lives on this stack frame only. */
	cb = nl_cb_clone(nl_socket_get_cb(s->sk));
	if (!cb)
		return -ENOMEM;
	r = nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_dump, &f);
	if (r >= 0)
		r = nl_send_simple(s->sk, RTM_GETNEIGH, NLM_F_DUMP, &ndm, sizeof(ndm));
	if (r >= 0)
		r = nl_recvmsgs(s->sk, cb);
	nl_cb_put(cb);
	if (r < 0) {
		r = errno_of(r);
		set_error(err, "FDB of %s (%s): reading it failed: %s", dev, table_names[table],
			  strerror(-r));
		return r;
	}
	return f.found ? 1 : 0;
}
