/*
 * provider_config.c - the provider's openssl.cnf section: its own settings
 * and every backend's (each backend names the settings it reads), and the
 * backends' clients made from them.
 *
 * A setting that cannot be read does not fail the provider's activation:
 * OpenSSL 3.0 drops a provider whose init fails without a word (unless
 * config_diagnostics is set), and every program on the host would then
 * meet "unsupported" far from the cause. Instead the provider loads, shows
 * itself inactive, and every key operation fails with the setting's own
 * message (envprov_config_ok).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "backends.h"
#include "alarm.h"
#include "audit.h"
#include "kem_reuse.h"
#include "breaker.h"
#include "dek_cache.h"
#include "kek_alias.h"
#include "provider.h"
#include "settings.h"

#define MAX_SETTINGS 48

static void config_failed(envprov_ctx *pc)
{
    const char *data = NULL;
    int flags = 0;
    ERR_peek_last_error_data(&data, &flags);
    if (pc->config_error == NULL)
        pc->config_error = strdup(data != NULL && (flags & ERR_TXT_STRING) ? data
                                                                           : "unreadable setting");
    ERR_clear_error();
}

int envprov_config_ok(const envprov_ctx *pc)
{
    if (pc->config_error == NULL)
        return 1;
    ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG,
                  "the envelope provider's openssl.cnf section is wrong, "
                  "so it does nothing until it is fixed: %s",
                  pc->config_error);
    return 0;
}

/* Every setting name of the provider and its backends, once each; 0 if
 * they do not fit (a build whose backends read more than MAX_SETTINGS). */
static size_t setting_names(const char **names)
{
    size_t n = 0;
    names[n++] = ENVPROV_CONF_RSA_PKCS1_V15;
    names[n++] = ENVPROV_CONF_CACHE_TTL;
    names[n++] = ENVPROV_CONF_CACHE_CAPACITY;
    names[n++] = ENVPROV_CONF_BREAKER_WINDOW;
    names[n++] = ENVPROV_CONF_KEK_PREFERENCE;
    names[n++] = ENVPROV_CONF_KEK_ALIASES;
    names[n++] = ENVPROV_CONF_DEK_REUSE_MESSAGES;
    names[n++] = ENVPROV_CONF_DEK_REUSE_BYTES;
    names[n++] = ENVPROV_CONF_DEK_REUSE_SECONDS;
    names[n++] = ENVPROV_CONF_DEK_PARTITION_KEY;
    /* the audit trail and unwrap-rate alarms (audit.h, alarm.h) */
    names[n++] = ENVPROV_CONF_AUDIT_LOG;
    names[n++] = ENVPROV_CONF_AUDIT_FSYNC;
    names[n++] = ENVPROV_CONF_AUDIT_FAILURE;
    names[n++] = ENVPROV_CONF_AUDIT_OVERFLOW;
    names[n++] = ENVPROV_CONF_AUDIT_KEY;
    names[n++] = ENVPROV_CONF_UNWRAP_ALARM;
    names[n++] = ENVPROV_CONF_UNWRAP_ALARM_ACTION;
    names[n++] = ENVPROV_CONF_ALARM_STATE;
    for (size_t b = 0; envprov_backend_table[b] != NULL; b++)
        for (const char *const *s = envprov_backend_table[b]->settings; s != NULL && *s != NULL;
             s++) {
            int dup = 0;
            for (size_t i = 0; i < n; i++)
                dup |= strcmp(names[i], *s) == 0;
            if (!dup && n == MAX_SETTINGS)
                return 0;
            if (!dup)
                names[n++] = *s;
        }
    return n;
}

