/*
 * error.c - stable status codes, their categories and names, and the one
 * place where a failure is written into the caller's envelope_err.
 * Messages state the fact and the next step; callers never pass secrets,
 * plaintext or context values into them (docs/ARCHITECTURE.md, "Errors").
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "envelope/provider.h"
#include "internal.h"

envelope_category envelope_status_category(envelope_status s)
{
    if (s == ENVELOPE_OK)
        return ENVELOPE_CAT_OK;
    if (s == ENVELOPE_ERR_CONFIG)
        return ENVELOPE_CAT_CONFIG;
    switch ((int)s / 100) {
    case 1: return ENVELOPE_CAT_USAGE;
    case 2: return ENVELOPE_CAT_FORMAT;
    case 3: return ENVELOPE_CAT_AUTH;
    case 4: return ENVELOPE_CAT_BACKEND;
    case 5: return ENVELOPE_CAT_POLICY;
    default: return ENVELOPE_CAT_INTERNAL;
    }
}

const char *envelope_status_name(envelope_status s)
{
    switch (s) {
        /* a name table reads best as a table */
        /* clang-format off */
#define N(x) case x: return #x
    N(ENVELOPE_OK);
    N(ENVELOPE_ERR_ARGUMENT);
    N(ENVELOPE_ERR_CONTEXT_INVALID);
    N(ENVELOPE_ERR_FRAME_SIZE);
    N(ENVELOPE_ERR_KEK_COUNT);
    N(ENVELOPE_ERR_BUFFER_TOO_SMALL);
    N(ENVELOPE_ERR_STATE);
    N(ENVELOPE_ERR_KEK_UNSUPPORTED);
    N(ENVELOPE_ERR_KEK_NOT_FOUND);
    N(ENVELOPE_ERR_SEALER_EXHAUSTED);
    N(ENVELOPE_ERR_OUTPUT);
    N(ENVELOPE_ERR_CONFIG);
    N(ENVELOPE_ERR_BAD_MAGIC);
    N(ENVELOPE_ERR_VERSION);
    N(ENVELOPE_ERR_SUITE);
    N(ENVELOPE_ERR_RESERVED);
    N(ENVELOPE_ERR_HDR_FRAME_SIZE);
    N(ENVELOPE_ERR_CONTEXT_LIMIT);
    N(ENVELOPE_ERR_CONTEXT_ENCODING);
    N(ENVELOPE_ERR_EDK_COUNT);
    N(ENVELOPE_ERR_EDK_FIELD);
    N(ENVELOPE_ERR_WRAP_KIND);
    N(ENVELOPE_ERR_TRUNCATED);
    N(ENVELOPE_ERR_TRAILING_DATA);
    N(ENVELOPE_ERR_FRAME_TYPE);
    N(ENVELOPE_ERR_FRAME_LENGTH);
    N(ENVELOPE_ERR_TOO_MANY_FRAMES);
    N(ENVELOPE_ERR_AUTH);
    N(ENVELOPE_ERR_NO_KEK);
    N(ENVELOPE_ERR_CONTEXT_MISMATCH);
    N(ENVELOPE_ERR_DEK_UNKNOWN);
    N(ENVELOPE_ERR_DEK_ID_CONFLICT);
    N(ENVELOPE_ERR_BACKEND);
    N(ENVELOPE_ERR_KEK_REF_REFUSED);
    N(ENVELOPE_ERR_POLICY);
    N(ENVELOPE_ERR_INTERNAL);
    N(ENVELOPE_ERR_NOMEM);
    N(ENVELOPE_ERR_CRYPTO);
    N(ENVELOPE_ERR_LOCKED_MEMORY);
#undef N
        /* clang-format on */
    }
    return "ENVELOPE_ERR_UNKNOWN";
}

