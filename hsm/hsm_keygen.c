/*
 * hsm_keygen.c - creating KEKs on a token with least privilege.
 *
 * AES-256: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, !CKA_EXTRACTABLE,
 * CKA_ENCRYPT/CKA_DECRYPT only (wraps are C_Encrypt with CKM_AES_GCM, so no
 * CKA_WRAP/UNWRAP, no SIGN, no DERIVE).
 * RSA: the private key decrypts only (no SIGN, no UNWRAP); the public key
 * encrypts only. Both halves share CKA_ID and CKA_LABEL.
 * Every usage attribute is set, true or false: a token's defaults differ
 * (SoftHSM2 2.6 makes CKA_SIGN_RECOVER and CKA_VERIFY_RECOVER true when a
 * template leaves them out), and `envelope kek check` (hsm_check.c) holds
 * each key to this list.
 */
#include "hsm_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "errors.h"

/* The one token the URI names, after loading and refreshing. Several
 * matches are refused: a key must be created where the caller meant. */
static int pick_token(struct hsm_ctx *h, P11KitUri *p, const char *tokname, struct hsm_token **out)
{
    *out = NULL;
    int ret = hsm_ensure_loaded(h), n = 0;
    if (ret != ENVCORE_R_OK)
        return ret;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nmods; i++) {
        struct hsm_module *m = &h->mods[i];
        if (!hsm_module_matches(m, p))
            continue;
        hsm_refresh_tokens(h, m);
        for (struct hsm_token *t = m->tokens; t != NULL; t = t->next)
            if (hsm_token_matches(t, p) && n++ == 0)
                *out = t;
    }
    pthread_mutex_unlock(&h->lock);
    if (n == 0) {
        ENVCORE_RAISE(ENVCORE_R_TOKEN_UNKNOWN,
                      "no token \"%s\" to create the key on; list tokens with: pkcs11-tool "
                      "--module MODULE -L",
                      tokname);
        return ENVCORE_R_TOKEN_UNKNOWN;
    }
    if (n > 1) {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                      "%d tokens match \"%s\": add serial=... or module-path=... to the URI", n,
                      tokname);
        *out = NULL;
        return ENVCORE_R_BAD_URI;
    }
    return ENVCORE_R_OK;
}

/* Does any object, of any class and key type, already carry this
 * attribute on the token? Two objects with one label or id would make
 * every later lookup ambiguous. -1 on error (raised). */
static int exists(struct hsm_token *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE_TYPE type,
                  const void *value, size_t len)
{
    CK_ATTRIBUTE a = {type, (void *)value, len};
    CK_OBJECT_HANDLE found;
    CK_ULONG n = 0;
    CK_RV rv = P11(t->mod, C_FindObjectsInit, s, &a, 1);
    if (rv == CKR_OK) {
        rv = P11(t->mod, C_FindObjects, s, &found, 1, &n);
        (void)P11(t->mod, C_FindObjectsFinal, s);
    }
    if (rv != CKR_OK) {
        hsm_raise_rv(rv, "C_FindObjects", t->label, NULL);
        return -1;
    }
    return n > 0;
}

