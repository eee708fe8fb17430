/*
 * hsm_kms_aead.c - AES keys of a cloud KMS behind a PKCS#11 module
 * (envelope-kms-pkcs11.so's aws-kms slots): they offer the vendor
 * mechanism CKM_ENVELOPE_KMS_AEAD (include/envelope/kms_pkcs11.h), whose
 * ciphertext is the KMS's own opaque blob with the AAD bound by the KMS.
 * The provider stores it as wrap-blob kind 4 (docs/WRAP-BLOB.md).
 *
 * As the other ops (hsm_keyops.c): a pooled session, one more try on a
 * session, handle or login that went away; the token's reason (the
 * bridge's vendor text) in every error.
 */
#include "hsm_internal.h"

#include <string.h>

#include <openssl/crypto.h>

#include "envelope/kms_pkcs11.h"
#include "errors.h"

#define KMS_AEAD_MAX_MECHS 64

int hsm_kms_aead_offered(struct hsm_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    CK_MECHANISM_TYPE m[KMS_AEAD_MAX_MECHS];
    CK_ATTRIBUTE a = {CKA_ALLOWED_MECHANISMS, m, sizeof(m)};
    /* Absent or unreadable (most tokens keep it empty): not such a key. */
    if (P11(t->mod, C_GetAttributeValue, s, obj, &a, 1) != CKR_OK ||
        a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > sizeof(m))
        return 0;
    for (CK_ULONG i = 0; i < a.ulValueLen / sizeof(m[0]); i++)
        if (m[i] == CKM_ENVELOPE_KMS_AEAD)
            return 1;
    return 0;
}

int hsm_kms_aead_opaque(void *be)
{
    return ((struct hsm_key *)be)->kms_aead;
}

/* One C_*Init + C_Encrypt/C_Decrypt; *rv the failing call's code. */
static int run(struct hsm_key *k, int encrypt, const unsigned char *aad, size_t aadlen,
               const unsigned char *in, size_t inlen, unsigned char *out, CK_ULONG *outlen,
               CK_RV *rv_out, int *init_failed)
{
    CK_ENVELOPE_KMS_AEAD_PARAMS p = {aadlen ? (CK_BYTE_PTR)aad : NULL, aadlen};
    CK_MECHANISM mech = {CKM_ENVELOPE_KMS_AEAD, &p, sizeof(p)};
    CK_ULONG cap = *outlen;
    CK_RV rv = CKR_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        CK_SESSION_HANDLE s;
        CK_OBJECT_HANDLE obj;
        int ret = hsm_op_begin(k, &s, &obj);
        if (ret != ENVCORE_R_OK)
            return ret;
        *outlen = cap;
        rv = encrypt ? P11(k->tok->mod, C_EncryptInit, s, &mech, obj)
                     : P11(k->tok->mod, C_DecryptInit, s, &mech, obj);
        *init_failed = rv != CKR_OK;
        if (rv == CKR_OK)
            rv = encrypt ? P11(k->tok->mod, C_Encrypt, s, (CK_BYTE_PTR)in, inlen, out, outlen)
                         : P11(k->tok->mod, C_Decrypt, s, (CK_BYTE_PTR)in, inlen, out, outlen);
        hsm_session_put(k->tok, s, hsm_session_fate_of(rv));
        if (!(attempt == 0 && hsm_op_should_retry(k, rv)))
            break;
    }
    *rv_out = rv;
    return ENVCORE_R_OK;
}

int hsm_kms_aead_encrypt(void *be, const unsigned char *aad, size_t aadlen, const unsigned char *in,
                         size_t inlen, unsigned char *out, size_t *outlen, size_t outsize)
{
    struct hsm_key *k = be;
    if (inlen == 0 || inlen > CK_ENVELOPE_KMS_AEAD_MAX_IN ||
        aadlen > CK_ENVELOPE_KMS_AEAD_MAX_AAD) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "a KMS wrap takes 1..%d bytes and at most %d of AAD",
                      CK_ENVELOPE_KMS_AEAD_MAX_IN, CK_ENVELOPE_KMS_AEAD_MAX_AAD);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    unsigned char *buf = OPENSSL_malloc(CK_ENVELOPE_KMS_AEAD_MAX_OUT);
    if (buf == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
        return ENVCORE_R_INTERNAL;
    }
    CK_ULONG n = CK_ENVELOPE_KMS_AEAD_MAX_OUT;
    CK_RV rv;
    int init_failed = 0;
    int ret = run(k, 1, aad, aadlen, in, inlen, buf, &n, &rv, &init_failed);
    if (ret == ENVCORE_R_OK && rv != CKR_OK)
        ret = hsm_raise_rv(rv, "KMS wrap", k->tok->label, k->label);
    else if (ret == ENVCORE_R_OK && n > outsize) {
        ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR,
                      "the KMS behind token \"%s\" returned %lu bytes of ciphertext: more than "
                      "a wrapped key holds (%zu)",
                      k->tok->label, (unsigned long)n, outsize);
        ret = ENVCORE_R_BACKEND_ERROR;
    } else if (ret == ENVCORE_R_OK) {
        memcpy(out, buf, n);
        *outlen = n;
    }
    OPENSSL_free(buf); /* ciphertext only */
    return ret;
}

int hsm_kms_aead_decrypt(void *be, const unsigned char *aad, size_t aadlen, const unsigned char *in,
                         size_t inlen, unsigned char *out, size_t *outlen, size_t outsize)
{
    struct hsm_key *k = be;
    unsigned char buf[CK_ENVELOPE_KMS_AEAD_MAX_IN];
    if (inlen == 0 || aadlen > CK_ENVELOPE_KMS_AEAD_MAX_AAD) {
        ENVCORE_RAISE(ENVCORE_R_AUTHENTICATION_FAILED,
                      "authentication failed: wrapped key has a bad length");
        return ENVCORE_R_AUTHENTICATION_FAILED;
    }
    CK_ULONG n = inlen < sizeof(buf) ? inlen : sizeof(buf);
    CK_RV rv;
    int init_failed = 0;
    int ret = run(k, 0, aad, aadlen, in, inlen, buf, &n, &rv, &init_failed);
    if (ret != ENVCORE_R_OK)
        return ret;
    if (rv != CKR_OK) {
        OPENSSL_cleanse(buf, sizeof(buf));
        /* The bridge says which: the KMS refused the ciphertext (wrong
         * key, AAD or data: CKR_ENCRYPTED_DATA_INVALID, authentication
         * failed), denied the identity, or was unavailable. */
        return hsm_raise_rv(rv, "KMS unwrap", k->tok->label, k->label);
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
