/*
 * unwrap_order.c - the order in which a message's EDKs are tried: the
 * envelope provider's kek-preference (docs/PROVIDER.md), read once per
 * library context. A message lists its EDKs in the order its writer chose;
 * the reader's operator knows which homes are near and cheap (a local
 * token before a KMS across the network), so EDKs whose reference matches
 * an earlier entry go first, and the rest keep their order after them.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "envelope/provider.h"
#include "internal.h"
#include "uri_match.h"

static int read_pref(OSSL_PROVIDER *prov, void *arg)
{
    envelope_lib *lib = arg;
    if (strcmp(OSSL_PROVIDER_get0_name(prov), ENVELOPE_PROVIDER_NAME) != 0)
        return 1;
    const char *pref = NULL;
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_KEK_PREFERENCE, &pref, 0),
                      OSSL_PARAM_END};
    if (OSSL_PROVIDER_get_params(prov, p) != 1 || pref == NULL)
        return 0; /* an older provider: no preference */
    for (const char *s = pref; *s != '\0' && lib->npref < ENVELOPE_MAX_EDKS;) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        size_t n = strcspn(s, ",");
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n > 0 && n <= ENVELOPE_MAX_KEK_URI && memchr(s, ':', n) != NULL &&
            (lib->pref[lib->npref] = OPENSSL_strndup(s, n)) != NULL)
            lib->npref++;
        s += strcspn(s, ",");
    }
    return 0;
}

void env_lib_read_preference(envelope_lib *lib)
{
    ERR_set_mark();
    OSSL_PROVIDER_do_all(lib->libctx, read_pref, lib);
    ERR_pop_to_mark();
}

static size_t rank_of(const envelope_lib *lib, const env_edk *e)
{
    char ref[ENVELOPE_MAX_KEK_URI + 1];
    if (e->uri_len == 0 || e->uri_len > ENVELOPE_MAX_KEK_URI ||
        memchr(e->uri, '\0', e->uri_len) != NULL)
        return lib->npref;
    memcpy(ref, e->uri, e->uri_len);
    ref[e->uri_len] = '\0';
    for (size_t i = 0; i < lib->npref; i++)
        if (envcore_uri_names(lib->pref[i], ref, 1))
            return i;
    return lib->npref;
}

void env_unwrap_order(const envelope_lib *lib, const env_header *h, size_t *order)
{
    size_t rank[ENVELOPE_MAX_EDKS];
    for (size_t i = 0; i < h->edk_count; i++) {
        order[i] = i;
        rank[i] = lib->npref > 0 ? rank_of(lib, &h->edks[i]) : 0;
    }
    /* stable insertion sort: at most 16 */
    for (size_t i = 1; i < h->edk_count; i++)
        for (size_t j = i; j > 0 && rank[order[j - 1]] > rank[order[j]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}