int hsm_generate_key(struct hsm_ctx *h, const char *uri, envkey_kind kind, int bits, envkey **out)
{
    *out = NULL;
    P11KitUri *p = NULL;
    int ret = hsm_uri_parse(uri, &p);
    if (ret != ENVCORE_R_OK)
        return ret;
    CK_ATTRIBUTE *lab = p11_kit_uri_get_attribute(p, CKA_LABEL);
    CK_ATTRIBUTE *idattr = p11_kit_uri_get_attribute(p, CKA_ID);
    const CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(p);
    if (lab == NULL || lab->ulValueLen == 0 || lab->ulValueLen > HSM_MAX_LABEL ||
        ti->label[0] == 0) {
        ENVCORE_RAISE(ENVCORE_R_BAD_URI,
                      "to create a KEK the URI must name the token and the object, e.g. "
                      "pkcs11:token=prod;object=payments-v1");
        p11_kit_uri_free(p);
        return ENVCORE_R_BAD_URI;
    }
    if (kind == ENVKEY_RSA && (bits < 2048 || bits > 8192)) {
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT, "RSA KEKs are 2048 to 8192 bits (asked for %d)",
                      bits);
        p11_kit_uri_free(p);
        return ENVCORE_R_BAD_ARGUMENT;
    }
    char label[HSM_MAX_LABEL + 1];
    memcpy(label, lab->pValue, lab->ulValueLen);
    label[lab->ulValueLen] = '\0';
    char tokname[33];
    hsm_trim_label(tokname, ti->label, sizeof(ti->label));
    struct hsm_token *t;
    if ((ret = pick_token(h, p, tokname, &t)) != ENVCORE_R_OK) {
        p11_kit_uri_free(p);
        return ret;
    }
    unsigned char id[HSM_MAX_ID];
    size_t idlen;
    int id_from_uri = idattr != NULL && idattr->ulValueLen > 0 && idattr->ulValueLen <= HSM_MAX_ID;
    if (id_from_uri) {
        idlen = idattr->ulValueLen;
        memcpy(id, idattr->pValue, idlen);
    } else {
        idlen = 16;
        if (RAND_bytes(id, (int)idlen) != 1) {
            p11_kit_uri_free(p);
            return ENVCORE_R_INTERNAL;
        }
    }
    CK_SESSION_HANDLE s;
    if ((ret = hsm_session_get(t, p11_kit_uri_get_pin_source(p), p11_kit_uri_get_pin_value(p),
                               &s)) != ENVCORE_R_OK) {
        p11_kit_uri_free(p);
        return ret;
    }
    int dup_label = exists(t, s, CKA_LABEL, label, strlen(label));
    int dup_id = dup_label == 0 ? exists(t, s, CKA_ID, id, idlen) : 0;
    if (dup_label != 0 || dup_id != 0) {
        hsm_session_put(t, s, HSM_SESSION_KEEP);
        p11_kit_uri_free(p);
        if (dup_label < 0 || dup_id < 0)
            return ENVCORE_R_BACKEND_ERROR;
        ENVCORE_RAISE(ENVCORE_R_BAD_ARGUMENT,
                      "an object with this %s already exists on token \"%s\"%s%s%s",
                      dup_label ? "label" : "id", tokname, dup_label ? " (\"" : "",
                      dup_label ? label : "", dup_label ? "\")" : "");
        return ENVCORE_R_BAD_ARGUMENT;
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_RV rv;
    CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE;
    if (kind == ENVKEY_AES_KEK) {
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_AES;
        CK_ULONG len = 32;
        CK_ATTRIBUTE tmpl[] = {
            {CKA_CLASS, &cls, sizeof(cls)},     {CKA_KEY_TYPE, &kt, sizeof(kt)},
            {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_PRIVATE, &yes, sizeof(yes)},   {CKA_SENSITIVE, &yes, sizeof(yes)},
            {CKA_EXTRACTABLE, &no, sizeof(no)}, {CKA_ENCRYPT, &yes, sizeof(yes)},
            {CKA_DECRYPT, &yes, sizeof(yes)},   {CKA_WRAP, &no, sizeof(no)},
            {CKA_UNWRAP, &no, sizeof(no)},      {CKA_SIGN, &no, sizeof(no)},
            {CKA_VERIFY, &no, sizeof(no)},      {CKA_DERIVE, &no, sizeof(no)},
            {CKA_LABEL, label, strlen(label)},  {CKA_ID, id, idlen},
        };
        /* CKA_SIGN_RECOVER/VERIFY_RECOVER are RSA attributes: an AES
         * template with them is inconsistent (PKCS#11 2.40 §4.8, §4.9) */
        CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
        CK_ULONG n = sizeof(tmpl) / sizeof(tmpl[0]);
        rv = P11(t->mod, C_GenerateKey, s, &mech, tmpl, n, &priv);
        if (rv == CKR_ATTRIBUTE_READ_ONLY && !id_from_uri) {
            /* A token that assigns CKA_ID itself refuses a chosen one
             * (PKCS#11 2.40 §5.7; kms-bridge: the id is the KMIP Unique
             * Identifier). The id was only our default, not the caller's:
             * let the token choose it (CKA_ID is the last entry); the key's
             * real id is read back by hsm_key_wrap. */
            rv = P11(t->mod, C_GenerateKey, s, &mech, tmpl, n - 1, &priv);
        }
    } else {
        CK_ULONG modbits = (CK_ULONG)bits;
        CK_BYTE e[] = {0x01, 0x00, 0x01};
        CK_ATTRIBUTE pubt[] = {
            {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_PRIVATE, &no, sizeof(no)}, /* a public key: readable, as it should be */
            {CKA_ENCRYPT, &yes, sizeof(yes)},
            {CKA_VERIFY, &no, sizeof(no)},
            {CKA_VERIFY_RECOVER, &no, sizeof(no)},
            {CKA_WRAP, &no, sizeof(no)},
            {CKA_DERIVE, &no, sizeof(no)},
            {CKA_MODULUS_BITS, &modbits, sizeof(modbits)},
            {CKA_PUBLIC_EXPONENT, e, sizeof(e)},
            {CKA_LABEL, label, strlen(label)},
            {CKA_ID, id, idlen},
        };
        CK_ATTRIBUTE privt[] = {
            {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_PRIVATE, &yes, sizeof(yes)},
            {CKA_SENSITIVE, &yes, sizeof(yes)},
            {CKA_EXTRACTABLE, &no, sizeof(no)},
            {CKA_DECRYPT, &yes, sizeof(yes)},
            {CKA_SIGN, &no, sizeof(no)},
            {CKA_SIGN_RECOVER, &no, sizeof(no)},
            {CKA_UNWRAP, &no, sizeof(no)},
            {CKA_DERIVE, &no, sizeof(no)},
            {CKA_LABEL, label, strlen(label)},
            {CKA_ID, id, idlen},
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
    int reason = ENVCORE_R_OK;
    *out = hsm_key_wrap(h, t, s, priv, &reason);
    hsm_session_put(t, s, HSM_SESSION_KEEP);
    p11_kit_uri_free(p);
    return *out ? ENVCORE_R_OK : reason;
}
