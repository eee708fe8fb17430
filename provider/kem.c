/*
 * kem.c - KEM for every envelope key: encapsulate makes a fresh 32-byte
 * secret (a DEK) and wraps it with the key (wrap.c), binding the "aad" ctx
 * param; decapsulate unwraps. The same implementation serves every key
 * kind (RSA, AES, TPM EC); wrap.c dispatches on the key.
 */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <openssl/evp.h>

#include "audit.h"
#include "kem_reuse.h"
#include "params.h"
#include "provider.h"
#include "wrap.h"

#define KEM_SECRET_LEN 32
#define KEM_OPERATION "ENVELOPE-WRAP"

typedef struct {
    envprov_ctx *pc;
    envkey *key;
    unsigned char aad[ENVELOPE_MAX_AAD];
    size_t aad_len;
    envprov_call_opts call; /* per-call cache TTL, retired-key override */
    int reuse;              /* ENVELOPE_PKEY_PARAM_DEK_REUSE: the caller accepts a reused secret */
} kem_ctx;

static OSSL_FUNC_kem_newctx_fn kem_newctx;
static OSSL_FUNC_kem_freectx_fn kem_freectx;
static OSSL_FUNC_kem_dupctx_fn kem_dupctx;
static OSSL_FUNC_kem_encapsulate_init_fn kem_init;
static OSSL_FUNC_kem_encapsulate_fn kem_encapsulate;
static OSSL_FUNC_kem_decapsulate_fn kem_decapsulate;
static OSSL_FUNC_kem_set_ctx_params_fn kem_set_ctx_params;
static OSSL_FUNC_kem_settable_ctx_params_fn kem_settable_ctx_params;

static void *kem_newctx(void *provctx)
{
    kem_ctx *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->pc = provctx;
    return c;
}

static void kem_freectx(void *vctx)
{
    kem_ctx *c = vctx;
    if (c == NULL)
        return;
    envkey_free(c->key);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

static void *kem_dupctx(void *vctx)
{
    kem_ctx *d = malloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    *d = *(kem_ctx *)vctx;
    envkey_up(d->key);
    return d;
}

static int kem_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    kem_ctx *c = vctx;
    envkey *k = key;
    if (k == NULL)
        return 0;
    envkey_free(c->key);
    c->key = envkey_up(k);
    c->aad_len = 0;
    c->call = ENVPROV_CALL_OPTS_DEFAULT;
    c->reuse = 0;
    return kem_set_ctx_params(c, params);
}

/* The DEK reuse window of (key, aad): SHA-256 over the key's identity (as
 * the unwrap cache names it) and the AAD, salted per provider load. */
static int reuse_name(const kem_ctx *c, unsigned char name[32])
{
    static const char domain[] = "envelope kem reuse v1";
    const envkey *k = c->key;
    const char *uri = k->uri != NULL ? k->uri : "";
    unsigned char lens[8] = {(unsigned char)(strlen(uri) >> 8), (unsigned char)strlen(uri),
                             (unsigned char)k->key_id_len,      (unsigned char)k->home_id_len,
                             (unsigned char)(c->aad_len >> 8),  (unsigned char)c->aad_len};
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = m != NULL && c->pc->cache_md != NULL && EVP_DigestInit_ex(m, c->pc->cache_md, NULL) &&
             EVP_DigestUpdate(m, domain, sizeof(domain) - 1) &&
             EVP_DigestUpdate(m, c->pc->cache_salt, sizeof(c->pc->cache_salt)) &&
             EVP_DigestUpdate(m, lens, sizeof(lens)) && EVP_DigestUpdate(m, uri, strlen(uri)) &&
             EVP_DigestUpdate(m, k->key_id, k->key_id_len) &&
             EVP_DigestUpdate(m, k->home_id, k->home_id_len) &&
             EVP_DigestUpdate(m, c->aad, c->aad_len) && EVP_DigestFinal_ex(m, name, &n) && n == 32;
    EVP_MD_CTX_free(m);
    return ok;
}

static int kem_encapsulate(void *vctx, unsigned char *out, size_t *outlen, unsigned char *secret,
                           size_t *secretlen)
{
    kem_ctx *c = vctx;
    if (out == NULL || secret == NULL) {
        if (outlen != NULL)
            *outlen = envprov_wrap_size(c->key, KEM_SECRET_LEN);
        if (secretlen != NULL)
            *secretlen = KEM_SECRET_LEN;
        return 1;
    }
    if (secretlen != NULL && *secretlen != 0 && *secretlen < KEM_SECRET_LEN) {
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "the KEM secret is %d bytes", KEM_SECRET_LEN);
        return 0;
    }
    /* *outlen is the capacity of out (as for OpenSSL's own KEMs). */
    size_t cap = outlen != NULL ? *outlen : 0;
    unsigned char name[32];
    int reusable = c->reuse && c->pc->kem_reuse != NULL && reuse_name(c, name);
    size_t n = 0;
    if (reusable && envprov_kem_reuse_take(c->pc->kem_reuse, name, secret, out, &n, cap)) {
        /* a wrapped DEK handed out again (DEK reuse): in the trail as a wrap */
        envprov_audit_span sp;
        envprov_audit_begin(c->pc->audit, &sp);
        int r = envprov_audit_gate(c->pc->audit);
        envprov_audit_event(c->pc->audit, &sp, ENVPROV_AUDIT_OP_WRAP, c->key, c->aad, c->aad_len, r,
                            ENVPROV_AUDIT_CACHE_REUSE, 0, 0, 0);
        if (r != ENVCORE_R_OK) {
            OPENSSL_cleanse(secret, KEM_SECRET_LEN);
            return 0;
        }
        if (outlen != NULL)
            *outlen = n;
        if (secretlen != NULL)
            *secretlen = KEM_SECRET_LEN;
        return 1;
    }
    if (RAND_priv_bytes_ex(c->pc->swctx, secret, KEM_SECRET_LEN, 0) != 1) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "no randomness for the KEM secret");
        return 0;
    }
    if (envprov_wrap(c->pc, c->key, c->aad, c->aad_len, secret, KEM_SECRET_LEN, out, &n, cap) !=
        ENVCORE_R_OK) {
        OPENSSL_cleanse(secret, KEM_SECRET_LEN);
        return 0;
    }
    if (reusable)
        envprov_kem_reuse_put(c->pc->kem_reuse, name, secret, out, n);
    if (outlen != NULL)
        *outlen = n;
    if (secretlen != NULL)
        *secretlen = KEM_SECRET_LEN;
    return 1;
}

