/*
 * walk.c - the FILE|DIR operands of a batch command (rewrap), one file at
 * a time: a named file is processed as given; a folder is walked
 * recursively in name order (alphasort), regular files only. Symbolic
 * links met in a walk are not followed (a link to outside the tree must
 * not be rewritten; a link inside it reaches its target directly) and are
 * counted as skipped; a named symbolic link is refused. A file that looks
 * like one of cli/out.c's temporary names next to its target (".NAME." and
 * 16 hex digits, or 6 mkostemp characters where the filesystem has no
 * O_TMPFILE; NAME present) is left from an interrupted replacement:
 * skipped with a warning, never processed as a message of its own.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define WALK_MAX_DEPTH 64

static void count_failure(cli_batch *b, int rc)
{
    b->failed++;
    if (b->rc == CLI_EXIT_OK)
        b->rc = rc;
}

/* 1 if name in dir is ".STEM." then `len` characters of `set`, and
 * dir/STEM exists. */
static int tmp_form(const char *dir, const char *name, size_t len, const char *set)
{
    size_t n = strlen(name);
    if (n < len + 3 || name[0] != '.' || name[n - len - 1] != '.' ||
        strspn(name + n - len, set) != len)
        return 0;
    char stem[4096];
    struct stat st;
    int k = snprintf(stem, sizeof(stem), "%s/%.*s", dir, (int)(n - len - 2), name + 1);
    return k > 0 && (size_t)k < sizeof(stem) && lstat(stem, &st) == 0;
}

static int leftover_tmp(const char *dir, const char *name)
{
    return tmp_form(dir, name, 16, "0123456789abcdef") ||
           tmp_form(dir, name, 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
}

/* Recursive by design: the depth is bounded by WALK_MAX_DEPTH. */
// NOLINTNEXTLINE(misc-no-recursion)
static void walk_dir(const char *dir, int depth, cli_file_fn fn, void *arg, cli_batch *b)
{
    struct dirent **names = NULL;
    if (depth > WALK_MAX_DEPTH) {
        count_failure(b, cli_fail(CLI_EXIT_USAGE, "\"%s\": folders nested over %d deep", dir,
                                  WALK_MAX_DEPTH));
        return;
    }
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        count_failure(b, cli_fail(CLI_EXIT_INTERNAL, "cannot read folder \"%s\": %s", dir,
                                  strerror(errno)));
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char path[4096];
        struct stat st;
        int k = snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            /* not entries of their own */
        } else if (k < 0 || (size_t)k >= sizeof(path)) {
            count_failure(b, cli_fail(CLI_EXIT_USAGE, "a path under \"%s\" is too long", dir));
        } else if (lstat(path, &st) != 0) {
            count_failure(b, cli_fail(CLI_EXIT_INTERNAL, "cannot stat \"%s\": %s", path,
                                      strerror(errno)));
        } else if (S_ISDIR(st.st_mode)) {
            walk_dir(path, depth + 1, fn, arg, b);
        } else if (!S_ISREG(st.st_mode)) {
            b->skipped++; /* symbolic links, devices, sockets, FIFOs */
        } else if (leftover_tmp(dir, name)) {
            fprintf(stderr,
                    "envelope: warning: \"%s\" is a temporary file left by an interrupted run; "
                    "skipped (remove it)\n",
                    path);
            b->skipped++;
        } else {
            int rc = fn(arg, path, 0);
            if (rc != CLI_EXIT_OK)
                count_failure(b, rc);
        }
        free(names[i]);
    }
    free(names);
}

void cli_walk(char **operands, int n, cli_file_fn fn, void *arg, cli_batch *b)
{
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (lstat(operands[i], &st) != 0) {
            count_failure(b, cli_fail(CLI_EXIT_USAGE, "cannot open \"%s\": %s", operands[i],
                                      strerror(errno)));
        } else if (S_ISDIR(st.st_mode)) {
            walk_dir(operands[i], 0, fn, arg, b);
        } else if (!S_ISREG(st.st_mode)) {
            count_failure(b, cli_fail(CLI_EXIT_USAGE,
                                      "\"%s\" is not a regular file (a symbolic link is not "
                                      "followed: name its target)",
                                      operands[i]));
        } else {
            int rc = fn(arg, operands[i], 1);
            if (rc != CLI_EXIT_OK)
                count_failure(b, rc);
        }
    }
}
