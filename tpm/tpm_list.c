/*
 * tpm_list.c - the TPM's persistent keys (`envelope kek list tpm2:`).
 *
 * Read-only by construction: TPM2_GetCapability(TPM_CAP_HANDLES) over the
 * owner's persistent range, then TPM2_ReadPublic of each handle (in the
 * salted session, so the response HMAC covers the public area). Neither
 * command takes an authorisation: no auth value is offered to any key, and
 * nothing here can count against the dictionary-attack lockout (Part 1
 * §19.8 counts failed authorisations only). Keys are never opened, so no pin
 * source is read either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <tss2/tss2_mu.h>

#include "tpm_int.h"

#define OWNER_FIRST 0x81000000u /* Registry of Reserved TPM 2.0 Handles §2.3 */
#define OWNER_LAST 0x817fffffu
#define MAX_LISTED 128

typedef struct {
    uint32_t handles[MAX_LISTED];
    size_t n;
    int truncated;
    envtpm_list_entry *out;
} list_arg;

/* The exact template tpm_create.c would have used for a key of this type
 * with this policy/auth choice (only unique and authPolicy differ from key
 * to key): the public area, byte for byte, is what we created. */
static int envelope_template(const TPMT_PUBLIC *p)
{
    TPM2B_PUBLIC t;
    uint8_t a[sizeof(TPMT_PUBLIC)], b[sizeof(TPMT_PUBLIC)];
    size_t la = 0, lb = 0;

    if (p->type != TPM2_ALG_ECC && p->type != TPM2_ALG_RSA)
        return 0;
    envtpm_kek_template(p->type == TPM2_ALG_ECC ? ENVTPM_KEY_EC_P256 : ENVTPM_KEY_RSA_2048,
                        p->authPolicy.size != 0, !(p->objectAttributes & TPMA_OBJECT_NODA), &t);
    t.publicArea.authPolicy = p->authPolicy;
    t.publicArea.unique = p->unique;
    if (Tss2_MU_TPMT_PUBLIC_Marshal(&t.publicArea, a, sizeof(a), &la) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPMT_PUBLIC_Marshal(p, b, sizeof(b), &lb) != TSS2_RC_SUCCESS)
        return 0;
    return la == lb && memcmp(a, b, la) == 0;
}

static const char *kind_of(const TPMT_PUBLIC *p, char *buf, size_t n)
{
    if (p->type == TPM2_ALG_ECC) {
        if (p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256)
            return "EC P-256";
        snprintf(buf, n, "EC curve 0x%04x", (unsigned)p->parameters.eccDetail.curveID);
        return buf;
    }
    if (p->type == TPM2_ALG_RSA) {
        snprintf(buf, n, "RSA-%u", (unsigned)p->parameters.rsaDetail.keyBits);
        return buf;
    }
    if (p->type == TPM2_ALG_KEYEDHASH)
        return "keyed hash / sealed data";
    if (p->type == TPM2_ALG_SYMCIPHER)
        return "symmetric key";
    snprintf(buf, n, "type 0x%04x", (unsigned)p->type);
    return buf;
}

void envtpm_list_describe(uint32_t handle, const TPMT_PUBLIC *p, envtpm_list_entry *e)
{
    TPMA_OBJECT a = p->objectAttributes;
    char kbuf[32];
    const char *policy;
    int usable;

    memset(e, 0, sizeof(*e));
    e->handle = handle;
    /* the same checks envtpm_key_open makes, without raising anything */
    ERR_set_mark();
    usable = envtpm_pub_check_kek(p) == ENVCORE_R_OK;
    ERR_pop_to_mark();
    e->usable = usable;
    e->needs_pcrs = p->authPolicy.size != 0 && !(a & TPMA_OBJECT_USERWITHAUTH);
    e->envelope_made = envelope_template(p);
    snprintf(e->uri, sizeof(e->uri), "tpm2:handle=0x%08x%s", (unsigned)handle,
             e->needs_pcrs ? ";pcrs=BANK:LIST" : "");
    if (p->authPolicy.size == 0)
        policy = "no policy";
    else if (e->needs_pcrs)
        policy = "policy only (add ;pcrs= with the PCRs it was created with)";
    else
        policy = "policy or auth value";
    snprintf(e->desc, sizeof(e->desc), "%s%s, %s, %s, %s, %s", usable ? "" : "UNUSABLE ",
             kind_of(p, kbuf, sizeof(kbuf)), policy,
             a & TPMA_OBJECT_USERWITHAUTH ? "userWithAuth" : "no userWithAuth",
             a & TPMA_OBJECT_NODA ? "noDA" : "DA-protected",
             e->envelope_made ? "envelope template" : "not envelope's template");
    if (!usable) {
        const char *why = (a & (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT))
                              ? " (restricted or signing key)"
                          : !(a & TPMA_OBJECT_DECRYPT) ? " (not a decryption key)"
                          : (a & (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)) !=
                                  (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)
                              ? " (duplicable)"
                              : " (algorithm or scheme not supported)";
        size_t l = strlen(e->desc);
        snprintf(e->desc + l, sizeof(e->desc) - l, "%s", why);
    }
}

