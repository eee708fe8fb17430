/*
 * tpm_session.c - salted sessions with a salt made by us (tpm_salt.c), and
 * the TCTI in front of the loader's that carries it to the TPM.
 *
 * ESYS computes a session's key as KDFa(authHash, bind.authValue || salt,
 * "ATH", nonceTPM, nonceCaller) (Part 1 §19.6.8) and does its own salt
 * computation only for a tpmKey. So ESYS is asked for a session with no
 * tpmKey, bound to the SRK's ESYS_TR whose auth value we set to our salt
 * for that one call; it then derives KDFa(salt || nothing). The TPM must get
 * tpmKey = SRK and our encrypted salt, and the SRK's real (empty) auth value:
 * it derives KDFa(nothing || salt). Same input, same key. The front TCTI
 * rewrites that one StartAuthSession command - recognised by our nonceCaller,
 * checked field by field - to carry tpmKey = SRK, the encrypted salt and the
 * bind handle we want on the wire (SRK for the HMAC session, TPM_RH_NULL for
 * policy sessions): the bytes the TPM receives are what ESYS would have sent
 * with tpmKey = SRK. StartAuthSession has no authorisation area and no
 * cpHash, so nothing else covers those bytes. Every other command passes
 * through unchanged.
 *
 * ESYS's picture of the binding differs from the TPM's (ESYS binds the SRK
 * with the salt as auth value, the TPM with the empty one), which changes
 * nothing: an HMAC key is sessionKey || authValue for an unbound entity and
 * sessionKey for the bound one, and the SRK's auth value is empty; every
 * other entity is unbound for both. The SRK's ESYS auth value is set back to
 * empty before anything else can use it (a password session would send it).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <tss2/tss2_tcti.h>

#include "tpm_int.h"

#define FRONT_MAGIC 0x656e76656c6f7065ULL /* "envelope" */

struct envtpm_front {
    TSS2_TCTI_CONTEXT_COMMON_V2 common; /* first: this is what ESYS calls */
    TSS2_TCTI_CONTEXT *inner;
    int armed;
    envtpm_sas_rewrite rw;
    unsigned rewrites;
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int envtpm_sas_rewrite_cmd(const envtpm_sas_rewrite *rw, const uint8_t *cmd, size_t len,
                           uint8_t *out, size_t outsize, size_t *outlen)
{
    /* Part 3 §11.1: tag(2) | commandSize(4) | commandCode(4) | tpmKey(4) |
     * bind(4) | nonceCaller (TPM2B) | encryptedSalt (TPM2B) | sessionType |
     * symmetric | authHash. */
    size_t nonce_len, at, rest, need;

    if (len < 10 || get32(cmd + 6) != TPM2_CC_StartAuthSession)
        return 0; /* not a StartAuthSession: none of ours */
    if (len < 20)
        return -1;
    nonce_len = (size_t)cmd[18] << 8 | cmd[19];
    at = 20 + nonce_len; /* encryptedSalt */
    if (at + 2 > len || nonce_len != rw->nonce.size ||
        CRYPTO_memcmp(cmd + 20, rw->nonce.buffer, nonce_len) != 0)
        return 0; /* a session someone else started (not our nonce) */
    /* ours: it must be exactly what we asked ESYS for */
    if (cmd[0] != 0x80 || cmd[1] != 0x01 || get32(cmd + 2) != len ||
        get32(cmd + 10) != TPM2_RH_NULL || get32(cmd + 14) != rw->bind_esys || cmd[at] != 0 ||
        cmd[at + 1] != 0)
        return -1;
    rest = len - (at + 2); /* sessionType, symmetric, authHash */
    need = len + rw->salt.size;
    if (need > outsize || rest < 5 || rw->salt.size == 0)
        return -1;
    memcpy(out, cmd, at);
    put32(out + 2, (uint32_t)need);
    put32(out + 10, rw->tpm_key);
    put32(out + 14, rw->bind_wire);
    out[at] = (uint8_t)(rw->salt.size >> 8);
    out[at + 1] = (uint8_t)(rw->salt.size & 0xff);
    memcpy(out + at + 2, rw->salt.secret, rw->salt.size);
    memcpy(out + at + 2 + rw->salt.size, cmd + at + 2, rest);
    *outlen = need;
    return 1;
}

#define FRONT(ctx) ((struct envtpm_front *)(void *)(ctx))

static TSS2_RC front_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *cmd)
{
    struct envtpm_front *f = FRONT(ctx);
    uint8_t buf[TPM2_MAX_COMMAND_SIZE];
    size_t n = 0;
    int r;

    if (!f->armed)
        return Tss2_Tcti_Transmit(f->inner, size, cmd);
    r = envtpm_sas_rewrite_cmd(&f->rw, cmd, size, buf, sizeof(buf), &n);
    if (r < 0) {
        envcore_debug("tpm2: refusing to send a malformed StartAuthSession of ours");
        return TSS2_TCTI_RC_BAD_VALUE;
    }
    if (r == 0)
        return Tss2_Tcti_Transmit(f->inner, size, cmd);
    f->rewrites++;
    return Tss2_Tcti_Transmit(f->inner, n, buf);
}

static TSS2_RC front_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *rsp, int32_t timeout)
{
    return Tss2_Tcti_Receive(FRONT(ctx)->inner, size, rsp, timeout);
}

static void front_finalize(TSS2_TCTI_CONTEXT *ctx)
{
    (void)ctx; /* the inner one is the loader's, finalised by tpm_ctx.c */
}

static TSS2_RC front_cancel(TSS2_TCTI_CONTEXT *ctx)
{
    return Tss2_Tcti_Cancel(FRONT(ctx)->inner);
}

