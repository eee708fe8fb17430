/*
 * asym_aead.c - ASYM_CIPHER "ENVELOPE-AES-KEK" and "ENVELOPE-EC": keys that
 * only ever wrap. EVP_PKEY_encrypt wraps a small payload (<= 64 bytes: a
 * key) and EVP_PKEY_decrypt unwraps it, binding the "aad" ctx param (empty
 * when not set); wrap.c does the work for each kind:
 *   AES-256 KEK in a device: AES-GCM inside the device (wrapblob.h);
 *   EC P-256 KEK in a TPM: software ECDH + HKDF + AES-GCM, unwrap with one
 *   TPM2_ECDH_ZGen (ec_wrap.h).
 * This is what `openssl pkeyutl -encrypt -inkey pkcs11:...;type=secret-key`
 * produces. There is no "raw" encryption with these keys to fall back to.
 */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "params.h"
#include "provider.h"
#include "wrap.h"

typedef struct {
    envprov_ctx *pc;
    envkey *key;
    unsigned char aad[ENVELOPE_MAX_AAD];
    size_t aad_len;
    envprov_call_opts call; /* per-call cache TTL, retired-key override */
} aead_ctx;

static OSSL_FUNC_asym_cipher_newctx_fn aead_newctx;
static OSSL_FUNC_asym_cipher_freectx_fn aead_freectx;
static OSSL_FUNC_asym_cipher_dupctx_fn aead_dupctx;
static OSSL_FUNC_asym_cipher_encrypt_init_fn aead_op_init;
static OSSL_FUNC_asym_cipher_encrypt_fn aead_encrypt;
static OSSL_FUNC_asym_cipher_decrypt_fn aead_decrypt;
static OSSL_FUNC_asym_cipher_set_ctx_params_fn aead_set_ctx_params;
static OSSL_FUNC_asym_cipher_settable_ctx_params_fn aead_settable_ctx_params;

static void *aead_newctx(void *provctx)
{
    aead_ctx *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->pc = provctx;
    return c;
}

static void aead_freectx(void *vctx)
{
    aead_ctx *c = vctx;
    if (c == NULL)
        return;
    envkey_free(c->key);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

static void *aead_dupctx(void *vctx)
{
    aead_ctx *d = malloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    *d = *(aead_ctx *)vctx;
    envkey_up(d->key);
    return d;
}

static int aead_op_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    aead_ctx *c = vctx;
    envkey *k = key;
    if (k == NULL || (k->kind != ENVKEY_AES_KEK && k->kind != ENVKEY_EC_P256)) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "this cipher needs an envelope AES or EC KEK");
        return 0;
    }
    envkey_free(c->key);
    c->key = envkey_up(k);
    c->aad_len = 0;
    c->call = ENVPROV_CALL_OPTS_DEFAULT;
    return aead_set_ctx_params(c, params);
}

static int aead_encrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                        const unsigned char *in, size_t inlen)
{
    aead_ctx *c = vctx;
    if (out == NULL) {
        *outlen = envprov_wrap_size(c->key, inlen);
        return 1;
    }
    return envprov_wrap(c->pc, c->key, c->aad, c->aad_len, in, inlen, out, outlen, outsize,
                        c->call.rewrap) == ENVCORE_R_OK;
}

static int aead_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                        const unsigned char *in, size_t inlen)
{
    aead_ctx *c = vctx;
    if (out == NULL) {
        *outlen = ENVELOPE_MAX_WRAP_PLAINTEXT;
        return 1;
    }
    return envprov_unwrap(c->pc, c->key, c->aad, c->aad_len, in, inlen, out, outlen, outsize,
                          &c->call) == ENVCORE_R_OK;
}

static int aead_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    aead_ctx *c = vctx;
    if (params == NULL)
        return 1;
    if (!envprov_param_call_opts(params, &c->call))
        return 0;
    if (!envprov_param_aad(params, c->aad, &c->aad_len, NULL))
        return 0;
    return 1;
}

static const OSSL_PARAM *aead_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, NULL, 0),
        OSSL_PARAM_uint64(ENVELOPE_PKEY_PARAM_CACHE_TTL, NULL),
        OSSL_PARAM_int(ENVELOPE_PKEY_PARAM_ALLOW_RETIRED, NULL),
        OSSL_PARAM_utf8_string(ENVELOPE_PKEY_PARAM_PURPOSE, NULL, 0),
        OSSL_PARAM_END,
    };
    return settable;
}

const OSSL_DISPATCH envprov_aead_asym_cipher_functions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))aead_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))aead_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))aead_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))aead_op_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))aead_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))aead_op_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))aead_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))aead_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))aead_settable_ctx_params},
    {0, NULL},
};
