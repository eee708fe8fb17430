/*
 * tpm_esys.c - the one wrapper every Esys_* call goes through (docs/ARCHITECTURE.md, "Calls into a device"):
 * it takes the context lock, logs the call, keeps tpm2-tss's own text for a
 * failure in the debug log only, and maps TSS2_RC to our reasons.
 */
#include <stdio.h>

#include <openssl/crypto.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_sys.h>

#include "tpm_int.h"

void envtpm_esys_begin(struct envtpm_ctx *t)
{
    pthread_mutex_lock(&t->lock);
}

TSS2_RC envtpm_esys_end(struct envtpm_ctx *t, const char *fn, TSS2_RC rc)
{
    if (rc != TSS2_RC_SUCCESS) {
        t->last_rc = rc;
        t->last_fn = fn;
        /* Tss2_RC_Decode returns a static per-thread buffer; it names the
         * layer and the error, never command data. */
        envcore_debug("tpm2: %s -> 0x%08x (%s)", fn, (unsigned)rc, Tss2_RC_Decode(rc));
    } else if (envcore_debug_enabled()) {
        envcore_debug("tpm2: %s ok", fn);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void envtpm_wipe_response(struct envtpm_ctx *t)
{
    TSS2_SYS_CONTEXT *sys = NULL;
    const uint8_t *rp = NULL;
    size_t n = 0;

    if (t->esys == NULL)
        return;
    envtpm_esys_begin(t);
    /* ESYS decrypts an encrypted response parameter in place, in the SAPI
     * context's command/response buffer (Tss2_Sys_GetRpBuffer's area), and
     * neither the next command nor Esys_Finalize clears what a short
     * command leaves behind. BAD_SEQUENCE (no response since the last
     * command was prepared) leaves nothing to wipe. */
    if (Esys_GetSysContext(t->esys, &sys) == TSS2_RC_SUCCESS && sys != NULL &&
        Tss2_Sys_GetRpBuffer(sys, &n, &rp) == TSS2_RC_SUCCESS && rp != NULL && n != 0)
        OPENSSL_cleanse((void *)(uintptr_t)rp, n);
    pthread_mutex_unlock(&t->lock);
}

TSS2_RC envtpm_rc_base(TSS2_RC rc)
{
    TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
    TSS2_RC code = rc & ~TSS2_RC_LAYER_MASK;

    if (layer != TSS2_TPM_RC_LAYER)
        return rc;
    /* Part 2 §6.6.3: format-one codes (bit 7) carry a parameter, handle or
     * session number in bits 8..11; the error itself is bits 0..5. */
    if (code & TPM2_RC_FMT1)
        return TPM2_RC_FMT1 | (code & 0x3f);
    /* Format zero: warnings and version-1 errors, bits 0..6 with the
     * version (bit 8) and warning (bit 11) flags. */
    return code & 0xfff;
}

static int tcti_layer(TSS2_RC rc)
{
    TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
    return layer == TSS2_TCTI_RC_LAYER;
}

int envtpm_rc_retryable(TSS2_RC rc)
{
    TSS2_RC base = envtpm_rc_base(rc);
    TSS2_RC low = rc & TSS2_RC_LAYER_MASK ? rc & 0xffff : 0;

    if (tcti_layer(rc))
        return 1; /* connection refused, closed, short read: re-open */
    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_RESMGR_RC_LAYER ||
        (rc & TSS2_RC_LAYER_MASK) == TSS2_RESMGR_TPM_RC_LAYER)
        return 1;
    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_ESAPI_RC_LAYER ||
        (rc & TSS2_RC_LAYER_MASK) == TSS2_SYS_RC_LAYER ||
        (rc & TSS2_RC_LAYER_MASK) == TSS2_MU_RC_LAYER) {
        /* ESYS passes TCTI failures up as base codes in its own layer */
        return low == TSS2_BASE_RC_IO_ERROR || low == TSS2_BASE_RC_NO_CONNECTION ||
               low == TSS2_BASE_RC_TRY_AGAIN || low == TSS2_BASE_RC_MALFORMED_RESPONSE ||
               low == TSS2_BASE_RC_INSUFFICIENT_RESPONSE || low == TSS2_BASE_RC_RSP_AUTH_FAILED;
    }
    switch (base) {
    case TPM2_RC_INITIALIZE:   /* TPM was reset and not started */
    case TPM2_RC_REFERENCE_S0: /* Part 2 §6.6: our session is gone (reset) */
    case TPM2_RC_REFERENCE_S1:
    case TPM2_RC_REFERENCE_S2:
    case TPM2_RC_SESSION_MEMORY:
    case TPM2_RC_SESSION_HANDLES:
    case TPM2_RC_FMT1 | TPM2_RC_NONCE: /* nonces out of step: a new session */
    case TPM2_RC_RETRY:
    case TPM2_RC_YIELDED:
    case TPM2_RC_TESTING:
    case TPM2_RC_CANCELED: return 1;
    default: break;
    }
    /* A handle or session number that the TPM does not know (format one,
     * session flag set): the session died with a reset. */
    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && (rc & TPM2_RC_FMT1) && (rc & TPM2_RC_S) &&
        (base == (TPM2_RC_FMT1 | TPM2_RC_HANDLE) || base == (TPM2_RC_FMT1 | TPM2_RC_VALUE)))
        return 1;
    return 0;
}

int envtpm_rc_reason(TSS2_RC rc)
{
    TSS2_RC base = envtpm_rc_base(rc);

    if (rc == TSS2_RC_SUCCESS)
        return ENVCORE_R_OK;
    if (envtpm_rc_retryable(rc))
        return ENVCORE_R_BACKEND_UNAVAILABLE;
    switch (base) {
    case TPM2_RC_FMT1 | TPM2_RC_AUTH_FAIL: /* HMAC check failed: wrong auth value */
    case TPM2_RC_FMT1 | TPM2_RC_BAD_AUTH: return ENVCORE_R_PIN_INCORRECT;
    case TPM2_RC_LOCKOUT: /* Part 1 §19.8.3: dictionary-attack lockout */
        return ENVCORE_R_PIN_LOCKED;
    case TPM2_RC_FMT1 | TPM2_RC_POLICY_FAIL: return ENVCORE_R_PCR_POLICY_NOT_SATISFIED;
    case TPM2_RC_FMT1 | TPM2_RC_HANDLE: return ENVCORE_R_OBJECT_NOT_FOUND;
    case TPM2_RC_FMT1 | TPM2_RC_SCHEME:
    case TPM2_RC_FMT1 | TPM2_RC_HASH:
    case TPM2_RC_FMT1 | TPM2_RC_CURVE:
    case TPM2_RC_FMT1 | TPM2_RC_KEY_SIZE: return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    case TPM2_RC_FMT1 | TPM2_RC_ECC_POINT: return ENVCORE_R_BAD_ARGUMENT;
    default: return ENVCORE_R_BACKEND_ERROR;
    }
}

int envtpm_raise_rc(int reason, const char *what, TSS2_RC rc)
{
    /* The decoded text is useful to an operator and holds no command data. */
    ENVCORE_RAISE(reason, "TPM: %s failed: %s (0x%x)", what, Tss2_RC_Decode(rc), (unsigned)rc);
    return reason;
}
