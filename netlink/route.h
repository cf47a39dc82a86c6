#pragma once

/* Internal to netlink/: the rtnetlink socket both of its halves (VFs, FDB) open. */

struct nl_sock;

/* A libnl socket connected to NETLINK_ROUTE; -ENOMEM, -EPERM or -EIO. */
int nl_route_socket_open(struct nl_sock **ret);
