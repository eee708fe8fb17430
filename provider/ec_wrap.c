/*
 * ec_wrap.c - ECDH + HKDF-SHA-256 + AES-256-GCM wrap to a device-held
 * P-256 KEK (see ec_wrap.h; the blob is kind 3 of wrapblob.h). Software halves run in the provider's private
 * library context (pc->swctx), which has only OpenSSL's default provider.
 *
 * CT: Z, the derived key and the plaintext are secrets; they live on the
 * stack only for the call and are wiped on every path. The GCM tag is
 * checked by OpenSSL's constant-time compare; a failed unwrap wipes `out`.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ec_wrap.h"
#include "wrapblob.h"
#include "keytype_names.h"

#define POINT_LEN 65
#define IV_LEN 12
#define TAG_LEN 16
#define KEY_LEN 32

size_t envprov_ec_wrap_size(size_t inlen)
{
    return WRAPBLOB_EC_HEADER_LEN + 2 + inlen + TAG_LEN;
}

static int point_of(const EVP_PKEY *pk, unsigned char pt[POINT_LEN])
{
    size_t n = 0;
    return EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, POINT_LEN, &n) == 1 &&
           n == POINT_LEN && pt[0] == 0x04;
}

/* A fresh P-256 key in the software context. By OID, not "EC": a
 * registered ENGINE must not make it (core/keytype_names.h); and not
 * EVP_PKEY_Q_keygen, which takes a curve name only for the type "EC". */
static EVP_PKEY *ephemeral_p256(OSSL_LIB_CTX *swctx)
{
    EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_from_name(swctx, ENVELOPE_SW_EC_NAME, "provider=default");
    EVP_PKEY *k = NULL;
    if (g == NULL || EVP_PKEY_keygen_init(g) != 1 || EVP_PKEY_CTX_set_group_name(g, "P-256") != 1 ||
        EVP_PKEY_generate(g, &k) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(g);
    return k;
}

/* 1 if pt (65 bytes, uncompressed) is a finite point on P-256. The TPM
 * checks this too (TPM_RC_ECC_POINT), but a blob's E is attacker input and
 * an invalid-curve point must not reach the device at all: a TPM with a
 * missing check would leak bits of the KEK (defense in depth). */
static int point_on_p256(envprov_ctx *pc, const unsigned char pt[POINT_LEN])
{
    EC_GROUP *g;
    EC_POINT *p;
    int ok;

    ERR_set_mark(); /* oct2point's own reason would say which check failed */
    g = EC_GROUP_new_by_curve_name_ex(pc->swctx, NULL, NID_X9_62_prime256v1);
    p = g != NULL ? EC_POINT_new(g) : NULL;
    ok = p != NULL && pt[0] == 0x04 && EC_POINT_oct2point(g, p, pt, POINT_LEN, NULL) == 1 &&
         !EC_POINT_is_at_infinity(g, p) && EC_POINT_is_on_curve(g, p, NULL) == 1;
    ERR_pop_to_mark();
    EC_POINT_free(p);
    EC_GROUP_free(g);
    return ok;
}

/* K = HKDF-SHA-256(Z, salt = E || KEK, info) (RFC 5869; NIST SP 800-56C). */
static int derive(envprov_ctx *pc, const unsigned char z[32], const unsigned char e[POINT_LEN],
                  const unsigned char kek[POINT_LEN], unsigned char key[KEY_LEN])
{
    unsigned char salt[2 * POINT_LEN];
    EVP_KDF *kdf = EVP_KDF_fetch(pc->swctx, "HKDF", NULL);
    EVP_KDF_CTX *kc = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    int ok;

    memcpy(salt, e, POINT_LEN);
    memcpy(salt + POINT_LEN, kek, POINT_LEN);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, 32);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ENVPROV_EC_INFO,
                                                  strlen(ENVPROV_EC_INFO));
    params[4] = OSSL_PARAM_construct_end();
    ok = kc != NULL && EVP_KDF_derive(kc, key, KEY_LEN, params) == 1;
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    return ok;
}

/* AES-256-GCM, AAD = header || caller's AAD. enc: 1 encrypt, 0 decrypt. */
static int gcm(envprov_ctx *pc, int enc, const unsigned char key[KEY_LEN], const unsigned char *hdr,
               const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t inlen,
               unsigned char *out, unsigned char tag[TAG_LEN])
{
    EVP_CIPHER *ciph = EVP_CIPHER_fetch(pc->swctx, "AES-256-GCM", NULL);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = 0;

    if (ciph == NULL || c == NULL)
        goto out;
    if (EVP_CipherInit_ex2(c, ciph, key, hdr + WRAPBLOB_EC_HEADER_LEN - IV_LEN, enc, NULL) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, hdr, WRAPBLOB_EC_HEADER_LEN) != 1 ||
        (aadlen != 0 && EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) != 1) ||
        EVP_CipherUpdate(c, out, &n, in, (int)inlen) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + n, &n) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto out;
    ok = 1;
out:
    EVP_CIPHER_CTX_free(c);
    EVP_CIPHER_free(ciph);
    return ok;
}

static int kek_checks(const envkey *k)
{
    if (k == NULL || k->kind != ENVKEY_EC_P256 || k->pub == NULL) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "not an EC P-256 envelope key");
        return 0;
    }
    return 1;
}

