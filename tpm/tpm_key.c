/*
 * tpm_key.c - opening KEKs by URI, and getting one authorised use of a key:
 * an ESYS_TR for it (a persistent handle, or a file key loaded under the
 * SRK and flushed right after) and the session that authorises it.
 *
 * A persistent key's public area and name are read in the salted session
 * (the response HMAC covers them, so an interposer cannot substitute its own
 * public key) when it is opened. Each connection looks the handle up again
 * the same way and the name must be the one recorded at open, so a key
 * swapped at the handle (TPM2_EvictControl by someone with owner auth) is
 * refused after a reconnect. Within one connection the cached ESYS_TR's
 * name is in the cpHash of every command authorised by the HMAC session
 * (Part 1 §18.7), so the TPM refuses a swapped object there; a PCR-only
 * policy session does not bind the name, but a swapped key can then only
 * produce a wrong Z or plaintext, which the unwrap's GCM/OAEP check refuses.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "secmem.h"
#include "tpm_int.h"

typedef struct {
    struct envtpm_key *k;
    const envtpm_keyfile *kf;
} open_arg;

static int check_name(const struct envtpm_key *k, const unsigned char *name, size_t len)
{
    if (len != k->name_len || CRYPTO_memcmp(name, k->name, len) != 0) {
        ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                      "TPM: the key at 0x%08x is not the key that was opened (its name "
                      "changed); refusing to use it",
                      (unsigned)k->handle);
        return ENVCORE_R_KEY_NOT_SAFE;
    }
    return ENVCORE_R_OK;
}

int envtpm_key_acquire(struct envtpm_ctx *t, struct envtpm_key *k, ESYS_TR *tr, int *flush)
{
    TSS2_RC rc;
    int r;

    *tr = ESYS_TR_NONE;
    *flush = 0;
    if (k->persistent) {
        const unsigned char *name;
        size_t nlen;
        rc = envtpm_tr_persistent(t, k->handle, tr, &name, &nlen);
        if (rc != TSS2_RC_SUCCESS) {
            int reason = envtpm_rc_reason(rc);
            if (reason == ENVCORE_R_OBJECT_NOT_FOUND) {
                ENVCORE_RAISE(reason,
                              "TPM: no key at persistent handle 0x%08x; create one "
                              "with: envelope kek create tpm2:handle=0x%08x",
                              (unsigned)k->handle, (unsigned)k->handle);
                return reason;
            }
            return envtpm_raise_rc(reason, "opening a persistent key", rc);
        }
        /* the object at the handle must still be the key that was opened
         * (compares with this connection's authenticated lookup) */
        if (k->name_len != 0 && (r = check_name(k, name, nlen)) != ENVCORE_R_OK) {
            *tr = ESYS_TR_NONE;
            return r;
        }
        return ENVCORE_R_OK;
    }
    /* A file key: load it under the SRK. Load's only secret input is the
     * private blob, already encrypted to the SRK (Part 1 §23.3), so a
     * password session (empty SRK auth) does not expose anything. */
    rc = ENVTPM_ESYS(t, Esys_Load, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &k->priv,
                     &k->pub, tr);
    if (rc != TSS2_RC_SUCCESS) {
        int reason = envtpm_rc_reason(rc);
        *tr = ESYS_TR_NONE;
        if (reason == ENVCORE_R_BACKEND_ERROR || reason == ENVCORE_R_PIN_INCORRECT) {
            ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR,
                          "TPM: the key file does not load under the SRK 0x81000001 (made "
                          "under another parent or on another TPM?)");
            return ENVCORE_R_BACKEND_ERROR;
        }
        return envtpm_raise_rc(reason, "loading a key file", rc);
    }
    /* No name check needed: the TPM verified on Load that the private
     * part belongs to this public part (Part 1 §23.3.2, integrity HMAC
     * over the name), and the name is the hash of that public part. */
    *flush = 1;
    return ENVCORE_R_OK;
}

