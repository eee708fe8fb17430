/*
 * hsm_keyobj.c - turning a PKCS#11 object into an envkey.
 *
 * The KEK check lives here: a secret or private key that is extractable
 * or not sensitive (its value can be read out of the token; pkcs11-tool
 * --keygen makes such AES keys unless --sensitive is given) is refused as a
 * KEK unless the operator set allow-extractable-kek = yes.
 */
#include "hsm_internal.h"

#include "keytype_names.h" /* not "RSA": an ENGINE must not take the context */

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "errors.h"

#define HSM_MAX_MODULUS 1024 /* bytes: RSA-8192 */

static EVP_PKEY *rsa_public(OSSL_LIB_CTX *swctx, const unsigned char *n, size_t nlen,
                            const unsigned char *e, size_t elen)
{
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(swctx, ENVELOPE_SW_RSA_NAME, "provider=default");
    if (bn && be && bld && pc && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(pc) > 0)
        (void)EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(pc);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static int refuse_unsafe(struct hsm_ctx *h, struct hsm_token *t, const char *label,
                         CK_BBOOL sensitive, CK_BBOOL extractable, CK_BBOOL always_sensitive,
                         CK_BBOOL never_extractable)
{
    if (sensitive && !extractable) {
        /* Safe now. If it was not always (CKA_ALWAYS_SENSITIVE or
         * CKA_NEVER_EXTRACTABLE false) its value may have left before; that
         * is logged, not refused: keys held in a KMS (the kms-bridge) report
         * both false truthfully, because the KMS's own policy decides whether
         * its owner may ever Get the key (docs/KMS-BRIDGE.md). */
        if (!always_sensitive || !never_extractable)
            envcore_debug("pkcs11: KEK \"%s\" on token \"%s\" was not always sensitive/never "
                          "extractable: its value may have existed outside the token",
                          label, t->label);
        return ENVCORE_R_OK;
    }
    if (h->allow_extractable)
        return ENVCORE_R_OK;
    ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                  "key \"%s\" on token \"%s\" is %s: its value can leave the token, so it is "
                  "refused as a KEK; create one with `envelope kek create`, or set "
                  "allow-extractable-kek = yes",
                  label, t->label,
                  extractable ? (sensitive ? "extractable" : "extractable and not sensitive")
                              : "not sensitive");
    return ENVCORE_R_KEY_NOT_SAFE;
}

