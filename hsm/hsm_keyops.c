/*
 * hsm_keyops.c - the envkey backend ops for PKCS#11 keys: RSA decrypt and
 * AES-GCM encrypt/decrypt inside the token.
 *
 * Every op takes a pooled session, runs, and returns the session; a session
 * the device says is gone is dropped and the op is tried once more on a new
 * one (HSM session loss recovers without restarting the program).
 */
#include "hsm_internal.h"

#include "rsa_forms.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "errors.h"

#define GCM_TAG 16
#define GCM_IV 12
#define RSA_MAX_BYTES 1024
#define ENVELOPE_HSM_MAX_AEAD 64

int hsm_op_begin(struct hsm_key *k, CK_SESSION_HANDLE *s, CK_OBJECT_HANDLE *obj)
{
    int ret = hsm_ensure_loaded(k->h);
    if (ret != ENVCORE_R_OK)
        return ret;
    unsigned epoch; /* read with the session taken: one token lock, not two */
    if ((ret = hsm_session_get_epoch(k->tok, s, &epoch)) != ENVCORE_R_OK)
        return ret;
    if ((ret = hsm_key_handle_at(k, *s, epoch, obj)) != ENVCORE_R_OK)
        hsm_session_put(k->tok, *s, HSM_SESSION_KEEP);
    return ret;
}

/* Failures an operation recovers from by trying once more, after putting
 * right what the code says went away (docs/PROVIDER.md, "Sessions": session loss recovers
 * without restarting the program):
 *  - the session is gone: a new one is taken (hsm_session_fate_of);
 *  - an object handle went stale (SoftHSM2 renumbers after a logout):
 *    the key is looked up again;
 *  - the login went away: log in again (with the PIN we hold);
 *  - the module was finalised under us (CKR_CRYPTOKI_NOT_INITIALIZED,
 *    e.g. another user of a shared module): initialise it again. */
int hsm_op_should_retry(struct hsm_key *k, CK_RV rv)
{
    switch (rv) {
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
        pthread_mutex_lock(&k->lock);
        k->handle_generation = k->tok->mod->generation - 1;
        pthread_mutex_unlock(&k->lock);
        return 1;
    case CKR_USER_NOT_LOGGED_IN:
        pthread_mutex_lock(&k->tok->lock);
        k->tok->logged_in = 0;
        pthread_mutex_unlock(&k->tok->lock);
        return 1;
    case CKR_CRYPTOKI_NOT_INITIALIZED: hsm_module_lost(k->h, k->tok->mod); return 1;
    default: return hsm_session_fate_of(rv) == HSM_SESSION_GONE;
    }
}

static int oaep_mechs(int md, CK_MECHANISM_TYPE *hash, CK_RSA_PKCS_MGF_TYPE *mgf)
{
    switch (md) {
    case NID_sha1:
        *hash = CKM_SHA_1;
        *mgf = CKG_MGF1_SHA1;
        return 1;
    case NID_sha224:
        *hash = CKM_SHA224;
        *mgf = CKG_MGF1_SHA224;
        return 1;
    case NID_sha256:
        *hash = CKM_SHA256;
        *mgf = CKG_MGF1_SHA256;
        return 1;
    case NID_sha384:
        *hash = CKM_SHA384;
        *mgf = CKG_MGF1_SHA384;
        return 1;
    case NID_sha512:
        *hash = CKM_SHA512;
        *mgf = CKG_MGF1_SHA512;
        return 1;
    default: return 0;
    }
}

/* Fill mech (and oaep) from our parameters; 0 if not expressible. */
static int rsa_mech(const envkey_rsa_params *p, CK_MECHANISM *mech, CK_RSA_PKCS_OAEP_PARAMS *oaep)
{
    memset(mech, 0, sizeof(*mech));
    if (p->padding == RSA_PKCS1_PADDING) {
        mech->mechanism = CKM_RSA_PKCS;
        return 1;
    }
    if (p->padding != RSA_PKCS1_OAEP_PADDING)
        return 0;
    CK_RSA_PKCS_MGF_TYPE unused;
    memset(oaep, 0, sizeof(*oaep));
    if (!oaep_mechs(p->oaep_md, &oaep->hashAlg, &unused) ||
        !oaep_mechs(p->mgf1_md, &unused, &oaep->mgf))
        return 0;
    oaep->source = CKZ_DATA_SPECIFIED;
    oaep->pSourceData = p->label_len ? (void *)p->label : NULL;
    oaep->ulSourceDataLen = p->label_len;
    mech->mechanism = CKM_RSA_PKCS_OAEP;
    mech->pParameter = oaep;
    mech->ulParameterLen = sizeof(*oaep);
    return 1;
}

