/*
 * tpm_create.c - creating KEKs under the SRK (TPM2_Create, Part 3 §12.1),
 * then persisting them (TPM2_EvictControl, §28.5) or writing a key file.
 *
 * The auth value travels in inSensitive, the first command parameter: the
 * session's DECRYPT attribute encrypts it (Part 1 §21.2) for this command.
 * A PCR policy is computed by the TPM itself in a trial session (§19.7.6)
 * so the digest is the one it will check at use.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "secmem.h"
#include "tpm_int.h"

typedef struct {
    const envtpm_uri *u;
    envtpm_key_type type;
    int has_pcrs;
    TPML_PCR_SELECTION pcrs;
    const unsigned char *auth;
    size_t auth_len;
} create_arg;

static int policy_digest(struct envtpm_ctx *t, const create_arg *a, TPM2B_DIGEST *out)
{
    ESYS_TR s;
    TPM2B_DIGEST empty = {0};
    TPM2B_DIGEST *d = NULL;
    TSS2_RC rc;
    int r;

    r = envtpm_policy_session(t, TPM2_SE_TRIAL, &s);
    if (r != ENVCORE_R_OK)
        return r;
    rc = ENVTPM_ESYS(t, Esys_PolicyPCR, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty,
                     &a->pcrs);
    if (rc == TSS2_RC_SUCCESS && a->auth_len != 0)
        rc = ENVTPM_ESYS(t, Esys_PolicyAuthValue, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc == TSS2_RC_SUCCESS)
        rc = ENVTPM_ESYS(t, Esys_PolicyGetDigest, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d);
    envtpm_flush(t, s);
    if (rc != TSS2_RC_SUCCESS) {
        int reason = envtpm_rc_reason(rc);
        if (reason == ENVCORE_R_BACKEND_ERROR)
            reason = ENVCORE_R_BAD_ARGUMENT; /* e.g. a bank the TPM does not have */
        return envtpm_raise_rc(reason, "computing the PCR policy (is the PCR bank allocated?)", rc);
    }
    *out = *d;
    Esys_Free(d);
    return ENVCORE_R_OK;
}

static int handle_free(struct envtpm_ctx *t, uint32_t handle)
{
    ESYS_TR tr = ESYS_TR_NONE;
    const unsigned char *name;
    size_t nlen;
    TSS2_RC rc = envtpm_tr_persistent(t, handle, &tr, &name, &nlen);

    if (rc == TSS2_RC_SUCCESS) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT,
                      "TPM: persistent handle 0x%08x is in use; pick another or remove it "
                      "with `tpm2_evictcontrol -C o -c 0x%08x`",
                      (unsigned)handle, (unsigned)handle);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    if (envtpm_rc_reason(rc) != ENVCORE_R_OBJECT_NOT_FOUND)
        return envtpm_raise_rc(envtpm_rc_reason(rc), "checking the persistent handle", rc);
    /* the failed lookup is the expected answer, not a failure to retry */
    t->last_rc = TSS2_RC_SUCCESS;
    return ENVCORE_R_OK;
}

static int persist(struct envtpm_ctx *t, const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub,
                   uint32_t handle)
{
    ESYS_TR tr = ESYS_TR_NONE, ptr = ESYS_TR_NONE, s;
    TSS2_RC rc;
    int r = envtpm_aux_session(t, &s);

    if (r != ENVCORE_R_OK)
        return r;
    rc = ENVTPM_ESYS(t, Esys_Load, t->srk, s, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &tr);
    if (rc != TSS2_RC_SUCCESS)
        return envtpm_raise_rc(envtpm_rc_reason(rc), "loading the new key", rc);
    /* Owner authorisation with an empty owner auth (password session). */
    rc = ENVTPM_ESYS(t, Esys_EvictControl, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                     ESYS_TR_NONE, handle, &ptr);
    envtpm_flush(t, tr);
    if (rc != TSS2_RC_SUCCESS) {
        int reason = envtpm_rc_reason(rc);
        if (reason == ENVCORE_R_PIN_INCORRECT)
            reason = ENVCORE_R_ACCESS_DENIED;
        return envtpm_raise_rc(reason, "persisting the key (owner authorization set?)", rc);
    }
    (void)ENVTPM_ESYS(t, Esys_TR_Close, &ptr);
    return ENVCORE_R_OK;
}

