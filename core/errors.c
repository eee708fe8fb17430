/*
 * errors.c - the one point where errors cross into OpenSSL's error queue
 * (through the core's error functions when loaded as a provider).
 */
#include "errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/err.h>

static const OSSL_CORE_HANDLE *err_handle;
static OSSL_FUNC_core_new_error_fn *c_new_error;
static OSSL_FUNC_core_set_error_debug_fn *c_set_error_debug;
static OSSL_FUNC_core_vset_error_fn *c_vset_error;

void envcore_errors_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in)
{
    err_handle = handle;
    for (; in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR: c_new_error = OSSL_FUNC_core_new_error(in); break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            c_set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR: c_vset_error = OSSL_FUNC_core_vset_error(in); break;
        default: break;
        }
    }
}

void envcore_raise(int reason, const char *file, int line, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (envcore_debug_enabled()) {
        char msg[512];
        va_list aq;
        va_copy(aq, ap);
        vsnprintf(msg, sizeof(msg), fmt, aq);
        va_end(aq);
        envcore_debug("error %d at %s:%d (%s): %s", reason, file, line, func, msg);
    }
    if (c_new_error != NULL && c_set_error_debug != NULL && c_vset_error != NULL) {
        c_new_error(err_handle);
        c_set_error_debug(err_handle, file, line, func);
        c_vset_error(err_handle, (uint32_t)reason, fmt, ap);
    } else {
        /* Not loaded as a provider (unit tests link the code directly). */
        ERR_new();
        ERR_set_debug(file, line, func);
        ERR_vset_error(ERR_LIB_USER, reason, fmt, ap);
    }
    va_end(ap);
}

static const OSSL_ITEM reason_strings[] = {
    {ENVCORE_R_INTERNAL, "internal error"},
    {ENVCORE_R_BAD_ARGUMENT, "bad argument"},
    {ENVCORE_R_BAD_CONFIG, "bad configuration"},
    {ENVCORE_R_BAD_URI, "bad URI"},
    {ENVCORE_R_OBJECT_NOT_FOUND, "object not found"},
    {ENVCORE_R_PIN_INCORRECT, "PIN incorrect"},
    {ENVCORE_R_PIN_LOCKED, "PIN locked"},
    {ENVCORE_R_PIN_MISSING, "PIN missing"},
    {ENVCORE_R_TOKEN_NOT_PRESENT, "token not present"},
    {ENVCORE_R_MECHANISM_NOT_SUPPORTED, "mechanism not supported by token"},
    {ENVCORE_R_AUTHENTICATION_FAILED, "authentication failed"},
    {ENVCORE_R_BACKEND_UNAVAILABLE, "backend unavailable"},
    {ENVCORE_R_BACKEND_ERROR, "backend error"},
    {ENVCORE_R_POLICY_REFUSED, "refused by policy"},
    {ENVCORE_R_KEY_NOT_SAFE, "key not safe as a KEK"},
    {ENVCORE_R_BAD_BLOB, "malformed wrapped key"},
    {ENVCORE_R_NOT_SUPPORTED, "operation not supported for this key"},
    {ENVCORE_R_BUFFER_TOO_SMALL, "buffer too small"},
    {ENVCORE_R_PCR_POLICY_NOT_SATISFIED, "PCR policy not satisfied"},
    {ENVCORE_R_ACCESS_DENIED, "access denied"},
    {ENVCORE_R_REFERENCE_NOT_ALLOWED, "reference not allowed from a message"},
    {ENVCORE_R_TOKEN_UNKNOWN, "no such token"},
    {ENVCORE_R_KEK_RETIRED, "KEK retired"},
    {ENVCORE_R_AUDIT_UNAVAILABLE, "audit log unavailable"},
    {ENVCORE_R_UNWRAP_ALARM, "unwrap rate over its alarm threshold"},
    {0, NULL},
};

const void *envcore_reason_strings(void)
{
    return reason_strings;
}

const char *envcore_errno_text(int e, char *buf, size_t size)
{
    /* glibc's strerror_r with _GNU_SOURCE: returns the text, which may be
     * a static string or buf. */
    return strerror_r(e, buf, size);
}
