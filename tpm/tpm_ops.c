/*
 * tpm_ops.c - the unwrap primitives: TPM2_ECDH_ZGen (Part 3 §14.5) and
 * TPM2_RSA_Decrypt (Part 3 §14.3), each authorised by the key's session
 * with response encryption, so Z and the plaintext cross the bus only
 * encrypted: the connection's long-lived salted HMAC session, run by
 * tpm_hsess.c through tss2-sys, or a fresh salted policy session that ESYS
 * runs (PCR-policy keys).
 *
 * CT: the outputs are secrets. They are copied out of ESYS's buffers and
 * those are wiped before Esys_Free; tss2's response buffer, where they were
 * decrypted in place, is wiped right after the command; on failure `out` is
 * wiped.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "tpm_int.h"

/* Reason for a failed use of a key, refined by what the command was. */
static int use_failed(struct envtpm_ctx *t, const struct envtpm_key *k, TSS2_RC rc, int policy,
                      const char *what)
{
    int reason = envtpm_rc_reason(rc);

    switch (reason) {
    case ENVCORE_R_PIN_INCORRECT:
        envtpm_auth_rejected(t, k); /* never offered to this key again */
        ENVCORE_RAISE(reason,
                      "TPM: wrong auth value for the key (%s refused); check its pin "
                      "source. Repeated failures lock the TPM (dictionary-attack "
                      "protection)",
                      what);
        return reason;
    case ENVCORE_R_PIN_LOCKED:
        ENVCORE_RAISE(reason, "TPM: in dictionary-attack lockout after wrong auth values; "
                              "wait for recovery or reset it with tpm2_dictionarylockout");
        return reason;
    case ENVCORE_R_PCR_POLICY_NOT_SATISFIED:
        ENVCORE_RAISE(reason, "TPM: PCR policy not satisfied: the selected PCRs changed since "
                              "the key was created (different boot state?)");
        return reason;
    default: (void)policy; return envtpm_raise_rc(reason, what, rc);
    }
}

typedef struct {
    struct envtpm_key *k;
    const unsigned char *peer;
    unsigned char *z;
    size_t zlen;
} zgen_arg;

typedef struct {
    TPM2_HANDLE key;
    const TPM2B_ECC_POINT *in;
    TPM2B_ECC_POINT *out;
} zgen_sys;

static TSS2_RC zgen_prepare(TSS2_SYS_CONTEXT *sys, void *arg)
{
    zgen_sys *a = arg;
    return Tss2_Sys_ECDH_ZGen_Prepare(sys, a->key, a->in);
}

static TSS2_RC zgen_complete(TSS2_SYS_CONTEXT *sys, void *arg)
{
    zgen_sys *a = arg;
    return Tss2_Sys_ECDH_ZGen_Complete(sys, a->out);
}

/* One ZGen: in the shared HMAC session (tpm_hsess.c), or through ESYS in
 * the key's policy session s. *out gets the (decrypted) point. */
static TSS2_RC zgen_call(struct envtpm_ctx *t, const struct envtpm_key *k, ESYS_TR tr, ESYS_TR s,
                         int policy, const TPM2B_ECC_POINT *in, TPM2B_ECC_POINT *out)
{
    TPM2B_ECC_POINT *outp = NULL;
    envtpm_hs_entity e;
    zgen_sys a = {.in = in, .out = out};
    TSS2_RC rc;

    if (!policy) {
        if (envtpm_key_entity(t, k, tr, &a.key, &e) != ENVCORE_R_OK)
            return TSS2_ESYS_RC_GENERAL_FAILURE;
        return ENVTPM_CALL(t, "Tss2_Sys_ECDH_ZGen",
                           envtpm_hs_call(t, TPM2_CC_ECDH_ZGen, &e, zgen_prepare, zgen_complete,
                                          &a));
    }
    rc = ENVTPM_ESYS(t, Esys_ECDH_ZGen, tr, s, ESYS_TR_NONE, ESYS_TR_NONE, in, &outp);
    if (rc == TSS2_RC_SUCCESS) {
        *out = *outp;
        OPENSSL_cleanse(outp, sizeof(*outp));
        Esys_Free(outp);
    }
    return rc;
}

