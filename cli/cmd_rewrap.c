/*
 * cmd_rewrap.c - `envelope rewrap`: KEK rotation without touching the
 * data. Each message gets EDKs for the --to KEKs (and, with --remove-old,
 * loses those of the --from KEKs); its authenticated header and its frames
 * are copied byte for byte (envelope_rewrap_header). Each file is replaced
 * atomically (cli/replace.c), so a run killed at any point leaves every
 * file either as it was or rewrapped, and a rerun skips the rewrapped ones
 * without a backend call. The KEKs are opened once for the whole run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: envelope rewrap --from URI [--from URI]... --to URI [--to URI]...\n"
            "                       [--remove-old] [--dry-run] [--quiet] [--config FILE]\n"
            "                       FILE|DIR...\n"
            "\n"
            "Gives each message an EDK for every --to KEK, unwrapping its DEK with a --from\n"
            "KEK; the authenticated header and the encrypted body are not changed. Folders\n"
            "are walked recursively (regular files; symbolic links are not followed; files\n"
            "that are not envelope messages are skipped). Each file is replaced atomically\n"
            "with its owner and mode; a file that already has an EDK for every --to KEK (and,\n"
            "with --remove-old, none for a --from KEK) is skipped, so a rerun after an\n"
            "interruption finishes the job. Only the header is checked: decrypt checks the body.\n"
            "  --from URI          a KEK that can unwrap the messages' DEK (repeat)\n"
            "  --to URI            a KEK to add (repeat)\n"
            "  --remove-old        drop the --from KEKs' EDKs (they can no longer decrypt)\n"
            "  --dry-run           unwrap and check, say what would change, change nothing\n"
            "  --quiet             only failures and the summary\n"
            "  --config FILE       OpenSSL configuration to use instead of OPENSSL_CONF\n"
            "exit: 0 all done, else the code of the first file that failed (envelope(1))\n");
}

typedef struct rewrap_run {
    envelope_lib *lib;
    char *from_uris[ENVELOPE_MAX_EDKS], *to_uris[ENVELOPE_MAX_EDKS];
    envelope_kek *from[ENVELOPE_MAX_EDKS], *to[ENVELOPE_MAX_EDKS];
    size_t nfrom, nto;
    int remove_old, dry_run, quiet;
    uint8_t *buf; /* CLI_CHUNK */
    cli_batch b;
} rewrap_run;

static void say(const rewrap_run *w, const char *what, const char *path,
                const envelope_rewrap_result *r)
{
    if (w->quiet)
        return;
    printf("%s ", what);
    cli_text_str(stdout, path);
    if (r != NULL)
        printf(" (+%zu EDK, -%zu EDK)", r->edks_added, r->edks_removed);
    putchar('\n');
    fflush(stdout); /* a watcher (or a test) sees progress as it happens */
}

