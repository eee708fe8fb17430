/*
 * cmd_kek.c - `envelope kek create|list`: KEKs are created inside their
 * home by the envelope provider (EVP_PKEY_generate through its KEYMGMT)
 * and listed through OSSL_STORE.
 */
#include <getopt.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f, "usage: envelope kek create --type aes-256|rsa-3072 URI          (PKCS#11 token)\n"
               "       envelope kek create --type ec-p256|rsa-2048 [--pcrs BANK:LIST] URI   (TPM)\n"
               "       envelope kek list [--json] [URI]\n"
               "\n"
               "create  makes a KEK inside the key home URI names (e.g.\n"
               "        pkcs11:token=prod;object=payments-v3;id=%%01, or\n"
               "        tpm2:handle=0x81000101), through the envelope provider loaded by\n"
               "        OPENSSL_CONF or --config. The key never leaves it.\n"
               "  --pcrs sha256:0,7  TPM only: the key unwraps only while these PCRs hold\n"
               "                     the values they have now\n"
               "        It prints the URI to use the key with (with ;pcrs=... for --pcrs).\n"
               "list    shows the keys OSSL_STORE finds at URI (default \"pkcs11:\"): type,\n"
               "        bits, key id and the reference a message would record. \"tpm2:\"\n"
               "        lists the TPM's persistent keys (public areas only, no key is\n"
               "        opened): the URI to use, kind, policy, userWithAuth/noDA, and\n"
               "        whether it has envelope's template.\n"
               "  --json         list: one JSON object per key, one per line\n"
               "  --quiet        create: print nothing on success\n"
               "  --config FILE   OpenSSL configuration to use instead of OPENSSL_CONF\n");
}

static void pad(const char *shown, size_t width)
{
    for (size_t n = strlen(shown); n < width; n++)
        fputc(' ', stdout);
}

/* What a token or TPM reports (labels, types) is not ours: escaped like a
 * message's fields, so a label cannot drive the terminal. */
static int print_key(void *arg, const envelope_kek_info *ki)
{
    (void)arg;
    if (ki->description != NULL) { /* a TPM handle listed, not opened */
        cli_text_str(stdout, ki->reference);
        pad(ki->reference, 36);
        fputc(' ', stdout);
        cli_text_str(stdout, ki->description);
        fputc('\n', stdout);
        return 0;
    }
    cli_text_str(stdout, ki->type);
    pad(ki->type, 18);
    printf(" %5d  id=", ki->bits);
    cli_hex(stdout, ki->key_id, ki->key_id_len);
    fputs("  ", stdout);
    cli_text_str(stdout, ki->reference);
    fputc('\n', stdout);
    return 0;
}

/* JSON lines: {"reference":..,"type":..,"bits":..,"key_id":..} (key_id a
 * hex string, "" when none; "description" only for listed TPM handles). */
static int print_key_json(void *arg, const envelope_kek_info *ki)
{
    (void)arg;
    fputs("{\"reference\":", stdout);
    cli_json_str(stdout, ki->reference, 0);
    fputs(",\"type\":", stdout);
    cli_json_str(stdout, ki->type, 0);
    printf(",\"bits\":%d,\"key_id\":\"", ki->bits);
    cli_hex(stdout, ki->key_id, ki->key_id_len);
    fputc('"', stdout);
    if (ki->description != NULL) {
        fputs(",\"description\":", stdout);
        cli_json_str(stdout, ki->description, 0);
    }
    fputs("}\n", stdout);
    return 0;
}

/* The URI as given, for --kek: a pkcs11: one without pin-value (a secret)
 * and without its query part. 1 if it fits. */