static int list_op(struct envtpm_ctx *t, void *varg)
{
    list_arg *a = varg;
    TPMI_YES_NO more = TPM2_YES;
    uint32_t next = OWNER_FIRST;
    size_t i;

    a->n = 0;
    a->truncated = 0;
    for (unsigned rounds = 0; more == TPM2_YES && next <= OWNER_LAST; rounds++) {
        TPMS_CAPABILITY_DATA *cap = NULL;
        uint32_t asked = next;
        if (rounds == 256) {
            /* the owner range holds at most a few dozen keys on any TPM */
            ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR, "TPM: the handle list does not end");
            return ENVCORE_R_BACKEND_ERROR;
        }
        /* no session: an encrypting session needs a sized first response
         * parameter, and GetCapability's is moreData */
        TSS2_RC rc = ENVTPM_ESYS(t, Esys_GetCapability, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                 TPM2_CAP_HANDLES, next, TPM2_MAX_CAP_HANDLES, &more, &cap);
        if (rc != TSS2_RC_SUCCESS)
            return envtpm_raise_rc(envtpm_rc_reason(rc), "listing persistent handles", rc);
        if (cap->data.handles.count == 0)
            more = TPM2_NO;
        for (i = 0; i < cap->data.handles.count && i < TPM2_MAX_CAP_HANDLES; i++) {
            uint32_t h = cap->data.handles.handle[i];
            if (h < asked) {
                /* handles come in increasing order from the one asked for
                 * (Part 3 §30.2); anything else would never end */
                Esys_Free(cap);
                ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR,
                              "TPM: the handle list goes backwards; refusing it");
                return ENVCORE_R_BACKEND_ERROR;
            }
            asked = h + 1;
            next = h + 1;
            if (h > OWNER_LAST) {
                more = TPM2_NO;
                break;
            }
            if (h < OWNER_FIRST || h == ENVTPM_SRK_HANDLE)
                continue;
            if (a->n == MAX_LISTED) {
                a->truncated = 1;
                more = TPM2_NO;
                break;
            }
            a->handles[a->n++] = h;
        }
        Esys_Free(cap);
    }
    for (i = 0; i < a->n; i++) {
        ESYS_TR tr;
        const unsigned char *name;
        size_t nlen;
        TPM2B_PUBLIC *pub = NULL;
        ESYS_TR s;
        TSS2_RC rc = envtpm_tr_persistent(t, a->handles[i], &tr, &name, &nlen);
        if (rc == TSS2_RC_SUCCESS && envtpm_aux_session(t, &s) != ENVCORE_R_OK)
            return t->last_rc != TSS2_RC_SUCCESS ? ENVCORE_R_BACKEND_ERROR : ENVCORE_R_INTERNAL;
        if (rc == TSS2_RC_SUCCESS)
            rc = ENVTPM_ESYS(t, Esys_ReadPublic, tr, s, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL,
                             NULL);
        if (rc != TSS2_RC_SUCCESS)
            return envtpm_raise_rc(envtpm_rc_reason(rc), "reading a persistent key's public area",
                                   rc);
        envtpm_list_describe(a->handles[i], &pub->publicArea, &a->out[i]);
        Esys_Free(pub);
    }
    return ENVCORE_R_OK;
}

int envtpm_list(struct envtpm_ctx *t, int (*cb)(void *arg, const envtpm_list_entry *e), void *arg)
{
    list_arg *a = calloc(1, sizeof(*a));
    size_t i;
    int r;

    if (a != NULL)
        a->out = calloc(MAX_LISTED, sizeof(*a->out));
    if (a == NULL || a->out == NULL) {
        if (a != NULL)
            free(a->out);
        free(a);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    r = envtpm_run(t, list_op, a);
    for (i = 0; r == ENVCORE_R_OK && i < a->n; i++)
        if (cb(arg, &a->out[i]) != 0)
            break;
    if (r == ENVCORE_R_OK && a->truncated)
        envcore_debug("tpm2: listed the first %d persistent handles only", MAX_LISTED);
    free(a->out);
    free(a);
    return r;
}
