/*
 * provider.c - the envelope provider: init, configuration, algorithm
 * tables, teardown.
 *
 * Nothing touches a device at init: PKCS#11 modules are loaded on first
 * use, so loading the provider from openssl.cnf costs nothing for programs
 * that never use a KEK, and a module that itself loads OpenSSL (and so this
 * provider) cannot re-enter C_Initialize.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "hsm.h"
#include "provider.h"
#include "secmem.h"
#ifdef ENVELOPE_HAVE_TPM2
#include "envtpm.h"
#include "tpm2_prov.h" /* TPM 2.0 KEKs (tpm/) */
#endif

static envprov_ctx *the_ctx;
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;

envprov_ctx *envprov_ctx_get(void)
{
    return the_ctx;
}

struct hsm_ctx *envprov_hsm(envprov_ctx *pc)
{
    pthread_mutex_lock(&ctx_lock);
    if (pc->hsm == NULL) {
        hsm_config cfg = {pc->pkcs11_modules, pc->pkcs11_pin_source, pc->pkcs11_tokens,
                          pc->allow_extractable};
        pc->hsm = hsm_ctx_new(&cfg);
        if (pc->hsm == NULL)
            ENVPROV_RAISE(ENVPROV_R_INTERNAL, "out of memory creating the PKCS#11 client");
    }
    pthread_mutex_unlock(&ctx_lock);
    return pc->hsm;
}

/* DESIGN.md §2: loading us must not change what a plain fetch gets. If a
 * fetch of "RSA" with no property query lands on us, we were activated
 * before the default provider: say so once, loudly. */
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

