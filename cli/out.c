/*
 * out.c - the CLI's output file (-o OUT). Nothing appears at OUT, and no
 * other name appears in OUT's folder, until the whole stream has been
 * written, verified (decrypt) and fsync'd:
 *
 *   - The data goes to an unnamed file made with O_TMPFILE in OUT's folder
 *     (open(2)): it has no directory entry, so a process killed by SIGKILL,
 *     a crash or a power cut leaves nothing behind (the kernel frees an
 *     unnamed file when its last descriptor closes). Mode 0600: it may hold
 *     plaintext.
 *   - On success it is fsync'd and given its name with linkat(2) through
 *     /proc/self/fd/N (AT_SYMLINK_FOLLOW), or AT_EMPTY_PATH where /proc is
 *     missing and the process may use it. linkat never replaces an existing
 *     name, symlinks included, so without --force a file that appeared at
 *     OUT meanwhile is kept (no check-then-rename race). With --force it is
 *     linked to a random temporary name and renamed over OUT (atomic
 *     replacement); only between those two calls does a temporary name
 *     exist. Then the folder is fsync'd.
 *   - Filesystems without O_TMPFILE (open fails with EOPNOTSUPP, EISDIR on
 *     kernels that predate it, EINVAL) fall back to a named temporary file
 *     ".OUT.XXXXXX" next to OUT, renamed on success (renameat2 with
 *     RENAME_NOREPLACE unless --force). That file is removed on failure and
 *     on SIGINT/SIGTERM/SIGHUP/SIGPIPE, but SIGKILL cannot be caught: on
 *     such filesystems a killed run can leave it (docs/envelope.1).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cli.h"

/* The one temporary name a signal handler may have to remove. */
static volatile sig_atomic_t tmp_live;
static char tmp_for_signal[4096];

static void on_signal(int sig)
{
    if (tmp_live)
        (void)unlink(tmp_for_signal);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void guard_tmp_name(const char *name)
{
    memcpy(tmp_for_signal, name, strlen(name) + 1);
    tmp_live = 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, on_signal);
}

int cli_tmpfile_unsupported(int err)
{
    return err == EOPNOTSUPP || err == EISDIR || err == EINVAL;
}

static void out_free(cli_out *o)
{
    if (o->fd >= 0)
        close(o->fd);
    if (o->dirfd >= 0)
        close(o->dirfd);
    o->fd = o->dirfd = -1;
    free(o->tmp);
    free(o->path);
    free(o->dir);
    free(o->base);
    o->tmp = o->path = o->dir = o->base = NULL;
}

/* The fallback: a named temporary file, as before O_TMPFILE. */
static int open_named(cli_out *o)
{
    size_t n = strlen(o->dir) + strlen(o->base) + 16;
    if (n > sizeof(tmp_for_signal) || (o->tmp = malloc(n)) == NULL)
        return cli_fail(CLI_EXIT_INTERNAL, "output path too long");
    snprintf(o->tmp, n, "%s/.%s.XXXXXX", o->dir, o->base);
    o->fd = mkostemp(o->tmp, O_CLOEXEC); /* mode 0600 */
    if (o->fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        return cli_fail(CLI_EXIT_USAGE, "cannot create a temporary file next to \"%s\": %s",
                        o->path, strerror(e));
    }
    guard_tmp_name(o->tmp);
    return CLI_EXIT_OK;
}

int cli_out_open(cli_out *o, const char *path, int force, const cli_in *in)
{
    memset(o, 0, sizeof(*o));
    o->fd = o->dirfd = -1;
    if (path == NULL || strcmp(path, "-") == 0) {
        struct stat so;
        o->fd = STDOUT_FILENO;
        o->is_stdout = 1;
        if (fstat(o->fd, &so) == 0 && S_ISFIFO(so.st_mode))
            cli_pipe_widen(o->fd);
        return CLI_EXIT_OK;
    }
    struct stat st, ist;
    /* lstat: a symlink at OUT (dangling or not) counts as existing; it is
     * never followed and never replaced without --force. */
    if (lstat(path, &st) == 0) {
        if (in != NULL && fstat(in->fd, &ist) == 0 && ist.st_dev == st.st_dev &&
            ist.st_ino == st.st_ino)
            return cli_fail(CLI_EXIT_USAGE, "output \"%s\" is the input file; write elsewhere",
                            path);
        if (!force)
            return cli_fail(CLI_EXIT_USAGE, "\"%s\" exists; use --force to replace it", path);
        if (!S_ISREG(st.st_mode))
            return cli_fail(CLI_EXIT_USAGE, "\"%s\" is not a regular file", path);
    }
    o->force = force;
    char *d = strdup(path), *b = strdup(path);
    o->path = strdup(path);
    if (d != NULL && b != NULL) {
        o->dir = strdup(dirname(d));
        o->base = strdup(basename(b));
    }
    free(d);
    free(b);
    if (o->path == NULL || o->dir == NULL || o->base == NULL) {
        out_free(o);
        return cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    }
    o->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (o->dirfd < 0) {
        int e = errno;
        out_free(o);
        return cli_fail(CLI_EXIT_USAGE, "cannot open the folder of \"%s\": %s", path, strerror(e));
    }
    o->fd = openat(o->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (o->fd >= 0)
        return CLI_EXIT_OK;
    int e = errno;
    if (!cli_tmpfile_unsupported(e)) {
        out_free(o);
        return cli_fail(CLI_EXIT_USAGE, "cannot create a temporary file next to \"%s\": %s", path,
                        strerror(e));
    }
    int rc = open_named(o);
    if (rc != CLI_EXIT_OK)
        out_free(o);
    return rc;
}

int cli_out_sink(void *arg, const uint8_t *buf, size_t len)
{
    cli_out *o = arg;
    while (len > 0 && !o->failed) {
        ssize_t n = write(o->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cli_fail(CLI_EXIT_INTERNAL, "writing %s: %s", o->is_stdout ? "stdout" : o->path,
                     strerror(errno));
            o->failed = 1;
            break;
        }
        buf += n;
        len -= (size_t)n;
        o->written += (uint64_t)n;
    }
    /* OUT's file: start writing back each 8 MiB as it is complete
     * (sync_file_range(2), asynchronous), so that the fsync at commit has
     * little left to do; the fsync is still what makes the data durable. */
    if (!o->is_stdout && !o->failed && o->written - o->flushed >= CLI_WRITEBACK) {
        (void)sync_file_range(o->fd, (off64_t)o->flushed, (off64_t)(o->written - o->flushed),
                              SYNC_FILE_RANGE_WRITE);
        o->flushed = o->written;
    }
    return o->failed;
}

/* Names the unnamed file `fd` as `name` in dirfd; fails with EEXIST if the
 * name exists (linkat(2) never replaces). */
static int link_unnamed(int fd, int dirfd, const char *name)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    if (errno != ENOENT)
        return -1;
    /* No /proc: AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; errno tells. */
    return linkat(fd, "", dirfd, name, AT_EMPTY_PATH);
}

