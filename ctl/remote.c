/* failoverctl -H: HOST parsing and the ssh command (ctl/remote.h). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/remote.h"

/* What systemctl -H runs on HOST: a bus connection on its stdin and stdout. */
#define REMOTE_BRIDGE "systemd-stdio-bridge"
#define BLANKS	      " \t\n"

static int invalid(const char **why, const char *reason)
{
	*why = reason;
	return -EINVAL;
}

static int copy_part(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		return -EINVAL;
	memcpy(dst, src, n);
	dst[n] = 0;
	return 0;
}

static int parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return -EINVAL;
	v = strtoul(s, NULL, 10);
	if (v < 1 || v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

int remote_parse(const char *spec, RemoteHost *h, const char **why)
{
	const char *at, *host, *end, *port = NULL;

	memset(h, 0, sizeof(*h));
	if (!*spec)
		return invalid(why, "it is empty");
	for (const char *p = spec; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return invalid(why, "it contains a blank or a control character");
	if (strchr(spec, '/'))
		return invalid(why, "HOST/MACHINE (a container on HOST) is not supported");
	at = strchr(spec, '@');
	host = spec;
	if (at) {
		if (strchr(at + 1, '@'))
			return invalid(why, "it has more than one '@'");
		if (at == spec)
			return invalid(why, "the user name before '@' is empty");
		if (spec[0] == '-')
			return invalid(why, "the user name starts with '-'");
		if (copy_part(h->user, sizeof(h->user), spec, (size_t)(at - spec)) < 0)
			return invalid(why, "the user name is too long");
		host = at + 1;
	}
	if (*host == '[') {
		/* Brackets, as in ssh's and systemd's syntax: the colons are the address's. */
		end = strchr(host, ']');
		if (!end)
			return invalid(why, "'[' without its ']'");
		if (copy_part(h->host, sizeof(h->host), host + 1, (size_t)(end - host - 1)) < 0)
			return invalid(why, "the address is too long");
		if (!strchr(h->host, ':') || strpbrk(h->host, "[]"))
			return invalid(
				why, "brackets hold an IPv6 address: [ADDRESS] or [ADDRESS]:PORT");
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return invalid(why, "after ']' only ':PORT' may follow");
	} else {
		end = strchr(host, ':');
		if (end && strchr(end + 1, ':'))
			return invalid(
				why, "an IPv6 address needs brackets: [ADDRESS] or [ADDRESS]:PORT");
		if (copy_part(h->host, sizeof(h->host), host,
			      end ? (size_t)(end - host) : strlen(host)) < 0)
			return invalid(why, "the host name is too long");
		if (!h->host[0])
			return invalid(why, "the host name is empty");
		/* ssh would take it after "--", but it is surely an option given as -H's value. */
		if (h->host[0] == '-')
			return invalid(why, "the host name starts with '-'");
		if (strpbrk(h->host, "[]"))
			return invalid(
				why, "brackets hold an IPv6 address: [ADDRESS] or [ADDRESS]:PORT");
		if (end)
			port = end + 1;
	}
	if (port && parse_port(port, &h->port) < 0)
		return invalid(why, "PORT must be a number from 1 to 65535");
	return 0;
}

char **remote_strv_free(char **v)
{
	for (size_t k = 0; v && v[k]; k++)
		free(v[k]);
	free(v);
	return NULL;
}

static int strv_push(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strndup(s, len);
	if (!nv[*n])
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

int remote_ssh_argv(const char *ssh, const RemoteHost *h, char ***ret)
{
	char **v = NULL, port[16], dest[sizeof(h->user) + sizeof(h->host) + 2];
	size_t n = 0;
	int r = 0;

	/* Words, not a shell command: failoverctl never runs a shell. */
	for (const char *p = ssh ? ssh : ""; r >= 0 && *(p += strspn(p, BLANKS));) {
		size_t len = strcspn(p, BLANKS);

		r = strv_push(&v, &n, p, len);
		p += len;
	}
	if (r >= 0 && n == 0)
		r = strv_push(&v, &n, "ssh", 3);
	/* As systemctl -H: no X11 forwarding, no terminal (the stream is the bus). */
	if (r >= 0)
		r = strv_push(&v, &n, "-xT", 3);
	if (r >= 0 && h->port) {
		snprintf(port, sizeof(port), "%u", h->port);
		r = strv_push(&v, &n, "-p", 2);
		if (r >= 0)
			r = strv_push(&v, &n, port, strlen(port));
	}
	snprintf(dest, sizeof(dest), "%s%s%s", h->user, h->user[0] ? "@" : "", h->host);
	if (r >= 0)
		r = strv_push(&v, &n, "--", 2);
	if (r >= 0)
		r = strv_push(&v, &n, dest, strlen(dest));
	if (r >= 0)
		r = strv_push(&v, &n, REMOTE_BRIDGE, strlen(REMOTE_BRIDGE));
	if (r < 0) {
		remote_strv_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

/* D-Bus address escaping: bytes outside the optionally-escaped set become %xx. */
static int append_escaped(FILE *f, const char *s)
{
	static const char plain[] =
		"-_/.\\*"
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	for (; *s; s++) {
		int n = strchr(plain, *s) ? fputc(*s, f) : fprintf(f, "%%%02x", (unsigned char)*s);

		if (n < 0)
			return -ENOMEM;
	}
	return 0;
}

int remote_exec_address(char *const *argv, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int r;

	if (!f)
		return -ENOMEM;
	r = fputs("unixexec:path=", f) < 0 ? -ENOMEM : append_escaped(f, argv[0]);
	for (size_t k = 0; r >= 0 && argv[k]; k++)
		r = fprintf(f, ",argv%zu=", k) < 0 ? -ENOMEM : append_escaped(f, argv[k]);
	if (fclose(f) != 0 || r < 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

bool remote_program_found(const char *program)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(program, '/'))
		return is_executable(program);
	/* execvp()'s search, with glibc's default when PATH is unset. */
	for (const char *p = path ? path : "/bin:/usr/bin";; p++) {
		size_t len = strcspn(p, ":");

		if (snprintf(buf, sizeof(buf), "%.*s%s%s", (int)len, p, len ? "/" : "", program) <
			    (int)sizeof(buf) &&
		    is_executable(buf))
			return true;
		p += len;
		if (!*p)
			return false;
	}
}

int remote_last_line(int fd, char *buf, size_t size)
{
	char data[4096];
	struct stat st;
	off_t from;
	ssize_t n;
	size_t end, start;

	if (!size)
		return -EINVAL;
	buf[0] = 0;
	if (fd < 0 || fstat(fd, &st) < 0)
		return fd < 0 ? -EBADF : -errno;
	/* ssh's last words are at the end; what came long before them is not read. */
	from = st.st_size > (off_t)sizeof(data) ? st.st_size - (off_t)sizeof(data) : 0;
	n = pread(fd, data, sizeof(data), from);
	if (n < 0)
		return -errno;
	end = (size_t)n;
	while (end > 0 && strchr(" \t\r\n", data[end - 1]))
		end--;
	start = end;
	while (start > 0 && data[start - 1] != '\n')
		start--;
	while (start < end && strchr(" \t\r", data[start]))
		start++;
	if (end - start >= size)
		end = start + size - 1;
	memcpy(buf, data + start, end - start);
	buf[end - start] = 0;
	return (int)(end - start);
}
