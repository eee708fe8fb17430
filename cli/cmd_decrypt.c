/*
 * cmd_decrypt.c - `envelope decrypt`: plaintext leaves the library only
 * frame by verified frame; with -o the output file appears only if the
 * whole message verified (an unnamed file, named on success: cli/out.c).
 * On stdout a failure after some frames leaves those verified frames
 * written: the exit status says the stream is incomplete.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: envelope decrypt [--kek URI]... [--context KEY=VALUE]... [-o OUT]\n"
            "                        [--force] [--quiet] [--config FILE] [IN]\n"
            "\n"
            "Decrypts IN (default stdin) to OUT (default stdout).\n"
            "  --kek URI           use only these KEKs (repeat). Without --kek, the pkcs11: and\n"
            "                      tpm2: references recorded in the message are\n"
            "                      opened; file: KEKs and references carrying module or PIN\n"
            "                      attributes must be named with --kek\n"
            "  --context K=V       require this pair in the message's context (repeat)\n"
            "  -o, --output OUT    write to OUT only if the whole message verifies\n"
            "  --force             replace OUT if it exists\n"
            "  --quiet             no progress bar\n"
            "  --config FILE       OpenSSL configuration to use instead of OPENSSL_CONF\n"
            "exit: 0 ok, 1 usage, 2 authentication/format, 3 backend unavailable, 4 policy\n");
}

/* Adapters to cli_pump's callback types. */
static envelope_status decryptor_update(void *o, const uint8_t *b, size_t n, envelope_err *e)
{
    return envelope_decryptor_update(o, b, n, e);
}

static envelope_status decryptor_final(void *o, envelope_err *e)
{
    return envelope_decryptor_final(o, e);
}

int cmd_decrypt(int argc, char **argv, cli_common *c)
{
    static const struct option opts[] = {
        { "kek", required_argument, NULL, 'k' },    { "context", required_argument, NULL, 'x' },
        { "output", required_argument, NULL, 'o' }, { "force", no_argument, NULL, 'F' },
        { "quiet", no_argument, NULL, 'q' },        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 }
    };
    char *uris[ENVELOPE_MAX_EDKS + 1];
    char *pairs[ENVELOPE_MAX_CONTEXT_PAIRS + 1];
    size_t nk = 0, np = 0;
    const char *out_path = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            if (nk == ENVELOPE_MAX_EDKS)
                return cli_fail(CLI_EXIT_USAGE, "at most %d --kek", ENVELOPE_MAX_EDKS);
            uris[nk++] = optarg;
            break;
        case 'x':
            if (np == ENVELOPE_MAX_CONTEXT_PAIRS)
                return cli_fail(CLI_EXIT_USAGE, "at most %d --context", ENVELOPE_MAX_CONTEXT_PAIRS);
            pairs[np++] = optarg;
            break;
        case 'o': out_path = optarg; break;
        case 'F': c->force = 1; break;
        case 'q': c->quiet = 1; break;
        case 'c': c->config = optarg; break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default: help(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind > 1)
        return cli_fail(CLI_EXIT_USAGE, "decrypt takes one input (got %d)", argc - optind);
    const char *in_path = optind < argc ? argv[optind] : NULL;

    envelope_lib *lib = NULL;
    envelope_kek *keks[ENVELOPE_MAX_EDKS] = { 0 };
    envelope_context *ctx = NULL;
    envelope_decryptor *dec = NULL;
    envelope_err err = { 0 };
    cli_in in = { .fd = -1 };
    cli_out out = { .fd = -1 };
    int rc = cli_lib_open(c, &lib), have_out = 0;
    if (rc != CLI_EXIT_OK)
        goto done;
    if ((rc = cli_context_from_pairs(pairs, np, &ctx)) != CLI_EXIT_OK)
        goto done;
    if ((rc = cli_open_keks(lib, uris, nk, keks)) != CLI_EXIT_OK)
        goto done;
    if ((rc = cli_in_open(&in, in_path)) != CLI_EXIT_OK)
        goto done;
    if ((rc = cli_out_open(&out, out_path, c->force, &in)) != CLI_EXIT_OK)
        goto done;
    have_out = 1;
    envelope_decrypt_opts o = { keks, nk, ctx };
    if (envelope_decryptor_new(lib, &o, cli_out_sink, &out, &dec, &err) != ENVELOPE_OK) {
        rc = cli_report(&err);
        goto done;
    }
    if ((rc = cli_pump(c, &in, decryptor_update, decryptor_final, dec)) != CLI_EXIT_OK)
        goto done;
    rc = cli_out_commit(&out);
    have_out = 0;
done:
    if (have_out)
        cli_out_abort(&out);
    envelope_decryptor_free(dec);
    cli_in_close(&in);
    cli_free_keks(keks, nk);
    envelope_context_free(ctx);
    cli_lib_close(lib);
    return rc;
}
