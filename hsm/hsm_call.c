/*
 * hsm_call.c - the one wrapper around every C_* call: debug logging (call
 * name and return code only, never arguments that might hold secrets) and
 * the mapping of CK_RV to the provider's error reasons.
 */
#include "hsm_internal.h"

#include <stdio.h>

#include "errors.h"

const char *hsm_rv_name(CK_RV rv)
{
    switch (rv) {
        /* a name table reads best as a table */
        /* clang-format off */
#define N(x) case x: return #x
    N(CKR_OK); N(CKR_CANCEL); N(CKR_HOST_MEMORY); N(CKR_SLOT_ID_INVALID);
    N(CKR_GENERAL_ERROR); N(CKR_FUNCTION_FAILED); N(CKR_ARGUMENTS_BAD);
    N(CKR_CANT_LOCK); N(CKR_ATTRIBUTE_READ_ONLY); N(CKR_ATTRIBUTE_SENSITIVE); N(CKR_ATTRIBUTE_TYPE_INVALID);
    N(CKR_ATTRIBUTE_VALUE_INVALID); N(CKR_DATA_INVALID); N(CKR_DATA_LEN_RANGE);
    N(CKR_DEVICE_ERROR); N(CKR_DEVICE_MEMORY); N(CKR_DEVICE_REMOVED);
    N(CKR_ENCRYPTED_DATA_INVALID); N(CKR_ENCRYPTED_DATA_LEN_RANGE);
    N(CKR_FUNCTION_CANCELED); N(CKR_FUNCTION_NOT_SUPPORTED); N(CKR_KEY_HANDLE_INVALID);
    N(CKR_KEY_SIZE_RANGE); N(CKR_KEY_TYPE_INCONSISTENT); N(CKR_KEY_FUNCTION_NOT_PERMITTED);
    N(CKR_MECHANISM_INVALID); N(CKR_MECHANISM_PARAM_INVALID); N(CKR_OBJECT_HANDLE_INVALID);
    N(CKR_OPERATION_ACTIVE); N(CKR_OPERATION_NOT_INITIALIZED); N(CKR_PIN_INCORRECT);
    N(CKR_PIN_INVALID); N(CKR_PIN_LEN_RANGE); N(CKR_PIN_EXPIRED); N(CKR_PIN_LOCKED);
    N(CKR_SESSION_CLOSED); N(CKR_SESSION_COUNT); N(CKR_SESSION_HANDLE_INVALID);
    N(CKR_TEMPLATE_INCOMPLETE); N(CKR_TEMPLATE_INCONSISTENT); N(CKR_TOKEN_NOT_PRESENT);
    N(CKR_TOKEN_NOT_RECOGNIZED); N(CKR_TOKEN_WRITE_PROTECTED); N(CKR_USER_ALREADY_LOGGED_IN);
    N(CKR_USER_NOT_LOGGED_IN); N(CKR_USER_PIN_NOT_INITIALIZED); N(CKR_USER_TYPE_INVALID);
    N(CKR_BUFFER_TOO_SMALL); N(CKR_CRYPTOKI_NOT_INITIALIZED);
    N(CKR_CRYPTOKI_ALREADY_INITIALIZED); N(CKR_RANDOM_NO_RNG);
#undef N
    /* clang-format on */
    default: return "CKR_(vendor or unknown)";
    }
}

CK_RV hsm_rv(const struct hsm_module *mod, const char *fn, CK_RV rv)
{
    ERR_pop_to_mark();
    return hsm_rv_marked(mod, fn, rv);
}

CK_RV hsm_rv_marked(const struct hsm_module *mod, const char *fn, CK_RV rv)
{
    if (rv != CKR_OK)
        hsm_diag_record(mod, rv);
    if (envcore_debug_enabled())
        envcore_debug("pkcs11: %s -> %s (0x%lx)", fn, hsm_rv_name(rv), (unsigned long)rv);
    return rv;
}

static int reason_of(CK_RV rv)
{
    switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED: return ENVCORE_R_PIN_INCORRECT;
    case CKR_PIN_LOCKED: return ENVCORE_R_PIN_LOCKED;
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_USER_PIN_NOT_INITIALIZED: return ENVCORE_R_PIN_MISSING;
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SLOT_ID_INVALID: return ENVCORE_R_TOKEN_NOT_PRESENT;
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_SESSION_COUNT:
    case CKR_CRYPTOKI_NOT_INITIALIZED: return ENVCORE_R_BACKEND_UNAVAILABLE;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT: return ENVCORE_R_MECHANISM_NOT_SUPPORTED;
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
        /* the key may not be used this way, or (kms-bridge) the KMS denied
         * this identity: docs/KMS-BRIDGE.md */
        return ENVCORE_R_ACCESS_DENIED;
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE: return ENVCORE_R_AUTHENTICATION_FAILED;
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID: return ENVCORE_R_OBJECT_NOT_FOUND;
    case CKR_BUFFER_TOO_SMALL: return ENVCORE_R_BUFFER_TOO_SMALL;
    case CKR_HOST_MEMORY: return ENVCORE_R_INTERNAL;
    default: return ENVCORE_R_BACKEND_ERROR;
    }
}

int hsm_raise_rv(CK_RV rv, const char *what, const char *token, const char *object)
{
    int reason = reason_of(rv);
    const char *why = hsm_diag_text(rv); /* the module's own reason, if it gives one */
    ENVCORE_RAISE(reason, "%s%s%s%s%s%s: %s (0x%lx)%s%s", what, token ? " on token \"" : "",
                  token ? token : "", token ? "\"" : "", object ? " for object " : "",
                  object ? object : "", hsm_rv_name(rv), (unsigned long)rv, why ? ": " : "",
                  why ? why : "");
    return reason;
}