static const OSSL_ALGORITHM keymgmt_algs[] = {
    {ENVPROV_NAMES_RSA, ENVPROV_PROPS, envprov_rsa_keymgmt_functions, "RSA keys held in a device"},
    {ENVPROV_NAMES_AES_KEK, ENVPROV_PROPS, envprov_aes_keymgmt_functions, "AES-256 KEKs held in a device"},
#ifdef ENVELOPE_HAVE_TPM2
    {ENVPROV_NAMES_EC, ENVPROV_PROPS, envprov_ec_keymgmt_functions, "EC P-256 KEKs held in a TPM"},
#endif
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM asym_algs[] = {
    {ENVPROV_OPNAME_RSA, ENVPROV_PROPS, envprov_rsa_asym_cipher_functions, NULL},
    {ENVPROV_OPNAME_AES, ENVPROV_PROPS, envprov_aead_asym_cipher_functions, NULL},
#ifdef ENVELOPE_HAVE_TPM2
    {ENVPROV_OPNAME_EC, ENVPROV_PROPS, envprov_aead_asym_cipher_functions, NULL},
#endif
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM kem_algs[] = {
    {ENVPROV_OPNAME_RSA, ENVPROV_PROPS, envprov_kem_functions, NULL},
    {ENVPROV_OPNAME_AES, ENVPROV_PROPS, envprov_kem_functions, NULL},
#ifdef ENVELOPE_HAVE_TPM2
    {ENVPROV_OPNAME_EC, ENVPROV_PROPS, envprov_kem_functions, NULL},
#endif
    {NULL, NULL, NULL, NULL},
};
/* AES KEKs have nothing to encode; the encoder says so (encode_kek.c). It
 * is listed under each output structure OpenSSL's writers ask for (the
 * PEM and DER writers skip an encoder whose structure does not match). */
#define ENVPROV_KEK_ENCODER(output, structure)                                                      \
    {ENVPROV_NAMES_AES_KEK, ENVPROV_PROPS ",output=" output structure,                              \
     envprov_kek_encoder_functions, NULL}
#define ENVPROV_KEK_ENCODERS(output)                                                                \
    ENVPROV_KEK_ENCODER(output, ",structure=PrivateKeyInfo"),                                      \
    ENVPROV_KEK_ENCODER(output, ",structure=EncryptedPrivateKeyInfo"),                             \
    ENVPROV_KEK_ENCODER(output, ",structure=SubjectPublicKeyInfo"),                                \
    ENVPROV_KEK_ENCODER(output, ",structure=type-specific")
static const OSSL_ALGORITHM encoder_algs[] = {
    ENVPROV_KEK_ENCODER("text", ""),
    ENVPROV_KEK_ENCODERS("der"),
    ENVPROV_KEK_ENCODERS("pem"),
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM store_algs[] = {
    {"pkcs11", ENVPROV_PROPS, envprov_pkcs11_store_functions, "PKCS#11 tokens (RFC 7512 URIs)"},
#ifdef ENVELOPE_HAVE_TPM2
    {"tpm2", ENVPROV_PROPS, envprov_tpm2_store_functions, "TPM 2.0 keys (tpm2:handle=|file=)"},
    {"tpm2-list", ENVPROV_PROPS, envprov_tpm2_list_store_functions, "the TPM's persistent keys (listing only)"},
#endif
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *envprov_query(void *provctx, int operation_id, int *no_cache)
{
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT: return keymgmt_algs;
    case OSSL_OP_ASYM_CIPHER: return asym_algs;
    case OSSL_OP_KEM: return kem_algs;
    case OSSL_OP_STORE: return store_algs;
    case OSSL_OP_ENCODER: return encoder_algs;
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
        OSSL_PARAM_END,
    };
    return gettable;
}

static int envprov_get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(p, "envelope: hardware-held KEKs (PKCS#11, TPM 2.0, KMS)"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(p, ENVELOPE_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(p, ENVELOPE_VERSION))
        return 0;
    /* `openssl list -providers` shows a broken configuration as inactive */
    envprov_ctx *pc = provctx;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL
        && !OSSL_PARAM_set_int(p, pc != NULL && pc->config_error == NULL))
        return 0;
    return 1;
}

static const OSSL_ITEM *envprov_reasons(void *provctx)
{
    return envprov_reason_strings();
}

static void envprov_teardown(void *provctx)
{
    envprov_ctx *pc = provctx;
    if (pc == NULL)
        return;
    hsm_ctx_free(pc->hsm);
    hsm_token_list_free(pc->pkcs11_tokens);
#ifdef ENVELOPE_HAVE_TPM2
    envprov_tpm_free(pc);
    envtpm_handle_list_free(pc->tpm2_handles);
#endif
    free(pc->pkcs11_modules);
    free(pc->pkcs11_pin_source);
    free(pc->tpm2_tcti);
    free(pc->tpm2_srk_name);
    free(pc->tpm2_pin_source);
    free(pc->config_error);
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

/*
 * A setting that cannot be read does not fail the provider's activation:
 * OpenSSL 3.0 drops a provider whose init fails without a word (unless
 * config_diagnostics is set), and every program on the host would then
 * meet "unsupported" far from the cause. Instead the provider loads, and
 * every key operation fails with the setting's own message
 * (envprov_config_ok).
 */
static void config_failed(envprov_ctx *pc)
{
    const char *data = NULL;
    int flags = 0;
    ERR_peek_last_error_data(&data, &flags);
    if (pc->config_error == NULL)
        pc->config_error = strdup(data != NULL && (flags & ERR_TXT_STRING) ? data : "unreadable setting");
    ERR_clear_error();
}

int envprov_config_ok(const envprov_ctx *pc)
{
    if (pc->config_error == NULL)
        return 1;
    ENVPROV_RAISE(ENVPROV_R_BAD_CONFIG, "the envelope provider's openssl.cnf section is wrong, "
                                        "so it does nothing until it is fixed: %s",
                  pc->config_error);
    return 0;
}

static int parse_bool(const char *name, const char *v, int dflt, int *out)
{
    if (v == NULL) {
        *out = dflt;
        return 1;
    }
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
        *out = 0;
    else {
        ENVPROV_RAISE(ENVPROV_R_BAD_CONFIG, "%s = %s: expected yes or no", name, v);
        return 0;
    }
    return 1;
}

static char *dup_or_null(const char *s)
{
    return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

static int read_config(envprov_ctx *pc, const OSSL_DISPATCH *in)
{
    OSSL_FUNC_core_get_params_fn *get_params = NULL;
    for (const OSSL_DISPATCH *d = in; d->function_id != 0; d++)
        if (d->function_id == OSSL_FUNC_CORE_GET_PARAMS)
            get_params = OSSL_FUNC_core_get_params(d);
    if (get_params == NULL)
        return 0;
    char *module = NULL, *pin = NULL, *v15 = NULL, *allow = NULL, *tcti = NULL, *srk = NULL,
         *tpin = NULL, *tokens = NULL, *handles = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_PKCS11_MODULE, &module, 0),
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_PKCS11_PIN_SOURCE, &pin, 0),
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_RSA_PKCS1_V15, &v15, 0),
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_ALLOW_EXTRACTABLE, &allow, 0),
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_TPM2_TCTI, &tcti, 0),
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_TPM2_SRK_NAME, &srk, 0),
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_TPM2_PIN_SOURCE, &tpin, 0),
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_PKCS11_TOKENS, &tokens, 0),
        OSSL_PARAM_utf8_ptr(ENVPROV_CONF_TPM2_HANDLES, &handles, 0),
        OSSL_PARAM_END,
    };
    if (!get_params(pc->handle, params))
        return 0;
    /* No environment override of the module list: the modules this
     * provider loads are the ones openssl.cnf names (docs/SECURITY.md). */
    pc->pkcs11_modules = dup_or_null(module);
    pc->pkcs11_pin_source = dup_or_null(pin);
    pc->tpm2_tcti = dup_or_null(tcti);
    pc->tpm2_srk_name = dup_or_null(srk);
    pc->tpm2_pin_source = dup_or_null(tpin);
    /* A malformed setting is a sticky error (config_failed), never a
     * silently shorter list: a PIN binding that lost an entry would fail
     * later and far from its cause. */
    if (hsm_token_list_parse(tokens, pc->pkcs11_pin_source, &pc->pkcs11_tokens) != ENVPROV_R_OK)
        config_failed(pc);