/* --force with an unnamed file: a random name in OUT's folder, then an
 * atomic rename over OUT. */
static int publish_forced(cli_out *o)
{
    for (int tries = 0; tries < 16; tries++) {
        unsigned char r[8];
        char name[NAME_MAX + 1];
        if (RAND_bytes(r, sizeof(r)) != 1) {
            errno = EIO;
            return -1;
        }
        int n = snprintf(name, sizeof(name), ".%.200s.%02x%02x%02x%02x%02x%02x%02x%02x", o->base,
                         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
        if (n < 0 || (size_t)n >= sizeof(name) ||
            strlen(o->dir) + 1 + (size_t)n + 1 > sizeof(tmp_for_signal)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        char full[sizeof(tmp_for_signal) + sizeof(name)]; /* fits: checked above */
        snprintf(full, sizeof(full), "%s/%s", o->dir, name);
        guard_tmp_name(full); /* from here until the rename, a name exists */
        if (link_unnamed(o->fd, o->dirfd, name) != 0) {
            tmp_live = 0;
            if (errno == EEXIST)
                continue;
            return -1;
        }
        if (renameat(o->dirfd, name, o->dirfd, o->base) != 0) {
            int e = errno;
            (void)unlinkat(o->dirfd, name, 0);
            tmp_live = 0;
            errno = e;
            return -1;
        }
        tmp_live = 0;
        return 0;
    }
    errno = EEXIST;
    return -1;
}

/* The fallback's publish: rename the named temporary file. */
static int publish_named(cli_out *o)
{
    int r;
    if (o->force) {
        r = rename(o->tmp, o->path);
    } else {
        r = renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, RENAME_NOREPLACE);
        if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
            /* file system without RENAME_NOREPLACE: link() also refuses an
             * existing name */
            r = link(o->tmp, o->path);
            if (r == 0)
                (void)unlink(o->tmp);
        }
    }
    if (r == 0) {
        tmp_live = 0;
        free(o->tmp);
        o->tmp = NULL;
    }
    return r;
}

int cli_out_commit(cli_out *o)
{
    if (o->is_stdout)
        return o->failed ? CLI_EXIT_INTERNAL : CLI_EXIT_OK;
    if (o->failed || fsync(o->fd) != 0) {
        cli_out_abort(o);
        return cli_fail(CLI_EXIT_INTERNAL, "cannot write \"%s\"", o->path);
    }
    int r;
    if (o->tmp != NULL)
        r = publish_named(o);
    else if (o->force)
        r = publish_forced(o);
    else
        r = link_unnamed(o->fd, o->dirfd, o->base);
    if (r != 0) {
        int e = errno;
        char *p = strdup(o->path);
        cli_out_abort(o);
        int rc = e == EEXIST ? cli_fail(CLI_EXIT_USAGE,
                                        "\"%s\" appeared while writing; use --force to replace it",
                                        p ? p : "output")
                             : cli_fail(CLI_EXIT_INTERNAL, "cannot create \"%s\": %s",
                                        p ? p : "output", strerror(e));
        free(p);
        return rc;
    }
    /* The data is durable (fsync above); make the new name durable too.
     * out_free closes the file. */
    (void)fsync(o->dirfd);
    out_free(o);
    return CLI_EXIT_OK;
}

void cli_out_abort(cli_out *o)
{
    if (o->is_stdout)
        return;
    /* Closing the last descriptor of an unnamed file frees it. */
    if (o->tmp != NULL)
        (void)unlink(o->tmp);
    tmp_live = 0;
    out_free(o);
}
