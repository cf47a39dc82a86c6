#pragma once

/*
 * Static forwarding-database entries for one MAC, through rtnetlink
 * (AF_BRIDGE neighbours, libnl-route's rtnl_neigh): what
 * `bridge fdb add MAC dev DEV self|master static` does, without a shell.
 * The two tables are the kernel's (docs/traffic.md):
 *   NL_FDB_SELF   the device's own table: for a NIC, its embedded switch
 *                 (ndo_fdb_add; by default the MAC joins the device's
 *                 unicast filter);
 *   NL_FDB_MASTER the table of the bridge the device is a port of.
 * Adding an entry that is there already and deleting one that is not are
 * not errors: a crash between the request and its record is repaired by
 * doing the same again.
 */

#include <stdbool.h>
#include <stdint.h>

typedef enum NlFdbTable {
	NL_FDB_SELF,
	NL_FDB_MASTER,
	_NL_FDB_TABLE_MAX,
} NlFdbTable;

/* "self", "master" (iproute2's words) */
const char *nl_fdb_table_to_string(NlFdbTable t);
int nl_fdb_table_from_string(const char *s);

typedef struct NlFdbError {
	char message[256]; /* names the device, the MAC and the table */
} NlFdbError;

typedef struct NlFdbSocket NlFdbSocket;

int nl_fdb_socket_new(NlFdbSocket **ret);
NlFdbSocket *nl_fdb_socket_free(NlFdbSocket *s);

/*
 * A static entry for @mac on netdev @dev in @table. -ENODEV: no such
 * device; -EOPNOTSUPP: the device has no such table (NL_FDB_MASTER on a
 * device that is no bridge port); other errors are the kernel's.
 */
int nl_fdb_add(NlFdbSocket *s, const char *dev, const uint8_t mac[6], NlFdbTable table,
	       NlFdbError *err);
int nl_fdb_del(NlFdbSocket *s, const char *dev, const uint8_t mac[6], NlFdbTable table,
	       NlFdbError *err);
/* 1 if @dev has an entry for @mac in @table, 0 if not, or a negative errno. */
int nl_fdb_has(NlFdbSocket *s, const char *dev, const uint8_t mac[6], NlFdbTable table,
	       NlFdbError *err);

static inline void nl_fdb_socket_freep(NlFdbSocket **s)
{
	nl_fdb_socket_free(*s);
}
