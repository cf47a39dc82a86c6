/* The rtnetlink socket of netlink/'s modules. */

#include <errno.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "netlink/route.h"

int nl_route_socket_open(struct nl_sock **ret)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sk);
		return r == -NLE_PERM ? -EPERM : -EIO;
	}
	*ret = sk;
	return 0;
}