static envelope_status vfail(envelope_err *err, envelope_status code, int with_ossl,
                             const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static envelope_status vfail(envelope_err *err, envelope_status code, int with_ossl,
                             const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
    if (n < 0)
        err->message[0] = '\0';
    if (with_ossl) {
        /* The raiser's detail follows the reason: the envelope provider's
         * says which token, key or setting and, from a module that tells,
         * which endpoint failed and why (never secrets: docs/SECURITY.md). */
        const char *data = NULL;
        int flags = 0;
        unsigned long e = ERR_peek_last_error_data(&data, &flags);
        const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
        const char *lib = e != 0 ? ERR_lib_error_string(e) : NULL;
        int detail = r != NULL && data != NULL && *data != 0 && (flags & ERR_TXT_STRING);
        size_t used = strlen(err->message);
        if (r != NULL && used < sizeof(err->message)) {
            if (lib != NULL && strcmp(lib, ENVELOPE_PROVIDER_NAME) == 0)
                snprintf(err->message + used, sizeof(err->message) - used, ": %s%s%s", r,
                         detail ? ": " : "", detail ? data : "");
            else
                snprintf(err->message + used, sizeof(err->message) - used, " (OpenSSL: %s%s%s)", r,
                         detail ? ": " : "", detail ? data : "");
        }
    }
    return code;
}

envelope_status env_fail(envelope_err *err, envelope_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

/* Formats with the newest OpenSSL reason, then classifies and clears the
 * queue (the error now lives in *err; leaving it would confuse a caller
 * that checks OpenSSL's queue later). */
envelope_status env_fail_ossl(envelope_err *err, envelope_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, code, 1, fmt, ap);
    va_end(ap);
    code = env_ossl_status(code);
    if (err != NULL)
        err->code = code;
    return code;
}

/*
 * envelope.so raises its reasons under its own library code, whose name is
 * the provider's name (OpenSSL's core_vset_error uses the provider's error
 * library). The reason numbers are the provider's stable codes
 * (ENVELOPE_PROV_R_* in include/envelope/provider.h); only the categories a
 * caller acts on are mapped here.
 */

/* The provider reason behind the last env_ossl_status of this thread, for
 * a caller that must weigh where a failure came from (lib/unwrap.c). */
static _Thread_local int last_provider_reason;

int env_last_provider_reason(void)
{
    return last_provider_reason;
}

envelope_status env_ossl_status(envelope_status dflt)
{
    envelope_status s = dflt;
    unsigned long e;
    last_provider_reason = 0;
    while ((e = ERR_get_error()) != 0) {
        const char *lib = ERR_lib_error_string(e);
        if (lib == NULL || strcmp(lib, "envelope") != 0)
            continue;
        last_provider_reason = ERR_GET_REASON(e);
        switch (ERR_GET_REASON(e)) {
        case ENVELOPE_PROV_R_BACKEND_UNAVAILABLE:
        case ENVELOPE_PROV_R_TOKEN_NOT_PRESENT: s = ENVELOPE_ERR_BACKEND; break;
        case ENVELOPE_PROV_R_BAD_CONFIG:
        case ENVELOPE_PROV_R_TOKEN_UNKNOWN:
        case ENVELOPE_PROV_R_PIN_MISSING: /* no PIN source configured, or it can't be read */
            s = ENVELOPE_ERR_CONFIG;
            break;
        case ENVELOPE_PROV_R_BAD_URI:
        case ENVELOPE_PROV_R_BAD_ARGUMENT: s = ENVELOPE_ERR_ARGUMENT; break;
        case ENVELOPE_PROV_R_OBJECT_NOT_FOUND: s = ENVELOPE_ERR_KEK_NOT_FOUND; break;
        case ENVELOPE_PROV_R_POLICY_REFUSED:
        case ENVELOPE_PROV_R_KEK_RETIRED:
        case ENVELOPE_PROV_R_AUDIT_UNAVAILABLE: /* audit-failure = refuse (docs/AUDIT.md) */
        case ENVELOPE_PROV_R_UNWRAP_ALARM:      /* unwrap-alarm-action = refuse */
        case ENVELOPE_PROV_R_KEY_NOT_SAFE:
        case ENVELOPE_PROV_R_ACCESS_DENIED:
        case ENVELOPE_PROV_R_PIN_LOCKED:
        case ENVELOPE_PROV_R_PIN_INCORRECT:
        case ENVELOPE_PROV_R_PCR_POLICY_NOT_SATISFIED: /* refused, not a bad message */
            s = ENVELOPE_ERR_POLICY;
            break;
        case ENVELOPE_PROV_R_AUTHENTICATION_FAILED: s = ENVELOPE_ERR_AUTH; break;
        case ENVELOPE_PROV_R_REFERENCE_NOT_ALLOWED: /* a message named what it may not */
            s = ENVELOPE_ERR_KEK_REF_REFUSED;
            break;
        default: break;
        }
    }
    return s;
}