static int zgen_op(struct envtpm_ctx *t, void *varg)
{
    zgen_arg *a = varg;
    TPM2B_ECC_POINT in = {0};
    TPM2B_ECC_POINT out = {0};
    ESYS_TR tr, s;
    int flush, policy, r;
    TSS2_RC rc;

    in.point.x.size = 32;
    memcpy(in.point.x.buffer, a->peer + 1, 32);
    in.point.y.size = 32;
    memcpy(in.point.y.buffer, a->peer + 33, 32);
    r = envtpm_key_acquire(t, a->k, &tr, &flush);
    if (r != ENVCORE_R_OK)
        return r;
    r = envtpm_key_authorize(t, a->k, tr, &s, &policy);
    if (r != ENVCORE_R_OK) {
        envtpm_key_release(t, tr, flush);
        return r;
    }
    rc = zgen_call(t, a->k, tr, s, policy, &in, &out);
    /* before the flushes below reuse (and only partly overwrite) the buffer */
    envtpm_wipe_response(t);
    if (policy)
        envtpm_flush(t, s);
    envtpm_key_release(t, tr, flush);
    if (rc != TSS2_RC_SUCCESS) {
        OPENSSL_cleanse(&out, sizeof(out));
        return use_failed(t, a->k, rc, policy, "TPM2_ECDH_ZGen");
    }
    /* Part 1 §C.6.1: Z is the x-coordinate, as long as the field (32). */
    if (out.point.x.size == 0 || out.point.x.size > 32) {
        OPENSSL_cleanse(&out, sizeof(out));
        ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR, "TPM: ZGen returned a malformed point");
        return ENVCORE_R_BACKEND_ERROR;
    }
    memset(a->z, 0, 32 - out.point.x.size);
    memcpy(a->z + 32 - out.point.x.size, out.point.x.buffer, out.point.x.size);
    a->zlen = 32;
    OPENSSL_cleanse(&out, sizeof(out));
    return ENVCORE_R_OK;
}

int envtpm_ecdh_zgen(struct envtpm_key *k, const unsigned char *peer, size_t peerlen,
                     unsigned char *z, size_t *zlen, size_t zsize)
{
    zgen_arg a;
    int r;

    if (k == NULL || k->type != ENVTPM_KEY_EC_P256) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "TPM: ECDH needs an EC P-256 key");
        return ENVCORE_R_NOT_SUPPORTED;
    }
    if (peer == NULL || peerlen != 65 || peer[0] != 0x04) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT,
                      "TPM ECDH: peer key must be an uncompressed P-256 point (65 bytes)");
        return ENVCORE_R_BAD_ARGUMENT;
    }
    if (zsize < 32) {
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "TPM ECDH: output buffer under 32 bytes");
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    a.k = k;
    a.peer = peer;
    a.z = z;
    a.zlen = 0;
    r = envtpm_run(k->t, zgen_op, &a);
    if (r != ENVCORE_R_OK) {
        OPENSSL_cleanse(z, zsize);
        return r;
    }
    *zlen = a.zlen;
    return ENVCORE_R_OK;
}

int envtpm_rsa_label_ok(const unsigned char *label, size_t len)
{
    /* Part 3 §14.2/§14.3 (and the reference code's IsLabelProperlyFormatted):
     * a non-empty label must end with its first and only zero octet, which
     * is part of the OAEP label L. */
    if (len == 0)
        return 1;
    if (label == NULL || len > sizeof(((TPM2B_DATA *)0)->buffer) || label[len - 1] != 0)
        return 0;
    return memchr(label, 0, len) == label + len - 1;
}

typedef struct {
    struct envtpm_key *k;
    const TPM2B_DATA *label;
    const unsigned char *in;
    size_t inlen;
    unsigned char *out;
    size_t outlen, outsize;
} rsa_arg;

typedef struct {
    TPM2_HANDLE key;
    const TPM2B_PUBLIC_KEY_RSA *ct;
    const TPMT_RSA_DECRYPT *scheme;
    const TPM2B_DATA *label;
    TPM2B_PUBLIC_KEY_RSA *msg;
} rsa_sys;

static TSS2_RC rsa_prepare(TSS2_SYS_CONTEXT *sys, void *arg)
{
    rsa_sys *a = arg;
    return Tss2_Sys_RSA_Decrypt_Prepare(sys, a->key, a->ct, a->scheme, a->label);
}

static TSS2_RC rsa_complete(TSS2_SYS_CONTEXT *sys, void *arg)
{
    rsa_sys *a = arg;
    return Tss2_Sys_RSA_Decrypt_Complete(sys, a->msg);
}

/* One RSA_Decrypt, like zgen_call. */
static TSS2_RC rsa_call(struct envtpm_ctx *t, const struct envtpm_key *k, ESYS_TR tr, ESYS_TR s,
                        int policy, rsa_sys *a)
{
    TPM2B_PUBLIC_KEY_RSA *m = NULL;
    envtpm_hs_entity e;
    TSS2_RC rc;

    if (!policy) {
        if (envtpm_key_entity(t, k, tr, &a->key, &e) != ENVCORE_R_OK)
            return TSS2_ESYS_RC_GENERAL_FAILURE;
        return ENVTPM_CALL(t, "Tss2_Sys_RSA_Decrypt",
                           envtpm_hs_call(t, TPM2_CC_RSA_Decrypt, &e, rsa_prepare, rsa_complete,
                                          a));
    }
    rc = ENVTPM_ESYS(t, Esys_RSA_Decrypt, tr, s, ESYS_TR_NONE, ESYS_TR_NONE, a->ct, a->scheme,
                     a->label, &m);
    if (rc == TSS2_RC_SUCCESS) {
        *a->msg = *m;
        OPENSSL_cleanse(m, sizeof(*m));
        Esys_Free(m);
    }
    return rc;
}

