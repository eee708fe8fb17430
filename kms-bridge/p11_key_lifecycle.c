/*
 * p11_key_lifecycle.c - creating and destroying KMS keys through PKCS#11
 * (2.40 §5.7 object management): C_GenerateKey (KMIP Create + Activate)
 * and C_DestroyObject (KMIP Revoke + Destroy), both in R/W sessions only.
 *
 * Network I/O runs without g_kms.lock; the result is stored under it.
 * A destroyed key's table entry is forgotten, so its handle is never valid
 * again (p11_handle_tables.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms_log.h"
#include "kms_module.h"
#include "kms_ops.h"
#include "p11_attributes.h"
#include "p11_aws.h"
#include "p11_lookup.h"

/* Template check for C_GenerateKey: only what we will really create. */
static CK_RV gen_template(const CK_ATTRIBUTE *t, CK_ULONG n, char *label, size_t cap)
{
    int have_label = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *a = &t[i];
        CK_BBOOL b = CK_FALSE;
        int is_bool = a->ulValueLen == sizeof(CK_BBOOL) && a->pValue != NULL;
        if (is_bool)
            b = *(const CK_BBOOL *)a->pValue;
        switch (a->type) {
        case CKA_CLASS: {
            CK_OBJECT_CLASS c;
            if (a->ulValueLen != sizeof(c) || a->pValue == NULL)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&c, a->pValue, sizeof(c));
            if (c != CKO_SECRET_KEY)
                return CKR_TEMPLATE_INCONSISTENT;
            break;
        }
        case CKA_KEY_TYPE: {
            CK_KEY_TYPE k;
            if (a->ulValueLen != sizeof(k) || a->pValue == NULL)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&k, a->pValue, sizeof(k));
            if (k != CKK_AES)
                return CKR_TEMPLATE_INCONSISTENT;
            break;
        }
        case CKA_VALUE_LEN: {
            CK_ULONG l;
            if (a->ulValueLen != sizeof(l) || a->pValue == NULL)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&l, a->pValue, sizeof(l));
            if (l != 32)
                return CKR_ATTRIBUTE_VALUE_INVALID; /* AES-256 KEKs only */
            break;
        }
        case CKA_LABEL:
            if (!kms_attr_string(a, label, cap))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            have_label = 1;
            break;
        case CKA_ID:
            return CKR_ATTRIBUTE_READ_ONLY; /* the KMS assigns it (Unique Identifier) */
        /* Must be TRUE if given: the key will be a token key usable for both. */
        case CKA_TOKEN:
        case CKA_ENCRYPT:
        case CKA_DECRYPT:
            if (!is_bool || !b)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            break;
        /* Must be FALSE if given. */
        case CKA_EXTRACTABLE:
        case CKA_WRAP:
        case CKA_UNWRAP:
        case CKA_SIGN:
        case CKA_VERIFY:
        case CKA_DERIVE:
            if (!is_bool || b)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            break;
        /* pkcs11-tool sends CKA_SENSITIVE=FALSE unless --sensitive: the key
         * is sensitive regardless (its value never crosses this module), so
         * either value is accepted and CKA_SENSITIVE reads back TRUE. */
        case CKA_SENSITIVE:
        case CKA_PRIVATE:
        case CKA_MODIFIABLE:
            if (!is_bool)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            break;
        default: return CKR_ATTRIBUTE_TYPE_INVALID;
        }
    }
    return have_label ? CKR_OK : CKR_TEMPLATE_INCOMPLETE; /* the KMIP Name */
}

CK_RV kms_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR out)
{
    if (mech == NULL || out == NULL || (tmpl == NULL && n > 0))
        return CKR_ARGUMENTS_BAD;
    if (mech->mechanism != CKM_AES_KEY_GEN)
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    char label[KMIP_MAX_NAME + 1];
    CK_RV rv = gen_template(tmpl, n, label, sizeof(label));
    if (rv != CKR_OK)
        return rv;
    kms_session *s;
    if ((rv = kms_session_lock(h, &s)) != CKR_OK)
        return rv;
    CK_SLOT_ID slot = s->slot;
    int rw = (s->flags & CKF_RW_SESSION) != 0;
    kms_unlock();
    if (!rw)
        return CKR_SESSION_READ_ONLY; /* §5.7: token objects need R/W */

    if (kms_slot_is_aws(slot))
        return kms_aws_generate(slot, label, out);
    kms_slot *ks = &g_kms.slots[slot];
    kmip_result res;
    /* Labels pick KEKs in URIs (object=...): refuse a second usable key of
     * the same name rather than make lookups ambiguous. Keys FindObjects
     * never offers (Pre-Active leftovers, Compromised, ...) do not count;
     * a Locate that fails or is refused is an error, not a duplicate. */
    kms_candidate *c = NULL;
    size_t nc = 0;
    rv = kms_lookup(ks, label, NULL, &c, &nc);
    free(c);
    if (rv != CKR_OK)
        return rv;
    if (nc > 0) {
        kms_debug("slot %s: a key named \"%s\" exists already", ks->cfg.label, label);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    char uid[KMIP_MAX_UID + 1];
    kms_status st = kms_op_create_key(ks, label, uid, &res);
    if (st != KMS_OK)
        return kms_ckr(st, &res, KMS_CTX_OBJECT);
    if ((rv = kms_session_lock(h, &s)) != CKR_OK)
        return rv;
    /* the mask kmip_build_create_aes256 asked for */
    *out = kms_object_intern(slot, uid, label, 32, KMIP_STATE_ACTIVE,
                             KMIP_USAGE_ENCRYPT | KMIP_USAGE_DECRYPT);
    kms_unlock();
    return *out ? CKR_OK : CKR_HOST_MEMORY;
}

CK_RV kms_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh)
{
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    CK_SLOT_ID slot = s->slot;
    int rw = (s->flags & CKF_RW_SESSION) != 0;
    kms_object *o = kms_object_get(slot, oh);
    char uid[KMIP_MAX_UID + 1];
    if (o != NULL)
        snprintf(uid, sizeof(uid), "%s", o->uid);
    kms_unlock();
    if (o == NULL)
        return CKR_OBJECT_HANDLE_INVALID;
    if (!rw)
        return CKR_SESSION_READ_ONLY;
    kmip_result res;
    kms_status st = kms_op_destroy_key(&g_kms.slots[slot], uid, &res);
    if (st != KMS_OK)
        return kms_ckr(st, &res, KMS_CTX_OBJECT);
    if (kms_session_lock(h, &s) == CKR_OK) {
        o = kms_object_get(slot, oh);
        if (o != NULL && strcmp(o->uid, uid) == 0)
            kms_object_forget(o); /* its handle is never valid again */
        kms_unlock();
    }
    return CKR_OK;
}
