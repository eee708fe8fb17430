/*
 * findings.h - what `envelope kek check` reports about one KEK: a backend's
 * check() fills an envcore_findings per key (core/backend.h), the provider
 * hands it to the library in the check STORE's text form
 * (include/envelope/provider.h, ENVELOPE_CHECK_STORE_SUFFIX), and the CLI
 * prints it. The codes are stable names a script can match; the detail is
 * for people. docs/envelope.1 lists every code.
 *
 * Nothing here touches a device; a finding never holds a secret (a PIN, key
 * bytes): only attribute names, sizes and labels.
 */
#ifndef ENVELOPE_CORE_FINDINGS_H
#define ENVELOPE_CORE_FINDINGS_H

#include <stddef.h>

/* The stable codes. */
#define ENVCORE_F_EXTRACTABLE "extractable"           /* its value can leave its home now */
#define ENVCORE_F_NOT_SENSITIVE "not-sensitive"       /* CKA_SENSITIVE false: value readable */
#define ENVCORE_F_ONCE_EXTRACTABLE "once-extractable" /* it may have left before */
#define ENVCORE_F_NOT_PRIVATE "not-private"           /* usable without logging in */
#define ENVCORE_F_USAGE "extra-usage"                 /* a usage a KEK does not need */
#define ENVCORE_F_WEAK_SIZE "weak-size"               /* smaller than its home can make */
#define ENVCORE_F_NO_PIN "token-without-pin"          /* the home asks for no PIN */
#define ENVCORE_F_NOT_FIXED "duplicable"              /* TPM: not fixedTPM / fixedParent */
#define ENVCORE_F_MORE "more-findings"                /* past ENVCORE_FINDINGS_MAX */

#define ENVCORE_FINDINGS_MAX 16
#define ENVCORE_FINDING_DETAIL 240 /* bytes of detail kept, NUL included */
#define ENVCORE_KIND_MAX 32

typedef struct {
    const char *code; /* one of ENVCORE_F_* (static) */
    char detail[ENVCORE_FINDING_DETAIL];
} envcore_finding;

typedef struct envcore_findings {
    char kind[ENVCORE_KIND_MAX]; /* "aes-256", "rsa-2048", "ec-p256", ... */
    envcore_finding f[ENVCORE_FINDINGS_MAX];
    size_t n;
    int truncated; /* more than ENVCORE_FINDINGS_MAX were added */
} envcore_findings;

void envcore_findings_init(envcore_findings *f, const char *kind);
/* Adds one finding; the detail is printf-formatted, cut to fit, control
 * characters replaced by '?' (labels come from the device). */
void envcore_findings_add(envcore_findings *f, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The check STORE's description: the kind, then one "CODE\tDETAIL" line
 * per finding, '\n' between lines. Returns the length written (NUL not
 * counted), or 0 if it does not fit in size. */
size_t envcore_findings_encode(const envcore_findings *f, char *out, size_t size);

#endif