static TSS2_RC front_poll(TSS2_TCTI_CONTEXT *ctx, TSS2_TCTI_POLL_HANDLE *h, size_t *n)
{
    return Tss2_Tcti_GetPollHandles(FRONT(ctx)->inner, h, n);
}

static TSS2_RC front_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality)
{
    return Tss2_Tcti_SetLocality(FRONT(ctx)->inner, locality);
}

static TSS2_RC front_sticky(TSS2_TCTI_CONTEXT *ctx, TPM2_HANDLE *handle, uint8_t sticky)
{
    return Tss2_Tcti_MakeSticky(FRONT(ctx)->inner, handle, sticky);
}

struct envtpm_front *envtpm_front_new(TSS2_TCTI_CONTEXT *inner)
{
    struct envtpm_front *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return NULL;
    f->common.v1.magic = FRONT_MAGIC;
    f->common.v1.version = 2;
    f->common.v1.transmit = front_transmit;
    f->common.v1.receive = front_receive;
    f->common.v1.finalize = front_finalize;
    f->common.v1.cancel = front_cancel;
    f->common.v1.getPollHandles = front_poll;
    f->common.v1.setLocality = front_locality;
    f->common.makeSticky = front_sticky;
    f->inner = inner;
    return f;
}

TSS2_TCTI_CONTEXT *envtpm_front_tcti(struct envtpm_front *f)
{
    return (TSS2_TCTI_CONTEXT *)(void *)f;
}

void envtpm_front_free(struct envtpm_front *f)
{
    if (f == NULL)
        return;
    OPENSSL_cleanse(f, sizeof(*f));
    free(f);
}

unsigned envtpm_salted_sessions(struct envtpm_ctx *t)
{
    return t->front != NULL ? t->front->rewrites : 0;
}

int envtpm_start_salted(struct envtpm_ctx *t, TPM2_SE type, int bind_srk, ESYS_TR *out)
{
    return envtpm_start_salted_ex(t, type, bind_srk, out, NULL, NULL);
}

int envtpm_start_salted_ex(struct envtpm_ctx *t, TPM2_SE type, int bind_srk, ESYS_TR *out,
                           TPM2B_AUTH *salt_out, TPM2B_NONCE *nonce_out)
{
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};
    struct envtpm_front *f = t->front;
    TPM2B_AUTH salt, empty;
    unsigned before;
    TSS2_RC rc, rc2;
    int r;

    *out = ESYS_TR_NONE;
    memset(&empty, 0, sizeof(empty));
    if (f == NULL || t->srk_pub.type == TPM2_ALG_NULL || t->srk_pub.type == 0) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: no verified SRK to salt the session with");
        return ENVCORE_R_INTERNAL;
    }
    r = envtpm_salt_make(t->libctx, &t->srk_pub, &f->rw.salt, &salt);
    if (r != ENVCORE_R_OK) {
        ENVCORE_RAISE(r, "TPM: computing the session salt failed (SRK type or curve not "
                         "supported?)");
        return r;
    }
    f->rw.nonce.size = 32;
    if (RAND_bytes_ex(t->libctx, f->rw.nonce.buffer, 32, 0) != 1) {
        OPENSSL_cleanse(&salt, sizeof(salt));
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: no random bytes for the session nonce");
        return ENVCORE_R_INTERNAL;
    }
    f->rw.tpm_key = ENVTPM_SRK_HANDLE;
    f->rw.bind_esys = ENVTPM_SRK_HANDLE;
    f->rw.bind_wire = bind_srk ? ENVTPM_SRK_HANDLE : TPM2_RH_NULL;
    before = f->rewrites;
    rc = ENVTPM_ESYS(t, Esys_TR_SetAuth, t->srk, &salt);
    if (rc == TSS2_RC_SUCCESS) {
        f->armed = 1;
        rc = ENVTPM_ESYS(t, Esys_StartAuthSession, ESYS_TR_NONE, t->srk, ESYS_TR_NONE, ESYS_TR_NONE,
                         ESYS_TR_NONE, &f->rw.nonce, type, &sym, TPM2_ALG_SHA256, out);
        f->armed = 0;
    }
    /* always: a password session on the SRK (Esys_Load) would send it */
    rc2 = ENVTPM_ESYS(t, Esys_TR_SetAuth, t->srk, &empty);
    if (rc == TSS2_RC_SUCCESS && rc2 == TSS2_RC_SUCCESS && f->rewrites != before) {
        if (salt_out != NULL)
            *salt_out = salt;
        if (nonce_out != NULL)
            *nonce_out = f->rw.nonce;
    }
    OPENSSL_cleanse(&salt, sizeof(salt));
    OPENSSL_cleanse(&f->rw, sizeof(f->rw));
    if (rc2 != TSS2_RC_SUCCESS) {
        /* the salt may still be the SRK's auth value in ESYS: a later
         * password session on the SRK would send it. Drop the connection. */
        envtpm_ctx_poison(t);
        if (rc == TSS2_RC_SUCCESS)
            envtpm_flush(t, *out);
        *out = ESYS_TR_NONE;
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: could not reset the SRK's auth value after "
                                          "starting a session; reconnecting");
        return ENVCORE_R_INTERNAL;
    }
    if (rc != TSS2_RC_SUCCESS) {
        *out = ESYS_TR_NONE;
        return envtpm_raise_rc(envtpm_rc_reason(rc), "starting a salted session", rc);
    }
    if (f->rewrites == before) {
        /* never expected: the TPM would hold an unsalted session */
        envtpm_flush(t, *out);
        *out = ESYS_TR_NONE;
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: the session was not started salted; refusing it");
        return ENVCORE_R_INTERNAL;
    }
    return ENVCORE_R_OK;
}