/* Reads up to CLI_CHUNK bytes from the start: the whole header fits. */
static long read_start(int fd, uint8_t *buf, const char *path)
{
    size_t got = 0;
    while (got < CLI_CHUNK) {
        ssize_t n = read(fd, buf + got, CLI_CHUNK - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_fail(CLI_EXIT_INTERNAL, "reading \"%s\": %s", path, strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (long)got;
}

/* The new header, then the old body: what follows the old header in the
 * buffer, then the rest of the file, unchanged. */
static int write_new(rewrap_run *w, const char *path, int fd, size_t have,
                     const envelope_rewrap_result *r)
{
    cli_replace rp;
    int rc = cli_replace_begin(&rp, path, fd);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cli_out_sink(&rp.out, r->header, r->header_len) == 0 &&
        cli_out_sink(&rp.out, w->buf + r->old_header_len, have - r->old_header_len) == 0) {
        for (;;) {
            ssize_t n = read(fd, w->buf, CLI_CHUNK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                int e = errno;
                cli_replace_abort(&rp);
                return cli_fail(CLI_EXIT_INTERNAL, "reading \"%s\": %s", path, strerror(e));
            }
            if (n == 0 || cli_out_sink(&rp.out, w->buf, (size_t)n) != 0)
                break;
        }
    }
    return cli_replace_commit(&rp); /* drops the new file if a write failed */
}

static int rewrap_file(void *arg, const char *path, int named)
{
    rewrap_run *w = arg;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(CLI_EXIT_USAGE, "cannot open \"%s\": %s", path, strerror(errno));
    long have = read_start(fd, w->buf, path);
    int rc = have < 0 ? CLI_EXIT_INTERNAL : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK && !named && (have < 4 || memcmp(w->buf, "ENVL", 4) != 0)) {
        w->b.skipped++; /* found in a folder: not every file there is a message */
        close(fd);
        return CLI_EXIT_OK;
    }
    envelope_rewrap_opts o = {.struct_size = sizeof(o),
                              .from = w->from,
                              .nfrom = w->nfrom,
                              .to = w->to,
                              .nto = w->nto,
                              .remove_old = w->remove_old,
                              .dry_run = w->dry_run};
    envelope_rewrap_result r;
    envelope_err err = {0};
    if (rc == CLI_EXIT_OK &&
        envelope_rewrap_header(w->lib, &o, w->buf, (size_t)have, &r, &err) != ENVELOPE_OK)
        rc = cli_report_file(path, &err); /* the file is untouched */
    if (rc == CLI_EXIT_OK) {
        if (r.already_done) {
            w->b.already++;
            say(w, "already rewrapped:", path, NULL);
        } else if (w->dry_run) {
            w->b.done++;
            say(w, "would rewrap:", path, &r);
        } else if ((rc = write_new(w, path, fd, (size_t)have, &r)) == CLI_EXIT_OK) {
            w->b.done++;
            say(w, "rewrapped:", path, &r);
        }
        envelope_buffer_free(r.header, r.header_len);
    }
    close(fd);
    return rc;
}

static int parse(rewrap_run *w, cli_common *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
        {"remove-old", no_argument, NULL, 'r'}, {"dry-run", no_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},      {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
        case 't': {
            size_t *n = ch == 'f' ? &w->nfrom : &w->nto;
            if (*n == ENVELOPE_MAX_EDKS)
                return cli_usage("rewrap", "at most %d --%s", ENVELOPE_MAX_EDKS,
                                 ch == 'f' ? "from" : "to");
            (ch == 'f' ? w->from_uris : w->to_uris)[(*n)++] = optarg;
            break;
        }
        case 'r': w->remove_old = 1; break;
        case 'n': w->dry_run = 1; break;
        case 'h': help(stdout); return -1;
        default:
            if (!cli_common_option(c, ch, optarg))
                return cli_usage_hint("rewrap"); /* getopt_long has said which option */
        }
    }
    w->quiet = c->quiet;
    if (w->nfrom == 0)
        return cli_usage("rewrap", "rewrap needs --from URI (the KEK that unwraps the DEK now)");
    if (w->nto == 0)
        return cli_usage("rewrap", "rewrap needs --to URI (the KEK to wrap the DEK for)");
    if (optind >= argc)
        return cli_usage("rewrap", "rewrap needs at least one FILE or DIR");
    return CLI_EXIT_OK;
}

/* --from alias:NAME opens every version of NAME: data made under any of
 * them is rewrapped (or re-encrypted) from it. */
static int cli_open_from(rewrap_run *w)
{
    size_t opened = 0;
    int rc = cli_open_keks_ex(w->lib, w->from_uris, w->nfrom, w->from, &opened, 1, 0);
    w->nfrom = opened;
    return rc;
}

int cmd_rewrap(int argc, char **argv, cli_common *c)
{
    rewrap_run w;
    memset(&w, 0, sizeof(w));
    int rc = parse(&w, c, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((rc = cli_lib_open(c, &w.lib)) != CLI_EXIT_OK)
        return rc;
    if ((w.buf = OPENSSL_malloc(CLI_CHUNK)) == NULL)
        rc = cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    if (rc == CLI_EXIT_OK && (rc = cli_open_from(&w)) != CLI_EXIT_OK)
        w.nfrom = 0;
    if (rc == CLI_EXIT_OK && (rc = cli_open_keks(w.lib, w.to_uris, w.nto, w.to)) != CLI_EXIT_OK)
        w.nto = 0;
    if (rc == CLI_EXIT_OK) {
        cli_walk(argv + optind, argc - optind, rewrap_file, &w, &w.b);
        fprintf(stderr, "envelope rewrap: %zu %s, %zu already rewrapped, %zu skipped, %zu failed\n",
                w.b.done, w.dry_run ? "would be rewrapped" : "rewrapped", w.b.already, w.b.skipped,
                w.b.failed);
        rc = w.b.rc;
    }
    cli_free_keks(w.from, w.nfrom);
    cli_free_keks(w.to, w.nto);
    OPENSSL_free(w.buf);
    cli_lib_close(w.lib);
    return rc;
}
