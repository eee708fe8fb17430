/*
 * hsm_attrs.c - reading an object's attributes by table (hsm_internal.h).
 *
 * One C_GetAttributeValue for the whole table (PKCS#11 v2.40 §5.7): an
 * attribute the object does not have, or will not reveal, comes back with
 * length CK_UNAVAILABLE_INFORMATION and the call answers
 * CKR_ATTRIBUTE_TYPE_INVALID or CKR_ATTRIBUTE_SENSITIVE for the whole call;
 * those are answers, not failures. Lengths come from the module and are
 * trusted no further than each buffer.
 */
#include "hsm_internal.h"

int hsm_attrs_read(struct hsm_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, hsm_attr *a,
                   size_t n, const char *what, const char *label)
{
    CK_ATTRIBUTE tmpl[HSM_MAX_ATTRS];
    if (n > HSM_MAX_ATTRS) {
        ENVCORE_RAISE(ENVCORE_R_INTERNAL, "too many attributes asked for at once");
        return ENVCORE_R_INTERNAL;
    }
    for (size_t i = 0; i < n; i++)
        tmpl[i] = (CK_ATTRIBUTE){a[i].type, a[i].buf, a[i].size};
    CK_RV rv = P11(t->mod, C_GetAttributeValue, s, obj, tmpl, (CK_ULONG)n);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return hsm_raise_rv(rv, what, t->label, label);
    for (size_t i = 0; i < n; i++) {
        a[i].len = tmpl[i].ulValueLen;
        if (a[i].len != HSM_ATTR_ABSENT && a[i].len > a[i].size) {
            /* a module that writes more than it was given room for, or
             * says it did: nothing it returned is usable */
            ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR,
                          "token \"%s\" returned %lu bytes of %s (at most %lu fit) for %s",
                          t->label, (unsigned long)a[i].len, a[i].name, (unsigned long)a[i].size,
                          label != NULL ? label : "an object");
            return ENVCORE_R_BACKEND_ERROR;
        }
        if (a[i].len == HSM_ATTR_ABSENT && a[i].required) {
            ENVCORE_RAISE(ENVCORE_R_BACKEND_ERROR, "token \"%s\" gives no %s for %s", t->label,
                          a[i].name, label != NULL ? label : "an object");
            return ENVCORE_R_BACKEND_ERROR;
        }
    }
    return ENVCORE_R_OK;
}
