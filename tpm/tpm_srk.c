/*
 * tpm_srk.c - the storage root key at 0x81000001 and the sessions salted
 * with it.
 *
 * Why pin the SRK: the session salt is encrypted to the SRK's public key
 * (Part 1 §19.6.13). If an interposer on the bus answered ReadPublic with a
 * key of its own, it could read the salt and so every "encrypted" response.
 * Comparing the SRK's name with one recorded at provisioning time
 * (tpm2-srk-name) closes that hole; without a pin we trust first use, and
 * the name first seen is required on every reconnect of the context.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "tpm_int.h"

void envtpm_srk_template(TPM2B_PUBLIC *tmpl)
{
    /* TCG TPM v2.0 Provisioning Guidance §7.5.1 (storage key, ECC NIST P-256)
     * = tpm2-tools' default for `tpm2_createprimary -C o -G ecc`: a
     * restricted decryption key with AES-128-CFB for its children, empty
     * unique field, empty auth. Same template, same seed -> same key. */
    memset(tmpl, 0, sizeof(*tmpl));
    tmpl->publicArea.type = TPM2_ALG_ECC;
    tmpl->publicArea.nameAlg = TPM2_ALG_SHA256;
    tmpl->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                        TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                        TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    tmpl->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    tmpl->publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
    tmpl->publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    tmpl->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    tmpl->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    tmpl->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

int envtpm_public_name(const TPMT_PUBLIC *pub, unsigned char *name, size_t *len)
{
    uint8_t buf[sizeof(TPMT_PUBLIC)];
    size_t off = 0;
    unsigned int dlen = 0;

    /* Part 1 §16: Name = nameAlg || H_nameAlg(TPMT_PUBLIC). */
    if (pub->nameAlg != TPM2_ALG_SHA256)
        return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    if (Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
        return ENVCORE_R_INTERNAL;
    name[0] = (unsigned char)(TPM2_ALG_SHA256 >> 8);
    name[1] = (unsigned char)(TPM2_ALG_SHA256 & 0xff);
    if (!EVP_Digest(buf, off, name + 2, &dlen, EVP_sha256(), NULL))
        return ENVCORE_R_INTERNAL;
    *len = 2 + dlen;
    return ENVCORE_R_OK;
}

/* Creates the SRK (owner hierarchy, empty owner auth) and persists it. */
static int create_srk(struct envtpm_ctx *t)
{
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_PUBLIC tmpl;
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    ESYS_TR obj = ESYS_TR_NONE, persistent = ESYS_TR_NONE;
    TSS2_RC rc;

    envtpm_srk_template(&tmpl);
    rc = ENVTPM_ESYS(t, Esys_CreatePrimary, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                     ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &obj, NULL, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        int reason = envtpm_rc_reason(rc);
        if (reason == ENVCORE_R_PIN_INCORRECT)
            reason = ENVCORE_R_ACCESS_DENIED;
        ENVCORE_RAISE(reason,
                      "TPM: no SRK at 0x81000001 and creating one failed (owner "
                      "authorization set?); provision it with `tpm2_createprimary -C o -G ecc "
                      "-c srk.ctx && tpm2_evictcontrol -C o -c srk.ctx 0x81000001`");
        return reason;
    }
    rc = ENVTPM_ESYS(t, Esys_EvictControl, ESYS_TR_RH_OWNER, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                     ESYS_TR_NONE, ENVTPM_SRK_HANDLE, &persistent);
    (void)ENVTPM_ESYS(t, Esys_FlushContext, obj);
    /* Another process may have persisted it a moment before us. */
    if (rc != TSS2_RC_SUCCESS && envtpm_rc_base(rc) != (TPM2_RC_FMT1 | TPM2_RC_NV_DEFINED) &&
        envtpm_rc_base(rc) != TPM2_RC_NV_DEFINED)
        return envtpm_raise_rc(envtpm_rc_reason(rc), "persisting the SRK at 0x81000001", rc);
    if (persistent != ESYS_TR_NONE)
        (void)ENVTPM_ESYS(t, Esys_TR_Close, &persistent);
    envcore_debug("tpm2: created the SRK at 0x81000001");
    return ENVCORE_R_OK;
}

int envtpm_srk_verify(const unsigned char *expect, size_t expect_len, int pinned,
                      const unsigned char *handle_name, size_t handle_len, const TPMT_PUBLIC *pub,
                      const TPM2B_NAME *reported)
{
    unsigned char computed[ENVTPM_MAX_NAME];
    size_t clen = 0;
    TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM;

    if ((pub->objectAttributes & need) != need ||
        (pub->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) ||
        (pub->type != TPM2_ALG_ECC && pub->type != TPM2_ALG_RSA)) {
        ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                      "TPM: the object at 0x81000001 is not a storage key (restricted, "
                      "decrypt, fixedTPM); refusing to use it as the SRK");
        return ENVCORE_R_KEY_NOT_SAFE;
    }
    /* Our own hash of the public area we check, not the name the TPM says. */
    if (envtpm_public_name(pub, computed, &clen) != ENVCORE_R_OK || reported == NULL ||
        clen != reported->size || CRYPTO_memcmp(computed, reported->name, clen) != 0) {
        ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE, "TPM: the SRK's name does not match its "
                                              "public area");
        return ENVCORE_R_KEY_NOT_SAFE;
    }
    /* The attribute checks above are about the key the salt goes to only if
     * both reads returned the same public area (same name = same area). */
    if (handle_len != clen || CRYPTO_memcmp(handle_name, computed, clen) != 0) {
        ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                      "TPM: two reads of the SRK at 0x81000001 returned different keys (an "
                      "interposer on the TPM bus?); refusing to use it");
        return ENVCORE_R_KEY_NOT_SAFE;
    }
    if (expect_len != 0 &&
        (expect_len != handle_len || CRYPTO_memcmp(expect, handle_name, handle_len) != 0)) {
        if (pinned)
            ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                          "TPM: the SRK at 0x81000001 is not the one pinned in tpm2-srk-name "
                          "(substituted key or cleared TPM); refusing to use it");
        else
            ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                          "TPM: the SRK at 0x81000001 changed since this process first "
                          "connected (substituted key or cleared TPM); refusing to use it. "
                          "Pin the right one with tpm2-srk-name");
        return ENVCORE_R_KEY_NOT_SAFE;
    }
    return ENVCORE_R_OK;
}

