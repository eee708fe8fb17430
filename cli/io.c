/*
 * io.c - the CLI's input and output. Output to a file goes to a temporary
 * file in the same folder (same filesystem, so rename is atomic), fsync'd
 * and renamed over the target only on success: a failed decrypt leaves no
 * output file, and the input is never written to. A signal while writing
 * removes the temporary file.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"

int cli_in_open(cli_in *in, const char *path)
{
    memset(in, 0, sizeof(*in));
    in->fd = -1;
    if (path == NULL || strcmp(path, "-") == 0) {
        in->fd = STDIN_FILENO;
        in->is_stdin = 1;
        in->name = "stdin";
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        in->name = path;
        if (in->fd < 0)
            return cli_fail(CLI_EXIT_USAGE, "cannot open \"%s\": %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode))
        in->size = (uint64_t)st.st_size;
    in->buf = OPENSSL_malloc(CLI_CHUNK);
    if (in->buf == NULL) {
        cli_in_close(in);
        return cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    }
    return CLI_EXIT_OK;
}

long cli_in_read(cli_in *in)
{
    for (;;) {
        ssize_t n = read(in->fd, in->buf, CLI_CHUNK);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR) {
            cli_fail(CLI_EXIT_INTERNAL, "reading %s: %s", in->name, strerror(errno));
            return -1;
        }
    }
}

void cli_in_close(cli_in *in)
{
    if (in->fd >= 0 && !in->is_stdin)
        close(in->fd);
    in->fd = -1;
    /* The buffer may have held plaintext. */
    if (in->buf)
        OPENSSL_clear_free(in->buf, CLI_CHUNK);
    in->buf = NULL;
}

/* The one temporary file a signal handler may have to remove. */
static volatile sig_atomic_t tmp_live;
static char tmp_for_signal[4096];

static void on_signal(int sig)
{
    if (tmp_live)
        (void)unlink(tmp_for_signal);
    signal(sig, SIG_DFL);
    raise(sig);
}

int cli_out_open(cli_out *o, const char *path, int force, const cli_in *in)
{
    memset(o, 0, sizeof(*o));
    o->fd = -1;
    if (path == NULL || strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
        o->is_stdout = 1;
        return CLI_EXIT_OK;
    }
    struct stat st, ist;
    /* lstat: a symlink at OUT (dangling or not) counts as existing; it is
     * never followed and never replaced without --force. */
    if (lstat(path, &st) == 0) {
        if (in != NULL && fstat(in->fd, &ist) == 0 && ist.st_dev == st.st_dev &&
            ist.st_ino == st.st_ino)
            return cli_fail(CLI_EXIT_USAGE, "output \"%s\" is the input file; write elsewhere", path);
        if (!force)
            return cli_fail(CLI_EXIT_USAGE, "\"%s\" exists; use --force to replace it", path);
        if (!S_ISREG(st.st_mode))
            return cli_fail(CLI_EXIT_USAGE, "\"%s\" is not a regular file", path);
    }
    o->force = force;
    char *d = strdup(path), *b = strdup(path);
    if (d == NULL || b == NULL) {
        free(d);
        free(b);
        return cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    }
    const char *dir = dirname(d), *base = basename(b);
    size_t n = strlen(dir) + strlen(base) + 16;
    o->tmp = malloc(n);
    o->path = strdup(path);
    if (o->tmp == NULL || o->path == NULL || n > sizeof(tmp_for_signal)) {
        free(d);
        free(b);
        cli_out_abort(o);
        return cli_fail(CLI_EXIT_INTERNAL, "output path too long");
    }
    snprintf(o->tmp, n, "%s/.%s.XXXXXX", dir, base);
    free(d);
    free(b);
    o->fd = mkostemp(o->tmp, O_CLOEXEC); /* mode 0600 */
    if (o->fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        cli_out_abort(o);
        return cli_fail(CLI_EXIT_USAGE, "cannot create a temporary file next to \"%s\": %s", path,
                        strerror(e));
    }
    memcpy(tmp_for_signal, o->tmp, strlen(o->tmp) + 1);
    tmp_live = 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, on_signal);
    return CLI_EXIT_OK;
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
    }
    return o->failed;
}

