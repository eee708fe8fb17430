/*
 * hsm_check.c - `envelope kek check` for PKCS#11 keys: every way a key is
 * weaker than what hsm_keygen.c makes (CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE, not CKA_EXTRACTABLE, only the usages its mechanism needs).
 *
 * The key is only read (C_GetAttributeValue, C_GetMechanismInfo), never
 * used, so a key hsm_keyobj.c refuses as a KEK is reported here, not
 * refused. The token's flags are reported once per token (a token entry),
 * because a token that asks for no PIN weakens every key on it.
 *
 * A key of the kms-bridge carries the vendor attribute
 * HSM_CKA_KMS_USAGE_MASK (docs/KMS-BRIDGE.md "Key usage"): the KMIP
 * Cryptographic Usage Mask the KMS holds for it. Such a key is judged by
 * that mask; its CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE are false by
 * construction (the bridge cannot know the KMS's history), so they are not
 * findings there: the KMS's own access policy decides (docs/SECURITY.md).
 */
#include "hsm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "findings.h"

/* kms-bridge/kms_vendor.h: ENVELOPE_KMS_CKA_USAGE_MASK (the same number;
 * the bridge's header is not ours to include, a backend includes core/
 * only). */
#define HSM_CKA_KMS_USAGE_MASK (CKA_VENDOR_DEFINED | 0x454e0001UL)
#define KMIP_USAGE_ENCRYPT 0x4UL /* KMIP 1.4 §9.1.3.3.1 */
#define KMIP_USAGE_DECRYPT 0x8UL

static const struct {
    unsigned long bit;
    const char *name;
} kmip_bits[] = {
    {0x1, "Sign"},
    {0x2, "Verify"},
    {0x10, "Wrap Key"},
    {0x20, "Unwrap Key"},
    {0x40, "Export"},
    {0x80, "MAC Generate"},
    {0x100, "MAC Verify"},
    {0x200, "Derive Key"},
    {0x400, "Content Commitment"},
    {0x800, "Key Agreement"},
    {0x1000, "Certificate Sign"},
    {0x2000, "CRL Sign"},
    {0x4000, "Generate Cryptogram"},
    {0x8000, "Validate Cryptogram"},
    {0x10000, "Translate Encrypt"},
    {0x20000, "Translate Decrypt"},
    {0x40000, "Translate Wrap"},
    {0x80000, "Translate Unwrap"},
};

/* The usages a KEK of this class needs: AES encrypts and decrypts (wraps
 * are C_Encrypt/C_Decrypt with CKM_AES_GCM), an RSA private key decrypts,
 * its public key encrypts. Everything else is a finding. */
static const struct {
    CK_ATTRIBUTE_TYPE type;
    const char *name, *what;
} usages[] = {
    {CKA_ENCRYPT, "CKA_ENCRYPT", "encrypt"},
    {CKA_DECRYPT, "CKA_DECRYPT", "decrypt"},
    {CKA_WRAP, "CKA_WRAP", "wrap other keys out of the token"},
    {CKA_UNWRAP, "CKA_UNWRAP", "unwrap keys into the token"},
    {CKA_SIGN, "CKA_SIGN", "sign"},
    {CKA_VERIFY, "CKA_VERIFY", "verify signatures"},
    {CKA_DERIVE, "CKA_DERIVE", "derive other keys"},
    {CKA_SIGN_RECOVER, "CKA_SIGN_RECOVER", "sign with recovery"},
    {CKA_VERIFY_RECOVER, "CKA_VERIFY_RECOVER", "verify with recovery"},
};
#define NUSAGES (sizeof(usages) / sizeof(usages[0]))

static int needed(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE u)
{
    if (cls == CKO_SECRET_KEY)
        return u == CKA_ENCRYPT || u == CKA_DECRYPT;
    if (cls == CKO_PRIVATE_KEY)
        return u == CKA_DECRYPT;
    return u == CKA_ENCRYPT; /* public key */
}