envkey *hsm_key_wrap(struct hsm_ctx *h, struct hsm_token *t, CK_SESSION_HANDLE s,
                     CK_OBJECT_HANDLE obj, int *reason)
{
    struct hsm_key *hk = calloc(1, sizeof(*hk));
    unsigned char *mod = NULL, exp[16];
    envkey *k = NULL;
    *reason = ENVCORE_R_INTERNAL;
    if (hk == NULL)
        return NULL;
    pthread_mutex_init(&hk->lock, NULL);
    hk->h = h;
    hk->tok = t;
    hk->handle = obj;
    hk->handle_generation = t->mod->generation;
    hk->handle_epoch = t->epoch;
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
    CK_ULONG value_len = 0;
    enum { A_ID = 2, A_LABEL = 3 };
    hsm_attr who[] = {
        HSM_ATTR(CKA_CLASS, hk->cls, 0),
        HSM_ATTR(CKA_KEY_TYPE, hk->ktype, 0),
        HSM_ATTR_BUF(CKA_ID, hk->id, sizeof(hk->id), 0),
        HSM_ATTR_BUF(CKA_LABEL, hk->label, HSM_MAX_LABEL, 0),
    };
    int r = hsm_attrs_read(t, s, obj, who, 4, "C_GetAttributeValue", NULL);
    if (r != ENVCORE_R_OK) {
        *reason = r;
        goto err;
    }
    hk->id_len = who[A_ID].len == HSM_ATTR_ABSENT ? 0 : who[A_ID].len;
    hk->label[who[A_LABEL].len == HSM_ATTR_ABSENT ? 0 : who[A_LABEL].len] = '\0';

    envkey_kind kind;
    if (hk->cls == CKO_SECRET_KEY && hk->ktype == CKK_AES)
        kind = ENVKEY_AES_KEK;
    else if ((hk->cls == CKO_PRIVATE_KEY || hk->cls == CKO_PUBLIC_KEY) && hk->ktype == CKK_RSA)
        kind = ENVKEY_RSA;
    else {
        ENVCORE_RAISE(ENVCORE_R_NOT_SUPPORTED,
                      "key \"%s\" on token \"%s\" is neither an AES secret key nor an RSA key",
                      hk->label, t->label);
        *reason = ENVCORE_R_NOT_SUPPORTED;
        goto err;
    }
    if (hk->cls != CKO_PUBLIC_KEY) {
        CK_BBOOL always_sensitive = CK_FALSE, never_extractable = CK_FALSE;
        enum { S_SENS, S_EXTR, S_ALWAYS, S_NEVER };
        hsm_attr safe[] = {
            HSM_ATTR(CKA_SENSITIVE, sensitive, 0),
            HSM_ATTR(CKA_EXTRACTABLE, extractable, 0),
            HSM_ATTR(CKA_ALWAYS_SENSITIVE, always_sensitive, 0),
            HSM_ATTR(CKA_NEVER_EXTRACTABLE, never_extractable, 0),
        };
        if ((r = hsm_attrs_read(t, s, obj, safe, 4, "reading CKA_SENSITIVE/CKA_EXTRACTABLE",
                                hk->label)) != ENVCORE_R_OK) {
            *reason = r;
            goto err;
        }
        /* A module that does not know the history attributes (the KMS
         * bridge) answers them absent: judge by what it does say, never by
         * a default. */
        if (safe[S_ALWAYS].len == HSM_ATTR_ABSENT)
            always_sensitive = sensitive;
        if (safe[S_NEVER].len == HSM_ATTR_ABSENT)
            never_extractable = !extractable;
        if (safe[S_SENS].len == HSM_ATTR_ABSENT || safe[S_EXTR].len == HSM_ATTR_ABSENT)
            sensitive = CK_FALSE; /* no claim at all: not safe */
        int unsafe = refuse_unsafe(h, t, hk->label, sensitive, extractable, always_sensitive,
                                   never_extractable);
        if (unsafe != ENVCORE_R_OK) {
            *reason = unsafe;
            goto err;
        }
    }
    if (kind == ENVKEY_AES_KEK) {
        hsm_attr vl[] = {HSM_ATTR(CKA_VALUE_LEN, value_len, 0)};
        if (hsm_attrs_read(t, s, obj, vl, 1, "reading CKA_VALUE_LEN", hk->label) != ENVCORE_R_OK ||
            vl[0].len == HSM_ATTR_ABSENT || value_len != 32) {
            ERR_clear_error(); /* one message below says what matters */
            ENVCORE_RAISE(ENVCORE_R_KEY_NOT_SAFE,
                          "key \"%s\" on token \"%s\" is not AES-256 (CKA_VALUE_LEN %lu)",
                          hk->label, t->label, (unsigned long)value_len);
            *reason = ENVCORE_R_KEY_NOT_SAFE;
            goto err;
        }
    }
    *reason = ENVCORE_R_INTERNAL; /* for every allocation failure below */
    if ((k = envkey_new(kind, &hsm_key_ops, hk)) == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
        goto err;
    }
    hk = NULL; /* owned by k now */
    struct hsm_key *kb = k->be;
    k->has_private = kb->cls != CKO_PUBLIC_KEY;
    if (kind == ENVKEY_RSA) {
        mod = malloc(HSM_MAX_MODULUS);
        if (mod == NULL) {
            ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
            goto err;
        }
        hsm_attr ra[] = {
            HSM_ATTR_BUF(CKA_MODULUS, mod, HSM_MAX_MODULUS, 1),
            HSM_ATTR_BUF(CKA_PUBLIC_EXPONENT, exp, sizeof(exp), 1),
        };
        if ((r = hsm_attrs_read(t, s, obj, ra, 2, "reading the RSA public key", kb->label)) !=
            ENVCORE_R_OK) {
            *reason = r;
            goto err;
        }
        k->pub = rsa_public(h->swctx, mod, ra[0].len, exp, ra[1].len);
        if (k->pub == NULL) {
            ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR, "RSA key \"%s\" has an unusable public half",
                          kb->label);
            *reason = ENVCORE_R_BACKEND_ERROR;
            goto err;
        }
        k->bits = EVP_PKEY_get_bits(k->pub);
        kb->mod_bytes = ra[0].len;
        if (kb->id_len == 0) { /* no CKA_ID: identify the key by its modulus */
            SHA256(mod, ra[0].len, k->key_id);
            k->key_id_len = SHA256_DIGEST_LENGTH;
        }
    } else {
        k->bits = 256;
        kb->kms_aead = hsm_kms_aead_offered(t, s, obj);
    }
    if (kb->id_len > 0) {
        memcpy(k->key_id, kb->id, kb->id_len);
        k->key_id_len = kb->id_len;
    } else if (kind == ENVKEY_AES_KEK) {
        SHA256((const unsigned char *)kb->label, strlen(kb->label), k->key_id);
        k->key_id_len = SHA256_DIGEST_LENGTH;
    }
    {
        /* the token, for the unwrap cache: two tokens may hold equal ids */
        unsigned char home[32 + 16 + 16];
        memcpy(home, t->info.manufacturerID, 32);
        memcpy(home + 32, t->info.model, 16);
        memcpy(home + 48, t->info.serialNumber, 16);
        SHA256(home, sizeof(home), k->home_id);
        k->home_id_len = SHA256_DIGEST_LENGTH;
    }
    k->uri = hsm_uri_canonical(t, kb->label, kb->id, kb->id_len, kb->cls);
    if (k->uri == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
        goto err;
    }
    free(mod);
    *reason = ENVCORE_R_OK;
    return k;
