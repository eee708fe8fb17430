/* params.c - see params.h. */
#include "params.h"

#include <string.h>

#include "provider.h"

int envprov_param_aad(const OSSL_PARAM params[], unsigned char *aad, size_t *len, int *set)
{
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, ENVELOPE_PKEY_PARAM_AAD);
    if (p == NULL)
        return 1;
    /* Read into a local length: OSSL_PARAM_get_octet_string stores the
     * used length before it checks it against the buffer (3.0). */
    size_t n = 0;
    void *buf = aad;
    if (p->data_type != OSSL_PARAM_OCTET_STRING || p->data_size > ENVELOPE_MAX_AAD ||
        !OSSL_PARAM_get_octet_string(p, &buf, ENVELOPE_MAX_AAD, &n) || n > ENVELOPE_MAX_AAD) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "aad must be an octet string of at most %d bytes",
                      ENVELOPE_MAX_AAD);
        return 0;
    }
    *len = n;
    if (set != NULL)
        *set = 1;
    return 1;
}

int envprov_param_call_opts(const OSSL_PARAM params[], envprov_call_opts *o)
{
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, ENVELOPE_PKEY_PARAM_CACHE_TTL);
    uint64_t v = 0;
    int allow = 0;
    if (p != NULL && !OSSL_PARAM_get_uint64(p, &v)) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "%s must be an unsigned integer (milliseconds)",
                      ENVELOPE_PKEY_PARAM_CACHE_TTL);
        return 0;
    }
    if (p != NULL)
        o->cache_ttl_ms = v;
    p = OSSL_PARAM_locate_const(params, ENVELOPE_PKEY_PARAM_ALLOW_RETIRED);
    if (p != NULL && !OSSL_PARAM_get_int(p, &allow)) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "%s must be an integer (1 to allow)",
                      ENVELOPE_PKEY_PARAM_ALLOW_RETIRED);
        return 0;
    }
    if (p != NULL)
        o->allow_retired = allow != 0;
    p = OSSL_PARAM_locate_const(params, ENVELOPE_PKEY_PARAM_PURPOSE);
    if (p != NULL) {
        if (!envprov_param_is(p, ENVELOPE_PURPOSE_REWRAP)) {
            ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "%s must be \"%s\"", ENVELOPE_PKEY_PARAM_PURPOSE,
                          ENVELOPE_PURPOSE_REWRAP);
            return 0;
        }
        o->rewrap = 1;
    }
    return 1;
}

int envprov_param_is(const OSSL_PARAM *p, const char *want)
{
    const char *s = NULL;
    if (p == NULL || p->data_type != OSSL_PARAM_UTF8_STRING ||
        !OSSL_PARAM_get_utf8_string_ptr(p, &s))
        return 0;
    size_t n = strnlen(s, p->data_size + 1);
    return n <= p->data_size && strlen(want) == n && memcmp(s, want, n) == 0;
}
