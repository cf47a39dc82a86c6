#pragma once

/*
 * failoverctl -H: the system bus of another machine, reached the way
 * systemctl -H reaches it — ssh runs systemd-stdio-bridge there, and sd-bus
 * runs ssh here through a unixexec: address (no shell anywhere).
 */

#include <stdbool.h>
#include <stddef.h>

typedef struct RemoteHost {
	char user[256]; /* "" when not given: ssh's default */
	char host[256]; /* a name or an address; an IPv6 address without its brackets */
	unsigned port;	/* 0 when not given: ssh's default */
} RemoteHost;

/*
 * Parses @spec, [USER@]HOST[:PORT] with HOST a name, an IPv4 address or an
 * IPv6 address in brackets ([::1]:2222), as systemctl -H takes it (but not
 * its HOST/MACHINE, a container on HOST). 0, or -EINVAL with @why saying
 * what is wrong.
 */
int remote_parse(const char *spec, RemoteHost *h, const char **why);

/*
 * The command that connects to @h: the words of @ssh (split on blanks; NULL
 * or blank: "ssh"), then "-xT [-p PORT] -- [USER@]HOST systemd-stdio-bridge".
 * A NULL-terminated, malloc'ed vector in @ret (free with remote_strv_free()).
 * 0 or -ENOMEM.
 */
int remote_ssh_argv(const char *ssh, const RemoteHost *h, char ***ret);
char **remote_strv_free(char **v);

/* The unixexec: address running @argv, every value escaped; malloc'ed in @ret. 0 or -ENOMEM. */
int remote_exec_address(char *const *argv, char **ret);

/* Whether execvp() would find @program: in $PATH, or as a path if it has a '/'. */
bool remote_program_found(const char *program);

/*
 * The last non-blank line of what was written to @fd (a file ssh's stderr
 * went to), read from its start whatever its offset, without its line end,
 * into @buf. Its length, 0 if nothing was written, or -errno.
 */
int remote_last_line(int fd, char *buf, size_t size);
