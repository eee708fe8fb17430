/*
 * hsm_keygen.c - creating KEKs on a token with least privilege.
 *
 * AES-256: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, !CKA_EXTRACTABLE,
 * CKA_ENCRYPT/CKA_DECRYPT only (wraps are C_Encrypt with CKM_AES_GCM, so no
 * CKA_WRAP/UNWRAP, no SIGN, no DERIVE).
 * RSA: the private key decrypts only (no SIGN, no UNWRAP); the public key
 * encrypts only. Both halves share CKA_ID and CKA_LABEL.
 */
#include "hsm_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "errors.h"

struct keygen_arg {
    int n;
};


static int count_cb(envkey *k, void *arg)
{
    (void)k;
    ((struct keygen_arg *)arg)->n++;
    return ENVPROV_R_OK;
}

static int pick_token(struct hsm_ctx *h, P11KitUri *p, struct hsm_token **out)
{
    *out = NULL;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nmods && *out == NULL; i++)
        for (struct hsm_token *t = h->mods[i].tokens; t != NULL; t = t->next)
            if (p11_kit_uri_match_token_info(p, &t->info)) {
                *out = t;
                break;
            }
    pthread_mutex_unlock(&h->lock);
    return *out != NULL;
}

int hsm_generate_key(struct hsm_ctx *h, OSSL_LIB_CTX *swctx, const char *uri, envkey_kind kind,
                     int bits, envkey **out)
{
    *out = NULL;
    P11KitUri *p = NULL;
    int ret = hsm_uri_parse(uri, &p);
    if (ret != ENVPROV_R_OK)
        return ret;
    CK_ATTRIBUTE *lab = p11_kit_uri_get_attribute(p, CKA_LABEL);
    CK_ATTRIBUTE *idattr = p11_kit_uri_get_attribute(p, CKA_ID);
    const CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(p);
    if (lab == NULL || lab->ulValueLen == 0 || lab->ulValueLen > HSM_MAX_LABEL || ti->label[0] == 0) {
        ENVPROV_RAISE(ENVPROV_R_BAD_URI,
                      "to create a KEK the URI must name the token and the object, e.g. "
                      "pkcs11:token=prod;object=payments-v1");
        p11_kit_uri_free(p);
        return ENVPROV_R_BAD_URI;
    }
    if (kind == ENVKEY_RSA && (bits < 2048 || bits > 8192)) {
        ENVPROV_RAISE(ENVPROV_R_BAD_ARGUMENT, "RSA KEKs are 2048 to 8192 bits (asked for %d)", bits);
        p11_kit_uri_free(p);
        return ENVPROV_R_BAD_ARGUMENT;
    }
    /* Refuse to shadow an existing key: two objects with one label would
     * make every later lookup ambiguous. */
    char label[HSM_MAX_LABEL + 1];
    memcpy(label, lab->pValue, lab->ulValueLen);
    label[lab->ulValueLen] = '\0';
    char tokname[33];
    hsm_trim_label(tokname, ti->label, sizeof(ti->label));
    struct keygen_arg ka = {0};
    ERR_set_mark();
    /* Look the label up without a type so a key of any class counts. */
    P11KitUri *q = p11_kit_uri_new();
    char *qs = NULL;
    if (q != NULL) {
        memcpy(p11_kit_uri_get_token_info(q), ti, sizeof(*ti));
        CK_ATTRIBUTE a = {CKA_LABEL, label, strlen(label)};
        p11_kit_uri_set_attribute(q, &a);
        if (p11_kit_uri_get_pin_source(p) != NULL)
            p11_kit_uri_set_pin_source(q, p11_kit_uri_get_pin_source(p));
        if (p11_kit_uri_get_pin_value(p) != NULL)
            p11_kit_uri_set_pin_value(q, p11_kit_uri_get_pin_value(p));
        if (p11_kit_uri_format(q, P11_KIT_URI_FOR_ANY, &qs) != P11_KIT_URI_OK)
            qs = NULL;
    }
    int lookup = qs ? hsm_find_keys(h, swctx, qs, count_cb, &ka) : ENVPROV_R_INTERNAL;
    free(qs);
    p11_kit_uri_free(q);
    if (lookup == ENVPROV_R_OK || lookup == ENVPROV_R_KEY_NOT_SAFE || ka.n > 0) {
        ERR_pop_to_mark();
        ENVPROV_RAISE(ENVPROV_R_BAD_ARGUMENT, "a key labelled \"%s\" already exists on token \"%s\"",
                      label, tokname);
        p11_kit_uri_free(p);
        return ENVPROV_R_BAD_ARGUMENT;
    }
    if (lookup != ENVPROV_R_OBJECT_NOT_FOUND) {
        ERR_clear_last_mark(); /* keep the real reason (PIN, token, ...) */
        p11_kit_uri_free(p);
        return lookup;
    }
    ERR_pop_to_mark();

    struct hsm_token *t;
    if (!pick_token(h, p, &t)) {
        ENVPROV_RAISE(ENVPROV_R_TOKEN_NOT_PRESENT, "no token \"%s\" to create the key on", tokname);
        p11_kit_uri_free(p);
        return ENVPROV_R_TOKEN_NOT_PRESENT;
    }
    unsigned char id[HSM_MAX_ID];
    size_t idlen;
    if (idattr != NULL && idattr->ulValueLen > 0 && idattr->ulValueLen <= HSM_MAX_ID) {
        idlen = idattr->ulValueLen;
        memcpy(id, idattr->pValue, idlen);
    } else {
        idlen = 16;
        if (RAND_bytes(id, (int)idlen) != 1) {
            p11_kit_uri_free(p);
            return ENVPROV_R_INTERNAL;
        }
    }
    CK_SESSION_HANDLE s;
    if ((ret = hsm_session_get(t, p11_kit_uri_get_pin_source(p), p11_kit_uri_get_pin_value(p), &s))
        != ENVPROV_R_OK) {
        p11_kit_uri_free(p);
        return ret;
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_RV rv;
    CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE;
    if (kind == ENVKEY_AES_KEK) {
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_AES;
        CK_ULONG len = 32;
        CK_ATTRIBUTE tmpl[] = {
            {CKA_CLASS, &cls, sizeof(cls)},       {CKA_KEY_TYPE, &kt, sizeof(kt)},
            {CKA_VALUE_LEN, &len, sizeof(len)},   {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_PRIVATE, &yes, sizeof(yes)},     {CKA_SENSITIVE, &yes, sizeof(yes)},
            {CKA_EXTRACTABLE, &no, sizeof(no)},   {CKA_ENCRYPT, &yes, sizeof(yes)},
            {CKA_DECRYPT, &yes, sizeof(yes)},     {CKA_WRAP, &no, sizeof(no)},
            {CKA_UNWRAP, &no, sizeof(no)},        {CKA_SIGN, &no, sizeof(no)},
            {CKA_VERIFY, &no, sizeof(no)},        {CKA_DERIVE, &no, sizeof(no)},
            {CKA_LABEL, label, strlen(label)},    {CKA_ID, id, idlen},
        };
        CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
        rv = P11(t->mod, C_GenerateKey, s, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &priv);
    } else {
        CK_ULONG modbits = (CK_ULONG)bits;
        CK_BYTE e[] = {0x01, 0x00, 0x01};
        CK_ATTRIBUTE pubt[] = {
            {CKA_TOKEN, &yes, sizeof(yes)},        {CKA_ENCRYPT, &yes, sizeof(yes)},
            {CKA_VERIFY, &no, sizeof(no)},         {CKA_WRAP, &no, sizeof(no)},
            {CKA_MODULUS_BITS, &modbits, sizeof(modbits)},
            {CKA_PUBLIC_EXPONENT, e, sizeof(e)},   {CKA_LABEL, label, strlen(label)},
            {CKA_ID, id, idlen},
        };
        CK_ATTRIBUTE privt[] = {
            {CKA_TOKEN, &yes, sizeof(yes)},        {CKA_PRIVATE, &yes, sizeof(yes)},
            {CKA_SENSITIVE, &yes, sizeof(yes)},    {CKA_EXTRACTABLE, &no, sizeof(no)},
            {CKA_DECRYPT, &yes, sizeof(yes)},      {CKA_SIGN, &no, sizeof(no)},
            {CKA_UNWRAP, &no, sizeof(no)},         {CKA_DERIVE, &no, sizeof(no)},
            {CKA_LABEL, label, strlen(label)},     {CKA_ID, id, idlen},
        };
        CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
        rv = P11(t->mod, C_GenerateKeyPair, s, &mech, pubt, sizeof(pubt) / sizeof(pubt[0]), privt,
                 sizeof(privt) / sizeof(privt[0]), &pub, &priv);
    }
    if (rv != CKR_OK) {
        hsm_session_put(t, s, hsm_session_fate_of(rv));
        p11_kit_uri_free(p);
        return hsm_raise_rv(rv, kind == ENVKEY_AES_KEK ? "C_GenerateKey" : "C_GenerateKeyPair",
                            t->label, label);
    }
    int reason = ENVPROV_R_OK;
    *out = hsm_key_wrap(h, t, swctx, s, priv, &reason);
    hsm_session_put(t, s, HSM_SESSION_KEEP);
    p11_kit_uri_free(p);
    return *out ? ENVPROV_R_OK : reason;
}
