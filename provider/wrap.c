/*
 * wrap.c - AEAD key wrap and unwrap for every key kind.
 *
 * AES KEK:  AES-256-GCM inside the device, AAD = the caller's AAD; or, for
 *           a cloud KMS key (envkey ops->opaque), the KMS's own opaque
 *           ciphertext with the AAD bound by the KMS (blob kind 4).
 * RSA KEK:  RSA-OAEP with the public half, in software; unwrap in the
 *           device. The strongest form the token can decrypt is chosen by
 *           asking it (C_DecryptInit probe, cached): OAEP-SHA-256 with the
 *           AAD as label, then OAEP-SHA-1 with label; a token that takes no
 *           label at all (SoftHSM2 2.6.1) gets the AAD's hash sealed inside
 *           the OAEP payload, checked in constant time after unwrap. The
 *           form is recorded in the blob; nothing is ever decoded on the host
 *           that the token should have checked.
 */
#include "wrap.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include "rsa_form_check.h"
#include "ec_wrap.h"
#include "audit.h"
#include "breaker.h"
#include "kek_alias.h"
#include "wrapblob.h"

#define AAD_HASH_LEN 32
static const char aad_domain[] = "envelope rsa-oaep aad v1";

size_t envprov_wrap_size(const envkey *k, size_t inlen)
{
    if (k->kind == ENVKEY_EC_P256)
        return envprov_ec_wrap_size(inlen);
    if (k->kind == ENVKEY_AES_KEK)
        return 4 + 1 + 16 + 2 + inlen + 16 + 16;
    if (k->kind == ENVKEY_RSA)
        return 4 + 3 + 2 + (size_t)(k->bits + 7) / 8;
    return WRAPBLOB_MAX;
}

static int aad_hash(const unsigned char *aad, size_t aadlen, unsigned char out[AAD_HASH_LEN])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(c, aad_domain, sizeof(aad_domain) - 1) &&
             EVP_DigestUpdate(c, aad, aadlen) && EVP_DigestFinal_ex(c, out, &n);
    EVP_MD_CTX_free(c);
    return ok && n == AAD_HASH_LEN;
}

static const char *md_name(int nid)
{
    return OBJ_nid2sn(nid);
}

int envprov_rsa_public_encrypt(envprov_ctx *pc, const envkey *k, const envkey_rsa_params *p,
                               const unsigned char *in, size_t inlen, unsigned char *out,
                               size_t *outlen, size_t outsize)
{
    /*
     * With an ENGINE registered for RSA (a libp11 engine in openssl.cnf, or
     * after ENGINE_register_all_complete()), OpenSSL 3.0 makes this an
     * engine context whatever the library context (core/keytype_names.h),
     * and the legacy code behind it takes no OAEP digest by name (the
     * utf8 params or *_md_name fail without a reason). The EVP_MD setters
     * work on both kinds of context.
     */
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(pc->swctx, k->pub, "provider=default");
    int ok = c != NULL && EVP_PKEY_encrypt_init(c) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(c, p->padding) > 0;
    if (ok && p->padding == RSA_PKCS1_OAEP_PADDING) {
        const EVP_MD *oaep = EVP_get_digestbyname(md_name(p->oaep_md));
        const EVP_MD *mgf1 = EVP_get_digestbyname(md_name(p->mgf1_md));
        unsigned char *label = p->label_len > 0 ? OPENSSL_memdup(p->label, p->label_len) : NULL;
        ok = oaep != NULL && mgf1 != NULL && (p->label_len == 0 || label != NULL) &&
             EVP_PKEY_CTX_set_rsa_oaep_md(c, oaep) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(c, mgf1) > 0 &&
             (label == NULL || EVP_PKEY_CTX_set0_rsa_oaep_label(c, label, (int)p->label_len) > 0);
        if (!ok || label == NULL)
            OPENSSL_free(label); /* set0 took it only on success */
    }
    size_t n = outsize;
    ok = ok && EVP_PKEY_encrypt(c, out, &n, in, inlen) > 0;
    EVP_PKEY_CTX_free(c);
    if (!ok) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "RSA encryption with the public key failed "
                                              "(input too long for this key and padding?)");
        return ENVCORE_R_BAD_ARGUMENT;
    }
    *outlen = n;
    return ENVCORE_R_OK;
}

