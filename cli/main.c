/*
 * main.c - `envelope`: global options and dispatch to one file per
 * subcommand. OpenSSL's configuration (and so the envelope provider and
 * its PKCS#11 module) comes from OPENSSL_CONF, or --config FILE
 * (cli/lib_open.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "secmem.h"

static void usage(FILE *f)
{
    fprintf(
        f,
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

int cli_common_option(cli_common *c, int ch, const char *arg)
{
    switch (ch) {
    case 'c': c->config = arg; return 1;
    case 'q': c->quiet = 1; return 1;
    default: return 0;
    }
}

int main(int argc, char **argv)
{
    cli_common c = {0};
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    envelope_secmem_harden_process();
    /* '+': stop at the subcommand; its options are its own. */
    while ((ch = getopt_long(argc, argv, "+c:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case 'V': printf("envelope 0.1.0 (message format v%d)\n", ENVELOPE_VERSION); return 0;
        default:
            if (!cli_common_option(&c, ch, optarg)) {
                usage(stderr);
                return CLI_EXIT_USAGE;
            }
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