static int kem_decapsulate(void *vctx, unsigned char *out, size_t *outlen, const unsigned char *in,
                           size_t inlen)
{
    kem_ctx *c = vctx;
    if (out == NULL) {
        *outlen = KEM_SECRET_LEN;
        return 1;
    }
    size_t cap = *outlen;
    unsigned char buf[ENVELOPE_MAX_WRAP_PLAINTEXT];
    size_t n = 0;
    if (envprov_unwrap(c->pc, c->key, c->aad, c->aad_len, in, inlen, buf, &n, sizeof(buf),
                       &c->call) != ENVCORE_R_OK)
        return 0;
    if (n != KEM_SECRET_LEN || cap < KEM_SECRET_LEN) {
        OPENSSL_cleanse(buf, sizeof(buf));
        ENVCORE_RAISE(n != KEM_SECRET_LEN ? ENVCORE_R_BAD_BLOB : ENVCORE_R_BUFFER_TOO_SMALL,
                      n != KEM_SECRET_LEN ? "the wrapped key is not a %d-byte KEM secret"
                                          : "the KEM secret is %d bytes",
                      KEM_SECRET_LEN);
        return 0;
    }
    memcpy(out, buf, KEM_SECRET_LEN);
    OPENSSL_cleanse(buf, sizeof(buf));
    *outlen = KEM_SECRET_LEN;
    return 1;
}

static int kem_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    kem_ctx *c = vctx;
    const OSSL_PARAM *p;
    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_KEM_PARAM_OPERATION)) != NULL) {
        if (!envprov_param_is(p, KEM_OPERATION)) {
            ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "KEM operation must be \"" KEM_OPERATION
                                                   "\" (or unset) for envelope keys");
            return 0;
        }
    }
    if (!envprov_param_call_opts(params, &c->call))
        return 0;
    if (!envprov_param_aad(params, c->aad, &c->aad_len, NULL))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, ENVELOPE_PKEY_PARAM_DEK_REUSE)) != NULL) {
        int v = 0;
        if (!OSSL_PARAM_get_int(p, &v) || (v != 0 && v != 1)) {
            ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "%s must be 0 or 1",
                          ENVELOPE_PKEY_PARAM_DEK_REUSE);
            return 0;
        }
        c->reuse = v;
    }
    return 1;
}

static const OSSL_PARAM *kem_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_utf8_string(OSSL_KEM_PARAM_OPERATION, NULL, 0),
        OSSL_PARAM_octet_string(ENVELOPE_PKEY_PARAM_AAD, NULL, 0),
        OSSL_PARAM_uint64(ENVELOPE_PKEY_PARAM_CACHE_TTL, NULL),
        OSSL_PARAM_int(ENVELOPE_PKEY_PARAM_ALLOW_RETIRED, NULL),
        OSSL_PARAM_int(ENVELOPE_PKEY_PARAM_DEK_REUSE, NULL),
        OSSL_PARAM_END,
    };
    return settable;
}

const OSSL_DISPATCH envprov_kem_functions[] = {
    {OSSL_FUNC_KEM_NEWCTX, (void (*)(void))kem_newctx},
    {OSSL_FUNC_KEM_FREECTX, (void (*)(void))kem_freectx},
    {OSSL_FUNC_KEM_DUPCTX, (void (*)(void))kem_dupctx},
    {OSSL_FUNC_KEM_ENCAPSULATE_INIT, (void (*)(void))kem_init},
    {OSSL_FUNC_KEM_ENCAPSULATE, (void (*)(void))kem_encapsulate},
    {OSSL_FUNC_KEM_DECAPSULATE_INIT, (void (*)(void))kem_init},
    {OSSL_FUNC_KEM_DECAPSULATE, (void (*)(void))kem_decapsulate},
    {OSSL_FUNC_KEM_SET_CTX_PARAMS, (void (*)(void))kem_set_ctx_params},
    {OSSL_FUNC_KEM_SETTABLE_CTX_PARAMS, (void (*)(void))kem_settable_ctx_params},
    {0, NULL},
};
