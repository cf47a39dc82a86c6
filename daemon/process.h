#pragma once

/*
 * Process identity across a daemon restart. A pid alone names a process
 * only while it lives: the kernel recycles it, possibly for another QEMU.
 * (pid, start time) names one process for the whole uptime of the host.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/*
 * The start time of @pid in clock ticks since boot (/proc/PID/stat field
 * 22). -ESRCH: no such process; -EBADMSG: the stat line did not parse.
 */
int process_get_start(pid_t pid, uint64_t *ret);

/*
 * Is the QEMU recorded as (@pid, @start) still running? A live process whose
 * name does not start with "qemu", or whose start time differs from @start,
 * is somebody else under a recycled pid. @start 0 (recorded by a failoverd
 * that did not keep start times) checks the name only.
 */
bool process_is_same_qemu(pid_t pid, uint64_t start);

/*
 * What the kernel says @pid is running: the executable's file identity
 * (/proc/PID/exe). Unlike a version string, a peer cannot claim another
 * binary's; a rebuilt or upgraded binary is a new file or has a new mtime.
 */
typedef struct ProcessExe {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	uint64_t start; /* the process's start time, so a recycled pid reads as changed */
} ProcessExe;

/* -ESRCH: no such process; -EACCES etc. when /proc hides it. */
int process_get_exe(pid_t pid, ProcessExe *ret);
bool process_exe_equal(const ProcessExe *a, const ProcessExe *b);
