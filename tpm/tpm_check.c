/*
 * tpm_check.c - `envelope kek check` for TPM keys: every way a key's public
 * area is weaker than envelope's template (tpm_pub.c envtpm_kek_template:
 * fixedTPM, fixedParent, sensitiveDataOrigin, decrypt only, not restricted,
 * not sign).
 *
 * Read-only, as tpm_list.c: TPM2_ReadPublic takes no authorisation, so no
 * auth value is offered and nothing counts against the dictionary-attack
 * lockout (Part 1 §19.8); a key file's public area is read from the file.
 * Keys are judged, never opened: a key envtpm_key_open refuses (a
 * duplicable or signing key) is reported here, not refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tpm_int.h"

#define MAX_CHECKED 128

void envtpm_check_public(const TPMT_PUBLIC *p, envcore_findings *f)
{
    TPMA_OBJECT a = p->objectAttributes;
    char kind[ENVCORE_KIND_MAX];
    if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256)
        snprintf(kind, sizeof(kind), "ec-p256");
    else if (p->type == TPM2_ALG_ECC)
        snprintf(kind, sizeof(kind), "ec-curve-0x%04x", (unsigned)p->parameters.eccDetail.curveID);
    else
        snprintf(kind, sizeof(kind), "rsa-%u", (unsigned)p->parameters.rsaDetail.keyBits);
    envcore_findings_init(f, kind);
    /* Part 1 §27.2: without both, TPM2_Duplicate can move the key (its
     * private part wrapped for another parent or another TPM) */
    if (!(a & TPMA_OBJECT_FIXEDTPM))
        envcore_findings_add(f, ENVCORE_F_NOT_FIXED,
                             "fixedTPM is clear: the key can be duplicated to another TPM");
    if (!(a & TPMA_OBJECT_FIXEDPARENT))
        envcore_findings_add(f, ENVCORE_F_NOT_FIXED,
                             "fixedParent is clear: the key can be duplicated under another "
                             "parent");
    if (!(a & TPMA_OBJECT_SENSITIVEDATAORIGIN))
        envcore_findings_add(f, ENVCORE_F_ONCE_EXTRACTABLE,
                             "sensitiveDataOrigin is clear: the private key was made outside "
                             "the TPM and imported, so it exists outside it");
    if (a & TPMA_OBJECT_SIGN_ENCRYPT)
        envcore_findings_add(f, ENVCORE_F_USAGE,
                             "sign is set: the key can sign; a KEK only decrypts");
    if (a & TPMA_OBJECT_RESTRICTED)
        envcore_findings_add(f, ENVCORE_F_USAGE,
                             "restricted is set: a storage or attestation key (it can load "
                             "and import other keys), not a KEK");
    if (p->type == TPM2_ALG_RSA && p->parameters.rsaDetail.keyBits < 2048)
        envcore_findings_add(f, ENVCORE_F_WEAK_SIZE, "RSA-%u: below 2048 bits",
                             (unsigned)p->parameters.rsaDetail.keyBits);
    if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P192)
        envcore_findings_add(f, ENVCORE_F_WEAK_SIZE, "curve P-192: below 128-bit security");
}

typedef struct {
    uint32_t handles[MAX_CHECKED];
    size_t n;
    TPMT_PUBLIC pub[MAX_CHECKED];
    int found[MAX_CHECKED];
    int explicit_handle; /* a handle the URI named: absent is an error */
} check_arg;

