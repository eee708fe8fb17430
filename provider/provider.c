/*
 * provider.c - the envelope provider: init, the backend lookup, algorithm
 * queries, teardown.
 *
 * Nothing touches a device at init: the backends' clients are made from
 * the settings, and PKCS#11 modules and TPMs are opened on first use, so
 * loading the provider from openssl.cnf costs nothing for programs that
 * never use a KEK, and a module that itself loads OpenSSL (and so this
 * provider) cannot re-enter C_Initialize.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "provider.h"
#include "wrap.h"

static envprov_ctx *the_ctx;
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;

envprov_ctx *envprov_ctx_get(void)
{
    return the_ctx;
}

const envcore_backend *envprov_backend_for(envprov_ctx *pc, const char *uri, void **client)
{
    char schemes[128] = "";
    *client = NULL;
    for (size_t b = 0; b < pc->nbackends; b++) {
        if (pc->backends[b]->probe(uri)) {
            *client = pc->clients[b];
            return pc->backends[b];
        }
        size_t l = strlen(schemes);
        snprintf(schemes + l, sizeof(schemes) - l, "%s%s:", l ? " or " : "",
                 pc->backends[b]->scheme);
    }
    ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                  "\"%.64s\" is not a URI of a key home this envelope.so "
                  "serves (%s)",
                  uri != NULL ? uri : "", schemes);
    return NULL;
}

/* Loading us must not change what a plain fetch gets (docs/PROVIDER.md,
 * "Provider order"). If a fetch of "RSA" with no property query lands on
 * us, we were activated before the default provider: say so once, loudly. */
void envprov_check_order(envprov_ctx *pc)
{
    static int checked;
    if (__atomic_exchange_n(&checked, 1, __ATOMIC_ACQ_REL))
        return;
    EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(pc->libctx, "RSA", NULL);
    if (km != NULL) {
        const char *name = OSSL_PROVIDER_get0_name(EVP_KEYMGMT_get0_provider(km));
        if (name != NULL && strcmp(name, ENVELOPE_PROVIDER_NAME) == 0)
            fprintf(stderr, "envelope: warning: the envelope provider is activated before the "
                            "default provider, so plain RSA operations reach it; list default "
                            "first in openssl.cnf (see conf/openssl-softhsm2.cnf)\n");
    }
    EVP_KEYMGMT_free(km);
}

/* AES KEKs have nothing to encode; the encoder says so (encode_kek.c). It
 * is listed under each output structure OpenSSL's writers ask for (the
 * PEM and DER writers skip an encoder whose structure does not match). */
#define ENVPROV_KEK_ENCODER(output, structure)                                                     \
    {                                                                                              \
        ENVPROV_NAMES_AES_KEK, ENVPROV_PROPS ",output=" output structure,                          \
            envprov_kek_encoder_functions, NULL                                                    \
    }
#define ENVPROV_KEK_ENCODERS(output)                                                               \
    ENVPROV_KEK_ENCODER(output, ",structure=PrivateKeyInfo"),                                      \
        ENVPROV_KEK_ENCODER(output, ",structure=EncryptedPrivateKeyInfo"),                         \
        ENVPROV_KEK_ENCODER(output, ",structure=SubjectPublicKeyInfo"),                            \
        ENVPROV_KEK_ENCODER(output, ",structure=type-specific")
static const OSSL_ALGORITHM encoder_algs[] = {
    ENVPROV_KEK_ENCODER("text", ""),
    ENVPROV_KEK_ENCODERS("der"),
    ENVPROV_KEK_ENCODERS("pem"),
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM *envprov_query(void *provctx, int operation_id, int *no_cache)
{
    envprov_ctx *pc = provctx;
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT: return pc->keymgmt_algs;
    case OSSL_OP_ASYM_CIPHER: return pc->asym_algs;
    case OSSL_OP_KEM: return pc->kem_algs;
    case OSSL_OP_STORE: return pc->store_algs;
    case OSSL_OP_ENCODER: /* AES KEKs only */
        return (pc->kinds & ENVCORE_KIND(ENVKEY_AES_KEK)) ? encoder_algs : NULL;
    default: return NULL;
    }
}

static const OSSL_PARAM *envprov_gettable_params(void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
        OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
        OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_CONFIG_ERROR, NULL, 0),
        OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_KEK_PREFERENCE, NULL, 0),
        OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_DEK_REUSE_MESSAGES, NULL, 0),
        OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_DEK_REUSE_BYTES, NULL, 0),
        OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_DEK_REUSE_SECONDS, NULL, 0),
        OSSL_PARAM_utf8_ptr(ENVELOPE_PROV_PARAM_DEK_PARTITION_KEY, NULL, 0),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_HITS, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_MISSES, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_JOINS, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_REFRESHES, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_REFRESH_FAILURES, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_EVICTIONS, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_EXPIRATIONS, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_BACKEND_CALLS, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_BACKEND_ERRORS, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_CACHE_ENTRIES, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_KEM_REUSED, NULL),
        OSSL_PARAM_uint64(ENVELOPE_PROV_PARAM_KEM_REUSE_WINDOWS, NULL),
        OSSL_PARAM_END,
    };
    return gettable;
}

