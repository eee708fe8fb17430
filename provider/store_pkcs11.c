/*
 * store_pkcs11.c - STORE for the pkcs11: scheme (RFC 7512).
 *
 * OSSL_STORE_open("pkcs11:token=prod;object=payments-v1;type=secret-key")
 * finds the keys at open time (so a wrong PIN or a missing object is
 * reported by OSSL_STORE_open itself, with a specific reason) and hands each
 * to OpenSSL as a reference that our KEYMGMT load() turns back into a key.
 *
 * export_object refuses private and secret keys: OpenSSL first offers a
 * reference to the KEYMGMT it fetched by name (for "RSA", usually the
 * default provider's); refusing makes it fall back to our own KEYMGMT
 * instead of building a software key that lacks its private half.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "hsm.h"
#include "keymgmt_common.h"
#include "provider.h"

#define STORE_MAX_KEYS 128

typedef struct {
    envprov_ctx *pc;
    envkey *keys[STORE_MAX_KEYS];
    size_t nkeys, next;
    int expect; /* OSSL_STORE_INFO_* or 0 */
} store_ctx;

static OSSL_FUNC_store_open_fn store_open;
static OSSL_FUNC_store_settable_ctx_params_fn store_settable_ctx_params;
static OSSL_FUNC_store_set_ctx_params_fn store_set_ctx_params;
static OSSL_FUNC_store_load_fn store_load;
static OSSL_FUNC_store_eof_fn store_eof;
static OSSL_FUNC_store_close_fn store_close;
static OSSL_FUNC_store_export_object_fn store_export_object;

static int collect(envkey *k, void *arg)
{
    store_ctx *s = arg;
    if (s->nkeys == STORE_MAX_KEYS) {
        ENVPROV_RAISE(ENVPROV_R_BAD_URI, "the URI matches more than %d keys: name the object",
                      STORE_MAX_KEYS);
        return ENVPROV_R_BAD_URI;
    }
    s->keys[s->nkeys++] = envkey_up(k);
    return ENVPROV_R_OK;
}

static void *store_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    if (!hsm_is_pkcs11_uri(uri))
        return NULL;
    envprov_check_order(pc);
    struct hsm_ctx *h = envprov_hsm(pc);
    if (h == NULL)
        return NULL;
    store_ctx *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->pc = pc;
    if (hsm_find_keys(h, pc->swctx, uri, collect, s) != ENVPROV_R_OK) {
        store_close(s);
        return NULL;
    }
    return s;
}

static const OSSL_PARAM *store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_END,
    };
    return settable;
}

static int store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
    store_ctx *s = loaderctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p != NULL && !OSSL_PARAM_get_int(p, &s->expect))
        return 0;
    return 1;
}

static int wanted(const store_ctx *s, const envkey *k)
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

static int store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    store_ctx *s = loaderctx;
    while (s->next < s->nkeys && !wanted(s, s->keys[s->next]))
        s->next++;
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

static int store_eof(void *loaderctx)
{
    store_ctx *s = loaderctx;
    while (s->next < s->nkeys && !wanted(s, s->keys[s->next]))
        s->next++;
    return s->next >= s->nkeys;
}

static int store_close(void *loaderctx)
{
    store_ctx *s = loaderctx;
    if (s == NULL)
        return 1;
    for (size_t i = 0; i < s->nkeys; i++)
        envkey_free(s->keys[i]);
    free(s);
    return 1;
}

static int store_export_object(void *loaderctx, const void *reference, size_t reference_sz,
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

const OSSL_DISPATCH envprov_pkcs11_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))store_export_object},
    {0, NULL},
};