int cli_out_commit(cli_out *o)
{
    if (o->is_stdout)
        return o->failed ? CLI_EXIT_INTERNAL : CLI_EXIT_OK;
    if (o->failed || fsync(o->fd) != 0 || close(o->fd) != 0) {
        o->fd = -1;
        cli_out_abort(o);
        return cli_fail(CLI_EXIT_INTERNAL, "cannot write \"%s\"", o->path);
    }
    o->fd = -1;
    /* Without --force, publish only if the name is still free: a file made
     * at OUT since cli_out_open is not replaced (no check-then-rename race). */
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
    if (r != 0) {
        int e = errno;
        cli_out_abort(o);
        if (e == EEXIST)
            return cli_fail(CLI_EXIT_USAGE, "\"%s\" appeared while writing; use --force to replace it",
                            o->path);
        return cli_fail(CLI_EXIT_INTERNAL, "cannot rename to \"%s\": %s", o->path, strerror(e));
    }
    tmp_live = 0;
    /* Make the rename itself durable. */
    char *d = strdup(o->path);
    if (d != NULL) {
        int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(d);
    }
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return CLI_EXIT_OK;
}

void cli_out_abort(cli_out *o)
{
    if (o->is_stdout)
        return;
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    if (o->tmp != NULL)
        (void)unlink(o->tmp);
    tmp_live = 0;
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(cli_progress *p, const cli_common *c, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    /* Only for a person watching: a terminal on stderr, a big input. */
    p->on = !c->quiet && isatty(STDERR_FILENO) && (total == 0 || total > CLI_PROGRESS_MIN);
    p->total = total;
    p->start = p->last = now();
}

static void draw(cli_progress *p)
{
    double el = now() - p->start;
    double rate = el > 0 ? (double)p->done / el / 1048576.0 : 0;
    if (p->total > 0) {
        int pct = (int)(p->done * 100 / p->total), bars = pct * 30 / 100;
        fprintf(stderr, "\r[%.*s%*s] %3d%% %8.1f MiB/s", bars, "##############################",
                30 - bars, "", pct, rate);
    } else {
        fprintf(stderr, "\r%10.1f MiB %8.1f MiB/s", (double)p->done / 1048576.0, rate);
    }
}

void cli_progress_add(cli_progress *p, uint64_t n)
{
    p->done += n;
    if (!p->on || (p->total == 0 && p->done < CLI_PROGRESS_MIN))
        return;
    double t = now();
    if (t - p->last < 0.1)
        return;
    p->last = t;
    draw(p);
}

void cli_progress_end(cli_progress *p)
{
    if (p->on && (p->total > 0 || p->done >= CLI_PROGRESS_MIN)) {
        draw(p);
        fputc('\n', stderr);
    }
}

int cli_parse_size(const char *s, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-')
        return 0;
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    if (*end == 'i' && (end[1] == 'B' || end[1] == 'b'))
        end += 2;
    if (*end != '\0' || v > SIZE_MAX / mul)
        return 0;
    *out = (size_t)(v * mul);
    return 1;
}

int cli_open_keks(envelope_lib *lib, char **uris, size_t n, envelope_kek **keks)
{
    for (size_t i = 0; i < n; i++) {
        envelope_err err = { 0 };
        if (envelope_kek_open(lib, uris[i], &keks[i], &err) != ENVELOPE_OK) {
            cli_free_keks(keks, i);
            return cli_report(&err);
        }
    }
    return CLI_EXIT_OK;
}

int cli_pump(cli_common *c, cli_in *in, cli_update_fn update, cli_final_fn final, void *obj)
{
    envelope_err err = { 0 };
    cli_progress prog;
    cli_progress_start(&prog, c, in->size);
    for (;;) {
        long n = cli_in_read(in);
        if (n < 0)
            return CLI_EXIT_INTERNAL;
        if (n == 0)
            break;
        if (update(obj, in->buf, (size_t)n, &err) != ENVELOPE_OK)
            return cli_report(&err);
        cli_progress_add(&prog, (uint64_t)n);
    }
    if (final(obj, &err) != ENVELOPE_OK)
        return cli_report(&err);
    cli_progress_end(&prog);
    return CLI_EXIT_OK;
}

int cli_context_from_pairs(char **pairs, size_t n, envelope_context **out)
{
    envelope_err err = { 0 };
    *out = NULL;
    if (envelope_context_new(out, &err) != ENVELOPE_OK)
        return cli_report(&err);
    for (size_t i = 0; i < n; i++)
        if (envelope_context_add_kv(*out, pairs[i], &err) != ENVELOPE_OK) {
            envelope_context_free(*out);
            *out = NULL;
            return cli_report(&err);
        }
    return CLI_EXIT_OK;
}

void cli_free_keks(envelope_kek **keks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        envelope_kek_free(keks[i]);
        keks[i] = NULL;
    }
}

void cli_hex(FILE *f, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
}
