/*
 * io.c - the CLI's input (bounded reads into one buffer, wiped at close),
 * the progress bar, and the streaming pass shared by encrypt and decrypt.
 * The output file is out.c.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
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
