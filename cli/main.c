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
    fprintf(f, "usage: envelope [--config FILE] [--quiet] COMMAND [OPTIONS] [ARGS]\n"
               "       envelope --help | --version\n"
               "\n"
               "commands:\n"
               "  encrypt --kek URI [--kek URI]... [--context KEY=VALUE]... [--frame-size N]\n"
               "          [-o OUT] [--force] [IN]\n"
               "  decrypt [--kek URI]... [--context KEY=VALUE]... [-o OUT] [--force] [IN]\n"
               "  encrypt --kek URI [--kek URI]... [...] -o DIR FILE...   (one OUT per FILE)\n"
               "  decrypt [--kek URI]... [...] -o DIR FILE...\n"
               "  rewrap --from URI... --to URI... [--remove-old] [--dry-run] FILE|DIR...\n"
               "  reencrypt --kek URI... [--from URI]... [--frame-size N] [-o OUT] FILE...\n"
               "  inspect [--json] [IN]\n"
               "  kek create --type aes-256|rsa-3072 pkcs11:URI\n"
               "  kek create --type ec-p256|rsa-2048 [--pcrs BANK:LIST] tpm2:URI\n"
               "  kek list [--json] [URI]\n"
               "  audit verify LOG | audit summary [--json] [LOG]\n"
               "  kek check [--json] URI...\n"
               "\n"
               "KEKs: pkcs11:token=T;object=O (a PKCS#11 token key, or a KMS key through the\n"
               "KMS bridge module), tpm2:handle=0x81... (a TPM key), file:PATH (an RSA key or\n"
               "certificate), alias:NAME (the provider's kek.NAME). IN defaults to stdin and OUT\n"
               "to stdout. `envelope COMMAND --help`\n"
               "for details; man envelope(1) for exit codes and the message format.\n");
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
    static char prog[] = "envelope"; /* getopt_long's messages name us, not our path */
    argv[0] = prog;
    /* '+': stop at the subcommand; its options are its own. */
    while ((ch = getopt_long(argc, argv, "+c:qhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case 'V':
            printf("envelope %s (message format v%d)\n", ENVELOPE_CLI_VERSION, ENVELOPE_VERSION);
            return 0;
        default:
            if (!cli_common_option(&c, ch, optarg))
                return cli_usage_hint(NULL); /* getopt_long has said which option */
        }
    }
    if (optind >= argc)
        return cli_usage(NULL,
                         "no command given (encrypt, decrypt, rewrap, reencrypt, inspect or kek)");
    char **sub = argv + optind;
    int subc = argc - optind;
    /* getopt_long names the program in its messages: "envelope encrypt: ..." */
    static char names[][20] = {"envelope encrypt", "envelope decrypt", "envelope inspect",
                               "envelope kek",     "envelope rewrap",  "envelope reencrypt"};
    static const char *const cmds[] = {"encrypt", "decrypt", "inspect",
                                       "kek",     "rewrap",  "reencrypt"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(sub[0], cmds[i]) == 0)
            sub[0] = names[i];
    optind = 0; /* reset getopt for the subcommand (GNU: 0 re-initialises) */
    if (sub[0] == names[0])
        return cmd_encrypt(subc, sub, &c);
    if (sub[0] == names[1])
        return cmd_decrypt(subc, sub, &c);
    if (sub[0] == names[2])
        return cmd_inspect(subc, sub, &c);
    if (sub[0] == names[3])
        return cmd_kek(subc, sub, &c);
    if (sub[0] == names[4])
        return cmd_rewrap(subc, sub, &c);
    if (sub[0] == names[5])
        return cmd_reencrypt(subc, sub, &c);
    if (strcmp(sub[0], "audit") == 0) { /* reads a log only: no library, no provider */
        static char audit_name[] = "envelope audit";
        sub[0] = audit_name;
        return cmd_audit(subc, sub, &c);
    }
    if (strcmp(sub[0], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    return cli_usage(NULL,
                     "unknown command \"%s\" (encrypt, decrypt, rewrap, reencrypt, inspect or kek)",
                     sub[0]);
}
