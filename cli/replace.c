/*
 * replace.c - a file rewritten in place, atomically (rewrap, reencrypt):
 * the new content goes to an unnamed file in the same folder (cli/out.c),
 * which gets the original's owner and mode, is fsync'd and renamed over
 * the original. A reader sees the old file or the new one, never a mix;
 * a run killed at any point leaves the original as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_replace_begin(cli_replace *r, const char *path, int in_fd)
{
    memset(r, 0, sizeof(*r));
    r->out.fd = r->out.dirfd = -1;
    r->path = path;
    r->in_fd = in_fd;
    struct stat ln;
    if (fstat(in_fd, &r->st) != 0)
        return cli_fail(CLI_EXIT_INTERNAL, "cannot stat \"%s\": %s", path, strerror(errno));
    if (!S_ISREG(r->st.st_mode))
        return cli_fail(CLI_EXIT_USAGE, "\"%s\" is not a regular file", path);
    /* The name must be the file that was opened, not a symlink to it. */
    if (lstat(path, &ln) == 0 && S_ISLNK(ln.st_mode))
        return cli_fail(CLI_EXIT_USAGE,
                        "\"%s\" is a symbolic link; it is not replaced: name its target", path);
    if (lstat(path, &ln) != 0 || ln.st_dev != r->st.st_dev || ln.st_ino != r->st.st_ino)
        return cli_fail(CLI_EXIT_INTERNAL, "\"%s\" changed while it was being opened", path);
    int rc = cli_out_open(&r->out, path, 1, NULL);
    if (rc == CLI_EXIT_OK)
        r->open = 1;
    return rc;
}

static int same_content_stamp(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int cli_replace_commit(cli_replace *r)
{
    struct stat now, ln;
    if (r->out.failed) {
        cli_replace_abort(r);
        return CLI_EXIT_INTERNAL; /* the writer said why */
    }
    /* The owner first: chown clears the set-id bits, which chmod then
     * restores. A file whose owner cannot be kept is not replaced. */
    if (fchown(r->out.fd, r->st.st_uid, r->st.st_gid) != 0) {
        int e = errno;
        cli_replace_abort(r);
        return cli_fail(CLI_EXIT_INTERNAL,
                        "cannot give the new \"%s\" its owner %ld:%ld (%s); run as its owner or "
                        "root; the file is unchanged",
                        r->path, (long)r->st.st_uid, (long)r->st.st_gid, strerror(e));
    }
    if (fchmod(r->out.fd, r->st.st_mode & 07777) != 0) {
        int e = errno;
        cli_replace_abort(r);
        return cli_fail(CLI_EXIT_INTERNAL, "cannot set the mode of the new \"%s\": %s", r->path,
                        strerror(e));
    }
    /* Someone who wrote to the file meanwhile would lose that write. */
    if (fstat(r->in_fd, &now) != 0 || !same_content_stamp(&now, &r->st) ||
        lstat(r->path, &ln) != 0 || ln.st_ino != r->st.st_ino || ln.st_dev != r->st.st_dev) {
        cli_replace_abort(r);
        return cli_fail(CLI_EXIT_INTERNAL,
                        "\"%s\" was changed by someone else while being rewritten; it is left "
                        "as they made it",
                        r->path);
    }
    r->open = 0;
    return cli_out_commit(&r->out);
}

void cli_replace_abort(cli_replace *r)
{
    if (r->open)
        cli_out_abort(&r->out);
    r->open = 0;
}
