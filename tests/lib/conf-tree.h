/*
 * Configuration trees for conf/ tests: files written below a private root
 * directory, loaded with conf_load(), diagnostics searched as formatted
 * lines ("FILE:LINE: error: MESSAGE").
 */
#pragma once

#include "conf/conf.h"

typedef struct ConfTree {
	char *root;
	ConfDiags diags;
	ConfSet *set;
	int result; /* of the last conf_tree_load() */
} ConfTree;

/* A tree in a fresh temporary directory; aborts the test on failure. */
ConfTree *conf_tree_new(void);
/* Removes the directory and frees everything. */
ConfTree *conf_tree_free(ConfTree *t);
/* Writes ROOT/REL (parents created); returns the full path, owned by @t until the next call. */
const char *conf_tree_write(ConfTree *t, const char *rel, const char *content);
void conf_tree_symlink(ConfTree *t, const char *rel, const char *target);
/* ROOT/REL in a static buffer. */
const char *conf_tree_path(ConfTree *t, const char *rel);
/* conf_load() on the tree, replacing the previous set and diagnostics. */
int conf_tree_load(ConfTree *t);
/* Number of diagnostics whose formatted line equals @line exactly. */
size_t conf_tree_count(const ConfTree *t, const char *line);
/* Number of diagnostics of @sev. */
size_t conf_tree_count_sev(const ConfTree *t, ConfSeverity sev);
/* All diagnostics, one per line, for failure messages (static buffer). */
const char *conf_tree_diags(const ConfTree *t);
