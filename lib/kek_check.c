/*
 * kek_check.c - envelope_kek_check: a KEK's weaknesses, read through the
 * envelope provider's "SCHEME-check" STORE (include/envelope/provider.h,
 * ENVELOPE_CHECK_STORE_SUFFIX). The provider reads the keys; this file only
 * turns its text answer into envelope_kek_check_info and trusts it no
 * further than its bounds.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/store.h>

#include "envelope/provider.h"
#include "internal.h"

#define CHECK_MAX_SCHEME 32

/* The description: kind, then "CODE\tDETAIL" lines (edited in place). 0 if
 * it is not in that form. */
static int parse(char *desc, envelope_kek_check_info *ci, envelope_kek_finding *f)
{
    char *line = desc, *next;
    ci->kind = desc;
    ci->nfindings = 0;
    if ((next = strchr(line, '\n')) != NULL)
        *next++ = '\0';
    if (*ci->kind == '\0' || strchr(ci->kind, '\t') != NULL)
        return 0;
    for (line = next; line != NULL; line = next) {
        if ((next = strchr(line, '\n')) != NULL)
            *next++ = '\0';
        char *tab = strchr(line, '\t');
        if (tab == NULL || tab == line || ci->nfindings == ENVELOPE_MAX_KEK_FINDINGS)
            return 0;
        *tab = '\0';
        if (strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(line))
            return 0;
        f[ci->nfindings].code = line;
        f[ci->nfindings].detail = tab + 1;
        ci->nfindings++;
    }
    ci->findings = f;
    return 1;
}

envelope_status envelope_kek_check(envelope_lib *lib, const char *uri,
                                   int (*fn)(void *arg, const envelope_kek_check_info *ci),
                                   void *arg, envelope_err *err)
{
    env_err_clear(err);
    if (lib == NULL || uri == NULL || fn == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "envelope_kek_check: NULL argument");
    char shown[ENVELOPE_MAX_KEK_URI + 1];
    ENV_GUARD(env_uri_strip(uri, shown, sizeof(shown), err));
    size_t sl = strcspn(uri, ":");
    if (uri[sl] != ':' || sl == 0 || sl > CHECK_MAX_SCHEME ||
        strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != sl)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "\"%.200s\" is not a KEK URI; kek check takes pkcs11: and tpm2: URIs",
                        shown);
    if (strlen(uri) + sizeof(ENVELOPE_CHECK_STORE_SUFFIX) > ENVELOPE_MAX_CHECK_URI)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT, "the URI is longer than %d bytes",
                        ENVELOPE_MAX_CHECK_URI - (int)sizeof(ENVELOPE_CHECK_STORE_SUFFIX));
    char store_uri[ENVELOPE_MAX_CHECK_URI + 1];
    snprintf(store_uri, sizeof(store_uri), "%.*s%s%s", (int)sl, uri, ENVELOPE_CHECK_STORE_SUFFIX,
             uri + sl);
    /* Only the envelope provider's check STORE: an unknown scheme must not
     * fall through to OpenSSL's file loader and read a file of that name. */
    char scheme[CHECK_MAX_SCHEME + sizeof(ENVELOPE_CHECK_STORE_SUFFIX)];
    snprintf(scheme, sizeof(scheme), "%.*s%s", (int)sl, uri, ENVELOPE_CHECK_STORE_SUFFIX);
    ERR_set_mark();
    OSSL_STORE_LOADER *ld = OSSL_STORE_LOADER_fetch(lib->libctx, scheme,
                                                    "provider=" ENVELOPE_PROVIDER_NAME);
    ERR_pop_to_mark();
    if (ld == NULL)
        return env_fail(err, ENVELOPE_ERR_ARGUMENT,
                        "no key home of the envelope provider checks \"%.*s:\" keys; kek check "
                        "takes pkcs11: and tpm2: URIs (is the provider loaded? check "
                        "OPENSSL_CONF or --config)",
                        (int)(sl > 32 ? 32 : sl), uri);
    OSSL_STORE_LOADER_free(ld);
    ERR_set_mark();
    OSSL_STORE_CTX *st = OSSL_STORE_open_ex(store_uri, lib->libctx,
                                            "provider=" ENVELOPE_PROVIDER_NAME, NULL, NULL, NULL,
                                            NULL, NULL);
    if (st == NULL) {
        ERR_clear_last_mark();
        return env_fail_ossl(err, ENVELOPE_ERR_KEK_NOT_FOUND, "cannot check \"%.200s\"", shown);
    }
    envelope_status s = ENVELOPE_OK;
    while (s == ENVELOPE_OK && !OSSL_STORE_eof(st)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(st);
        if (info == NULL)
            break; /* the search ran at open: the entries are all there is */
        const char *name = OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_NAME
                               ? OSSL_STORE_INFO_get0_NAME(info)
                               : NULL;
        const char *desc = name != NULL ? OSSL_STORE_INFO_get0_NAME_description(info) : NULL;
        size_t dl = desc != NULL ? strlen(desc) : 0;
        char *copy = dl > 0 ? OPENSSL_strndup(desc, dl) : NULL;
        envelope_kek_finding f[ENVELOPE_MAX_KEK_FINDINGS];
        envelope_kek_check_info ci = {.reference = name};
        if (copy == NULL || !parse(copy, &ci, f))
            s = env_fail(err, ENVELOPE_ERR_BACKEND,
                         "the envelope provider's check of \"%.200s\" answered in a form this "
                         "library does not read (a provider of another version?)",
                         shown);
        else if (fn(arg, &ci) != 0)
            s = env_fail(err, ENVELOPE_ERR_OUTPUT, "check stopped by the caller");
        OPENSSL_free(copy);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    ERR_pop_to_mark();
    return s;
}