/* "300s", "5m", "1h", "500ms", or plain seconds, up to 24h; 0 is off. */
static int read_duration(const envcore_settings *s, const char *name, uint64_t dflt, uint64_t *ms)
{
    const char *v = envcore_setting(s, name);
    *ms = dflt;
    if (v == NULL)
        return ENVCORE_R_OK;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    uint64_t unit = 1000;
    if (end != v && strcmp(end, "ms") == 0)
        unit = 1;
    else if (end != v && (*end == '\0' || strcmp(end, "s") == 0))
        unit = 1000;
    else if (end != v && strcmp(end, "m") == 0)
        unit = 60000;
    else if (end != v && strcmp(end, "h") == 0)
        unit = 3600000;
    else
        unit = 0;
    if (unit == 0 || errno != 0 || v[0] == '-' || n > ENVPROV_CACHE_TTL_MAX_MS / unit) {
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG,
                      "%s = %.64s: expected a duration up to 24h: 300s, 5m, 1h, 500ms, or 0 for "
                      "off",
                      name, v);
        return ENVCORE_R_BAD_CONFIG;
    }
    *ms = (uint64_t)n * unit;
    return ENVCORE_R_OK;
}

/* A count setting: absent, or a whole number min..max. */
static int check_count(const envcore_settings *s, const char *name, unsigned long long min,
                       unsigned long long max)
{
    const char *v = envcore_setting(s, name);
    if (v == NULL)
        return ENVCORE_R_OK;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || v[0] == '-' || n < min || n > max) {
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.64s: expected a whole number %llu..%llu", name,
                      v, min, max);
        return ENVCORE_R_BAD_CONFIG;
    }
    return ENVCORE_R_OK;
}

/* A count setting check_count accepted, or dflt when absent. */
static uint64_t read_count(const envcore_settings *s, const char *name, uint64_t dflt)
{
    const char *v = envcore_setting(s, name);
    return v != NULL ? (uint64_t)strtoull(v, NULL, 10) : dflt;
}

static int read_capacity(const envcore_settings *s, size_t *cap)
{
    const char *v = envcore_setting(s, ENVPROV_CONF_CACHE_CAPACITY);
    *cap = ENVPROV_CACHE_CAPACITY_DEFAULT;
    if (v == NULL)
        return ENVCORE_R_OK;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || v[0] == '-' || n > ENVPROV_CACHE_CAPACITY_MAX) {
        ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s = %.64s: expected a number of entries, 0..%d",
                      ENVPROV_CONF_CACHE_CAPACITY, v, ENVPROV_CACHE_CAPACITY_MAX);
        return ENVCORE_R_BAD_CONFIG;
    }
    *cap = (size_t)n;
    return ENVCORE_R_OK;
}

/* Adds kek.NAME, kek.NAME.previous and kek.NAME.retired for every name
 * kek-aliases lists to keys (not already there). */
static int add_listed_aliases(const envcore_settings *s, char ***keys, size_t *n)
{
    const char *list = envcore_setting(s, ENVPROV_CONF_KEK_ALIASES);
    static const char *const suffix[] = {"", ".previous", ".retired"};
    for (const char *p = list; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ", \t");
        for (size_t j = 0; len > 0 && j < 3; j++) {
            char key[128];
            int w = snprintf(key, sizeof(key), ENVPROV_ALIAS_PREFIX "%.*s%s", (int)len, p,
                             suffix[j]);
            if (w < 0 || (size_t)w >= sizeof(key) || !envprov_alias_key_ok(key)) {
                ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG,
                              "%s: \"%.*s\" is not an alias name (letters, digits, '-', '_')",
                              ENVPROV_CONF_KEK_ALIASES, (int)(len > 64 ? 64 : len), p);
                return ENVCORE_R_BAD_CONFIG;
            }
            int dup = 0;
            for (size_t i = 0; i < *n; i++)
                dup |= strcmp((*keys)[i], key) == 0;
            if (dup)
                continue;
            char **grown = realloc(*keys, (*n + 1) * sizeof(char *));
            if (grown == NULL || (grown[*n] = strdup(key)) == NULL) {
                if (grown != NULL)
                    *keys = grown;
                ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
                return ENVCORE_R_INTERNAL;
            }
            *keys = grown;
            (*n)++;
        }
        p += len;
    }
    return ENVCORE_R_OK;
}

