/*
 * stream.c - what encrypt and decrypt share: their common options (--kek,
 * --context, -o, --force and the global ones), the one input operand,
 * the library, KEKs, context, IN and OUT opened from them, and the
 * streaming pass that commits OUT only when it succeeded.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_stream_init(cli_stream *s)
{
    memset(s, 0, sizeof(*s));
    s->in.fd = -1;
    s->out.fd = -1;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    s->threads = n < 1 ? 1 : n > CLI_MAX_THREADS ? CLI_MAX_THREADS : (size_t)n;
}

int cli_stream_option(cli_stream *s, cli_common *c, int ch, char *arg, const char *cmd)
{
    switch (ch) {
    case 'k':
        if (s->nk == ENVELOPE_MAX_EDKS)
            return cli_usage(cmd, "at most %d --kek", ENVELOPE_MAX_EDKS);
        s->uris[s->nk++] = arg;
        return CLI_EXIT_OK;
    case 'x':
        if (s->np == ENVELOPE_MAX_CONTEXT_PAIRS)
            return cli_usage(cmd, "at most %d --context", ENVELOPE_MAX_CONTEXT_PAIRS);
        s->pairs[s->np++] = arg;
        return CLI_EXIT_OK;
    case 'o': s->out_path = arg; return CLI_EXIT_OK;
    case 'T': {
        char *end = NULL;
        unsigned long v = strtoul(arg, &end, 10);
        if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || v < 1 || v > CLI_MAX_THREADS)
            return cli_usage(cmd, "--threads must be 1..%d, got \"%s\"", CLI_MAX_THREADS, arg);
        s->threads = (size_t)v;
        return CLI_EXIT_OK;
    }
    case 'F': c->force = 1; return CLI_EXIT_OK;
    default:
        if (cli_common_option(c, ch, arg))
            return CLI_EXIT_OK;
        return cli_usage_hint(cmd); /* getopt_long has said which option */
    }
}

int cli_stream_operands(cli_stream *s, const char *cmd, int n, char **operands)
{
    (void)cmd;
    s->inputs = operands;
    s->ninputs = n;
    s->in_path = n == 1 ? operands[0] : NULL;
    return CLI_EXIT_OK;
}

int cli_stream_is_batch(const cli_stream *s)
{
    return s->ninputs > 1 || (s->ninputs == 1 && cli_is_dir(s->out_path));
}

int cli_stream_open_shared(cli_stream *s, cli_common *c)
{
    int rc = cli_lib_open(c, &s->lib);
    if (rc != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_context_from_pairs(s->pairs, s->np, &s->ctx)) != CLI_EXIT_OK)
        return rc;
    if (s->kek_policy == ENVELOPE_KEK_POLICY_ANY)
        rc = cli_open_keks_any(s->lib, s->uris, s->nk, s->keks, &s->nkeks);
    else
        rc = cli_open_keks_ex(s->lib, s->uris, s->nk, s->keks, &s->nkeks, s->expand_aliases,
                              s->allow_retired);
    if (rc != CLI_EXIT_OK)
        s->nk = 0; /* cli_open_keks_ex freed those it opened */
    return rc;
}

int cli_stream_open(cli_stream *s, cli_common *c)
{
    int rc = cli_stream_open_shared(s, c);
    if (rc != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_in_open(&s->in, s->in_path)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_out_open(&s->out, s->out_path, c->force, &s->in)) != CLI_EXIT_OK)
        return rc;
    s->out_open = 1;
    return CLI_EXIT_OK;
}

int cli_stream_run(cli_stream *s, cli_common *c, cli_update_fn update, cli_final_fn final,
                   void *obj)
{
    int rc = cli_pump(c, &s->in, update, final, obj);
    if (rc != CLI_EXIT_OK)
        return rc;   /* cli_stream_close drops OUT */
    s->out_open = 0; /* committed, or dropped by cli_out_commit if that failed */
    return cli_out_commit(&s->out);
}

int cli_stream_run_lent(cli_stream *s, cli_common *c, cli_buffer_fn buffer, cli_update_fn update,
                        cli_final_fn final, void *obj)
{
    int rc = cli_pump_lent(c, &s->in, buffer, update, final, obj);
    if (rc != CLI_EXIT_OK)
        return rc;
    s->out_open = 0;
    return cli_out_commit(&s->out);
}

void cli_stream_close(cli_stream *s)
{
    if (s->out_open)
        cli_out_abort(&s->out);
    s->out_open = 0;
    cli_in_close(&s->in);
    cli_free_keks(s->keks, s->nkeks);
    s->nkeks = 0;
    envelope_context_free(s->ctx);
    s->ctx = NULL;
    cli_lib_close(s->lib);
    s->lib = NULL;
}
