/*
 * p11_attributes.c - KMS keys as PKCS#11 secret-key objects (2.40 §4.10
 * secret key objects): the value of each attribute, C_GetAttributeValue
 * (§5.7), and the template match C_FindObjects applies; see p11_attributes.h.
 *
 * Every key is presented as CKA_TOKEN=TRUE, CKA_SENSITIVE=TRUE,
 * CKA_EXTRACTABLE=FALSE: through this module its value can never be read.
 * (The KMS itself may allow Get to its owner; see docs/KMS-BRIDGE.md.)
 * CKA_ID is the KMIP Unique Identifier, CKA_LABEL the first KMIP Name.
 */
#include "p11_attributes.h"

#include <string.h>

#include "kms_text.h"
#include "kms_vendor.h"
#include "p11_aws.h"

static const CK_BBOOL ck_true = CK_TRUE, ck_false = CK_FALSE;

/* Fills one attribute of object o. Returns CKR_OK, CKR_ATTRIBUTE_SENSITIVE,
 * CKR_ATTRIBUTE_TYPE_INVALID or CKR_BUFFER_TOO_SMALL (§5.7 C_GetAttributeValue). */
static CK_RV get_attr(const kms_object *o, CK_ATTRIBUTE *at)
{
    static const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    static const CK_KEY_TYPE kt = CKK_AES;
    static const CK_MECHANISM_TYPE allowed[] = {CKM_AES_GCM};
    static const CK_MECHANISM_TYPE gen = CK_UNAVAILABLE_INFORMATION;
    const void *v = NULL;
    CK_ULONG n = 0, mask;
    if (o->aws_kind != KMS_AWS_NONE)
        return kms_aws_get_attr(o, at);
    switch (at->type) {
    case CKA_CLASS:
        v = &cls;
        n = sizeof(cls);
        break;
    case CKA_KEY_TYPE:
        v = &kt;
        n = sizeof(kt);
        break;
    case CKA_TOKEN:
    case CKA_SENSITIVE:
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
        v = &ck_true;
        n = sizeof(ck_true);
        break;
    /* The KMS may have let its owner Get the key before (PyKMIP: the Get
     * right is the Encrypt right), so we cannot claim "always sensitive" or
     * "never extractable"; and we did not necessarily generate it. */
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
    case CKA_LOCAL:
    case CKA_EXTRACTABLE:
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_SIGN:
    case CKA_VERIFY:
    case CKA_DERIVE:
    case CKA_TRUSTED:
    case CKA_WRAP_WITH_TRUSTED:
        v = &ck_false;
        n = sizeof(ck_false);
        break;
    case CKA_DESTROYABLE:
        v = &ck_true;
        n = sizeof(ck_true);
        break;
    case CKA_LABEL:
        v = o->label;
        n = strlen(o->label);
        break;
    case CKA_ID:
        v = o->uid;
        n = strlen(o->uid);
        break;
    case CKA_VALUE_LEN:
        v = &o->value_len;
        n = sizeof(o->value_len);
        break;
    case CKA_KEY_GEN_MECHANISM:
        v = &gen;
        n = sizeof(gen);
        break;
    case CKA_ALLOWED_MECHANISMS:
        v = allowed;
        n = sizeof(allowed);
        break;
    case ENVELOPE_KMS_CKA_USAGE_MASK:
        if (o->usage_mask < 0) {
            at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            return CKR_ATTRIBUTE_TYPE_INVALID;
        }
        mask = (CK_ULONG)o->usage_mask;
        v = &mask;
        n = sizeof(mask);
        break;
    case CKA_VALUE: at->ulValueLen = CK_UNAVAILABLE_INFORMATION; return CKR_ATTRIBUTE_SENSITIVE;
    default: at->ulValueLen = CK_UNAVAILABLE_INFORMATION; return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    if (at->pValue == NULL) {
        at->ulValueLen = n;
        return CKR_OK;
    }
    if (at->ulValueLen < n) {
        at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (n)
        memcpy(at->pValue, v, n);
    at->ulValueLen = n;
    return CKR_OK;
}

CK_RV kms_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG n)
{
    if (tmpl == NULL && n > 0)
        return CKR_ARGUMENTS_BAD;
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    kms_object *o = kms_object_get(s->slot, oh);
    if (o == NULL) {
        kms_unlock();
        return CKR_OBJECT_HANDLE_INVALID;
    }
    /* §5.7: process every attribute; report the "worst" error. */
    for (CK_ULONG i = 0; i < n; i++) {
        CK_RV r = get_attr(o, &tmpl[i]);
        if (r != CKR_OK && (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL))
            rv = r;
    }
    kms_unlock();
    return rv;
}

/* See p11_attributes.h. */
int kms_attr_matches(const kms_object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    unsigned char buf[KMS_AWS_PUB_MAX + KMIP_MAX_NAME]; /* an RSA-4096 modulus, a label */
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ATTRIBUTE at = {.type = tmpl[i].type, .pValue = buf, .ulValueLen = sizeof(buf)};
        if (get_attr(o, &at) != CKR_OK || at.ulValueLen != tmpl[i].ulValueLen ||
            (at.ulValueLen && memcmp(buf, tmpl[i].pValue, at.ulValueLen) != 0))
            return 0;
    }
    return 1;
}

/* See p11_attributes.h. */
int kms_attr_string(const CK_ATTRIBUTE *at, char *dst, size_t cap)
{
    if (at->pValue == NULL || at->ulValueLen == 0 || at->ulValueLen >= cap ||
        !kms_utf8_valid(at->pValue, at->ulValueLen))
        return 0;
    memcpy(dst, at->pValue, at->ulValueLen);
    dst[at->ulValueLen] = 0;
    return 1;
}
