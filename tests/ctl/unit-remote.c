/*
 * failoverctl -H (ctl/remote.c): the HOST forms systemctl -H takes, the
 * ssh command built from them and $FAILOVERCTL_SSH, its unixexec: address,
 * and the line of ssh's stderr an error shows. The real thing, through an
 * sshd, is tests/ctl/dbus-remote.c.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctl/remote.h"
#include "tests/lib/suite.h"

static const struct {
	const char *spec, *user, *host;
	unsigned port;
} good[] = {
	{ "web1", "", "web1", 0 },
	{ "root@web1", "root", "web1", 0 },
	{ "web1.example.org:2222", "", "web1.example.org", 2222 },
	{ "ops@10.0.0.7:22", "ops", "10.0.0.7", 22 },
	{ "[::1]", "", "::1", 0 },
	{ "[fe80::1%eth0]:65535", "", "fe80::1%eth0", 65535 },
	{ "root@[2001:db8::2]:1", "root", "2001:db8::2", 1 },
	{ "my_alias", "", "my_alias", 0 }, /* a Host of ssh_config */
};

static const struct {
	const char *spec, *why;
} bad[] = {
	{ "", "empty" },
	{ "root@", "host name is empty" },
	{ "@web1", "user name before '@' is empty" },
	{ "a@b@web1", "more than one '@'" },
	{ "web1:", "PORT must be a number" },
	{ "web1:0", "PORT must be a number" },
	{ "web1:65536", "PORT must be a number" },
	{ "web1:22x", "PORT must be a number" },
	{ "web1:+22", "PORT must be a number" },
	{ "web1/container", "HOST/MACHINE" },
	{ "web1:22/container", "HOST/MACHINE" },
	{ "::1", "IPv6 address needs brackets" },
	{ "fe80::1:22", "IPv6 address needs brackets" },
	{ "[::1", "without its ']'" },
	{ "[::1]22", "only ':PORT' may follow" },
	{ "[web1]", "brackets hold an IPv6 address" },
	{ "[]", "brackets hold an IPv6 address" },
	{ "web[1]", "brackets hold an IPv6 address" },
	{ "--json", "host name starts with '-'" },
	{ "-oProxyCommand=x@web1", "user name starts with '-'" },
	{ "web 1", "blank" },
	{ "web1\n", "control character" },
	{ "web\x1b[2J", "control character" },
};

START_TEST(test_parse_good)
{
	RemoteHost h;
	const char *why = NULL;

	ck_assert_msg(remote_parse(good[_i].spec, &h, &why) == 0, "%s: %s", good[_i].spec, why);
	ck_assert_str_eq(h.user, good[_i].user);
	ck_assert_str_eq(h.host, good[_i].host);
	ck_assert_uint_eq(h.port, good[_i].port);
}
END_TEST

START_TEST(test_parse_bad)
{
	RemoteHost h;
	const char *why = NULL;

	ck_assert_int_eq(remote_parse(bad[_i].spec, &h, &why), -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, bad[_i].why), "'%s': %s", bad[_i].spec, why);
}
END_TEST