#ifdef ENVELOPE_HAVE_TPM2
    if (envtpm_handle_list_parse(handles, pc->tpm2_pin_source, &pc->tpm2_handles) != ENVPROV_R_OK)
        config_failed(pc);
#else
    if (handles != NULL && *handles != '\0') {
        ENVPROV_RAISE(ENVPROV_R_BAD_CONFIG, "tpm2-handles is set, but this envelope.so was "
                                            "built without TPM 2.0 support");
        config_failed(pc);
    }
#endif
    if (!parse_bool(ENVPROV_CONF_RSA_PKCS1_V15, v15, 1, &pc->rsa_pkcs1_v15))
        config_failed(pc);
    if (!parse_bool(ENVPROV_CONF_ALLOW_EXTRACTABLE, allow, 0, &pc->allow_extractable))
        config_failed(pc);
    return 1;
}

/* The one exported symbol (everything else is hidden by the build). */
__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    envprov_errors_init(handle, in);
    envprov_ctx *pc = calloc(1, sizeof(*pc));
    if (pc == NULL)
        return 0;
    pc->handle = handle;
    if (!read_config(pc, in))
        goto err;
    pc->libctx = OSSL_LIB_CTX_new_child(handle, in);
    pc->swctx = OSSL_LIB_CTX_new();
    if (pc->libctx == NULL || pc->swctx == NULL || (pc->swdefault = OSSL_PROVIDER_load(pc->swctx, "default")) == NULL) {
        ENVPROV_RAISE(ENVPROV_R_INTERNAL, "cannot create the provider's library contexts");
        goto err;
    }
    pthread_mutex_lock(&ctx_lock);
    if (the_ctx == NULL)
        the_ctx = pc;
    pthread_mutex_unlock(&ctx_lock);
    envprov_debug("provider: loaded (pkcs11-module=%s, rsa-pkcs1-v15=%s)",
                  pc->pkcs11_modules ? pc->pkcs11_modules : "(none)",
                  pc->rsa_pkcs1_v15 ? "yes" : "no");
    *out = envprov_dispatch;
    *provctx = pc;
    return 1;
err:
    envprov_teardown(pc);
    return 0;
}
