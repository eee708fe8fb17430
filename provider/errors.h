/*
 * errors.h - the provider's error reasons, raised into OpenSSL's error queue
 * at one point (envprov_raise). Reason codes are stable: callers and tests
 * match them with ERR_GET_REASON().
 */
#ifndef ENVPROV_ERRORS_H
#define ENVPROV_ERRORS_H

#include <stdarg.h>

struct envprov_ctx;

enum envprov_reason {
    ENVPROV_R_OK = 0,
    ENVPROV_R_INTERNAL = 1,
    ENVPROV_R_BAD_ARGUMENT = 2,          /* caller error: a parameter is wrong */
    ENVPROV_R_BAD_CONFIG = 3,            /* openssl.cnf section is wrong */
    ENVPROV_R_BAD_URI = 4,
    ENVPROV_R_OBJECT_NOT_FOUND = 5,
    ENVPROV_R_PIN_INCORRECT = 6,
    ENVPROV_R_PIN_LOCKED = 7,
    ENVPROV_R_PIN_MISSING = 8,
    ENVPROV_R_TOKEN_NOT_PRESENT = 9,
    ENVPROV_R_MECHANISM_NOT_SUPPORTED = 10,
    ENVPROV_R_AUTHENTICATION_FAILED = 11, /* tag, AAD or padding check failed */
    ENVPROV_R_BACKEND_UNAVAILABLE = 12,  /* retryable: device or KMS unreachable */
    ENVPROV_R_BACKEND_ERROR = 13,        /* the device said no, for another reason */
    ENVPROV_R_POLICY_REFUSED = 14,       /* refused by our configuration */
    ENVPROV_R_KEY_NOT_SAFE = 15,         /* e.g. an extractable key offered as KEK */
    ENVPROV_R_BAD_BLOB = 16,             /* wrapped blob malformed or unknown version */
    ENVPROV_R_NOT_SUPPORTED = 17,        /* operation not offered for this key */
    ENVPROV_R_BUFFER_TOO_SMALL = 18,
    ENVPROV_R_PCR_POLICY_NOT_SATISFIED = 19,
    ENVPROV_R_ACCESS_DENIED = 20,        /* the backend denied this identity */
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