/* The alias settings' values, asked of the core by the names the file gave
 * and the names kek-aliases lists. A listed alias must have its kek.NAME. */
static int read_aliases(envprov_ctx *pc, OSSL_FUNC_core_get_params_fn *get_params, char ***keysp,
                        size_t *np)
{
    int lr = add_listed_aliases(pc->settings, keysp, np);
    if (lr != ENVCORE_R_OK)
        return lr;
    char **keys = *keysp;
    size_t n = *np;
    if (n == 0)
        return ENVCORE_R_OK;
    OSSL_PARAM *params = calloc(n + 1, sizeof(*params));
    char **values = calloc(n, sizeof(*values));
    int r = ENVCORE_R_INTERNAL;
    if (params != NULL && values != NULL) {
        for (size_t i = 0; i < n; i++)
            params[i] = OSSL_PARAM_construct_utf8_ptr(keys[i], &values[i], 0);
        params[n] = OSSL_PARAM_construct_end();
        if (get_params(pc->handle, params)) {
            r = ENVCORE_R_OK;
            for (size_t i = 0; i < n && r == ENVCORE_R_OK; i++)
                if (values[i] == NULL &&
                    strchr(keys[i] + strlen(ENVPROV_ALIAS_PREFIX), '.') == NULL &&
                    envcore_setting(pc->settings, ENVPROV_CONF_KEK_ALIASES) != NULL) {
                    ENVCORE_RAISE(ENVCORE_R_BAD_CONFIG, "%s lists an alias, but %s is not set",
                                  ENVPROV_CONF_KEK_ALIASES, keys[i]);
                    r = ENVCORE_R_BAD_CONFIG;
                }
            if (r == ENVCORE_R_OK)
                r = envprov_aliases_build(pc, (const char *const *)keys,
                                          (const char *const *)values, n);
        }
    }
    if (r == ENVCORE_R_INTERNAL)
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "cannot read the kek.* settings");
    free(params);
    free(values);
    return r;
}

