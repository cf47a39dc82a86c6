/*
 * What the shipped binaries can do, read from the binaries themselves: no
 * shell and no other program is ever started by failoverd or failoverctl
 * (no system(), popen(), exec*() or posix_spawn*() is even linked in, and
 * no "/bin/sh" string is in them). The one exception, failoverctl -H, has
 * sd-bus run ssh from a unixexec: address (ctl/remote.c): still no exec of
 * its own, and no shell.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/suite.h"

static const char *const spawners[] = {
	"system", "popen",   "execl",	"execle",      "execlp",       "execv",	  "execve",
	"execvp", "execvpe", "fexecve", "posix_spawn", "posix_spawnp", "wordexp",
};

/* The dynamic symbols @bin needs, one per line, from nm (run without a shell). */
static void undefined_symbols(const char *bin, char *buf, size_t size)
{
	int fd[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		execlp("nm", "nm", "-D", "--undefined-only", "--format=just-symbols", bin,
		       (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while (n + 1 < size && (r = read(fd[0], buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(fd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nm %s failed", bin);
	ck_assert_msg(strstr(buf, "event_base_new") || strstr(buf, "sd_bus_open"),
		      "nm read no symbols from %s", bin);
}

static bool contains_line(const char *text, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = text; (p = strstr(p, word)); p += len)
		if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '@' || !p[len]))
			return true;
	return false;
}

static bool file_contains(const char *path, const char *needle)
{
	static char data[16 << 20];
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(data, 1, sizeof(data), f);
	fclose(f);
	return memmem(data, n, needle, strlen(needle)) != NULL;
}

START_TEST(test_no_shell_no_exec)
{
	static const char *const programs[] = { "failoverd", "failoverctl" };
	static char syms[1 << 16];
	char bin[300];

	for (size_t k = 0; k < sizeof(programs) / sizeof(programs[0]); k++) {
		test_build_path(bin, sizeof(bin), programs[k]);
		undefined_symbols(bin, syms, sizeof(syms));
		for (size_t i = 0; i < sizeof(spawners) / sizeof(spawners[0]); i++)
			ck_assert_msg(!contains_line(syms, spawners[i]), "%s links %s()",
				      programs[k], spawners[i]);
		ck_assert_msg(!file_contains(bin, "/bin/sh"), "%s mentions /bin/sh", programs[k]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("security");
	TCase *tc = tcase_create("binaries");

	tcase_add_test(tc, test_no_shell_no_exec);
	suite_add_tcase(s, tc);
	return test_suite_run(s, CK_NORMAL);
}
