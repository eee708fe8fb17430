/*
 * lib_open.c - the OpenSSL configuration (and so the envelope provider
 * and its PKCS#11 module) and the envelope library made from it.
 *
 * The configuration is loaded into a library context of our own with
 * OSSL_LIB_CTX_load_config, which reports a file that cannot be read or a
 * provider that fails to activate (the implicit load at first use would
 * ignore both and leave us without the provider). --config FILE wins over
 * OPENSSL_CONF, which wins over OpenSSL's default file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "envelope/provider.h"

#include "cli.h"

static OSSL_LIB_CTX *cli_ctx;

/* OpenSSL 3.0 returns success from OSSL_LIB_CTX_load_config even when a
 * provider it was told to activate failed to load (checked on 3.0.22), so
 * every provider the file activates is checked by name. */
static int check_providers(const char *file)
{
    CONF *conf = NCONF_new_ex(cli_ctx, NULL);
    long line = 0;
    int rc = CLI_EXIT_OK;
    if (conf == NULL || NCONF_load(conf, file, &line) != 1) {
        NCONF_free(conf);
        return cli_fail(CLI_EXIT_USAGE, "cannot parse OpenSSL configuration \"%s\" (line %ld)",
                        file, line);
    }
    const char *init = NCONF_get_string(conf, NULL, "openssl_conf");
    const char *psect = init ? NCONF_get_string(conf, init, "providers") : NULL;
    STACK_OF(CONF_VALUE) *provs = psect ? NCONF_get_section(conf, psect) : NULL;
    ERR_clear_error(); /* absent keys are not errors */
    for (int i = 0; provs && i < sk_CONF_VALUE_num(provs); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(provs, i);
        const char *act = NCONF_get_string(conf, v->value, "activate");
        ERR_clear_error();
        if (act == NULL || (strcmp(act, "1") != 0 && strcasecmp(act, "yes") != 0 &&
                            strcasecmp(act, "true") != 0 && strcasecmp(act, "on") != 0))
            continue;
        if (!OSSL_PROVIDER_available(cli_ctx, v->name)) {
            /* OpenSSL 3.0 drops the reason (dlopen's or the provider's
             * init error); a module file that is not there is the common one. */
            const char *mod = NCONF_get_string(conf, v->value, "module");
            ERR_clear_error();
            char why[300] = "";
            if (mod != NULL && mod[0] == '/' && access(mod, R_OK) != 0)
                snprintf(why, sizeof(why), ": cannot read module %s: %s", mod, strerror(errno));
            rc = cli_fail(CLI_EXIT_USAGE,
                          "provider \"%s\" named in \"%s\" did not load (check its module path "
                          "and OPENSSL_MODULES)%s",
                          v->name, file, why);
            break;
        }
    }
    NCONF_free(conf);
    return rc;
}

/* The envelope provider refuses a section it cannot read (an unknown
 * setting, a bad value) by staying inactive; say so at once, not only when
 * a KEK of it is first used. A warning: a run with file: KEKs still works. */
static int warn_config_error(OSSL_PROVIDER *prov, void *arg)
{
    (void)arg;
    if (strcmp(OSSL_PROVIDER_get0_name(prov), ENVELOPE_PROVIDER_NAME) != 0)
        return 1;
    const char *why = NULL;
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_CONFIG_ERROR, &why, 0),
                      OSSL_PARAM_END};
    if (OSSL_PROVIDER_get_params(prov, p) == 1 && why != NULL && *why != '\0')
        fprintf(stderr,
                "envelope: warning: the envelope provider's settings are refused, so its KEKs "
                "cannot be used until they are fixed: %s\n",
                why);
    ERR_clear_error();
    return 1;
}