void envtpm_key_release(struct envtpm_ctx *t, ESYS_TR tr, int flush)
{
    TPM2B_AUTH empty = {0};

    if (tr == ESYS_TR_NONE)
        return;
    /* ESYS keeps a copy of the auth value in the object: overwrite it. */
    (void)ENVTPM_ESYS(t, Esys_TR_SetAuth, tr, &empty);
    if (flush)
        envtpm_flush(t, tr);
}

static int set_auth(struct envtpm_ctx *t, struct envtpm_key *k, ESYS_TR tr)
{
    TPM2B_AUTH a = {0};
    TSS2_RC rc;

    if (k->auth_len > sizeof(a.buffer))
        return ENVCORE_R_INTERNAL;
    a.size = (UINT16)k->auth_len;
    if (k->auth_len != 0)
        memcpy(a.buffer, k->auth, k->auth_len);
    rc = ENVTPM_ESYS(t, Esys_TR_SetAuth, tr, &a);
    OPENSSL_cleanse(&a, sizeof(a));
    if (rc != TSS2_RC_SUCCESS)
        return envtpm_raise_rc(ENVCORE_R_INTERNAL, "setting a key's auth value", rc);
    return ENVCORE_R_OK;
}

int envtpm_key_authorize(struct envtpm_ctx *t, struct envtpm_key *k, ESYS_TR tr, ESYS_TR *session,
                         int *policy)
{
    ESYS_TR s = ESYS_TR_NONE;
    TSS2_RC rc;
    int r;

    *session = ESYS_TR_NONE;
    *policy = 0;
    /* (a PCR-only key uses no auth value: nothing to be rejected) */
    if ((!k->use_policy || k->policy_auth_value) && envtpm_auth_was_rejected(t, k)) {
        ENVCORE_RAISE(ENVCORE_R_PIN_INCORRECT,
                      "TPM: this auth value was rejected for the key before; not offering it "
                      "again (each failure counts towards the TPM's lockout): fix its pin source");
        return ENVCORE_R_PIN_INCORRECT;
    }
    if (!k->use_policy) {
        /* HMAC authorisation in the shared salted session (Part 1 §19.6.9,
         * tpm_hsess.c): the auth value is an HMAC key, never sent. */
        return ENVCORE_R_OK;
    }
    r = envtpm_policy_session(t, TPM2_SE_POLICY, &s);
    if (r != ENVCORE_R_OK)
        return r;
    /* Part 3 §23.7: with a pcrDigest the TPM compares it with the current
     * PCRs here (TPM_RC_VALUE on mismatch); with an empty one it extends the
     * policy with the current values and the use fails (TPM_RC_POLICY_FAIL). */
    rc = ENVTPM_ESYS(t, Esys_PolicyPCR, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &k->pcr_digest,
                     &k->pcrs);
    if (rc != TSS2_RC_SUCCESS) {
        envtpm_flush(t, s);
        if (envtpm_rc_base(rc) == (TPM2_RC_FMT1 | TPM2_RC_VALUE)) {
            ENVCORE_RAISE(ENVCORE_R_PCR_POLICY_NOT_SATISFIED,
                          "TPM: PCR policy not satisfied: the selected PCRs changed since the "
                          "key was created (different boot state?)");
            return ENVCORE_R_PCR_POLICY_NOT_SATISFIED;
        }
        return envtpm_raise_rc(envtpm_rc_reason(rc), "TPM2_PolicyPCR", rc);
    }
    if (k->policy_auth_value) {
        rc = ENVTPM_ESYS(t, Esys_PolicyAuthValue, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS) {
            envtpm_flush(t, s);
            return envtpm_raise_rc(envtpm_rc_reason(rc), "TPM2_PolicyAuthValue", rc);
        }
    }
    r = set_auth(t, k, tr);
    if (r != ENVCORE_R_OK) {
        envtpm_flush(t, s);
        return r;
    }
    *session = s;
    *policy = 1;
    return ENVCORE_R_OK;
}

