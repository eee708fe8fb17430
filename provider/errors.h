/*
 * errors.h - the provider's error reasons, raised into OpenSSL's error queue
 * at one point (envprov_raise). Reason codes are stable and public
 * (ENVELOPE_PROV_R_* in include/envelope/provider.h): callers match them with
 * ERR_GET_REASON() on errors whose library is "envelope".
 */
#ifndef ENVPROV_ERRORS_H
#define ENVPROV_ERRORS_H

#include <stdarg.h>

#include "../include/envelope/provider.h" /* relative: every includer finds it */

struct envprov_ctx;

enum envprov_reason {
    ENVPROV_R_OK = 0,
    ENVPROV_R_INTERNAL = ENVELOPE_PROV_R_INTERNAL,
    ENVPROV_R_BAD_ARGUMENT = ENVELOPE_PROV_R_BAD_ARGUMENT,
    ENVPROV_R_BAD_CONFIG = ENVELOPE_PROV_R_BAD_CONFIG,
    ENVPROV_R_BAD_URI = ENVELOPE_PROV_R_BAD_URI,
    ENVPROV_R_OBJECT_NOT_FOUND = ENVELOPE_PROV_R_OBJECT_NOT_FOUND,
    ENVPROV_R_PIN_INCORRECT = ENVELOPE_PROV_R_PIN_INCORRECT,
    ENVPROV_R_PIN_LOCKED = ENVELOPE_PROV_R_PIN_LOCKED,
    ENVPROV_R_PIN_MISSING = ENVELOPE_PROV_R_PIN_MISSING,
    ENVPROV_R_TOKEN_NOT_PRESENT = ENVELOPE_PROV_R_TOKEN_NOT_PRESENT,
    ENVPROV_R_MECHANISM_NOT_SUPPORTED = ENVELOPE_PROV_R_MECHANISM_NOT_SUPPORTED,
    ENVPROV_R_AUTHENTICATION_FAILED = ENVELOPE_PROV_R_AUTHENTICATION_FAILED,
    ENVPROV_R_BACKEND_UNAVAILABLE = ENVELOPE_PROV_R_BACKEND_UNAVAILABLE,
    ENVPROV_R_BACKEND_ERROR = ENVELOPE_PROV_R_BACKEND_ERROR,
    ENVPROV_R_POLICY_REFUSED = ENVELOPE_PROV_R_POLICY_REFUSED,
    ENVPROV_R_KEY_NOT_SAFE = ENVELOPE_PROV_R_KEY_NOT_SAFE,
    ENVPROV_R_BAD_BLOB = ENVELOPE_PROV_R_BAD_BLOB,
    ENVPROV_R_NOT_SUPPORTED = ENVELOPE_PROV_R_NOT_SUPPORTED,
    ENVPROV_R_BUFFER_TOO_SMALL = ENVELOPE_PROV_R_BUFFER_TOO_SMALL,
    ENVPROV_R_PCR_POLICY_NOT_SATISFIED = ENVELOPE_PROV_R_PCR_POLICY_NOT_SATISFIED,
    ENVPROV_R_ACCESS_DENIED = ENVELOPE_PROV_R_ACCESS_DENIED,
    ENVPROV_R_REFERENCE_NOT_ALLOWED = ENVELOPE_PROV_R_REFERENCE_NOT_ALLOWED,
    ENVPROV_R_MAX
};

/* Raise `reason` with a human message (printf format). Never pass secrets. */
void envprov_raise(int reason, const char *file, int line, const char *func,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define ENVPROV_RAISE(reason, ...) \
    envprov_raise((reason), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* The reason-string table handed to OpenSSL (OSSL_FUNC_PROVIDER_GET_REASON_STRINGS). */
const void *envprov_reason_strings(void);

/* Debug log, off unless ENVELOPE_DEBUG is set in the environment
 * (ENVELOPE_DEBUG=1 to stderr, ENVELOPE_DEBUG=file:PATH to a file).
 * Never logs key bytes, PINs or plaintext. */
void envprov_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int envprov_debug_enabled(void);

#endif
