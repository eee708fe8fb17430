/*
 * main.c - `envelope`: global options and dispatch to one file per
 * subcommand. OpenSSL's configuration (and so the envelope provider and
 * its PKCS#11 module) comes from OPENSSL_CONF, or --config FILE.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cli.h"
#include "secmem.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: envelope [--config FILE] [--quiet] COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "commands:\n"
            "  encrypt --kek URI [--kek URI]... [--context KEY=VALUE]... [--frame-size N] [-o OUT] [IN]\n"
            "  decrypt [--kek URI]... [--context KEY=VALUE]... [-o OUT] [IN]\n"
            "  inspect [--json] [IN]\n"
            "  kek create --type aes-256|rsa-3072 URI\n"
            "  kek list [URI]\n"
            "\n"
            "IN defaults to stdin and OUT to stdout. `envelope COMMAND --help` for details;\n"
            "man envelope(1) for exit codes and the message format.\n");
}

int cli_exit_for(envelope_status s)
{
    switch (envelope_status_category(s)) {
    case ENVELOPE_CAT_OK: return CLI_EXIT_OK;
    case ENVELOPE_CAT_USAGE: return CLI_EXIT_USAGE;
    case ENVELOPE_CAT_FORMAT:
    case ENVELOPE_CAT_AUTH: return CLI_EXIT_AUTH;
    case ENVELOPE_CAT_BACKEND: return CLI_EXIT_BACKEND;
    case ENVELOPE_CAT_POLICY: return CLI_EXIT_POLICY;
    default: return CLI_EXIT_INTERNAL;
    }
}

int cli_report(const envelope_err *err)
{
    if (err->code == ENVELOPE_ERR_OUTPUT)
        return CLI_EXIT_INTERNAL; /* the writer already said why */
    fprintf(stderr, "envelope: %s [%s]\n", err->message[0] ? err->message : "failed",
            envelope_status_name(err->code));
    return cli_exit_for(err->code);
}

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("envelope: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/*
 * The configuration is loaded explicitly, before any other OpenSSL call,
 * so that a broken or missing file named by --config or OPENSSL_CONF is
 * an error rather than a silent fallback to no provider.
 */
int cli_lib_open(const cli_common *c, envelope_lib **lib)
{
    const char *file = c->config ? c->config : getenv("OPENSSL_CONF");
    if (file != NULL) {
        FILE *f = fopen(file, "r");
        if (f == NULL)
            return cli_fail(CLI_EXIT_USAGE, "cannot read OpenSSL configuration \"%s\"", file);
        fclose(f);
        if (c->config)
            setenv("OPENSSL_CONF", c->config, 1); /* for anything that reads it again */
    }
    OPENSSL_INIT_SETTINGS *s = OPENSSL_INIT_new();
    if (s == NULL)
        return cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    if (file != NULL) {
        OPENSSL_INIT_set_config_filename(s, file);
        OPENSSL_INIT_set_config_file_flags(s, CONF_MFLAGS_DEFAULT_SECTION);
    } else {
        OPENSSL_INIT_set_config_file_flags(s, CONF_MFLAGS_DEFAULT_SECTION |
                                                  CONF_MFLAGS_IGNORE_MISSING_FILE);
    }
    int ok = OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, s);
    OPENSSL_INIT_free(s);
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        return cli_fail(CLI_EXIT_USAGE, "loading OpenSSL configuration \"%s\" failed: %s",
                        file ? file : "(default)", e ? ERR_reason_error_string(e) : "unknown");
    }
    envelope_err err = { 0 };
    if (envelope_lib_new(NULL, NULL, lib, &err) != ENVELOPE_OK)
        return cli_report(&err);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    cli_common c = { 0 };
    static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
                                          { "quiet", no_argument, NULL, 'q' },
                                          { "help", no_argument, NULL, 'h' },
                                          { "version", no_argument, NULL, 'V' },
                                          { NULL, 0, NULL, 0 } };
    int ch;
    envelope_secmem_harden_process();
    /* '+': stop at the subcommand; its options are its own. */
    while ((ch = getopt_long(argc, argv, "+c:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': c.config = optarg; break;
        case 'q': c.quiet = 1; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case 'V': printf("envelope 0.1.0 (message format v%d)\n", ENVELOPE_VERSION); return 0;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    char **sub = argv + optind;
    int subc = argc - optind;
    optind = 0; /* reset getopt for the subcommand (GNU: 0 re-initialises) */
    if (strcmp(sub[0], "encrypt") == 0)
        return cmd_encrypt(subc, sub, &c);
    if (strcmp(sub[0], "decrypt") == 0)
        return cmd_decrypt(subc, sub, &c);
    if (strcmp(sub[0], "inspect") == 0)
        return cmd_inspect(subc, sub, &c);
    if (strcmp(sub[0], "kek") == 0)
        return cmd_kek(subc, sub, &c);
    if (strcmp(sub[0], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "envelope: unknown command \"%s\"\n", sub[0]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