int envtpm_key_entity(struct envtpm_ctx *t, const struct envtpm_key *k, ESYS_TR tr,
                      TPM2_HANDLE *handle, envtpm_hs_entity *e)
{
    TSS2_RC rc = TSS2_RC_SUCCESS;

    if (k->persistent)
        *handle = k->handle;
    else
        rc = ENVTPM_ESYS(t, Esys_TR_GetTpmHandle, tr, handle);
    if (rc != TSS2_RC_SUCCESS || k->name_len == 0)
        return envtpm_raise_rc(ENVCORE_R_INTERNAL, "reading a loaded key's handle", rc);
    /* the name checked at open (and for a persistent key, against this
     * connection's authenticated lookup in envtpm_key_acquire) */
    e->name = k->name;
    e->name_len = k->name_len;
    e->auth = k->auth;
    e->auth_len = k->auth_len;
    return ENVCORE_R_OK;
}

/* Reads the key's public area (persistent) or checks it loads (file). */
static int open_op(struct envtpm_ctx *t, void *varg)
{
    open_arg *a = varg;
    struct envtpm_key *k = a->k;
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR tr;
    int flush, r;

    r = envtpm_key_acquire(t, k, &tr, &flush);
    if (r != ENVCORE_R_OK)
        return r;
    if (k->persistent) {
        /* in a salted session: the response HMAC covers the public area */
        ESYS_TR s;
        TSS2_RC rc;
        if ((r = envtpm_aux_session(t, &s)) != ENVCORE_R_OK)
            return r;
        rc = ENVTPM_ESYS(t, Esys_ReadPublic, tr, s, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS)
            return envtpm_raise_rc(envtpm_rc_reason(rc), "reading a key's public area", rc);
        k->pub = *pub;
        Esys_Free(pub);
        r = envtpm_public_name(&k->pub.publicArea, k->name, &k->name_len);
        if (r == ENVCORE_R_OK) {
            /* the name the TPM gave at lookup must be the one we compute */
            const unsigned char *name;
            size_t nlen;
            ESYS_TR same;
            if (envtpm_tr_persistent(t, k->handle, &same, &name, &nlen) != TSS2_RC_SUCCESS)
                r = ENVCORE_R_INTERNAL;
            else
                r = check_name(k, name, nlen);
        } else
            ENVCORE_RAISE(r, "TPM key: cannot compute its name (name algorithm not sha256?)");
    }
    envtpm_key_release(t, tr, flush);
    return r;
}

/* Which policy a handle key's authPolicy is: PolicyPCR(pcrs) alone, or
 * followed by PolicyAuthValue (what we create for keys with both). Computed
 * by the TPM in a trial session over the current PCR values (§19.7.6). */
typedef struct {
    const TPML_PCR_SELECTION *pcrs;
    TPM2B_DIGEST pcr_only, with_auth;
} variants_arg;

static int variants_op(struct envtpm_ctx *t, void *varg)
{
    variants_arg *a = varg;
    TPM2B_DIGEST empty = {0}, *d1 = NULL, *d2 = NULL;
    ESYS_TR s;
    TSS2_RC rc;
    int r = envtpm_policy_session(t, TPM2_SE_TRIAL, &s);

    if (r != ENVCORE_R_OK)
        return r;
    rc = ENVTPM_ESYS(t, Esys_PolicyPCR, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty,
                     a->pcrs);
    if (rc == TSS2_RC_SUCCESS)
        rc = ENVTPM_ESYS(t, Esys_PolicyGetDigest, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d1);
    if (rc == TSS2_RC_SUCCESS)
        rc = ENVTPM_ESYS(t, Esys_PolicyAuthValue, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc == TSS2_RC_SUCCESS)
        rc = ENVTPM_ESYS(t, Esys_PolicyGetDigest, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d2);
    envtpm_flush(t, s);
    if (rc == TSS2_RC_SUCCESS) {
        a->pcr_only = *d1;
        a->with_auth = *d2;
    }
    Esys_Free(d1);
    Esys_Free(d2);
    if (rc != TSS2_RC_SUCCESS)
        return envtpm_raise_rc(envtpm_rc_reason(rc), "computing the key's PCR policy", rc);
    return ENVCORE_R_OK;
}