static int mech_refused(CK_RV rv)
{
    return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
           rv == CKR_ARGUMENTS_BAD || rv == CKR_KEY_TYPE_INCONSISTENT;
}

/* 1 if the token does this RSA form in hardware, 0 if not, -1 on error. */
static int hsm_rsa_supports(void *be, const envkey_rsa_params *p)
{
    struct hsm_key *k = be;
    struct hsm_token *t = k->tok;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE obj;
    if (k->cls != CKO_PRIVATE_KEY)
        return 0;
    if (hsm_op_begin(k, &s, &obj) != ENVCORE_R_OK)
        return -1;
    hsm_token_probe_mechanisms(t, s);
    int yes = 0;
    enum hsm_session_fate probe_fate = HSM_SESSION_KEEP;
    if (p->padding == RSA_PKCS1_PADDING) {
        yes = t->has_rsa_pkcs;
    } else if (p->padding == RSA_PKCS1_OAEP_PADDING && t->has_rsa_oaep) {
        int li = p->label_len > 0;
        /* what C_DecryptInit accepts is the token's answer for good */
        int cap = envcore_rsa_form_get(&t->oaep_accepted, p->oaep_md, p->mgf1_md, li, -1);
        if (cap < 0) {
            CK_MECHANISM mech;
            CK_RSA_PKCS_OAEP_PARAMS oaep;
            cap = 0;
            if (rsa_mech(p, &mech, &oaep)) {
                CK_RV rv = P11(t->mod, C_DecryptInit, s, &mech, obj);
                if (rv == CKR_OK) {
                    /* PKCS#11 v2.40 §5.9: a failing C_Decrypt ends the
                     * operation; an all-zero block never decodes. */
                    unsigned char zero[RSA_MAX_BYTES] = {0}, out[RSA_MAX_BYTES];
                    CK_ULONG outlen = sizeof(out);
                    (void)P11(t->mod, C_Decrypt, s, zero, (CK_ULONG)k->mod_bytes, out, &outlen);
                    OPENSSL_cleanse(out, sizeof(out));
                    cap = 1;
                    probe_fate = HSM_SESSION_DISCARD; /* in case the op lingers */
                } else if (!mech_refused(rv)) {
                    cap = -1; /* a device error, not an answer */
                }
            }
            if (cap >= 0)
                envcore_rsa_form_set(&t->oaep_accepted, p->oaep_md, p->mgf1_md, li, cap);
        }
        yes = cap == 1;
    }
    hsm_session_put(t, s, probe_fate);
    return yes;
}