static void check_usages(struct hsm_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                         CK_OBJECT_CLASS cls, const char *half, envcore_findings *f)
{
    CK_BBOOL v[NUSAGES];
    CK_ATTRIBUTE a[NUSAGES];
    for (size_t i = 0; i < NUSAGES; i++)
        a[i] = (CK_ATTRIBUTE){usages[i].type, &v[i], sizeof(v[i])};
    /* PKCS#11 2.40 §5.7: every attribute is processed; one the object does
     * not have comes back CK_UNAVAILABLE_INFORMATION (a usage it lacks) */
    CK_RV rv = P11(t->mod, C_GetAttributeValue, s, obj, a, (CK_ULONG)NUSAGES);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return;
    for (size_t i = 0; i < NUSAGES; i++)
        if (a[i].ulValueLen == sizeof(CK_BBOOL) && v[i] == CK_TRUE && !needed(cls, usages[i].type))
            envcore_findings_add(f, ENVCORE_F_USAGE, "%s%s is true: the key can %s; a KEK needs %s",
                                 half, usages[i].name, usages[i].what,
                                 cls == CKO_SECRET_KEY    ? "CKA_ENCRYPT and CKA_DECRYPT only"
                                 : cls == CKO_PRIVATE_KEY ? "CKA_DECRYPT only (private key)"
                                                          : "CKA_ENCRYPT only (public key)");
}

/* The largest key the token says it makes with mech (bits for RSA, bytes
 * for AES: PKCS#11 2.40 §2.1, §2.8), or 0 if it does not say. */
static CK_ULONG max_size(struct hsm_token *t, CK_MECHANISM_TYPE mech)
{
    CK_MECHANISM_INFO mi;
    if (P11(t->mod, C_GetMechanismInfo, t->slot, mech, &mi) != CKR_OK)
        return 0;
    return mi.ulMaxKeySize;
}

static void check_secrecy(struct hsm_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, int kms,
                          envcore_findings *f)
{
    CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, always = CK_FALSE, never = CK_FALSE, priv = CK_FALSE;
    CK_BBOOL tok = CK_FALSE;
    enum { S_SENS, S_EXTR, S_ALWAYS, S_NEVER, S_PRIV, S_TOKEN };
    hsm_attr a[] = {
        HSM_ATTR(CKA_SENSITIVE, sens, 0),
        HSM_ATTR(CKA_EXTRACTABLE, extr, 0),
        HSM_ATTR(CKA_ALWAYS_SENSITIVE, always, 0),
        HSM_ATTR(CKA_NEVER_EXTRACTABLE, never, 0),
        HSM_ATTR(CKA_PRIVATE, priv, 0),
        HSM_ATTR(CKA_TOKEN, tok, 0),
    };
    if (hsm_attrs_read(t, s, obj, a, 6, "reading CKA_SENSITIVE/CKA_EXTRACTABLE", NULL) !=
        ENVCORE_R_OK) {
        ERR_clear_error();
        envcore_findings_add(f, ENVCORE_F_EXTRACTABLE,
                             "the token does not say whether the key is sensitive and "
                             "non-extractable: treat it as extractable");
        return;
    }
    /* an attribute the token does not give is no claim: the weaker answer */
    if (a[S_EXTR].len == HSM_ATTR_ABSENT || extr)
        envcore_findings_add(f, ENVCORE_F_EXTRACTABLE,
                             "CKA_EXTRACTABLE is %s: the key can be wrapped out of the token",
                             a[S_EXTR].len == HSM_ATTR_ABSENT ? "not given" : "true");
    if (a[S_SENS].len == HSM_ATTR_ABSENT || !sens)
        envcore_findings_add(f, ENVCORE_F_NOT_SENSITIVE,
                             "CKA_SENSITIVE is %s: the key's value can be read from the token",
                             a[S_SENS].len == HSM_ATTR_ABSENT ? "not given" : "false");
    if (!kms && a[S_NEVER].len != HSM_ATTR_ABSENT && !never && !extr)
        envcore_findings_add(f, ENVCORE_F_ONCE_EXTRACTABLE,
                             "CKA_NEVER_EXTRACTABLE is false: the key was extractable once, so "
                             "its value may exist outside the token");
    if (!kms && a[S_ALWAYS].len != HSM_ATTR_ABSENT && !always && sens)
        envcore_findings_add(f, ENVCORE_F_ONCE_EXTRACTABLE,
                             "CKA_ALWAYS_SENSITIVE is false: the key's value was readable once");
    if (!kms && (a[S_PRIV].len == HSM_ATTR_ABSENT || !priv))
        envcore_findings_add(f, ENVCORE_F_NOT_PRIVATE,
                             "CKA_PRIVATE is %s: any session can use the key without the PIN",
                             a[S_PRIV].len == HSM_ATTR_ABSENT ? "not given" : "false");
    if (a[S_TOKEN].len != HSM_ATTR_ABSENT && !tok)
        envcore_findings_add(f, ENVCORE_F_NOT_PRIVATE,
                             "CKA_TOKEN is false: a session object, gone with the session");
}