static int digest_is(const TPM2B_DIGEST *a, const TPM2B_DIGEST *b)
{
    return a->size == b->size && a->size != 0 && CRYPTO_memcmp(a->buffer, b->buffer, a->size) == 0;
}

/*
 * How the key is authorised, from what the key itself says, never from
 * whether a PIN happens to be configured: *need_auth = 1 if it has an auth
 * value to supply, 0 if not (then the auth value tpm2-handles binds is not
 * applied: an empty-auth key must not get the default PIN as HMAC key, nor
 * a PCR-only key a PolicyAuthValue it does not have).
 *  - file key: emptyAuth and its policy entries say it;
 *  - handle key with pcrs=: its authPolicy is compared with trial digests
 *    of PolicyPCR and PolicyPCR+PolicyAuthValue. Neither matches when the
 *    PCRs changed (or the selection is wrong): the use fails with "PCR
 *    policy not satisfied" anyway, and only a URI pin-source is used;
 *  - handle key with userWithAuth: the public area cannot say whether it
 *    has an auth value; DA protection is the sign (our keys without one
 *    are noDA, Part 1 §19.8), so noDA keys need a URI pin-source.
 */
static int setup_policy(struct envtpm_ctx *t, struct envtpm_key *k, const envtpm_uri *u,
                        const envtpm_keyfile *kf, int *need_auth)
{
    TPML_PCR_SELECTION from_uri;
    int r;

    *need_auth = 0;
    if (u->pcrs != NULL && (r = envtpm_pcrs_parse(u->pcrs, &from_uri)) != ENVCORE_R_OK)
        return r;
    if (kf != NULL) {
        *need_auth = !kf->empty_auth;
        if (!kf->has_pcr_policy) {
            if (u->pcrs != NULL) {
                ENVCORE_RAISE(ENVCORE_R_BAD_URI, "tpm2 URI: pcrs= given for a key file "
                                                 "without a PCR policy; drop pcrs=");
                return ENVCORE_R_BAD_URI;
            }
            return ENVCORE_R_OK;
        }
        if (u->pcrs != NULL && !envtpm_pcrs_equal(&from_uri, &kf->pcrs)) {
            ENVCORE_RAISE(ENVCORE_R_BAD_URI, "tpm2 URI: pcrs= differs from the key file's "
                                             "PCR policy; drop pcrs= for file keys");
            return ENVCORE_R_BAD_URI;
        }
        k->use_policy = 1;
        k->pcrs = kf->pcrs;
        k->pcr_digest = kf->pcr_digest;
        k->policy_auth_value = kf->policy_auth_value;
        return ENVCORE_R_OK;
    }
    if (u->pcrs != NULL && k->pub.publicArea.authPolicy.size == 0) {
        /* not "PCR policy not satisfied": the key has no policy at all, so
         * the reference is wrong, not the PCRs */
        ENVCORE_RAISE(ENVCORE_R_BAD_URI, "TPM key 0x%08x has no policy; drop pcrs= from the URI",
                      (unsigned)k->handle);
        return ENVCORE_R_BAD_URI;
    }
    if (u->pcrs != NULL) {
        variants_arg v = {.pcrs = &from_uri};
        k->use_policy = 1;
        k->pcrs = from_uri;
        if ((r = envtpm_run(t, variants_op, &v)) != ENVCORE_R_OK)
            return r;
        if (digest_is(&k->pub.publicArea.authPolicy, &v.with_auth)) {
            k->policy_auth_value = 1;
            *need_auth = 1;
        } else if (!digest_is(&k->pub.publicArea.authPolicy, &v.pcr_only)) {
            /* unknown: fails as "PCR policy not satisfied" either way */
            k->policy_auth_value = u->pin_source != NULL;
        }
        return ENVCORE_R_OK;
    }
    if (!(k->pub.publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH)) {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                      "TPM key can only be used with its policy; add the PCR selection it was "
                      "created with to the URI (;pcrs=sha256:0,7)");
        return ENVCORE_R_BAD_URI;
    }
    *need_auth = !(k->pub.publicArea.objectAttributes & TPMA_OBJECT_NODA);
    return ENVCORE_R_OK;
}