/*
 * ESYS encrypts the session salt to the public area it stored in t->srk when
 * Esys_TR_FromTPMPublic looked the handle up (Esys_StartAuthSession, tpmKey).
 * That lookup is an unprotected ReadPublic: it is the answer the pin must be
 * checked against, and Esys_TR_GetName hashes exactly that stored area. A
 * second ReadPublic gives us the area itself for the attribute checks; it
 * must have the same name, or an interposer answered the two differently.
 */
static int check_srk(struct envtpm_ctx *t)
{
    TPM2B_PUBLIC *pub = NULL;
    TPM2B_NAME *name = NULL, *stored = NULL;
    const unsigned char *expect = t->srk_pin;
    size_t expect_len = t->srk_pin_len;
    TSS2_RC rc;
    int r;

    rc = ENVTPM_ESYS(t, Esys_TR_GetName, t->srk, &stored);
    if (rc != TSS2_RC_SUCCESS)
        return envtpm_raise_rc(ENVCORE_R_INTERNAL, "reading the SRK handle's name", rc);
    if (stored->size > ENVTPM_MAX_NAME) {
        Esys_Free(stored);
        ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE, "TPM: the SRK's name is too long");
        return ENVCORE_R_KEY_NOT_SAFE;
    }
    rc = ENVTPM_ESYS(t, Esys_ReadPublic, t->srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
                     &name, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_Free(stored);
        return envtpm_raise_rc(envtpm_rc_reason(rc), "reading the SRK's public area", rc);
    }
    /* Without a pin, trust on first use means the first use: the name seen
     * by this context's first successful check is required from then on. */
    if (expect_len == 0) {
        expect = t->srk_name;
        expect_len = t->srk_name_len;
    }
    r = envtpm_srk_verify(expect, expect_len, t->srk_pin_len != 0, stored->name, stored->size,
                          &pub->publicArea, name);
    if (r == ENVCORE_R_OK) {
        memcpy(t->srk_name, stored->name, stored->size);
        t->srk_name_len = stored->size;
        /* same name as the checked one, so the same area: salts go to it */
        t->srk_pub = pub->publicArea;
    }
    Esys_Free(pub);
    Esys_Free(name);
    Esys_Free(stored);
    return r;
}

int envtpm_policy_session(struct envtpm_ctx *t, TPM2_SE type, ESYS_TR *out)
{
    TPMT_SYM_DEF none = {.algorithm = TPM2_ALG_NULL};
    TSS2_RC rc;
    int trial = type == TPM2_SE_TRIAL;

    *out = ESYS_TR_NONE;
    if (!trial) {
        /* salted to the SRK, unbound (tpm_session.c) */
        int r = envtpm_start_salted(t, type, 0, out);
        if (r != ENVCORE_R_OK)
            return r;
        rc = ENVTPM_ESYS(t, Esys_TRSess_SetAttributes, *out,
                         TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, 0xff);
        if (rc != TSS2_RC_SUCCESS) {
            envtpm_flush(t, *out);
            *out = ESYS_TR_NONE;
            return envtpm_raise_rc(ENVCORE_R_INTERNAL, "setting session attributes", rc);
        }
        return ENVCORE_R_OK;
    }
    /* A trial session computes a digest and authorises nothing: no salt. */
    rc = ENVTPM_ESYS(t, Esys_StartAuthSession, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                     ESYS_TR_NONE, ESYS_TR_NONE, NULL, type, &none, TPM2_ALG_SHA256, out);
    if (rc != TSS2_RC_SUCCESS) {
        *out = ESYS_TR_NONE;
        return envtpm_raise_rc(envtpm_rc_reason(rc), "starting a trial session", rc);
    }
    return ENVCORE_R_OK;
}

