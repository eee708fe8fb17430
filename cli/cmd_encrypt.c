/*
 * cmd_encrypt.c - `envelope encrypt`: a fresh DEK per message, wrapped for
 * every --kek, the input streamed through in constant memory.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: envelope encrypt --kek URI [--kek URI]... [--context KEY=VALUE]...\n"
            "                        [--frame-size N] [-o OUT] [--force] [--quiet] [--config FILE] [IN]\n"
            "\n"
            "Encrypts IN (default stdin) to OUT (default stdout) under a fresh AES-256 DEK\n"
            "wrapped by each KEK (1..16). A KEK is any URI OpenSSL's OSSL_STORE opens:\n"
            "pkcs11:/tpm2:/kms: keys of the envelope provider, or an RSA key (file:).\n"
            "  --kek URI           a KEK; repeat for several (any one can decrypt)\n"
            "  --context K=V       encryption context pair, bound to the message; repeat\n"
            "  --frame-size N      bytes per frame, 4K..16M (default 64K); K/M suffixes\n"
            "  -o, --output OUT    write to OUT only on success (unnamed file, linked at the end)\n"
            "  --force             replace OUT if it exists\n"
            "  --quiet             no progress bar\n"
            "  --config FILE       OpenSSL configuration to use instead of OPENSSL_CONF\n");
}

/* Adapters to cli_pump's callback types. */
static envelope_status encryptor_update(void *o, const uint8_t *b, size_t n, envelope_err *e)
{
    return envelope_encryptor_update(o, b, n, e);
}

static envelope_status encryptor_final(void *o, envelope_err *e)
{
    return envelope_encryptor_final(o, e);
}

int cmd_encrypt(int argc, char **argv, cli_common *c)
{
    static const struct option opts[] = {
        { "kek", required_argument, NULL, 'k' },     { "context", required_argument, NULL, 'x' },
        { "frame-size", required_argument, NULL, 'f' }, { "output", required_argument, NULL, 'o' },
        { "force", no_argument, NULL, 'F' },         { "quiet", no_argument, NULL, 'q' },
        { "config", required_argument, NULL, 'c' },  { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char *uris[ENVELOPE_MAX_EDKS + 1];
    char *pairs[ENVELOPE_MAX_CONTEXT_PAIRS + 1];
    size_t nk = 0, np = 0, fs = 0;
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
        case 'f':
            if (!cli_parse_size(optarg, &fs) || fs < ENVELOPE_FRAME_SIZE_MIN ||
                fs > ENVELOPE_FRAME_SIZE_MAX)
                return cli_fail(CLI_EXIT_USAGE, "--frame-size must be 4K..16M, got \"%s\"", optarg);
            break;
        case 'o': out_path = optarg; break;
        case 'F': c->force = 1; break;
        case 'q': c->quiet = 1; break;
        case 'c': c->config = optarg; break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default: help(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (nk == 0) {
        help(stderr);
        return cli_fail(CLI_EXIT_USAGE, "encrypt needs at least one --kek");
    }
    if (argc - optind > 1)
        return cli_fail(CLI_EXIT_USAGE, "encrypt takes one input (got %d)", argc - optind);
    const char *in_path = optind < argc ? argv[optind] : NULL;

    envelope_lib *lib = NULL;
    envelope_kek *keks[ENVELOPE_MAX_EDKS] = { 0 };
    envelope_context *ctx = NULL;
    envelope_encryptor *enc = NULL;
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
    envelope_encrypt_opts o = { keks, nk, ctx, fs };
    if (envelope_encryptor_new(lib, &o, cli_out_sink, &out, &enc, &err) != ENVELOPE_OK) {
        rc = cli_report(&err);
        goto done;
    }
    if ((rc = cli_pump(c, &in, encryptor_update, encryptor_final, enc)) != CLI_EXIT_OK)
        goto done;
    rc = cli_out_commit(&out);
    have_out = 0;
done:
    if (have_out)
        cli_out_abort(&out);
    envelope_encryptor_free(enc);
    cli_in_close(&in);
    cli_free_keks(keks, nk);
    envelope_context_free(ctx);
    cli_lib_close(lib);
    return rc;
}