int envprov_ec_wrap(envprov_ctx *pc, const envkey *k, const unsigned char *aad, size_t aadlen,
                    const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                    size_t outsize)
{
    unsigned char kek[POINT_LEN], point[POINT_LEN], z[32], key[KEY_LEN];
    EVP_PKEY *eph = NULL;
    EVP_PKEY_CTX *dc = NULL;
    size_t zlen = sizeof(z), need = envprov_ec_wrap_size(inlen);
    int r = ENVCORE_R_INTERNAL;

    if (!kek_checks(k))
        return ENVCORE_R_NOT_SUPPORTED;
    if (inlen == 0 || inlen > ENVELOPE_MAX_WRAP_PLAINTEXT || aadlen > ENVELOPE_MAX_AAD) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "EC wrap takes 1..%d bytes and at most %d of AAD",
                      ENVELOPE_MAX_WRAP_PLAINTEXT, ENVELOPE_MAX_AAD);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    if (out == NULL || outsize < need) {
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "EC wrap needs %zu bytes of output", need);
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    eph = ephemeral_p256(pc->swctx);
    dc = eph != NULL ? EVP_PKEY_CTX_new_from_pkey(pc->swctx, eph, NULL) : NULL;
    wrapblob b = {.kind = WRAPBLOB_KIND_ECDH_P256,
                  .iv_len = IV_LEN,
                  .point = point,
                  .ct = NULL,
                  .ct_len = inlen + TAG_LEN};
    if (dc == NULL || !point_of(k->pub, kek) || !point_of(eph, point) ||
        EVP_PKEY_derive_init(dc) != 1 || EVP_PKEY_derive_set_peer(dc, k->pub) != 1 ||
        EVP_PKEY_derive(dc, z, &zlen) != 1 || zlen != 32 ||
        RAND_bytes_ex(pc->swctx, b.iv, IV_LEN, 0) != 1 || !derive(pc, z, point, kek, key) ||
        wrapblob_encode(&b, out, outsize) != need)
        goto done;
    /* the header (83 bytes before ct_len) is authenticated with the AAD */
    if (!gcm(pc, 1, key, out, aad, aadlen, in, inlen, out + WRAPBLOB_EC_HEADER_LEN + 2,
             out + WRAPBLOB_EC_HEADER_LEN + 2 + inlen))
        goto done;
    *outlen = need;
    r = ENVCORE_R_OK;
done:
    if (r != ENVCORE_R_OK) {
        OPENSSL_cleanse(out, outsize);
        ENVCORE_RAISE(r, "EC wrap failed in software (OpenSSL default provider)");
    }
    OPENSSL_cleanse(z, sizeof(z));
    OPENSSL_cleanse(key, sizeof(key));
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_free(eph);
    return r;
}

int envprov_ec_unwrap(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                      const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                      size_t outsize)
{
    unsigned char kek[POINT_LEN], z[64], key[KEY_LEN], tag[TAG_LEN];
    size_t zlen = 0, ctlen, ptlen;
    int r;

    if (!kek_checks(k))
        return ENVCORE_R_NOT_SUPPORTED;
    if (k->ops == NULL || k->ops->ecdh_zgen == NULL) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "this key's backend cannot do ECDH");
        return ENVCORE_R_NOT_SUPPORTED;
    }
    /* Every field is checked before use (wrapblob.c). */
    wrapblob b;
    if (in == NULL || !wrapblob_decode(&b, in, inlen) || b.kind != WRAPBLOB_KIND_ECDH_P256) {
        ENVCORE_RAISE(ENVCORE_R_BAD_BLOB, "not an envelope EC-P256 wrapped key (version 1)");
        return ENVCORE_R_BAD_BLOB;
    }
    ctlen = b.ct_len;
    if (ctlen <= TAG_LEN || ctlen > ENVELOPE_MAX_WRAP_PLAINTEXT + TAG_LEN) {
        ENVCORE_RAISE(ENVCORE_R_BAD_BLOB, "EC wrapped key: bad length");
        return ENVCORE_R_BAD_BLOB;
    }
    ptlen = ctlen - TAG_LEN;
    if (out == NULL || outsize < ptlen) {
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "EC unwrap needs %zu bytes of output", ptlen);
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    if (!point_of(k->pub, kek)) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "EC key without a public point");
        return ENVCORE_R_INTERNAL;
    }
    if (!point_on_p256(pc, b.point)) {
        OPENSSL_cleanse(out, outsize);
        ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED,
                      "unwrap failed: wrong KEK or AAD, or the wrapped key was altered");
        return ENVCORE_R_AUTHENTICATION_FAILED;
    }
    /* The device's own reason (PCR policy, wrong PIN, TPM gone) is kept:
     * those are actionable and say nothing about the blob. */
    r = k->ops->ecdh_zgen(k->be, b.point, POINT_LEN, z, &zlen, sizeof(z));
    if (r != ENVCORE_R_OK) {
        OPENSSL_cleanse(out, outsize);
        if (r != ENVCORE_R_BAD_ARGUMENT)
            return r;
        /* the TPM refused E (not on the curve): an altered blob */
        ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED,
                      "unwrap failed: wrong KEK or AAD, or the wrapped key was altered");
        return ENVCORE_R_AUTHENTICATION_FAILED;
    }
    r = ENVCORE_R_AUTHENTICATION_FAILED;
    memcpy(tag, b.ct + ptlen, TAG_LEN);
    if (zlen == 32 && derive(pc, z, b.point, kek, key) &&
        gcm(pc, 0, key, in, aad, aadlen, b.ct, ptlen, out, tag)) {
        *outlen = ptlen;
        r = ENVCORE_R_OK;
    } else {
        OPENSSL_cleanse(out, outsize);
        ENVCORE_RAISE(r, "unwrap failed: wrong KEK or AAD, or the wrapped key was altered");
    }
    OPENSSL_cleanse(z, sizeof(z));
    OPENSSL_cleanse(key, sizeof(key));
    return r;
}