int cli_lib_open(const cli_common *c, envelope_lib **lib)
{
    /* secure_getenv, as libcrypto reads it: in a setuid program the
     * invoker's environment does not choose the configuration (and so the
     * provider modules loaded). */
    const char *file = c->config ? c->config : secure_getenv("OPENSSL_CONF");
    char *dflt = NULL;
    if (file == NULL) {
        dflt = CONF_get1_default_config_file();
        FILE *f = dflt ? fopen(dflt, "r") : NULL;
        if (f != NULL) {
            fclose(f);
            file = dflt;
        }
    } else {
        FILE *f = fopen(file, "r");
        if (f == NULL)
            return cli_fail(CLI_EXIT_USAGE, "cannot read OpenSSL configuration \"%s\"", file);
        fclose(f);
    }
    if (c->config)
        setenv("OPENSSL_CONF", c->config, 1); /* for anything that reads it again */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    cli_ctx = OSSL_LIB_CTX_new();
    if (cli_ctx == NULL) {
        OPENSSL_free(dflt);
        return cli_fail(CLI_EXIT_INTERNAL, "out of memory");
    }
    if (file != NULL && OSSL_LIB_CTX_load_config(cli_ctx, file) != 1) {
        unsigned long e = ERR_peek_last_error();
        char why[256];
        ERR_error_string_n(e, why, sizeof(why));
        int rc = cli_fail(CLI_EXIT_USAGE, "loading OpenSSL configuration \"%s\" failed: %s", file,
                          e ? why : "unknown error");
        OPENSSL_free(dflt);
        OSSL_LIB_CTX_free(cli_ctx);
        cli_ctx = NULL;
        return rc;
    }
    int prc = file != NULL ? check_providers(file) : CLI_EXIT_OK;
    OPENSSL_free(dflt);
    if (prc != CLI_EXIT_OK) {
        OSSL_LIB_CTX_free(cli_ctx);
        cli_ctx = NULL;
        return prc;
    }
    OSSL_PROVIDER_do_all(cli_ctx, warn_config_error, NULL);
    envelope_err err = {0};
    if (envelope_lib_new(cli_ctx, NULL, lib, &err) != ENVELOPE_OK) {
        OSSL_LIB_CTX_free(cli_ctx);
        cli_ctx = NULL;
        return cli_report(&err);
    }
    return CLI_EXIT_OK;
}

/* The envelope provider's unwrap-cache counters, one line of name=value. */
static int print_stats(OSSL_PROVIDER *prov, void *arg)
{
    static const char *const names[] = {
        ENVELOPE_PROV_PARAM_CACHE_HITS,
        ENVELOPE_PROV_PARAM_CACHE_MISSES,
        ENVELOPE_PROV_PARAM_CACHE_JOINS,
        ENVELOPE_PROV_PARAM_CACHE_REFRESHES,
        ENVELOPE_PROV_PARAM_CACHE_REFRESH_FAILURES,
        ENVELOPE_PROV_PARAM_CACHE_EVICTIONS,
        ENVELOPE_PROV_PARAM_CACHE_EXPIRATIONS,
        ENVELOPE_PROV_PARAM_CACHE_BACKEND_CALLS,
        ENVELOPE_PROV_PARAM_CACHE_BACKEND_ERRORS,
        ENVELOPE_PROV_PARAM_CACHE_ENTRIES,
    };
    enum { N = sizeof(names) / sizeof(names[0]) };
    uint64_t v[N] = {0};
    OSSL_PARAM p[N + 1];
    if (strcmp(OSSL_PROVIDER_get0_name(prov), ENVELOPE_PROVIDER_NAME) != 0)
        return 1;
    for (size_t i = 0; i < N; i++)
        p[i] = OSSL_PARAM_construct_uint64(names[i], &v[i]);
    p[N] = OSSL_PARAM_construct_end();
    *(int *)arg = 1;
    if (OSSL_PROVIDER_get_params(prov, p) != 1) {
        ERR_clear_error();
        fputs("envelope: stats: the envelope provider did not give its counters\n", stderr);
        return 0;
    }
    fputs("envelope: stats:", stderr);
    for (size_t i = 0; i < N; i++) /* "envelope-cache-hits" -> "cache-hits" */
        fprintf(stderr, " %s=%llu", names[i] + strlen("envelope-"), (unsigned long long)v[i]);
    fputc('\n', stderr);
    return 0;
}

void cli_print_stats(void)
{
    int found = 0;
    if (cli_ctx != NULL)
        OSSL_PROVIDER_do_all(cli_ctx, print_stats, &found);
    if (!found)
        fputs("envelope: stats: the envelope provider is not loaded (no cache counters)\n", stderr);
}

void cli_lib_close(envelope_lib *lib)
{
    envelope_lib_free(lib);
    OSSL_LIB_CTX_free(cli_ctx);
    cli_ctx = NULL;
}
