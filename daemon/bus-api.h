#pragma once

/*
 * The D-Bus API's names, in one place for the daemon (daemon/bus.c) and
 * its client (ctl/failoverctl.c), as systemd's bus-common-errors.h does.
 * README.md, "D-Bus API", describes what they mean.
 */

#define BUS_NAME "org.failoverd1"
#define BUS_PATH "/org/failoverd1"

#define BUS_IFACE_MANAGER  "org.failoverd1.Manager"
#define BUS_IFACE_POOL	   "org.failoverd1.Pool"
#define BUS_IFACE_INSTANCE "org.failoverd1.Instance"
#define BUS_IFACE_PAIR	   "org.failoverd1.Pair"

#define BUS_PATH_POOL	  BUS_PATH "/pool"
#define BUS_PATH_INSTANCE BUS_PATH "/instance"
#define BUS_PATH_PAIR	  BUS_PATH "/pair"

/* failoverctl's and the tests' way to a bus other than the system bus. */
#define BUS_ADDRESS_ENV "FAILOVERD_BUS_ADDRESS"

/* Errors: a manager's negative errno becomes one of these. */
#define BUS_ERROR_PREFIX		"org.failoverd1.Error."
#define BUS_ERROR_NOT_FOUND		BUS_ERROR_PREFIX "NotFound"
#define BUS_ERROR_EXISTS		BUS_ERROR_PREFIX "Exists"
#define BUS_ERROR_NOT_CONNECTED		BUS_ERROR_PREFIX "NotConnected"
#define BUS_ERROR_BUSY			BUS_ERROR_PREFIX "Busy"
#define BUS_ERROR_NO_SPACE		BUS_ERROR_PREFIX "NoSpace"
#define BUS_ERROR_WRONG_STATE		BUS_ERROR_PREFIX "WrongState"
#define BUS_ERROR_FAILED		BUS_ERROR_PREFIX "Failed"
#define BUS_ERROR_INVALID_CONFIGURATION BUS_ERROR_PREFIX "InvalidConfiguration"

/* Signatures of what clients parse. */
#define BUS_SIGNATURE_POOL		 "(ssbuuo)"
#define BUS_SIGNATURE_INSTANCE		 "(ssbssuo)"
#define BUS_SIGNATURE_PAIR		 "(sssssssbto)"
#define BUS_SIGNATURE_LIST_POOLS	 "a" BUS_SIGNATURE_POOL
#define BUS_SIGNATURE_LIST_INSTANCES	 "a" BUS_SIGNATURE_INSTANCE
#define BUS_SIGNATURE_LIST_PAIRS	 "a" BUS_SIGNATURE_PAIR
#define BUS_SIGNATURE_PAIR_STATE_CHANGED "sssss"