err:
    free(mod);
    if (hk != NULL) {
        pthread_mutex_destroy(&hk->lock);
        free(hk);
    }
    envkey_free(k);
    return NULL;
}

int hsm_key_handle_at(struct hsm_key *k, CK_SESSION_HANDLE s, unsigned epoch, CK_OBJECT_HANDLE *out)
{
    pthread_mutex_lock(&k->lock);
    if (k->handle_generation == k->tok->mod->generation && k->handle_epoch == epoch) {
        *out = k->handle;
        pthread_mutex_unlock(&k->lock);
        return ENVCORE_R_OK;
    }
    /* The module was re-initialised (fork) or every session was closed:
     * handles may have changed, so find the object again by class, id and
     * label. */
    CK_ATTRIBUTE tmpl[3] = {{CKA_CLASS, &k->cls, sizeof(k->cls)},
                            {CKA_ID, k->id, k->id_len},
                            {CKA_LABEL, k->label, strlen(k->label)}};
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    CK_RV rv = P11(k->tok->mod, C_FindObjectsInit, s, tmpl, 3);
    if (rv == CKR_OK) {
        rv = P11(k->tok->mod, C_FindObjects, s, found, 2, &n);
        (void)P11(k->tok->mod, C_FindObjectsFinal, s);
    }
    if (rv != CKR_OK || n != 1) {
        pthread_mutex_unlock(&k->lock);
        if (rv != CKR_OK)
            return hsm_raise_rv(rv, "C_FindObjects", k->tok->label, k->label);
        ENVCORE_RAISE(ENVCORE_R_OBJECT_NOT_FOUND, "key \"%s\" is no longer on token \"%s\"%s",
                      k->label, k->tok->label, n > 1 ? " (or is no longer unique)" : "");
        return ENVCORE_R_OBJECT_NOT_FOUND;
    }
    k->handle = found[0];
    k->handle_generation = k->tok->mod->generation;
    k->handle_epoch = epoch;
    *out = found[0];
    pthread_mutex_unlock(&k->lock);
    return ENVCORE_R_OK;
}