/* Pick the OAEP form for a wrap; returns ENVCORE_R_OK and fills p/binding. */
static int choose_oaep(envprov_ctx *pc, envkey *k, size_t aadlen, envkey_rsa_params *p,
                       int *binding)
{
    static const int hashes[] = {NID_sha256, NID_sha1};
    memset(p, 0, sizeof(*p));
    p->padding = RSA_PKCS1_OAEP_PADDING;
    if (k->has_private && k->ops != NULL && k->ops->rsa_supports != NULL) {
        /* With a label, when there is an AAD to bind. */
        for (int withlabel = aadlen > 0; withlabel >= 0; withlabel--)
            for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
                envkey_rsa_params q = {RSA_PKCS1_OAEP_PADDING, hashes[i], hashes[i],
                                       (const unsigned char *)"x", (size_t)withlabel};
                int r = envprov_rsa_form_ok(pc, k, &q);
                if (r < 0)
                    return ENVCORE_R_BACKEND_UNAVAILABLE;
                if (r > 0) {
                    p->oaep_md = p->mgf1_md = hashes[i];
                    *binding = withlabel ? WRAPBLOB_BIND_LABEL : WRAPBLOB_BIND_PAYLOAD;
                    return ENVCORE_R_OK;
                }
            }
        ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                      "mechanism not supported by token: it cannot decrypt RSA-OAEP with SHA-256 "
                      "or SHA-1, so no safe wrap exists for this key");
        return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    }
    /* A public-only object cannot be asked what its private half's token
     * supports; SHA-1 OAEP with the AAD sealed in the payload is the form
     * every OAEP-capable token decrypts (OAEP's security does not rest on
     * SHA-1's collision resistance). */
    p->oaep_md = p->mgf1_md = NID_sha1;
    *binding = WRAPBLOB_BIND_PAYLOAD;
    return ENVCORE_R_OK;
}

static int wrap_rsa(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                    const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                    size_t outsize)
{
    envkey_rsa_params p;
    int binding = 0;
    int ret = choose_oaep(pc, k, aadlen, &p, &binding);
    if (ret != ENVCORE_R_OK)
        return ret;
    unsigned char payload[ENVELOPE_MAX_WRAP_PLAINTEXT + AAD_HASH_LEN];
    unsigned char ct[WRAPBLOB_MAX_RSA_CT];
    size_t plen = inlen, ctlen = 0;
    memcpy(payload, in, inlen);
    if (binding == WRAPBLOB_BIND_PAYLOAD) {
        if (!aad_hash(aad, aadlen, payload + inlen)) {
            OPENSSL_cleanse(payload, sizeof(payload));
            return ENVCORE_R_INTERNAL;
        }
        plen += AAD_HASH_LEN;
    } else {
        p.label = aad;
        p.label_len = aadlen;
    }
    ret = envprov_rsa_public_encrypt(pc, k, &p, payload, plen, ct, &ctlen, sizeof(ct));
    OPENSSL_cleanse(payload, sizeof(payload));
    if (ret != ENVCORE_R_OK)
        return ret;
    wrapblob b = {.kind = WRAPBLOB_KIND_RSA_OAEP,
                  .oaep_md = p.oaep_md,
                  .mgf1_md = p.mgf1_md,
                  .binding = binding,
                  .ct = ct,
                  .ct_len = ctlen};
    size_t n = wrapblob_encode(&b, out, outsize);
    if (n == 0) {
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "output buffer too small for the wrapped key");
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    *outlen = n;
    return ENVCORE_R_OK;
}

static int key_is_opaque(const envkey *k)
{
    return k->kind == ENVKEY_AES_KEK && k->ops->opaque != NULL && k->ops->opaque(k->be);
}

/* A cloud KMS key: its ciphertext is opaque (kind 4). */
static int wrap_opaque(envkey *k, const unsigned char *aad, size_t aadlen, const unsigned char *in,
                       size_t inlen, unsigned char *out, size_t *outlen, size_t outsize)
{
    unsigned char ct[WRAPBLOB_KMS_MAX_CT];
    size_t ctlen = 0;
    int ret = k->ops->opaque_encrypt(k->be, aad, aadlen, in, inlen, ct, &ctlen, sizeof(ct));
    if (ret != ENVCORE_R_OK)
        return ret;
    wrapblob b = {.kind = WRAPBLOB_KIND_KMS_OPAQUE, .ct = ct, .ct_len = ctlen};
    size_t n = wrapblob_encode(&b, out, outsize);
    if (n == 0) {
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "output buffer too small for the wrapped key");
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    *outlen = n;
    return ENVCORE_R_OK;
}

