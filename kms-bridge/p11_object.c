/*
 * p11_object.c - KMS keys as PKCS#11 secret-key objects (2.40 §4.10 secret
 * key objects, §5.7 object management): FindObjects (KMIP Locate by Name,
 * or Get Attributes by Unique Identifier for CKA_ID), GetAttributeValue,
 * GenerateKey (Create + Activate) and DestroyObject (Revoke + Destroy).
 *
 * Every key is presented as CKA_TOKEN=TRUE, CKA_SENSITIVE=TRUE,
 * CKA_EXTRACTABLE=FALSE: through this module its value can never be read.
 * (The KMS itself may allow Get to its owner; see docs/KMS-BRIDGE.md.)
 * CKA_ID is the KMIP Unique Identifier, CKA_LABEL the first KMIP Name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms_diag.h"
#include "kms_log.h"
#include "kms_module.h"
#include "kms_ops.h"
#include "kms_text.h"
#include "p11_lookup.h"

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
    CK_ULONG n = 0;
    switch (at->type) {
    case CKA_CLASS: v = &cls; n = sizeof(cls); break;
    case CKA_KEY_TYPE: v = &kt; n = sizeof(kt); break;
    case CKA_TOKEN:
    case CKA_SENSITIVE:
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
        v = &ck_true; n = sizeof(ck_true); break;
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
        v = &ck_false; n = sizeof(ck_false); break;
    case CKA_DESTROYABLE:
        v = &ck_true; n = sizeof(ck_true); break;
    case CKA_LABEL: v = o->label; n = strlen(o->label); break;
    case CKA_ID: v = o->uid; n = strlen(o->uid); break;
    case CKA_VALUE_LEN: v = &o->value_len; n = sizeof(o->value_len); break;
    case CKA_KEY_GEN_MECHANISM: v = &gen; n = sizeof(gen); break;
    case CKA_ALLOWED_MECHANISMS: v = allowed; n = sizeof(allowed); break;
    case CKA_VALUE:
        at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_ATTRIBUTE_SENSITIVE;
    default:
        at->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_ATTRIBUTE_TYPE_INVALID;
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

CK_RV kms_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
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

/* 1 if object o has every attribute value in tmpl. */
static int matches(const kms_object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    unsigned char buf[KMIP_MAX_NAME + KMIP_MAX_UID + 64];
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ATTRIBUTE at = {.type = tmpl[i].type, .pValue = buf, .ulValueLen = sizeof(buf)};
        if (get_attr(o, &at) != CKR_OK || at.ulValueLen != tmpl[i].ulValueLen ||
            (at.ulValueLen && memcmp(buf, tmpl[i].pValue, at.ulValueLen) != 0))
            return 0;
    }
    return 1;
}

/* Copies an attribute that becomes a KMIP Text String into a C string:
 * 1..cap-1 bytes of well-formed UTF-8 without NUL (kms_text.h). */
static int attr_string(const CK_ATTRIBUTE *at, char *dst, size_t cap)
{
    if (at->pValue == NULL || at->ulValueLen == 0 || at->ulValueLen >= cap ||
        !kms_utf8_valid(at->pValue, at->ulValueLen))
        return 0;
    memcpy(dst, at->pValue, at->ulValueLen);
    dst[at->ulValueLen] = 0;
    return 1;
}

/* 1 if the CKA_LABEL value is not UTF-8 at all (CK_UTF8CHAR, PKCS#11 2.40
 * §4.4; KMIP Text String §9.1.1.4): refused with CKR_ATTRIBUTE_VALUE_INVALID
 * before anything is sent, rather than handed to the KMS to choke on. */
static int label_not_utf8(const CK_ATTRIBUTE *at)
{
    return at->pValue != NULL && at->ulValueLen > 0 && !kms_utf8_valid(at->pValue, at->ulValueLen);
}

