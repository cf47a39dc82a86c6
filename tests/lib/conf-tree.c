/* Configuration trees for conf/ tests (see conf-tree.h). */

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/conf-tree.h"

ConfTree *conf_tree_new(void)
{
	const char *tmp = getenv("TMPDIR");
	ConfTree *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	ck_assert_int_gt(asprintf(&t->root, "%s/failoverd-conf-XXXXXX", tmp && *tmp ? tmp : "/tmp"),
			 0);
	ck_assert_msg(mkdtemp(t->root), "mkdtemp: %s", strerror(errno));
	return t;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

ConfTree *conf_tree_free(ConfTree *t)
{
	if (!t)
		return NULL;
	nftw(t->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	conf_set_free(t->set);
	conf_diags_clear(&t->diags);
	free(t->root);
	free(t);
	return NULL;
}

const char *conf_tree_path(ConfTree *t, const char *rel)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	return path;
}

static void make_parents(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			ck_assert_msg(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", buf,
				      strerror(errno));
			*p = '/';
		}
}

const char *conf_tree_write(ConfTree *t, const char *rel, const char *content)
{
	const char *path = conf_tree_path(t, rel);
	FILE *f;

	make_parents(path);
	f = fopen(path, "we");
	ck_assert_msg(f, "fopen %s: %s", path, strerror(errno));
	ck_assert_int_ge(fputs(content, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

void conf_tree_symlink(ConfTree *t, const char *rel, const char *target)
{
	const char *path = conf_tree_path(t, rel);

	make_parents(path);
	ck_assert_msg(symlink(target, path) == 0, "symlink %s: %s", path, strerror(errno));
}

int conf_tree_load(ConfTree *t)
{
	t->set = conf_set_free(t->set);
	conf_diags_clear(&t->diags);
	t->result = conf_load(t->root, &t->set, &t->diags);
	return t->result;
}

size_t conf_tree_count(const ConfTree *t, const char *line)
{
	size_t n = 0;

	for (size_t i = 0; i < t->diags.n; i++) {
		char buf[1024];

		conf_diag_format(&t->diags.items[i], buf, sizeof(buf));
		n += strcmp(buf, line) == 0;
	}
	return n;
}

size_t conf_tree_count_sev(const ConfTree *t, ConfSeverity sev)
{
	size_t n = 0;

	for (size_t i = 0; i < t->diags.n; i++)
		n += t->diags.items[i].severity == sev;
	return n;
}

const char *conf_tree_diags(const ConfTree *t)
{
	static char out[16384];
	size_t len = 0;

	out[0] = 0;
	for (size_t i = 0; i < t->diags.n && len < sizeof(out) - 1; i++) {
		char buf[1024];

		conf_diag_format(&t->diags.items[i], buf, sizeof(buf));
		len += (size_t)snprintf(out + len, sizeof(out) - len, "\n  %s", buf);
	}
	return t->diags.n ? out : " (no diagnostics)";
}