static int wrap_aes(envkey *k, const unsigned char *aad, size_t aadlen, const unsigned char *in,
                    size_t inlen, unsigned char *out, size_t *outlen, size_t outsize)
{
    if (key_is_opaque(k))
        return wrap_opaque(k, aad, aadlen, in, inlen, out, outlen, outsize);
    envkey_aead_iv iv = {{0}, 0};
    unsigned char ct[WRAPBLOB_AES_MAX_CT];
    size_t ctlen = 0;
    int ret = k->ops->aead_encrypt(k->be, &iv, aad, aadlen, in, inlen, ct, &ctlen, sizeof(ct));
    if (ret != ENVCORE_R_OK)
        return ret;
    wrapblob b = {.kind = WRAPBLOB_KIND_AES_GCM, .iv_len = iv.iv_len, .ct = ct, .ct_len = ctlen};
    memcpy(b.iv, iv.iv, iv.iv_len);
    size_t n = wrapblob_encode(&b, out, outsize);
    if (n == 0) {
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "output buffer too small for the wrapped key");
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    *outlen = n;
    return ENVCORE_R_OK;
}

static int wrap_checked(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                        const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                        size_t outsize)
{
    if (inlen == 0 || inlen > ENVELOPE_MAX_WRAP_PLAINTEXT || aadlen > ENVELOPE_MAX_AAD) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT,
                      "a wrap takes 1..%d bytes of key and at most %d bytes of AAD (got %zu, %zu)",
                      ENVELOPE_MAX_WRAP_PLAINTEXT, ENVELOPE_MAX_AAD, inlen, aadlen);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    const char *alias = NULL;
    envprov_alias_role role = envprov_alias_role_of(pc, k, &alias);
    if (role == ENVPROV_ROLE_PREVIOUS || role == ENVPROV_ROLE_RETIRED) {
        /* rotation: new data goes under the current version only */
        ENVCORE_RAISE(ENVCORE_R_POLICY_REFUSED,
                      "KEK \"%.200s\" is a%s version of alias %s: new data is wrapped only "
                      "under the current one (alias:%s)",
                      k->uri, role == ENVPROV_ROLE_RETIRED ? " retired" : " previous", alias,
                      alias);
        return ENVCORE_R_POLICY_REFUSED;
    }
    envprov_breaker_ticket ticket;
    int r = envprov_breaker_enter(pc->breaker, k->uri, &ticket);
    if (r != ENVCORE_R_OK)
        return r; /* fail closed, and at once: the home failed moments ago */
    switch (k->kind) {
    case ENVKEY_AES_KEK: r = wrap_aes(k, aad, aadlen, in, inlen, out, outlen, outsize); break;
    case ENVKEY_RSA: r = wrap_rsa(pc, k, aad, aadlen, in, inlen, out, outlen, outsize); break;
    case ENVKEY_EC_P256:
        r = envprov_ec_wrap(pc, k, aad, aadlen, in, inlen, out, outlen, outsize);
        break;
    default:
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "this key kind has no AEAD wrap");
        r = ENVCORE_R_NOT_SUPPORTED;
    }
    envprov_breaker_leave(pc->breaker, k->uri, &ticket, r);
    return r;
}

int envprov_wrap(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                 const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                 size_t outsize)
{
    envprov_audit_span sp;
    envprov_audit_begin(pc->audit, &sp);
    /* with audit-failure = refuse, nothing is wrapped while the sink is
     * broken: data under a DEK whose wrap left no line is not made */
    int r = envprov_audit_gate(pc->audit);
    if (r == ENVCORE_R_OK)
        r = wrap_checked(pc, k, aad, aadlen, in, inlen, out, outlen, outsize);
    if (r == ENVCORE_R_OK && (r = envprov_audit_gate(pc->audit)) != ENVCORE_R_OK)
        OPENSSL_cleanse(out, outsize);
    envprov_audit_event(pc->audit, &sp, ENVPROV_AUDIT_OP_WRAP, k, aad, aadlen, r,
                        ENVPROV_AUDIT_CACHE_NA, 0, 0, 0);
    return r;
}

static int auth_failed(unsigned char *out, size_t outsize)
{
    OPENSSL_cleanse(out, outsize);
    ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED,
                  "authentication failed: the wrapped key does not match this KEK and AAD");
    return ENVCORE_R_AUTHENTICATION_FAILED;
}