static int hsm_rsa_decrypt(void *be, const envkey_rsa_params *p, const unsigned char *in,
                           size_t inlen, unsigned char *out, size_t *outlen, size_t outsize)
{
    struct hsm_key *k = be;
    CK_MECHANISM mech;
    CK_RSA_PKCS_OAEP_PARAMS oaep;
    if (k->cls != CKO_PRIVATE_KEY) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "key \"%s\" is a public key: it cannot decrypt",
                      k->label);
        return ENVCORE_R_NOT_SUPPORTED;
    }
    if (!rsa_mech(p, &mech, &oaep) || inlen != k->mod_bytes) {
        ENVCORE_RAISE(inlen != k->mod_bytes ? ENVCORE_R_AUTHENTICATION_FAILED
                                            : ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                      "RSA decryption failed");
        return inlen != k->mod_bytes ? ENVCORE_R_AUTHENTICATION_FAILED
                                     : ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    }
    unsigned char buf[RSA_MAX_BYTES];
    CK_ULONG n = 0;
    CK_RV rv = CKR_OK;
    int ret, init_failed = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        CK_SESSION_HANDLE s;
        CK_OBJECT_HANDLE obj;
        if ((ret = hsm_op_begin(k, &s, &obj)) != ENVCORE_R_OK)
            return ret;
        init_failed = 0;
        rv = P11(k->tok->mod, C_DecryptInit, s, &mech, obj);
        if (rv == CKR_OK) {
            n = sizeof(buf);
            rv = P11(k->tok->mod, C_Decrypt, s, (CK_BYTE_PTR)in, (CK_ULONG)inlen, buf, &n);
        } else {
            init_failed = 1;
        }
        enum hsm_session_fate fate = hsm_session_fate_of(rv);
        hsm_session_put(k->tok, s, fate);
        if (attempt == 0 && hsm_op_should_retry(k, rv))
            continue;
        if (rv != CKR_OK && init_failed && mech_refused(rv)) {
            ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                          "mechanism not supported by token \"%s\": %s (%s)", k->tok->label,
                          mech.mechanism == CKM_RSA_PKCS ? "RSA PKCS#1 v1.5"
                                                         : "RSA-OAEP with these parameters",
                          hsm_rv_name(rv));
            return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
        }
        break;
    }
    if (rv != CKR_OK) {
        OPENSSL_cleanse(buf, sizeof(buf));
        /* The key or the session was refused before any data was looked at:
         * say why. */
        if (init_failed || hsm_session_rv_is_broken(rv) || rv == CKR_DEVICE_ERROR ||
            rv == CKR_DEVICE_MEMORY || rv == CKR_USER_NOT_LOGGED_IN)
            return hsm_raise_rv(rv, "RSA decryption", k->tok->label, k->label);
        /* One message for every padding or data failure: the reason must not
         * become an oracle (Bleichenbacher, Manger). */
        ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED, "RSA decryption failed");
        return ENVCORE_R_AUTHENTICATION_FAILED;
    }
    if (n > outsize) {
        OPENSSL_cleanse(buf, sizeof(buf));
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "output buffer too small for the RSA plaintext");
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    memcpy(out, buf, n);
    *outlen = n;
    OPENSSL_cleanse(buf, sizeof(buf));
    return ENVCORE_R_OK;
}

/* Runs one GCM operation; *rv_out is the failing call's code and
 * *init_failed says whether it was C_*Init (the key or mechanism was
 * refused) rather than the operation itself (the data). */
static int gcm_run(struct hsm_key *k, int encrypt, unsigned char *iv, size_t ivlen,
                   const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t inlen,
                   unsigned char *out, CK_ULONG *outlen, CK_RV *rv_out, int *init_failed)
{
    CK_GCM_PARAMS gcm;
    memset(&gcm, 0, sizeof(gcm));
    gcm.pIv = iv;
    gcm.ulIvLen = ivlen;
    gcm.ulIvBits = ivlen * 8;
    gcm.pAAD = aadlen ? (CK_BYTE_PTR)aad : NULL;
    gcm.ulAADLen = aadlen;
    gcm.ulTagBits = GCM_TAG * 8;
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
    CK_RV rv = CKR_OK;
    CK_ULONG cap = *outlen;
    int ret;
    for (int attempt = 0; attempt < 2; attempt++) {
        CK_SESSION_HANDLE s;
        CK_OBJECT_HANDLE obj;
        if ((ret = hsm_op_begin(k, &s, &obj)) != ENVCORE_R_OK)
            return ret;
        *outlen = cap;
        /* one error mark for both calls (hsm_internal.h, P11_IN_MARK) */
        ERR_set_mark();
        rv = encrypt ? P11_IN_MARK(k->tok->mod, C_EncryptInit, s, &mech, obj)
                     : P11_IN_MARK(k->tok->mod, C_DecryptInit, s, &mech, obj);
        *init_failed = rv != CKR_OK;
        if (rv == CKR_OK)
            rv = encrypt
                     ? P11_IN_MARK(k->tok->mod, C_Encrypt, s, (CK_BYTE_PTR)in, inlen, out, outlen)
                     : P11_IN_MARK(k->tok->mod, C_Decrypt, s, (CK_BYTE_PTR)in, inlen, out, outlen);
        ERR_pop_to_mark();
        if (*init_failed && mech_refused(rv)) {
            hsm_session_put(k->tok, s, HSM_SESSION_KEEP);
            ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                          "mechanism not supported by token \"%s\": AES-GCM (%s)", k->tok->label,
                          hsm_rv_name(rv));
            return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
        }
        enum hsm_session_fate fate = hsm_session_fate_of(rv);
        hsm_session_put(k->tok, s, fate);
        if (!(attempt == 0 && hsm_op_should_retry(k, rv)))
            break;
    }
    *rv_out = rv;
    return ENVCORE_R_OK;
}

