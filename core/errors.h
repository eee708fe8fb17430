/*
 * errors.h - error reasons of the provider and its backends, raised into
 * OpenSSL's error queue at one point (envcore_raise). Reason codes are
 * stable and public (ENVELOPE_PROV_R_* in include/envelope/provider.h):
 * callers match them with ERR_GET_REASON() on errors whose library is
 * "envelope".
 */
#ifndef ENVELOPE_CORE_ERRORS_H
#define ENVELOPE_CORE_ERRORS_H

#include <stdarg.h>
#include <stddef.h>

#include <openssl/core.h>

#include "debug.h"
#include "envelope/provider.h"

enum envcore_reason {
    ENVCORE_R_OK = 0,
    ENVCORE_R_INTERNAL = ENVELOPE_PROV_R_INTERNAL,
    ENVCORE_R_BAD_ARGUMENT = ENVELOPE_PROV_R_BAD_ARGUMENT,
    ENVCORE_R_BAD_CONFIG = ENVELOPE_PROV_R_BAD_CONFIG,
    ENVCORE_R_BAD_URI = ENVELOPE_PROV_R_BAD_URI,
    ENVCORE_R_OBJECT_NOT_FOUND = ENVELOPE_PROV_R_OBJECT_NOT_FOUND,
    ENVCORE_R_PIN_INCORRECT = ENVELOPE_PROV_R_PIN_INCORRECT,
    ENVCORE_R_PIN_LOCKED = ENVELOPE_PROV_R_PIN_LOCKED,
    ENVCORE_R_PIN_MISSING = ENVELOPE_PROV_R_PIN_MISSING,
    ENVCORE_R_TOKEN_NOT_PRESENT = ENVELOPE_PROV_R_TOKEN_NOT_PRESENT,
    ENVCORE_R_MECHANISM_NOT_SUPPORTED = ENVELOPE_PROV_R_MECHANISM_NOT_SUPPORTED,
    ENVCORE_R_AUTHENTICATION_FAILED = ENVELOPE_PROV_R_AUTHENTICATION_FAILED,
    ENVCORE_R_BACKEND_UNAVAILABLE = ENVELOPE_PROV_R_BACKEND_UNAVAILABLE,
    ENVCORE_R_BACKEND_ERROR = ENVELOPE_PROV_R_BACKEND_ERROR,
    ENVCORE_R_POLICY_REFUSED = ENVELOPE_PROV_R_POLICY_REFUSED,
    ENVCORE_R_KEY_NOT_SAFE = ENVELOPE_PROV_R_KEY_NOT_SAFE,
    ENVCORE_R_BAD_BLOB = ENVELOPE_PROV_R_BAD_BLOB,
    ENVCORE_R_NOT_SUPPORTED = ENVELOPE_PROV_R_NOT_SUPPORTED,
    ENVCORE_R_BUFFER_TOO_SMALL = ENVELOPE_PROV_R_BUFFER_TOO_SMALL,
    ENVCORE_R_PCR_POLICY_NOT_SATISFIED = ENVELOPE_PROV_R_PCR_POLICY_NOT_SATISFIED,
    ENVCORE_R_ACCESS_DENIED = ENVELOPE_PROV_R_ACCESS_DENIED,
    ENVCORE_R_REFERENCE_NOT_ALLOWED = ENVELOPE_PROV_R_REFERENCE_NOT_ALLOWED,
    ENVCORE_R_TOKEN_UNKNOWN = ENVELOPE_PROV_R_TOKEN_UNKNOWN,
    ENVCORE_R_KEK_RETIRED = ENVELOPE_PROV_R_KEK_RETIRED,
    ENVCORE_R_AUDIT_UNAVAILABLE = ENVELOPE_PROV_R_AUDIT_UNAVAILABLE,
    ENVCORE_R_UNWRAP_ALARM = ENVELOPE_PROV_R_UNWRAP_ALARM,
    ENVCORE_R_MAX
};

/* Raise `reason` with a human message (printf format). Never pass secrets. */
void envcore_raise(int reason, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define ENVCORE_RAISE(reason, ...)                                                                 \
    envcore_raise((reason), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* The reason-string table handed to OpenSSL (OSSL_FUNC_PROVIDER_GET_REASON_STRINGS). */
const void *envcore_reason_strings(void);

/* Loaded as a provider: raise through the core's error functions, so that
 * errors carry the provider's library code. Without it (unit tests, the
 * kms-bridge module) errors go to the thread's queue as ERR_LIB_USER. */
void envcore_errors_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in);

/* strerror(e) for messages, thread-safe (strerror is not: we run inside
 * other people's threaded programs). ENVCORE_ERRNO_TEXT(e) gives a buffer
 * that lives until the end of the enclosing block. */
const char *envcore_errno_text(int e, char *buf, size_t size);
#define ENVCORE_ERRNO_TEXT(e) envcore_errno_text((e), (char[128]){0}, 128)

#endif
