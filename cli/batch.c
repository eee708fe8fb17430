/*
 * batch.c - several inputs in one run: `envelope encrypt -o DIR FILE...`
 * and `envelope decrypt -o DIR FILE...`. The library, the context and the
 * KEKs are opened once for the whole batch (one backend open, not one per
 * file); each FILE then gets its own streaming object and its own output
 * DIR/NAME, written exactly as a single -o OUT is (cli/out.c: it appears
 * only when complete). Output names: FILE's base name plus ".env"
 * (encrypt), minus ".env" (decrypt, which refuses other names); two
 * inputs with the same output name are refused before anything is done.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define ENV_SUFFIX ".env"

int cli_is_dir(const char *path)
{
    struct stat st;
    return path != NULL && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* DIR/NAME for input in, or NULL (reported) if it has no such name. */
static char *out_name(const cli_batch_spec *b, const char *dir, const char *in)
{
    char *copy = strdup(in);
    if (copy == NULL) {
        cli_fail(CLI_EXIT_INTERNAL, "out of memory");
        return NULL;
    }
    const char *base = basename(copy);
    size_t bl = strlen(base), sl = strlen(ENV_SUFFIX);
    if (!b->encrypt && (bl <= sl || strcmp(base + bl - sl, ENV_SUFFIX) != 0)) {
        free(copy);
        cli_fail(CLI_EXIT_USAGE,
                 "\"%s\" does not end in %s, so its output has no name; decrypt "
                 "it alone with -o OUT",
                 in, ENV_SUFFIX);
        return NULL;
    }
    size_t keep = b->encrypt ? bl : bl - sl;
    size_t n = strlen(dir) + 1 + keep + (b->encrypt ? sl : 0) + 1;
    char *out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%s/%.*s%s", dir, (int)keep, base, b->encrypt ? ENV_SUFFIX : "");
    else
        cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    free(copy);
    return out;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Every output name, or NULL (reported) if one is missing or two clash. */
static char **plan_names(const cli_batch_spec *b, const char *cmd, const char *dir, char **inputs,
                         int n)
{
    char **names = calloc((size_t)n, sizeof(*names));
    if (names == NULL) {
        cli_fail(CLI_EXIT_INTERNAL, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(inputs[i], "-") == 0) {
            cli_usage(cmd, "stdin cannot be one of several inputs");
            free_names(names, i);
            return NULL;
        }
        if ((names[i] = out_name(b, dir, inputs[i])) == NULL) {
            free_names(names, i);
            return NULL;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) {
                cli_usage(cmd, "\"%s\" and \"%s\" would both be written to \"%s\"", inputs[j],
                          inputs[i], names[i]);
                free_names(names, i + 1);
                return NULL;
            }
    }
    return names;
}

/* One input: its own streaming object, its own OUT. */
static int one(const cli_batch_spec *b, cli_stream *s, cli_common *c, const char *in_path,
               const char *out_path)
{
    envelope_err err = {0};
    envelope_status st = ENVELOPE_OK;
    void *obj = NULL;
    cli_progress prog;
    int rc = cli_in_open(&s->in, in_path);
    if (rc == CLI_EXIT_OK &&
        (rc = cli_out_open(&s->out, out_path, c->force, &s->in)) == CLI_EXIT_OK)
        s->out_open = 1;
    if (rc == CLI_EXIT_OK && b->make(s, &obj, &err) != ENVELOPE_OK)
        rc = cli_report_file(in_path, &err);
    if (rc == CLI_EXIT_OK) {
        cli_progress_start(&prog, c, s->in.size);
        rc = cli_feed(&s->in, b->update, obj, &prog, &st, &err);
        if (rc == CLI_EXIT_OK && st == ENVELOPE_OK && b->final(obj, &err) != ENVELOPE_OK)
            st = err.code;
        if (rc == CLI_EXIT_OK && st != ENVELOPE_OK)
            rc = cli_report_file(in_path, &err);
        cli_progress_end(&prog);
    }
    b->drop(obj);
    if (rc == CLI_EXIT_OK) {
        s->out_open = 0;
        rc = cli_out_commit(&s->out);
    }
    if (s->out_open)
        cli_out_abort(&s->out);
    s->out_open = 0;
    cli_in_close(&s->in);
    return rc;
}

int cli_batch_run(const cli_batch_spec *b, cli_stream *s, cli_common *c, char **inputs, int n)
{
    const char *cmd = b->encrypt ? "encrypt" : "decrypt";
    if (s->out_path == NULL || !cli_is_dir(s->out_path))
        return cli_usage(cmd, "several inputs need -o DIR, an existing folder (got %s)",
                         s->out_path ? s->out_path : "no -o");
    char **names = plan_names(b, cmd, s->out_path, inputs, n);
    if (names == NULL)
        return CLI_EXIT_USAGE;
    int rc = cli_stream_open_shared(s, c);
    cli_batch sum = {0};
    for (int i = 0; rc == CLI_EXIT_OK && i < n; i++) {
        int frc = one(b, s, c, inputs[i], names[i]);
        if (frc != CLI_EXIT_OK) {
            sum.failed++;
            if (sum.rc == CLI_EXIT_OK)
                sum.rc = frc;
            continue;
        }
        sum.done++;
        if (!c->quiet) {
            cli_text_str(stdout, inputs[i]);
            fputs(" -> ", stdout);
            cli_text_str(stdout, names[i]);
            putchar('\n');
            fflush(stdout);
        }
    }
    if (rc == CLI_EXIT_OK) {
        fprintf(stderr, "envelope %s: %zu written, %zu failed\n", cmd, sum.done, sum.failed);
        rc = sum.rc;
    }
    free_names(names, n);
    return rc;
}
