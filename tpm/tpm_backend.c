/*
 * tpm_backend.c - TPM keys behind the provider's one backend interface
 * (provider/backend.h): the provider's RSA and EC operations call these ops
 * and never an Esys_* function.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include "envkey.h"
#include "pin_source.h"
#include "tpm_int.h"

/* What the TPM does in hardware for this key: OAEP with SHA-256 for both
 * hashes and a TPM-shaped label. Never PKCS#1 v1.5, not even for a key whose
 * own scheme (null, from tpm2_create -G rsa) would let the TPM do it: a
 * v1.5 decryption that tells a padding failure from a success is a
 * Bleichenbacher oracle (Part 1 §B.10.3), and TPM KEKs are OAEP-SHA256 by
 * design. Anything else: 0, and the provider says so. */
static int tpm_rsa_supports(void *be, const envkey_rsa_params *p)
{
    struct envtpm_key *k = be;

    if (p == NULL || envtpm_key_get_type(k) != ENVTPM_KEY_RSA_2048)
        return 0;
    if (p->padding == RSA_PKCS1_OAEP_PADDING)
        return p->oaep_md == NID_sha256 && p->mgf1_md == NID_sha256 &&
               envtpm_rsa_label_ok(p->label, p->label_len);
    return 0;
}

static int tpm_rsa_decrypt(void *be, const envkey_rsa_params *p, const unsigned char *in,
                           size_t inlen, unsigned char *out, size_t *outlen, size_t outsize)
{
    if (!tpm_rsa_supports(be, p)) {
        ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                      "TPM RSA key: only RSA-OAEP with SHA-256/MGF1-SHA-256 and an empty or "
                      "zero-terminated label is done in the TPM (PKCS#1 v1.5 is refused)");
        return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    }
    return envtpm_rsa_decrypt(be, p->padding == RSA_PKCS1_OAEP_PADDING, p->label, p->label_len, in,
                              inlen, out, outlen, outsize);
}

static int tpm_ecdh_zgen(void *be, const unsigned char *peer, size_t peerlen, unsigned char *z,
                         size_t *zlen, size_t zsize)
{
    return envtpm_ecdh_zgen(be, peer, peerlen, z, zlen, zsize);
}

static void tpm_free(void *be)
{
    envtpm_key_free(be);
}

static const envkey_backend_ops tpm_ops = {
    .name = "tpm2",
    .home = "TPM",
    .rsa_supports = tpm_rsa_supports,
    .rsa_decrypt = tpm_rsa_decrypt,
    .aead_encrypt = NULL, /* TPM KEKs are asymmetric: wraps are done in software */
    .aead_decrypt = NULL,
    .ecdh_zgen = tpm_ecdh_zgen,
    .free = tpm_free,
};

int envtpm_open_key(struct envtpm_ctx *t, const char *uri, unsigned flags, envkey **out)
{
    struct envtpm_key *k = NULL;
    envkey *ek;
    const unsigned char *name;
    size_t namelen;
    int r;

    *out = NULL;
    r = envtpm_key_open_ex(t, uri, flags, &k);
    if (r != ENVCORE_R_OK)
        return r;
    ek = envkey_new(envtpm_key_get_type(k) == ENVTPM_KEY_EC_P256 ? ENVKEY_EC_P256 : ENVKEY_RSA,
                    &tpm_ops, k);
    if (ek == NULL) {
        envtpm_key_free(k);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    /* from here the envkey owns k (ops->free) */
    name = envtpm_key_name(k, &namelen);
    if (namelen > sizeof(ek->key_id))
        namelen = sizeof(ek->key_id);
    memcpy(ek->key_id, name, namelen);
    ek->key_id_len = namelen;
    ek->bits = envtpm_key_bits(k);
    /* a PCR policy is checked on every use: never answer for the TPM */
    ek->no_cache = k->use_policy && k->pcrs.count > 0;
    /* The auth value the TPM will check at unwrap is part of who may get a
     * cached DEK: a caller that opened the key with another auth value
     * (which the TPM would refuse) must miss, not hit. Its fingerprint,
     * never the value. */
    if (k->auth != NULL && k->auth_len > 0 &&
        !envcore_secret_fingerprint(k->auth, k->auth_len, ek->home_id))
        ek->no_cache = 1;
    else if (k->auth != NULL && k->auth_len > 0)
        ek->home_id_len = 32;
    ek->has_private = 1;
    ek->uri = strdup(envtpm_key_uri(k)); /* envkey_free uses free() */
    ek->pub = envtpm_key_public(k);
    if (ek->uri == NULL || ek->pub == NULL || !EVP_PKEY_up_ref(ek->pub)) {
        ek->pub = NULL;
        envkey_free(ek);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    *out = ek;
    return ENVCORE_R_OK;
}
