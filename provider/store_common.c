/*
 * store_common.c - the loader every scheme's STORE shares (see
 * store_common.h).
 */
#include "store_common.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "keymgmt_common.h"

#define STORE_MAX_KEYS 128

struct envprov_store {
    envprov_ctx *pc;
    envkey *keys[STORE_MAX_KEYS];
    size_t nkeys, next;
    int expect; /* OSSL_STORE_INFO_* or 0 */
};

envprov_store *envprov_store_new(envprov_ctx *pc)
{
    envprov_store *s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->pc = pc;
    return s;
}

int envprov_store_add(envkey *k, void *store)
{
    envprov_store *s = store;
    if (s->nkeys == STORE_MAX_KEYS) {
        ENVPROV_RAISE(ENVPROV_R_BAD_URI, "the URI matches more than %d keys: name the object",
                      STORE_MAX_KEYS);
        return ENVPROV_R_BAD_URI;
    }
    s->keys[s->nkeys++] = envkey_up(k);
    return ENVPROV_R_OK;
}

const OSSL_PARAM *envprov_store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_END,
    };
    return settable;
}

int envprov_store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
    envprov_store *s = loaderctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p != NULL && !OSSL_PARAM_get_int(p, &s->expect))
        return 0;
    return 1;
}

static int wanted(const envprov_store *s, const envkey *k)
{
    switch (s->expect) {
    case 0:
        return 1;
    case OSSL_STORE_INFO_PKEY:
        return k->has_private;
    case OSSL_STORE_INFO_PUBKEY:
        return k->kind == ENVKEY_RSA || k->kind == ENVKEY_EC_P256;
    default:
        return 0; /* no certificates, CRLs or parameters here */
    }
}

static void skip_unwanted(envprov_store *s)
{
    while (s->next < s->nkeys && !wanted(s, s->keys[s->next]))
        s->next++;
}

int envprov_store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                       OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    envprov_store *s = loaderctx;
    skip_unwanted(s);
    if (s->next >= s->nkeys)
        return 0;
    envkey *k = s->keys[s->next++];
    int type = OSSL_OBJECT_PKEY;
    envprov_keyref ref = {ENVPROV_KEYREF_MAGIC, k};
    const char *data_type = k->kind == ENVKEY_AES_KEK ? ENVELOPE_KEYTYPE_AES_KEK
                            : k->kind == ENVKEY_RSA   ? "RSA"
                                                      : "EC";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)data_type, 0),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref, sizeof(ref)),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, k->uri ? k->uri : (char *)"", 0),
        OSSL_PARAM_construct_end(),
    };
    return object_cb(params, object_cbarg);
}

int envprov_store_eof(void *loaderctx)
{
    envprov_store *s = loaderctx;
    skip_unwanted(s);
    return s->next >= s->nkeys;
}

int envprov_store_close(void *loaderctx)
{
    envprov_store *s = loaderctx;
    if (s == NULL)
        return 1;
    for (size_t i = 0; i < s->nkeys; i++)
        envkey_free(s->keys[i]);
    free(s);
    return 1;
}

int envprov_store_export_object(void *loaderctx, const void *reference, size_t reference_sz,
                                OSSL_CALLBACK *export_cb, void *export_cbarg)
{
    envprov_keyref ref;
    if (reference_sz != sizeof(ref))
        return 0;
    memcpy(&ref, reference, sizeof(ref));
    if (ref.magic != ENVPROV_KEYREF_MAGIC || ref.key == NULL)
        return 0;
    /* Only a public-only key can be handed to another provider whole. */
    if (ref.key->has_private || ref.key->pub == NULL)
        return 0;
    OSSL_PARAM *params = NULL;
    if (EVP_PKEY_todata(ref.key->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
        return 0;
    int ok = export_cb(params, export_cbarg);
    OSSL_PARAM_free(params);
    return ok;
}