static int create_op(struct envtpm_ctx *t, void *varg)
{
    const create_arg *a = varg;
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_PUBLIC tmpl;
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION none = {0};
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR s;
    TSS2_RC rc, rc2;
    int r;

    envtpm_kek_template(a->type, a->has_pcrs, a->auth_len != 0, &tmpl);
    if (a->has_pcrs && (r = policy_digest(t, a, &tmpl.publicArea.authPolicy)) != ENVCORE_R_OK)
        return r;
    if (a->u->has_handle && (r = handle_free(t, a->u->handle)) != ENVCORE_R_OK)
        return r;
    sens.sensitive.userAuth.size = (UINT16)a->auth_len;
    if (a->auth_len != 0)
        memcpy(sens.sensitive.userAuth.buffer, a->auth, a->auth_len);
    if ((r = envtpm_aux_session(t, &s)) != ENVCORE_R_OK) {
        OPENSSL_cleanse(&sens, sizeof(sens));
        return r;
    }
    rc = ENVTPM_ESYS(t, Esys_TRSess_SetAttributes, s,
                     TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION,
                     0xff);
    if (rc == TSS2_RC_SUCCESS)
        rc = ENVTPM_ESYS(t, Esys_Create, t->srk, s, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                         &outside, &none, &priv, &pub, NULL, NULL, NULL);
    rc2 = ENVTPM_ESYS(t, Esys_TRSess_SetAttributes, s,
                      TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, 0xff);
    OPENSSL_cleanse(&sens, sizeof(sens));
    if (rc != TSS2_RC_SUCCESS)
        return envtpm_raise_rc(envtpm_rc_reason(rc), "TPM2_Create of the KEK", rc);
    if (rc2 != TSS2_RC_SUCCESS) {
        r = envtpm_raise_rc(ENVCORE_R_INTERNAL, "resetting session attributes", rc2);
        goto out;
    }
    if (a->u->has_handle) {
        r = persist(t, priv, pub, a->u->handle);
    } else {
        envtpm_keyfile kf;
        memset(&kf, 0, sizeof(kf));
        kf.empty_auth = a->auth_len == 0;
        kf.parent = ENVTPM_SRK_HANDLE;
        kf.pub = *pub;
        kf.priv = *priv;
        kf.has_pcr_policy = a->has_pcrs;
        kf.pcrs = a->pcrs;
        kf.policy_auth_value = a->has_pcrs && a->auth_len != 0;
        r = envtpm_keyfile_write(a->u->file, &kf);
        OPENSSL_cleanse(&kf, sizeof(kf));
    }
out:
    Esys_Free(priv);
    Esys_Free(pub);
    return r;
}

int envtpm_key_create(struct envtpm_ctx *t, const char *uri, const envtpm_create_params *p)
{
    envtpm_uri u;
    create_arg a;
    unsigned char *auth = NULL;
    int r;

    if (p == NULL || (p->type != ENVTPM_KEY_EC_P256 && p->type != ENVTPM_KEY_RSA_2048)) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "TPM KEK type must be ec-p256 or rsa-2048");
        return ENVCORE_R_BAD_ARGUMENT;
    }
    r = envtpm_uri_parse(uri, &u);
    if (r != ENVCORE_R_OK)
        return r;
    memset(&a, 0, sizeof(a));
    a.u = &u;
    a.type = p->type;
    if (u.pin_source != NULL && p->pin_source != NULL) {
        r = ENVCORE_R_BAD_ARGUMENT;
        ENVCORE_RAISE(r, "TPM KEK: give the pin source in the URI or as a parameter, not both");
        goto out;
    }
    if (p->pcrs != NULL && u.pcrs != NULL && strcmp(p->pcrs, u.pcrs) != 0) {
        r = ENVCORE_R_BAD_ARGUMENT;
        ENVCORE_RAISE(r, "TPM KEK: PCR selection given twice, differently");
        goto out;
    }
    if (p->pcrs != NULL || u.pcrs != NULL) {
        r = envtpm_pcrs_parse(p->pcrs != NULL ? p->pcrs : u.pcrs, &a.pcrs);
        if (r != ENVCORE_R_OK)
            goto out;
        a.has_pcrs = 1;
    }
    if (p->pin_source != NULL || u.pin_source != NULL) {
        r = envtpm_pin_read(p->pin_source != NULL ? p->pin_source : u.pin_source, &auth,
                            &a.auth_len);
        if (r != ENVCORE_R_OK)
            goto out;
        a.auth = auth;
    }
    r = envtpm_run(t, create_op, &a);
out:
    envelope_secmem_free(auth);
    envtpm_uri_clear(&u);
    return r;
}