static int hsm_aead_encrypt(void *be, envkey_aead_iv *iv, const unsigned char *aad, size_t aadlen,
                            const unsigned char *in, size_t inlen, unsigned char *out,
                            size_t *outlen, size_t outsize)
{
    struct hsm_key *k = be;
    unsigned char buf[ENVELOPE_HSM_MAX_AEAD + GCM_TAG + 16];
    unsigned char ivbuf[16];
    if (inlen > ENVELOPE_HSM_MAX_AEAD) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "AES KEK wraps at most %d bytes",
                      ENVELOPE_HSM_MAX_AEAD);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    /* A fresh random 96-bit IV per wrap (SP 800-38D §8.2.2), at most 2^32
     * per key (§8.3): counted, and refused past the bound */
    int counted = hsm_wrap_count(k);
    if (counted != ENVCORE_R_OK)
        return counted;
    /* The token may replace the IV (written back into pIv) or append its
     * own: see below. */
    if (RAND_bytes(ivbuf, GCM_IV) != 1) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "no randomness for the GCM IV");
        return ENVCORE_R_INTERNAL;
    }
    memset(ivbuf + GCM_IV, 0, sizeof(ivbuf) - GCM_IV);
    CK_ULONG n = sizeof(buf);
    CK_RV rv;
    int init_failed = 0;
    int ret = gcm_run(k, 1, ivbuf, GCM_IV, aad, aadlen, in, inlen, buf, &n, &rv, &init_failed);
    if (ret != ENVCORE_R_OK)
        return ret;
    if (rv != CKR_OK)
        return hsm_raise_rv(rv, "AES-GCM wrap", k->tok->label, k->label);
    /* Three IV behaviours of real tokens (docs/PROVIDER.md, "GCM IVs"): the standard one
     * (ours used, out = ct||tag); the token's own IV written back into
     * pIv (we read ivbuf after the call, so it is covered); or a 12/16-byte
     * IV appended after the tag (an HSM in FIPS mode). */
    size_t ivlen = GCM_IV;
    if (n == inlen + GCM_TAG + 16 || n == inlen + GCM_TAG + GCM_IV) {
        ivlen = n - inlen - GCM_TAG;
        memcpy(ivbuf, buf + inlen + GCM_TAG, ivlen);
        n = inlen + GCM_TAG;
    } else if (n != inlen + GCM_TAG) {
        ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR,
                      "token \"%s\" returned %lu bytes of AES-GCM output for %zu bytes of input",
                      k->tok->label, (unsigned long)n, inlen);
        return ENVCORE_R_BACKEND_ERROR;
    }
    if (n > outsize) {
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "output buffer too small for the wrapped key");
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    memcpy(out, buf, n);
    *outlen = n;
    memcpy(iv->iv, ivbuf, ivlen);
    iv->iv_len = ivlen;
    return ENVCORE_R_OK;
}

static int hsm_aead_decrypt(void *be, const envkey_aead_iv *iv, const unsigned char *aad,
                            size_t aadlen, const unsigned char *in, size_t inlen,
                            unsigned char *out, size_t *outlen, size_t outsize)
{
    struct hsm_key *k = be;
    unsigned char buf[ENVELOPE_HSM_MAX_AEAD + GCM_TAG];
    unsigned char ivbuf[16];
    if (inlen < GCM_TAG || inlen > ENVELOPE_HSM_MAX_AEAD + GCM_TAG || iv->iv_len < GCM_IV ||
        iv->iv_len > sizeof(ivbuf)) {
        ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED,
                      "authentication failed: wrapped key has a bad length");
        return ENVCORE_R_AUTHENTICATION_FAILED;
    }
    memcpy(ivbuf, iv->iv, iv->iv_len);
    CK_ULONG n = sizeof(buf);
    CK_RV rv;
    int init_failed = 0;
    int ret = gcm_run(k, 0, ivbuf, iv->iv_len, aad, aadlen, in, inlen, buf, &n, &rv, &init_failed);
    if (ret != ENVCORE_R_OK)
        return ret;
    if (rv != CKR_OK) {
        OPENSSL_cleanse(buf, sizeof(buf));
        if (init_failed || hsm_session_rv_is_broken(rv) || rv == CKR_DEVICE_ERROR ||
            rv == CKR_DEVICE_MEMORY || rv == CKR_PIN_INCORRECT || rv == CKR_USER_NOT_LOGGED_IN ||
            rv == CKR_KEY_FUNCTION_NOT_PERMITTED || rv == CKR_KEY_HANDLE_INVALID)
            return hsm_raise_rv(rv, "AES-GCM unwrap", k->tok->label, k->label);
        /* SoftHSM2 reports a tag or AAD mismatch as CKR_GENERAL_ERROR, not
         * CKR_ENCRYPTED_DATA_INVALID (docs/PROVIDER.md, "GCM IVs"): after a successful
         * C_DecryptInit, a failed C_Decrypt on well-formed input means the
         * data did not authenticate. */
        ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED,
                      "authentication failed: the wrapped key or its AAD was changed, or it was "
                      "wrapped by another KEK (token \"%s\": %s)",
                      k->tok->label, hsm_rv_name(rv));
        return ENVCORE_R_AUTHENTICATION_FAILED;
    }
    if (n > outsize) {
        OPENSSL_cleanse(buf, sizeof(buf));
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "output buffer too small for the unwrapped key");
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    memcpy(out, buf, n);
    *outlen = n;
    OPENSSL_cleanse(buf, sizeof(buf));
    return ENVCORE_R_OK;
}

