/*
 * cmd_kek.c - `envelope kek create|list|check`: KEKs are created inside
 * their home by the envelope provider (EVP_PKEY_generate through its
 * KEYMGMT), listed through OSSL_STORE, and checked through the provider's
 * check STORE (envelope_kek_check).
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
               "       envelope kek check [--json] URI...\n"
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
               "check   reports every way each KEK the URIs name is weaker than what\n"
               "        create makes: extractable or once extractable, not sensitive,\n"
               "        usable without login, usages a KEK does not need (sign, wrap,\n"
               "        derive, ...), RSA below 3072 bits where the token makes more, a\n"
               "        duplicable TPM key, KMS usage bits beyond Encrypt|Decrypt, a token\n"
               "        without a PIN. Keys are read, never used. Exit 6 if anything was\n"
               "        found, 0 if not (man envelope(1) lists the finding codes).\n"
               "  --json         list, check: one JSON object per key, one per line;\n"
               "                 check: {\"reference\",\"kind\",\"ok\",\"findings\":\n"
               "                 [{\"code\",\"detail\"}]}\n"
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

struct check_tally {
    int json;
    size_t keks, weak;
};

/* What a key's home reports (labels, details) is escaped like a message's
 * fields: a label cannot drive the terminal or break the JSON. */
static int print_check(void *arg, const envelope_kek_check_info *ci)
{
    struct check_tally *t = arg;
    t->keks++;
    t->weak += ci->nfindings > 0;
    if (t->json) {
        fputs("{\"reference\":", stdout);
        cli_json_str(stdout, ci->reference, 0);
        fputs(",\"kind\":", stdout);
        cli_json_str(stdout, ci->kind, 0);
        printf(",\"ok\":%s,\"findings\":[", ci->nfindings ? "false" : "true");
        for (size_t i = 0; i < ci->nfindings; i++) {
            fputs(i ? ",{\"code\":" : "{\"code\":", stdout);
            cli_json_str(stdout, ci->findings[i].code, 0);
            fputs(",\"detail\":", stdout);
            cli_json_str(stdout, ci->findings[i].detail, 1);
            fputc('}', stdout);
        }
        fputs("]}\n", stdout);
        return 0;
    }
    cli_text_str(stdout, ci->reference);
    fputs("  ", stdout);
    cli_text_str(stdout, ci->kind);
    fputs(ci->nfindings ? "\n" : "  ok\n", stdout);
    for (size_t i = 0; i < ci->nfindings; i++) {
        fputs("  ", stdout);
        cli_text_str(stdout, ci->findings[i].code);
        pad(ci->findings[i].code, 18);
        fputc(' ', stdout);
        cli_text_str(stdout, ci->findings[i].detail);
        fputc('\n', stdout);
    }
    return 0;
}

/* Every URI is checked, whatever happened to the one before; the exit code
 * is the first failure's, else CLI_EXIT_FINDINGS if any KEK is weak. */
static int kek_check(cli_common *c, char **uris, int n, int json)
{
    envelope_lib *lib = NULL;
    int rc = cli_lib_open(c, &lib), failed = CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    struct check_tally t = {json, 0, 0};
    for (int i = 0; i < n; i++) {
        envelope_err err = {0};
        if (envelope_kek_check(lib, uris[i], print_check, &t, &err) != ENVELOPE_OK) {
            int r = cli_report(&err);
            if (failed == CLI_EXIT_OK)
                failed = r;
        }
    }
    fflush(stdout);
    if (!c->quiet && !json)
        fprintf(stderr, "envelope: %zu KEK%s checked, %zu with findings\n", t.keks,
                t.keks == 1 ? "" : "s", t.weak);
    cli_lib_close(lib);
    if (failed != CLI_EXIT_OK)
        return failed;
    return t.weak ? CLI_EXIT_FINDINGS : CLI_EXIT_OK;
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
        return cli_usage("kek", "kek needs a command: create, list or check");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "create") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "check") != 0)
        return cli_usage("kek", "unknown kek command \"%s\" (create, list or check)", verb);
    const char *type = NULL, *pcrs = NULL;
    int ch, json = 0;
    /* getopt_long names the program in its messages: name the command */
    static char create_name[] = "envelope kek create", list_name[] = "envelope kek list",
                check_name[] = "envelope kek check";
    char *verb_arg0 = argv[1];
    argv[1] = strcmp(verb, "create") == 0 ? create_name
              : strcmp(verb, "list") == 0 ? list_name
                                          : check_name;
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
    if (strcmp(verb, "check") == 0) {
        if (type != NULL || pcrs != NULL || rest < 1)
            return cli_usage("kek", "kek check takes [--json] and one or more URIs");
        return kek_check(c, args, rest, json);
    }
    if (json && strcmp(verb, "list") != 0)
        return cli_usage("kek", "--json applies to kek list and kek check");
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