int envprov_unwrap_direct(envprov_ctx *pc, envkey *k, const unsigned char *aad, size_t aadlen,
                          const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                          size_t outsize)
{
    wrapblob b;
    if (aadlen > ENVELOPE_MAX_AAD) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "AAD longer than %d bytes", ENVELOPE_MAX_AAD);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    if (k->kind == ENVKEY_EC_P256) /* its own blob kind: ec_wrap.h */
        return envprov_ec_unwrap(pc, k, aad, aadlen, in, inlen, out, outlen, outsize);
    if (!wrapblob_decode(&b, in, inlen)) {
        ENVCORE_RAISE(ENVCORE_R_BAD_BLOB, "malformed wrapped key (not an envelope wrap blob v1)");
        return ENVCORE_R_BAD_BLOB;
    }
    if (!k->has_private) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "a public key cannot unwrap");
        return ENVCORE_R_NOT_SUPPORTED;
    }
    if (b.kind == WRAPBLOB_KIND_KMS_OPAQUE && key_is_opaque(k)) {
        int ret = k->ops->opaque_decrypt(k->be, aad, aadlen, b.ct, b.ct_len, out, outlen, outsize);
        if (ret != ENVCORE_R_OK)
            OPENSSL_cleanse(out, outsize);
        return ret;
    }
    if (b.kind == WRAPBLOB_KIND_AES_GCM && k->kind == ENVKEY_AES_KEK && !key_is_opaque(k)) {
        envkey_aead_iv iv;
        memcpy(iv.iv, b.iv, b.iv_len);
        iv.iv_len = b.iv_len;
        int ret = k->ops->aead_decrypt(k->be, &iv, aad, aadlen, b.ct, b.ct_len, out, outlen,
                                       outsize);
        if (ret != ENVCORE_R_OK)
            OPENSSL_cleanse(out, outsize);
        return ret;
    }
    if (b.kind == WRAPBLOB_KIND_RSA_OAEP && k->kind == ENVKEY_RSA) {
        envkey_rsa_params p = {RSA_PKCS1_OAEP_PADDING, b.oaep_md, b.mgf1_md, NULL, 0};
        if (b.binding == WRAPBLOB_BIND_LABEL) {
            if (aadlen == 0) /* a label binding with nothing to bind: never made by us */
                return auth_failed(out, outsize);
            p.label = aad;
            p.label_len = aadlen;
        }
        /* The blob's form bytes are untrusted. A token that accepts a label
         * or a hash and then ignores it (SoftHSM2) would let an edited blob
         * (binding "payload" -> "label") decrypt under any AAD with the hash
         * check skipped. So the exact form must be one this token was seen
         * to honour (rsa_form_check.c) before the blob goes near it. */
        int form = envprov_rsa_form_ok(pc, k, &p);
        if (form < 0) {
            OPENSSL_cleanse(out, outsize);
            return ENVCORE_R_BACKEND_UNAVAILABLE;
        }
        if (form == 0)
            return auth_failed(out, outsize);
        unsigned char payload[WRAPBLOB_MAX_RSA_CT];
        size_t plen = 0;
        int ret = k->ops->rsa_decrypt(k->be, &p, b.ct, b.ct_len, payload, &plen, sizeof(payload));
        if (ret != ENVCORE_R_OK) {
            OPENSSL_cleanse(out, outsize);
            return ret;
        }
        if (b.binding == WRAPBLOB_BIND_PAYLOAD) {
            unsigned char h[AAD_HASH_LEN];
            if (plen <= AAD_HASH_LEN || !aad_hash(aad, aadlen, h) ||
                CRYPTO_memcmp(h, payload + plen - AAD_HASH_LEN, AAD_HASH_LEN) != 0) {
                OPENSSL_cleanse(payload, sizeof(payload));
                return auth_failed(out, outsize);
            }
            plen -= AAD_HASH_LEN;
        }
        if (plen > outsize || plen > ENVELOPE_MAX_WRAP_PLAINTEXT) {
            OPENSSL_cleanse(payload, sizeof(payload));
            return auth_failed(out, outsize);
        }
        memcpy(out, payload, plen);
        *outlen = plen;
        OPENSSL_cleanse(payload, sizeof(payload));
        return ENVCORE_R_OK;
    }
    ENVCORE_RAISE(ENVCORE_R_BAD_BLOB, "this wrapped key was not made by a key of this kind");
    return ENVCORE_R_BAD_BLOB;
}
