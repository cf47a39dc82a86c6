#pragma once

/*
 * Driving the QEMU TEST DOUBLE (tests/model/qemu-double.c) from a test: its
 * control socket speaks one command line and one reply line per connection.
 */

#include <stddef.h>

#include "tests/lib/harness.h"

/* Sends @cmd to the double at @ctl; its reply line (no newline) goes to @reply. */
int test_double_call(const char *ctl, const char *cmd, char *reply, size_t size);
/*
 * Starts a double with @argv (argv[0] is found in the build directory) and
 * waits until its control socket @ctl answers; NULL if it did not come up.
 */
TestQemu *test_double_spawn(const char *const *argv, const char *ctl, const char *log);