int envtpm_aux_session(struct envtpm_ctx *t, ESYS_TR *out)
{
    TSS2_RC rc;
    int r;

    if (t->aux == ESYS_TR_NONE) {
        /* like the long-lived one: salted, bound to the SRK, responses
         * encrypted; ESYS runs it, so it is not shared with tpm_hsess.c */
        r = envtpm_start_salted(t, TPM2_SE_HMAC, 1, &t->aux);
        if (r != ENVCORE_R_OK) {
            t->aux = ESYS_TR_NONE;
            return r;
        }
        rc = ENVTPM_ESYS(t, Esys_TRSess_SetAttributes, t->aux,
                         TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, 0xff);
        if (rc != TSS2_RC_SUCCESS) {
            envtpm_flush(t, t->aux);
            t->aux = ESYS_TR_NONE;
            return envtpm_raise_rc(ENVCORE_R_INTERNAL, "setting session attributes", rc);
        }
    }
    *out = t->aux;
    return ENVCORE_R_OK;
}

static int start_session(struct envtpm_ctx *t)
{
    TPM2B_AUTH salt = {0};
    TPM2B_NONCE nonce_caller = {0};
    TPM2B_NONCE *nonce_tpm = NULL;
    TPM2_HANDLE handle = 0;
    TSS2_RC rc;
    int r;

    /* Part 1 §19.6: salted (tpmKey = SRK) and bound (bind = SRK) HMAC
     * session. ENCRYPT makes the TPM encrypt the first response parameter
     * (Part 1 §21.1) - the ECDH point of ZGen, the message of RSA_Decrypt -
     * with a key only we and the TPM know. CONTINUESESSION keeps it loaded
     * so one session (≈ 3.7 ms to start) serves every call of the
     * connection. The salt is ours, not ESYS's (tpm_session.c); the session
     * is run by tpm_hsess.c, which needs the salt and both start nonces. */
    r = envtpm_start_salted_ex(t, TPM2_SE_HMAC, 1, &t->session, &salt, &nonce_caller);
    if (r != ENVCORE_R_OK) {
        t->session = ESYS_TR_NONE;
        return r;
    }
    rc = ENVTPM_ESYS(t, Esys_TRSess_GetNonceTPM, t->session, &nonce_tpm);
    if (rc == TSS2_RC_SUCCESS)
        rc = ENVTPM_ESYS(t, Esys_TR_GetTpmHandle, t->session, &handle);
    if (rc != TSS2_RC_SUCCESS) {
        OPENSSL_cleanse(&salt, sizeof(salt));
        Esys_Free(nonce_tpm);
        envtpm_flush(t, t->session);
        t->session = ESYS_TR_NONE;
        return envtpm_raise_rc(ENVCORE_R_INTERNAL, "reading the session's nonce", rc);
    }
    r = envtpm_hs_new(t->libctx, handle, &salt, &nonce_caller, nonce_tpm, &t->hs);
    OPENSSL_cleanse(&salt, sizeof(salt));
    Esys_Free(nonce_tpm);
    if (r != ENVCORE_R_OK) {
        envtpm_flush(t, t->session);
        t->session = ESYS_TR_NONE;
        return r;
    }
    t->session_starts++;
    return ENVCORE_R_OK;
}

int envtpm_srk_setup(struct envtpm_ctx *t)
{
    TSS2_RC rc;
    int r;

    rc = ENVTPM_ESYS(t, Esys_TR_FromTPMPublic, ENVTPM_SRK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
                     ESYS_TR_NONE, &t->srk);
    if (rc != TSS2_RC_SUCCESS && envtpm_rc_reason(rc) == ENVCORE_R_OBJECT_NOT_FOUND) {
        r = create_srk(t);
        if (r != ENVCORE_R_OK)
            return r;
        rc = ENVTPM_ESYS(t, Esys_TR_FromTPMPublic, ENVTPM_SRK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
                         ESYS_TR_NONE, &t->srk);
    }
    if (rc != TSS2_RC_SUCCESS) {
        t->srk = ESYS_TR_NONE;
        return envtpm_raise_rc(envtpm_rc_reason(rc), "opening the SRK at 0x81000001", rc);
    }
    r = check_srk(t);
    if (r != ENVCORE_R_OK)
        return r;
    return start_session(t);
}

void envtpm_flush(struct envtpm_ctx *t, ESYS_TR handle)
{
    if (handle != ESYS_TR_NONE)
        (void)ENVTPM_ESYS(t, Esys_FlushContext, handle);
}
