/*
 * fuzz_settings.c - libFuzzer target for the provider's openssl.cnf
 * settings: envprov_config_read (provider/provider_config.c) as OpenSSL's
 * core calls it, with every setting the provider and its backends read
 * (durations, counts, booleans, pkcs11-tokens, tpm2-handles, kek.NAME
 * aliases and kek-aliases), and the unknown-setting check
 * (provider/settings_check.c) over the same section written to an
 * openssl.cnf file that OPENSSL_CONF names.
 *
 * Input: lines "name=value" (at most 64). The core's get_params answers
 * from them; the file holds them too. Unless the input sets them, the
 * harness adds "cache-ttl=0" and "cache-capacity=16": the default
 * 10,000-entry cache takes a millisecond to build and wipe, and is the
 * cache's code (fuzzed by its unit test), not the settings'. Backends' clients are made from the
 * settings (they open no device until a key is used, which never happens
 * here), then everything is freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "provider.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A file per execution: on tmpfs when there is one (a disk-backed /tmp
 * makes the target a hundred times slower), else TMPDIR, else /tmp. */
static const char *fuzz_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : t != NULL ? t : "/tmp";
}

#define MAX_LINES 64
static struct {
    char *name, *value;
} kv[MAX_LINES];
static size_t nkv;
static char conf_path[64];
static OSSL_LIB_CTX *swctx;

static int get_params(const OSSL_CORE_HANDLE *h, OSSL_PARAM params[])
{
    for (OSSL_PARAM *p = params; p->key != NULL; p++) {
        const char *v = NULL;
        if (strcmp(p->key, OSSL_PROV_PARAM_CORE_PROV_NAME) == 0)
            v = "envelope";
        for (size_t i = 0; v == NULL && i < nkv; i++)
            if (strcmp(kv[i].name, p->key) == 0)
                v = kv[i].value; /* the first, as NCONF would give */
        if (v != NULL && !OSSL_PARAM_set_utf8_ptr(p, v))
            return 0;
    }
    return 1;
}

static void remove_conf(void)
{
    unlink(conf_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = fuzz_tmpdir();
    snprintf(conf_path, sizeof(conf_path), "%.40s/fuzz-settings-XXXXXX", tmp);
    int fd = mkstemp(conf_path);
    if (fd < 0)
        abort();
    close(fd);
    setenv("OPENSSL_CONF", conf_path, 1);
    unsetenv("ENVELOPE_TPM2_TCTI");
    if ((swctx = OSSL_LIB_CTX_new()) == NULL)
        abort();
    atexit(remove_conf);
    return 0;
}

/* The section as openssl.cnf would carry it; names or values NCONF reads
 * differently (quotes, $, \) make settings_check's "is this our section"
 * test fail, which is a path worth reaching too. */
static void write_conf(void)
{
    FILE *f = fopen(conf_path, "w");
    if (f == NULL)
        abort();
    fputs("openssl_conf = init\n[init]\nproviders = provs\n[provs]\nenvelope = env\n[env]\n", f);
    for (size_t i = 0; i < nkv; i++)
        fprintf(f, "%s = %s\n", kv[i].name, kv[i].value);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    nkv = 0;
    for (char *line = text, *next; line != NULL && nkv < MAX_LINES; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL || eq == line)
            continue;
        *eq = '\0';
        kv[nkv].name = line;
        kv[nkv].value = eq + 1;
        nkv++;
    }
    static char *const dflt[][2] = {{(char *)"cache-ttl", (char *)"0"},
                                    {(char *)"cache-capacity", (char *)"16"}};
    for (size_t d = 0; d < 2; d++) {
        int set = 0;
        for (size_t i = 0; i < nkv; i++)
            set |= strcmp(kv[i].name, dflt[d][0]) == 0;
        if (!set && nkv < MAX_LINES) {
            kv[nkv].name = dflt[d][0];
            kv[nkv].value = dflt[d][1];
            nkv++;
        }
    }
    write_conf();
    static const OSSL_DISPATCH core[] = {{OSSL_FUNC_CORE_GET_PARAMS, (void (*)(void))get_params},
                                         {0, NULL}};
    envprov_ctx pc;
    memset(&pc, 0, sizeof(pc));
    pc.swctx = swctx;
    if (envprov_config_read(&pc, core)) {
        int ok = envprov_config_ok(&pc);
        if (ok != (pc.config_error == NULL))
            abort();
    }
    envprov_config_free(&pc);
    free(text);
    ERR_clear_error();
    return 0;
}