static int read_publics(struct envtpm_ctx *t, void *varg)
{
    check_arg *a = varg;
    for (size_t i = 0; i < a->n; i++) {
        ESYS_TR tr, s;
        const unsigned char *name;
        size_t nlen;
        TPM2B_PUBLIC *pub = NULL;
        TSS2_RC rc = envtpm_tr_persistent(t, a->handles[i], &tr, &name, &nlen);
        if (rc != TSS2_RC_SUCCESS) {
            int reason = envtpm_rc_reason(rc);
            if (reason == ENVCORE_R_OBJECT_NOT_FOUND && !a->explicit_handle)
                continue; /* gone since the listing */
            if (reason == ENVCORE_R_OBJECT_NOT_FOUND) {
                t->last_rc = TSS2_RC_SUCCESS; /* an answer, not an outage to retry */
                ENVCORE_RAISE(ENVCORE_R_OBJECT_NOT_FOUND,
                              "TPM: no key at persistent handle 0x%08x; list them with: "
                              "envelope kek list tpm2:",
                              (unsigned)a->handles[i]);
                return ENVCORE_R_OBJECT_NOT_FOUND;
            }
            return envtpm_raise_rc(reason, "looking up a persistent handle", rc);
        }
        if (envtpm_aux_session(t, &s) != ENVCORE_R_OK)
            return t->last_rc != TSS2_RC_SUCCESS ? ENVCORE_R_BACKEND_ERROR : ENVCORE_R_INTERNAL;
        /* in the salted session, so the response HMAC covers the public area */
        rc = ENVTPM_ESYS(t, Esys_ReadPublic, tr, s, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS)
            return envtpm_raise_rc(envtpm_rc_reason(rc), "reading a persistent key's public area",
                                   rc);
        a->pub[i] = pub->publicArea;
        a->found[i] = 1;
        Esys_Free(pub);
    }
    return ENVCORE_R_OK;
}

static int collect_handle(void *varg, const envtpm_list_entry *e)
{
    check_arg *a = varg;
    if (a->n < MAX_CHECKED)
        a->handles[a->n++] = e->handle;
    return 0;
}

static int is_kek_kind(const TPMT_PUBLIC *p)
{
    return p->type == TPM2_ALG_ECC || p->type == TPM2_ALG_RSA;
}

int envtpm_check(struct envtpm_ctx *t, const char *uri, envcore_check_cb *cb, void *arg)
{
    envcore_findings f;
    envtpm_uri u = {0};
    int r;
    if (strcasecmp(uri, "tpm2:") != 0) {
        if ((r = envtpm_uri_parse(uri, &u)) != ENVCORE_R_OK)
            return r;
        if (u.file != NULL) { /* a key file: its public area, no TPM needed */
            envtpm_keyfile kf;
            char *shown = envtpm_uri_public(&u);
            r = shown == NULL ? ENVCORE_R_INTERNAL : envtpm_keyfile_read(u.file, &kf);
            if (r == ENVCORE_R_OK && !is_kek_kind(&kf.pub.publicArea)) {
                ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                              "TPM key file \"%s\" holds neither an EC nor an RSA key", shown);
                r = ENVCORE_R_NOT_SUPPORTED;
            }
            if (r == ENVCORE_R_OK) {
                envtpm_check_public(&kf.pub.publicArea, &f);
                r = cb(shown, &f, arg);
            }
            OPENSSL_cleanse(&kf, sizeof(kf));
            free(shown);
            envtpm_uri_clear(&u);
            return r;
        }
        if (!u.has_handle) {
            envtpm_uri_clear(&u);
            ENVCORE_RAISE(ENVCORE_R_BAD_URI, "kek check takes tpm2:handle=0x81..., "
                                             "tpm2:file=PATH or tpm2: (every persistent key)");
            return ENVCORE_R_BAD_URI;
        }
    }
    check_arg *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        envtpm_uri_clear(&u);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    if (u.has_handle) {
        a->handles[a->n++] = u.handle;
        a->explicit_handle = 1;
        r = ENVCORE_R_OK;
    } else {
        r = envtpm_list(t, collect_handle, a);
    }
    envtpm_uri_clear(&u);
    if (r == ENVCORE_R_OK)
        r = envtpm_run(t, read_publics, a);
    for (size_t i = 0; r == ENVCORE_R_OK && i < a->n; i++) {
        if (!a->found[i])
            continue;
        if (!is_kek_kind(&a->pub[i])) {
            if (!a->explicit_handle)
                continue; /* sealed data, symmetric keys: not KEKs */
            ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                          "TPM: handle 0x%08x holds neither an EC nor an RSA key",
                          (unsigned)a->handles[i]);
            r = ENVCORE_R_NOT_SUPPORTED;
            break;
        }
        char shown[40];
        snprintf(shown, sizeof(shown), "tpm2:handle=0x%08x", (unsigned)a->handles[i]);
        envtpm_check_public(&a->pub[i], &f);
        r = cb(shown, &f, arg);
    }
    free(a);
    return r;
}