static void hsm_key_free(void *be)
{
    struct hsm_key *k = be;
    if (k == NULL)
        return;
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* The ops as the provider calls them: each inside the fork gate
 * (hsm_fork.c). hsm_key_free and opaque take no lock and make no call. */
static int gated_rsa_supports(void *be, const envkey_rsa_params *p)
{
    hsm_gate_enter();
    int r = hsm_rsa_supports(be, p);
    hsm_gate_leave();
    return r;
}

static int gated_rsa_decrypt(void *be, const envkey_rsa_params *p, const unsigned char *in,
                             size_t inlen, unsigned char *out, size_t *outlen, size_t outsize)
{
    hsm_gate_enter();
    int r = hsm_rsa_decrypt(be, p, in, inlen, out, outlen, outsize);
    hsm_gate_leave();
    return r;
}

static int gated_aead_encrypt(void *be, envkey_aead_iv *iv, const unsigned char *aad, size_t aadlen,
                              const unsigned char *in, size_t inlen, unsigned char *out,
                              size_t *outlen, size_t outsize)
{
    hsm_gate_enter();
    int r = hsm_aead_encrypt(be, iv, aad, aadlen, in, inlen, out, outlen, outsize);
    hsm_gate_leave();
    return r;
}

static int gated_aead_decrypt(void *be, const envkey_aead_iv *iv, const unsigned char *aad,
                              size_t aadlen, const unsigned char *in, size_t inlen,
                              unsigned char *out, size_t *outlen, size_t outsize)
{
    hsm_gate_enter();
    int r = hsm_aead_decrypt(be, iv, aad, aadlen, in, inlen, out, outlen, outsize);
    hsm_gate_leave();
    return r;
}

static int gated_opaque_encrypt(void *be, const unsigned char *aad, size_t aadlen,
                                const unsigned char *in, size_t inlen, unsigned char *out,
                                size_t *outlen, size_t outsize)
{
    hsm_gate_enter();
    int r = hsm_kms_aead_encrypt(be, aad, aadlen, in, inlen, out, outlen, outsize);
    hsm_gate_leave();
    return r;
}

static int gated_opaque_decrypt(void *be, const unsigned char *aad, size_t aadlen,
                                const unsigned char *in, size_t inlen, unsigned char *out,
                                size_t *outlen, size_t outsize)
{
    hsm_gate_enter();
    int r = hsm_kms_aead_decrypt(be, aad, aadlen, in, inlen, out, outlen, outsize);
    hsm_gate_leave();
    return r;
}

const envkey_backend_ops hsm_key_ops = {
    .name = "pkcs11",
    .home = "token",
    .rsa_supports = gated_rsa_supports,
    .rsa_decrypt = gated_rsa_decrypt,
    .aead_encrypt = gated_aead_encrypt,
    .aead_decrypt = gated_aead_decrypt,
    .opaque = hsm_kms_aead_opaque,
    .opaque_encrypt = gated_opaque_encrypt,
    .opaque_decrypt = gated_opaque_decrypt,
    .ecdh_zgen = NULL,
    .free = hsm_key_free,
};