CK_RV kms_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    if (tmpl == NULL && n > 0)
        return CKR_ARGUMENTS_BAD;
    /* A value of nonzero length needs a buffer (matches() compares it). */
    for (CK_ULONG i = 0; i < n; i++)
        if (tmpl[i].pValue == NULL && tmpl[i].ulValueLen != 0)
            return CKR_ARGUMENTS_BAD;
    char label[KMIP_MAX_NAME + 1] = "", id[KMIP_MAX_UID + 1] = "";
    int by_label = 0, by_id = 0, impossible = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        if (tmpl[i].type == CKA_LABEL) {
            if (label_not_utf8(&tmpl[i]))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            by_label = 1;
            impossible |= !attr_string(&tmpl[i], label, sizeof(label));
        } else if (tmpl[i].type == CKA_ID) {
            /* Our CKA_IDs are KMIP Unique Identifiers (Text Strings): an id
             * that cannot be one (binary, e.g. the random 16 bytes a
             * keygen probes for; empty; too long) names no object here,
             * answered without a round trip. */
            by_id = 1;
            impossible |= tmpl[i].pValue == NULL ||
                           !kms_uid_ok(tmpl[i].pValue, tmpl[i].ulValueLen, KMIP_MAX_UID) ||
                           !attr_string(&tmpl[i], id, sizeof(id));
        } else if (tmpl[i].type == CKA_CLASS) {
            CK_OBJECT_CLASS c;
            impossible |= tmpl[i].ulValueLen != sizeof(c) || tmpl[i].pValue == NULL ||
                          (memcpy(&c, tmpl[i].pValue, sizeof(c)), c != CKO_SECRET_KEY);
        }
    }
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    if (s->finding || s->op != KMS_OP_NONE) {
        kms_unlock();
        return CKR_OPERATION_ACTIVE;
    }
    CK_SLOT_ID slot = s->slot;
    kms_unlock();

    /* Network I/O without the lock. */
    kms_candidate *c = NULL;
    size_t nc = 0;
    CK_OBJECT_HANDLE *found = NULL;
    /* impossible: e.g. CKA_CLASS = CKO_PRIVATE_KEY: nothing here matches. */
    if (!impossible &&
        (rv = kms_lookup(&g_kms.slots[slot], by_label ? label : NULL, by_id ? id : NULL, &c, &nc)) != CKR_OK)
        goto out;
    if (nc > 0 && (found = calloc(nc, sizeof(*found))) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }

    rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        goto out;
    if (s->finding || s->op != KMS_OP_NONE) {
        kms_unlock(); /* another thread began an operation meanwhile */
        rv = CKR_OPERATION_ACTIVE;
        goto out;
    }
    s->n_found = s->next_found = 0;
    s->found = found;
    found = NULL;
    for (size_t i = 0; i < nc; i++) {
        CK_OBJECT_HANDLE oh = kms_object_intern(slot, c[i].uid, c[i].a.name,
                                                (CK_ULONG)c[i].a.length_bits / 8, c[i].a.state);
        if (oh == 0) {
            kms_session_end_find(s);
            kms_unlock();
            kms_diag_add("kms-bridge: object table full (%d keys)", KMS_MAX_OBJECTS);
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        if (matches(kms_object_get(slot, oh), tmpl, n))
            s->found[s->n_found++] = oh;
    }
    s->finding = 1;
    kms_unlock();
out:
    free(found);
    free(c);
    return rv;
}

CK_RV kms_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR n)
{
    if (out == NULL || n == NULL)
        return CKR_ARGUMENTS_BAD;
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    if (!s->finding) {
        kms_unlock();
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    CK_ULONG k = 0;
    while (k < max && s->next_found < s->n_found)
        out[k++] = s->found[s->next_found++];
    *n = k;
    kms_unlock();
    return CKR_OK;
}

CK_RV kms_FindObjectsFinal(CK_SESSION_HANDLE h)
{
    kms_session *s;
    CK_RV rv = kms_session_lock(h, &s);
    if (rv != CKR_OK)
        return rv;
    rv = s->finding ? CKR_OK : CKR_OPERATION_NOT_INITIALIZED;
    kms_session_end_find(s);
    kms_unlock();
    return rv;
}

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
            if (!attr_string(a, label, cap))
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
        default:
            return CKR_ATTRIBUTE_TYPE_INVALID;
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
    *out = kms_object_intern(slot, uid, label, 32, KMIP_STATE_ACTIVE);
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