static void check_kms_mask(unsigned long mask, envcore_findings *f)
{
    unsigned long extra = mask & ~(KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT);
    char names[160] = "";
    size_t o = 0;
    if (extra == 0)
        return;
    for (size_t i = 0; i < sizeof(kmip_bits) / sizeof(kmip_bits[0]); i++)
        if (extra & kmip_bits[i].bit) {
            int n = snprintf(names + o, sizeof(names) - o, "%s%s", o ? ", " : "",
                             kmip_bits[i].name);
            if (n < 0 || (size_t)n >= sizeof(names) - o)
                break;
            o += (size_t)n;
            extra &= ~kmip_bits[i].bit;
        }
    envcore_findings_add(f, ENVCORE_F_USAGE,
                         "KMIP Cryptographic Usage Mask 0x%lx allows %s%s; a KEK needs Encrypt "
                         "and Decrypt only",
                         mask, names[0] ? names : "",
                         extra ? (names[0] ? " and more" : "more") : "");
}

int hsm_check_object(struct hsm_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_OBJECT_HANDLE pub, envcore_check_cb *cb, void *arg, int *reported)
{
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_ULONG vlen = 0, mask = 0;
    unsigned char id[HSM_MAX_ID];
    char label[HSM_MAX_LABEL + 1];
    enum { W_CLASS, W_TYPE, W_ID, W_LABEL, W_VLEN, W_MASK };
    hsm_attr who[] = {
        HSM_ATTR(CKA_CLASS, cls, 1),
        HSM_ATTR(CKA_KEY_TYPE, kt, 0),
        HSM_ATTR_BUF(CKA_ID, id, sizeof(id), 0),
        HSM_ATTR_BUF(CKA_LABEL, label, HSM_MAX_LABEL, 0),
        HSM_ATTR(CKA_VALUE_LEN, vlen, 0),
        HSM_ATTR(HSM_CKA_KMS_USAGE_MASK, mask, 0),
    };
    int r = hsm_attrs_read(t, s, obj, who, 6, "C_GetAttributeValue", NULL);
    if (r != ENVCORE_R_OK)
        return r;
    size_t idlen = who[W_ID].len == HSM_ATTR_ABSENT ? 0 : who[W_ID].len;
    label[who[W_LABEL].len == HSM_ATTR_ABSENT ? 0 : who[W_LABEL].len] = '\0';
    if (who[W_TYPE].len == HSM_ATTR_ABSENT || (kt != CKK_AES && kt != CKK_RSA) ||
        (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY))
        return ENVCORE_R_OK; /* not a KEK kind: nothing to judge */
    int kms = who[W_MASK].len == sizeof(CK_ULONG);

    envcore_findings f;
    char kind[ENVCORE_KIND_MAX];
    if (kt == CKK_AES) {
        CK_ULONG top = max_size(t, CKM_AES_KEY_GEN);
        snprintf(kind, sizeof(kind), "aes-%lu", (unsigned long)vlen * 8);
        envcore_findings_init(&f, kind);
        if (who[W_VLEN].len == HSM_ATTR_ABSENT || vlen < 32)
            envcore_findings_add(&f, ENVCORE_F_WEAK_SIZE,
                                 "AES-%lu: a KEK is AES-256 (the provider refuses others)%s",
                                 (unsigned long)vlen * 8,
                                 top >= 32 ? "; the token makes AES-256 keys" : "");
    } else {
        unsigned char modulus[1024];
        CK_ULONG bits = 0;
        hsm_attr m[] = {HSM_ATTR_BUF(CKA_MODULUS, modulus, sizeof(modulus), 0),
                        HSM_ATTR(CKA_MODULUS_BITS, bits, 0)};
        if (hsm_attrs_read(t, s, pub != CK_INVALID_HANDLE ? pub : obj, m, 2, "reading CKA_MODULUS",
                           label) != ENVCORE_R_OK)
            ERR_clear_error();
        if (m[1].len == HSM_ATTR_ABSENT)
            bits = m[0].len == HSM_ATTR_ABSENT ? 0 : m[0].len * 8;
        snprintf(kind, sizeof(kind), "rsa-%lu", (unsigned long)bits);
        envcore_findings_init(&f, kind);
        CK_ULONG top = max_size(t, CKM_RSA_PKCS_KEY_PAIR_GEN);
        if (bits < 3072 && (top >= 3072 || top == 0))
            envcore_findings_add(&f, ENVCORE_F_WEAK_SIZE, "RSA-%lu: below 3072 bits, %s",
                                 (unsigned long)bits,
                                 top != 0 ? "and the token makes larger keys"
                                          : "and the token does not say how large it can go");
    }
    if (cls != CKO_PUBLIC_KEY)
        check_secrecy(t, s, obj, kms, &f);
    if (kms)
        check_kms_mask((unsigned long)mask, &f);
    check_usages(t, s, obj, cls, cls == CKO_PRIVATE_KEY ? "private key: " : "", &f);
    if (pub != CK_INVALID_HANDLE)
        check_usages(t, s, pub, CKO_PUBLIC_KEY, "public key: ", &f);
    char *uri = hsm_uri_canonical(t, label, id, idlen, cls);
    if (uri == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
        return ENVCORE_R_INTERNAL;
    }
    (*reported)++;
    r = cb(uri, &f, arg);
    free(uri);
    return r;
}