START_TEST(test_parse_too_long)
{
	char spec[600];
	RemoteHost h;
	const char *why;

	memset(spec, 'a', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = 0;
	ck_assert_int_eq(remote_parse(spec, &h, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "too long"));
	spec[300] = '@';
	ck_assert_int_eq(remote_parse(spec, &h, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "user name is too long"));
}
END_TEST

static char *joined(char **v)
{
	static char buf[1024];
	size_t n = 0;

	buf[0] = 0;
	for (size_t k = 0; v[k]; k++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", k ? "|" : "", v[k]);
	return buf;
}

START_TEST(test_ssh_argv)
{
	RemoteHost h;
	const char *why;
	char **v;

	/* systemctl -H's command: "ssh -xT [-p PORT] -- [USER@]HOST systemd-stdio-bridge". */
	ck_assert_int_eq(remote_parse("web1", &h, &why), 0);
	ck_assert_int_eq(remote_ssh_argv(NULL, &h, &v), 0);
	ck_assert_str_eq(joined(v), "ssh|-xT|--|web1|systemd-stdio-bridge");
	remote_strv_free(v);
	ck_assert_int_eq(remote_ssh_argv(" \t", &h, &v), 0);
	ck_assert_str_eq(joined(v), "ssh|-xT|--|web1|systemd-stdio-bridge");
	remote_strv_free(v);

	ck_assert_int_eq(remote_parse("root@[::1]:2222", &h, &why), 0);
	ck_assert_int_eq(remote_ssh_argv(" ssh  -F /etc/fo/ssh_config\t-o BatchMode=yes ", &h, &v),
			 0);
	ck_assert_str_eq(joined(v), "ssh|-F|/etc/fo/ssh_config|-o|BatchMode=yes|-xT|-p|2222|--|"
				    "root@::1|systemd-stdio-bridge");
	remote_strv_free(v);
}
END_TEST

START_TEST(test_exec_address)
{
	char *argv[] = { "/usr/bin/ssh", "-F", "/tmp/a b,c;d=e%", "-xT", "--", "root@::1", NULL };
	char *a;

	/* Every byte outside the D-Bus address's plain set escaped, so ',' ';' '=' stay values. */
	ck_assert_int_eq(remote_exec_address(argv, &a), 0);
	ck_assert_str_eq(a, "unixexec:path=/usr/bin/ssh,argv0=/usr/bin/ssh,argv1=-F,"
			    "argv2=/tmp/a%20b%2cc%3bd%3de%25,argv3=-xT,argv4=--,"
			    "argv5=root%40%3a%3a1");
	free(a);
}
END_TEST

START_TEST(test_program_found)
{
	char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

	ck_assert(remote_program_found("sh"));
	ck_assert(remote_program_found("/bin/sh"));
	ck_assert(!remote_program_found("/bin"));
	ck_assert(!remote_program_found("failoverctl-no-such-program"));
	setenv("PATH", "/nonexistent::/bin", 1);
	ck_assert(remote_program_found("sh"));
	setenv("PATH", "/nonexistent", 1);
	ck_assert(!remote_program_found("sh"));
	if (path)
		setenv("PATH", path, 1);
	free(path);
}
END_TEST

START_TEST(test_last_line)
{
	int fd = memfd_create("ssh-stderr", MFD_CLOEXEC);
	char big[6000], buf[64];
	static const char said[] = "Warning: Permanently added '[127.0.0.1]:2222' (ED25519).\r\n"
				   "root@127.0.0.1: Permission denied (publickey).\r\n\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(remote_last_line(fd, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(write(fd, said, strlen(said)), (ssize_t)strlen(said));
	/* Read from the start, whatever the offset ssh's writes left. */
	ck_assert_int_eq(remote_last_line(fd, buf, sizeof(buf)), 46);
	ck_assert_str_eq(buf, "root@127.0.0.1: Permission denied (publickey).");
	/* Only the end of a long stream is read; a long line is cut, keeping its start. */
	memset(big, 'x', sizeof(big));
	big[0] = '\n';
	ck_assert_int_eq(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	ck_assert_int_eq(remote_last_line(fd, buf, 8), 7);
	ck_assert_str_eq(buf, "xxxxxxx");
	close(fd);
	ck_assert_int_eq(remote_last_line(-1, buf, sizeof(buf)), -EBADF);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("remote");
	TCase *tc = tcase_create("remote");

	tcase_add_loop_test(tc, test_parse_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_parse_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_parse_too_long);
	tcase_add_test(tc, test_ssh_argv);
	tcase_add_test(tc, test_exec_address);
	tcase_add_test(tc, test_program_found);
	tcase_add_test(tc, test_last_line);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
