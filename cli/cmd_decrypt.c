/*
 * cmd_decrypt.c - `envelope decrypt`: plaintext leaves the library only
 * frame by verified frame; with -o the output file appears only if the
 * whole message verified (an unnamed file, named on success: cli/out.c).
 * On stdout a failure after some frames leaves those verified frames
 * written: the exit status says the stream is incomplete.
 */
#include <getopt.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f, "usage: envelope decrypt [--kek URI]... [--context KEY=VALUE]... [-o OUT]\n"
               "                        [--threads N] [--force] [--quiet] [--config FILE] [IN]\n"
               "       envelope decrypt [--kek URI]... [OPTIONS] -o DIR FILE.env...\n"
               "\n"
               "Decrypts IN (default stdin) to OUT (default stdout).\n"
               "  --kek URI           use only these KEKs (repeat; alias:NAME is every version of\n"
               "                      the provider's kek.NAME). Without --kek, the pkcs11: and\n"
               "                      tpm2: references recorded in the message are\n"
               "                      opened; file: KEKs and references carrying module or PIN\n"
               "                      attributes must be named with --kek\n"
               "  --context K=V       require this pair in the message's context (repeat)\n"
               "  -o, --output OUT    write to OUT only if the whole message verifies\n"
               "  --threads N         open frames on N threads, 1..64 (default: the online\n"
               "                      CPUs); each frame is still written only after it and\n"
               "                      every frame before it verified\n"
               "  -o DIR FILE.env...  several inputs (or -o an existing folder): DIR/FILE each,\n"
               "                      each only if it verifies; a summary; exit status of the\n"
               "                      first failure\n"
               "  --force             replace OUT if it exists\n"
               "  --quiet             no progress bar\n"
               "  --allow-retired     let --kek KEKs that openssl.cnf lists as retired\n"
               "                      (kek.NAME.retired) unwrap; each use is logged (syslog)\n"
               "  --stats             at the end, the envelope provider's unwrap-cache counters\n"
               "                      (hits, misses, backend calls, ...) on stderr\n"
               "  --config FILE       OpenSSL configuration to use instead of OPENSSL_CONF\n"
               "exit: 0 ok, 1 usage, 2 authentication/format, 3 backend unavailable, 4 policy\n");
}

/* Adapters to cli_stream_run's callback types. */
static envelope_status decryptor_update(void *o, const uint8_t *b, size_t n, envelope_err *e)
{
    return envelope_decryptor_update(o, b, n, e);
}

static envelope_status decryptor_final(void *o, envelope_err *e)
{
    return envelope_decryptor_final(o, e);
}

static envelope_status decryptor_buffer(void *o, uint8_t **b, size_t *n, envelope_err *e)
{
    return envelope_decryptor_buffer(o, b, n, e);
}

/* For a batch (cli/batch.c): one decryptor per input. */
static envelope_status decryptor_make(cli_stream *s, void **obj, envelope_err *e)
{
    envelope_decrypt_opts o = {.struct_size = sizeof(o),
                               .keks = s->keks,
                               .nkeks = s->nkeks,
                               .expected = s->ctx,
                               .flags = s->ctx ? 0u : ENVELOPE_DECRYPT_ANY_CONTEXT,
                               .threads = s->threads};
    envelope_decryptor *dec = NULL;
    envelope_status st = envelope_decryptor_new(s->lib, &o, cli_out_sink, &s->out, &dec, e);
    *obj = dec;
    return st;
}

static void decryptor_drop(void *o)
{
    envelope_decryptor_free(o);
}

int cmd_decrypt(int argc, char **argv, cli_common *c)
{
    static const struct option opts[] = {{"kek", required_argument, NULL, 'k'},
                                         {"context", required_argument, NULL, 'x'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'F'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"stats", no_argument, NULL, 'S'},
                                         {"allow-retired", no_argument, NULL, 'R'},
                                         {"threads", required_argument, NULL, 'T'},
                                         {NULL, 0, NULL, 0}};
    cli_stream s;
    int ch, rc, want_stats = 0;
    cli_stream_init(&s);
    s.expand_aliases = 1; /* --kek alias:NAME: every version of NAME may decrypt */
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': help(stdout); return CLI_EXIT_OK;
        case 'S': want_stats = 1; break;
        case 'R': s.allow_retired = 1; break;
        default:
            if ((rc = cli_stream_option(&s, c, ch, optarg, "decrypt")) != CLI_EXIT_OK)
                return rc;
        }
    }
    if ((rc = cli_stream_operands(&s, "decrypt", argc - optind, argv + optind)) != CLI_EXIT_OK)
        return rc;
    if (cli_stream_is_batch(&s)) {
        static const cli_batch_spec spec = {0, decryptor_make, decryptor_update, decryptor_final,
                                            decryptor_drop};
        rc = cli_batch_run(&spec, &s, c, s.inputs, s.ninputs);
        cli_stream_close(&s);
        return rc;
    }

    envelope_decryptor *dec = NULL;
    envelope_err err = {0};
    if ((rc = cli_stream_open(&s, c)) == CLI_EXIT_OK) {
        envelope_decrypt_opts o = {.struct_size = sizeof(o),
                                   .keks = s.keks,
                                   .nkeks = s.nkeks,
                                   .expected = s.ctx,
                                   .flags = s.ctx ? 0u : ENVELOPE_DECRYPT_ANY_CONTEXT,
                                   .threads = s.threads};
        if (envelope_decryptor_new(s.lib, &o, cli_out_sink, &s.out, &dec, &err) != ENVELOPE_OK)
            rc = cli_report(&err);
        else
            rc = cli_stream_run_lent(&s, c, decryptor_buffer, decryptor_update, decryptor_final,
                                     dec);
        if (want_stats)
            cli_print_stats();
    }
    envelope_decryptor_free(dec);
    cli_stream_close(&s);
    return rc;
}