static int setup_auth(struct envtpm_ctx *t, struct envtpm_key *k, const envtpm_uri *u, int file_key,
                      int need_auth)
{
    const char *src = u->pin_source, *bound = NULL;
    int listed = !file_key && envtpm_handle_listed(t->handles, k->handle, &bound);

    /* The URI's pin source wins; else the source tpm2-handles binds to this
     * handle, only for a key that has an auth value (setup_policy). A
     * configured auth value never goes to an unlisted key: a wrong one
     * would count towards the TPM's dictionary-attack lockout. */
    if (src == NULL && need_auth)
        src = bound;
    if (src != NULL)
        return envtpm_pin_read(src, &k->auth, &k->auth_len);
    if (!need_auth)
        return ENVCORE_R_OK;
    if (file_key || k->policy_auth_value) {
        ENVCORE_RAISE(ENVCORE_R_PIN_MISSING,
                      "TPM key needs an auth value: add ;pin-source=file:PATH to the URI%s",
                      file_key ? "" : ", or list the handle in tpm2-handles");
        return ENVCORE_R_PIN_MISSING;
    }
    if (t->pin_source != NULL && !listed) {
        /* DA-protected, so it may have an auth value; the operator has
         * one configured but not for this handle. Trying the empty auth
         * could cost a lockout count: refuse instead. */
        ENVCORE_RAISE(ENVCORE_R_PIN_MISSING,
                      "TPM key 0x%08x is DA-protected and may need an auth value, but "
                      "tpm2-pin-source is offered only to the handles in tpm2-handles: add "
                      "0x%08x there, or add ;pin-source=file:PATH to the URI",
                      (unsigned)k->handle, (unsigned)k->handle);
        return ENVCORE_R_PIN_MISSING;
    }
    return ENVCORE_R_OK; /* empty auth, as the caller named it */
}

/* What a message may not name; nothing is sent to the TPM. */
static int from_message_allowed(struct envtpm_ctx *t, const envtpm_uri *u)
{
    const char *why = NULL, *src;
    if (!u->has_handle)
        why = "names a key file (tpm2:file=)";
    else if (u->pin_source != NULL)
        why = "carries a pin-source";
    else if (!envtpm_handle_listed(t->handles, u->handle, &src))
        why = "names a TPM handle not listed in tpm2-handles";
    if (why == NULL)
        return ENVCORE_R_OK;
    envcore_debug("tpm: a reference from a message was not opened: it %s", why);
    ENVCORE_RAISE(ENVCORE_R_REFERENCE_NOT_ALLOWED,
                  "a message's KEK reference %s; name the KEK with --kek, or list the handle "
                  "in tpm2-handles",
                  why);
    return ENVCORE_R_REFERENCE_NOT_ALLOWED;
}

int envtpm_key_open(struct envtpm_ctx *t, const char *uri, struct envtpm_key **out)
{
    return envtpm_key_open_ex(t, uri, 0, out);
}

int envtpm_key_open_ex(struct envtpm_ctx *t, const char *uri, unsigned flags,
                       struct envtpm_key **out)
{
    envtpm_uri u;
    envtpm_keyfile kf;
    struct envtpm_key *k;
    open_arg a;
    int r, have_kf = 0, need_auth = 0;

