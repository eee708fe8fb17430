/*
 * p11_find.c - C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal
 * (PKCS#11 2.40 §5.7): KMIP Locate by Name for CKA_LABEL, Get Attributes by
 * Unique Identifier for CKA_ID, or Locate of all keys (p11_lookup.c); each
 * key found gets its stable handle (p11_handle_tables.c) and is kept if it
 * matches the rest of the template (p11_attributes.c).
 *
 * The lookup is network I/O and runs without g_kms.lock: the session is
 * checked, the lock released, the KMS asked, and the session checked again
 * before the results are stored in it.
 */
#include <stdlib.h>
#include <string.h>

#include "kms_diag.h"
#include "kms_module.h"
#include "kms_text.h"
#include "p11_attributes.h"
#include "p11_aws.h"
#include "p11_lookup.h"

/* 1 if the CKA_LABEL value is not UTF-8 at all (CK_UTF8CHAR, PKCS#11 2.40
 * §4.4; KMIP Text String §9.1.1.4): refused with CKR_ATTRIBUTE_VALUE_INVALID
 * before anything is sent, rather than handed to the KMS to choke on. */
static int label_not_utf8(const CK_ATTRIBUTE *at)
{
    return at->pValue != NULL && at->ulValueLen > 0 && !kms_utf8_valid(at->pValue, at->ulValueLen);
}

/* An aws-kms slot: the lookup is p11_aws_objects.c's; the results are
 * stored as for KMIP. */
static CK_RV aws_find_init(CK_SESSION_HANDLE h, CK_SLOT_ID slot, const CK_ATTRIBUTE *tmpl,
                           CK_ULONG n, int impossible)
{
    CK_OBJECT_HANDLE *found = NULL;
    size_t nf = 0;
    CK_RV rv = CKR_OK;
    (void)impossible; /* the KMIP reading of CKA_ID/CKA_CLASS: the AWS lookup filters itself */
    if ((rv = kms_aws_find(slot, tmpl, n, &found, &nf)) != CKR_OK)
        return rv;
    kms_session *s;
    if ((rv = kms_session_lock(h, &s)) != CKR_OK) {
        free(found);
        return rv;
    }
    if (s->finding || s->op != KMS_OP_NONE) {
        kms_unlock();
        free(found);
        return CKR_OPERATION_ACTIVE;
    }
    s->found = found;
    s->n_found = nf;
    s->next_found = 0;
    s->finding = 1;
    kms_unlock();
    return CKR_OK;
}

CK_RV kms_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    if (tmpl == NULL && n > 0)
        return CKR_ARGUMENTS_BAD;
    /* A value of nonzero length needs a buffer (kms_attr_matches compares it). */
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
            impossible |= !kms_attr_string(&tmpl[i], label, sizeof(label));
        } else if (tmpl[i].type == CKA_ID) {
            /* Our CKA_IDs are KMIP Unique Identifiers (Text Strings): an id
             * that cannot be one (binary, e.g. the random 16 bytes a
             * keygen probes for; empty; too long) names no object here,
             * answered without a round trip. */
            by_id = 1;
            impossible |= tmpl[i].pValue == NULL ||
                          !kms_uid_ok(tmpl[i].pValue, tmpl[i].ulValueLen, KMIP_MAX_UID) ||
                          !kms_attr_string(&tmpl[i], id, sizeof(id));
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
    if (kms_slot_is_aws(slot))
        return aws_find_init(h, slot, tmpl, n, impossible);

    /* Network I/O without the lock. */
    kms_candidate *c = NULL;
    size_t nc = 0;
    CK_OBJECT_HANDLE *found = NULL;
    /* impossible: e.g. CKA_CLASS = CKO_PRIVATE_KEY: nothing here matches. */
    if (!impossible && (rv = kms_lookup(&g_kms.slots[slot], by_label ? label : NULL,
                                        by_id ? id : NULL, &c, &nc)) != CKR_OK)
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
                                                (CK_ULONG)c[i].a.length_bits / 8, c[i].a.state,
                                                c[i].a.has_usage_mask ? (int64_t)c[i].a.usage_mask
                                                                      : -1);
        if (oh == 0) {
            kms_session_end_find(s);
            kms_unlock();
            kms_diag_add("kms-bridge: object table full (%d keys)", KMS_MAX_OBJECTS);
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        if (kms_attr_matches(kms_object_get(slot, oh), tmpl, n))
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
