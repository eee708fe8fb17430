/*
 * store_tpm2.c - STORE for the tpm2: scheme (URI grammar: docs/TPM.md),
 * the provider's lazily created TPM client, and KEK creation at tpm2: URIs.
 *
 * As with pkcs11:, the key is opened at OSSL_STORE_open time (a missing
 * key, a refused SRK or an unreachable TPM is reported there with its own
 * reason) and handed to OpenSSL as a reference our KEYMGMT load() takes
 * back; export_object refuses keys with a private half so OpenSSL falls
 * back to our KEYMGMT instead of building a software key.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "envtpm.h"
#include "keymgmt_common.h"
#include "tpm2_prov.h"

static pthread_mutex_t tpm_lock = PTHREAD_MUTEX_INITIALIZER;

int envprov_is_tpm2_uri(const char *uri)
{
    return uri != NULL && strncmp(uri, "tpm2:", 5) == 0;
}

struct envtpm_ctx *envprov_tpm(envprov_ctx *pc)
{
    struct envtpm_ctx *t;

    pthread_mutex_lock(&tpm_lock);
    if (pc->tpm == NULL) {
        envtpm_config cfg = { pc->tpm2_tcti, pc->tpm2_srk_name, pc->tpm2_pin_source, pc->swctx };
        if (envtpm_ctx_new(&cfg, &pc->tpm) != ENVPROV_R_OK)
            pc->tpm = NULL;
    }
    t = pc->tpm;
    pthread_mutex_unlock(&tpm_lock);
    return t;
}

void envprov_tpm_free(envprov_ctx *pc)
{
    pthread_mutex_lock(&tpm_lock);
    envtpm_ctx_free(pc->tpm);
    pc->tpm = NULL;
    pthread_mutex_unlock(&tpm_lock);
}

envkey *envprov_tpm_generate(envprov_ctx *pc, envkey_kind kind, const char *uri, int bits)
{
    struct envtpm_ctx *t = envprov_tpm(pc);
    envtpm_create_params p = { 0 };
    envkey *k = NULL;

    if (t == NULL)
        return NULL;
    if (kind == ENVKEY_RSA && bits != 2048) {
        ENVPROV_RAISE(ENVPROV_R_MECHANISM_NOT_SUPPORTED,
                      "TPM RSA KEKs are 2048 bits (what TPMs implement); asked for %d", bits);
        return NULL;
    }
    p.type = kind == ENVKEY_EC_P256 ? ENVTPM_KEY_EC_P256 : ENVTPM_KEY_RSA_2048;
    if (envtpm_key_create(t, uri, &p) != ENVPROV_R_OK ||
        envtpm_open_key(t, uri, &k) != ENVPROV_R_OK)
        return NULL;
    envprov_debug("keygen: created %s", k->uri);
    return k;
}

typedef struct {
    envprov_ctx *pc;
    envkey *key;
    int done;
    int expect;
} store_ctx;

static OSSL_FUNC_store_open_fn store_open;
static OSSL_FUNC_store_settable_ctx_params_fn store_settable_ctx_params;
static OSSL_FUNC_store_set_ctx_params_fn store_set_ctx_params;
static OSSL_FUNC_store_load_fn store_load;
static OSSL_FUNC_store_eof_fn store_eof;
static OSSL_FUNC_store_close_fn store_close;
static OSSL_FUNC_store_export_object_fn store_export_object;

static void *store_open(void *provctx, const char *uri)
{
    envprov_ctx *pc = provctx;
    struct envtpm_ctx *t;
    store_ctx *s;

    if (!envprov_is_tpm2_uri(uri))
        return NULL;
    envprov_check_order(pc);
    t = envprov_tpm(pc);
    if (t == NULL)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->pc = pc;
    if (envtpm_open_key(t, uri, &s->key) != ENVPROV_R_OK) {
        free(s);
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

static int wanted(const store_ctx *s)
{
    return s->expect == 0 || s->expect == OSSL_STORE_INFO_PKEY ||
           s->expect == OSSL_STORE_INFO_PUBKEY;
}

static int store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    store_ctx *s = loaderctx;
    int type = OSSL_OBJECT_PKEY;
    envprov_keyref ref;
    const char *data_type;

    if (s->done || !wanted(s))
        return 0;
    s->done = 1;
    ref.magic = ENVPROV_KEYREF_MAGIC;
    ref.key = s->key;
    data_type = s->key->kind == ENVKEY_RSA ? "RSA" : "EC";
    {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type),
            OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)data_type, 0),
            OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref, sizeof(ref)),
            OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, s->key->uri, 0),
            OSSL_PARAM_construct_end(),
        };
        return object_cb(params, object_cbarg);
    }
}

static int store_eof(void *loaderctx)
{
    store_ctx *s = loaderctx;
    return s->done || !wanted(s);
}

static int store_close(void *loaderctx)
{
    store_ctx *s = loaderctx;
    if (s == NULL)
        return 1;
    envkey_free(s->key);
    free(s);
    return 1;
}

static int store_export_object(void *loaderctx, const void *reference, size_t reference_sz,
                               OSSL_CALLBACK *export_cb, void *export_cbarg)
{
    envprov_keyref ref;
    OSSL_PARAM *params = NULL;
    int ok;

    if (reference_sz != sizeof(ref))
        return 0;
    memcpy(&ref, reference, sizeof(ref));
    if (ref.magic != ENVPROV_KEYREF_MAGIC || ref.key == NULL)
        return 0;
    /* TPM keys always have their private half in the TPM: never export */
    if (ref.key->has_private || ref.key->pub == NULL)
        return 0;
    if (EVP_PKEY_todata(ref.key->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
        return 0;
    ok = export_cb(params, export_cbarg);
    OSSL_PARAM_free(params);
    return ok;
}

const OSSL_DISPATCH envprov_tpm2_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))store_export_object},
    {0, NULL},
};
