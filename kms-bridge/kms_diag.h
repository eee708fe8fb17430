/*
 * kms_diag.h - the reason text of the calling thread's latest PKCS#11 call,
 * offered to consumers through the "Vendor envelope" interface
 * (C_GetInterface, PKCS#11 3.0 §5.2; docs/KMS-BRIDGE.md "Vendor interface").
 *
 * A CK_RV cannot say which endpoint failed or why a TLS handshake did; this
 * text can. Every entry point clears it first (p11_functions.c), so it
 * always describes the most recent call this thread made into the module.
 * It never holds data, keys, AAD, PINs or passphrases: only endpoints,
 * operation names, KMIP result codes, the server's result message (printable
 * ASCII) and OpenSSL's reason strings.
 */
#ifndef KMS_DIAG_H
#define KMS_DIAG_H

#include <stddef.h>

#define KMS_DIAG_MAX 768

void kms_diag_clear(void);
/* Appends one reason ("; " between reasons); a reason already present is
 * not repeated (failover and retries meet the same failure again). */
void kms_diag_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The calling thread's text ("" if none). */
const char *kms_diag_text(void);

#endif