static int uri_to_use(const char *uri, char *out, size_t size)
{
    const char *p = uri + 7;
    size_t o = 7;

    out[0] = '\0';
    if (strncasecmp(uri, "pkcs11:", 7) != 0) { /* schemes are case-insensitive */
        size_t n = strlen(uri);
        if (n >= size)
            return 0;
        memcpy(out, uri, n + 1);
        return 1;
    }
    memcpy(out, "pkcs11:", 8);
    while (*p != '\0' && *p != '?') {
        size_t n = strcspn(p, ";?");
        if (strncasecmp(p, "pin-value=", 10) != 0) {
            if (o + n + 2 > size) {
                out[0] = '\0';
                return 0;
            }
            if (o != 7)
                out[o++] = ';';
            memcpy(out + o, p, n);
            o += n;
            out[o] = '\0';
        }
        p += n;
        if (*p == ';')
            p++;
    }
    return 1;
}

int cmd_kek(int argc, char **argv, cli_common *c)
{
    static const struct option opts[] = {{"type", required_argument, NULL, 't'},
                                         {"pcrs", required_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2)
        return cli_usage("kek", "kek needs a command: create or list");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "create") != 0 && strcmp(verb, "list") != 0)
        return cli_usage("kek", "unknown kek command \"%s\" (create or list)", verb);
    const char *type = NULL, *pcrs = NULL;
    int ch, json = 0;
    /* getopt_long names the program in its messages: name the command */
    static char create_name[] = "envelope kek create", list_name[] = "envelope kek list";
    char *verb_arg0 = argv[1];
    argv[1] = strcmp(verb, "create") == 0 ? create_name : list_name;
    while ((ch = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 't': type = optarg; break;
        case 'p': pcrs = optarg; break;
        case 'j': json = 1; break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default:
            if (!cli_common_option(c, ch, optarg))
                return cli_usage_hint("kek"); /* getopt_long has said which option */
        }
    }
    argv[1] = verb_arg0;
    int rest = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (strcmp(verb, "create") == 0 && (type == NULL || rest != 1))
        return cli_usage("kek", "kek create needs --type aes-256|rsa-3072|ec-p256|rsa-2048 and "
                                "one URI");
    if (json && strcmp(verb, "list") != 0)
        return cli_usage("kek", "--json applies to kek list");
    char with_pcrs[2048];
    if (pcrs != NULL) {
        /* A PCR policy is part of a TPM key's URI (docs/TPM.md). */
        if (strcmp(verb, "create") != 0 || strncmp(args[0], "tpm2:", 5) != 0)
            return cli_usage("kek", "--pcrs applies only to creating a tpm2: KEK");
        if (strstr(args[0], "pcrs=") != NULL)
            return cli_usage("kek", "give the PCR policy once: --pcrs or pcrs= in the URI");
        int n = snprintf(with_pcrs, sizeof(with_pcrs), "%s;pcrs=%s", args[0], pcrs);
        if (n < 0 || (size_t)n >= sizeof(with_pcrs))
            return cli_fail(CLI_EXIT_USAGE, "URI too long");
        args[0] = with_pcrs;
    }
    if (strcmp(verb, "list") == 0 && (type != NULL || rest > 1))
        return cli_usage("kek", "kek list takes at most one URI");
    envelope_lib *lib = NULL;
    envelope_err err = {0};
    int rc = cli_lib_open(c, &lib);
    if (rc != CLI_EXIT_OK)
        return rc;
    envelope_status s;
    if (strcmp(verb, "create") == 0) {
        s = envelope_kek_create(lib, type, args[0], &err);
        if (s == ENVELOPE_OK && !c->quiet) {
            /* the URI to use it with: a TPM key with a PCR policy can only
             * be used with its pcrs= (docs/TPM.md) */
            char use[2048];
            if (uri_to_use(args[0], use, sizeof(use)))
                printf("%s\n", use);
            fprintf(stderr, "envelope: created %s KEK; use it as %s\n", type,
                    use[0] != '\0' ? use : "the URI given");
        }
    } else {
        s = envelope_kek_list(lib, rest ? args[0] : "pkcs11:", json ? print_key_json : print_key,
                              NULL, &err);
    }
    rc = s == ENVELOPE_OK ? CLI_EXIT_OK : cli_report(&err);
    cli_lib_close(lib);
    return rc;
}
