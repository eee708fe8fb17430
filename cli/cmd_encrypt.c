/*
 * cmd_encrypt.c - `envelope encrypt`: a fresh DEK per message, wrapped for
 * every --kek, the input streamed through in constant memory.
 */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(
        f,
        "usage: envelope encrypt --kek URI [--kek URI]... [--context KEY=VALUE]...\n"
        "                        [--kek-policy all|any] [--frame-size N] [--threads N] [-o OUT]\n"
        "                        [--force] [--quiet] [--config FILE] [IN]\n"
        "       envelope encrypt --kek URI... [OPTIONS] -o DIR FILE...\n"
        "\n"
        "Encrypts IN (default stdin) to OUT (default stdout) under a fresh AES-256 DEK\n"
        "wrapped by each KEK (1..16). A KEK is any URI OpenSSL's OSSL_STORE opens:\n"
        "pkcs11: and tpm2: keys of the envelope provider (KMS keys are pkcs11: keys of the\n"
        "KMS bridge module), or an RSA key (file:).\n"
        "  --kek URI           a KEK; repeat for several (any one can decrypt)\n"
        "  --kek-policy all    every KEK must wrap the DEK, or nothing is written (default)\n"
        "  --kek-policy any    leave out a KEK whose home is unreachable (exit-3 failures\n"
        "                      only) if another wrapped it; the header records it\n"
        "  --context K=V       encryption context pair, bound to the message; repeat\n"
        "  --frame-size N      bytes per frame, 4K..16M (default 64K); K/M suffixes\n"
        "  --threads N         seal frames on N threads, 1..64 (default: the online CPUs);\n"
        "                      the output is the same bytes whatever N\n"
        "  -o, --output OUT    write to OUT only on success (unnamed file, linked at the end)\n"
        "  -o DIR FILE...      several inputs (or -o an existing folder): DIR/FILE.env each,\n"
        "                      the KEKs opened once; a summary; exit status of the first failure\n"
        "  --force             replace OUT if it exists\n"
        "  --quiet             no progress bar\n"
        "  --config FILE       OpenSSL configuration to use instead of OPENSSL_CONF\n");
}

/* Adapters to cli_stream_run's callback types. */
static envelope_status encryptor_update(void *o, const uint8_t *b, size_t n, envelope_err *e)
{
    return envelope_encryptor_update(o, b, n, e);
}

static envelope_status encryptor_final(void *o, envelope_err *e)
{
    return envelope_encryptor_final(o, e);
}

static envelope_status encryptor_buffer(void *o, uint8_t **b, size_t *n, envelope_err *e)
{
    return envelope_encryptor_buffer(o, b, n, e);
}

/* The encryptor for s's KEKs; under --kek-policy any, a warning for each
 * KEK whose home failed at wrap time. */
static envelope_status encryptor_open(cli_stream *s, envelope_encryptor **enc, envelope_err *e)
{
    uint32_t skipped = 0;
    envelope_encrypt_opts o = {.struct_size = sizeof(o),
                               .keks = s->keks,
                               .nkeks = s->nkeks,
                               .context = s->ctx,
                               .frame_size = s->frame_size,
                               .kek_policy = s->kek_policy,
                               .skipped = &skipped,
                               .threads = s->threads};
    envelope_status st = envelope_encryptor_new(s->lib, &o, cli_out_sink, &s->out, enc, e);
    for (size_t i = 0; st == ENVELOPE_OK && i < s->nkeks; i++)
        if (skipped & (UINT32_C(1) << i)) {
            envelope_err why = {ENVELOPE_ERR_BACKEND, "its home failed while wrapping the DEK"};
            cli_warn_left_out(envelope_kek_reference(s->keks[i]), &why);
        }
    return st;
}

/* For a batch (cli/batch.c): one encryptor per input. */
static envelope_status encryptor_make(cli_stream *s, void **obj, envelope_err *e)
{
    envelope_encryptor *enc = NULL;
    envelope_status st = encryptor_open(s, &enc, e);
    *obj = enc;
    return st;
}

static void encryptor_drop(void *o)
{
    envelope_encryptor_free(o);
}

int cmd_encrypt(int argc, char **argv, cli_common *c)
{
    static const struct option opts[] = {{"kek", required_argument, NULL, 'k'},
                                         {"context", required_argument, NULL, 'x'},
                                         {"frame-size", required_argument, NULL, 'f'},
                                         {"kek-policy", required_argument, NULL, 'P'},
                                         {"threads", required_argument, NULL, 'T'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'F'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    cli_stream s;
    size_t fs = 0;
    int ch, rc;
    cli_stream_init(&s);
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (!cli_parse_size(optarg, &fs) || fs < ENVELOPE_FRAME_SIZE_MIN ||
                fs > ENVELOPE_FRAME_SIZE_MAX)
                return cli_usage("encrypt", "--frame-size must be 4K..16M, got \"%s\"", optarg);
            break;
        case 'P':
            if (strcmp(optarg, "all") == 0)
                s.kek_policy = ENVELOPE_KEK_POLICY_ALL;
            else if (strcmp(optarg, "any") == 0)
                s.kek_policy = ENVELOPE_KEK_POLICY_ANY;
            else
                return cli_usage("encrypt", "--kek-policy must be all or any, got \"%s\"", optarg);
            break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default:
            if ((rc = cli_stream_option(&s, c, ch, optarg, "encrypt")) != CLI_EXIT_OK)
                return rc;
        }
    }
    if (s.nk == 0)
        return cli_usage("encrypt", "encrypt needs at least one --kek");
    if ((rc = cli_stream_operands(&s, "encrypt", argc - optind, argv + optind)) != CLI_EXIT_OK)
        return rc;
    s.frame_size = fs;
    if (cli_stream_is_batch(&s)) {
        static const cli_batch_spec spec = {1, encryptor_make, encryptor_update, encryptor_final,
                                            encryptor_drop};
        rc = cli_batch_run(&spec, &s, c, s.inputs, s.ninputs);
        cli_stream_close(&s);
        return rc;
    }
    /* Binary on a terminal helps no one and can drive it (as age refuses). */
    if (s.out_path == NULL && isatty(STDOUT_FILENO))
        return cli_usage("encrypt",
                         "refusing to write ciphertext to a terminal: redirect it, or give -o FILE "
                         "(-o - writes it here anyway)");

    envelope_encryptor *enc = NULL;
    envelope_err err = {0};
    if ((rc = cli_stream_open(&s, c)) == CLI_EXIT_OK) {
        if (encryptor_open(&s, &enc, &err) != ENVELOPE_OK)
            rc = cli_report(&err);
        else
            rc = cli_stream_run_lent(&s, c, encryptor_buffer, encryptor_update, encryptor_final,
                                     enc);
    }
    envelope_encryptor_free(enc);
    cli_stream_close(&s);
    return rc;
}