static int envprov_get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, "envelope: hardware-held KEKs (PKCS#11, TPM 2.0, KMS)"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, ENVELOPE_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, ENVELOPE_VERSION))
        return 0;
    /* `openssl list -providers` shows a broken configuration as inactive */
    envprov_ctx *pc = provctx;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL &&
        !OSSL_PARAM_set_int(p, pc != NULL && pc->config_error == NULL))
        return 0;
    if ((p = OSSL_PARAM_locate(params, ENVELOPE_PROV_PARAM_CONFIG_ERROR)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, pc != NULL && pc->config_error != NULL ? pc->config_error : ""))
        return 0;
    /* settings libenvelope reads as written (validated at init) */
    static const char *const passed[][2] = {
        {ENVELOPE_PROV_PARAM_KEK_PREFERENCE, ENVPROV_CONF_KEK_PREFERENCE},
        {ENVELOPE_PROV_PARAM_DEK_REUSE_MESSAGES, ENVPROV_CONF_DEK_REUSE_MESSAGES},
        {ENVELOPE_PROV_PARAM_DEK_REUSE_BYTES, ENVPROV_CONF_DEK_REUSE_BYTES},
        {ENVELOPE_PROV_PARAM_DEK_REUSE_SECONDS, ENVPROV_CONF_DEK_REUSE_SECONDS},
        {ENVELOPE_PROV_PARAM_DEK_PARTITION_KEY, ENVPROV_CONF_DEK_PARTITION_KEY},
    };
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++) {
        if ((p = OSSL_PARAM_locate(params, passed[i][0])) == NULL)
            continue;
        /* nothing from a section that was refused */
        const char *v = pc != NULL && pc->config_error == NULL
                            ? envcore_setting(pc->settings, passed[i][1])
                            : NULL;
        if (!OSSL_PARAM_set_utf8_ptr(p, v != NULL ? v : ""))
            return 0;
    }
    return envprov_cache_get_params(pc, params);
}

static const OSSL_ITEM *envprov_reasons(void *provctx)
{
    return envcore_reason_strings();
}

static void envprov_teardown(void *provctx)
{
    envprov_ctx *pc = provctx;
    if (pc == NULL)
        return;
    envprov_config_free(pc);
    envprov_algs_free(pc);
    OSSL_PROVIDER_unload(pc->swdefault);
    OSSL_LIB_CTX_free(pc->swctx);
    OSSL_LIB_CTX_free(pc->libctx);
    pthread_mutex_lock(&ctx_lock);
    if (the_ctx == pc)
        the_ctx = NULL;
    pthread_mutex_unlock(&ctx_lock);
    free(pc);
}

static const OSSL_DISPATCH envprov_dispatch[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))envprov_teardown},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))envprov_gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))envprov_get_params},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))envprov_query},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))envprov_reasons},
    {0, NULL},
};

/* The one exported symbol (everything else is hidden by the build). */
__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    envcore_errors_init(handle, in);
    envprov_ctx *pc = calloc(1, sizeof(*pc));
    if (pc == NULL)
        return 0;
    pc->handle = handle;
    pc->libctx = OSSL_LIB_CTX_new_child(handle, in);
    pc->swctx = OSSL_LIB_CTX_new();
    if (pc->libctx == NULL || pc->swctx == NULL ||
        (pc->swdefault = OSSL_PROVIDER_load(pc->swctx, "default")) == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "cannot create the provider's library contexts");
        goto err;
    }
    if (!envprov_config_read(pc, in) || !envprov_algs_build(pc))
        goto err;
    pthread_mutex_lock(&ctx_lock);
    if (the_ctx == NULL)
        the_ctx = pc;
    pthread_mutex_unlock(&ctx_lock);
    envcore_debug("provider: loaded (%zu backends, rsa-pkcs1-v15=%s%s%s)", pc->nbackends,
                  pc->rsa_pkcs1_v15 ? "yes" : "no",
                  pc->config_error ? "; configuration error: " : "",
                  pc->config_error ? pc->config_error : "");
    *out = envprov_dispatch;
    *provctx = pc;
    return 1;
err:
    envprov_teardown(pc);
    return 0;
}