static int rsa_op(struct envtpm_ctx *t, void *varg)
{
    rsa_arg *a = varg;
    TPM2B_PUBLIC_KEY_RSA ct = {0};
    TPM2B_PUBLIC_KEY_RSA msg = {0};
    TPMT_RSA_DECRYPT scheme = {0};
    rsa_sys sa = {.ct = &ct, .scheme = &scheme, .label = a->label, .msg = &msg};
    ESYS_TR tr, s;
    int flush, policy, r;
    TSS2_RC rc;

    ct.size = (UINT16)a->inlen;
    memcpy(ct.buffer, a->in, a->inlen);
    scheme.scheme = TPM2_ALG_OAEP; /* the only scheme we ask for */
    scheme.details.oaep.hashAlg = TPM2_ALG_SHA256;
    r = envtpm_key_acquire(t, a->k, &tr, &flush);
    if (r != ENVCORE_R_OK)
        return r;
    r = envtpm_key_authorize(t, a->k, tr, &s, &policy);
    if (r != ENVCORE_R_OK) {
        envtpm_key_release(t, tr, flush);
        return r;
    }
    rc = rsa_call(t, a->k, tr, s, policy, &sa);
    envtpm_wipe_response(t); /* the plaintext, decrypted in tss2's buffer */
    if (policy)
        envtpm_flush(t, s);
    envtpm_key_release(t, tr, flush);
    if (rc != TSS2_RC_SUCCESS) {
        OPENSSL_cleanse(&msg, sizeof(msg));
        if (envtpm_rc_base(rc) == (TPM2_RC_FMT1 | TPM2_RC_VALUE) ||
            envtpm_rc_base(rc) == TPM2_RC_FAILURE) {
            /* Part 3 §14.3: TPM_RC_VALUE = the padding did not decode. One
             * message for every cause (wrong key, label, tampering).
             * libtpms (swtpm 0.7) answers a bad OAEP decode with
             * TPM_RC_FAILURE instead, without entering failure mode; a TPM
             * that really is in failure mode fails every other command too,
             * so the next operation reports it. */
            ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED,
                          "TPM: RSA decryption failed (wrong key or label, or the "
                          "ciphertext was altered)");
            return ENVCORE_R_AUTHENTICATION_FAILED;
        }
        return use_failed(t, a->k, rc, policy, "TPM2_RSA_Decrypt");
    }
    if (msg.size > a->outsize) {
        OPENSSL_cleanse(&msg, sizeof(msg));
        ENVCORE_RAISE(ENVCORE_R_BUFFER_TOO_SMALL, "TPM: decrypted message larger than the "
                                                  "output buffer");
        return ENVCORE_R_BUFFER_TOO_SMALL;
    }
    memcpy(a->out, msg.buffer, msg.size);
    a->outlen = msg.size;
    OPENSSL_cleanse(&msg, sizeof(msg));
    return ENVCORE_R_OK;
}

int envtpm_rsa_decrypt(struct envtpm_key *k, int oaep, const unsigned char *label, size_t labellen,
                       const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen,
                       size_t outsize)
{
    TPM2B_DATA l = {0};
    rsa_arg a;
    int r;

    if (k == NULL || k->type != ENVTPM_KEY_RSA_2048) {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED, "TPM: RSA decryption needs an RSA key");
        return ENVCORE_R_NOT_SUPPORTED;
    }
    /* No PKCS#1 v1.5, whatever the key's scheme: see tpm_rsa_supports. */
    if (!oaep) {
        ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                      "TPM: RSA keys decrypt only RSA-OAEP-SHA256; PKCS#1 v1.5 is refused (a "
                      "padding oracle)");
        return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    }
    if (!envtpm_rsa_label_ok(label, labellen)) {
        ENVCORE_RAISE(ENVCORE_R_MECHANISM_NOT_SUPPORTED,
                      "TPM: an OAEP label must end with its only zero byte (TPM 2.0 Part 3 "
                      "§14.3); this label cannot be used with a TPM");
        return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    }
    if (in == NULL || inlen == 0 || inlen != (size_t)k->bits / 8) {
        ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED,
                      "TPM: RSA ciphertext length is not the modulus length");
        return ENVCORE_R_AUTHENTICATION_FAILED;
    }
    l.size = (UINT16)labellen;
    if (labellen != 0)
        memcpy(l.buffer, label, labellen);
    memset(&a, 0, sizeof(a));
    a.k = k;
    a.label = &l;
    a.in = in;
    a.inlen = inlen;
    a.out = out;
    a.outsize = outsize;
    r = envtpm_run(k->t, rsa_op, &a);
    if (r != ENVCORE_R_OK) {
        if (out != NULL)
            OPENSSL_cleanse(out, outsize);
        return r;
    }
    *outlen = a.outlen;
    return ENVCORE_R_OK;
}