int hsm_check_token(struct hsm_token *t, envcore_check_cb *cb, void *arg, int *usable)
{
    CK_FLAGS fl = t->info.flags;
    *usable = 1;
    if ((fl & CKF_LOGIN_REQUIRED) && (fl & CKF_USER_PIN_INITIALIZED))
        return ENVCORE_R_OK;
    envcore_findings f;
    envcore_findings_init(&f, "token");
    if (!(fl & CKF_LOGIN_REQUIRED))
        envcore_findings_add(&f, ENVCORE_F_NO_PIN,
                             "token \"%s\" does not require login (CKF_LOGIN_REQUIRED is "
                             "clear): whoever reaches the module uses its keys",
                             t->label);
    else {
        envcore_findings_add(&f, ENVCORE_F_NO_PIN,
                             "token \"%s\" has no user PIN (CKF_USER_PIN_INITIALIZED is clear); "
                             "its private keys cannot be read until one is set",
                             t->label);
        *usable = 0; /* no login possible: only the token is reported */
    }
    char *uri = hsm_uri_canonical(t, NULL, NULL, 0, CKO_DATA);
    if (uri == NULL) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "out of memory");
        return ENVCORE_R_INTERNAL;
    }
    /* the token URI alone: no object class on a token entry */
    char *ty = strstr(uri, ";type=data");
    if (ty != NULL)
        memmove(ty, ty + 10, strlen(ty + 10) + 1);
    int r = cb(uri, &f, arg);
    free(uri);
    return r;
}
