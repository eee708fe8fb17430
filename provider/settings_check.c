/*
 * settings_check.c - refusing settings the provider does not know.
 *
 * OpenSSL hands a provider only the settings it asks for by name, so a
 * misspelt key ("pkcs11-modul") would be ignored without a word and show
 * up much later as "no KEK for this message". The core has no call that
 * lists a provider's section, so the provider reads the file itself: the
 * one libcrypto reads (OPENSSL_CONF, as secure_getenv gives it, else
 * OpenSSL's default file), the section its own name points at. It trusts
 * that section only if every setting it was given matches it value for
 * value; otherwise the program loaded another file (its own, with
 * OSSL_LIB_CTX_load_config) and nothing is checked. The reasons and the
 * names allowed are in docs/PROVIDER.md ("Settings").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/conf.h>
#include <openssl/err.h>

#include "kek_alias.h"
#include "provider.h"

/* Keys OpenSSL's provider loader reads itself (crypto/provider_conf.c). */
static const char *const openssl_keys[] = {"identity", "module", "activate", "soft_load", NULL};

static int in_list(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* Edit distance with a cap: names are short, a row of 64 is enough. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];
    if (la > 64 || lb > 64)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *closest(const char *name, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t bestd = 3; /* a typo, not another word */
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(name, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    return best;
}

/* 1 if the section holds exactly the values the core gave us. */
static int section_is_ours(STACK_OF(CONF_VALUE) *sect, const envcore_settings *got,
                           const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *want = envcore_setting(got, names[i]);
        const char *have = NULL;
        for (int j = 0; j < sk_CONF_VALUE_num(sect); j++) {
            const CONF_VALUE *v = sk_CONF_VALUE_value(sect, j);
            if (strcmp(v->name, names[i]) == 0)
                have = v->value;
        }
        if (have != NULL && *have == '\0')
            have = NULL; /* empty is unset, as envcore_settings_put has it */
        if ((want == NULL) != (have == NULL) || (want != NULL && strcmp(want, have) != 0))
            return 0;
    }
    return 1;
}

char *envprov_settings_unknown(const char *prov_name, const char *const *names, size_t n,
                               const envcore_settings *got, char ***alias_keys, size_t *nalias)
{
    *alias_keys = NULL;
    *nalias = 0;
    const char *file = secure_getenv("OPENSSL_CONF");
    char *dflt = file == NULL ? CONF_get1_default_config_file() : NULL;
    char *msg = NULL;
    CONF *conf = NCONF_new(NULL);
    long line = 0;
    ERR_set_mark();
    struct stat st;
    /* only a regular file: a FIFO or device would block or be consumed */
    if (prov_name == NULL || conf == NULL || (file == NULL && (file = dflt) == NULL) ||
        stat(file, &st) != 0 || !S_ISREG(st.st_mode) || NCONF_load(conf, file, &line) != 1)
        goto done;
    const char *init = NCONF_get_string(conf, NULL, "openssl_conf");
    const char *psect = init != NULL ? NCONF_get_string(conf, init, "providers") : NULL;
    const char *ours = psect != NULL ? NCONF_get_string(conf, psect, prov_name) : NULL;
    STACK_OF(CONF_VALUE) *sect = ours != NULL ? NCONF_get_section(conf, ours) : NULL;
    if (sect == NULL || !section_is_ours(sect, got, names, n))
        goto done;
    for (int j = 0; j < sk_CONF_VALUE_num(sect) && msg == NULL; j++) {
        const char *key = sk_CONF_VALUE_value(sect, j)->name;
        if (in_list(key, names, n) || in_list(key, openssl_keys, 4))
            continue;
        if (envprov_alias_key_ok(key)) {
            char **grown = realloc(*alias_keys, (*nalias + 1) * sizeof(char *));
            if (grown != NULL) {
                *alias_keys = grown;
                if ((grown[*nalias] = strdup(key)) != NULL)
                    (*nalias)++;
            }
            continue;
        }
        const char *near = closest(key, names, n);
        if (near == NULL && strncmp(key, ENVPROV_ALIAS_PREFIX, strlen(ENVPROV_ALIAS_PREFIX)) == 0)
            near = "kek.NAME, kek.NAME.previous or kek.NAME.retired";
        char buf[512];
        snprintf(buf, sizeof(buf), "unknown setting \"%.64s\" in [%.64s] of %.256s%s%s%s", key,
                 ours, file, near ? " (did you mean \"" : "; see docs/PROVIDER.md for the settings",
                 near ? near : "", near ? "\"?)" : "");
        msg = strdup(buf);
    }
done:
    ERR_pop_to_mark(); /* an unreadable file is libcrypto's to report, not ours */
    NCONF_free(conf);
    OPENSSL_free(dflt);
    return msg;
}