int envprov_config_read(envprov_ctx *pc, const OSSL_DISPATCH *in)
{
    OSSL_FUNC_core_get_params_fn *get_params = NULL;
    for (const OSSL_DISPATCH *d = in; d->function_id != 0; d++)
        if (d->function_id == OSSL_FUNC_CORE_GET_PARAMS)
            get_params = OSSL_FUNC_core_get_params(d);
    if (get_params == NULL || (pc->settings = envcore_settings_new()) == NULL)
        return 0;
    const char *names[MAX_SETTINGS];
    char *values[MAX_SETTINGS] = {0};
    OSSL_PARAM params[MAX_SETTINGS + 2];
    size_t n = setting_names(names);
    if (n == 0) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "the backends of this build read more than %d settings",
                      MAX_SETTINGS);
        return 0;
    }
    char *prov_name = NULL;
    for (size_t i = 0; i < n; i++)
        params[i] = OSSL_PARAM_construct_utf8_ptr(names[i], &values[i], 0);
    params[n] = OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_CORE_PROV_NAME, &prov_name, 0);
    params[n + 1] = OSSL_PARAM_construct_end();
    if (!get_params(pc->handle, params))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!envcore_settings_put(pc->settings, names[i], values[i]))
            return 0;
    /* A key nobody reads is a mistake to report, not to ignore. */
    char **alias_keys = NULL;
    size_t nalias = 0;
    pc->config_error = envprov_settings_unknown(prov_name, names, n, pc->settings, &alias_keys,
                                                &nalias);

    if (envcore_setting_bool(pc->settings, ENVPROV_CONF_RSA_PKCS1_V15, 1, &pc->rsa_pkcs1_v15) !=
        ENVCORE_R_OK)
        config_failed(pc);
    uint64_t breaker_ms = 0;
    if (read_duration(pc->settings, ENVPROV_CONF_CACHE_TTL, ENVPROV_CACHE_TTL_DEFAULT_MS,
                      &pc->cache_ttl_ms) != ENVCORE_R_OK ||
        read_capacity(pc->settings, &pc->cache_capacity) != ENVCORE_R_OK ||
        read_duration(pc->settings, ENVPROV_CONF_BREAKER_WINDOW, ENVPROV_BREAKER_WINDOW_DEFAULT_MS,
                      &breaker_ms) != ENVCORE_R_OK ||
        check_count(pc->settings, ENVPROV_CONF_DEK_REUSE_MESSAGES, 0, 1ull << 32) != ENVCORE_R_OK ||
        check_count(pc->settings, ENVPROV_CONF_DEK_REUSE_BYTES, 1, 1ull << 50) != ENVCORE_R_OK ||
        check_count(pc->settings, ENVPROV_CONF_DEK_REUSE_SECONDS, 1, 86400) != ENVCORE_R_OK)
        config_failed(pc);
    pc->breaker = envprov_breaker_new(breaker_ms);
    if (envprov_audit_config(pc) != ENVCORE_R_OK || envprov_alarm_config(pc) != ENVCORE_R_OK)
        config_failed(pc);
    pc->kem_reuse = envprov_kem_reuse_new(read_count(pc->settings, ENVPROV_CONF_DEK_REUSE_MESSAGES,
                                                     0),
                                          read_count(pc->settings, ENVPROV_CONF_DEK_REUSE_SECONDS,
                                                     ENVPROV_DEK_REUSE_SECONDS_DEFAULT) *
                                              1000u);
    pc->cache_md = EVP_MD_fetch(pc->swctx, "SHA2-256", NULL);
    if (pc->cache_md != NULL &&
        RAND_bytes_ex(pc->swctx, pc->cache_salt, sizeof(pc->cache_salt), 256) != 1) {
        EVP_MD_free(pc->cache_md); /* no salt, no cache */
        pc->cache_md = NULL;
    }
    pc->cache = pc->cache_md != NULL ? envprov_dek_cache_new(pc->cache_ttl_ms, pc->cache_capacity)
                                     : NULL;
    if (pc->cache == NULL && pc->cache_ttl_ms > 0 && pc->cache_capacity > 0)
        envcore_debug("cache: no memory for %zu entries; unwraps are not cached",
                      pc->cache_capacity);
    for (size_t b = 0; envprov_backend_table[b] != NULL && b < ENVPROV_MAX_BACKENDS; b++) {
        const envcore_backend *be = envprov_backend_table[b];
        pc->backends[pc->nbackends] = be;
        if (be->client_new(pc->settings, pc->swctx, &pc->clients[pc->nbackends]) != ENVCORE_R_OK)
            config_failed(pc);
        pc->nbackends++;
    }
    /* after the backends: each alias URI must be one a backend serves */
    if (read_aliases(pc, get_params, &alias_keys, &nalias) != ENVCORE_R_OK)
        config_failed(pc);
    for (size_t i = 0; i < nalias; i++)
        free(alias_keys[i]);
    free(alias_keys);
    return 1;
}

void envprov_config_free(envprov_ctx *pc)
{
    /* first: refreshes in flight use the backends' clients */
    envprov_dek_cache_free(pc->cache);
    pc->cache = NULL;
    /* after the cache (its refreshes record events), before the backends:
     * every event recorded so far is written here */
    envprov_alarm_free(pc->alarm);
    pc->alarm = NULL;
    envprov_audit_free(pc->audit);
    pc->audit = NULL;
    envprov_kem_reuse_free(pc->kem_reuse);
    pc->kem_reuse = NULL;
    EVP_MD_free(pc->cache_md);
    pc->cache_md = NULL;
    envprov_aliases_free(pc);
    envprov_breaker_free(pc->breaker);
    pc->breaker = NULL;
    for (size_t b = 0; b < pc->nbackends; b++)
        if (pc->clients[b] != NULL)
            pc->backends[b]->client_free(pc->clients[b]);
    pc->nbackends = 0;
    envcore_settings_free(pc->settings);
    pc->settings = NULL;
    free(pc->config_error);
    pc->config_error = NULL;
}
