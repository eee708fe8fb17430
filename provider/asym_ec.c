/*
 * asym_ec.c - ASYM_CIPHER "ENVELOPE-EC": AEAD wrap of a DEK to a TPM-held
 * EC P-256 KEK (ec_wrap.h). EVP_PKEY_encrypt wraps in software with the
 * public key (no TPM involved); EVP_PKEY_decrypt unwraps with one
 * TPM2_ECDH_ZGen. ENVELOPE_PKEY_PARAM_AAD binds a context; without it the
 * AAD is empty. There is no "raw" EC encryption to fall back to.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "ec_wrap.h"
#include "params.h"
#include "tpm2_prov.h"

typedef struct {
    envprov_ctx *pc;
    envkey *key;
    unsigned char aad[ENVELOPE_MAX_AAD];
    size_t aad_len;
} ec_ctx;

static OSSL_FUNC_asym_cipher_newctx_fn ec_newctx;
static OSSL_FUNC_asym_cipher_freectx_fn ec_freectx;
static OSSL_FUNC_asym_cipher_dupctx_fn ec_dupctx;
static OSSL_FUNC_asym_cipher_encrypt_init_fn ec_init;
static OSSL_FUNC_asym_cipher_encrypt_fn ec_encrypt;
static OSSL_FUNC_asym_cipher_decrypt_fn ec_decrypt;
static OSSL_FUNC_asym_cipher_set_ctx_params_fn ec_set_ctx_params;
static OSSL_FUNC_asym_cipher_settable_ctx_params_fn ec_settable_ctx_params;
static OSSL_FUNC_asym_cipher_get_ctx_params_fn ec_get_ctx_params;
static OSSL_FUNC_asym_cipher_gettable_ctx_params_fn ec_gettable_ctx_params;

static void *ec_newctx(void *provctx)
{
    ec_ctx *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->pc = provctx;
    return c;
}

static void ec_freectx(void *vctx)
{
    ec_ctx *c = vctx;
    if (c == NULL)
        return;
    envkey_free(c->key);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

static void *ec_dupctx(void *vctx)
{
    ec_ctx *d = malloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    *d = *(ec_ctx *)vctx;
    envkey_up(d->key);
    return d;
}

static int ec_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    ec_ctx *c = vctx;
    envkey *k = key;
    if (k == NULL || k->kind != ENVKEY_EC_P256) {
        ENVPROV_RAISE(ENVPROV_R_NOT_SUPPORTED, "ENVELOPE-EC needs an envelope EC P-256 key");
        return 0;
    }
    envkey_free(c->key);
    c->key = envkey_up(k);
    c->aad_len = 0;
    return ec_set_ctx_params(c, params);
}

static int ec_encrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                      const unsigned char *in, size_t inlen)
{
    ec_ctx *c = vctx;
    if (out == NULL) {
        *outlen = envprov_ec_wrap_size(inlen);
        return 1;
    }
    return envprov_ec_wrap(c->pc, c->key, c->aad, c->aad_len, in, inlen, out, outlen, outsize) ==
           ENVPROV_R_OK;
}

static int ec_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                      const unsigned char *in, size_t inlen)
{
    ec_ctx *c = vctx;
    if (out == NULL) {
        *outlen = ENVELOPE_MAX_WRAP_PLAINTEXT;
        return 1;
    }
    return envprov_ec_unwrap(c->pc, c->key, c->aad, c->aad_len, in, inlen, out, outlen,
                             outsize) == ENVPROV_R_OK;
}

static int ec_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    ec_ctx *c = vctx;
    if (params == NULL)
        return 1;
    if (!envprov_param_aad(params, c->aad, &c->aad_len, NULL))
        return 0;
    return 1;
}

static const OSSL_PARAM *ec_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, NULL, 0),
        OSSL_PARAM_END,
    };
    return settable;
}

static int ec_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    return 1;
}

static const OSSL_PARAM *ec_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM gettable[] = { OSSL_PARAM_END };
    return gettable;
}

const OSSL_DISPATCH envprov_ec_asym_cipher_functions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))ec_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))ec_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))ec_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))ec_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))ec_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))ec_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))ec_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))ec_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))ec_settable_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))ec_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))ec_gettable_ctx_params},
    {0, NULL},
};
