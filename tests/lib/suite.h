#pragma once

/* Running a Check suite the same way in every test binary. */

#include <check.h>

/* Runs @s (and frees it) with Check's output @mode; the process's exit status. */
int test_suite_run(Suite *s, enum print_output mode);