    *out = NULL;
    r = envtpm_uri_parse(uri, &u);
    if (r != ENVCORE_R_OK)
        return r;
    if ((flags & ENVTPM_OPEN_FROM_MESSAGE) && (r = from_message_allowed(t, &u)) != ENVCORE_R_OK) {
        envtpm_uri_clear(&u);
        return r;
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        envtpm_uri_clear(&u);
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "TPM: out of memory");
        return ENVCORE_R_INTERNAL;
    }
    k->t = t;
    if (u.has_handle) {
        k->persistent = 1;
        k->handle = u.handle;
    } else {
        r = envtpm_keyfile_read(u.file, &kf);
        if (r != ENVCORE_R_OK)
            goto fail;
        have_kf = 1;
        if (kf.parent != ENVTPM_SRK_HANDLE) {
            r = ENVCORE_R_NOT_SUPPORTED;
            ENVCORE_RAISE(r,
                          "TPM key file: its parent is 0x%08x; only keys under the SRK "
                          "0x81000001 are supported",
                          (unsigned)kf.parent);
            goto fail;
        }
        k->pub = kf.pub;
        k->priv = kf.priv;
        r = envtpm_public_name(&k->pub.publicArea, k->name, &k->name_len);
        if (r != ENVCORE_R_OK) {
            ENVCORE_RAISE(r, "TPM key file: name algorithm not sha256");
            goto fail;
        }
    }
    a.k = k;
    a.kf = have_kf ? &kf : NULL;
    r = envtpm_run(t, open_op, &a);
    if (r != ENVCORE_R_OK)
        goto fail;
    if ((r = envtpm_pub_check_kek(&k->pub.publicArea)) != ENVCORE_R_OK ||
        (r = setup_policy(t, k, &u, a.kf, &need_auth)) != ENVCORE_R_OK ||
        (r = setup_auth(t, k, &u, have_kf, need_auth)) != ENVCORE_R_OK ||
        (r = envtpm_pub_to_pkey(t->libctx, &k->pub.publicArea, &k->pkey)) != ENVCORE_R_OK)
        goto fail;
    k->type = k->pub.publicArea.type == TPM2_ALG_ECC ? ENVTPM_KEY_EC_P256 : ENVTPM_KEY_RSA_2048;
    k->bits = k->type == ENVTPM_KEY_EC_P256 ? 256 : k->pub.publicArea.parameters.rsaDetail.keyBits;
    k->uri = envtpm_uri_public(&u);
    if (k->uri == NULL) {
        r = ENVCORE_R_INTERNAL;
        ENVCORE_RAISE(r, "TPM: out of memory");
        goto fail;
    }
    envtpm_uri_clear(&u);
    if (have_kf)
        OPENSSL_cleanse(&kf, sizeof(kf));
    *out = k;
    return ENVCORE_R_OK;
fail:
    envtpm_uri_clear(&u);
    if (have_kf)
        OPENSSL_cleanse(&kf, sizeof(kf));
    envtpm_key_free(k);
    return r;
}

void envtpm_key_free(struct envtpm_key *k)
{
    if (k == NULL)
        return;
    envelope_secmem_free(k->auth);
    EVP_PKEY_free(k->pkey);
    free(k->uri);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

envtpm_key_type envtpm_key_get_type(const struct envtpm_key *k)
{
    return k->type;
}

EVP_PKEY *envtpm_key_public(const struct envtpm_key *k)
{
    return k->pkey;
}

const unsigned char *envtpm_key_name(const struct envtpm_key *k, size_t *len)
{
    *len = k->name_len;
    return k->name;
}

const char *envtpm_key_uri(const struct envtpm_key *k)
{
    return k->uri;
}

int envtpm_key_bits(const struct envtpm_key *k)
{
    return k->bits;
}
